"""signxai_tf guided backprop / deconvnet / guided Grad-CAM against a manual numpy backward pass,
and the layer-graph reader (the module with private Keras API)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from signxai_tf import explain  # noqa: E402
from signxai_tf.lrp._graph import trace  # noqa: E402
from signxai_tf._methods.grad_cam import grad_cam  # noqa: E402


def dense_relu_net() -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(6, activation="relu", bias_initializer="random_normal"),
        keras.layers.Dense(6, bias_initializer="random_normal"),
        keras.layers.ReLU(),
        keras.layers.Dense(3, bias_initializer="random_normal"),
    ])


def manual(model: keras.Model, x: np.ndarray, target: int, mode: str) -> np.ndarray:
    """Literal backward through Dense-ReLU-Dense-ReLU-Dense in numpy."""
    d1, d2, d3 = (layer for layer in model.layers if isinstance(layer, keras.layers.Dense))
    W1, b1, W2, b2, W3, b3 = (w.astype(np.float64) for d in (d1, d2, d3) for w in d.get_weights())
    z1 = x @ W1 + b1
    z2 = np.maximum(z1, 0) @ W2 + b2
    g = W3[:, target].copy()  # d f_c / d relu(z2)

    def relu_back(g, z):
        if mode == "gradient":
            return g * (z > 0)
        g = np.maximum(g, 0)
        return g * (z > 0) if mode == "guided_backprop" else g

    g = relu_back(g, z2) @ W2.T
    return relu_back(g, z1) @ W1.T


@pytest.mark.parametrize("mode", ["guided_backprop", "deconvnet"])
def test_against_manual_backward(mode):
    model = dense_relu_net()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    x[0, 0] = 0.0
    targets = [0, 1, 2, 1]
    got = explain(model, x, mode, target=targets)
    expected = np.stack([manual(model, x[i].astype(np.float64), t, mode) for i, t in enumerate(targets)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    sign = np.where(x >= 0.5, 1.0, -1.0)
    np.testing.assert_allclose(explain(model, x, f"{mode}_x_sign_mu_0_5", target=targets), expected * sign, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(explain(model, x, f"{mode}_x_input", target=targets), expected * x, rtol=1e-5, atol=1e-6)
    # the plain gradient through the same manual code agrees with the package's gradient
    grad = np.stack([manual(model, x[i].astype(np.float64), t, "gradient") for i, t in enumerate(targets)])
    np.testing.assert_allclose(explain(model, x, "gradient", target=targets), grad, rtol=1e-5, atol=1e-6)


def test_non_relu_activation_warns_once_and_uses_plain_gradient():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5, activation="tanh"),
        keras.layers.Dense(3),
    ])
    x = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = explain(model, x, "guided_backprop", target=0)
        explain(model, x, "guided_backprop", target=1)
    assert sum("non-ReLU" in str(w.message) for w in caught) == 1
    np.testing.assert_allclose(got, explain(model, x, "gradient", target=0), rtol=1e-5, atol=1e-7)


def test_guided_grad_cam_is_grad_cam_times_guided_backprop():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ])
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 2)).astype(np.float32)
    expected = grad_cam(model, tf.constant(x), [2, 0]).numpy() * explain(model, x, "guided_backprop", target=[2, 0])
    np.testing.assert_allclose(explain(model, x, "guided_grad_cam", target=[2, 0]), expected, rtol=1e-5, atol=1e-7)


def test_guided_backprop_accepts_layers_without_lrp_rule():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(3), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = explain(model, x, "deconvnet", target=0)
    # no ReLU anywhere: deconvnet is the plain gradient
    np.testing.assert_allclose(got, explain(model, x, "gradient", target=0), rtol=1e-5, atol=1e-7)


def test_graph_reader_orders_steps_and_inlines_nested_models():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="inner")
    inp = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(inp)
    b = keras.layers.Dense(4, name="b")(inp)
    s = keras.layers.Add(name="add")([a, b])
    out = inner(s)
    graph = trace(keras.Model(inp, out))
    names = [step.layer.name for step in graph.steps]
    assert sorted(names[:2]) == ["a", "b"] and names[2:] == ["add", "inner_dense"]
    add = graph.steps[2]
    assert add.inputs == (graph.steps[0].outputs[0], graph.steps[1].outputs[0]) or add.inputs == (
        graph.steps[1].outputs[0], graph.steps[0].outputs[0])
    assert graph.steps[0].inputs == (graph.input,) and graph.steps[3].outputs == (graph.output,)
    assert graph.steps[3].inputs == add.outputs
    values = [tf.ones((1, 4)), 2 * tf.ones((1, 4))]
    np.testing.assert_allclose(add.call(values)[0].numpy(), 3 * np.ones((1, 4)))
