"""Guided backprop, deconvnet (docs/semantics.md §3) and guided Grad-CAM on Keras 3 models.

Both are the gradient of the selected logit (unit seed) with the backward signal changed at every
ReLU (fused ``activation="relu"``, ``ReLU()`` and ``Activation("relu")`` layers): guided backprop
passes ``1[z > 0] * max(g, 0)``, deconvnet ``max(g, 0)``. Other layers get the plain gradient; a
model with non-ReLU non-linear activations gets one warning. The pass is the replay engine of
:mod:`signxai_tf.lrp`. Unlike the SIGN-XAI reference, guided backprop is not multiplied by f_c(x).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from shared_spec import check_parameter, parameter_default

from ..lrp._engine import modified_relu_gradient
from .._multipliers import apply_multiplier
from .grad_cam import grad_cam

__all__ = ["guided_backprop", "deconvnet", "guided_grad_cam"]


def guided_backprop(
    model: keras.Model, x: tf.Tensor, target: Any = None, multiplier: str | None = None, mu: float = parameter_default("mu")
) -> tf.Tensor:
    """Guided backprop of a batch, optionally times x (``"input"``) or sign_mu(x, mu) (``"sign"``).

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample (None: argmax).
    multiplier : {None, "input", "sign"}
        The ``_x_input`` / ``_x_sign(_mu)`` variants.
    mu : float
        Threshold of sign_mu.
    """
    mu = check_parameter("mu", mu, "guided_backprop")
    return apply_multiplier(modified_relu_gradient(model, x, target, "guided_backprop"), x, multiplier, mu)


def deconvnet(
    model: keras.Model, x: tf.Tensor, target: Any = None, multiplier: str | None = None, mu: float = parameter_default("mu")
) -> tf.Tensor:
    """Deconvnet of a batch; parameters as :func:`guided_backprop`."""
    mu = check_parameter("mu", mu, "deconvnet")
    return apply_multiplier(modified_relu_gradient(model, x, target, "deconvnet"), x, multiplier, mu)


def guided_grad_cam(
    model: keras.Model, x: tf.Tensor, target: Any = None, layer: str | None = None, model_name: str | None = None
) -> tf.Tensor:
    """Grad-CAM times guided backprop for the same (class-specific) target, ``x``'s shape."""
    return grad_cam(model, x, target, layer=layer, model_name=model_name) * guided_backprop(model, x, target)
