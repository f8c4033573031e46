"""The modified backward pass: replay the layer graph forward, then walk it backward once.

One engine serves LRP (docs/semantics.md §4: a relevance rule per layer, seeded with the selected logit value)
and the modified ReLU gradients of guided backprop and deconvnet (docs/semantics.md §3: plain gradient except
at ReLUs, unit seed). The forward replay keeps every layer's input and output; the backward walk
visits the layers in reverse topological order and maps the signal at each layer's output to its
inputs (summing where a tensor feeds several layers). The whole pass is one ``tf.function``
per plan (model instance and rule set), traced once per input dtype and per-sample shape with an
open batch axis, the targets and the seed choices as tensor inputs: a new batch size, a new target
(int, per-sample list or None) or new weights (``set_weights``: the trace reads the variables) do not
retrace; a second model instance, even of the same architecture, has its own plan and traces once
(docs/performance.md).
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, Mapping

import keras
import numpy as np
import tensorflow as tf

from shared_spec import LRPRule, LRPRuleSet, UnsupportedLayerError, check_parameter, parameter_default, resolve_targets

from .._batch import target_inputs, warn_if_probabilities
from .._tracing import quiet_retracing
from ._graph import Graph, Step, application_layer_kind, is_reshape_op, op_kind, trace
from ._layers import (
    ACTIVATIONS,
    AFFINE,
    AVERAGE_POOLING,
    GRADIENT_ROUTED,
    LOOK_THROUGH,
    NORMALIZATIONS,
    PASS_THROUGH,
    KernelLayer,
    is_gate_activation,
    is_linear_activation,
    is_nonneg_activation,
    is_relu,
    is_relu6,
    kernel_layers,
    layer_error,
)
from ._rules import apply_rule, fused, stabilize, vjp

__all__ = ["lrp", "modified_relu_gradient", "lrp_plan"]

_BN_STABILIZER = 1e-7

Forward = Callable[[Step, list], tuple[list, Any]]
Backward = Callable[[Step, list, list, Any, tf.Tensor], list]


def _call_forward(step: Step, ins: list) -> tuple[list, Any]:
    return step.call(ins), None


def _gradient_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        for t in ins:
            tape.watch(t)
        out = step.call(ins)[0]
    grads = tape.gradient(out, ins, output_gradients=r)
    return [None if g is None else tf.convert_to_tensor(g) for g in grads]


def _pass_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    return [r]


def _kernel_forward(parts: tuple[KernelLayer, ...]) -> Forward:
    """Forward of a kernel layer as a chain of parts; aux = (inputs of the parts, their z without bias, z)."""

    def forward(step: Step, ins: list) -> tuple[list, Any]:
        a = ins[0]
        part_inputs, part_z_nb = [], []
        z = a
        for k in parts:
            part_inputs.append(a)
            z_nb = k.linear(a, k.kernel)
            part_z_nb.append(z_nb)
            z = k.add_bias(z_nb, k.bias)
            a = z
        act = parts[-1].activation
        y = z if is_linear_activation(act) else act(z)
        return [y], (part_inputs, part_z_nb, z)

    return forward


def _unbroadcast(r: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """Sum ``r`` (shaped like a broadcast result) back to the shape of the operand ``x``."""
    if r.shape.is_fully_defined() and x.shape.is_fully_defined() and r.shape == x.shape:
        return r
    axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(x), s1=tf.shape(r))
    return tf.reshape(tf.reduce_sum(r, axis=axes), tf.shape(x))


def _sum_rule(signs: tuple[float, ...]) -> Backward:
    """The Z rule over addends ``signs[i] * x_i`` (Add, Subtract): R_i = R s_i x_i / y, 0/0 = 0."""

    def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
        y = outs[0]
        if signs == (1.0, 1.0) and all(_same_shape(x, y) for x in ins):
            return list(_two_addends(r, y, ins[0], ins[1]))
        s = tf.math.divide_no_nan(r, y)
        return [_unbroadcast(x * s if sign == 1.0 else (sign * x) * s, x) for x, sign in zip(ins, signs)]

    return backward


def _same_shape(x: tf.Tensor, y: tf.Tensor) -> bool:
    """Whether ``x`` and ``y`` have the same static shape apart from the (open) batch axis, which they share."""
    return x.shape.rank == y.shape.rank and x.shape[1:].is_fully_defined() and x.shape[1:] == y.shape[1:] and (
        x.shape[0] == y.shape[0] or (x.shape[0] is None and y.shape[0] is None)
    )


@fused
def _two_addends(r: tf.Tensor, y: tf.Tensor, x0: tf.Tensor, x1: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The Z rule over ``y = x0 + x1``: ``(x0 s, x1 s)``, ``s = r / y`` (0/0 = 0)."""
    s = tf.math.divide_no_nan(r, y)
    return x0 * s, x1 * s


def _scaled_add_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    """inception_resnet_v2's CustomScaleLayer, y = x_0 + scale x_1: the Z rule over the two addends."""
    x0, x1 = ins
    s = tf.math.divide_no_nan(r, outs[0])
    return [_unbroadcast(x0 * s, x0), _unbroadcast((float(step.layer.scale) * x1) * s, x1)]


def _route_to(index: int, n: int) -> Backward:
    """All relevance to input ``index`` (a product with gates: the gates get none)."""

    def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
        out: list = [None] * n
        out[index] = _unbroadcast(r, ins[index])
        return out

    return backward


def _unchanged_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    """Pass-through for element-wise layers/ops of one tensor (reduced if the tensor was broadcast)."""
    return [_unbroadcast(r, ins[0])]


def _all_close_to(value: Any, target: float) -> bool:
    try:
        arr = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:  # not a number (a string, None, an unconvertible object)
        return False
    return arr.size > 0 and bool(np.allclose(arr, target, rtol=1e-6, atol=0.0))


def _average_pool_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    (a,) = ins
    s = tf.math.divide_no_nan(r, outs[0])
    (g,) = _gradient_backward(step, ins, outs, aux, s)
    return [a * g]


def _add_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    s = tf.math.divide_no_nan(r, outs[0])
    return [x * s for x in ins]


def _is_relu_layer(layer: Any) -> bool:
    """A ReLU as a layer of its own (``ReLU()`` with default settings or ``Activation("relu")``)."""
    return isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)) and is_relu(layer)


def _deep_taylor_batch_norm_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    """WSquare on the batch norm's affine map ``y = w a + c``: relevance passes where ``w != 0``."""
    layer = step.layer
    gamma = getattr(layer, "gamma", None)
    if gamma is None:
        return [r]
    rank = r.shape.rank
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    shape = [1] * rank
    for ax in axes:
        shape[ax % rank] = r.shape[ax]
    nonzero = tf.reshape(tf.cast(tf.not_equal(tf.convert_to_tensor(gamma), 0.0), r.dtype), shape)
    return [r * nonzero]


def _batch_norm_backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
    layer = step.layer
    (a,) = ins
    y = outs[0]
    rank = a.shape.rank
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    shape = [1] * rank
    for ax in axes:
        shape[ax % rank] = a.shape[ax]
    mean = tf.reshape(tf.cast(layer.moving_mean, a.dtype), shape)
    eps = tf.constant(_BN_STABILIZER, a.dtype)
    if getattr(layer, "beta", None) is None:  # no shift: y - 0 is y
        beta = tf.zeros(shape, a.dtype)
    else:
        beta = tf.reshape(tf.cast(layer.beta, a.dtype), shape)
    return [_batch_norm_relevance(r, a, y, mean, beta, eps)]


@fused
def _batch_norm_relevance(
    r: tf.Tensor, a: tf.Tensor, y: tf.Tensor, mean: tf.Tensor, beta: tf.Tensor, eps: tf.Tensor
) -> tf.Tensor:
    """``r (a / stabilize(a - mean)) ((y - beta) / stabilize(y))``: the batch-norm rule's element-wise part."""
    return r * (a / stabilize(a - mean, eps)) * ((y - beta) / stabilize(y, eps))


def _relu_signal(mode: str, g: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    g = tf.nn.relu(g)
    if mode == "guided_backprop":
        g = tf.where(z > 0, g, tf.zeros_like(g))
    return g


class _Plan:
    """The forward/backward functions of every step, decided once per model and method."""

    def __init__(self, model: keras.Model, mode: str, rules: LRPRuleSet | None, method: str) -> None:
        self.graph: Graph = trace(model)
        self.mode = mode
        self.method = method
        self.forward: list[Forward] = []
        self.backward: list[Backward] = []
        self.rules_used: dict[str, LRPRule] = {}  # layer name -> rule (LRP), for inspection and tests
        self.input_layers: list[str] = []  # kernel (parts of) layers that get the input-layer rule
        self.non_relu: list[str] = []
        self.gates: set[Hashable] = set()  # tensors produced by sigmoid-like activations (gates of products)
        self.relu6: set[Hashable] = set()  # tensors produced by ReLU6 (hard sigmoid written out: ReLU6(x+3)/6)
        self.producer: dict[Hashable, str] = {}  # tensor -> the layer that produced it, for error messages
        #: one tf.function per (input dtype, per-sample shape), batch axis open (see :meth:`compiled`)
        self._compiled: dict[tuple[str, tuple[int | None, ...]], Any] = {}
        # tensors that feed a ReLU layer directly (DeepTaylor: the kernel layer producing them uses ZPlus)
        self.relu_fed: set[Hashable] = {
            key for step in self.graph.steps if _is_relu_layer(step.layer) for key in step.inputs
        }
        raw: set[Hashable] = {self.graph.input}  # the input, seen through LOOK_THROUGH layers
        nonneg: set[Hashable] = set()
        for step in self.graph.steps:
            if len(step.outputs) != 1:
                raise layer_error(step.layer, method)
            fwd, bwd = self._plan_step(step, rules, raw, nonneg)
            self.forward.append(fwd)
            self.backward.append(bwd)

    def _plan_step(self, step: Step, rules, raw: set, nonneg: set) -> tuple[Forward, Backward]:
        layer = step.layer
        out = step.outputs[0]
        all_nonneg = all(k in nonneg for k in step.inputs)
        all_raw = all(k in raw for k in step.inputs)
        op = op_kind(layer)
        app = application_layer_kind(layer)
        self._track_gates(step, op)
        if all_raw and (
            isinstance(layer, LOOK_THROUGH) or app == "scale" or self._is_affine_op(step, op) or is_reshape_op(layer)
        ):
            raw.add(out)
        parts = kernel_layers(layer)
        if self.mode == "lrp":
            if parts is not None:
                part_rules = []
                for i, k in enumerate(parts):
                    is_input = i == 0 and step.inputs[0] in raw
                    rule = rules.for_layer(k.kind, is_input, k.name)
                    self.rules_used[k.name] = rule
                    if is_input:
                        self.input_layers.append(k.name)
                    part_rules.append(rule)
                if is_nonneg_activation(parts[-1].activation):
                    nonneg.add(out)
                return _kernel_forward(parts), self._lrp_kernel_backward(parts, part_rules, step.inputs[0] in nonneg)
            if isinstance(layer, PASS_THROUGH) or app == "identity":
                if is_nonneg_activation(layer) or (all_nonneg and not isinstance(layer, ACTIVATIONS)):
                    nonneg.add(out)
                return _call_forward, _pass_backward
            if isinstance(layer, AFFINE + NORMALIZATIONS) or app == "scale" or op == "norm":
                return _call_forward, _unchanged_backward
            if op in ("activation", "gate_activation", "relu6"):
                if type(layer).__name__ in ("Relu", "Relu6", "Sigmoid", "HardSigmoid", "Softplus"):
                    nonneg.add(out)
                return _call_forward, _unchanged_backward
            if all_nonneg:
                nonneg.add(out)
            if isinstance(layer, GRADIENT_ROUTED) or op == "route":
                return _call_forward, _gradient_backward
            if isinstance(layer, keras.layers.UpSampling2D):
                if layer.interpolation == "nearest":
                    return _call_forward, _gradient_backward
                nonneg.discard(out)  # bilinear/bicubic weights can be negative
                return _call_forward, _average_pool_backward
            if isinstance(layer, AVERAGE_POOLING) or op == "linear":
                return _call_forward, _average_pool_backward
            if isinstance(layer, keras.layers.Add) or (op == "add" and len(step.inputs) > 1):
                return _call_forward, _sum_rule((1.0,) * len(step.inputs))
            if app == "scaled_add" and len(step.inputs) == 2:
                return _call_forward, _scaled_add_backward
            nonneg.discard(out)
            if isinstance(layer, keras.layers.Subtract) or (op == "subtract" and len(step.inputs) == 2):
                return _call_forward, _sum_rule((1.0, -1.0))
            if self._is_affine_op(step, op):
                return _call_forward, _unchanged_backward
            if isinstance(layer, keras.layers.Multiply) or (op == "multiply" and len(step.inputs) > 1):
                return _call_forward, _route_to(self._gated_factor(step), len(step.inputs))
            if isinstance(layer, keras.layers.BatchNormalization):
                return _call_forward, _batch_norm_backward
            raise layer_error(layer, self.method, self._where(step))
        if self.mode == "deep_taylor":
            return self._deep_taylor_step(step, rules, raw, parts, op, app)
        # guided backprop / deconvnet: plain gradient except at ReLUs
        if parts is not None:
            act = parts[-1].activation
            if not (is_linear_activation(act) or is_relu(act)):
                self.non_relu.append(f"{layer.name} (activation {getattr(act, '__name__', act)})")
            return _kernel_forward(parts), self._relu_kernel_backward(parts)
        if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)) and is_relu(layer):
            return _call_forward, self._relu_layer_backward()
        if isinstance(layer, ACTIVATIONS) and not (
            isinstance(layer, keras.layers.Activation) and is_linear_activation(layer.activation)
        ):
            self.non_relu.append(f"{layer.name} ({type(layer).__name__})")
        return _call_forward, _gradient_backward

    # ------------------------------------------------------------------ products, gates, constants

    @staticmethod
    def _is_affine_op(step: Step, op: str | None) -> bool:
        """A ``keras.ops`` add/subtract/multiply/divide of one tensor by constants, or a negation."""
        if op == "negative":
            return True
        if op not in ("add", "subtract", "multiply", "divide") or len(step.inputs) != 1:
            return False
        operands = step.operands()
        if op == "divide" and (not operands or operands[0][0] != "tensor"):
            return False  # constant / x is not affine in x
        return True

    def _track_gates(self, step: Step, op: str | None) -> None:
        """Record which tensors are gates (sigmoid-like outputs) and ReLU6 outputs, and who made each tensor."""
        layer = step.layer
        out = step.outputs[0]
        self.producer[out] = f"{getattr(layer, 'name', layer)!r} ({type(layer).__name__})"
        parts = kernel_layers(layer)
        gate = False
        if parts is not None:
            gate = is_gate_activation(parts[-1].activation)
            if is_relu6(parts[-1].activation):
                self.relu6.add(out)
        elif isinstance(layer, keras.layers.Activation) and is_gate_activation(layer):
            gate = True
        elif op == "gate_activation":
            gate = True
        elif (isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)) and is_relu6(layer)) or op == "relu6":
            self.relu6.add(out)
        elif op in ("multiply", "divide") and len(step.inputs) == 1 and step.inputs[0] in self.relu6:
            constants = [v for kind, v in step.operands() if kind == "constant"]
            target = 1.0 / 6.0 if op == "multiply" else 6.0
            position_ok = op == "multiply" or step.operands()[0][0] == "tensor"
            gate = position_ok and len(constants) == 1 and _all_close_to(constants[0], target)
        elif len(step.inputs) == 1 and step.inputs[0] in self.gates and (
            isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten, keras.layers.Permute))
            or (op == "route" and type(layer).__name__ in ("Reshape", "ExpandDims", "Squeeze", "BroadcastTo", "Transpose"))
        ):
            gate = True
        if gate:
            self.gates.add(out)

    def _gated_factor(self, step: Step) -> int:
        """The index of the factor that gets the relevance of a product (the others must be gates)."""
        free = [i for i, key in enumerate(step.inputs) if key not in self.gates]
        if len(free) > 1:
            layer = step.layer
            factors = ", ".join(self.producer.get(step.inputs[i], "the model input") for i in free)
            raise UnsupportedLayerError(
                f"{self.method} has no rule for the product {getattr(layer, 'name', layer)!r} of class "
                f"{type(layer).__name__}: it multiplies non-constant tensors (from {factors}) none of which is a gate "
                "(the output of a sigmoid or hard sigmoid, which LRP treats as a constant); products of two "
                "non-constant tensors (attention) have no LRP rule: use a gradient-based method for this model"
            )
        return free[0] if free else 0

    def _where(self, step: Step) -> str:
        sources = ", ".join(self.producer.get(k, "the model input") for k in step.inputs)
        return f"fed by {sources}" if sources else ""

    @staticmethod
    def _lrp_kernel_backward(parts: tuple[KernelLayer, ...], part_rules: list[LRPRule], nonneg: bool) -> Backward:
        def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
            part_inputs, part_z_nb, _ = aux
            for i in reversed(range(len(parts))):
                rule = part_rules[i]
                r = apply_rule(rule.name, rule.params, parts[i], part_inputs[i], part_z_nb[i], r, nonneg and i == 0)
            return [r]

        return backward

    def _deep_taylor_step(self, step: Step, rules, raw: set, parts, op, app) -> tuple[Forward, Backward]:
        """DeepTaylor (docs/semantics.md §4.4): kernel layers ZPlus when they feed a ReLU (fused or the next
        layer), WSquare otherwise; ReLU, pooling, sums and layout layers the plain gradient; batch norm
        WSquare on its affine map; the input rule (BoundedDeepTaylor) on input layers; anything else raises."""
        layer = step.layer
        if parts is not None:
            act = parts[-1].activation
            fused_relu = is_relu(act)
            if not (fused_relu or is_linear_activation(act)):
                raise layer_error(layer, self.method, self._where(step))
            feeds_relu = fused_relu or step.outputs[0] in self.relu_fed
            part_rules = []
            for i, k in enumerate(parts):
                is_input = i == 0 and step.inputs[0] in raw
                last = i == len(parts) - 1
                default = LRPRule("z_plus", {}) if (last and feeds_relu) else LRPRule("w_square", {})
                rule = rules.input if (is_input and rules is not None and rules.input is not None) else default
                self.rules_used[k.name] = rule
                if is_input and rules is not None and rules.input is not None:
                    self.input_layers.append(k.name)
                part_rules.append(rule)
            inner = self._lrp_kernel_backward(parts, part_rules, False)
            if not fused_relu:
                return _kernel_forward(parts), inner

            def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
                z = aux[2]  # the pre-activation: the fused ReLU passes the gradient where z > 0
                return inner(step, ins, outs, aux, tf.where(z > 0, r, tf.zeros_like(r)))

            return _kernel_forward(parts), backward
        if _is_relu_layer(layer):
            return _call_forward, _gradient_backward
        if isinstance(layer, keras.layers.BatchNormalization):
            return _call_forward, _deep_taylor_batch_norm_backward
        if isinstance(layer, PASS_THROUGH) and not isinstance(layer, ACTIVATIONS):
            return _call_forward, _pass_backward
        routed = (
            isinstance(layer, GRADIENT_ROUTED + AVERAGE_POOLING + (keras.layers.Add, keras.layers.UpSampling2D))
            or op in ("route", "linear")
            or (op == "add" and len(step.inputs) > 1)
        )
        if routed:
            return _call_forward, _gradient_backward
        raise layer_error(layer, self.method, self._where(step))

    def _relu_kernel_backward(self, parts: tuple[KernelLayer, ...]) -> Backward:
        mode = self.mode

        def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
            part_inputs, _, z = aux
            act = parts[-1].activation
            if is_relu(act):
                g = _relu_signal(mode, r, z)
            elif is_linear_activation(act):
                g = r
            else:
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(z)
                    y = act(z)
                g = tape.gradient(y, z, output_gradients=r)
            for k, a in zip(reversed(parts), reversed(part_inputs)):
                g = vjp(k, a, g, k.kernel)
            return [g]

        return backward

    def _relu_layer_backward(self) -> Backward:
        mode = self.mode

        def backward(step: Step, ins: list, outs: list, aux: Any, r: tf.Tensor) -> list:
            return [_relu_signal(mode, r, ins[0])]

        return backward

    def compiled(self, x: tf.Tensor) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
        """The traced :meth:`run` for inputs of ``x``'s dtype and per-sample shape, any batch size.

        Its signature is ``(x, targets, use_argmax, logit_seed)``, all tensors: ``x`` with an open
        batch axis, ``targets`` int64 of shape (N,), the two flags scalar booleans. So neither a new
        batch size nor new targets (nor switching between given targets and the argmax, or between
        the logit and the unit seed) trace again; a new dtype or per-sample shape gets its own
        function, traced once.
        """
        key = (x.dtype.name, tuple(x.shape[1:]))
        fn = self._compiled.get(key)
        if fn is None:
            signature = (
                tf.TensorSpec((None,) + key[1], x.dtype),
                tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((), tf.bool),
                tf.TensorSpec((), tf.bool),
            )
            fn = self._compiled[key] = tf.function(self.run, input_signature=signature)
        return fn

    def tracing_count(self) -> int:
        """How many times this plan's pass has been traced (over all its dtypes and sample shapes)."""
        return sum(int(fn.experimental_get_tracing_count()) for fn in self._compiled.values())

    def run(self, x: tf.Tensor, targets: tf.Tensor, use_argmax: tf.Tensor, logit_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Forward replay and one backward walk; returns (map at the input, logits).

        ``use_argmax`` (scalar bool): take the argmax of the logits instead of ``targets``;
        ``logit_seed`` (scalar bool): seed with the selected logit value instead of 1.
        """
        graph = self.graph
        values: dict[Hashable, tf.Tensor] = {graph.input: x}
        records = []
        for step, fwd in zip(graph.steps, self.forward):
            ins = [values[key] for key in step.inputs]
            outs, aux = fwd(step, ins)
            for key, value in zip(step.outputs, outs):
                values[key] = value
            records.append((ins, outs, aux))
        logits = values[graph.output]
        targets = tf.where(use_argmax, tf.argmax(logits, axis=1, output_type=tf.int64), targets)
        seed = tf.one_hot(targets, tf.shape(logits)[1], dtype=logits.dtype)
        seed = tf.where(logit_seed, seed * logits, seed)
        if self.mode == "deep_taylor":  # DeepTaylor starts from max(f_c(x), 0)
            seed = tf.nn.relu(seed)
        relevance: dict[Hashable, tf.Tensor] = {graph.output: seed}
        for step, bwd, (ins, outs, aux) in zip(reversed(graph.steps), reversed(self.backward), reversed(records)):
            key = step.outputs[0]
            if key not in relevance:
                continue
            r_ins = bwd(step, ins, outs, aux, relevance.pop(key))
            for in_key, r_in in zip(step.inputs, r_ins):
                if r_in is None:
                    continue
                relevance[in_key] = relevance[in_key] + r_in if in_key in relevance else r_in
        result = relevance.get(graph.input)
        if result is None:
            result = tf.zeros_like(x)
        return result, logits


_CACHE: "weakref.WeakKeyDictionary[keras.Model, OrderedDict]" = weakref.WeakKeyDictionary()
#: plans kept per model (least recently used dropped): each holds a traced tf.function, which on a large
#: model is hundreds of MB; a sweep over 66 methods of NASNetMobile grew to 17 GB with an unbounded cache
PLANS_PER_MODEL = 8


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "numpy"):
        arr = np.asarray(value)
        return ("array", arr.shape, arr.dtype.str, arr.tobytes())
    return value


def _rules_key(rules: LRPRuleSet | None) -> Hashable:
    if rules is None:
        return None
    kinds = tuple(None if r is None else (r.name, _hashable(r.params)) for r in (rules.dense, rules.conv, rules.input))
    layers = tuple(sorted((name, r.name, _hashable(r.params)) for name, r in rules.layers.items()))
    return kinds + (layers,)


def lrp_plan(model: keras.Model, mode: str = "lrp", rules: LRPRuleSet | None = None, method: str = "LRP") -> _Plan:
    """Build (or fetch from the cache) the plan of ``model`` for a mode and rule set.

    Raises
    ------
    shared_spec.UnsupportedLayerError
        Naming the first layer without a rule (LRP) or an unsupported model structure.
    """
    key = (mode, _rules_key(rules))
    per_model = _CACHE.setdefault(model, OrderedDict())
    if key in per_model:
        per_model.move_to_end(key)
    else:
        while len(per_model) >= PLANS_PER_MODEL:
            per_model.popitem(last=False)
        plan = _Plan(model, mode, rules, method)
        per_model[key] = plan
        if plan.non_relu:
            warnings.warn(
                f"{method}: the model has non-ReLU activations, which get the plain gradient "
                f"(only ReLUs are modified): {', '.join(plan.non_relu[:5])}"
                + (" ..." if len(plan.non_relu) > 5 else ""),
                stacklevel=4,
            )
        if mode == "lrp" and rules is not None and rules.input is not None and not plan.input_layers:
            warnings.warn(
                f"{method}: the input-layer rule {rules.input.name!r} was not applied: no Dense/convolution layer is "
                "fed directly by the model input (only layout changes, zero padding and element-wise affine maps "
                "with constants are looked through, docs/semantics.md §4.3)",
                stacklevel=4,
            )
    return per_model[key]


def _run(model: keras.Model, x: tf.Tensor, target: Any, plan: _Plan, logit_seed: bool) -> tf.Tensor:
    out_shape = tuple(model.outputs[0].shape)
    n = int(x.shape[0])
    if len(out_shape) != 2:
        resolve_targets(target, np.zeros((n,) + tuple(d or 1 for d in out_shape[1:]), np.float32))
    targets, use_argmax = target_inputs(target, n, out_shape[1] or 1)
    x = tf.convert_to_tensor(x)
    with quiet_retracing():
        result, logits = plan.compiled(x)(x, targets, use_argmax, tf.constant(bool(logit_seed)))
    warn_if_probabilities(logits, stacklevel=4)
    return result


def lrp(
    model: keras.Model,
    x: tf.Tensor,
    target: Any,
    rules: LRPRuleSet,
    initial_relevance: str = parameter_default("initial_relevance"),
    method: str = "LRP",
) -> tf.Tensor:
    """Layer-wise relevance propagation of a batch (docs/semantics.md §4).

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional model returning logits (no final softmax).
    x : tf.Tensor
        A batch in the model's layout.
    target : None, int or sequence of int
        The class per sample (None: argmax of the logits).
    rules : shared_spec.LRPRuleSet
        The rules per kernel-layer kind and for the input layer(s) (``MethodSpec.lrp_rules()``).
    initial_relevance : {"logit", "one"}
        Start from the selected logit value f_c(x) (default) or from 1.
    method : str
        Name used in error messages.

    Returns
    -------
    tf.Tensor
        The relevance at the input, ``x``'s shape.

    Raises
    ------
    shared_spec.UnsupportedLayerError
        For a layer without an LRP rule (the message names the layer and its class).
    """
    initial_relevance = check_parameter("initial_relevance", initial_relevance, method)
    plan = lrp_plan(model, "lrp", rules, method)
    return _run(model, x, target, plan, initial_relevance == "logit")


def deep_taylor(
    model: keras.Model, x: tf.Tensor, target: Any, input_rule: LRPRule | None = None, method: str = "deep_taylor"
) -> tf.Tensor:
    """DeepTaylor decomposition of a batch (docs/semantics.md §4.4); ``input_rule`` on the input
    layer(s) (``LRPRule("bounded", {"low": ..., "high": ...})`` for BoundedDeepTaylor).

    Raises
    ------
    shared_spec.UnsupportedLayerError
        For a layer DeepTaylor has no rule for (activations other than ReLU, gates, normalisations).
    """
    placeholder = LRPRule("w_square", {})  # DeepTaylor decides per layer; only the input rule is taken
    plan = lrp_plan(model, "deep_taylor", LRPRuleSet(placeholder, placeholder, input_rule), method)
    return _run(model, x, target, plan, True)


def modified_relu_gradient(model: keras.Model, x: tf.Tensor, target: Any, mode: str) -> tf.Tensor:
    """The gradient of the selected logit with the ReLU backward replaced (docs/semantics.md §3), unit seed.

    Parameters
    ----------
    mode : {"guided_backprop", "deconvnet"}
        ``guided_backprop``: g -> 1[z > 0] max(g, 0) at every ReLU; ``deconvnet``: g -> max(g, 0).
    """
    if mode not in ("guided_backprop", "deconvnet"):
        raise ValueError(f"mode must be 'guided_backprop' or 'deconvnet', got {mode!r}")
    plan = lrp_plan(model, mode, None, mode)
    return _run(model, x, target, plan, False)
