"""SmoothGrad and VarGrad: statistics of the gradient over noisy copies of the input (docs/semantics.md §3).

``smoothgrad``: mean_k ∇f_c(x + ε_k); ``vargrad``: the population variance of the same gradients.
ε_k ~ N(0, σ²) with σ = noise · (max(x) − min(x)) of each sample (``noise_mode="relative"``,
default) or σ = noise (``"absolute"``). The standard-normal draws come from
:func:`shared_spec.standard_normal_noise` (numpy, channels-last order moved to channels-first), so
with the same ``seed`` signxai_captum and signxai_tf use the same noise on the same element, and
every sample of a batch uses the same draws scaled by its own σ (a batch equals its samples alone).
The noisy copies are evaluated in chunks of ``batch_size`` rows. The suffix variants multiply the
statistic by x (``_x_input``) or sign_mu(x, mu) (``_x_sign``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shared_spec import check_parameter, noise_scale, parameter_default, standard_normal_noise

from .._multipliers import apply_multiplier
from .base import SignXAIAttribution
from .sampled_gradients import clean_targets, gradient_moments

__all__ = [
    "SmoothGrad",
    "SmoothGradXInput",
    "SmoothGradXSign",
    "VarGrad",
    "VarGradXInput",
    "VarGradXSign",
]

class _NoisyGradientStatistic(SignXAIAttribution):
    """Common code of SmoothGrad and VarGrad; ``_variance`` selects the statistic."""

    _variance = False
    _multiplier: str | None = None
    mu = 0.0

    def __init__(
        self,
        model: nn.Module,
        samples: int = parameter_default("samples"),
        noise: float = parameter_default("noise"),
        noise_mode: str = parameter_default("noise_mode"),
        seed: int | None = parameter_default("seed"),
        batch_size: int = parameter_default("batch_size"),
    ) -> None:
        super().__init__(model)
        where = type(self).__name__
        self.samples = check_parameter("samples", samples, where)
        self.noise = check_parameter("noise", noise, where)
        self.noise_mode = check_parameter("noise_mode", noise_mode, where)
        self.seed = check_parameter("seed", seed, where)
        self.batch_size = check_parameter("batch_size", batch_size, where)

    def _noise(self, inputs: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Per input: the standard-normal draws (samples, *sample_shape) and sigma per sample (N,)."""
        draws, sigmas = [], []
        for j, x in enumerate(inputs):
            seed = None if self.seed is None else self.seed + j  # input j of a tuple: its own stream
            eps = standard_normal_noise(seed, self.samples, tuple(x.shape[1:]), channels_first=True)
            draws.append(torch.as_tensor(eps, device=x.device, dtype=x.dtype))
            sigma = noise_scale(x.detach().cpu().numpy(), self.noise, self.noise_mode)
            sigmas.append(torch.as_tensor(sigma, device=x.device, dtype=x.dtype))
        return tuple(draws), tuple(sigmas)

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        # None: the argmax at x, not at the noisy copies (one forward pass); a given target is resolved
        # on the first chunk
        targets = clean_targets(self, inputs, target, additional_forward_args)
        draws, sigmas = self._noise(inputs)

        def points(sample: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = []
            for x, eps, sigma in zip(inputs, draws, sigmas):
                scale = sigma.index_select(0, sample).reshape((-1,) + (1,) * (x.ndim - 1))
                out.append(x.detach().index_select(0, sample) + scale * eps.index_select(0, k))
            return tuple(out)

        means, variances = gradient_moments(
            self, inputs, points, self.samples, targets, additional_forward_args, self.batch_size,
            variance=self._variance, target=target,
        )
        stats = variances if self._variance else means
        return tuple(apply_multiplier(s, x, self._multiplier, self.mu) for s, x in zip(stats, inputs))


_PARAMETERS_DOC = """
    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped; the model is not modified).
    samples : int, default 50
        Number of noisy copies per sample.
    noise : float, default 0.2
        Noise level: relative to each sample's value range, or absolute (``noise_mode``).
    noise_mode : {"relative", "absolute"}, default "relative"
        ``"relative"``: σ = noise · (max(x) − min(x)) per sample; ``"absolute"``: σ = noise.
    seed : int or None, default None
        Seed of the numpy generator of the noise; the same seed gives the same noise (also in
        signxai_tf). None draws fresh noise on every call. Input j of a tuple uses seed + j.
    batch_size : int, default 32
        At most this many noisy copies (over all samples) per forward pass.
"""


class SmoothGrad(_NoisyGradientStatistic):
    """``smoothgrad``: the mean gradient over noisy copies of x (unit seed; ``target=None`` is the
    argmax of the logits at x).
    """

    __doc__ = (__doc__ or "") + _PARAMETERS_DOC


class SmoothGradXInput(SmoothGrad):
    """``smoothgrad_x_input``: x * SmoothGrad (same parameters as :class:`SmoothGrad`)."""

    _multiplier = "input"

    @property
    def multiplies_by_inputs(self) -> bool:  # noqa: D102
        return True


class SmoothGradXSign(SmoothGrad):
    """``smoothgrad_x_sign(_mu_<v>)``: SmoothGrad * sign_mu(x, mu); ``mu`` in raw input units,
    the other parameters as for :class:`SmoothGrad`.
    """

    _multiplier = "sign"

    def __init__(self, model: nn.Module, mu: float = parameter_default("mu"), **params: Any) -> None:
        super().__init__(model, **params)
        self.mu = check_parameter("mu", mu, type(self).__name__)


class VarGrad(_NoisyGradientStatistic):
    """``vargrad``: the population variance (divided by ``samples``) of the gradient over noisy
    copies of x.
    """

    __doc__ = (__doc__ or "") + _PARAMETERS_DOC
    _variance = True


class VarGradXInput(VarGrad):
    """``vargrad_x_input``: x * VarGrad (same parameters as :class:`VarGrad`)."""

    _multiplier = "input"

    @property
    def multiplies_by_inputs(self) -> bool:  # noqa: D102
        return True


class VarGradXSign(VarGrad):
    """``vargrad_x_sign(_mu_<v>)``: VarGrad * sign_mu(x, mu); ``mu`` in raw input units, the other
    parameters as for :class:`VarGrad`.
    """

    _multiplier = "sign"

    def __init__(self, model: nn.Module, mu: float = parameter_default("mu"), **params: Any) -> None:
        super().__init__(model, **params)
        self.mu = check_parameter("mu", mu, type(self).__name__)
