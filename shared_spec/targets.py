"""Target selection shared by both packages (docs/semantics.md §1), on numpy arrays."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._arrays import to_numpy as _to_numpy
from .errors import MethodParameterError
from .noise import one_seed_for_many_calls
from .spec import MethodSpec

__all__ = ["ALL_OUTPUTS", "is_all_outputs", "resolve_targets", "sum_over_outputs"]

#: the target (and the original's ``neuron_selection``) that explains every output at once
ALL_OUTPUTS = "all"


def is_all_outputs(target: Any) -> bool:
    """Whether ``target`` is ``"all"``: the map of every output summed (docs/semantics.md §1)."""
    return isinstance(target, str) and target == ALL_OUTPUTS


def sum_over_outputs(
    spec: MethodSpec, classes: int, explain_for: Callable[[int, dict[str, Any]], Any]
) -> np.ndarray:
    """``target="all"``: the sum over every output c of the map for target c.

    This is iNNvestigate's ``neuron_selection_mode="all"`` (the backward pass started from every
    output at once, each with its own seed) for the methods whose map is linear in the seed
    (:attr:`MethodSpec.linear_in_seed`): the gradient family with its multipliers, integrated
    gradients, SmoothGrad and every LRP method. Noise is drawn once: SmoothGrad without a ``seed``
    gets one random seed for all outputs, so that every output sees the same noisy samples.

    Parameters
    ----------
    spec : MethodSpec
        The parsed method.
    classes : int
        The number of outputs.
    explain_for : callable
        ``explain_for(c, extra_params)`` returns the map (numpy) of the batch for target ``c``,
        with ``extra_params`` added to the method's parameters.

    Returns
    -------
    numpy.ndarray
        The summed map, the maps' shape and dtype.

    Raises
    ------
    MethodParameterError
        For a method whose map is not linear in the seed (guided backprop, deconvnet, VarGrad,
        Grad-CAM), where the sum of the per-output maps is not the map of all outputs.
    """
    if not spec.linear_in_seed:
        raise MethodParameterError(
            f"{spec.name}: target='all' (neuron_selection='all') is not offered: the map of this method is not "
            "linear in the output's seed, so the map of all outputs is not the sum of the per-output maps; "
            "explain one output at a time (target=<class index>)"
        )
    if classes < 1:
        raise ValueError(f"{spec.name}: target='all' needs a model with at least one output, got {classes}")
    extra = one_seed_for_many_calls(spec)
    total: np.ndarray | None = None
    for c in range(int(classes)):
        part = np.asarray(explain_for(c, extra))
        total = part.copy() if total is None else total + part
    assert total is not None
    return total


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
    if is_all_outputs(target):
        raise ValueError(
            "target='all' (the sum of the maps of every output) is offered by explain(...) and the compat calls, "
            "not here; give a class index, or a sequence with one class per sample"
        )
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
