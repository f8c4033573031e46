"""Gradients of many perturbed copies of a batch, evaluated in chunks (integrated gradients, SmoothGrad, VarGrad).

The perturbed inputs ("rows") are never materialised all at once: a ``make_rows(start, stop)``
callback builds the rows of one chunk, one forward-backward pass computes their gradients, and a
running reduction per sample (sum, or mean and sum of squared deviations) keeps memory at one
chunk plus the result.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from shared_spec import check_parameter

from .._batch import select_logits
from .gradient import logit_gradient

__all__ = ["resolve_batch_targets", "chunked_gradient_sum", "chunked_gradient_moments"]

RowFactory = Callable[[int, int], tf.Tensor]


def resolve_batch_targets(model: keras.Model, x: tf.Tensor, target: object) -> np.ndarray:
    """The class of each sample, chosen on the unperturbed input (None: argmax of its logits)."""
    _, targets = select_logits(model(x, training=False), target)
    return targets


def _check_batch_size(batch_size: int) -> int:
    return check_parameter("batch_size", batch_size, "batch_size")


def _gradient_function(model: keras.Model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """``(rows, targets) -> d logit[target] / d rows``: the gradient method's compiled pass.

    :func:`signxai_tf._methods.gradient.logit_gradient` compiles one forward-backward pass per
    model with an open batch axis (the last, shorter chunk does not retrace) and falls back to the
    eager tape for models tf.function cannot trace.
    """
    return lambda rows, targets: logit_gradient(model, rows, targets)


def _chunks(total_rows: int, batch_size: int):
    for start in range(0, total_rows, batch_size):
        yield start, min(start + batch_size, total_rows)


def chunked_gradient_sum(
    model: keras.Model,
    make_rows: RowFactory,
    targets: np.ndarray,
    rows_per_sample: int,
    batch_size: int,
) -> tf.Tensor:
    """Sum over each sample's rows of the gradient of that sample's target logit.

    Row ``r`` belongs to sample ``r // rows_per_sample``; there are
    ``len(targets) * rows_per_sample`` rows, evaluated ``batch_size`` rows per pass.

    Returns
    -------
    tf.Tensor of float64, shape (N, *sample_shape)
    """
    batch_size = _check_batch_size(batch_size)
    n = len(targets)
    grad_fn = _gradient_function(model)
    owner = np.repeat(np.arange(n), rows_per_sample)
    row_targets = np.asarray(targets, dtype=np.int64)[owner]
    total = None
    for start, stop in _chunks(n * rows_per_sample, batch_size):
        grads = tf.cast(grad_fn(make_rows(start, stop), tf.constant(row_targets[start:stop])), tf.float64)
        part = tf.math.unsorted_segment_sum(grads, tf.constant(owner[start:stop]), n)
        total = part if total is None else total + part
    return total


def chunked_gradient_moments(
    model: keras.Model,
    make_rows: RowFactory,
    targets: np.ndarray,
    rows_per_sample: int,
    batch_size: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and population variance over each sample's rows of its target logit's gradient.

    Chunks are merged with Chan et al.'s pairwise update (no E[g²] − E[g]² cancellation).

    Returns
    -------
    (mean, variance) : tf.Tensor of float64, shape (N, *sample_shape) each
    """
    batch_size = _check_batch_size(batch_size)
    n = len(targets)
    grad_fn = _gradient_function(model)
    owner = np.repeat(np.arange(n), rows_per_sample)
    row_targets = np.asarray(targets, dtype=np.int64)[owner]
    count = mean = m2 = None
    for start, stop in _chunks(n * rows_per_sample, batch_size):
        grads = tf.cast(grad_fn(make_rows(start, stop), tf.constant(row_targets[start:stop])), tf.float64)
        ids = tf.constant(owner[start:stop])
        extra = [1] * (len(grads.shape) - 1)
        c = tf.reshape(tf.cast(tf.math.bincount(ids, minlength=n, maxlength=n), tf.float64), [n, *extra])
        c_mean = tf.math.divide_no_nan(tf.math.unsorted_segment_sum(grads, ids, n), c)
        c_m2 = tf.math.unsorted_segment_sum(tf.square(grads - tf.gather(c_mean, ids)), ids, n)
        if count is None:
            count, mean, m2 = c, c_mean, c_m2
            continue
        merged = count + c
        delta = c_mean - mean
        mean = mean + delta * tf.math.divide_no_nan(c, merged)
        m2 = m2 + c_m2 + tf.square(delta) * tf.math.divide_no_nan(count * c, merged)
        count = merged
    return mean, m2 / tf.cast(rows_per_sample, tf.float64)
