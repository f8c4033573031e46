"""Target selection shared by both packages (docs/semantics.md §1), on numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["resolve_targets"]


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf tensor
        value = value.numpy()
    return np.asarray(value)


def resolve_targets(target: Any, logits: Any) -> np.ndarray:
    """Turn any accepted target form into one class index per sample.

    Parameters
    ----------
    target : None, int, sequence of int, 1-D array or tensor
        ``None``: the argmax of the logits per sample. An int (or a 1-element tuple, list or
        tensor, as Captum accepts): that class for every sample. A sequence, 1-D array or
        tensor of length N (or a list of 1-tuples): one class per sample.
    logits : array-like of shape (N, C)
        The model's output for the batch (numpy array, torch or TF tensor).

    Returns
    -------
    numpy.ndarray of int64, shape (N,)

    Raises
    ------
    ValueError
        If the output is not (batch, classes), the number of targets does not match the batch,
        or a target is out of range.
    TypeError
        If a target is not an integer.
    """
    scores = _to_numpy(logits)
    if scores.ndim != 2:
        raise ValueError(
            f"the model output must have shape (batch, classes), got shape {tuple(scores.shape)}; "
            "wrap the model so that it returns one score per class"
        )
    batch, classes = scores.shape
    if target is None:
        return np.argmax(scores, axis=1).astype(np.int64)
    if isinstance(target, tuple) and len(target) == 1:
        target = target[0]
    if isinstance(target, list) and target and all(isinstance(t, tuple) and len(t) == 1 for t in target):
        target = [t[0] for t in target]
    values = _to_numpy(target)
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer) or values.size == 0):
        if np.issubdtype(values.dtype, np.floating) and values.size and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        else:
            raise TypeError(f"target must be an int or a sequence of ints, got {target!r}")
    if values.ndim == 0 or values.size == 1:
        values = np.full(batch, int(values.reshape(-1)[0]), dtype=np.int64)
    elif values.ndim != 1 or values.shape[0] != batch:
        raise ValueError(
            f"target has shape {tuple(values.shape)}, but the batch has {batch} samples: "
            "give one int for all samples or a 1-D sequence with one class per sample"
        )
    values = values.astype(np.int64)
    bad = (values < 0) | (values >= classes)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"target {int(values[first])} (sample {first}) is out of range: the model has {classes} classes, "
            f"valid targets are 0..{classes - 1}"
        )
    return values
