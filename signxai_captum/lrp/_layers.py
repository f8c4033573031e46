"""Kernel layers (Linear, convolutions) as the linear maps the LRP rules work with.

A kernel layer computes ``z = W a + b``. The rules need three operations on it: its parameters,
its forward with *replaced* weights/bias (``W+``, ``W-``, ``W**2``, ...), and the transposed map
``W^T g`` (a vector-Jacobian product). This module provides them for ``nn.Linear``,
``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` and the converter's
:class:`signxai_captum.convert.ChannelsFirstLinear`, with fast paths that avoid re-running a
forward where the transposed operator is available directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .._blocks import ChannelsFirstLinear

__all__ = ["KERNEL_TYPES", "kernel_kind", "kernel_parameters", "kernel_forward", "kernel_transpose"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSE = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

# module types LRP treats as kernel layers
KERNEL_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, ChannelsFirstLinear) + _CONV + _CONV_TRANSPOSE


def kernel_kind(module: nn.Module) -> str | None:
    """``"dense"`` for Linear layers, ``"conv"`` for convolutions, ``None`` for anything else."""
    if isinstance(module, (nn.Linear, ChannelsFirstLinear)):
        return "dense"
    if isinstance(module, _CONV + _CONV_TRANSPOSE):
        return "conv"
    return None


def _linear_of(module: nn.Module) -> nn.Module:
    return module.linear if isinstance(module, ChannelsFirstLinear) else module


def kernel_parameters(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight and bias (``None`` when the layer has none) of a kernel layer, detached."""
    layer = _linear_of(module)
    bias = getattr(layer, "bias", None)
    return layer.weight.detach(), (None if bias is None else bias.detach())


def _zero_padding_tuple(conv: nn.Module) -> tuple[int, ...] | None:
    """The conv's padding as a tuple when it is plain zero padding given by numbers, else None."""
    if getattr(conv, "padding_mode", "zeros") != "zeros" or isinstance(conv.padding, str):
        return None
    return tuple(conv.padding)


def kernel_forward(
    module: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """The layer's forward on ``x`` with ``weight`` and ``bias`` in place of its own parameters."""
    if isinstance(module, nn.Linear):
        return F.linear(x, weight, bias)
    if isinstance(module, ChannelsFirstLinear):
        return F.linear(x.movedim(1, -1), weight, bias).movedim(-1, 1)
    if isinstance(module, _CONV):
        return module._conv_forward(x, weight, bias)
    # transposed convolutions and anything else: swap the parameters functionally
    params = {"weight": weight}
    if getattr(module, "bias", None) is not None:
        params["bias"] = bias if bias is not None else torch.zeros_like(module.bias)
    return functional_call(module, params, (x,))


def kernel_transpose(module: nn.Module, x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``W^T grad``: the vector-Jacobian product of the layer with weight ``weight`` at input ``x``.

    The result has ``x``'s shape. The bias does not enter (the map is affine in ``x``).
    """
    if isinstance(module, nn.Linear):
        return grad @ weight
    if isinstance(module, ChannelsFirstLinear):
        return (grad.movedim(1, -1) @ weight).movedim(-1, 1)
    if isinstance(module, _CONV):
        padding = _zero_padding_tuple(module)
        if padding is not None:
            # only the input's shape is read; a contiguous tensor (x itself, or an untouched
            # allocation) avoids the copy the backend makes of a broadcast stand-in
            stand_in = x.detach() if x.is_contiguous() else grad.new_empty(x.shape)
            return torch.ops.aten.convolution_backward(
                grad, stand_in, weight, None, module.stride, padding, module.dilation,
                False, [0] * len(padding), module.groups, (True, False, False),
            )[0]
    # generic path: differentiate a forward on a stand-in input (the map is linear in x)
    with torch.enable_grad():
        leaf = torch.zeros_like(x).requires_grad_(True)
        out = kernel_forward(module, leaf, weight, None)
        (result,) = torch.autograd.grad(out, leaf, grad)
    return result
