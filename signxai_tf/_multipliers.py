"""The input-side factors of the ``_x_input`` / ``_x_sign`` / ``_x_sign_mu`` variants (docs/semantics.md §1, §3)."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["sign", "sign_mu", "apply_multiplier"]


def sign(x: tf.Tensor) -> tf.Tensor:
    """+1 where ``x >= 0``, -1 where ``x < 0`` (so sign(0) = +1), in ``x``'s dtype."""
    return sign_mu(x, 0.0)


def sign_mu(x: tf.Tensor, mu: float) -> tf.Tensor:
    """+1 where ``x >= mu``, -1 where ``x < mu``, in ``x``'s dtype. ``mu`` is in raw input units."""
    x = tf.convert_to_tensor(x)
    ones = tf.ones_like(x)
    return tf.where(x >= tf.cast(mu, x.dtype), ones, -ones)


def apply_multiplier(grad: tf.Tensor, x: tf.Tensor, multiplier: str | None, mu: float = 0.0) -> tf.Tensor:
    """Multiply a backward signal by x (``"input"``), by sign_mu(x, mu) (``"sign"``), or not (``None``)."""
    if multiplier is None:
        return grad
    if multiplier == "input":
        return grad * x
    if multiplier == "sign":
        return grad * sign_mu(x, mu)
    raise ValueError(f"multiplier must be None, 'input' or 'sign', got {multiplier!r}")
