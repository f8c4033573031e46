"""The LRP backward pass: rules attached to modules as forward hooks, run by autograd.

How it works (the "gradient trick", as in zennit): during the forward pass every module that has a
rule is wrapped so that its output becomes the output of a small autograd function whose backward
is the rule. The model's output is then differentiated with the initial relevance as
``grad_outputs``; at every hooked module the rule turns the relevance at the output into the
relevance at the input, and operations without a hook (reshapes, max pooling, padding) move it
like a gradient. What arrives at the input is the relevance map.

Why not zennit's hooks: zennit 0.5.1 and 1.0.0 differ in how hooks are registered and how rule
templates and parameter modifiers are applied; its ``BasicHook`` attributes the first positional
input only (no two-input residual sums); and the semantics need per-call decisions (the input layer is
found by following the data, a module may be called twice). The engine here is small and keeps
all per-call state in :class:`~signxai_captum.lrp.rules.LayerCall` objects, never on modules.

Functional operations: :func:`relevance_session` first builds (once per model, cached) an FX view
of the model, :func:`signxai_captum.lrp._functional.traced_view`, in which every operation written in
``forward`` (``F.relu``, ``x + y``, ``x.mean(...)``, ``x * gate``...) is a small module with a rule,
while the user's modules are the same objects; the forward pass then runs through that view. Models
that cannot be traced run as they are, with module hooks only.

Safety: after the forward pass the autograd graph between hooked layers is checked; an operation
that is neither a hooked layer nor a pure re-arrangement (e.g. a functional ``x + y`` in a model
that could not be traced) raises :class:`~signxai_captum.lrp.composites.UnsupportedLayerError`, because the
plain gradient through it would silently break the rules.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .. import _blocks as blocks
from .canonizers import Canonizer, canonized
from .composites import _RELU_LABELS, Composite, LayerDecision, UnsupportedLayerError, is_affine
from ._functional import FunctionalOp, traced_view
from ._layers import transposes_without_graph
from .rules import BatchNormRule, GateRule, LayerCall, Pass, Rule, SumRule, _ZFamily

__all__ = ["RelevanceSession", "relevance_session"]

# autograd nodes that only move values (the gradient through them is the right relevance flow)
_ROUTING_NODES = re.compile(
    r"^(View|UnsafeView|ReshapeAlias|Clone|Permute|Transpose|T|ConstantPadNd|ReflectionPad\w*|ReplicationPad\w*|"
    r"MaxPool\w*|AdaptiveMaxPool\w*|Cat|Stack|Squeeze\w*|Unsqueeze\w*|ToCopy|UpsampleNearest\w*|Maximum|Minimum|"
    r"Index|Slice|Select|PixelShuffle|PixelUnshuffle|ChannelShuffle|Expand|Split\w*|Unbind|Narrow|Alias|AsStrided|"
    r"Flip|Roll|Unfold|Contiguous|Detach)Backward\d*$"
)
# nodes the input-layer search looks through (docs/semantics.md §4.3: Flatten/Reshape/Permute/Padding)
_LOOK_THROUGH_NODES = re.compile(
    r"^(View|UnsafeView|ReshapeAlias|Clone|Permute|Transpose|T|ConstantPadNd|Squeeze\w*|Unsqueeze\w*|ToCopy|Alias|"
    r"Expand|Contiguous)Backward\d*$"
)

# nodes that only pick or move values: a tensor with no negative value keeps none through them
_SIGN_KEEPING_NODES = re.compile(
    r"^(View|UnsafeView|ReshapeAlias|Clone|Permute|Transpose|T|MaxPool\w*|AdaptiveMaxPool\w*|Squeeze\w*|"
    r"Unsqueeze\w*|ToCopy|Alias|Expand|Contiguous|Slice|Select|Index|Cat|Stack|Narrow|UpsampleNearest\w*)Backward\d*$"
)
# activations whose outputs are never negative
_NONNEGATIVE_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Hardsigmoid, nn.Softplus)
_NONNEGATIVE_LABELS = _RELU_LABELS | frozenset(
    f"{m}.{n}" for m in ("F", "torch", "Tensor") for n in ("relu6", "sigmoid", "sigmoid_", "hardsigmoid", "softplus")
)


#: Keep a ReLU's output in place of the output of the convolution that alone feeds it, for the
#: denominators of the z/epsilon rules (:meth:`~signxai_captum.lrp.rules.LayerCall.z`): one
#: activation less per such layer between the forward and the backward pass, the same maps. Read on
#: every forward pass (tests and benchmarks switch it off to compare).
RECTIFIED_DENOMINATORS = True

# Pass-rule modules with f(0) = 0: a zero of their input is a zero of their output
_ZERO_KEEPING_TYPES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Tanh,
    nn.Softsign, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
)
_ZERO_KEEPING_LABELS = frozenset(
    f"{m}.{n}" for m in ("F", "torch", "Tensor")
    for n in ("relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardswish",
              "tanh", "softsign", "dropout")
)


def _keeps_zeros(module: nn.Module) -> bool:
    """Whether a Pass-rule module maps a zero input to a zero output (its own class's forward)."""
    if isinstance(module, FunctionalOp):
        return module.label in _ZERO_KEEPING_LABELS or _scale_of(module) is not None
    return any(type(module) is kind for kind in _ZERO_KEEPING_TYPES)


def _is_plain_relu(module: nn.Module) -> bool:
    if isinstance(module, FunctionalOp):
        return module.label in _RELU_LABELS
    return type(module) is nn.ReLU


class _NodeState:
    """What one hooked call hands to its autograd node."""

    __slots__ = ("call", "rule", "value", "output_version", "input_versions", "input_shapes")

    def __init__(self, call: LayerCall, rule: Rule, value: torch.Tensor) -> None:
        self.call = call
        self.rule = rule
        self.value: torch.Tensor | None = value
        self.output_version = value._version
        self.input_versions = tuple(x._version for x in call.inputs)
        self.input_shapes = tuple(x.shape for x in call.inputs)


class _RelevanceFunction(torch.autograd.Function):
    """Identity in the forward pass (returns the module's output), the rule in the backward pass."""

    @staticmethod
    def forward(ctx: Any, state: _NodeState, *inputs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.state = state
        # no relevance arriving (e.g. the gate branch of a squeeze-excitation block) stays None:
        # the layers behind it then do no work at all
        ctx.set_materialize_grads(False)
        value, state.value = state.value, None
        return value

    @staticmethod
    def backward(ctx: Any, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        state: _NodeState = ctx.state
        call = state.call
        if call is None:
            raise RuntimeError("internal error: an LRP layer was traversed twice")
        _check_versions(state)
        if relevance is None:
            call.release()
            state.call = None
            return (None,) * (1 + len(state.input_shapes))
        result = state.rule.relevance(call, relevance)
        for value, shape in zip(result, state.input_shapes):
            if value is not None and value.shape != shape:
                raise UnsupportedLayerError(
                    f"LRP: rule {state.rule!r} of '{call.path}' ({type(call.module).__name__}) returned relevance of "
                    f"shape {tuple(value.shape)} for an input of shape {tuple(shape)}; this layer changes the shape, "
                    "give it another rule with layer_rules"
                )
        call.release()
        state.call = None
        return (None, *result)


def _check_versions(state: _NodeState) -> None:
    call = state.call
    current_out = call.output._version if call.output is not None else state.output_version
    changed_out = call.output is not None and current_out != state.output_version
    changed_in = any(x._version != v for x, v in zip(call.inputs, state.input_versions))
    if changed_out or changed_in:
        where = "output" if changed_out else "input"
        raise UnsupportedLayerError(
            f"LRP: the {where} of '{call.path}' ({type(call.module).__name__}) was modified in place after the layer "
            "ran (e.g. by a functional relu_(), x += y or F.relu(..., inplace=True) in forward); LRP needs each "
            "layer's values: write the operation out of place, as a module"
        )


def _tensors(args: Sequence[Any]) -> tuple[torch.Tensor, ...] | None:
    """The tensors a module was called with (also ``module([a, b])``); None if anything else."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        return None
    return tuple(args)


def _single_parent(node: Any) -> Any:
    parents = [n for n, _ in node.next_functions if n is not None]
    return parents[0] if len(parents) == 1 else None


def _module_of(node: Any) -> nn.Module | None:
    state = getattr(node, "state", None)
    if isinstance(state, _NodeState) and state.call is not None:
        return state.call.module
    return None


# what a gate may pass through between its sigmoid and the product (reshapes, broadcasts, indexing)
_GATE_THROUGH_NODES = re.compile(
    r"^(View|UnsafeView|ReshapeAlias|Clone|Permute|Transpose|T|Squeeze\w*|Unsqueeze\w*|ToCopy|Alias|Expand|"
    r"Contiguous|Slice|Select|Index|Repeat|Cat|Stack)Backward\d*$"
)


def _through_reshapes(node: Any) -> Any:
    while node is not None and _GATE_THROUGH_NODES.match(type(node).__name__):
        node = _single_parent(node)
    return node


def _is_gate_module(module: nn.Module) -> bool:
    return (
        isinstance(module, (nn.Sigmoid, nn.Hardsigmoid))
        or getattr(module, "gate_source", False) is True
        or getattr(module, "lrp_gate_source", False) is True
    )


def _scale_of(module: nn.Module) -> float | None:
    """The factor of an element-wise scaling layer (``x * c``, ``x / d``), else None."""
    if isinstance(module, FunctionalOp):
        return module.scale if module.lrp_rule == "affine" else None
    constant_op = getattr(blocks, "ConstantOp", None)
    if constant_op is not None and isinstance(module, constant_op):
        constant = module.constant.detach()
        if constant.numel() != 1 or module.op not in ("multiply", "divide"):
            return None
        value = float(constant.reshape(-1)[0])
        return value if module.op == "multiply" else (1.0 / value if value != 0 else None)
    if isinstance(module, blocks.Rescaling):
        scale, offset = module.scale.detach(), module.offset.detach()
        if scale.numel() and bool((scale == scale.reshape(-1)[0]).all()) and not bool(offset.any()):
            return float(scale.reshape(-1)[0])
    return None


def _is_nonnegative(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is known without looking at its values to have no negative entry: the
    output of a ReLU-like activation (ReLU, ReLU6, sigmoid, hard-sigmoid, softplus), seen through
    reshapes, max pooling, slicing and concatenation (of such outputs)."""
    stack, seen = [tensor.grad_fn], 0
    while stack:
        node = stack.pop()
        seen += 1
        if node is None or seen > 64:
            return False
        module = _module_of(node)
        if module is not None:
            if isinstance(module, _NONNEGATIVE_ACTIVATIONS) or (
                isinstance(module, FunctionalOp) and module.label in _NONNEGATIVE_LABELS
            ):
                continue
            return False
        if not _SIGN_KEEPING_NODES.match(type(node).__name__):
            return False
        parents = [n for n, _ in node.next_functions if n is not None]
        if not parents:
            return False
        stack.extend(parents)
    return True


def _is_relu6(module: nn.Module | None) -> bool:
    if module is None:
        return False
    if isinstance(module, nn.ReLU6):
        return True
    if isinstance(module, nn.Hardtanh):
        return module.min_val == 0.0 and module.max_val == 6.0
    return getattr(module, "relu6_like", False) is True or getattr(module, "lrp_relu6", False) is True


def _is_gate(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` was produced by a sigmoid-like activation (through reshapes/broadcasts)."""
    node = _through_reshapes(tensor.grad_fn)
    if node is None:
        return False
    name = type(node).__name__
    if name.startswith(("SigmoidBackward", "HardsigmoidBackward")):
        return True
    module = _module_of(node)
    if module is None:
        return False
    if _is_gate_module(module):
        return True
    scale = _scale_of(module)
    if scale is not None and abs(scale - 1.0 / 6.0) < 1e-6:  # ReLU6(x + 3) / 6
        parent = _through_reshapes(_single_parent(node))
        return parent is not None and _is_relu6(_module_of(parent))
    return False


def _zero_where_zero(consumers: dict[int, list[Any]], node: Any, relu_node: Any, root: Any) -> bool:
    """Whether the relevance reaching a layer's output (``node``) is exactly zero wherever the ReLU
    after it (``relu_node``) outputs zero: the layer's output has that ReLU as its only consumer, and
    everything downstream of the ReLU's output, through value-moving operations (reshapes, max
    pooling, concatenation...) and zero-keeping Pass layers (f(0) = 0) and gates, ends in rules that
    give a zero input zero relevance. The model output itself does not qualify (its seed is not zero
    where it is zero)."""
    if [id(n) for n in consumers.get(id(node), ())] != [id(relu_node)]:
        return False
    stack, seen = [relu_node], {id(relu_node)}
    while stack:
        current = stack.pop()
        if current is root:
            return False
        for consumer in consumers.get(id(current), ()):
            if id(consumer) in seen:
                continue
            seen.add(id(consumer))
            state = getattr(consumer, "state", None)
            if isinstance(state, _NodeState):
                if state.call is None:
                    return False
                if state.rule.zero_at_zero_input:
                    continue
                if isinstance(state.rule, GateRule) or (isinstance(state.rule, Pass) and _keeps_zeros(state.call.module)):
                    stack.append(consumer)
                    continue
                return False
            if _ROUTING_NODES.match(type(consumer).__name__):
                stack.append(consumer)
                continue
            return False
    return True


class RelevanceSession:
    """The hooks of one LRP explanation; created by :func:`relevance_session`.

    Attributes
    ----------
    module : torch.nn.Module
        What to call for the forward pass: the model, or its FX view (same modules and weights).
    input_layers : list of str
        Paths of the kernel layers that were treated as input layers (filled during the forward).
    layer_rules : dict of str to Rule
        For each hooked call: the module path and the rule used (filled during the forward).
    """

    def __init__(self, composite: Composite) -> None:
        self.composite = composite
        self.module: nn.Module | None = None
        self.input_layers: list[str] = []
        self.layer_rules: dict[str, Rule] = {}
        self._leaves: tuple[torch.Tensor, ...] = ()
        self._handles: list[Any] = []
        # id(padded output) -> (padded output, padding module, unpadded input) of kernel paddings
        self._padded: dict[int, tuple[torch.Tensor, nn.Module, torch.Tensor]] = {}
        self._opaque: frozenset[str] = frozenset()
        # (layer call, its node, the node of the ReLU after it, that output's version) awaiting check_graph
        self._rectified: list[tuple[LayerCall, Any, Any, int]] = []
        #: paths of the layers whose denominators use their ReLU's output (filled by check_graph)
        self.rectified_layers: list[str] = []

    # -- set-up ---------------------------------------------------------------------------------
    def _register(
        self, model: nn.Module, extra: Sequence[tuple[str, nn.Module]], original: nn.Module | None = None
    ) -> None:
        paths = {path for path, _ in model.named_modules()} | {path for path, _ in extra}
        if original is not None and original is not model:
            paths |= {path for path, _ in original.named_modules()}
        unknown = sorted(set(self.composite.path_rules) - paths)
        if unknown:
            import difflib

            hints = {p: difflib.get_close_matches(p, sorted(paths), n=3) for p in unknown}
            raise ValueError(
                "layer_rules name modules the model does not have: "
                + "; ".join(f"{p!r} (close: {', '.join(h) or 'none'})" for p, h in hints.items())
            )
        self._opaque = getattr(model, "lrp_opaque", frozenset())
        self._visit(model, "")
        for path, module in extra:
            self._hook(path, module, self.composite.decide(path, module))

    def _visit(self, module: nn.Module, path: str) -> None:
        decision = self.composite.decide(path, module)
        if decision.action == "container" and path in self._opaque:
            decision = LayerDecision(
                "unsupported",
                message=f"LRP has no rule for layer '{path}' ({type(module).__module__}.{type(module).__name__}): "
                "its forward computes with its parameters directly (attention: a product of two signals and a "
                f"softmax); give it a rule with layer_rules={{'{path}': rule}} if one applies",
            )
        if decision.action != "container":
            self._hook(path, module, decision)
            return
        for name, child in module.named_children():
            self._visit(child, f"{path}.{name}" if path else name)

    def _hook(self, path: str, module: nn.Module, decision: LayerDecision) -> None:
        if decision.action == "route":
            return
        if decision.action == "kernel_padding":
            self._handles.append(module.register_forward_hook(self._record_padding))
            return
        if decision.action == "unsupported":
            self._handles.append(module.register_forward_pre_hook(self._make_unsupported_hook(decision.message)))
            return
        self._handles.append(module.register_forward_hook(self._make_hook(path, decision)))

    def _record_padding(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if isinstance(output, torch.Tensor) and args and isinstance(args[0], torch.Tensor):
            self._padded[id(output)] = (output, module, args[0])

    @staticmethod
    def _make_unsupported_hook(message: str):
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            tensors = _tensors(args) or tuple(a for a in args if isinstance(a, torch.Tensor))
            if any(t.requires_grad for t in tensors):
                raise UnsupportedLayerError(message)

        return hook

    def _make_hook(self, path: str, decision: LayerDecision):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            return self._on_forward(path, module, decision, args, output)

        return hook

    def _on_forward(self, path: str, module: nn.Module, decision: LayerDecision, args: tuple[Any, ...], output: Any) -> Any:
        if isinstance(module, FunctionalOp):
            path = f"{module.label} {module.where}"
            inputs = tuple(a for a in args[: module.n_inputs] if isinstance(a, torch.Tensor)) or None
            if inputs is None or not isinstance(output, torch.Tensor):
                return None  # arithmetic on sizes, not on the relevance path
        else:
            inputs = _tensors(args)
        if inputs is None or not isinstance(output, torch.Tensor):
            raise UnsupportedLayerError(
                f"LRP: '{path}' ({type(module).__name__}) must be called with tensors and return one tensor, "
                f"got {len(args)} argument(s) and a {type(output).__name__}"
            )
        if not any(x.requires_grad for x in inputs):
            return None  # not on the relevance path
        if decision.action == "kernel":
            is_input = self._is_input_layer(inputs[0])
            if is_input:
                self.input_layers.append(path)
            rule = self.composite.kernel_rule(path, decision.kind or "conv", is_input)
        else:
            is_input = decision.kind is not None and self._is_input_layer(inputs[0])
            rule = decision.rule
        gates = None
        if isinstance(rule, (GateRule, SumRule)) and isinstance(module, FunctionalOp) and len(inputs) == 1:
            rule = Pass()  # the other operand turned out to be a number: element-wise affine
        elif isinstance(rule, GateRule):
            gates = self._gates(path, module, inputs)
        if rule.needs_kernel and decision.kind is None:
            raise UnsupportedLayerError(
                f"LRP: rule {rule!r} needs a Linear or convolution layer, but '{path}' is a {type(module).__name__}"
            )
        self.layer_rules[path] = rule
        keep_inputs = not isinstance(rule, Pass)
        padded = self._padded.get(id(inputs[0])) if decision.kind is not None else None
        call = LayerCall(
            module=module,
            path=path,
            inputs=inputs if keep_inputs else (),
            output=output if rule.needs_output else None,
            is_input_layer=is_input,
            padding=(padded[1], padded[2]) if padded is not None and padded[0] is inputs[0] else None,
            gates=gates,
            nonnegative_input=decision.kind is not None and rule.reads_sign and _is_nonnegative(inputs[0]),
        )
        rule.on_forward(call)
        state = _NodeState(call, rule, output.detach())
        if not keep_inputs:
            state.input_shapes = tuple(x.shape for x in inputs)
        result = _RelevanceFunction.apply(state, *inputs)
        if RECTIFIED_DENOMINATORS and isinstance(rule, Pass) and len(inputs) == 1 and _is_plain_relu(module):
            self._rectify(inputs[0], result)
        return result

    def _rectify(self, z: torch.Tensor, relu_output: torch.Tensor) -> None:
        """Let the layer that produced ``z`` keep ``relu(z)`` instead of ``z`` (see
        :meth:`~signxai_captum.lrp.rules.LayerCall.z`): a z/epsilon-family rule with its bias, on a
        convolution whose transposed product needs no forward graph, or the batch-norm rule of a
        batch norm in eval mode. Whether ``z`` has no other
        consumer, and the relevance reaching the ReLU's output is zero where it is zero, is known
        only at the end of the forward pass: :meth:`check_graph` confirms it."""
        node = z.grad_fn
        state = getattr(node, "state", None)
        if not isinstance(state, _NodeState) or state.call is None:
            return
        producer, rule, module = state.call, state.rule, state.call.module
        if producer.output is None or not producer.inputs:
            return
        if isinstance(rule, _ZFamily):  # the denominator; the transposed product must not need z's graph
            if not rule.bias or not transposes_without_graph(module, producer.x):
                return
        elif isinstance(rule, BatchNormRule):  # y in (y - beta) / s(y): multiplied by a zero relevance where y <= 0
            if module.training or type(module).forward is not _BatchNorm.forward:
                return
        else:
            return
        producer.rectified = relu_output.detach()
        producer.output = None  # z itself is freed once nothing else holds it
        self._rectified.append((producer, node, relu_output.grad_fn, relu_output._version))

    @staticmethod
    def _gates(path: str, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[bool, ...]:
        """Which factors of a product are gates; raise if more than one factor is a signal."""
        declared = getattr(module, "gate_inputs", None)  # the converter's Multiply may know its gates
        if isinstance(declared, tuple) and len(inputs) > 1:
            gates = tuple(i in declared for i in range(len(inputs)))
        else:
            gates = tuple(_is_gate(x) for x in inputs)
        signals = sum(1 for x, g in zip(inputs, gates) if not g and x.requires_grad)
        if signals > 1:
            where = path if isinstance(module, FunctionalOp) else f"'{path}' ({type(module).__name__})"
            raise UnsupportedLayerError(
                f"LRP: the product {where} multiplies {len(inputs)} signals and none of them (or not all but one) "
                "is a gate, i.e. the output of a sigmoid or hard-sigmoid (nn.Sigmoid, nn.Hardsigmoid, "
                "torch.sigmoid, F.hardsigmoid, ReLU6(x + 3) / 6): LRP has no rule for a product of two signals"
            )
        return gates

    # -- data flow --------------------------------------------------------------------------------
    def _is_input_layer(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor`` is a model input, seen through reshapes, permutes and padding only."""
        if any(tensor is leaf for leaf in self._leaves):
            return True
        node = tensor.grad_fn
        while node is not None:
            name = type(node).__name__
            if name == "AccumulateGrad":
                return any(node.variable is leaf for leaf in self._leaves)
            state = getattr(node, "state", None)
            if isinstance(state, _NodeState):  # element-wise affine layers are looked through
                module = state.call.module if state.call is not None else None
                if module is None or not is_affine(module):
                    return False
            elif not _LOOK_THROUGH_NODES.match(name):
                return False
            if name.startswith("ConstantPadNd") and any(p >= 2**63 or p < 0 for p in getattr(node, "_saved_pad", ())):
                return False  # negative widths: cropping, not padding
            parents = [n for n, _ in node.next_functions if n is not None]
            if len(parents) != 1:
                return False
            node = parents[0]
        return False

    def set_inputs(self, leaves: Sequence[torch.Tensor]) -> None:
        """Declare the model inputs (leaf tensors with ``requires_grad``) before the forward pass."""
        self._leaves = tuple(leaves)
        self.input_layers = []
        self.layer_rules = {}
        self._padded = {}
        self._rectified = []
        self.rectified_layers = []

    def check_graph(self, output: torch.Tensor) -> None:
        """Raise :class:`UnsupportedLayerError` if an operation LRP cannot see lies on the relevance path."""
        if output.grad_fn is None:
            raise ValueError("LRP: the model output does not depend on the input (no autograd graph)")
        seen: set[int] = set()
        stack: list[tuple[Any, str]] = [(output.grad_fn, "the model output")]
        problems: list[str] = []
        # id(node) -> the nodes that consume its outputs (for the rectified denominators only)
        consumers: dict[int, list[Any]] | None = {} if self._rectified else None
        while stack:
            node, below = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if consumers is not None:
                for parent, _ in node.next_functions:
                    if parent is not None:
                        consumers.setdefault(id(parent), []).append(node)
            name = type(node).__name__
            state = getattr(node, "state", None)
            if isinstance(state, _NodeState):
                call = state.call
                where = f"'{call.path}' ({type(call.module).__name__})" if call is not None else below
            elif name == "AccumulateGrad" or _ROUTING_NODES.match(name):
                where = below
            else:
                problems.append(f"{name.removesuffix('Backward0').removesuffix('Backward1')} (feeding {below})")
                where = below
            for parent, _ in node.next_functions:
                stack.append((parent, where))
        if problems:
            raise UnsupportedLayerError(
                "LRP cannot see these functional operations in the model's forward (the model could not be traced "
                "with torch.fx, or trace=False): "
                + "; ".join(sorted(set(problems)))
                + ". Relevance would pass through them as a plain gradient, which breaks the rules. Write them as "
                "modules: activations as nn.ReLU() etc., residual sums as signxai_captum.lrp.canonizers.ResidualAdd() "
                "(or signxai_captum.convert.Add()), global average pooling as nn.AdaptiveAvgPool2d(1), layers as "
                "nn.Linear/nn.Conv2d; or give the enclosing module a rule with layer_rules"
            )
        if consumers is not None:
            for call, node, relu_node, version in self._rectified:
                call.rectified_checked = (
                    call.rectified is not None
                    and call.rectified._version == version
                    and _zero_where_zero(consumers, node, relu_node, output.grad_fn)
                )
                if call.rectified_checked:
                    self.rectified_layers.append(call.path)
            self._rectified = []

    def close(self) -> None:
        """Remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._padded = {}
        self._rectified = []
        self._leaves = ()


@contextlib.contextmanager
def relevance_session(
    model: nn.Module, composite: Composite, canonizers: Sequence[Canonizer] = (), trace: bool = True
) -> Iterator[RelevanceSession]:
    """Apply ``canonizers``, attach the rules of ``composite`` to ``model``; undo both on exit.

    With ``trace`` (default) the forward pass runs through the cached FX view of ``model``
    (:func:`~signxai_captum.lrp._functional.traced_view`), which gives functional operations their
    rules; call :attr:`RelevanceSession.module` instead of ``model``. Canonizers are still applied to
    ``model`` (``DisableInplace`` matters for its modules; forward rewrites such as
    ``TorchvisionResNet`` only matter when the model cannot be traced).

    Parameters
    ----------
    model : torch.nn.Module
        The model (its modules get hooks for the duration only).
    composite : Composite
        The rules.
    canonizers : sequence of Canonizer
        Temporary rewrites (fresh instances per session).
    trace : bool, default True
        Whether to use the FX view (``False``: module hooks only, functional operations on the
        relevance path are an error).

    Yields
    ------
    RelevanceSession
        Call :meth:`RelevanceSession.set_inputs` before the forward pass and
        :meth:`RelevanceSession.check_graph` on its output.
    """
    view = traced_view(model, composite) if trace else None
    session = RelevanceSession(composite)
    session.module = model if view is None else view
    with canonized(model, canonizers) as extra:
        try:
            session._register(session.module, extra, model)
            yield session
        finally:
            session.close()
