"""The layer graph of a Keras 3 model as a flat list of steps (the one place that reads private Keras API).

Keras 3 has no public API that lists the calls ("nodes") of a functional model with the tensors
that connect them. This module reads ``Functional._nodes_by_depth``, ``Node.operation``,
``Node.arguments`` (``SymbolicArguments.fill_in``), ``Node.input_tensors`` and ``Node.outputs``
(keras/src/ops/function.py and node.py, Keras 3.x), ``KerasTensor._keras_history`` and
``Operation._inbound_nodes`` (to find the calls of one model when its layers are also called by
another model), and ``keras.src.models.functional.Functional`` (to tell functional models from
subclassed ones); nothing else in signxai_tf or signxai_captum does (``tests/test_keras_private_api.py``
checks it). Sequential models are read through the public ``model.layers``. :func:`trace` inlines
nested models (a model used as a layer), so the TF engine sees one flat graph of layers;
:func:`functional_calls` lists one functional model's own calls in the order Keras runs them (a
nested model is one call), for ``signxai_captum.convert.keras_to_torch``. Both read the graph through
the same private walker.

:data:`KNOWN_KERAS` lists the Keras versions this reader was verified with; on first use a newer
installed Keras gives one warning (not an error).

A layer can be called by several models (a functional model built from the layers of a Sequential
one, a common transfer-learning pattern): then ``layer.input`` / ``layer.output`` are ambiguous (Keras
returns the first call's tensors or raises). :func:`calls` lists the calls of *one* model with the
symbolic tensors of that model's graph; use it instead of ``layer.input`` / ``layer.output``.

Graphs written with tensor arithmetic on KerasTensors (``x + 3.0``, ``inputs + x``) contain
``keras.ops`` operation nodes, whose classes live only in private modules (keras/src/ops/*.py), as do
keras.applications' own small layers (convnext's ``LayerScale``, ``StochasticDepth``):
:func:`op_kind` and :func:`application_layer_kind` classify them by module and class name, and
:meth:`Step.operands` tells tensor operands from constants.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Sequence

import keras
import tensorflow as tf

from shared_spec import UnsupportedLayerError

__all__ = [
    "KNOWN_KERAS",
    "Step",
    "Graph",
    "Call",
    "trace",
    "calls",
    "functional_calls",
    "output_call",
    "is_functional",
    "op_kind",
    "is_reshape_op",
    "application_layer_kind",
]

#: Keras versions (major.minor) whose private graph API (above) this module was verified with:
#: ``tests/test_keras_private_api.py`` and the converter / engine tests pass on each.
#: A Keras upgrade past the last one: re-run those tests, then extend the tuple.
KNOWN_KERAS: tuple[str, ...] = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")

_version_checked = False


def _major_minor(version: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def _check_keras_version() -> None:
    """Warn once if the installed Keras is newer than the newest of :data:`KNOWN_KERAS`."""
    global _version_checked
    if _version_checked:
        return
    _version_checked = True
    installed = _major_minor(getattr(keras, "__version__", ""))
    newest = max(_major_minor(v) for v in KNOWN_KERAS)
    if installed and installed > newest:
        warnings.warn(
            f"Keras {keras.__version__} is newer than the versions whose private graph API signxai_tf.lrp._graph "
            f"was verified with (up to {'.'.join(map(str, newest))}); if reading a model's layer graph fails "
            "or explanations look wrong, please report it",
            UserWarning,
            stacklevel=3,
        )

#: ``keras.ops`` operation classes (keras/src/ops/*.py) that keras.applications-style graphs contain when
#: they are written with tensor arithmetic on KerasTensors, by what the LRP engine does with them.
_OP_KINDS: dict[str, str] = {
    # element-wise arithmetic: affine with a constant operand, else a sum / product rule
    "Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Divide": "divide", "TrueDivide": "divide",
    "Negative": "negative",
    # sigmoid-like activations: their outputs are gates of a product
    "Sigmoid": "gate_activation", "HardSigmoid": "gate_activation",
    "Relu6": "relu6",
    # other activations
    **{name: "activation" for name in (
        "Relu", "Silu", "HardSilu", "Gelu", "Tanh", "Elu", "Selu", "Celu", "LeakyRelu", "Softplus", "Softsign",
        "HardTanh", "Squareplus", "SparsePlus", "Softmax", "LogSoftmax", "LogSigmoid", "Erf",
    )},
    # layout: route like the gradient
    **{name: "route" for name in (
        "Reshape", "Transpose", "ExpandDims", "Squeeze", "BroadcastTo", "Concatenate", "GetItem", "Slice", "Cast",
        "Ravel", "Moveaxis", "Swapaxes", "Tile", "Repeat", "Pad", "Flip", "Roll", "Stack", "Copy", "MaxPool",
        "Max", "Amax", "DepthToSpace", "SpaceToDepth",
    )},
    # linear reductions without bias: the Z rule over the linear map
    **{name: "linear" for name in ("Mean", "Sum", "AveragePool", "AdaptiveAveragePool")},
    # normalisations with data-dependent statistics: relevance passes through
    "LayerNorm": "norm", "RMSNorm": "norm",
}

#: Op kinds that only reshape (no reordering of values across samples, no reduction).
RESHAPE_OPS: frozenset[str] = frozenset({"Reshape", "Transpose", "ExpandDims", "Squeeze", "Ravel", "Moveaxis", "Swapaxes"})

#: keras.applications' own small layers (keras/src/applications/*.py), by class name.
_APPLICATION_LAYERS: dict[str, str] = {
    "LayerScale": "scale",  # convnext: x * gamma (element-wise affine)
    "StochasticDepth": "identity",  # convnext: identity in inference
    "CustomScaleLayer": "scaled_add",  # inception_resnet_v2: inputs[0] + inputs[1] * scale
}


def op_kind(operation: Any) -> str | None:
    """What a ``keras.ops`` operation node is, for the LRP engine; ``None`` for layers and unknown ops.

    Returns one of ``"add"``, ``"subtract"``, ``"multiply"``, ``"divide"``, ``"negative"``,
    ``"gate_activation"`` (sigmoid, hard sigmoid), ``"relu6"``, ``"activation"``, ``"route"``,
    ``"linear"`` (mean, sum, average pooling), ``"norm"``, or ``"unknown_op"`` for any other
    ``keras.ops`` operation.
    """
    if isinstance(operation, keras.layers.Layer):
        return None
    if not type(operation).__module__.startswith("keras.src.ops"):
        return None
    return _OP_KINDS.get(type(operation).__name__, "unknown_op")


def is_reshape_op(operation: Any) -> bool:
    """Whether a ``keras.ops`` node only reshapes its input (reshape, transpose, expand/squeeze dims)."""
    return op_kind(operation) == "route" and type(operation).__name__ in RESHAPE_OPS


def application_layer_kind(layer: Any) -> str | None:
    """The kind of one of keras.applications' own small layers (``"scale"``, ``"identity"``,
    ``"scaled_add"``), else ``None``."""
    if not type(layer).__module__.startswith("keras.src.applications"):
        return None
    return _APPLICATION_LAYERS.get(type(layer).__name__)


@dataclass(frozen=True, eq=False)
class Step:
    """One call of one layer in the model's graph.

    Attributes
    ----------
    layer : keras.layers.Layer or keras.Operation
        The called layer.
    inputs : tuple of hashable
        Keys of the tensors the call consumes, in the flattened order of its arguments.
    outputs : tuple of hashable
        Keys of the tensors it produces.
    """

    layer: Any
    inputs: tuple[Hashable, ...]
    outputs: tuple[Hashable, ...]
    _arguments: Any = field(default=None, repr=False)
    _symbols: tuple[Any, ...] = field(default=(), repr=False)

    def operands(self) -> list[tuple[str, Any]]:
        """The positional arguments of the call: ``("tensor", key)`` or ``("constant", value)``.

        Keyword arguments are left out; for Sequential steps every input is a tensor.
        """
        if self._arguments is None:
            return [("tensor", key) for key in self.inputs]
        by_id = {id(s): k for s, k in zip(self._symbols, self.inputs)}
        out: list[tuple[str, Any]] = []
        for arg in self._arguments.args:
            if id(arg) in by_id:
                out.append(("tensor", by_id[id(arg)]))
            elif isinstance(arg, (list, tuple)) and any(id(a) in by_id for a in arg):
                out.extend(("tensor", by_id[id(a)]) if id(a) in by_id else ("constant", a) for a in arg)
            else:
                out.append(("constant", arg))
        return out

    def call(self, values: Sequence[tf.Tensor], layer: Any = None) -> list[tf.Tensor]:
        """Call ``layer`` (default: the step's layer) on ``values`` with the step's arguments."""
        fn = self.layer if layer is None else layer
        if self._arguments is None:
            out = fn(values[0])
        else:
            args, kwargs = self._arguments.fill_in({id(s): v for s, v in zip(self._symbols, values)})
            out = fn(*args, **kwargs)
        return list(tf.nest.flatten(out))


@dataclass(frozen=True, eq=False)
class Graph:
    """A model as a topologically ordered list of :class:`Step` from ``input`` to ``output``."""

    input: Hashable
    output: Hashable
    steps: tuple[Step, ...]


def _nested_models(layer: Any) -> bool:
    return isinstance(layer, keras.Model)


def _functional_nodes(model: keras.Model) -> list[Any] | None:
    """The nodes (calls) of a functional model's own graph in execution order; ``None`` without a graph.

    The one walker over ``Functional._nodes_by_depth``: deepest nodes first (the order in which
    Keras runs them); nodes of one depth in the order of ``model.operations`` (Keras' traversal
    order), so that the order of the calls agrees with ``model.layers``. The nodes of ``InputLayer``
    are left out.
    """
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None:
        return None
    order = {id(op): i for i, op in enumerate(getattr(model, "operations", None) or model.layers)}
    ordered: list[Any] = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in sorted(nodes_by_depth[depth], key=lambda n: order.get(id(n.operation), len(order))):
            if node.operation and not node.is_input:
                ordered.append(node)
    return ordered


class _Tracer:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.scopes = 0

    def model(self, model: keras.Model, in_key: Hashable) -> Hashable:
        self.scopes += 1
        scope = self.scopes
        if isinstance(model, keras.Sequential):
            key = in_key
            for i, layer in enumerate(model.layers):
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                if _nested_models(layer):
                    key = self.model(layer, key)
                    continue
                out = (scope, "seq", i)
                self.steps.append(Step(layer, (key,), (out,)))
                key = out
            return key
        nodes = _functional_nodes(model)
        if nodes is None:
            raise UnsupportedLayerError(
                f"model {model.name!r} ({type(model).__name__}) is a subclassed model; explanations that "
                "modify the backward pass need a Sequential or functional model whose layer graph can be read"
            )
        inputs = list(tf.nest.flatten(model.inputs))
        outputs = list(tf.nest.flatten(model.outputs))
        if len(inputs) != 1 or len(outputs) != 1:
            raise UnsupportedLayerError(
                f"model {model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "only models with one input and one output are supported"
            )
        keys: dict[int, Hashable] = {id(inputs[0]): in_key}
        for node in nodes:
            symbols = tuple(node.input_tensors)
            if any(id(s) not in keys for s in symbols):
                continue
            in_keys = tuple(keys[id(s)] for s in symbols)
            op = node.operation
            if _nested_models(op):
                if len(in_keys) != 1 or len(node.outputs) != 1:
                    raise UnsupportedLayerError(
                        f"nested model {op.name!r} is called with {len(in_keys)} inputs and returns "
                        f"{len(node.outputs)} outputs; only one input and one output are supported"
                    )
                keys[id(node.outputs[0])] = self.model(op, in_keys[0])
                continue
            out_keys = tuple((scope, id(t)) for t in node.outputs)
            for t, k in zip(node.outputs, out_keys):
                keys[id(t)] = k
            self.steps.append(Step(op, in_keys, out_keys, node.arguments, symbols))
        if id(outputs[0]) not in keys:
            raise ValueError(f"the output of model {model.name!r} is not connected to its input")
        return keys[id(outputs[0])]


def trace(model: keras.Model) -> Graph:
    """Return the layer graph of a Sequential or functional Keras 3 model (nested models inlined).

    Raises
    ------
    shared_spec.UnsupportedLayerError
        For subclassed models and models with several inputs or outputs.
    """
    _check_keras_version()
    tracer = _Tracer()
    in_key = ("input",)
    out_key = tracer.model(model, in_key)
    return Graph(input=in_key, output=out_key, steps=tuple(tracer.steps))


@dataclass(frozen=True, eq=False)
class Call:
    """One call of a layer in one model's own graph (top level: a nested model is one call).

    Attributes
    ----------
    layer : keras.layers.Layer or keras.Operation
        The called layer.
    inputs : tuple of KerasTensor
        The symbolic tensors of this model's graph that the call consumes, in the flattened order
        of its arguments.
    outputs : tuple of KerasTensor
        The symbolic tensors it produces.
    args : tuple
        The positional arguments of the call as written: symbolic tensors (those of ``inputs``)
        and constants, nested as passed (a layer called on a list of tensors has one argument).
    kwargs : mapping
        The keyword arguments of the call.
    """

    layer: Any
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def _call(node: Any) -> Call:
    arguments = node.arguments
    return Call(node.operation, tuple(node.input_tensors), tuple(node.outputs), tuple(arguments.args),
                dict(arguments.kwargs))


def is_functional(model: Any) -> bool:
    """Whether ``model`` is a functional Keras model that runs its own layer graph.

    ``False`` for Sequential models, for subclassed models and for subclasses of the functional
    model class that override ``call`` (their graph need not be what they compute).
    """
    _check_keras_version()
    if isinstance(model, keras.Sequential) or not isinstance(model, keras.Model):
        return False
    try:
        from keras.src.models.functional import Functional
    except ImportError:  # pragma: no cover - a Keras layout this module does not know
        return hasattr(model, "_nodes_by_depth")
    return isinstance(model, Functional) and type(model).call is Functional.call


def functional_calls(model: keras.Model) -> tuple[Call, ...]:
    """The layer calls of a functional model's own graph, in the order Keras runs them.

    Deepest calls first; calls at the same depth in the order of ``model.operations``, so the
    order agrees with ``model.layers``. A nested model is one call (nothing is inlined, unlike
    :func:`trace`); a layer called twice appears twice; the calls of ``InputLayer`` are left out.

    Parameters
    ----------
    model : keras.Model
        A functional model (see :func:`is_functional`).

    Returns
    -------
    tuple of Call
        In topological order (every call after the calls that produce its inputs).

    Raises
    ------
    shared_spec.UnsupportedLayerError
        If ``model`` has no functional graph (Sequential and subclassed models).
    """
    _check_keras_version()
    nodes = _functional_nodes(model)
    if nodes is None:
        raise UnsupportedLayerError(f"cannot read the graph of model {model.name!r} ({type(model).__name__})")
    return tuple(_call(node) for node in nodes)


def _producer(tensor: Any) -> Any:
    """The node that produced a symbolic tensor, or None (model inputs, constants)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index = history[0], history[1]
    nodes = getattr(operation, "_inbound_nodes", None) or ()
    if node_index >= len(nodes):
        return None
    node = nodes[node_index]
    return None if node.is_input else node


def calls(model: keras.Model) -> tuple[Call, ...]:
    """The layer calls of ``model``'s own graph, from the inputs to the outputs.

    Only the calls that connect this model's inputs to its outputs are listed, also when its
    layers are called by other models too; a layer called twice in this model appears twice.
    Works for Sequential and functional models (the graph is walked back from the outputs; for the
    calls of a functional model in Keras' execution order see :func:`functional_calls`).

    Parameters
    ----------
    model : keras.Model
        A built Sequential or functional model with defined inputs and outputs.

    Returns
    -------
    tuple of Call
        In topological order (every call after the calls that produce its inputs).
    """
    _check_keras_version()
    ordered: list[Call] = []
    done: set[int] = set()
    for output in tf.nest.flatten(model.outputs):
        stack: list[tuple[Any, bool]] = [(_producer(output), False)]
        while stack:
            node, expanded = stack.pop()
            if node is None or id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                ordered.append(_call(node))
                continue
            stack.append((node, True))
            for tensor in node.input_tensors:
                parent = _producer(tensor)
                if parent is not None and id(parent) not in done:
                    stack.append((parent, False))
    return tuple(ordered)


def output_call(model: keras.Model) -> Call:
    """The call that produces the (single) output of ``model``.

    Raises
    ------
    ValueError
        If the output is not produced by a layer call (e.g. the model returns its input).
    """
    _check_keras_version()
    output = tf.nest.flatten(model.outputs)[0]
    node = _producer(output)
    if node is None:
        raise ValueError(f"the output of model {model.name!r} is not produced by a layer")
    return _call(node)
