"""The layer graph of a Keras 3 model as a flat list of steps (the one place that reads private Keras API).

Keras 3 has no public API that lists the calls ("nodes") of a functional model with the tensors
that connect them. This module reads ``Functional._nodes_by_depth``, ``Node.operation``,
``Node.arguments`` (``SymbolicArguments.fill_in``), ``Node.input_tensors`` and ``Node.outputs``
(keras/src/ops/function.py and node.py, Keras 3.x) and nothing else in the package does. Sequential
models are read through the public ``model.layers``. Nested models (a model used as a layer) are
inlined, so the engine sees one flat graph of layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import keras
import tensorflow as tf

__all__ = ["Step", "Graph", "trace"]


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
        nodes_by_depth = getattr(model, "_nodes_by_depth", None)
        if nodes_by_depth is None:
            raise NotImplementedError(
                f"model {model.name!r} ({type(model).__name__}) is a subclassed model; explanations that "
                "modify the backward pass need a Sequential or functional model whose layer graph can be read"
            )
        inputs = list(tf.nest.flatten(model.inputs))
        outputs = list(tf.nest.flatten(model.outputs))
        if len(inputs) != 1 or len(outputs) != 1:
            raise NotImplementedError(
                f"model {model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "only models with one input and one output are supported"
            )
        keys: dict[int, Hashable] = {id(inputs[0]): in_key}
        for depth in sorted(nodes_by_depth, reverse=True):
            for node in nodes_by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                symbols = tuple(node.input_tensors)
                if any(id(s) not in keys for s in symbols):
                    continue
                in_keys = tuple(keys[id(s)] for s in symbols)
                op = node.operation
                if _nested_models(op):
                    if len(in_keys) != 1 or len(node.outputs) != 1:
                        raise NotImplementedError(
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
    NotImplementedError
        For subclassed models and models with several inputs or outputs.
    """
    tracer = _Tracer()
    in_key = ("input",)
    out_key = tracer.model(model, in_key)
    return Graph(input=in_key, output=out_key, steps=tuple(tracer.steps))
