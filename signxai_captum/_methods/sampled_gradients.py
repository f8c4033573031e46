"""Gradients at many points per sample, evaluated in chunks: the engine of IG, SmoothGrad and VarGrad.

Integrated gradients evaluates the gradient at ``steps`` points on a path per sample, SmoothGrad and
VarGrad at ``samples`` noisy copies of each sample. Both are "sample i, point k" grids of N * n rows.
:func:`gradient_moments` walks those rows in chunks of at most ``batch_size`` rows (one forward and
one backward pass per chunk, never one per point) and accumulates, per sample, the sum of the
gradients and optionally the sum of their squares (for the variance).

The class per sample is chosen once, on the unperturbed inputs: :func:`clean_targets` runs that
forward pass only when it is needed (``target=None``: the argmax at x); a given target is
checked against the first chunk's output instead (only the number of classes is needed), which
saves one forward pass of the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from shared_spec import resolve_targets

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import SignXAIAttribution

__all__ = ["PointsFn", "clean_targets", "expand_forward_args", "gradient_moments"]

#: ``points(sample_index, point_index) -> inputs``: the input rows for a chunk of (sample, point)
#: pairs, both 1-D long tensors of the chunk's length, one tensor per model input.
PointsFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]


def expand_forward_args(additional_forward_args: Any, sample_index: torch.Tensor, batch: int) -> Any:
    """Select the rows of every per-sample tensor in ``additional_forward_args`` for a chunk.

    Tensors whose dim 0 is the batch are indexed by ``sample_index``; anything else is passed as is.
    """
    if additional_forward_args is None:
        return None
    args = additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)
    return tuple(
        a.index_select(0, sample_index.to(a.device))
        if isinstance(a, torch.Tensor) and a.ndim >= 1 and a.shape[0] == batch
        else a
        for a in args
    )


def clean_targets(
    attribution: "SignXAIAttribution", inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
) -> torch.Tensor | None:
    """The class indices chosen on the unperturbed inputs, or None when ``target`` names them.

    ``target=None`` needs the logits at x: one forward pass (without gradients) of the batch, and
    its argmax per sample. Any other target only needs the number of classes, which the first
    chunk's forward pass gives: None is returned and :func:`gradient_moments` resolves ``target``
    there (the same indices, the same errors, one forward pass fewer).
    """
    if target is not None:
        return None
    with torch.no_grad():
        logits = attribution._forward(inputs, additional_forward_args)
    return attribution._targets(target, logits)


def _targets_for_batch(target: Any, output: torch.Tensor, batch: int) -> torch.Tensor:
    """Resolve a given ``target`` for ``batch`` samples from a chunk's output (its class count)."""
    # only the shape of the logits is read for a given target: a broadcast zero of the batch's shape
    shape = (batch,) + tuple(output.shape[1:])
    indices = resolve_targets(target, np.broadcast_to(np.zeros((), np.float32), shape))
    return torch.as_tensor(indices, device=output.device)


def _accumulator_dtype(x: torch.Tensor) -> torch.dtype:
    # float64 sums keep E[g^2] - E[g]^2 accurate; devices without float64 (MPS) keep the input dtype
    return torch.float64 if x.device.type in ("cpu", "cuda") else x.dtype


def gradient_moments(
    attribution: "SignXAIAttribution",
    inputs: tuple[torch.Tensor, ...],
    points: PointsFn,
    n_points: int,
    targets: torch.Tensor | None,
    additional_forward_args: Any,
    batch_size: int,
    variance: bool = False,
    target: Any = None,
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
    """Mean (and optionally population variance) of ``n_points`` gradients per sample.

    Parameters
    ----------
    attribution : SignXAIAttribution
        Provides the forward pass (``_gradients``).
    inputs : tuple of torch.Tensor
        The batch (N samples), used for shapes, dtype and device.
    points : PointsFn
        Builds the input rows of a chunk from its (sample, point) indices.
    n_points : int
        Points per sample.
    targets : torch.Tensor or None
        One class index per sample (already resolved at the unperturbed inputs), or None to
        resolve ``target`` on the first chunk's output (see :func:`clean_targets`).
    additional_forward_args : Any
        Extra forward arguments; per-sample tensors are expanded to the chunk's rows.
    batch_size : int
        At most this many rows per forward pass.
    variance : bool, default False
        Also return the population variance of the gradients over the points.
    target : Any, optional
        The caller's target (not None), used when ``targets`` is None.

    Returns
    -------
    means, variances
        Tuples with one tensor per input, of the inputs' shapes and dtype; ``variances`` is
        ``None`` unless ``variance``.
    """
    batch = inputs[0].shape[0]
    device = inputs[0].device
    acc_dtype = [_accumulator_dtype(x) for x in inputs]
    sums = [torch.zeros(x.shape, dtype=d, device=x.device) for x, d in zip(inputs, acc_dtype)]
    squares = [torch.zeros(x.shape, dtype=d, device=x.device) for x, d in zip(inputs, acc_dtype)] if variance else None
    total = batch * n_points
    for start in range(0, total, batch_size):
        rows = torch.arange(start, min(start + batch_size, total), device=device)
        sample_index, point_index = rows // n_points, rows % n_points
        chunk = points(sample_index, point_index)
        chunk_args = expand_forward_args(additional_forward_args, sample_index, batch)
        leaves = tuple(x.detach().requires_grad_(True) for x in chunk)
        output = attribution._forward(leaves, chunk_args)
        if targets is None:
            targets = _targets_for_batch(target, output, batch)
        rows_targets = targets.index_select(0, sample_index.to(targets.device))
        selected = output.gather(1, rows_targets[:, None]).sum()
        grads = torch.autograd.grad(selected, leaves, allow_unused=True)
        for j, g in enumerate(grads):
            if g is None:  # the output does not depend on this input
                g = torch.zeros_like(leaves[j])
            g = g.to(acc_dtype[j])
            sums[j].index_add_(0, sample_index.to(g.device), g)
            if squares is not None:
                squares[j].index_add_(0, sample_index.to(g.device), g * g)
    means = [s / n_points for s in sums]
    if squares is None:
        return tuple(m.to(x.dtype) for m, x in zip(means, inputs)), None
    # population variance E[g^2] - E[g]^2, in the accumulator's precision, clipped at 0 for round-off
    variances = tuple(
        (q / n_points - m * m).clamp_min(0).to(x.dtype) for q, m, x in zip(squares, means, inputs)
    )
    return tuple(m.to(x.dtype) for m, x in zip(means, inputs)), variances
