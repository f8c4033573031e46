"""What the engine knows about each Keras layer type: kernel layers as linear maps, and layer kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras
import tensorflow as tf

from shared_spec import UnsupportedLayerError

__all__ = [
    "KernelLayer",
    "kernel_layer",
    "kernel_layers",
    "is_relu",
    "is_relu6",
    "is_gate_activation",
    "is_nonneg_activation",
    "is_linear_activation",
    "ACTIVATIONS",
    "PASS_THROUGH",
    "GRADIENT_ROUTED",
    "LOOK_THROUGH",
    "AFFINE",
    "NORMALIZATIONS",
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
    L.UpSampling1D,
    L.UpSampling3D,
    L.RepeatVector,
)

#: Element-wise affine layers (y = a * x + b with constants a, b): relevance passes through unchanged
#: and the input-layer search looks through them.
AFFINE: tuple[type, ...] = (L.Rescaling, L.Normalization)

#: Normalisations with data-dependent statistics, treated as constants: relevance passes through.
NORMALIZATIONS: tuple[type, ...] = (L.LayerNormalization, L.GroupNormalization) + (
    (L.RMSNormalization,) if hasattr(L, "RMSNormalization") else ()
)

#: Layers the input-layer rule looks through (docs/semantics.md §4.3).
LOOK_THROUGH: tuple[type, ...] = (
    L.InputLayer,
    L.Flatten,
    L.Reshape,
    L.Permute,
    L.ZeroPadding1D,
    L.ZeroPadding2D,
    L.ZeroPadding3D,
) + AFFINE

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


def _activation_name(layer_or_activation: Any) -> str:
    if isinstance(layer_or_activation, L.Activation):
        layer_or_activation = layer_or_activation.activation
    return getattr(layer_or_activation, "__name__", "")


def is_relu6(layer_or_activation: Any) -> bool:
    """Whether a ``ReLU`` layer is ReLU6 (``max_value=6``), or a fused activation / ``Activation`` is relu6."""
    if isinstance(layer_or_activation, L.ReLU):
        return (
            layer_or_activation.max_value is not None
            and float(layer_or_activation.max_value) == 6.0
            and float(layer_or_activation.negative_slope) == 0.0
            and float(layer_or_activation.threshold) == 0.0
        )
    return _activation_name(layer_or_activation) == "relu6"


def is_gate_activation(layer_or_activation: Any) -> bool:
    """Whether a fused activation or an ``Activation`` layer is sigmoid-like (sigmoid, hard sigmoid)."""
    if isinstance(layer_or_activation, L.Layer) and not isinstance(layer_or_activation, L.Activation):
        return False
    return _activation_name(layer_or_activation) in ("sigmoid", "hard_sigmoid")


def is_nonneg_activation(layer_or_activation: Any) -> bool:
    """Whether the output of a fused activation or an activation layer is always >= 0."""
    if isinstance(layer_or_activation, L.ReLU):
        return float(layer_or_activation.negative_slope) == 0.0 and float(layer_or_activation.threshold) >= 0.0
    if isinstance(layer_or_activation, L.Layer) and not isinstance(layer_or_activation, L.Activation):
        return False
    return _activation_name(layer_or_activation) in ("relu", "relu6", "sigmoid", "hard_sigmoid", "softplus")


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


def layer_error(layer: Any, method: str, detail: str = "") -> UnsupportedLayerError:
    """The error for a layer or ``keras.ops`` operation the method has no rule for.

    The message names the layer, its class, and what to do.
    """
    what = "layer" if isinstance(layer, L.Layer) else "operation"
    return UnsupportedLayerError(
        f"{method} has no rule for {what} {getattr(layer, 'name', layer)!r} of class {type(layer).__name__}"
        + (f" ({detail})" if detail else "")
        + "; supported: Dense, Conv1D/2D/3D (grouped), DepthwiseConv1D/2D, SeparableConv1D/2D, Conv*DTranspose, "
        "BatchNormalization, LayerNormalization/GroupNormalization, Rescaling/Normalization, Add/Subtract, "
        "Multiply with a sigmoid-like gate, Concatenate, pooling and mean/sum, UpSampling, Flatten/Reshape/Permute/"
        "padding/cropping, activations, dropout, and keras.ops arithmetic with constants. To explain this model "
        "with LRP, rebuild it from supported layers (e.g. replace a Lambda by keras layers or keras.ops calls), "
        "or use a gradient-based method (gradient, integrated_gradients, smoothgrad), which works on any layer",
        layer=str(getattr(layer, "name", layer)),
        layer_type=type(layer).__name__,
        options=("rebuild the model from supported layers", "a gradient-based method"),
    )


@dataclass(frozen=True, eq=False)
class KernelLayer:
    """A kernel layer (or one part of it) seen as ``z = linear(a, kernel) + bias``, activation apart.

    A SeparableConv is two parts (depthwise without bias, then pointwise with the layer's bias and
    activation); every other kernel layer is one part.

    Attributes
    ----------
    layer : keras.layers.Layer
        The layer (read only: its variables are read, nothing is assigned).
    kind : str
        ``"dense"`` or ``"conv"`` (selects the rule of an LRP preset).
    linear : callable
        ``linear(a, kernel)``: the part's linear map without bias, for any kernel of the part's shape.
    kernel_name : str
        The layer attribute holding this part's kernel.
    part : str
        ``""`` for a one-part layer, ``"depthwise"`` / ``"pointwise"`` for the parts of a SeparableConv.
    transposed : callable or None
        ``transposed(s, kernel)``: the transposed linear map ``W^T s`` as a forward op, where one is
        cheaper than the gradient of :attr:`linear` (ungrouped stride-1 convolutions with 1x1
        kernels, or with odd kernels and ``"same"`` padding: a convolution with the kernel flipped
        in space and its channel axes swapped, see :func:`flipped_transposed`; the gradient's sums
        up to float32 round-off); ``None``: the gradient is used (:func:`signxai_tf.lrp._rules.vjp`).
    """

    layer: Any
    kind: str
    linear: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    _bias_shape: tuple[int, ...]
    kernel_name: str = "kernel"
    has_bias: bool = True
    has_activation: bool = True
    part: str = ""
    transposed: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None

    @property
    def name(self) -> str:
        """The layer's name, with ``/depthwise`` or ``/pointwise`` for a part of a SeparableConv."""
        return self.layer.name + (f"/{self.part}" if self.part else "")

    @property
    def kernel(self) -> tf.Tensor:
        """The kernel as a tensor."""
        return tf.convert_to_tensor(getattr(self.layer, self.kernel_name))

    @property
    def bias(self) -> tf.Tensor | None:
        """The bias reshaped to broadcast against the layer output, or ``None``."""
        bias = getattr(self.layer, "bias", None) if self.has_bias else None
        if bias is None:
            return None
        return tf.reshape(tf.convert_to_tensor(bias), self._bias_shape)

    @property
    def activation(self) -> Any:
        """The fused activation function (``None`` for none, also for the depthwise part of a SeparableConv)."""
        return getattr(self.layer, "activation", None) if self.has_activation else None

    def add_bias(self, z: tf.Tensor, bias: tf.Tensor | None) -> tf.Tensor:
        """``z + bias`` (``bias`` as returned by :attr:`bias` or transformed from it)."""
        return z if bias is None else z + bias


def _dense_linear(a: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    if a.shape.rank == 2:
        return tf.matmul(a, kernel)
    return tf.tensordot(a, kernel, axes=[[a.shape.rank - 1], [0]])


def _bias_shape(layer: Any) -> tuple[int, ...]:
    rank = layer.rank
    if layer.data_format == "channels_last":
        return (1,) * (rank + 1) + (-1,)
    return (1, -1) + (1,) * rank


_DEPTHWISE = tuple(getattr(L, n) for n in ("DepthwiseConv1D", "DepthwiseConv2D") if hasattr(L, n))
_SEPARABLE = tuple(getattr(L, n) for n in ("SeparableConv1D", "SeparableConv2D") if hasattr(L, n))
_TRANSPOSED = (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)


def kernel_layers(layer: Any) -> tuple[KernelLayer, ...] | None:
    """The :class:`KernelLayer` parts of a kernel layer, input side first, else ``None``.

    Dense, Conv1D/2D/3D (grouped included), DepthwiseConv1D/2D and Conv1D/2D/3DTranspose are one part;
    SeparableConv1D/2D is two (depthwise, pointwise).

    Raises
    ------
    shared_spec.UnsupportedLayerError
        For variants without a rule (quantized or LoRA-enabled Dense, causal Conv1D).
    """
    if isinstance(layer, L.Dense):
        if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
            raise UnsupportedLayerError(f"Dense layer {layer.name!r} is quantized or LoRA-enabled; not supported")
        return (KernelLayer(layer, "dense", _dense_linear, (-1,)),)
    if not isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D) + _DEPTHWISE + _SEPARABLE + _TRANSPOSED):
        return None
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise UnsupportedLayerError(f"convolution layer {layer.name!r} is quantized or LoRA-enabled; not supported")
    if getattr(layer, "padding", None) == "causal":
        raise UnsupportedLayerError(f"{type(layer).__name__} layer {layer.name!r} uses causal padding; not supported")
    bias_shape = _bias_shape(layer)
    if isinstance(layer, _DEPTHWISE):

        def depthwise(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
            return keras.ops.depthwise_conv(
                a, kernel, strides=_l.strides, padding=_l.padding, dilation_rate=_l.dilation_rate,
                data_format=_l.data_format,
            )

        return (KernelLayer(layer, "conv", depthwise, bias_shape),)
    if isinstance(layer, _SEPARABLE):

        def depthwise_part(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
            return keras.ops.depthwise_conv(
                a, kernel, strides=_l.strides, padding=_l.padding, dilation_rate=_l.dilation_rate,
                data_format=_l.data_format,
            )

        def pointwise_part(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
            return keras.ops.conv(a, kernel, strides=1, padding="valid", data_format=_l.data_format)

        return (
            KernelLayer(layer, "conv", depthwise_part, bias_shape, "depthwise_kernel", False, False, "depthwise"),
            KernelLayer(
                layer, "conv", pointwise_part, bias_shape, "pointwise_kernel", True, True, "pointwise",
                _conv_transposed(layer),
            ),
        )
    if isinstance(layer, _TRANSPOSED):

        def transposed(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
            return keras.ops.conv_transpose(
                a, kernel, strides=list(_l.strides), padding=_l.padding, output_padding=_l.output_padding,
                dilation_rate=_l.dilation_rate, data_format=_l.data_format,
            )

        return (KernelLayer(layer, "conv", transposed, bias_shape),)

    groups = int(getattr(layer, "groups", 1) or 1)
    if groups > 1:
        return (KernelLayer(layer, "conv", _grouped_linear(layer, groups), bias_shape),)

    def linear(a: tf.Tensor, kernel: tf.Tensor, _layer: Any = layer) -> tf.Tensor:
        return _layer.convolution_op(a, kernel)

    return (KernelLayer(layer, "conv", linear, bias_shape, transposed=_conv_transposed(layer)),)


def flipped_transposed(layer: Any) -> bool:
    """Whether ``W^T s`` of a convolution layer is a forward convolution of ``s`` with the kernel flipped in space.

    A stride-1 convolution computes ``z[i] = sum_k W[k] a[i + d k - p]`` (``d`` the dilation, ``p``
    the padding before). Its transpose is ``(W^T s)[j] = sum_k W[K-1-k] s[j + d k - p']`` with
    ``p' = d (K - 1) - p``: a convolution of ``s`` with the flipped kernel and the padding
    mirrored. With ``"same"`` padding and an odd kernel size the padding is symmetric
    (``p = p' = d (K - 1) / 2``), so it is a ``"same"`` convolution again; a 1x1 kernel needs no
    padding. Other layers (strides, even kernels, ``"valid"`` padding with ``K > 1``) use the
    gradient. Measured on CPU (docs/performance.md): TensorFlow's convolution gradient
    (``Conv2DBackpropInput``) took 1.1–2.1x the time of the equivalent forward convolution on
    VGG16's and ResNet50's 3x3 layers. Depthwise convolutions qualify by this test too but keep the
    gradient: their flipped form was no faster over whole MobileNetV2 / EfficientNetB0 passes.
    """
    if any(int(d) != 1 for d in layer.strides):
        return False
    sizes = [int(d) for d in layer.kernel_size]
    if all(d == 1 for d in sizes):
        return True
    return layer.padding == "same" and all(d % 2 == 1 for d in sizes)


def _flip(kernel: tf.Tensor, spatial_rank: int, sizes: tuple[int, ...]) -> tf.Tensor:
    axes = [i for i in range(spatial_rank) if sizes[i] > 1]
    return tf.reverse(kernel, axes) if axes else kernel


def _conv_transposed(layer: Any) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None:
    """``W^T s`` of an ungrouped convolution (or the pointwise part of a SeparableConv) as a forward
    convolution (:func:`flipped_transposed`): the kernel flipped in space, its channel axes swapped.

    Each output is the same sum as in TensorFlow's gradient of the convolution, up to float32
    round-off where the two kernels sum in another order. ``None`` where the layer does not qualify.
    """
    if isinstance(layer, _SEPARABLE):  # the pointwise part: 1x1, stride 1, no padding
        sizes, padding, dilation = (1,) * layer.rank, "valid", 1
    elif flipped_transposed(layer):
        sizes = tuple(int(d) for d in layer.kernel_size)
        padding = "valid" if all(d == 1 for d in sizes) else "same"
        dilation = 1 if padding == "valid" else layer.dilation_rate
    else:
        return None
    data_format, rank = layer.data_format, layer.rank

    def transposed(s: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        perm = list(range(rank)) + [rank + 1, rank]
        flipped = _flip(tf.transpose(kernel, perm), rank, sizes)
        return keras.ops.conv(
            s, flipped, strides=1, padding=padding, dilation_rate=dilation, data_format=data_format
        )

    return transposed


def _grouped_linear(layer: Any, groups: int) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A grouped convolution as ops whose gradients TensorFlow has on every device.

    TensorFlow's CPU kernels have no gradient of a grouped convolution. With one input channel per
    group (ConvNeXt's 7x7 convolutions) it is a depthwise convolution with the kernel
    ``(k..., 1, C*m)`` reshaped to ``(k..., C, m)`` (output channel ``c*m + j`` reads input ``c`` in both);
    otherwise the groups are convolved one by one and concatenated.
    """
    channel_axis = -1 if layer.data_format == "channels_last" else 1
    in_per_group = int(layer.kernel.shape[-2])
    if in_per_group == 1 and layer.rank in (1, 2):

        def depthwise(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
            shape = tuple(kernel.shape[:-2]) + (groups, int(kernel.shape[-1]) // groups)
            return keras.ops.depthwise_conv(
                a, tf.reshape(kernel, shape), strides=_l.strides, padding=_l.padding,
                dilation_rate=_l.dilation_rate, data_format=_l.data_format,
            )

        return depthwise

    def split(a: tf.Tensor, kernel: tf.Tensor, _l: Any = layer) -> tf.Tensor:
        xs = tf.split(a, groups, axis=channel_axis)
        ks = tf.split(kernel, groups, axis=-1)
        outs = [
            keras.ops.conv(x, k, strides=_l.strides, padding=_l.padding, dilation_rate=_l.dilation_rate,
                           data_format=_l.data_format)
            for x, k in zip(xs, ks)
        ]
        return tf.concat(outs, axis=channel_axis)

    return split


def kernel_layer(layer: Any) -> KernelLayer | None:
    """The one-part :class:`KernelLayer` view of a kernel layer, else ``None`` (see :func:`kernel_layers`).

    Raises
    ------
    ValueError
        For a SeparableConv (two parts: use :func:`kernel_layers`).
    shared_spec.UnsupportedLayerError
        For variants without a rule (quantized or LoRA-enabled layers, causal Conv1D).
    """
    parts = kernel_layers(layer)
    if parts is None:
        return None
    if len(parts) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(parts)} kernel parts; use kernel_layers()")
    return parts[0]
