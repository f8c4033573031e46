"""Convert Keras 3 models into equivalent PyTorch modules.

The converted model is built from ordinary ``torch.nn`` modules
(``nn.Linear``, ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.BatchNorm2d``,
``nn.ReLU``, ``nn.Softmax`` ...), so module-hook based attribution methods
(e.g. zennit LRP composites) can see every layer.

Layout convention
-----------------
Keras works channels-last, PyTorch channels-first.  The converted torch model
takes and returns channels-first tensors:

* rank 2 ``(N, F)``          <-> ``(N, F)`` (unchanged)
* rank 3 ``(N, T, C)``       <-> ``(N, C, T)``
* rank 4 ``(N, H, W, C)``    <-> ``(N, C, H, W)``
* rank 5 ``(N, D, H, W, C)`` <-> ``(N, C, D, H, W)``

Use :func:`to_channels_first` / :func:`to_channels_last` to move data between
the two conventions.

TensorFlow / Keras are imported lazily inside the conversion functions only;
importing this module never imports them.  The layer graph of a functional model
is read through :mod:`signxai_tf.lrp._graph`, the one module of the project that
uses private Keras API.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch
from torch import nn

from shared_spec import UnsupportedLayerError

from . import _blocks
from ._blocks import (  # noqa: F401  (the converter's modules; re-exported through _blocks.__all__ below)
    KerasGraphModule,
    ChannelsLastFlatten,
    ChannelsLastReshape,
    ChannelsLastPermute,
    ChannelsFirstLinear,
    SamePadding,
    SameAvgPool,
    Rescaling,
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    Concatenate,
    Normalization,
    ConstantOp,
    LayerScale,
    ChannelsFirstLayerNorm,
    Mean,
    _AVG_POOL,
    _CONST_PAD,
    _cf_perm,
    _cl_perm,
    _same_pads,
    _torch_pad_tuple,
)

__all__ = [
    "keras_to_torch",
    "to_channels_first",
    "to_channels_last",
    "UnsupportedLayerError",
    "SUPPORTED_LAYERS",
    "SUPPORTED_ACTIVATIONS",
    "SUPPORTED_OPERATIONS",
    *(name for name in _blocks.__all__ if name != "LRP_RULES"),
]

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)
Shape = Tuple[Optional[int], ...]


# --------------------------------------------------------------------------- #
# Layout helpers
# --------------------------------------------------------------------------- #
def _permute(x: ArrayOrTensor, perm: Tuple[int, ...]) -> ArrayOrTensor:
    if isinstance(x, torch.Tensor):
        return x.permute(*perm).contiguous()
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(np.transpose(x, perm))
    raise TypeError(f"expected a numpy.ndarray or torch.Tensor, got {type(x).__name__}")


def to_channels_first(x: ArrayOrTensor) -> ArrayOrTensor:
    """Convert a channels-last (Keras) batch into channels-first (PyTorch) layout.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Batch in Keras layout: ``(N, F)``, ``(N, T, C)``, ``(N, H, W, C)`` or
        ``(N, D, H, W, C)``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same type as ``x``; rank <= 2 is returned unchanged, otherwise the
        channel axis is moved to position 1 (a contiguous copy).
    """
    if x.ndim < 3:
        return x
    return _permute(x, _cf_perm(x.ndim))


def to_channels_last(x: ArrayOrTensor) -> ArrayOrTensor:
    """Convert a channels-first (PyTorch) batch into channels-last (Keras) layout.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor
        Batch in PyTorch layout: ``(N, F)``, ``(N, C, T)``, ``(N, C, H, W)``
        or ``(N, C, D, H, W)``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same type as ``x``; rank <= 2 is returned unchanged, otherwise the
        channel axis is moved to the last position (a contiguous copy).
    """
    if x.ndim < 3:
        return x
    return _permute(x, _cl_perm(x.ndim))


def _torch_axis(axis: int, rank: int) -> int:
    """Map a Keras (channels-last) axis of a rank-``rank`` tensor to torch."""
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    if axis == 0:
        raise UnsupportedLayerError("operations along the batch axis are not supported")
    if rank < 3:
        return axis
    if axis == rank - 1:
        return 1
    return axis + 1


_MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_ADAPTIVE_AVG = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
_ADAPTIVE_MAX = {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d}


# --------------------------------------------------------------------------- #
# Conversion helpers
# --------------------------------------------------------------------------- #
def _np(value: Any) -> np.ndarray:
    import keras

    return np.array(keras.ops.convert_to_numpy(value), dtype=np.float32)


def _tensor(value: Any) -> torch.Tensor:
    return torch.from_numpy(_np(value))


def _set_param(param: torch.Tensor, value: np.ndarray) -> None:
    value = np.ascontiguousarray(value, dtype=np.float32)
    if tuple(param.shape) != value.shape:
        raise ValueError(f"shape mismatch: torch {tuple(param.shape)} vs keras {value.shape}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(value))


def _layer_desc(layer: Any) -> str:
    return f"'{getattr(layer, 'name', '?')}' ({type(layer).__name__})"


def _check_channels_last(layer: Any) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)} uses data_format={fmt!r}; only 'channels_last' "
            "Keras models are supported"
        )


def _tuple(value: Any, n: int) -> Tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            return tuple(int(value[0]) for _ in range(n))
        return tuple(int(v) for v in value)
    return tuple(int(value) for _ in range(n))


def _spatial(in_shape: Shape, nd: int, layer: Any) -> Tuple[Optional[int], ...]:
    if len(in_shape) != nd + 2:
        raise ValueError(
            f"layer {_layer_desc(layer)} expects a rank-{nd + 2} input, got shape {in_shape}"
        )
    return tuple(in_shape[1:-1])


# Activation name -> factory of torch modules (empty list == identity).
_ACTIVATION_FACTORIES: Dict[str, Callable[[], List[nn.Module]]] = {
    "linear": lambda: [],
    "relu": lambda: [nn.ReLU()],
    "relu6": lambda: [nn.ReLU6()],
    "sigmoid": lambda: [nn.Sigmoid()],
    "tanh": lambda: [nn.Tanh()],
    "softmax": lambda: [nn.Softmax(dim=1)],
    "log_softmax": lambda: [nn.LogSoftmax(dim=1)],
    "elu": lambda: [nn.ELU(alpha=1.0)],
    "selu": lambda: [nn.SELU()],
    "leaky_relu": lambda: [nn.LeakyReLU(negative_slope=0.2)],
    "gelu": lambda: [nn.GELU(approximate="none")],
    "silu": lambda: [nn.SiLU()],
    "swish": lambda: [nn.SiLU()],
    "softplus": lambda: [nn.Softplus()],
    "softsign": lambda: [nn.Softsign()],
    "hard_sigmoid": lambda: [nn.Hardsigmoid()],
    "hard_silu": lambda: [nn.Hardswish()],
    "hard_swish": lambda: [nn.Hardswish()],
    "mish": lambda: [nn.Mish()],
    "log_sigmoid": lambda: [nn.LogSigmoid()],
    "tanh_shrink": lambda: [nn.Tanhshrink()],
}

#: Keras activation names that can be converted (fused or via ``Activation``).
SUPPORTED_ACTIVATIONS: Tuple[str, ...] = tuple(sorted(_ACTIVATION_FACTORIES))


def _activation_modules(fn: Any, layer: Any) -> List[nn.Module]:
    """Torch modules equivalent to the Keras activation function ``fn``."""
    import keras

    if fn is None:
        return []
    for name, factory in _ACTIVATION_FACTORIES.items():
        try:
            ref = keras.activations.get(name)
        except (ValueError, AttributeError):
            continue
        if fn is ref:
            return factory()
    name = getattr(fn, "__name__", None)
    if name in _ACTIVATION_FACTORIES and getattr(fn, "__module__", "").startswith("keras"):
        return _ACTIVATION_FACTORIES[name]()
    raise UnsupportedLayerError(
        f"layer {_layer_desc(layer)} uses activation {name or fn!r}, which cannot be "
        f"converted; supported activations: {', '.join(SUPPORTED_ACTIVATIONS)}"
    )


def _pad_module(nd: int, pairs: Sequence[Tuple[int, int]], value: float) -> nn.Module:
    return _CONST_PAD[nd](_torch_pad_tuple(pairs), value)


def _resolve_same(
    spatial: Sequence[Optional[int]],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Optional[List[Tuple[int, int]]]:
    """Static 'same' padding pairs, or ``None`` if they depend on unknown sizes."""
    pairs: List[Tuple[int, int]] = []
    for s, k, st, d in zip(spatial, kernel, stride, dilation):
        if s is None:
            if st != 1:
                return None
            total = (k - 1) * d
            pairs.append((total // 2, total - total // 2))
        else:
            pairs.append(_same_pads(int(s), k, st, d))
    return pairs


def _conv_padding(
    layer: Any,
    nd: int,
    spatial: Sequence[Optional[int]],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Tuple[List[nn.Module], Union[int, Tuple[int, ...]]]:
    """Return (pre-padding modules, torch conv padding argument)."""
    padding = str(layer.padding).lower()
    if padding == "valid":
        return [], 0
    if padding == "causal":
        pairs = [((k - 1) * d, 0) for k, d in zip(kernel, dilation)]
        return [_pad_module(nd, pairs, 0.0)], 0
    if padding != "same":
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: padding {padding!r} not supported")
    pairs_opt = _resolve_same(spatial, kernel, stride, dilation)
    if pairs_opt is None:
        return [SamePadding(kernel, stride, dilation, value=0.0)], 0
    if all(b == a for b, a in pairs_opt):
        return [], tuple(b for b, _ in pairs_opt)
    pad = _pad_module(nd, pairs_opt, 0.0)
    pad.lrp_kernel_padding = True  # the convolution's own padding, not a layer input for LRP
    return [pad], 0


# --------------------------------------------------------------------------- #
# Per-layer converters: (layer, list of keras input shapes) -> list of modules
# --------------------------------------------------------------------------- #
Converter = Callable[[Any, List[Shape]], List[nn.Module]]


def _single(layer: Any, shapes: List[Shape]) -> Shape:
    if len(shapes) != 1:
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)} must have exactly one input")
    return tuple(shapes[0])


def _convert_dense(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    in_shape = _single(layer, shapes)
    kernel = _np(layer.kernel)
    linear = nn.Linear(kernel.shape[0], kernel.shape[1], bias=bool(layer.use_bias))
    _set_param(linear.weight, kernel.T)
    if layer.use_bias:
        _set_param(linear.bias, _np(layer.bias))
    mod: nn.Module = linear if len(in_shape) <= 2 else ChannelsFirstLinear(linear)
    return [mod] + _activation_modules(layer.activation, layer)


def _make_conv(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        spatial = _spatial(_single(layer, shapes), nd, layer)
        kernel_size = _tuple(layer.kernel_size, nd)
        stride = _tuple(layer.strides, nd)
        dilation = _tuple(layer.dilation_rate, nd)
        groups = int(getattr(layer, "groups", 1) or 1)
        kernel = _np(layer.kernel)  # (*k, in / groups, out)
        in_ch = kernel.shape[-2] * groups
        out_ch = kernel.shape[-1]
        pre, padding = _conv_padding(layer, nd, spatial, kernel_size, stride, dilation)
        conv = _CONV[nd](
            in_ch, out_ch, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bool(layer.use_bias),
        )
        _set_param(conv.weight, np.transpose(kernel, (nd + 1, nd) + tuple(range(nd))))
        if layer.use_bias:
            _set_param(conv.bias, _np(layer.bias))
        return pre + [conv] + _activation_modules(layer.activation, layer)

    return convert


def _depthwise_weight(kernel: np.ndarray, nd: int) -> np.ndarray:
    # (*k, in, mult) -> (in, mult, *k) -> (in * mult, 1, *k); output channel c * mult + m
    w = np.transpose(kernel, (nd, nd + 1) + tuple(range(nd)))
    return w.reshape((w.shape[0] * w.shape[1], 1) + w.shape[2:])


def _make_depthwise(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        spatial = _spatial(_single(layer, shapes), nd, layer)
        kernel_size = _tuple(layer.kernel_size, nd)
        stride = _tuple(layer.strides, nd)
        dilation = _tuple(layer.dilation_rate, nd)
        kernel = _np(layer.kernel)
        in_ch, mult = kernel.shape[-2], kernel.shape[-1]
        pre, padding = _conv_padding(layer, nd, spatial, kernel_size, stride, dilation)
        conv = _CONV[nd](
            in_ch, in_ch * mult, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=in_ch, bias=bool(layer.use_bias),
        )
        _set_param(conv.weight, _depthwise_weight(kernel, nd))
        if layer.use_bias:
            _set_param(conv.bias, _np(layer.bias))
        return pre + [conv] + _activation_modules(layer.activation, layer)

    return convert


def _make_separable(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        spatial = _spatial(_single(layer, shapes), nd, layer)
        kernel_size = _tuple(layer.kernel_size, nd)
        stride = _tuple(layer.strides, nd)
        dilation = _tuple(layer.dilation_rate, nd)
        dw = _np(layer.depthwise_kernel)
        pw = _np(layer.pointwise_kernel)  # (1, ..., in * mult, filters)
        in_ch, mult = dw.shape[-2], dw.shape[-1]
        pre, padding = _conv_padding(layer, nd, spatial, kernel_size, stride, dilation)
        depthwise = _CONV[nd](
            in_ch, in_ch * mult, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=in_ch, bias=False,
        )
        _set_param(depthwise.weight, _depthwise_weight(dw, nd))
        pointwise = _CONV[nd](in_ch * mult, pw.shape[-1], 1, bias=bool(layer.use_bias))
        _set_param(pointwise.weight, np.transpose(pw, (nd + 1, nd) + tuple(range(nd))))
        if layer.use_bias:
            _set_param(pointwise.bias, _np(layer.bias))
        return pre + [depthwise, pointwise] + _activation_modules(layer.activation, layer)

    return convert


def _make_pool(nd: int, kind: str) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        spatial = _spatial(_single(layer, shapes), nd, layer)
        kernel = _tuple(layer.pool_size, nd)
        stride = _tuple(layer.strides if layer.strides is not None else kernel, nd)
        padding = str(layer.padding).lower()
        if padding == "valid":
            pool_cls = _MAX_POOL[nd] if kind == "max" else _AVG_POOL[nd]
            return [pool_cls(kernel, stride)]
        if padding != "same":
            raise UnsupportedLayerError(
                f"layer {_layer_desc(layer)}: padding {padding!r} not supported"
            )
        pairs = _resolve_same(spatial, kernel, stride, (1,) * nd)
        symmetric = pairs is not None and all(b == a for b, a in pairs)
        if kind == "max":
            if symmetric:
                assert pairs is not None
                return [_MAX_POOL[nd](kernel, stride, padding=tuple(b for b, _ in pairs))]
            pad: nn.Module = (
                SamePadding(kernel, stride, value=-math.inf)
                if pairs is None
                else _pad_module(nd, pairs, -math.inf)
            )
            return [pad, _MAX_POOL[nd](kernel, stride)]
        if symmetric:
            assert pairs is not None
            return [
                _AVG_POOL[nd](
                    kernel, stride, padding=tuple(b for b, _ in pairs), count_include_pad=False
                )
            ]
        return [SameAvgPool(nd, kernel, stride, pairs)]

    return convert


def _make_global_pool(nd: int, kind: str) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        _spatial(_single(layer, shapes), nd, layer)
        pool = (_ADAPTIVE_MAX if kind == "max" else _ADAPTIVE_AVG)[nd](1)
        if getattr(layer, "keepdims", False):
            return [pool]
        return [pool, nn.Flatten(1)]

    return convert


def _convert_batchnorm(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    in_shape = _single(layer, shapes)
    rank = len(in_shape)
    axis = layer.axis
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: multi-axis normalisation")
        axis = axis[0]
    if int(axis) % rank != rank - 1:
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: only normalisation over the channel (last) axis "
            f"is supported, got axis={layer.axis}"
        )
    if getattr(layer, "renorm", False):
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: renorm is not supported")
    nd = max(rank - 2, 1)
    if nd not in _BN:
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: rank-{rank} input")
    mean = _np(layer.moving_mean)
    var = _np(layer.moving_variance)
    channels = mean.shape[0]
    bn = _BN[nd](channels, eps=float(layer.epsilon), momentum=1.0 - float(layer.momentum))
    gamma = _np(layer.gamma) if getattr(layer, "gamma", None) is not None else np.ones(channels)
    beta = _np(layer.beta) if getattr(layer, "beta", None) is not None else np.zeros(channels)
    _set_param(bn.weight, gamma)
    _set_param(bn.bias, beta)
    _set_param(bn.running_mean, mean)
    _set_param(bn.running_var, var)
    return [bn]


def _convert_activation(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    mods = _activation_modules(layer.activation, layer)
    return mods or [nn.Identity()]


def _convert_relu(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    max_value = layer.max_value
    slope = float(layer.negative_slope or 0.0)
    threshold = float(layer.threshold or 0.0)
    if threshold != 0.0:
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: threshold != 0 not supported")
    if max_value is None:
        return [nn.LeakyReLU(slope)] if slope else [nn.ReLU()]
    if slope:
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: max_value together with negative_slope not supported"
        )
    max_value = float(max_value)
    if max_value == 6.0:
        return [nn.ReLU6()]
    return [nn.Hardtanh(0.0, max_value)]


def _convert_leaky_relu(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [nn.LeakyReLU(float(layer.negative_slope))]


def _convert_elu(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [nn.ELU(alpha=float(layer.alpha))]


def _convert_softmax(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    rank = len(_single(layer, shapes))
    axis = layer.axis
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: multi-axis softmax")
        axis = axis[0]
    return [nn.Softmax(dim=_torch_axis(int(axis), rank))]


def _convert_dropout(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [nn.Dropout(float(layer.rate))]


def _make_spatial_dropout(cls: type) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _single(layer, shapes)
        return [cls(float(layer.rate))]

    return convert


def _convert_identity(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    return [nn.Identity()]


def _convert_flatten(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _check_channels_last(layer)
    _single(layer, shapes)
    return [ChannelsLastFlatten()]


def _convert_reshape(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [ChannelsLastReshape(layer.target_shape)]


def _convert_permute(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [ChannelsLastPermute(layer.dims)]


def _pairs(value: Any, nd: int) -> List[Tuple[int, int]]:
    if nd == 1:
        if isinstance(value, (list, tuple)):
            return [(int(value[0]), int(value[1]))]
        return [(int(value), int(value))]
    out: List[Tuple[int, int]] = []
    for v in value:
        if isinstance(v, (list, tuple)):
            out.append((int(v[0]), int(v[1])))
        else:
            out.append((int(v), int(v)))
    return out


def _make_zero_padding(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        _spatial(_single(layer, shapes), nd, layer)
        return [_pad_module(nd, _pairs(layer.padding, nd), 0.0)]

    return convert


def _make_cropping(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        _spatial(_single(layer, shapes), nd, layer)
        pairs = [(-b, -a) for b, a in _pairs(layer.cropping, nd)]
        return [_pad_module(nd, pairs, 0.0)]

    return convert


def _make_upsampling(nd: int) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        _check_channels_last(layer)
        _spatial(_single(layer, shapes), nd, layer)
        interpolation = getattr(layer, "interpolation", "nearest")
        if interpolation != "nearest":
            raise UnsupportedLayerError(
                f"layer {_layer_desc(layer)}: interpolation {interpolation!r} not supported "
                "(only 'nearest')"
            )
        size = _tuple(layer.size, nd)
        return [nn.Upsample(scale_factor=tuple(float(s) for s in size), mode="nearest")]

    return convert


def _convert_rescaling(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    rank = len(_single(layer, shapes))

    def as_tensor(v: Any) -> torch.Tensor:
        arr = _np(v)
        if arr.size == 1:
            return torch.tensor(float(arr.reshape(())), dtype=torch.float32)
        if arr.ndim == 1 and rank >= 2:
            return torch.from_numpy(arr.reshape((1, -1) + (1,) * (rank - 2)).copy())
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: only scalar or per-channel scale/offset supported"
        )

    return [Rescaling(as_tensor(layer.scale), as_tensor(layer.offset))]


def _make_merge(cls: type) -> Converter:
    def convert(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise UnsupportedLayerError(
                f"layer {_layer_desc(layer)}: inputs of different ranks are not supported"
            )
        return [cls()]

    return convert


def _convert_concatenate(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: inputs of different ranks are not supported"
        )
    return [Concatenate(_torch_axis(int(layer.axis), ranks.pop()))]


def _cf_constant(value: Any, rank: int, what: str) -> torch.Tensor:
    """A Keras (channels-last) constant broadcast against a rank-``rank`` tensor, channels-first.

    Scalars become 0-d tensors; arrays get leading unit axes up to ``rank`` and, for rank >= 3,
    their last axis moved to position 1 (as the data it broadcasts against).
    """
    arr = np.asarray(value, dtype=np.float32)
    if arr.size == 1:
        return torch.tensor(float(arr.reshape(())), dtype=torch.float32)
    if arr.ndim > rank:
        raise UnsupportedLayerError(f"{what}: a constant of shape {arr.shape} broadcast to rank {rank}")
    arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
    if rank >= 3:
        arr = np.transpose(arr, _cf_perm(rank))
    return torch.from_numpy(np.ascontiguousarray(arr))


def _convert_normalization(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    import keras

    rank = len(_single(layer, shapes))
    if getattr(layer, "mean", None) is None or getattr(layer, "variance", None) is None:
        raise ValueError(f"layer {_layer_desc(layer)} is not built/adapted (no mean and variance)")
    mean = _np(layer.mean)
    variance = _np(layer.variance)
    axis = layer.axis
    axes = () if axis is None else tuple(int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis]))
    if axes not in ((), (rank - 1,)) and not (mean.size == 1 and variance.size == 1):
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: only normalisation per channel (last axis) or with scalar "
            f"statistics is supported, got axis={axis}"
        )
    denominator = np.maximum(np.sqrt(variance), np.float32(keras.config.epsilon())).astype(np.float32)
    what = f"layer {_layer_desc(layer)}"
    return [Normalization(_cf_constant(mean, rank, what), _cf_constant(denominator, rank, what),
                          invert=bool(getattr(layer, "invert", False)))]


def _convert_layer_normalization(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    rank = len(_single(layer, shapes))
    axis = layer.axis
    axes = [int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if axes != [rank - 1]:
        raise UnsupportedLayerError(
            f"layer {_layer_desc(layer)}: only normalisation over the channel (last) axis is "
            f"supported, got axis={axis}"
        )
    if getattr(layer, "rms_scaling", False):
        raise UnsupportedLayerError(f"layer {_layer_desc(layer)}: rms_scaling is not supported")
    scale, center = bool(layer.scale), bool(layer.center)
    channels = int(shapes[0][-1])
    if rank == 2 and scale:
        norm: nn.Module = nn.LayerNorm(channels, eps=float(layer.epsilon), bias=center)
    else:
        norm = ChannelsFirstLayerNorm(channels, eps=float(layer.epsilon), scale=scale, center=center)
    if scale:
        _set_param(norm.weight, _np(layer.gamma))
    if center:
        _set_param(norm.bias, _np(layer.beta))
    return [norm]


def _convert_layer_scale(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    _single(layer, shapes)
    return [LayerScale(_tensor(layer.gamma))]


_LAYER_CONVERTERS: Dict[str, Converter] = {
    "Dense": _convert_dense,
    "Conv1D": _make_conv(1),
    "Conv2D": _make_conv(2),
    "Conv3D": _make_conv(3),
    "DepthwiseConv1D": _make_depthwise(1),
    "DepthwiseConv2D": _make_depthwise(2),
    "SeparableConv1D": _make_separable(1),
    "SeparableConv2D": _make_separable(2),
    "MaxPooling1D": _make_pool(1, "max"),
    "MaxPooling2D": _make_pool(2, "max"),
    "MaxPooling3D": _make_pool(3, "max"),
    "AveragePooling1D": _make_pool(1, "avg"),
    "AveragePooling2D": _make_pool(2, "avg"),
    "AveragePooling3D": _make_pool(3, "avg"),
    "GlobalAveragePooling1D": _make_global_pool(1, "avg"),
    "GlobalAveragePooling2D": _make_global_pool(2, "avg"),
    "GlobalAveragePooling3D": _make_global_pool(3, "avg"),
    "GlobalMaxPooling1D": _make_global_pool(1, "max"),
    "GlobalMaxPooling2D": _make_global_pool(2, "max"),
    "GlobalMaxPooling3D": _make_global_pool(3, "max"),
    "BatchNormalization": _convert_batchnorm,
    "Activation": _convert_activation,
    "ReLU": _convert_relu,
    "LeakyReLU": _convert_leaky_relu,
    "ELU": _convert_elu,
    "Softmax": _convert_softmax,
    "Dropout": _convert_dropout,
    "SpatialDropout1D": _make_spatial_dropout(nn.Dropout1d),
    "SpatialDropout2D": _make_spatial_dropout(nn.Dropout2d),
    "SpatialDropout3D": _make_spatial_dropout(nn.Dropout3d),
    "GaussianNoise": _convert_identity,
    "GaussianDropout": _convert_identity,
    "AlphaDropout": _convert_identity,
    "ActivityRegularization": _convert_identity,
    "Identity": _convert_identity,
    "Flatten": _convert_flatten,
    "Reshape": _convert_reshape,
    "Permute": _convert_permute,
    "ZeroPadding1D": _make_zero_padding(1),
    "ZeroPadding2D": _make_zero_padding(2),
    "ZeroPadding3D": _make_zero_padding(3),
    "Cropping1D": _make_cropping(1),
    "Cropping2D": _make_cropping(2),
    "Cropping3D": _make_cropping(3),
    "UpSampling1D": _make_upsampling(1),
    "UpSampling2D": _make_upsampling(2),
    "UpSampling3D": _make_upsampling(3),
    "Rescaling": _convert_rescaling,
    "Normalization": _convert_normalization,
    "LayerNormalization": _convert_layer_normalization,
    "Add": _make_merge(Add),
    "Subtract": _make_merge(Subtract),
    "Multiply": _make_merge(Multiply),  # gate inputs: set by _convert_functional
    "Average": _make_merge(Average),
    "Maximum": _make_merge(Maximum),
    "Minimum": _make_merge(Minimum),
    "Concatenate": _convert_concatenate,
}

# keras.applications' own layer classes (module, class name) -> converter
#: keras.applications' own layers, by their kind (``signxai_tf.lrp._graph.application_layer_kind``):
#: the class name and the converter.
_APPLICATION_CONVERTERS: Dict[str, Tuple[str, Converter]] = {
    "scale": ("LayerScale", _convert_layer_scale),  # convnext
    "identity": ("StochasticDepth", _convert_identity),  # convnext; identity at inference
}

#: Keras layer classes that :func:`keras_to_torch` can convert.
SUPPORTED_LAYERS: Tuple[str, ...] = tuple(
    sorted(
        set(_LAYER_CONVERTERS)
        | {name for name, _ in _APPLICATION_CONVERTERS.values()}
        | {"InputLayer", "Sequential", "Functional"}
    )
)


def _unsupported(layer: Any, reason: str = "") -> UnsupportedLayerError:
    msg = f"cannot convert Keras layer {_layer_desc(layer)}"
    if reason:
        msg += f": {reason}"
    msg += f". Supported layer classes: {', '.join(SUPPORTED_LAYERS)}"
    return UnsupportedLayerError(
        msg, layer=getattr(layer, "name", None), layer_type=type(layer).__name__,
        options=("rebuild the model from supported layers",),
    )


def _graph() -> Any:
    """:mod:`signxai_tf.lrp._graph` (imported on first use: it imports TensorFlow)."""
    from signxai_tf.lrp import _graph as graph

    return graph


def _converter_for(layer: Any) -> Optional[Converter]:
    import keras

    for name, converter in _LAYER_CONVERTERS.items():
        cls = getattr(keras.layers, name, None)
        # Exact type match: subclasses may override ``call`` and change semantics.
        if cls is not None and type(layer) is cls:
            return converter
    kind = _graph().application_layer_kind(layer)
    entry = _APPLICATION_CONVERTERS.get(kind) if kind is not None else None
    return entry[1] if entry is not None else None


def _is_input_layer(layer: Any) -> bool:
    import keras

    return type(layer) is keras.layers.InputLayer


def _convert_layer(layer: Any, shapes: List[Shape]) -> List[nn.Module]:
    """Convert one Keras layer (or nested model) to a list of torch modules."""
    import keras

    if isinstance(layer, keras.Model):
        return [_convert_model(layer)]
    if _is_input_layer(layer):
        return []
    if not isinstance(layer, keras.layers.Layer):
        raise _unsupported(layer, "it is a raw Keras operation, not a layer")
    converter = _converter_for(layer)
    if converter is None:
        raise _unsupported(layer)
    return converter(layer, [tuple(s) for s in shapes])


def _as_module(mods: List[nn.Module]) -> nn.Module:
    if not mods:
        return nn.Identity()
    if len(mods) == 1:
        return mods[0]
    return nn.Sequential(*mods)


def _single_io(model: Any) -> None:
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedLayerError(
            f"model '{model.name}' has {len(inputs)} inputs and {len(outputs)} outputs; "
            "only single-input single-output models are supported"
        )


def _convert_sequential(model: Any) -> nn.Sequential:
    import keras

    try:
        inputs = model.inputs
    except (AttributeError, ValueError) as err:
        raise ValueError(
            f"Sequential model '{model.name}' is not built (no defined input shape); "
            "build it with keras.Input or model.build(input_shape) before converting"
        ) from err
    if not inputs:
        raise ValueError(f"Sequential model '{model.name}' has no defined input shape")
    _single_io(model)
    shape: Shape = tuple(inputs[0].shape)
    modules: List[nn.Module] = []
    for layer in model.layers:
        for mod in _convert_layer(layer, [shape]):
            if isinstance(mod, nn.Sequential) and isinstance(layer, keras.Sequential):
                modules.extend(mod.children())  # flatten nested Sequential models
            else:
                modules.append(mod)
        if not _is_input_layer(layer):
            shape = tuple(layer.compute_output_shape(shape))
    return nn.Sequential(*modules)


_RESERVED = set(dir(nn.ModuleDict()))


def _sanitise(name: str, used: set) -> str:
    key = re.sub(r"[^0-9A-Za-z_]", "_", str(name)) or "layer"
    if key[0].isdigit():
        key = "l_" + key
    base, i = key, 1
    while key in used or key in _RESERVED:
        key = f"{base}_{i}"
        i += 1
    used.add(key)
    return key


# --------------------------------------------------------------------------- #
# keras.ops operation nodes of functional graphs (tensor arithmetic on KerasTensors)
# --------------------------------------------------------------------------- #
_ARITHMETIC_OPS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Divide": "divide",
                   "TrueDivide": "divide"}
_TENSOR_OPS = {"Add": Add, "Subtract": Subtract, "Multiply": Multiply, "Maximum": Maximum, "Minimum": Minimum}
_ACTIVATION_OPS: Dict[str, Callable[[Any], nn.Module]] = {
    "Relu": lambda op: nn.ReLU(),
    "Relu6": lambda op: nn.ReLU6(),
    "Sigmoid": lambda op: nn.Sigmoid(),
    "HardSigmoid": lambda op: nn.Hardsigmoid(),
    "Silu": lambda op: nn.SiLU(),
    "HardSilu": lambda op: nn.Hardswish(),
    "Gelu": lambda op: nn.GELU(approximate="tanh" if getattr(op, "approximate", True) else "none"),
    "Tanh": lambda op: nn.Tanh(),
    "Elu": lambda op: nn.ELU(alpha=float(getattr(op, "alpha", 1.0))),
    "LeakyRelu": lambda op: nn.LeakyReLU(float(getattr(op, "negative_slope", 0.2))),
    "Softplus": lambda op: nn.Softplus(),
}

#: ``keras.ops`` operation classes that may appear as nodes of a converted functional graph.
SUPPORTED_OPERATIONS: Tuple[str, ...] = tuple(
    sorted(set(_ARITHMETIC_OPS) | set(_TENSOR_OPS) | set(_ACTIVATION_OPS) | {"Negative", "Mean", "Sum", "Softmax"})
)


def _is_keras_tensor(value: Any) -> bool:
    import keras

    return isinstance(value, keras.KerasTensor)


def _op_desc(op: Any) -> str:
    return f"operation '{getattr(op, 'name', '?')}' ({type(op).__name__}, a keras.ops node)"


def _reduce_axes(axis: Any, rank: int, op: Any) -> Tuple[int, ...]:
    if axis is None:
        axes = tuple(range(1, rank))
    else:
        axes = tuple(sorted(int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])))
    if 0 in axes:
        raise UnsupportedLayerError(f"{_op_desc(op)}: reductions over the batch axis are not supported")
    return axes


def _convert_operation(call: Any) -> nn.Module:
    """Convert a call of a ``keras.ops`` operation (not a layer) of a functional graph to a module.

    ``call`` is a :class:`signxai_tf.lrp._graph.Call`; the module takes the call's tensor inputs in
    the order of ``call.inputs``.
    """
    op = call.layer
    name = type(op).__name__
    if not type(op).__module__.startswith("keras."):
        raise UnsupportedLayerError(f"cannot convert {_op_desc(op)}: not a keras.ops operation")
    args = list(call.args)
    kwargs = dict(call.kwargs)
    tensors = list(call.inputs)
    shapes = [tuple(t.shape) for t in tensors]
    if kwargs:
        raise UnsupportedLayerError(f"cannot convert {_op_desc(op)} called with keyword arguments {sorted(kwargs)}")
    if name in _ACTIVATION_OPS and len(args) == 1 and len(tensors) == 1:
        return _ACTIVATION_OPS[name](op)
    if name == "Softmax" and len(tensors) == 1:
        axis = getattr(op, "axis", -1)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise UnsupportedLayerError(f"{_op_desc(op)}: multi-axis softmax")
            axis = axis[0]
        return nn.Softmax(dim=_torch_axis(int(axis), len(shapes[0])))
    if name == "Negative" and len(tensors) == 1:
        return ConstantOp("multiply", torch.tensor(-1.0))
    if name in ("Mean", "Sum") and len(args) == 1 and len(tensors) == 1:
        rank = len(shapes[0])
        return Mean(_reduce_axes(getattr(op, "axis", None), rank, op), bool(getattr(op, "keepdims", False)),
                    kind=name.lower())
    if name in _ARITHMETIC_OPS and len(args) == 2:
        if len(tensors) == 2:
            if len({len(sh) for sh in shapes}) != 1:
                raise UnsupportedLayerError(f"{_op_desc(op)}: operands of different ranks are not supported")
            if name not in _TENSOR_OPS:
                raise UnsupportedLayerError(
                    f"cannot convert {_op_desc(op)}: the division of two tensors is not supported"
                )
            return _TENSOR_OPS[name]()
        if len(tensors) == 1:
            constant_first = not _is_keras_tensor(args[0])
            constant = args[0] if constant_first else args[1]
            if constant_first and _ARITHMETIC_OPS[name] == "divide":
                raise UnsupportedLayerError(
                    f"cannot convert {_op_desc(op)}: a constant divided by a tensor is not supported"
                )
            value = _cf_constant(_np(constant), len(shapes[0]), _op_desc(op))
            return ConstantOp(_ARITHMETIC_OPS[name], value, constant_first=constant_first)
    if name in ("Maximum", "Minimum") and len(args) == 2 and len(tensors) == 2:
        if len({len(sh) for sh in shapes}) != 1:
            raise UnsupportedLayerError(f"{_op_desc(op)}: operands of different ranks are not supported")
        return _TENSOR_OPS[name]()
    raise UnsupportedLayerError(
        f"cannot convert {_op_desc(op)} with arguments "
        f"{[('tensor' if _is_keras_tensor(a) else type(a).__name__) for a in args]}. "
        f"Supported operations: {', '.join(SUPPORTED_OPERATIONS)}"
    )


# --------------------------------------------------------------------------- #
# Gates of products (LRP: the gate factor is a constant, see blocks.Multiply)
# --------------------------------------------------------------------------- #
_KERNEL_LAYERS = ("Dense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
                  "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose",
                  "Conv3DTranspose")
_RESHAPE_LAYERS = ("Reshape", "Flatten", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D",
                   "UpSampling3D")
_RESHAPE_OPS = ("Reshape", "ExpandDims", "Squeeze", "BroadcastTo", "Transpose")


def _activation_is(fn: Any, names: Sequence[str]) -> bool:
    import keras

    if fn is None:
        return False
    for name in names:
        try:
            if fn is keras.activations.get(name):
                return True
        except (ValueError, AttributeError):
            continue
    return getattr(fn, "__name__", None) in names and getattr(fn, "__module__", "").startswith("keras")


def _is_relu6(op: Any) -> bool:
    import keras

    name = type(op).__name__
    if type(op) is keras.layers.ReLU:
        return (op.max_value is not None and float(op.max_value) == 6.0 and not op.negative_slope
                and not op.threshold)
    if type(op) is keras.layers.Activation:
        return _activation_is(op.activation, ("relu6",))
    if name == "Relu6" and type(op).__module__.startswith("keras."):
        return True
    if name == "Clip" and type(op).__module__.startswith("keras."):
        return float(getattr(op, "x_min", np.nan)) == 0.0 and float(getattr(op, "x_max", np.nan)) == 6.0
    return False


def _is_gate(tensor: Any, producers: Dict[int, Any], depth: int = 0) -> bool:
    """Whether ``tensor`` is produced by a sigmoid-like activation (looking through reshapes).

    ``producers`` maps ``id`` of a symbolic tensor to the graph call that produces it.
    """
    import keras

    call = producers.get(id(tensor))
    if call is None or depth > 32:
        return False
    op = call.layer
    name = type(op).__name__
    is_layer = isinstance(op, keras.layers.Layer)
    inputs = list(call.inputs)
    if is_layer and (type(op) is keras.layers.Activation or name in _KERNEL_LAYERS):
        return _activation_is(getattr(op, "activation", None), ("sigmoid", "hard_sigmoid"))
    if is_layer and name in _RESHAPE_LAYERS and len(inputs) == 1:
        return _is_gate(inputs[0], producers, depth + 1)
    if is_layer:
        return False
    if not type(op).__module__.startswith("keras."):
        return False
    if name in ("Sigmoid", "HardSigmoid"):
        return True
    if name in _RESHAPE_OPS and len(inputs) == 1:
        return _is_gate(inputs[0], producers, depth + 1)
    args = list(call.args)
    if name in _ARITHMETIC_OPS and len(args) == 2 and len(inputs) == 1 and _is_keras_tensor(args[0]):
        constant = np.asarray(_np(args[1]))
        if constant.size != 1:
            return False
        c = float(constant.reshape(()))
        sixth = (_ARITHMETIC_OPS[name] == "multiply" and abs(c - 1.0 / 6.0) <= 1e-7) or (
            _ARITHMETIC_OPS[name] == "divide" and c == 6.0)
        return sixth and _produced_by_relu6(inputs[0], producers, depth + 1)
    return False


def _produced_by_relu6(tensor: Any, producers: Dict[int, Any], depth: int) -> bool:
    import keras

    call = producers.get(id(tensor))
    if call is None or depth > 32:
        return False
    op = call.layer
    if _is_relu6(op):
        return True
    inputs = list(call.inputs)
    name = type(op).__name__
    through = (name in _RESHAPE_LAYERS) if isinstance(op, keras.layers.Layer) else (name in _RESHAPE_OPS)
    return through and len(inputs) == 1 and _produced_by_relu6(inputs[0], producers, depth + 1)


def _gate_inputs(tensors: Sequence[Any], producers: Dict[int, Any]) -> Tuple[int, ...]:
    """Indices of the gate factors of a product (all but the first if every factor is a gate)."""
    gates = [i for i, t in enumerate(tensors) if _is_gate(t, producers)]
    if len(gates) == len(tensors):
        gates = gates[1:]
    return tuple(gates)


def _convert_functional(model: Any) -> KerasGraphModule:
    import keras

    _single_io(model)
    # the calls in Keras' execution order; within a depth in the order of ``model.operations``, so
    # that the order of the steps agrees with ``model.layers`` (e.g. "the last convolution")
    graph_calls = _graph().functional_calls(model)
    input_name = "input"
    tensor_names: Dict[int, str] = {id(model.inputs[0]): input_name}
    modules: "OrderedDict[str, nn.Module]" = OrderedDict()
    cache: Dict[Tuple[int, ...], str] = {}
    used: set = {input_name}
    steps: List[Tuple[str, Tuple[str, ...], str]] = []
    producers: Dict[int, Any] = {id(t): call for call in graph_calls for t in call.outputs}
    for call in graph_calls:
        op = call.layer
        outputs = list(call.outputs)
        inputs = list(call.inputs)
        missing = [t for t in inputs if id(t) not in tensor_names]
        if missing:
            raise UnsupportedLayerError(
                f"model '{model.name}': layer {_layer_desc(op)} consumes tensors that "
                "are not produced inside the graph"
            )
        if len(outputs) != 1:
            raise UnsupportedLayerError(
                f"model '{model.name}': layer {_layer_desc(op)} has {len(outputs)} outputs; "
                "only single-output layers are supported"
            )
        shapes = tuple(tuple(t.shape) for t in inputs)
        is_layer = isinstance(op, keras.layers.Layer)
        multiply = type(op) is keras.layers.Multiply or (not is_layer and type(op).__name__ == "Multiply")
        gates = _gate_inputs(inputs, producers) if multiply and len(inputs) > 1 else None
        # shared layers reuse their module; operation calls (with their constants) never do
        cache_key = (id(op), shapes, gates) if is_layer else (id(call),)
        if cache_key not in cache:
            mod = _as_module(_convert_layer(op, list(shapes)) if is_layer else [_convert_operation(call)])
            if isinstance(mod, Multiply) and gates is not None:
                mod.gate_inputs = gates
            key = _sanitise(op.name, used)
            modules[key] = mod
            cache[cache_key] = key
        key = cache[cache_key]
        out_name = f"{key}_out{len(steps)}"
        tensor_names[id(outputs[0])] = out_name
        steps.append((key, tuple(tensor_names[id(t)] for t in inputs), out_name))
    output_name = tensor_names.get(id(model.outputs[0]))
    if output_name is None:
        raise UnsupportedLayerError(f"model '{model.name}': output tensor not found in graph")
    # The module that produces the model output must be the last registered child.
    for key, _, out in steps:
        if out == output_name and next(reversed(modules)) != key:
            modules.move_to_end(key)
    return KerasGraphModule(modules, steps, input_name, output_name)


def _convert_model(model: Any) -> nn.Module:
    import keras

    if isinstance(model, keras.Sequential):
        return _convert_sequential(model)
    if _graph().is_functional(model):
        return _convert_functional(model)
    raise _unsupported(
        model, "subclassed models with a custom call() cannot be converted; use a "
        "Sequential or functional model"
    )


def keras_to_torch(keras_model: Any) -> nn.Module:
    """Convert a Keras 3 Sequential or functional model into a PyTorch module.

    Parameters
    ----------
    keras_model : keras.Model
        A built, single-input single-output ``keras.Sequential`` or functional
        ``keras.Model`` with channels-last layers.  It is not modified.

    Returns
    -------
    torch.nn.Module
        ``nn.Sequential`` for Sequential models (flat, activations as separate
        modules), :class:`KerasGraphModule` for functional models.  The module
        is float32, in eval mode, and expects channels-first input (see
        :func:`to_channels_first`); it returns the same values as the Keras
        model in inference mode (outputs of rank >= 3 are channels-first).

    Raises
    ------
    UnsupportedLayerError
        If a layer (or activation) has no PyTorch equivalent here.
    NotImplementedError
        For multi-input/multi-output models or unsupported layer configurations
        (e.g. ``data_format='channels_first'``).
    ValueError
        If the model has not been built.
    TypeError
        If ``keras_model`` is not a Keras model.
    """
    import keras

    if not isinstance(keras_model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(keras_model).__name__}")
    torch_model = _convert_model(keras_model)
    torch_model.float()
    torch_model.eval()
    return torch_model
