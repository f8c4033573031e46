"""The private Keras API lives behind one module: ``signxai_tf/lrp/_graph.py``.

Keras 3 has no public API for the calls of a functional model and the tensors between them, so
``signxai_tf.lrp._graph`` reads private attributes (``Functional._nodes_by_depth``,
``KerasTensor._keras_history``, ``Operation._inbound_nodes``, ``keras.src`` classes). These tests
pin the Keras versions that reader was verified with, check that no other module of ``signxai_tf``
or ``signxai_captum`` reads private Keras API, and check the converter built on the shared reader
on a graph with a branch and a nested model.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402
from signxai_tf.lrp import _graph as graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPH = ROOT / "signxai_tf" / "lrp" / "_graph.py"
PACKAGES = ("signxai_tf", "signxai_captum")

#: private Keras attributes that graph.py reads (each must occur there)
USED_BY_GRAPH = ("_nodes_by_depth", "_keras_history", "_inbound_nodes")
#: other private attributes of Keras' models, layers, nodes and tensors (graph.py does not need them)
OTHER_PRIVATE = (
    "_outbound_nodes", "_operations", "_operations_by_depth", "_functional", "_layers", "_input_layers",
    "_output_layers", "_flat_arguments", "_single_positional_tensor", "_build_shapes_dict", "_tracker",
)
#: attributes of Keras' (private) ``Node`` and ``SymbolicArguments`` classes that graph.py reads
NODE_INTERNALS = ("input_tensors", "is_input", "fill_in")


def _major_minor(version: str) -> str:
    match = re.match(r"(\d+)\.(\d+)", version)
    assert match, version
    return f"{match.group(1)}.{match.group(2)}"


def test_installed_keras_is_a_known_version():
    installed = _major_minor(keras.__version__)
    assert installed in graph.KNOWN_KERAS, (
        f"Keras {keras.__version__} is not in signxai_tf.lrp._graph.KNOWN_KERAS {graph.KNOWN_KERAS}: verify the "
        "private-API reader (this file, tests/test_convert.py, tests/test_lrp_tf.py, tests/test_shared_layers_tf.py) "
        "with it and extend KNOWN_KERAS"
    )


def test_known_versions_are_major_minor_and_sorted():
    parsed = [tuple(int(p) for p in v.split(".")) for v in graph.KNOWN_KERAS]
    assert all(len(p) == 2 for p in parsed) and parsed == sorted(parsed)


def test_a_newer_keras_warns_once(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "99.1.0")
    monkeypatch.setattr(graph, "_version_checked", False)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.warns(UserWarning, match="Keras 99.1.0 is newer"):
        graph.trace(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph.trace(model)  # once only
        graph.calls(model)


def test_a_known_keras_does_not_warn(monkeypatch):
    monkeypatch.setattr(keras, "__version__", graph.KNOWN_KERAS[-1] + ".7")
    monkeypatch.setattr(graph, "_version_checked", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph.trace(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))


def _private_uses(path: Path) -> set[str]:
    """Private Keras attributes (as attributes or getattr strings), Node internals and ``keras.src``
    references in a file."""
    names = set(USED_BY_GRAPH) | set(OTHER_PRIVATE)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Attribute) and (node.attr in names or node.attr in NODE_INTERNALS):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in names:
                found.add(node.value)
            if node.value.startswith("keras.src"):
                found.add("keras.src")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras.src"):
            found.add("keras.src")
        elif isinstance(node, ast.Import) and any(a.name.startswith("keras.src") for a in node.names):
            found.add("keras.src")
    return found


def test_graph_py_reads_the_private_attributes_listed_here():
    assert set(USED_BY_GRAPH) | set(NODE_INTERNALS) | {"keras.src"} <= _private_uses(GRAPH)


def test_only_graph_py_touches_private_keras_api():
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert GRAPH in files and len(files) > 10
    offenders = {
        str(p.relative_to(ROOT)): sorted(uses) for p in files if p != GRAPH and (uses := _private_uses(p))
    }
    assert not offenders, f"private Keras API outside signxai_tf/lrp/_graph.py: {offenders}"


def _branch_and_nested_model() -> keras.Model:
    keras.utils.set_random_seed(4)
    L = keras.layers
    sub_in = keras.Input((6, 6, 4))
    sub = keras.Model(sub_in, L.Conv2D(4, 3, padding="same", activation="relu")(L.BatchNormalization()(sub_in)),
                      name="sub")
    inp = keras.Input((6, 6, 3))
    x = L.Conv2D(4, 1, name="stem")(inp)
    y = L.Conv2D(4, 3, padding="same", activation="relu", name="branch")(x)
    x = L.Add(name="skip")([x, y])
    x = sub(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(5, name="head")(x), name="branchy")
    rng = np.random.default_rng(0)
    for weight in model.weights:  # non-trivial batch-norm statistics and biases
        if weight.path.endswith(("moving_variance", "gamma")):
            weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32"))
        elif len(weight.shape) == 1:
            weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    return model


def test_one_reader_for_converter_and_engine():
    model = _branch_and_nested_model()
    assert graph.is_functional(model) and not graph.is_functional(keras.Sequential([keras.Input((2,))]))
    top = [call.layer.name for call in graph.functional_calls(model)]
    # the pooling layer's automatic name depends on how many were built before in this process
    pool = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    assert top == ["stem", "branch", "skip", "sub", pool, "head"]
    skip = graph.functional_calls(model)[2]
    assert len(skip.inputs) == 2 and len(skip.args) == 1 and not skip.kwargs  # Add()([x, y])
    inlined = [step.layer.name for step in graph.trace(model).steps]
    sub_layers = [layer.name for layer in model.get_layer("sub").layers[1:]]
    assert inlined == ["stem", "branch", "skip", *sub_layers, pool, "head"]

    torch_model = keras_to_torch(model)
    x = np.random.default_rng(1).normal(size=(3, 6, 6, 3)).astype("float32")
    with torch.no_grad():
        got = torch_model(torch.from_numpy(to_channels_first(x))).numpy()
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(to_channels_last(got), expected, rtol=1e-5, atol=1e-5)
