"""signxai_tf: the gradient family against plain GradientTape and hand-derived cases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import signxai_tf  # noqa: E402
from shared_spec import MethodNameError  # noqa: E402
from signxai_tf import explain, remove_softmax  # noqa: E402

METHODS = {
    "gradient": lambda g, x: g,
    "gradient_x_input": lambda g, x: g * x,
    "input_t_gradient": lambda g, x: g * x,
    "gradient_x_sign": lambda g, x: g * np.where(x >= 0, 1.0, -1.0),
    "gradient_x_sign_mu": lambda g, x: g * np.where(x >= 0, 1.0, -1.0),
    "gradient_x_sign_mu_0_5": lambda g, x: g * np.where(x >= 0.5, 1.0, -1.0),
    "gradient_x_sign_mu_neg_0_5": lambda g, x: g * np.where(x >= -0.5, 1.0, -1.0),
}


def mlp(softmax: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu", bias_initializer="random_normal"),
        keras.layers.Dense(16, activation="tanh", bias_initializer="random_normal"),
        keras.layers.Dense(4, activation="softmax" if softmax else None, bias_initializer="random_normal"),
    ])


def cnn() -> keras.Model:
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", bias_initializer="random_normal")(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(8, 3)(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(5)(h)
    return keras.Model(inp, out)


def inputs(shape, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    x.reshape(-1)[::7] = 0.0
    return x


def tape_reference(model: keras.Model, x: np.ndarray, targets) -> np.ndarray:
    """One sample at a time, plain GradientTape on the logit."""
    out = []
    for i in range(x.shape[0]):
        xi = tf.constant(x[i : i + 1])
        with tf.GradientTape() as tape:
            tape.watch(xi)
            logit = model(xi, training=False)[0, int(targets[i])]
        out.append(tape.gradient(logit, xi).numpy()[0])
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("builder, shape", [(mlp, (5, 6)), (cnn, (4, 8, 8, 3))])
def test_against_gradient_tape_per_sample(name, builder, shape):
    model = builder()
    x = inputs(shape)
    targets = np.arange(shape[0]) % 4
    expected = METHODS[name](tape_reference(model, x, targets), x)
    got = explain(model, x, name, target=targets)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_linear_model_hand_derived():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([np.array([[1.0, 0.5], [-2.0, 0.25], [3.0, -1.0]]), np.array([0.1, -0.2])])
    x = np.array([[0.0, -1.0, 2.0], [0.5, 0.4, -3.0]], dtype=np.float32)
    np.testing.assert_array_equal(explain(model, x, "gradient", target=0), [[1, -2, 3], [1, -2, 3]])
    np.testing.assert_array_equal(explain(model, x, "gradient_x_sign", target=1), [[0.5, -0.25, -1], [0.5, 0.25, 1]])
    np.testing.assert_array_equal(explain(model, x, "gradient_x_sign_mu_0_5", target=0), [[-1, 2, 3], [1, 2, -3]])
    np.testing.assert_allclose(explain(model, x, "gradient_x_input", target=0), [[0, 2, 6], [0.5, -0.8, -9]], rtol=1e-6)


@pytest.mark.parametrize("target", [2, [2, 2, 2], (2,), np.array([2, 2, 2]), "tensor"])
def test_target_forms(target):
    model = mlp()
    x = inputs((3, 6))
    if isinstance(target, str):
        target = tf.constant([2, 2, 2])
    np.testing.assert_allclose(explain(model, x, "gradient", target=target), tape_reference(model, x, [2, 2, 2]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("target, message", [(4, "out of range"), ([0, 1], "batch has 3"), (-1, "out of range"), (1.5, "int")])
def test_bad_targets(target, message):
    with pytest.raises((ValueError, TypeError), match=message):
        explain(mlp(), inputs((3, 6)), "gradient", target=target)


@pytest.mark.parametrize("style", ["fused", "layer", "activation"])
def test_softmax_is_removed_without_touching_the_model(style):
    logits = mlp()
    if style == "fused":
        model = mlp(softmax=True)
    else:
        last = keras.layers.Softmax() if style == "layer" else keras.layers.Activation("softmax")
        model = keras.Sequential([keras.Input((6,)), *logits.layers, last])
    x = inputs((3, 6))
    weights = [w.copy() for w in model.get_weights()]
    stripped = remove_softmax(model)
    np.testing.assert_allclose(stripped(x).numpy(), logits(x).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(explain(model, x, "gradient", target=1), explain(logits, x, "gradient", target=1), rtol=1e-5, atol=1e-7)
    # the user's model still ends with its softmax, with the same weights
    np.testing.assert_allclose(model(x).numpy().sum(axis=1), 1.0, rtol=1e-5)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert remove_softmax(logits) is logits


def test_bad_inputs():
    model = cnn()
    with pytest.raises(ValueError, match="channels-last"):
        explain(model, inputs((1, 3, 8, 8)), "gradient")
    with pytest.raises(ValueError, match="x\\[None\\]"):
        explain(model, inputs((8, 8, 3)), "gradient")
    with pytest.raises(TypeError, match="numeric"):
        explain(mlp(), np.array([["a"] * 6]), "gradient")
    with pytest.raises(MethodNameError, match="gradient_x_sign"):
        explain(model, inputs((1, 8, 8, 3)), "gradient_x_sing")


def test_sign_helpers():
    np.testing.assert_array_equal(signxai_tf.sign(tf.constant([-1.0, 0.0, 2.0])).numpy(), [-1, 1, 1])
    np.testing.assert_array_equal(signxai_tf.sign_mu(tf.constant([-1.0, 0.5, 0.49]), 0.5).numpy(), [-1, 1, -1])


def test_importing_signxai_tf_does_not_import_torch():
    code = "import sys, signxai_tf; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _tape_gradient(model, x, targets):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        selected = tf.gather(model(xt), targets, axis=1, batch_dims=1)
    return tape.gradient(selected, xt).numpy()


def test_the_compiled_gradient_is_traced_once_per_model():
    """One tf.function per model: a new batch size, a new target or the argmax do not retrace."""
    from signxai_tf._methods.gradient import _COMPILED

    model = mlp()
    rng = np.random.default_rng(3)
    for n, target in [(3, None), (5, 2), (1, [1]), (7, None), (2, [0, 3])]:
        x = rng.normal(size=(n, 6)).astype(np.float32)
        targets = np.argmax(model(x).numpy(), 1) if target is None else np.broadcast_to(target, (n,))
        np.testing.assert_allclose(explain(model, x, "gradient", target=target), _tape_gradient(model, x, targets), rtol=1e-5, atol=1e-7)
    assert _COMPILED[model].experimental_get_tracing_count() == 1


class _PythonBranching(keras.layers.Layer):
    """A layer that branches in Python on a tensor value: tf.function cannot trace it."""

    def call(self, x):
        if float(tf.reduce_sum(x)) > 1e9:  # needs a concrete value
            return x * 2.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_a_model_that_cannot_be_traced_gets_the_eager_gradient():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3)(_PythonBranching()(keras.layers.Dense(4)(inp))))
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(explain(model, x, "gradient", target=1), _tape_gradient(model, x, np.array([1, 1])), rtol=1e-6)
    from signxai_tf._methods.gradient import _COMPILED

    assert _COMPILED[model] is None  # the tracing failed and the eager pass was used
