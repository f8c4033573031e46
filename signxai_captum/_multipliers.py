"""The input-side factors of the ``_x_input`` / ``_x_sign`` / ``_x_sign_mu`` variants (docs/semantics.md §1, §3)."""

from __future__ import annotations

import torch

__all__ = ["sign", "sign_mu", "apply_multiplier"]


def sign(x: torch.Tensor) -> torch.Tensor:
    """+1 where ``x >= 0``, -1 where ``x < 0`` (so sign(0) = +1), in ``x``'s dtype."""
    return sign_mu(x, 0.0)


def sign_mu(x: torch.Tensor, mu: float) -> torch.Tensor:
    """+1 where ``x >= mu``, -1 where ``x < mu``, in ``x``'s dtype. ``mu`` is in raw input units."""
    return (x >= mu).to(x.dtype).mul_(2.0).sub_(1.0)


def apply_multiplier(grad: torch.Tensor, x: torch.Tensor, multiplier: str | None, mu: float = 0.0) -> torch.Tensor:
    """Multiply a backward signal by x (``"input"``), by sign_mu(x, mu) (``"sign"``), or not (``None``)."""
    if multiplier is None:
        return grad
    if multiplier == "input":
        return grad * x
    if multiplier == "sign":
        return grad * sign_mu(x, mu)
    raise ValueError(f"multiplier must be None, 'input' or 'sign', got {multiplier!r}")
