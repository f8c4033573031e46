"""Kernel layers (Linear, convolutions) as the linear maps the LRP rules work with.

A kernel layer computes ``z = W a + b``. The rules need three operations on it: its parameters,
its forward with *replaced* weights/bias (``W+``, ``W-``, ``W**2``, ...), and the transposed map
``W^T g`` (a vector-Jacobian product). This module provides them for ``nn.Linear``,
``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` and the converter's
:class:`signxai_captum.convert.ChannelsFirstLinear`, with fast paths that avoid re-running a
forward where the transposed operator is available directly, and 1x1 convolutions on CPU as
matrix products (see :func:`pointwise_stride`); and the sign parts ``W+``/``W-`` of a large Linear
weight one block of rows at a time (see :func:`sign_part_row_blocks`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .._blocks import ChannelsFirstLinear

__all__ = ["KERNEL_TYPES", "kernel_kind", "kernel_parameters", "kernel_forward", "kernel_transpose", "pointwise_stride",
           "pointwise_transpose", "stacked_output_axis", "SIGN_PARTS_BLOCK_BYTES", "SIGN_PARTS_MIN_BYTES", "sign_parts_by_rows",
           "sign_part_row_blocks", "transposes_without_graph"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_FORWARDS = tuple(conv.forward for conv in _CONV)
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


#: 1x1 convolutions on CPU run as matrix products from this many input positions on (below it,
#: at 7x7, the convolution backend is ~1 ms faster per layer; docs/performance.md)
POINTWISE_MIN_POSITIONS = 196


def pointwise_stride(module: nn.Module, x: torch.Tensor) -> tuple[int, ...] | None:
    """The stride of ``module`` when it is a 1x1 convolution that runs as a matrix product on ``x``.

    That is: ``nn.Conv1d/2d/3d`` (or a subclass that keeps their ``forward``) with every kernel size
    1, one group and no padding, on a batched float32/float64 CPU input with at least
    :data:`POINTWISE_MIN_POSITIONS` positions; else ``None``. On CPU the
    convolution backend (oneDNN) is up to 5x slower than the matrix product for these layers,
    in both directions (measured on the 1x1 layers of ResNet-50 and MobileNetV2, batch 8,
    2 threads: e.g. the transposed product of a stride-2 256->512 layer at 56x56 takes 38-53 ms
    against 7-8 ms). The results agree to float32 round-off (relative 1e-6).
    """
    if not isinstance(module, _CONV) or module.groups != 1 or x.device.type != "cpu":
        return None
    if type(module).forward not in _CONV_FORWARDS or x.dtype not in (torch.float32, torch.float64):
        return None  # a subclass with its own forward (weight standardisation, ...) may not compute W x
    if any(k != 1 for k in module.kernel_size) or x.ndim != module.weight.ndim:
        return None
    if not isinstance(module.padding, str) and any(p != 0 for p in module.padding):
        return None  # a string padding ('valid', 'same') is no padding for a 1x1 kernel
    if math.prod(x.shape[2:]) < POINTWISE_MIN_POSITIONS:
        return None
    return tuple(module.stride)


#: a Linear weight of at least this many bytes has its sign parts formed by blocks of rows
#: (glibc's malloc gives every allocation above 32 MiB fresh pages; below it the two measured
#: mixed: docs/performance.md, *Sign parts of large Linear weights*)
SIGN_PARTS_MIN_BYTES = 32 * 2**20
#: the size of one block of rows (2 MiB stays in cache between its forward and transposed products:
#: measured fastest of 1-16 MiB on VGG16's first classifier layer)
SIGN_PARTS_BLOCK_BYTES = 2 * 2**20


def sign_parts_by_rows(module: nn.Module, weight: torch.Tensor) -> bool:
    """Whether the rules form ``W+``/``W-`` of ``module``'s ``weight`` by blocks of rows.

    That is an ``nn.Linear`` (or a subclass keeping its ``forward``) whose weight has at least
    :data:`SIGN_PARTS_MIN_BYTES`. A whole copy of such a weight is a fresh allocation (VGG16's first
    classifier layer: 411 MB) that the system maps and zeroes page by page on every call (100,000
    page faults); blocks of :data:`SIGN_PARTS_BLOCK_BYTES` reuse one buffer and stay in cache
    between the forward and the transposed product: AlphaBeta(1, 0) on that layer at batch 8 took
    81 ms instead of 264 ms (measured, 2 threads; the plain forward plus ``W^T g`` 94 ms).
    """
    return (
        isinstance(module, nn.Linear)
        and type(module).forward is nn.Linear.forward
        and weight.ndim == 2
        and weight.numel() * weight.element_size() >= SIGN_PARTS_MIN_BYTES
    )


def stacked_output_axis(module: nn.Module, x: torch.Tensor) -> int | None:
    """The axis of the output features when two weights of ``module`` can run as one layer with
    their output features stacked (``[W1; W2]``), else ``None``.

    That is ``nn.Linear`` (axis -1; not one that :func:`sign_parts_by_rows` handles), the converter's
    :class:`ChannelsFirstLinear` and ungrouped ``nn.Conv1d/2d/3d`` (axis 1) on a batched input. A
    stacked weight gives both forwards in one product, and ``[W1; W2]^T [g1; g2] = W1^T g1 + W2^T g2``
    both transposed products summed in one: AlphaBeta with ``beta != 0`` computes its activator
    and inhibitor so (one product and one quotient instead of two, no separate combination pass).
    """
    if isinstance(module, nn.Linear):
        return None if sign_parts_by_rows(module, module.weight) else -1
    if isinstance(module, ChannelsFirstLinear):
        return 1
    if isinstance(module, _CONV) and module.groups == 1 and x.ndim == module.weight.ndim:
        return 1
    return None


def sign_part_row_blocks(weight: torch.Tensor, negative: bool):
    """Blocks ``(rows, W+[rows], W-[rows])`` of a 2-D weight; ``W-[rows]`` is None unless ``negative``.

    The blocks are views of two buffers that the next block overwrites: use each before asking for
    the next one.
    """
    rows = max(1, SIGN_PARTS_BLOCK_BYTES // max(1, weight.shape[1] * weight.element_size()))
    pos_buffer = weight.new_empty((min(rows, weight.shape[0]), weight.shape[1]))
    neg_buffer = torch.empty_like(pos_buffer) if negative else None
    for start in range(0, weight.shape[0], rows):
        block = weight[start:start + rows]
        n = block.shape[0]
        w_pos = torch.clamp(block, min=0, out=pos_buffer[:n])
        w_neg = torch.clamp(block, max=0, out=neg_buffer[:n]) if neg_buffer is not None else None
        yield slice(start, start + n), w_pos, w_neg


def _strided(stride: tuple[int, ...]) -> tuple[slice, ...]:
    """The index of the input positions a 1x1 convolution with ``stride`` reads."""
    return (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)


def _pointwise_forward(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, ...]
) -> torch.Tensor:
    """A 1x1 convolution as the matrix product ``W x`` over the channels (plus ``bias``)."""
    if any(s != 1 for s in stride):
        x = x[_strided(stride)]
    n, channels = x.shape[:2]
    out = torch.matmul(weight.reshape(weight.shape[0], channels), x.reshape(n, channels, -1))
    if bias is not None:
        out.add_(bias.reshape(-1, 1))
    return out.reshape((n, weight.shape[0]) + x.shape[2:])


def pointwise_transpose(
    x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor, stride: tuple[int, ...]
) -> torch.Tensor:
    """``W^T grad`` of a 1x1 convolution (see :func:`pointwise_stride`) as a matrix product, with
    ``x``'s shape (zeros at the positions a stride skips); a fresh tensor."""
    n, out_channels = grad.shape[:2]
    in_channels = weight.shape[1]
    product = torch.matmul(weight.reshape(out_channels, in_channels).t(), grad.reshape(n, out_channels, -1))
    product = product.reshape((n, in_channels) + grad.shape[2:])
    if all(s == 1 for s in stride):
        return product
    result = product.new_zeros(x.shape)
    result[_strided(stride)] = product
    return result


def kernel_forward(
    module: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """The layer's forward on ``x`` with ``weight`` and ``bias`` in place of its own parameters."""
    if isinstance(module, nn.Linear):
        return F.linear(x, weight, bias)
    if isinstance(module, ChannelsFirstLinear):
        return F.linear(x.movedim(1, -1), weight, bias).movedim(-1, 1)
    if isinstance(module, _CONV):
        stride = pointwise_stride(module, x)
        if stride is not None:
            return _pointwise_forward(x, weight, bias, stride)
        return module._conv_forward(x, weight, bias)
    # transposed convolutions and anything else: swap the parameters functionally
    params = {"weight": weight}
    if getattr(module, "bias", None) is not None:
        params["bias"] = bias if bias is not None else torch.zeros_like(module.bias)
    return functional_call(module, params, (x,))


def transposes_without_graph(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`kernel_transpose` computes ``W^T grad`` of ``module`` at ``x`` from the weight
    alone (no forward graph, no stand-in forward): a plain ``nn.Conv1d/2d/3d`` with zero padding
    given by numbers, or one that runs as a matrix product (:func:`pointwise_stride`). Its result is
    then the convolution's own backward (the same kernel autograd calls)."""
    if not isinstance(module, _CONV) or type(module).forward not in _CONV_FORWARDS:
        return False
    return pointwise_stride(module, x) is not None or _zero_padding_tuple(module) is not None


def kernel_transpose(module: nn.Module, x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``W^T grad``: the vector-Jacobian product of the layer with weight ``weight`` at input ``x``.

    The result has ``x``'s shape. The bias does not enter (the map is affine in ``x``).
    """
    if isinstance(module, nn.Linear):
        return grad @ weight
    if isinstance(module, ChannelsFirstLinear):
        return (grad.movedim(1, -1) @ weight).movedim(-1, 1)
    if isinstance(module, _CONV):
        stride = pointwise_stride(module, x)
        if stride is not None:
            return pointwise_transpose(x, weight, grad, stride)
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
