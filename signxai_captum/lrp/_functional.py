"""Functional operations in ``forward``: an FX view of the model in which every operation has a rule.

LRP's rules are attached to modules (see :mod:`signxai_captum.lrp._engine`). Operations written in a
model's ``forward`` (``F.relu(x)``, ``x + y``, ``x.mean((2, 3))``, ``x * gate``, ``torch.cat``...)
are not modules, so this module builds, once per model, a *view* of it with ``torch.fx``:

1. :class:`_Tracer` traces the model symbolically. Modules that already have an LRP treatment
   (kernel layers, batch norms, activations, the converter's blocks, modules with an ``lrp_rule``
   attribute, anything named in ``layer_rules``) and the other ``torch.nn`` modules stay leaves;
   any other module (torchvision's ``SqueezeExcitation``, ``CNBlock``, ...) is traced through.
2. Every ``call_function``/``call_method`` node fed (directly or not) by a model input becomes a
   call of a small :class:`FunctionalOp` module that runs the same operation and carries its
   ``lrp_rule``: ``"pass"`` (activations, dropout, layer/group norm, stochastic depth),
   ``"affine"`` (element-wise add/sub/mul/div with a constant or a parameter: pass, and the
   input-layer search looks through it), ``"sum"`` (sum/difference of two signals), ``"gate"``
   (product of two signals: the gate factor gets no relevance), ``"z"`` (mean, adaptive/average
   pooling, sums over axes, bilinear interpolation: the Z rule with the operation as the linear
   map) or ``"unsupported"`` (raises :class:`~signxai_captum.lrp.composites.UnsupportedLayerError` naming
   the operation, the module it is written in and its source line, when it is on the relevance
   path). Pure re-arrangements (reshapes, ``torch.cat``, ``flatten``, ``transpose``, indexing,
   ``chunk``, padding, max pooling, nearest interpolation) are left as they are: the gradient
   routes them.
3. ``call_module`` nodes keep pointing at the user's own module objects, so hooks, canonizers and
   the module rules apply to them; the view shares every module, parameter and buffer (nothing is
   copied) and the user's model is never modified.

The view is cached per model in a :class:`weakref.WeakKeyDictionary`, keyed by a fingerprint of
the model (its modules, their ``forward`` overrides and training flags, its parameters and
buffers) and of the composite's per-layer overrides; a change to any of these re-traces. A model
that cannot be traced gets ``None`` (cached as well): the engine then uses the module hooks alone,
with their errors for functional operations.
"""

from __future__ import annotations

import builtins
import logging
import operator
import weakref
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

__all__ = ["FunctionalOp", "traced_view", "clear_cache"]

logger = logging.getLogger(__name__)


def _existing(module: Any, *names: str) -> set[Any]:
    return {getattr(module, n) for n in names if hasattr(module, n)}


# ---------------------------------------------------------------------------------------------
# the operation tables
# ---------------------------------------------------------------------------------------------
_PASS_FUNCTIONS: set[Any] = _existing(
    F, "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "silu", "gelu", "hardswish", "hardsigmoid", "sigmoid",
    "tanh", "elu", "elu_", "selu", "celu", "leaky_relu", "leaky_relu_", "softplus", "mish", "softsign", "logsigmoid",
    "prelu", "rrelu", "threshold", "glu_", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "layer_norm", "group_norm",
) | _existing(torch, "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "clip", "clamp_min",
              "clamp_max", "dropout", "layer_norm", "group_norm")
_PASS_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "clip", "clip_", "clamp_min",
    "clamp_max", "clamp_min_",
}
_GATE_FUNCTIONS: set[Any] = _existing(F, "sigmoid", "hardsigmoid") | _existing(torch, "sigmoid", "sigmoid_")
_GATE_METHODS = {"sigmoid", "sigmoid_"}

_ADD = {operator.add, operator.iadd, torch.add}
_SUB = {operator.sub, operator.isub, torch.sub, torch.subtract}
_MUL = {operator.mul, operator.imul, torch.mul, torch.multiply}
_DIV = {operator.truediv, operator.itruediv, torch.div, torch.divide, torch.true_divide}
_NEG = {operator.neg, torch.neg, torch.negative}
_ARITH_METHODS = {
    "add": _ADD, "add_": _ADD, "sub": _SUB, "sub_": _SUB, "mul": _MUL, "mul_": _MUL, "div": _DIV, "div_": _DIV,
    "neg": _NEG, "neg_": _NEG,
}

_Z_FUNCTIONS: set[Any] = _existing(
    F, "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
) | _existing(torch, "mean", "sum", "avg_pool1d", "adaptive_avg_pool1d")
_REDUCTIONS: set[Any] = _existing(torch, "mean", "sum")
_Z_METHODS = {"mean", "sum"}

_ROUTE_FUNCTIONS: set[Any] = _existing(
    torch, "flatten", "cat", "concat", "concatenate", "stack", "hstack", "vstack", "reshape", "permute", "transpose",
    "swapaxes", "swapdims", "squeeze", "unsqueeze", "chunk", "split", "tensor_split", "narrow", "select", "movedim",
    "moveaxis", "roll", "flip", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "unbind", "t", "clone",
    "max", "amax", "min", "amin", "maximum", "minimum", "index_select", "gather", "tile", "broadcast_to",
    "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "unflatten", "detach",
) | _existing(
    F, "pad", "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "identity",
) | {operator.getitem, builtins.getattr, builtins.len, builtins.isinstance, builtins.tuple, builtins.list}
_ROUTE_METHODS = {
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "permute", "transpose", "t", "contiguous",
    "squeeze", "unsqueeze", "expand", "expand_as", "chunk", "split", "tensor_split", "unbind", "narrow", "select",
    "movedim", "moveaxis", "swapaxes", "roll", "flip", "clone", "to", "type", "type_as", "float", "double", "half",
    "cpu", "cuda", "size", "dim", "numel", "max", "amax", "min", "amin", "repeat", "tile", "gather", "index_select",
    "detach", "__getitem__", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor", "dtype", "device",
}


def _stochastic_depth() -> Any:
    try:
        from torchvision.ops import stochastic_depth
    except Exception:  # noqa: BLE001 - torchvision is optional
        return None
    return stochastic_depth


class _Slot:
    """Placeholder for the i-th runtime value in an operation's argument template."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<{self.index}>"


def _fill(template: Any, values: tuple[Any, ...]) -> Any:
    if isinstance(template, _Slot):
        return values[template.index]
    if isinstance(template, tuple):
        return tuple(_fill(t, values) for t in template)
    if isinstance(template, list):
        return [_fill(t, values) for t in template]
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, slice):
        return slice(_fill(template.start, values), _fill(template.stop, values), _fill(template.step, values))
    return template


class FunctionalOp(nn.Module):
    """One functional operation of a traced ``forward``, as a module that carries an LRP rule.

    Called with the operation's runtime values: first the ``n_inputs`` signals (tensors computed
    from the model input; they get relevance), then any other runtime values (parameters,
    sizes...). Runs exactly the original operation (in-place variants out of place).

    Attributes
    ----------
    lrp_rule : str
        ``"pass"``, ``"affine"``, ``"sum"``, ``"gate"``, ``"z"`` or ``"unsupported"``.
    label : str
        The operation (``"operator.mul"``, ``"Tensor.mean"``...).
    where : str
        The module it is written in and its source line, for messages.
    coefficients : tuple of float or None
        Coefficients of a ``"sum"`` (``(1, -1)`` for a difference).
    gate_source : bool
        Whether the output is a gate (sigmoid / hard-sigmoid).
    relu6_like : bool
        Whether the operation is ``min(max(x, 0), 6)`` (first half of a written-out hard-sigmoid).
    scale : float or None
        For ``"affine"`` multiplications/divisions by a number: the factor.
    """

    def __init__(
        self, fn: Callable[..., Any] | str, args: Any, kwargs: dict[str, Any], n_inputs: int, lrp_rule: str,
        label: str, where: str, *, coefficients: tuple[float, ...] | None = None, gate_source: bool = False,
        relu6_like: bool = False, scale: float | None = None, message: str = "",
    ) -> None:
        super().__init__()
        self.fn = fn
        self.template_args = args
        self.template_kwargs = kwargs
        self.n_inputs = n_inputs
        self.lrp_rule = lrp_rule
        self.label = label
        self.where = where
        self.lrp_coefficients = coefficients
        self.gate_source = gate_source
        self.relu6_like = relu6_like
        self.scale = scale
        self.message = message

    def extra_repr(self) -> str:
        return f"{self.label}, rule={self.lrp_rule!r}, {self.where}"

    def forward(self, *values: Any) -> Any:  # noqa: D102
        args = _fill(self.template_args, values)
        kwargs = _fill(self.template_kwargs, values)
        if isinstance(self.fn, str):
            out = getattr(args[0], self.fn)(*args[1:], **kwargs)
        else:
            out = self.fn(*args, **kwargs)
        if self.lrp_rule == "unsupported" and isinstance(out, torch.Tensor) and any(
            isinstance(v, torch.Tensor) and v.requires_grad for v in values[: self.n_inputs]
        ):
            from .composites import UnsupportedLayerError

            raise UnsupportedLayerError(self.message)
        return out


class _NotRewritable(Exception):
    """The traced graph cannot be rewritten faithfully (falls back to the module hooks)."""


def _label(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if module in ("_operator", "operator"):
        module = "operator"
    elif module.startswith("torch.nn.functional"):
        module = "F"
    elif module in ("torch", "torch._C._VariableFunctions") or module.startswith("torch._C"):
        module = "torch"
    return f"{module}.{name}" if module else name


def _where(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    path = ""
    if stack:
        last = list(stack.values())[-1]
        path = last[0] if isinstance(last, tuple) else str(last)
        kind = last[1] if isinstance(last, tuple) else None
        kind_name = getattr(kind, "__name__", None) if kind is not None else None
        path = f"'{path}'" + (f" ({kind_name})" if kind_name else "")
    place = f"in {path}" if path else "in the model's forward"
    trace = node.stack_trace or ""
    lines = trace.strip().splitlines()
    source = ""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if line.startswith("File ") and "/torch/fx/" not in line and "/torch/nn/modules/module.py" not in line:
            source = line.replace("File ", "", 1)
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            source += f": {code}" if code else ""
            break
    return place + (f", {source}" if source else "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _relu6_like(node: fx.Node) -> bool:
    """``F.relu6(x)``, ``F.hardtanh(x, 0, 6)`` or ``clamp(x, 0, 6)``."""
    target, args, kwargs = node.target, node.args, node.kwargs
    if target is getattr(F, "relu6", None):
        return True
    if target in (getattr(F, "hardtanh", None), getattr(F, "hardtanh_", None)):
        low = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
        high = args[2] if len(args) > 2 else kwargs.get("max_val", 1.0)
        return _number(low) == 0.0 and _number(high) == 6.0
    if target in (torch.clamp, torch.clip, "clamp", "clip", "clamp_"):
        low = args[1] if len(args) > 1 else kwargs.get("min")
        high = args[2] if len(args) > 2 else kwargs.get("max")
        return _number(low) == 0.0 and _number(high) == 6.0
    return False


def _in_place(node: fx.Node) -> bool:
    if node.kwargs.get("inplace") is True:
        return True
    if node.op == "call_method":
        return str(node.target).endswith("_") and not str(node.target).endswith("__")
    name = getattr(node.target, "__name__", "")
    return name.endswith("_") and not name.endswith("__") or node.target in (
        operator.iadd, operator.isub, operator.imul, operator.itruediv
    )


def _out_of_place(node: fx.Node) -> tuple[Any, dict[str, Any]]:
    """The out-of-place target and kwargs of an in-place operation."""
    kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
    target = node.target
    if node.op == "call_method":
        name = str(target)
        return (name[:-1] if name.endswith("_") and not name.endswith("__") else name), kwargs
    swap = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
            operator.itruediv: operator.truediv}
    if target in swap:
        return swap[target], kwargs
    name = getattr(target, "__name__", "")
    if name.endswith("_") and not name.endswith("__"):
        for space in (F, torch):
            replacement = getattr(space, name[:-1], None)
            if replacement is not None:
                return replacement, kwargs
    return target, kwargs


def _classify(node: fx.Node, dependent: list[bool]) -> dict[str, Any] | None:
    """The rule of a node with at least one signal argument; ``None`` for pure re-arrangements.

    ``dependent`` says for each positional argument whether it is a signal.
    """
    target = node.target
    method = node.op == "call_method"
    label = _label(node)
    if method:
        if target in _ROUTE_METHODS:
            return None
        if target in _PASS_METHODS:
            return {"lrp_rule": "pass", "gate_source": target in _GATE_METHODS, "relu6_like": _relu6_like(node)}
        if target in _Z_METHODS:
            return _reduction(node, label)
        arith = _ARITH_METHODS.get(str(target))
        if arith is not None:
            return _arithmetic(arith, node, dependent, label)
    else:
        if target in _ROUTE_FUNCTIONS:
            return None
        if target is getattr(F, "interpolate", None) or target is getattr(F, "upsample", None):
            mode = node.args[3] if len(node.args) > 3 else node.kwargs.get("mode", "nearest")
            if mode in ("nearest", "nearest-exact"):
                return None
            if mode in ("linear", "bilinear", "trilinear"):
                return {"lrp_rule": "z"}
            return _unsupported(node, label, f"interpolation mode {mode!r} has no LRP rule")
        if target in _PASS_FUNCTIONS or (target is not None and target is _stochastic_depth()):
            return {"lrp_rule": "pass", "gate_source": target in _GATE_FUNCTIONS, "relu6_like": _relu6_like(node)}
        if target in _Z_FUNCTIONS:
            if target in _REDUCTIONS:
                return _reduction(node, label)
            return {"lrp_rule": "z"}
        for family in (_ADD, _SUB, _MUL, _DIV, _NEG):
            if target in family:
                return _arithmetic(family, node, dependent, label)
    return _unsupported(node, label, "it has no LRP rule")


def _unsupported(node: fx.Node, label: str, why: str) -> dict[str, Any]:
    return {
        "lrp_rule": "unsupported",
        "message": f"LRP: the operation {label} {_where(node)} is on the relevance path and {why}; write it as a "
        "module and give it a rule with layer_rules, or use an operation with a rule (see docs/conventions.md)",
    }


def _reduction(node: fx.Node, label: str) -> dict[str, Any]:
    """``x.mean(dims)`` / ``x.sum(dims)``: Z rule, unless it reduces over the batch axis."""
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", node.kwargs.get("axis"))
    if isinstance(dims, int) and not isinstance(dims, bool):
        dims = (dims,)
    if not isinstance(dims, (tuple, list)) or not dims or not all(isinstance(d, int) and d != 0 for d in dims):
        return _unsupported(node, label, "reduces over the batch axis (or over unknown axes)")
    return {"lrp_rule": "z"}


def _arithmetic(family: set[Any], node: fx.Node, dependent: list[bool], label: str) -> dict[str, Any]:
    n_signals = sum(dependent)
    args = list(node.args)
    if family is _NEG:
        return {"lrp_rule": "affine"}
    if n_signals <= 1:  # (0: the signal came as a keyword argument)
        if family is _DIV and not (dependent and dependent[0] and isinstance(args[0], fx.Node)):
            return _unsupported(node, label, "divides by a signal")
        number = None
        for a in args[:2]:
            if not isinstance(a, fx.Node):
                number = _number(a)
        scale = None
        if number is not None and family is _MUL:
            scale = number
        elif number is not None and family is _DIV:
            scale = 1.0 / number if number != 0 else None
        return {"lrp_rule": "affine", "scale": scale}
    if family is _ADD:
        alpha = _number(node.kwargs.get("alpha", 1.0))
        return {"lrp_rule": "sum", "coefficients": None if alpha in (None, 1.0) else (1.0, alpha)}
    if family is _SUB:
        alpha = _number(node.kwargs.get("alpha", 1.0)) or 1.0
        return {"lrp_rule": "sum", "coefficients": (1.0, -alpha)}
    if family is _MUL and n_signals == 2:
        return {"lrp_rule": "gate"}
    return _unsupported(node, label, "combines two signals non-linearly")


# ---------------------------------------------------------------------------------------------
# tracing and rewriting
# ---------------------------------------------------------------------------------------------
class _Tracer(fx.Tracer):
    """Keeps modules with an LRP treatment (and torch.nn modules) as leaves."""

    def __init__(self, decide: Callable[[str, nn.Module], Any]) -> None:
        super().__init__()
        self.record_stack_traces = True
        self._decide = decide
        #: torch.nn modules with children but no rule that stay leaves (e.g. nn.MultiheadAttention)
        self.opaque: set[str] = set()

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:  # noqa: D102
        action = self._decide(module_qualified_name, m).action
        if action in ("kernel", "rule", "route", "kernel_padding"):
            return True
        leaf = super().is_leaf_module(m, module_qualified_name)
        if leaf and action == "container":
            self.opaque.add(module_qualified_name)
        return leaf


def _rewrite(gm: fx.GraphModule) -> int:
    """Replace every signal-carrying functional node by a :class:`FunctionalOp`; return how many."""
    graph = gm.graph
    order = {node: i for i, node in enumerate(graph.nodes)}
    signal: dict[fx.Node, bool] = {}
    count = 0
    for node in list(graph.nodes):
        if node.op == "placeholder":
            signal[node] = True
            continue
        if node.op in ("get_attr", "output"):
            signal[node] = False
            continue
        arg_nodes: list[fx.Node] = []
        fx.node.map_arg((node.args, node.kwargs), lambda n: arg_nodes.append(n) or n)
        is_signal = any(signal.get(n, False) for n in arg_nodes)
        signal[node] = is_signal
        if node.op == "call_module" or not is_signal:
            continue
        # unique node arguments: signals first, then the other runtime values
        unique: list[fx.Node] = []
        for n in arg_nodes:
            if n not in unique:
                unique.append(n)
        signals = [n for n in unique if signal.get(n, False)]
        others = [n for n in unique if not signal.get(n, False)]
        # positional signal flags for the arithmetic (constants count as non-signals)
        positional = [isinstance(a, fx.Node) and signal.get(a, False) for a in node.args]
        info = _classify(node, positional)
        if info is None:
            continue
        if _in_place(node):
            mutated = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
            if mutated is not None and any(order.get(u, -1) > order[node] for u in mutated.users if u is not node):
                raise _NotRewritable(f"{_label(node)} {_where(node)} modifies a tensor that is used again later")
            target, kwargs = _out_of_place(node)
        else:
            target, kwargs = node.target, dict(node.kwargs)
        index = {n: i for i, n in enumerate(signals + others)}
        template_args = fx.node.map_arg(tuple(node.args), lambda n: _Slot(index[n]))
        template_kwargs = fx.node.map_arg(kwargs, lambda n: _Slot(index[n]))
        rule = info.pop("lrp_rule")
        op = FunctionalOp(
            str(target) if node.op == "call_method" else target, template_args, dict(template_kwargs), len(signals),
            rule, _label(node), _where(node), **info,
        )
        name = f"_lrp_{node.name}"
        gm.add_submodule(name, op)
        with graph.inserting_before(node):
            new = graph.call_module(name, tuple(signals + others))
        new.meta = dict(node.meta)
        node.replace_all_uses_with(new)
        graph.erase_node(node)
        signal[new] = True
        count += 1
    graph.lint()
    gm.recompile()
    return count


def _fingerprint(model: nn.Module, overrides: Any) -> tuple[Any, ...]:
    modules = tuple(
        (path, id(m), m.training, id(m.__dict__.get("forward"))) for path, m in model.named_modules(remove_duplicate=False)
    )
    tensors = tuple((name, id(t)) for name, t in model.named_parameters(remove_duplicate=False)) + tuple(
        (name, id(t)) for name, t in model.named_buffers(remove_duplicate=False)
    )
    return (overrides, modules, tensors)


_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], fx.GraphModule | None]]" = (
    weakref.WeakKeyDictionary()
)


def clear_cache() -> None:
    """Forget every cached view."""
    _CACHE.clear()


def traced_view(model: nn.Module, composite: Any) -> fx.GraphModule | None:
    """The FX view of ``model`` for ``composite`` (cached), or ``None`` when it cannot be traced.

    Parameters
    ----------
    model : torch.nn.Module
        The model (unchanged; the view shares its modules, parameters and buffers).
    composite : Composite
        Decides which modules are leaves (its per-layer overrides enter the cache key).

    Returns
    -------
    torch.fx.GraphModule or None
        The view, whose functional operations are :class:`FunctionalOp` modules; ``None`` if
        tracing failed (the reason is logged at DEBUG level).
    """
    overrides = (tuple(sorted(composite.path_rules)), tuple((t, repr(r)) for t, r in composite.type_rules))
    key = _fingerprint(model, overrides)
    cached = _CACHE.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    view: fx.GraphModule | None
    try:
        tracer = _Tracer(composite.decide)
        graph = tracer.trace(model)
        view = fx.GraphModule(tracer.root, graph, type(model).__name__)
        view.lrp_opaque = frozenset(tracer.opaque)
        _rewrite(view)
    except Exception as error:  # noqa: BLE001 - any tracing failure means: use the module hooks alone
        logger.debug("LRP: %s cannot be traced with torch.fx (%s: %s); using module hooks only",
                     type(model).__name__, type(error).__name__, error)
        view = None
    _CACHE[model] = (key, view)
    return view

