"""Inputs and targets: check the batch against the model, pick the classes (docs/semantics.md §1)."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import check_finite, resolve_targets

from ._softmax import looks_like_probabilities

__all__ = ["as_batch", "select_logits", "target_inputs", "warn_if_probabilities"]


def as_batch(x: Any, model: keras.Model, allow_nonfinite: bool = False) -> tf.Tensor:
    """A float copy of ``x`` as a tensor, checked against the model's input shape.

    Parameters
    ----------
    x : array-like or tf.Tensor
        A batch, samples along axis 0.
    model : keras.Model
        The model whose input shape and dtype ``x`` must match.
    allow_nonfinite : bool, default False
        Accept NaN or infinite values (after conversion to the model's dtype).

    Raises
    ------
    TypeError
        If ``x`` is not numeric.
    ValueError
        If ``x`` is not a batch of the model's input shape, has 0 samples, or (unless
        ``allow_nonfinite``) has NaN or infinite values.
    """
    array = np.array(x.numpy() if isinstance(x, tf.Tensor) else x, copy=True)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"x must be a numeric array or tensor, got dtype {array.dtype}")
    expected = tuple(model.inputs[0].shape)
    if array.ndim != len(expected) or any(e is not None and e != a for e, a in zip(expected[1:], array.shape[1:])):
        hint = ""
        if array.ndim == len(expected) - 1:
            hint = "; for one sample use x[None]"
        elif array.ndim == len(expected) and array.ndim >= 3:
            hint = "; Keras models take channels-last input"
        raise ValueError(f"x has shape {array.shape}, but the model expects a batch of shape {expected}{hint}")
    if array.shape[0] == 0:
        raise ValueError(f"x has 0 samples (shape {array.shape}); pass a batch with at least one sample along axis 0")
    dtype = model.inputs[0].dtype or "float32"
    target_dtype = np.dtype(keras.backend.standardize_dtype(dtype))
    if allow_nonfinite:
        converted = array.astype(target_dtype)
    else:
        with np.errstate(over="ignore"):  # an overflow is reported by check_finite
            converted = array.astype(target_dtype)
        check_finite(converted, "x", "or pass allow_nonfinite=True to explain them anyway", before=array)
    return tf.convert_to_tensor(converted)


def warn_if_probabilities(logits: Any, stacklevel: int = 3) -> None:
    """The one warning for outputs that look like probabilities (a softmax that could not be removed)."""
    values = logits.numpy() if hasattr(logits, "numpy") else np.asarray(logits)
    if looks_like_probabilities(values):
        warnings.warn(
            "the model's output looks like probabilities (rows sum to 1) but its output layer has no softmax "
            "that could be removed; explanations are computed on this output as it is",
            stacklevel=stacklevel + 1,
        )


def target_inputs(target: Any, n: int, classes: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The target as inputs of a compiled pass: ``(targets int64 (n,), use_argmax bool scalar)``.

    ``target=None`` gives ``use_argmax=True`` (the pass takes the argmax of its logits); other
    targets are checked here, before anything runs, against ``classes`` outputs
    (:func:`shared_spec.resolve_targets`: the same errors as everywhere).
    """
    if target is None:
        return tf.zeros((n,), tf.int64), tf.constant(True)
    return tf.constant(resolve_targets(target, np.zeros((n, classes), np.float32)), tf.int64), tf.constant(False)


def select_logits(logits: tf.Tensor, target: Any) -> tuple[tf.Tensor, np.ndarray]:
    """Return the selected logit of each sample and the class indices (None: argmax per sample)."""
    values = logits.numpy() if hasattr(logits, "numpy") else np.asarray(logits)
    warn_if_probabilities(values, stacklevel=3)
    targets = resolve_targets(target, values)
    return tf.gather(logits, targets, axis=1, batch_dims=1), targets
