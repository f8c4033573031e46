"""Grad-CAM on images and time series (SPEC §3): ``grad_cam``, ``grad_cam_timeseries``, ``grad_cam_VGG16ILSVRC``.

Per sample, with ``A`` the feature map of the chosen layer (``(h, w, K)`` or ``(t, K)``):
``alpha_k = mean over space/time of d f_c / d A_k``, ``CAM = ReLU(sum_k alpha_k A_k)``, divided by
its max when the max is > 0, resized to the input's spatial size with bilinear (1-D: linear)
interpolation with half-pixel centres, and broadcast over the input channels.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import model_constants

from ..batch import select_logits

__all__ = ["grad_cam", "grad_cam_timeseries", "grad_cam_layer", "feature_map_and_gradient"]

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


def _inbound_node_count(layer: keras.layers.Layer) -> int:
    # Keras 3 keeps a layer's calls in the private ``_inbound_nodes``; ``layer.output`` silently
    # returns the first call's output, so a layer used twice has to be caught here.
    return len(getattr(layer, "_inbound_nodes", ()) or ())


def _follower_activation(model: keras.Model, source: keras.layers.Layer) -> keras.layers.Layer | None:
    """An activation layer (ReLU, Activation, LeakyReLU, PReLU, ELU) fed directly by ``source``'s output."""
    for layer in model.layers:
        if isinstance(layer, _ACTIVATION_TYPES) and _inbound_node_count(layer) == 1:
            try:
                if layer.input is source.output:
                    return layer
            except (AttributeError, ValueError):
                continue
    return None


def _through_activations(model: keras.Model, conv: keras.layers.Layer) -> keras.layers.Layer:
    """``conv``, or the last of the chain of activation layers that directly follows it."""
    chosen = conv
    while _inbound_node_count(chosen) == 1:
        follower = _follower_activation(model, chosen)
        if follower is None:
            break
        chosen = follower
    return chosen


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
    if _inbound_node_count(chosen) > 1:
        raise ValueError(
            f"{method}: layer {chosen.name!r} is called {_inbound_node_count(chosen)} times in the model, so its "
            "activation is ambiguous; choose a layer that is used once"
        )
    try:
        shape = tuple(chosen.output.shape)
    except (AttributeError, ValueError) as error:
        raise ValueError(f"{method}: layer {chosen.name!r} has no single output tensor ({error})") from None
    if len(shape) != spatial_dims + 2:
        raise ValueError(
            f"{method} needs a convolutional layer whose output is a feature map {fmt}, but layer {chosen.name!r} "
            f"({type(chosen).__name__}) outputs shape {shape}"
            + ("; for (batch, time, channels) models use grad_cam_timeseries" if len(shape) == 3 and spatial_dims == 2 else "")
            + ("; for image models use grad_cam" if len(shape) == 4 and spatial_dims == 1 else "")
        )
    return chosen


def feature_map_and_gradient(
    model: keras.Model, x: tf.Tensor, target: Any, layer: keras.layers.Layer
) -> tuple[tf.Tensor, tf.Tensor, np.ndarray]:
    """The layer's output ``A`` and ``d f_c / d A`` for each sample's class, in one forward-backward pass.

    Returns
    -------
    (activations, gradients, targets)
    """
    try:
        features = keras.Model(model.inputs[0], [layer.output, model.outputs[0]])
    except ValueError as error:
        raise ValueError(f"cannot read the output of layer {layer.name!r} from model {model.name!r}: {error}") from None
    with tf.GradientTape() as tape:
        activations, logits = features(x, training=False)
        tape.watch(activations)
        selected, targets = select_logits(logits, target)
    return activations, tape.gradient(selected, activations), targets


def _cam(
    model: keras.Model,
    x: tf.Tensor,
    target: Any,
    layer: str | None,
    spatial_dims: int,
    model_name: str | None,
    through_activation: bool,
) -> tf.Tensor:
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
    cam = cam / peak
    # tf.image.resize (v2) bilinear without antialias uses half-pixel centres
    if spatial_dims == 2:
        resized = tf.image.resize(cam[..., None], tuple(x.shape[1:3]), method="bilinear", antialias=False)[..., 0]
    else:
        resized = tf.image.resize(cam[:, :, None, None], (int(x.shape[1]), 1), method="bilinear", antialias=False)[:, :, 0, 0]
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
    """Grad-CAM maps of a batch of time series ``(N, T, C)`` (Conv1D models), linear interpolation.

    Parameters and result are those of :func:`grad_cam`, for ``(batch, time, channels)`` inputs.
    """
    return _cam(model, x, target, layer, 1, None, through_activation)
