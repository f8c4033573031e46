"""What the engine knows about each Keras layer type: kernel layers as linear maps, and layer kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras
import tensorflow as tf

__all__ = [
    "KernelLayer",
    "kernel_layer",
    "is_relu",
    "is_linear_activation",
    "ACTIVATIONS",
    "PASS_THROUGH",
    "GRADIENT_ROUTED",
    "LOOK_THROUGH",
    "AVERAGE_POOLING",
    "layer_error",
]

L = keras.layers

#: Activation layers.
ACTIVATIONS: tuple[type, ...] = (L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.PReLU, L.Softmax)

#: Identity-shaped layers (activations, dropout, noise): LRP passes relevance through unchanged.
PASS_THROUGH: tuple[type, ...] = ACTIVATIONS + (
    L.Dropout,
    L.SpatialDropout1D,
    L.SpatialDropout2D,
    L.SpatialDropout3D,
    L.GaussianDropout,
    L.GaussianNoise,
    L.AlphaDropout,
    L.ActivityRegularization,
    L.Identity,
)

#: Layers whose LRP backward equals their gradient: max pooling (winner takes all), reshaping,
#: padding and cropping, concatenation (split).
GRADIENT_ROUTED: tuple[type, ...] = (
    L.MaxPooling1D,
    L.MaxPooling2D,
    L.MaxPooling3D,
    L.GlobalMaxPooling1D,
    L.GlobalMaxPooling2D,
    L.GlobalMaxPooling3D,
    L.Flatten,
    L.Reshape,
    L.Permute,
    L.ZeroPadding1D,
    L.ZeroPadding2D,
    L.ZeroPadding3D,
    L.Cropping1D,
    L.Cropping2D,
    L.Cropping3D,
    L.Concatenate,
)

#: Layers the input-layer rule looks through (SPEC §4.3).
LOOK_THROUGH: tuple[type, ...] = (
    L.InputLayer,
    L.Flatten,
    L.Reshape,
    L.Permute,
    L.ZeroPadding1D,
    L.ZeroPadding2D,
    L.ZeroPadding3D,
)

#: Average pooling: the Z rule with the pooling as the linear map.
AVERAGE_POOLING: tuple[type, ...] = (
    L.AveragePooling1D,
    L.AveragePooling2D,
    L.AveragePooling3D,
    L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D,
    L.GlobalAveragePooling3D,
)


def is_linear_activation(activation: Any) -> bool:
    """Whether a fused activation is the identity."""
    return activation is None or activation is keras.activations.linear or getattr(activation, "__name__", "") == "linear"


def is_relu(layer_or_activation: Any) -> bool:
    """Whether a fused activation function, an ``Activation`` layer or a ``ReLU`` layer is the plain ReLU."""
    if isinstance(layer_or_activation, L.ReLU):
        return (
            layer_or_activation.max_value is None
            and float(layer_or_activation.negative_slope) == 0.0
            and float(layer_or_activation.threshold) == 0.0
        )
    if isinstance(layer_or_activation, L.Activation):
        layer_or_activation = layer_or_activation.activation
    return layer_or_activation is keras.activations.relu or getattr(layer_or_activation, "__name__", "") == "relu"


def layer_error(layer: Any, method: str) -> NotImplementedError:
    """The error for a layer the method has no rule for, naming the layer and its class."""
    return NotImplementedError(
        f"{method} has no rule for layer {getattr(layer, 'name', layer)!r} of class {type(layer).__name__}; "
        "supported: Dense, Conv1D/2D/3D, BatchNormalization, Add, Concatenate, pooling, Flatten/Reshape/"
        "Permute/padding/cropping, activations and dropout"
    )


@dataclass(frozen=True, eq=False)
class KernelLayer:
    """A Dense or convolution layer seen as ``z = linear(a, kernel) + bias``, activation apart.

    Attributes
    ----------
    layer : keras.layers.Layer
        The layer (read only: its variables are read, nothing is assigned).
    kind : str
        ``"dense"`` or ``"conv"`` (selects the rule of an LRP preset).
    linear : callable
        ``linear(a, kernel)``: the layer's linear map without bias, for any kernel of the layer's shape.
    """

    layer: Any
    kind: str
    linear: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    _bias_shape: tuple[int, ...]

    @property
    def kernel(self) -> tf.Tensor:
        """The kernel as a tensor."""
        return tf.convert_to_tensor(self.layer.kernel)

    @property
    def bias(self) -> tf.Tensor | None:
        """The bias reshaped to broadcast against the layer output, or ``None``."""
        bias = getattr(self.layer, "bias", None)
        if bias is None:
            return None
        return tf.reshape(tf.convert_to_tensor(bias), self._bias_shape)

    @property
    def activation(self) -> Any:
        """The fused activation function (``None`` for none)."""
        return getattr(self.layer, "activation", None)

    def add_bias(self, z: tf.Tensor, bias: tf.Tensor | None) -> tf.Tensor:
        """``z + bias`` (``bias`` as returned by :attr:`bias` or transformed from it)."""
        return z if bias is None else z + bias


def _dense_linear(a: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    if a.shape.rank == 2:
        return tf.matmul(a, kernel)
    return tf.tensordot(a, kernel, axes=[[a.shape.rank - 1], [0]])


def kernel_layer(layer: Any) -> KernelLayer | None:
    """Return the :class:`KernelLayer` view of a Dense/Conv1D/Conv2D/Conv3D layer, else ``None``.

    Raises
    ------
    NotImplementedError
        For variants without a rule (quantized or LoRA-enabled Dense, causal Conv1D).
    """
    if isinstance(layer, L.Dense):
        if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
            raise NotImplementedError(f"Dense layer {layer.name!r} is quantized or LoRA-enabled; not supported")
        return KernelLayer(layer, "dense", _dense_linear, (-1,))
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)) and not isinstance(
        layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
    ):
        if layer.padding == "causal":
            raise NotImplementedError(f"Conv1D layer {layer.name!r} uses causal padding; not supported")
        rank = layer.rank
        if layer.data_format == "channels_last":
            bias_shape = (1,) * (rank + 1) + (layer.filters,)
        else:
            bias_shape = (1, layer.filters) + (1,) * rank

        def linear(a: tf.Tensor, kernel: tf.Tensor, _layer: Any = layer) -> tf.Tensor:
            return _layer.convolution_op(a, kernel)

        return KernelLayer(layer, "conv", linear, bias_shape)
    return None
