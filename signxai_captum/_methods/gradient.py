"""The gradient and its input-multiplied variants: ``gradient``, ``gradient_x_input``, ``gradient_x_sign(_mu)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shared_spec import check_parameter, parameter_default

from .._multipliers import apply_multiplier
from .base import SignXAIAttribution

__all__ = ["Gradient", "GradientXInput", "GradientXSign"]


class Gradient(SignXAIAttribution):
    """``gradient``: the derivative of the selected logit, df_c/dx (unit seed).

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped, the model is not modified).
    """

    _multiplier: str | None = None

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        grads, _ = self._gradients(inputs, target, additional_forward_args)
        return tuple(apply_multiplier(g, x, self._multiplier, self._mu()) for g, x in zip(grads, inputs))

    def _mu(self) -> float:
        return 0.0


class GradientXInput(Gradient):
    """``gradient_x_input`` (alias ``input_t_gradient``): x * df_c/dx."""

    _multiplier = "input"

    @property
    def multiplies_by_inputs(self) -> bool:
        return True


class GradientXSign(Gradient):
    """``gradient_x_sign`` / ``gradient_x_sign_mu_<v>``: df_c/dx * sign_mu(x, mu).

    sign_mu(x, mu) is +1 where x >= mu and -1 elsewhere; with the default mu = 0 it is sign(x)
    with sign(0) = +1.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    mu : float, default 0.0
        Threshold in the model's raw input units.
    """

    _multiplier = "sign"

    def __init__(self, model: nn.Module, mu: float = parameter_default("mu")) -> None:
        super().__init__(model)
        self.mu = check_parameter("mu", mu, type(self).__name__)

    def _mu(self) -> float:
        return self.mu
