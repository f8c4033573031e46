"""The same model in both frameworks (converted twins) gives the same maps (SPEC §5)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import signxai_captum  # noqa: E402
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402

METHODS = [
    "gradient",
    "gradient_x_input",
    "input_t_gradient",
    "gradient_x_sign",
    "gradient_x_sign_mu_0_5",
    "gradient_x_sign_mu_neg_0_5",
    "gradient_x_sign_mu_neg_0_25",
]
BIAS = keras.initializers.RandomNormal(stddev=0.3, seed=7)


def mlp():
    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(16, activation="relu", bias_initializer=BIAS),
        keras.layers.Dense(4, activation="softmax", bias_initializer=BIAS),
    ])


def cnn2d():
    return keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, strides=1, padding="valid", activation="relu", bias_initializer=BIAS),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


def cnn1d():
    return keras.Sequential([
        keras.Input((32, 3)),
        keras.layers.Conv1D(8, 5, activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(8, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


def batchnorm_cnn():
    model = keras.Sequential([
        keras.Input((10, 10, 3)),
        keras.layers.Conv2D(6, 3, bias_initializer=BIAS),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])
    bn = model.layers[1]
    rng = np.random.default_rng(3)
    gamma, beta, mean, var = (rng.normal(size=6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, size=6))
    bn.set_weights([gamma, beta, mean, var])
    return model


def residual():
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=BIAS)(inp)
    r = keras.layers.Conv2D(4, 3, padding="same", bias_initializer=BIAS)(h)
    h = keras.layers.Add()([h, r])
    h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, bias_initializer=BIAS)(h)
    out = keras.layers.Softmax()(out)
    return keras.Model(inp, out)


ARCHITECTURES = {"mlp": (mlp, (3, 10)), "cnn2d": (cnn2d, (3, 12, 12, 2)), "cnn1d": (cnn1d, (3, 32, 3)),
                 "batchnorm": (batchnorm_cnn, (3, 10, 10, 3)), "residual": (residual, (3, 8, 8, 3))}


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def twins(request):
    builder, shape = ARCHITECTURES[request.param]
    keras.utils.set_random_seed(11)
    model = builder()
    x = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::5] = 0.0  # exact zeros
    flat[1::11] = 0.5  # exactly mu
    flat[2::13] = -0.25
    return model, keras_to_torch(model), x


@pytest.mark.parametrize("name", METHODS)
def test_same_map_in_both_frameworks(twins, name):
    keras_model, torch_model, x = twins
    targets = [0, 2, 3]
    tf_map = signxai_tf.explain(keras_model, x, name, target=targets)
    torch_map = signxai_captum.explain(torch_model, to_channels_first(x), name, target=targets)
    torch_map = to_channels_last(torch_map)
    scale = max(np.abs(tf_map).max(), 1e-12)
    assert np.abs(tf_map).max() > 0
    assert np.abs(torch_map - tf_map).max() <= 1e-5 * scale


def test_default_targets_agree(twins):
    keras_model, torch_model, x = twins
    stripped = signxai_captum.remove_softmax(torch_model)
    assert not any(isinstance(m, torch.nn.Softmax) for m in stripped.modules())
    with torch.no_grad():
        logits = stripped(torch.tensor(to_channels_first(x))).numpy()
    np.testing.assert_allclose(logits, signxai_tf.remove_softmax(keras_model)(x).numpy(), rtol=1e-5, atol=1e-5)
    tf_map = signxai_tf.explain(keras_model, x, "gradient")
    torch_map = to_channels_last(signxai_captum.explain(torch_model, to_channels_first(x), "gradient"))
    assert np.abs(torch_map - tf_map).max() <= 1e-5 * np.abs(tf_map).max()
