"""Integrated gradients with the reference's quadrature, and its input-multiplied variants (docs/semantics.md §3).

IG = (x - baseline) * mean_k grad f_c(baseline + alpha_k (x - baseline)), alpha_k = k / (n - 1),
k = 0 .. n - 1 (both endpoints). With n = 1 the single point is x itself (alpha = 1), so IG is
(x - baseline) * grad f_c(x). The path points of all samples are evaluated in chunks of
``batch_size`` rows. ``_x_input`` multiplies IG by x, ``_x_sign(_mu_<v>)`` by sign_mu(x, v).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from captum.log import log_usage
from torch import nn

from shared_spec import check_parameter, parameter_default

from .._multipliers import apply_multiplier
from .base import SignXAIAttribution, TensorOrTuple
from .sampled_gradients import clean_targets, gradient_moments

__all__ = ["IntegratedGradients", "IntegratedGradientsXInput", "IntegratedGradientsXSign", "path_alphas"]

BaselineLike = None | float | int | np.ndarray | torch.Tensor


def path_alphas(steps: int) -> np.ndarray:
    """The quadrature points alpha_k = k / (steps - 1), k = 0 .. steps - 1; ``[1.0]`` for one step."""
    if steps == 1:
        return np.ones(1)
    return np.arange(steps, dtype=np.float64) / (steps - 1)


def _one_baseline(baseline: Any, x: torch.Tensor, where: str) -> torch.Tensor:
    """A baseline of x's shape, dtype and device from None, a scalar, a sample or a batch."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, torch.Tensor):
        b = baseline.detach().to(device=x.device, dtype=x.dtype)
    else:
        try:
            b = torch.as_tensor(np.asarray(baseline), device=x.device, dtype=x.dtype)
        except (TypeError, ValueError) as error:
            kind = type(baseline).__name__
            raise TypeError(f"{where} must be None, a number, an array or a tensor, got {kind}") from error
    if not bool(torch.isfinite(b).all()):
        raise ValueError(f"{where} contains NaN or infinite values")
    shape = tuple(b.shape)
    if shape == tuple(x.shape):
        return b.clone()
    if shape == tuple(x.shape[1:]):
        b = b[None]
    if b.ndim == x.ndim and b.shape[0] == 1 and tuple(b.shape[1:]) == tuple(x.shape[1:]):
        return b.expand_as(x).clone()
    if b.ndim == 0:
        return torch.full_like(x, float(b))
    raise ValueError(
        f"{where} has shape {shape}, but the input has shape {tuple(x.shape)}: give a baseline of the "
        f"input's shape, of one sample's shape {tuple(x.shape[1:])} (used for every sample) or a number"
    )


class IntegratedGradients(SignXAIAttribution):
    """``integrated_gradients``: path-integrated gradients with the SIGN-XAI quadrature.

    IG = (x − b) ⊙ mean_k ∇f_c(b + α_k (x − b)) with α_k = k/(n−1), k = 0…n−1 (both endpoints;
    n = 1 evaluates x itself). The backward pass starts from 1 at the selected logit; a ``target``
    of None is the argmax of the logits at x (not at the path points).

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped; the model is not modified).
    steps : int, default 50
        Number of path points n.
    baseline : None, float, array or tensor, default None
        None: zeros. A number, a tensor of the input's shape, or one sample's shape (used for every
        sample). ``attribute(..., baselines=...)`` overrides it per call (Captum's keyword).
    batch_size : int, default 32
        At most this many path points (over all samples) per forward pass.

    Examples
    --------
    >>> ig = IntegratedGradients(model, steps=64)
    >>> attr, delta = ig.attribute(x, target=3, return_convergence_delta=True)
    """

    _multiplier: str | None = None
    mu = 0.0

    def __init__(
        self,
        model: nn.Module,
        steps: int = parameter_default("steps"),
        baseline: BaselineLike = parameter_default("baseline"),
        batch_size: int = parameter_default("batch_size"),
    ) -> None:
        super().__init__(model)
        where = type(self).__name__
        self.steps = check_parameter("steps", steps, where)
        self.baseline = baseline
        self.batch_size = check_parameter("batch_size", batch_size, where)

    @property
    def multiplies_by_inputs(self) -> bool:  # noqa: D102
        return True

    def has_convergence_delta(self) -> bool:
        """Plain IG reports its completeness error (``return_convergence_delta=True``)."""
        return self._multiplier is None

    @log_usage()
    def attribute(  # type: ignore[override]
        self,
        inputs: TensorOrTuple,
        target: Any = None,
        additional_forward_args: Any = None,
        baselines: Any = None,
        return_convergence_delta: bool = False,
    ) -> TensorOrTuple | tuple[TensorOrTuple, torch.Tensor]:
        """Integrated gradients of the selected logit for each input element.

        Parameters
        ----------
        inputs : torch.Tensor or tuple of torch.Tensor
            A batch, or a tuple of batches for multi-input models.
        target : None, int, tuple, list of int or 1-D tensor
            None: argmax of the logits at x per sample; an int: that class for all samples; one
            class per sample otherwise.
        additional_forward_args : Any, optional
            Extra positional forward arguments; per-sample tensors are repeated along the path.
        baselines : None, number, tensor or tuple of them, optional
            Overrides the constructor's ``baseline`` (a tuple: one per input).
        return_convergence_delta : bool, default False
            Also return, per sample, sum(IG) − (f_c(x) − f_c(baseline)) (plain IG only).

        Returns
        -------
        attributions or (attributions, delta)
            Attributions in the structure and shapes of ``inputs``; ``delta`` of shape (N,).
        """
        if return_convergence_delta and not self.has_convergence_delta():
            raise ValueError(
                f"return_convergence_delta is only defined for plain integrated gradients, not for "
                f"{type(self).__name__} (its map is multiplied by x or sign(x) after the integration)"
            )
        is_tuple = isinstance(inputs, tuple)
        inputs_tuple = self._check_inputs(inputs if is_tuple else (inputs,))
        chosen = self.baseline if baselines is None else baselines
        with self._explaining():
            result, delta = self._integrate(
                inputs_tuple, target, additional_forward_args, chosen, return_convergence_delta
            )
        result = tuple(r.detach() for r in result)
        out = result if is_tuple else result[0]
        return (out, delta.detach()) if return_convergence_delta else out

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        return self._integrate(inputs, target, additional_forward_args, self.baseline, False)[0]

    def _baselines(self, baselines: Any, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if len(inputs) == 1 and not isinstance(baselines, tuple):
            return (_one_baseline(baselines, inputs[0], "baseline"),)
        if not isinstance(baselines, tuple):
            baselines = (baselines,) * len(inputs)
        if len(baselines) != len(inputs):
            raise ValueError(f"got {len(baselines)} baselines for {len(inputs)} inputs: give one per input")
        return tuple(_one_baseline(b, x, f"baseline {i}") for i, (b, x) in enumerate(zip(baselines, inputs)))

    def _integrate(
        self,
        inputs: tuple[torch.Tensor, ...],
        target: Any,
        additional_forward_args: Any,
        baselines: Any,
        with_delta: bool,
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        bases = self._baselines(baselines, inputs)
        logits = None
        if with_delta:  # f_c(x) is part of the delta: the logits at x are needed anyway
            with torch.no_grad():
                logits = self._forward(inputs, additional_forward_args)
            targets = self._targets(target, logits)
        else:  # None: the argmax at x (one forward pass); a given target is resolved on the first chunk
            targets = clean_targets(self, inputs, target, additional_forward_args)
        alphas = torch.as_tensor(path_alphas(self.steps), device=inputs[0].device)
        diffs = tuple(x - b for x, b in zip(inputs, bases))

        def points(sample: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = []
            for b, d in zip(bases, diffs):
                a = alphas.index_select(0, step).to(d.dtype).reshape((-1,) + (1,) * (d.ndim - 1))
                out.append(b.index_select(0, sample) + a * d.index_select(0, sample))
            return tuple(out)

        means, _ = gradient_moments(
            self, inputs, points, self.steps, targets, additional_forward_args, self.batch_size, target=target
        )
        ig = tuple(d * m for d, m in zip(diffs, means))
        delta = None
        if logits is not None:
            with torch.no_grad():
                at_baseline = self._forward(bases, additional_forward_args)
            rows = torch.arange(len(targets), device=logits.device)
            gap = logits[rows, targets] - at_baseline[rows, targets.to(at_baseline.device)]
            total = sum(a.reshape(a.shape[0], -1).sum(1) for a in ig)
            delta = total - gap.to(total.dtype)
        return tuple(apply_multiplier(a, x, self._multiplier, self.mu) for a, x in zip(ig, inputs)), delta


class IntegratedGradientsXInput(IntegratedGradients):
    """``integrated_gradients_x_input``: x * integrated gradients (same parameters)."""

    _multiplier = "input"


class IntegratedGradientsXSign(IntegratedGradients):
    """``integrated_gradients_x_sign(_mu_<v>)``: integrated gradients * sign_mu(x, mu).

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    mu : float, default 0.0
        Threshold of sign_mu in raw input units.
    steps, baseline, batch_size
        As for :class:`IntegratedGradients`.
    """

    _multiplier = "sign"

    def __init__(
        self,
        model: nn.Module,
        mu: float = parameter_default("mu"),
        steps: int = parameter_default("steps"),
        baseline: BaselineLike = parameter_default("baseline"),
        batch_size: int = parameter_default("batch_size"),
    ) -> None:
        super().__init__(model, steps=steps, baseline=baseline, batch_size=batch_size)
        self.mu = check_parameter("mu", mu, type(self).__name__)
