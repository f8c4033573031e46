"""The gradient and its input-multiplied variants: ``gradient``, ``gradient_x_input``, ``gradient_x_sign(_mu)``."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from shared_spec import check_parameter, parameter_default

from .._batch import select_logits
from .._multipliers import apply_multiplier

__all__ = ["gradient", "logit_gradient"]


def logit_gradient(model: keras.Model, x: tf.Tensor, target: Any) -> tf.Tensor:
    """d f_c / d x for each sample's selected class c (unit seed), in inference mode."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        selected, _ = select_logits(logits, target)
    return tape.gradient(selected, x)


def gradient(
    model: keras.Model, x: tf.Tensor, target: Any = None, multiplier: str | None = None, mu: float = parameter_default("mu")
) -> tf.Tensor:
    """``gradient`` / ``gradient_x_input`` / ``gradient_x_sign(_mu)`` on a logit model.

    Parameters
    ----------
    model : keras.Model
        A model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample (None: argmax).
    multiplier : {None, "input", "sign"}
        Multiply the gradient by x or by sign_mu(x, mu).
    mu : float
        Threshold of sign_mu.
    """
    mu = check_parameter("mu", mu, "gradient")
    return apply_multiplier(logit_gradient(model, x, target), x, multiplier, mu)
