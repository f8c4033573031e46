"""Grad-CAM on images and time series (docs/semantics.md §3): ``grad_cam``, ``grad_cam_timeseries``, ``grad_cam_VGG16ILSVRC``.

Per sample, with ``A`` the feature map of the chosen layer (``(h, w, K)`` or ``(t, K)``):
``alpha_k = mean over space/time of d f_c / d A_k``, ``CAM = ReLU(sum_k alpha_k A_k)``, divided by
its max when the max is > 0, resized to the input's spatial size as the SIGN-XAI reference does
(:func:`resize_cam`: 2-D bilinear with half-pixel centres, as ``cv2.resize``; 1-D linear with
aligned end points, as ``np.interp``), and broadcast over the input channels.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import model_constants

from .._batch import target_inputs, warn_if_probabilities
from .._tracing import quiet_retracing
from ..lrp._graph import Call, calls

__all__ = ["grad_cam", "grad_cam_timeseries", "grad_cam_layer", "feature_map_and_gradient", "resize_cam"]

_CONV_TYPES = tuple(
    getattr(keras.layers, name)
    for name in (
        "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
        "DepthwiseConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    )
    if hasattr(keras.layers, name)
)
_ACTIVATION_TYPES = tuple(
    getattr(keras.layers, name) for name in ("ReLU", "Activation", "LeakyReLU", "PReLU", "ELU") if hasattr(keras.layers, name)
)
_KIND = {2: ("grad_cam", "images", "(batch, height, width, channels)"), 1: ("grad_cam_timeseries", "time series", "(batch, time, channels)")}


def _nested_models(model: keras.Model) -> list[keras.Model]:
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def _calls_of(model: keras.Model, layer: Any) -> list[Call]:
    """The calls of ``layer`` in ``model``'s own graph (not those of other models sharing it)."""
    return [call for call in calls(model) if call.layer is layer]


def _follower_activation(model: keras.Model, source: Call) -> Call | None:
    """The call of an activation layer (ReLU, Activation, LeakyReLU, PReLU, ELU) fed directly by ``source``."""
    for call in calls(model):
        if (
            isinstance(call.layer, _ACTIVATION_TYPES)
            and len(call.inputs) == 1
            and call.inputs[0] is source.outputs[0]
            and len(_calls_of(model, call.layer)) == 1
        ):
            return call
    return None


def _through_activations(model: keras.Model, conv: keras.layers.Layer) -> keras.layers.Layer:
    """``conv``, or the last of the chain of activation layers that directly follows it."""
    chosen = conv
    own = _calls_of(model, chosen)
    while len(own) == 1:
        follower = _follower_activation(model, own[0])
        if follower is None:
            break
        chosen, own = follower.layer, [follower]
    return chosen


def _own_output(model: keras.Model, layer: Any, method: str) -> Any:
    """The output tensor of ``layer``'s single call in ``model``'s graph."""
    own = _calls_of(model, layer)
    if len(own) != 1:
        why = "is not on the path from the model's input to its output" if not own else f"is called {len(own)} times in the model"
        raise ValueError(f"{method}: layer {layer.name!r} {why}, so its activation is ambiguous; choose a layer that is used once")
    if len(own[0].outputs) != 1:
        raise ValueError(f"{method}: layer {layer.name!r} has {len(own[0].outputs)} outputs; choose a layer with one output")
    return own[0].outputs[0]


def grad_cam_layer(
    model: keras.Model,
    layer: str | None,
    spatial_dims: int,
    model_name: str | None = None,
    through_activation: bool = True,
) -> keras.layers.Layer:
    """Resolve the layer whose output Grad-CAM weights.

    Parameters
    ----------
    model : keras.Model
        The (logit) model.
    layer : str or None
        A layer name. ``None``: the last convolution layer of ``model`` (in layer order).
        A convolution (default or named) is taken after its activation: when activation layers
        (``ReLU``, ``Activation``, ``LeakyReLU``, ``PReLU``, ``ELU``) directly follow it, the last
        of them is used (a convolution with a fused activation already outputs the activated map).
        Other named layers are used as they are.
    spatial_dims : int
        2 for images (``(N, H, W, C)`` feature maps), 1 for time series (``(N, T, C)``).
    model_name : str or None
        A model suffix (``"VGG16ILSVRC"``) whose constants name the layer when ``layer`` is None.
    through_activation : bool
        ``False``: use the convolution's own output even when an activation layer follows it.

    Returns
    -------
    keras.layers.Layer

    Raises
    ------
    ValueError
        If the named layer is missing, is used more than once, or does not output a feature map
        of the right rank; if the model has no convolution at its top level.
    """
    method, _, fmt = _KIND[spatial_dims]
    if layer is None and model_name is not None:
        layer = model_constants(model_name)["grad_cam_layer"]["tf"]
        if layer not in [l.name for l in model.layers]:
            raise ValueError(
                f"{method}_{model_name} uses the Keras VGG16 layer {layer!r}, but model {model.name!r} has no layer "
                f"named {layer!r}; use {method!r} (the last convolution) or pass layer=<name of a layer of the model>"
            )
    if layer is None:
        convs = [l for l in model.layers if isinstance(l, _CONV_TYPES)]
        if not convs:
            nested = _nested_models(model)
            hint = (
                f"; the model nests model(s) {', '.join(repr(m.name) for m in nested)} whose layers cannot be "
                "reached from here: build the model as one functional graph, or pass layer=<name> of a top-level layer"
                if nested else "; pass layer=<name> of a layer with a feature-map output"
            )
            raise ValueError(f"{method}: model {model.name!r} has no convolution layer at its top level{hint}")
        chosen = convs[-1]
    else:
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str) or None, got {type(layer).__name__}")
        names = [l.name for l in model.layers]
        if layer not in names:
            nested = [m.name for m in _nested_models(model) if layer in [l.name for l in m.layers]]
            where = f"; it is inside the nested model {nested[0]!r}, which {method} cannot look into" if nested else ""
            shown = ", ".join(repr(n) for n in names[-12:])
            raise ValueError(f"{method}: model {model.name!r} has no layer named {layer!r}{where}; its last layers are {shown}")
        chosen = model.get_layer(layer)
    if through_activation and isinstance(chosen, _CONV_TYPES):
        chosen = _through_activations(model, chosen)
    shape = tuple(_own_output(model, chosen, method).shape)
    if len(shape) != spatial_dims + 2:
        raise ValueError(
            f"{method} needs a convolutional layer whose output is a feature map {fmt}, but layer {chosen.name!r} "
            f"({type(chosen).__name__}) outputs shape {shape}"
            + ("; for (batch, time, channels) models use grad_cam_timeseries" if len(shape) == 3 and spatial_dims == 2 else "")
            + ("; for image models use grad_cam" if len(shape) == 4 and spatial_dims == 1 else "")
        )
    return chosen


#: one compiled pass per (model, layer): weakly keyed by the model, then by the layer's name
_COMPILED: "weakref.WeakKeyDictionary[keras.Model, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _compiled_pass(model: keras.Model, layer: keras.layers.Layer) -> Any:
    """``(x, targets, use_argmax) -> (A, dF_c/dA, chosen targets, logits)``, compiled once per (model, layer).

    The model cut at the layer's output is built once; the batch axis is open and the target is
    an input, so new batches and targets do not retrace.
    """
    per_model = _COMPILED.setdefault(model, {})
    if layer.name in per_model:
        return per_model[layer.name]
    try:
        features = keras.Model(model.inputs[0], [_own_output(model, layer, "grad_cam"), model.outputs[0]])
    except ValueError as error:
        raise ValueError(f"cannot read the output of layer {layer.name!r} from model {model.name!r}: {error}") from None
    spec = model.inputs[0]
    x_spec = tf.TensorSpec([None, *spec.shape[1:]], spec.dtype or tf.float32)

    @tf.function(input_signature=[x_spec, tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.bool)])
    def run(x: tf.Tensor, targets: tf.Tensor, use_argmax: tf.Tensor) -> tuple[tf.Tensor, ...]:
        # the variables are watched so that the ops from the layer's output to the logits are
        # recorded (the output itself is only known after the forward pass)
        with tf.GradientTape() as tape:
            activations, logits = features(x, training=False)
            tape.watch(activations)
            chosen = tf.cond(use_argmax, lambda: tf.argmax(logits, axis=1, output_type=tf.int64), lambda: targets)
            selected = tf.gather(logits, chosen, axis=1, batch_dims=1)
        return activations, tape.gradient(selected, activations), chosen, logits

    per_model[layer.name] = run
    return run


def feature_map_and_gradient(
    model: keras.Model, x: tf.Tensor, target: Any, layer: keras.layers.Layer
) -> tuple[tf.Tensor, tf.Tensor, np.ndarray]:
    """The layer's output ``A`` and ``d f_c / d A`` for each sample's class, in one forward-backward pass.

    The pass is compiled once per (model, layer) (:func:`_compiled_pass`); the gradient is taken
    only down to the layer.

    Returns
    -------
    (activations, gradients, targets)
    """
    run = _compiled_pass(model, layer)
    targets, use_argmax = target_inputs(target, int(x.shape[0]), int(model.outputs[0].shape[-1]))
    with quiet_retracing():
        activations, grads, chosen, logits = run(x, targets, use_argmax)
    warn_if_probabilities(logits)
    return activations, grads, chosen.numpy()


def resize_cam(cam: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """Resize a batch of CAMs ``(N, *space)`` to ``(N, *size)`` as the SIGN-XAI reference does.

    - 1-D (time series): linear interpolation with aligned end points: output sample t lies at CAM
      position t·(n−1)/(T−1), i.e. ``np.interp(np.linspace(0, n - 1, T), np.arange(n), cam)``.
      n == 1: the constant CAM value. T == 1: the CAM's first value (``linspace(0, n−1, 1)`` is
      ``[0]``). n == T: unchanged.
    - 2-D (images): bilinear with half-pixel centres, source positions clamped at the edges and no
      antialiasing, as ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` (upscaling and
      downscaling); ``tf.image.resize(method="bilinear", antialias=False)`` computes exactly this.

    Parameters
    ----------
    cam : tf.Tensor
        ``(N, n)`` or ``(N, h, w)``, with a known spatial size.
    size : sequence of int
        The target spatial size, one entry per spatial dimension.

    Returns
    -------
    tf.Tensor
        ``(N, *size)``, ``cam``'s dtype.
    """
    size = tuple(int(s) for s in size)
    space = len(cam.shape) - 1
    if len(size) != space:
        raise ValueError(f"resize_cam: size {size} does not match the CAM's {space} spatial dimension(s)")
    if space == 2:
        return tf.cast(tf.image.resize(cam[..., None], size, method="bilinear", antialias=False)[..., 0], cam.dtype)
    if space != 1:
        raise ValueError(f"Grad-CAM resizes 1- or 2-D maps, the layer output has {space} spatial dimensions")
    n, (length,) = cam.shape[1], size
    if n is None:
        raise ValueError("resize_cam needs the CAM's length to be known")
    if n == 1:
        return tf.broadcast_to(cam, [tf.shape(cam)[0], length])
    if length == n:
        return tf.identity(cam)
    positions = np.linspace(0.0, n - 1.0, length)  # float64; the last one is exactly n - 1
    lower = np.clip(np.floor(positions), 0, n - 2).astype(np.int64)
    frac = tf.constant(positions - lower, dtype=cam.dtype)
    return tf.gather(cam, lower, axis=1) * (1 - frac) + tf.gather(cam, lower + 1, axis=1) * frac


def layer_cam(
    model: keras.Model,
    x: tf.Tensor,
    target: Any = None,
    layer: str | None = None,
    spatial_dims: int = 2,
    model_name: str | None = None,
    through_activation: bool = True,
) -> tf.Tensor:
    """The Grad-CAM maps at the layer's resolution, before resizing: ``(N, h, w)`` or ``(N, n)``.

    ReLU(Σ_k α_k A_k) divided by its max per sample (when > 0), as :func:`grad_cam` computes it
    before :func:`resize_cam`; the original signxai's ``resize=False``.

    Parameters
    ----------
    model, x, target, layer, model_name, through_activation
        As for :func:`grad_cam`.
    spatial_dims : int, default 2
        2 for images ``(N, H, W, C)``, 1 for time series ``(N, T, C)``.

    Returns
    -------
    tf.Tensor
        One CAM per sample over the layer's spatial axes, in [0, 1], the layer's dtype.
    """
    method, what, fmt = _KIND[spatial_dims]
    if len(x.shape) != spatial_dims + 2:
        other = "grad_cam_timeseries" if spatial_dims == 2 else "grad_cam"
        raise ValueError(f"{method} explains {what}: x must have shape {fmt}, got shape {tuple(x.shape)}; "
                         f"see {other} for the other kind")
    chosen = grad_cam_layer(model, layer, spatial_dims, model_name, through_activation)
    activations, grads, _ = feature_map_and_gradient(model, x, target, chosen)
    space = list(range(1, spatial_dims + 1))
    weights = tf.reduce_mean(grads, axis=space, keepdims=True)  # (N, 1[, 1], K)
    cam = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))  # (N, h[, w])
    peak = tf.reduce_max(tf.reshape(cam, [tf.shape(cam)[0], -1]), axis=1)
    peak = tf.reshape(tf.where(peak > 0, peak, tf.ones_like(peak)), [-1] + [1] * spatial_dims)
    return cam / peak


def _cam(
    model: keras.Model,
    x: tf.Tensor,
    target: Any,
    layer: str | None,
    spatial_dims: int,
    model_name: str | None,
    through_activation: bool,
) -> tf.Tensor:
    cam = layer_cam(model, x, target, layer, spatial_dims, model_name, through_activation)
    resized = resize_cam(cam, tuple(int(d) for d in x.shape[1 : spatial_dims + 1]))
    resized = tf.cast(resized, x.dtype)
    return tf.broadcast_to(resized[..., None], tf.shape(x))


def grad_cam(
    model: keras.Model,
    x: tf.Tensor,
    target: Any = None,
    layer: str | None = None,
    model_name: str | None = None,
    through_activation: bool = True,
) -> tf.Tensor:
    """Grad-CAM maps of a batch of images (or of time series), broadcast over the input channels.

    Parameters
    ----------
    model : keras.Model
        A model returning logits (one input ``(N, H, W, C)``, one output ``(N, classes)``).
    x : tf.Tensor
        A batch of images ``(N, H, W, C)``, channels last; a batch of time series ``(N, T, C)``
        is explained as :func:`grad_cam_timeseries` does (as in signxai_captum).
    target : None, int or sequence of int
        Class per sample (None: argmax of the logits).
    layer : str or None
        Name of the layer whose output is weighted; see :func:`grad_cam_layer` for the default.
    model_name : str or None
        ``"VGG16ILSVRC"``: use VGG16's ``block5_conv3`` when ``layer`` is None.
    through_activation : bool
        ``True`` (default): a convolution is taken after the activation layer(s) directly
        following it; ``False``: its own output.

    Returns
    -------
    tf.Tensor
        ``x``'s shape; values in [0, 1] (the map is scaled to max 1 before resizing).
    """
    spatial_rank = 1 if len(x.shape) == 3 else 2
    return _cam(model, x, target, layer, spatial_rank, model_name, through_activation)


def grad_cam_timeseries(
    model: keras.Model, x: tf.Tensor, target: Any = None, layer: str | None = None, through_activation: bool = True
) -> tf.Tensor:
    """Grad-CAM maps of a batch of time series ``(N, T, C)`` (Conv1D models).

    The CAM of length n is resized to the input length T by linear interpolation with aligned end
    points (output t at CAM position t·(n−1)/(T−1), as ``np.interp`` over ``linspace(0, n−1, T)``;
    n == 1: constant; T == 1: the first CAM value; see :func:`resize_cam`). Parameters and result
    are those of :func:`grad_cam`, for ``(batch, time, channels)`` inputs.
    """
    return _cam(model, x, target, layer, 1, None, through_activation)
