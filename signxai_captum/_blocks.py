"""Building blocks of converted models: small ``nn.Module`` classes for Keras operations.

The Keras converter (:mod:`signxai_captum.convert`) builds models from ``torch.nn`` modules and
these; the LRP core (:mod:`signxai_captum.lrp`) knows their rules. Both import them from here, so
the LRP core does not depend on the converter. Channels-first layout: see
:mod:`signxai_captum.convert`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "KerasGraphModule",
    "ChannelsLastFlatten",
    "ChannelsLastReshape",
    "ChannelsLastPermute",
    "ChannelsFirstLinear",
    "SamePadding",
    "SameAvgPool",
    "Rescaling",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Normalization",
    "ConstantOp",
    "LayerScale",
    "ChannelsFirstLayerNorm",
    "Mean",
    "LRP_RULES",
]

#: The values of the class attribute ``lrp_rule`` by which a block declares its LRP treatment
#: (kernel layers such as :class:`ChannelsFirstLinear` have none: the preset's rule applies):
#: ``"pass"`` relevance unchanged (element-wise affine maps with constants/parameters, norm
#: layers, activations), ``"route"`` like the gradient (reshapes, crops, concatenation, max),
#: ``"z"`` the Z rule with the block as a linear map without bias (mean pooling), ``"sum"`` the Z
#: rule over the addends of a sum, ``"gate"`` a product whose gate factors are constants.
LRP_RULES: Tuple[str, ...] = ("pass", "route", "z", "sum", "gate")


def _cf_perm(rank: int) -> Tuple[int, ...]:
    """Channels-last -> channels-first axis order of a rank-``rank`` tensor."""
    return (0, rank - 1) + tuple(range(1, rank - 1))


def _cl_perm(rank: int) -> Tuple[int, ...]:
    """Channels-first -> channels-last axis order of a rank-``rank`` tensor."""
    return (0,) + tuple(range(2, rank)) + (1,)


# --------------------------------------------------------------------------- #
# Custom torch modules used by the converted models
# --------------------------------------------------------------------------- #
class ChannelsLastFlatten(nn.Module):
    """Flatten like ``keras.layers.Flatten``: permute NC... -> N...C, then flatten."""

    lrp_rule = "route"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() > 2:
            x = x.permute(*_cl_perm(x.dim()))
        return x.reshape(x.shape[0], -1)


class ChannelsLastReshape(nn.Module):
    """Reshape like ``keras.layers.Reshape`` on channels-first tensors.

    Parameters
    ----------
    target_shape : sequence of int
        Keras target shape (without batch axis, channels-last, may hold -1).
    """

    lrp_rule = "route"

    def __init__(self, target_shape: Sequence[int]) -> None:
        super().__init__()
        self.target_shape = tuple(int(s) for s in target_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() > 2:
            x = x.permute(*_cl_perm(x.dim()))
        x = x.reshape((x.shape[0],) + self.target_shape)
        if x.dim() > 2:
            x = x.permute(*_cf_perm(x.dim()))
        return x

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"


class ChannelsLastPermute(nn.Module):
    """Permute like ``keras.layers.Permute`` on channels-first tensors.

    Parameters
    ----------
    dims : sequence of int
        Keras permutation (1-based, batch axis excluded).
    """

    lrp_rule = "route"

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.permute(*_cl_perm(x.dim()))
        x = x.permute(0, *self.dims)
        return x.permute(*_cf_perm(x.dim()))

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class ChannelsFirstLinear(nn.Module):
    """Apply a ``nn.Linear`` over the channel axis (dim 1) of a rank >= 3 tensor.

    Keras ``Dense`` acts on the last (channel) axis; on channels-first tensors
    this moves dim 1 to the end, applies :attr:`linear` and moves it back.
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.linear(x.movedim(1, -1)).movedim(-1, 1)


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """TensorFlow/Keras 'same' padding ``(before, after)`` for one axis."""
    eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _torch_pad_tuple(pairs: Sequence[Tuple[int, int]]) -> Tuple[int, ...]:
    """``[(b0, a0), (b1, a1), ...]`` per spatial axis -> ``F.pad`` tuple (last axis first)."""
    out: List[int] = []
    for before, after in reversed(list(pairs)):
        out.extend((int(before), int(after)))
    return tuple(out)


class SamePadding(nn.Module):
    """Keras 'same' padding computed from the runtime spatial size.

    Used when a spatial size is unknown at conversion time and the padding
    depends on it (stride > 1).

    Parameters
    ----------
    kernel_size, stride, dilation : sequence of int
        Per spatial axis.
    value : float
        Padding value (``0`` for convolution, ``-inf`` for max pooling).
    """

    lrp_rule = "route"

    def __init__(
        self,
        kernel_size: Sequence[int],
        stride: Sequence[int],
        dilation: Optional[Sequence[int]] = None,
        value: float = 0.0,
    ) -> None:
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.dilation = tuple(dilation) if dilation is not None else (1,) * len(self.kernel_size)
        self.value = float(value)

    def pads(self, spatial: Sequence[int]) -> Tuple[int, ...]:
        """Return the ``F.pad`` tuple for the given spatial sizes."""
        pairs = [
            _same_pads(int(s), k, st, d)
            for s, k, st, d in zip(spatial, self.kernel_size, self.stride, self.dilation)
        ]
        return _torch_pad_tuple(pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.pad(x, self.pads(x.shape[2:]), mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"dilation={self.dilation}, value={self.value}"
        )


_AVG_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_CONST_PAD = {1: nn.ConstantPad1d, 2: nn.ConstantPad2d, 3: nn.ConstantPad3d}


class SameAvgPool(nn.Module):
    """Average pooling with Keras 'same' padding where padding is excluded from the count.

    Covers the cases ``nn.AvgPoolNd(count_include_pad=False)`` cannot express
    (asymmetric padding, or padding depending on an unknown input size): the
    input is zero padded (:attr:`pad`), average pooled including the padding
    (:attr:`pool`) and rescaled by ``window size / number of valid elements``.

    Parameters
    ----------
    nd : int
        Number of spatial dimensions (1, 2 or 3).
    kernel_size, stride : sequence of int
        Per spatial axis.
    pads : sequence of (int, int), optional
        Static ``(before, after)`` padding per spatial axis; computed at run
        time when omitted.
    """

    lrp_rule = "z"

    def __init__(
        self,
        nd: int,
        kernel_size: Sequence[int],
        stride: Sequence[int],
        pads: Optional[Sequence[Tuple[int, int]]] = None,
    ) -> None:
        super().__init__()
        self.nd = nd
        if pads is None:
            self.pad: nn.Module = SamePadding(kernel_size, stride, value=0.0)
        else:
            self.pad = _CONST_PAD[nd](_torch_pad_tuple(pads), 0.0)
        self.pool = _AVG_POOL[nd](tuple(kernel_size), tuple(stride), count_include_pad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out = self.pool(self.pad(x))
        with torch.no_grad():
            ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
            frac = self.pool(self.pad(ones))
        return out / frac


class Rescaling(nn.Module):
    """``x * scale + offset`` (``keras.layers.Rescaling``), broadcast over channels."""

    lrp_rule = "pass"

    def __init__(self, scale: torch.Tensor, offset: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("offset", offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x * self.scale + self.offset


def _unpack(inputs: Tuple[Any, ...]) -> Tuple[torch.Tensor, ...]:
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        return tuple(inputs[0])
    return tuple(inputs)


class Add(nn.Module):
    """Element-wise sum of all inputs (``keras.layers.Add``)."""

    lrp_rule = "sum"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xs = _unpack(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(nn.Module):
    """``a - b`` (``keras.layers.Subtract``); LRP: the sum rule with weights ``(1, -1)``."""

    lrp_rule = "sum"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a, b = _unpack(inputs)
        return a - b


class Multiply(nn.Module):
    """Element-wise product of all inputs (``keras.layers.Multiply``, ``x * y`` of two tensors).

    LRP treats it as a gating product (``lrp_rule = "gate"``): the factors that are gates
    (produced by a sigmoid-like activation) are constants, all relevance goes to the other factor.

    Parameters
    ----------
    gate_inputs : sequence of int, optional
        Indices of the inputs that are gates, as the converter found them in the Keras graph
        (sigmoid / hard-sigmoid activations, layers with a fused sigmoid / hard-sigmoid, the
        hard sigmoid written out as ``ReLU(6)(x + 3) * (1/6)``, looking through reshapes).
        If every input is a gate, the first is not listed (it receives the relevance). An empty
        tuple: no input is a gate (LRP has no rule for such a product). ``None`` (default, e.g.
        when built by hand): unknown, the LRP engine decides from the producers of the inputs.
    """

    lrp_rule = "gate"

    def __init__(self, gate_inputs: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        self.gate_inputs: Optional[Tuple[int, ...]] = (
            None if gate_inputs is None else tuple(int(i) for i in gate_inputs)
        )

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xs = _unpack(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out

    def extra_repr(self) -> str:
        return "" if self.gate_inputs is None else f"gate_inputs={self.gate_inputs}"


class Average(nn.Module):
    """Element-wise mean of all inputs (``keras.layers.Average``)."""

    lrp_rule = "sum"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xs = _unpack(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / len(xs)


class Maximum(nn.Module):
    """Element-wise maximum of all inputs (``keras.layers.Maximum``)."""

    lrp_rule = "route"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xs = _unpack(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = torch.maximum(out, x)
        return out


class Minimum(nn.Module):
    """Element-wise minimum of all inputs (``keras.layers.Minimum``)."""

    lrp_rule = "route"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        xs = _unpack(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = torch.minimum(out, x)
        return out


class Concatenate(nn.Module):
    """Concatenate inputs along ``dim`` (``keras.layers.Concatenate``)."""

    lrp_rule = "route"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = int(dim)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.cat(_unpack(inputs), dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _channel_view(values: torch.Tensor, rank: int) -> torch.Tensor:
    """Per-channel values ``(C,)`` shaped to broadcast over dim 1 of a rank-``rank`` tensor."""
    if rank <= 2:
        return values.reshape(1, -1) if rank == 2 else values
    return values.reshape((1, -1) + (1,) * (rank - 2))


class Normalization(nn.Module):
    """``(x - mean) / denominator`` (``keras.layers.Normalization``; ``invert``: the inverse).

    ``mean`` and ``denominator`` are buffers already shaped to broadcast over channels-first
    tensors (the converter computes ``denominator = max(sqrt(variance), keras epsilon)`` as Keras
    does). LRP: element-wise affine, relevance passes unchanged.

    Parameters
    ----------
    mean, denominator : torch.Tensor
        Broadcastable to the input.
    invert : bool
        ``mean + x * denominator`` instead (Keras ``invert=True``).
    """

    lrp_rule = "pass"

    def __init__(self, mean: torch.Tensor, denominator: torch.Tensor, invert: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("denominator", denominator)
        self.invert = bool(invert)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.invert:
            return self.mean + x * self.denominator
        return (x - self.mean) / self.denominator

    def extra_repr(self) -> str:
        return f"invert={self.invert}"


class ConstantOp(nn.Module):
    """An element-wise arithmetic operation of a tensor with a constant.

    What ``x + 3.0``, ``x * (1.0 / 6.0)``, ``2.0 - x`` or ``x / c`` on a Keras tensor become in a
    functional graph (a ``keras.ops`` operation node with a Python or array constant). LRP:
    element-wise affine, relevance passes unchanged (``lrp_rule = "pass"``); a multiplication by
    ``1/6`` (or division by 6) of a ReLU6 output is the written-out hard sigmoid, a gate.

    Parameters
    ----------
    op : {"add", "subtract", "multiply", "divide"}
        The operation.
    constant : torch.Tensor
        Scalar or broadcastable to the (channels-first) input; stored as a buffer.
    constant_first : bool
        ``constant (op) x`` instead of ``x (op) constant`` (matters for subtract; ``divide`` with
        the constant first is not affine and is refused).
    """

    lrp_rule = "pass"
    OPS: Tuple[str, ...] = ("add", "subtract", "multiply", "divide")

    def __init__(self, op: str, constant: torch.Tensor, constant_first: bool = False) -> None:
        super().__init__()
        if op not in self.OPS:
            raise ValueError(f"op must be one of {self.OPS}, got {op!r}")
        if op == "divide" and constant_first:
            raise ValueError("constant / x is not an element-wise affine map")
        self.op = op
        self.constant_first = bool(constant_first)
        self.register_buffer("constant", constant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        c = self.constant
        if self.op == "add":
            return c + x if self.constant_first else x + c
        if self.op == "subtract":
            return c - x if self.constant_first else x - c
        if self.op == "multiply":
            return c * x if self.constant_first else x * c
        return x / c

    def extra_repr(self) -> str:
        c = self.constant
        value = f"{float(c):.6g}" if c.numel() == 1 else f"tensor{tuple(c.shape)}"
        return f"op={self.op!r}, constant={value}, constant_first={self.constant_first}"


class LayerScale(nn.Module):
    """Per-channel learned scale ``x * gamma`` (keras.applications ConvNeXt's ``LayerScale``).

    LRP: element-wise affine with a parameter, relevance passes unchanged.

    Parameters
    ----------
    gamma : torch.Tensor
        ``(C,)``, broadcast over dim 1 (channels-first).
    """

    lrp_rule = "pass"

    def __init__(self, gamma: torch.Tensor) -> None:
        super().__init__()
        self.gamma = nn.Parameter(gamma.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x * _channel_view(self.gamma, x.dim())

    def extra_repr(self) -> str:
        return f"channels={self.gamma.numel()}"


class ChannelsFirstLayerNorm(nn.Module):
    """Layer normalisation over the channel axis (dim 1) of a channels-first tensor.

    ``keras.layers.LayerNormalization(axis=-1)`` on a channels-last feature map (ConvNeXt); for
    ``(N, C)`` input it equals ``nn.LayerNorm(C)``. LRP: the statistics are constants, relevance
    passes unchanged (``lrp_rule = "pass"``).

    Parameters
    ----------
    num_channels : int
        Size of dim 1.
    eps : float
        Added to the variance.
    scale, center : bool
        Whether ``weight`` (gamma) / ``bias`` (beta) exist.
    """

    lrp_rule = "pass"

    def __init__(self, num_channels: int, eps: float = 1e-5, scale: bool = True, center: bool = True) -> None:
        super().__init__()
        self.num_channels = int(num_channels)
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(self.num_channels)) if scale else None
        self.bias = nn.Parameter(torch.zeros(self.num_channels)) if center else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        y = F.layer_norm(x.movedim(1, -1), (self.num_channels,), self.weight, self.bias, self.eps)
        return y.movedim(-1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}"


class Mean(nn.Module):
    """Mean (or sum) over Keras (channels-last) axes of a channels-first tensor (``keras.ops.mean``).

    The tensor is moved to channels-last, reduced over ``axes`` and moved back, so the result has
    the layout the Keras result has (channels-first). LRP: a linear map without bias, the Z rule.

    Parameters
    ----------
    axes : sequence of int
        Keras axes (non-negative, batch axis excluded).
    keepdims : bool
        Keep the reduced axes with size 1.
    kind : {"mean", "sum"}
        The reduction.
    """

    lrp_rule = "z"

    def __init__(self, axes: Sequence[int], keepdims: bool = False, kind: str = "mean") -> None:
        super().__init__()
        if kind not in ("mean", "sum"):
            raise ValueError(f"kind must be 'mean' or 'sum', got {kind!r}")
        self.axes = tuple(int(a) for a in axes)
        self.keepdims = bool(keepdims)
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() > 2:
            x = x.permute(*_cl_perm(x.dim()))
        reduce = torch.mean if self.kind == "mean" else torch.sum
        y = reduce(x, dim=self.axes, keepdim=self.keepdims)
        if y.dim() > 2:
            y = y.permute(*_cf_perm(y.dim()))
        return y

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, axes={self.axes}, keepdims={self.keepdims}"


class KerasGraphModule(nn.Module):
    """Replays a converted Keras functional graph.

    Parameters
    ----------
    layers : OrderedDict of str -> nn.Module
        Converted layers keyed by their sanitised Keras names, in topological
        order; the module producing the output is registered last.
    steps : sequence of (str, tuple of str, str)
        ``(layer key, input tensor names, output tensor name)`` in execution
        order.
    input_name, output_name : str
        Names of the graph input and output tensors.
    """

    def __init__(
        self,
        layers: "OrderedDict[str, nn.Module]",
        steps: Sequence[Tuple[str, Tuple[str, ...], str]],
        input_name: str,
        output_name: str,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        self.steps: List[Tuple[str, Tuple[str, ...], str]] = [
            (k, tuple(i), o) for k, i, o in steps
        ]
        self.input_name = input_name
        self.output_name = output_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        values: Dict[str, torch.Tensor] = {self.input_name: x}
        for key, inputs, output in self.steps:
            values[output] = self.layers[key](*[values[i] for i in inputs])
        return values[self.output_name]

    def without_output_softmax(self) -> "KerasGraphModule | None":
        """A view of this graph without a softmax on its output layer, or None if there is none.

        Used by :func:`signxai_captum.remove_softmax`. The view shares every layer (nothing is
        copied or modified); a fused ``layer + softmax`` keeps its name with the softmax dropped.
        """
        key, inputs, output = self.steps[-1]
        if output != self.output_name:
            return None
        last = self.layers[key]
        layers = OrderedDict(self.layers.items())
        steps = list(self.steps)
        if isinstance(last, nn.Softmax) and len(inputs) == 1:
            del layers[key]
            steps.pop()
            return KerasGraphModule(layers, steps, self.input_name, inputs[0])
        if isinstance(last, nn.Sequential) and len(last) > 1 and isinstance(last[-1], nn.Softmax):
            layers[key] = nn.Sequential(OrderedDict(list(last.named_children())[:-1]))
            return KerasGraphModule(layers, steps, self.input_name, self.output_name)
        return None

    def extra_repr(self) -> str:
        lines = [f"{o} = {k}({', '.join(i)})" for k, i, o in self.steps]
        return f"input={self.input_name}, output={self.output_name}\n" + "\n".join(lines)
