"""Integrated gradients and its ``_x_input`` / ``_x_sign`` / ``_x_sign_mu`` variants (docs/semantics.md §3)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import check_parameter, parameter_default

from .._multipliers import apply_multiplier
from ._batched import chunked_gradient_sum, resolve_batch_targets

__all__ = ["integrated_gradients", "path_alphas"]


def path_alphas(steps: int) -> np.ndarray:
    """The path positions of integrated gradients: ``k / (steps - 1)`` for ``k = 0 .. steps - 1``.

    Both endpoints are included. ``steps = 1`` has no ``k / (steps - 1)``; it evaluates the
    input end only (``alpha = 1``), so one step gives ``(x - baseline) * gradient(x)``, the
    one-term Riemann sum, which for the zero baseline equals ``gradient_x_input``.

    Raises
    ------
    ValueError
        If ``steps`` is not an int >= 1.
    """
    steps = check_parameter("steps", steps, "integrated_gradients")
    if steps == 1:
        return np.ones(1, dtype=np.float64)
    return np.arange(steps, dtype=np.float64) / (steps - 1)


def _as_baseline(baseline: Any, x: tf.Tensor) -> tf.Tensor:
    """The baseline as a tensor of ``x``'s shape and dtype (None: zeros; one sample: broadcast)."""
    shape = tuple(x.shape)
    if baseline is None:
        return tf.zeros_like(x)
    values = np.asarray(baseline.numpy() if isinstance(baseline, tf.Tensor) else baseline)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"baseline must be a numeric array or tensor, got dtype {values.dtype}")
    if values.shape not in (shape, shape[1:], (1, *shape[1:])):
        raise ValueError(
            f"baseline has shape {values.shape}, but x has shape {shape}: give a baseline of x's shape "
            f"{shape} or of one sample's shape {shape[1:]} (used for every sample)"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("baseline contains NaN or infinite values")
    return tf.broadcast_to(tf.constant(values, dtype=x.dtype), shape)


def integrated_gradients(
    model: keras.Model,
    x: tf.Tensor,
    target: Any = None,
    steps: int = parameter_default("steps"),
    baseline: Any = parameter_default("baseline"),
    batch_size: int = parameter_default("batch_size"),
    multiplier: str | None = None,
    mu: float = parameter_default("mu"),
) -> tf.Tensor:
    """Integrated gradients of each sample's selected logit, with the reference's quadrature.

    ``IG = (x - baseline) * mean_k grad f_c(baseline + alpha_k (x - baseline))`` with
    ``alpha_k = k / (steps - 1)``, ``k = 0 .. steps - 1`` (see :func:`path_alphas` for
    ``steps = 1``). The class ``c`` is chosen on ``x`` (``target=None``: its argmax).

    Parameters
    ----------
    model : keras.Model
        A model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample.
    steps : int
        Number of path points, both endpoints included.
    baseline : None, array or tensor
        ``None``: zeros. Otherwise ``x``'s shape, or one sample's shape (with or without a batch
        axis of 1) used for every sample.
    batch_size : int
        Path points (of any samples) evaluated in one forward-backward pass.
    multiplier : {None, "input", "sign"}
        Multiply the result by ``x`` or by ``sign_mu(x, mu)``.
    mu : float
        Threshold of ``sign_mu``.

    Returns
    -------
    tf.Tensor
        ``x``'s shape and dtype.
    """
    mu = check_parameter("mu", mu, "integrated_gradients")
    batch_size = check_parameter("batch_size", batch_size, "integrated_gradients")
    alphas_np = path_alphas(steps)
    base = _as_baseline(baseline, x)
    targets = resolve_batch_targets(model, x, target)
    n_steps = len(alphas_np)
    diff = x - base
    alphas = tf.constant(alphas_np, dtype=x.dtype)
    extra = [1] * (len(x.shape) - 1)

    def make_rows(start: int, stop: int) -> tf.Tensor:
        rows = tf.range(start, stop)
        sample = rows // n_steps
        alpha = tf.reshape(tf.gather(alphas, rows % n_steps), [-1, *extra])
        return tf.gather(base, sample) + alpha * tf.gather(diff, sample)

    total = chunked_gradient_sum(model, make_rows, targets, n_steps, batch_size)
    mean_grad = tf.cast(total / n_steps, x.dtype)
    return apply_multiplier(diff * mean_grad, x, multiplier, mu)
