"""Integrated gradients, SmoothGrad, VarGrad and Grad-CAM agree on converted twins (SPEC §5).

signxai_tf on a Keras model and signxai_captum on ``keras_to_torch`` of it, same weights, same
targets, same seed (the noise is shared numpy noise): maps equal to 1e-4 of their max |value|.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import signxai_captum  # noqa: E402
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402

BIAS = keras.initializers.RandomNormal(stddev=0.3, seed=7)
TOLERANCE = 1e-4


def mlp():
    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(16, activation="relu", bias_initializer=BIAS),
        keras.layers.Dense(16, activation="tanh", bias_initializer=BIAS),
        keras.layers.Dense(4, activation="softmax", bias_initializer=BIAS),
    ])


def cnn2d():
    return keras.Sequential([
        keras.Input((12, 10, 2)),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, padding="valid", activation="relu", bias_initializer=BIAS),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


def cnn2d_separate_relu():
    inp = keras.Input((9, 9, 3))
    h = keras.layers.Conv2D(5, 3, padding="same", bias_initializer=BIAS)(inp)
    h = keras.layers.ReLU()(h)
    h = keras.layers.AveragePooling2D(2)(h)
    h = keras.layers.Conv2D(6, 3, padding="same", bias_initializer=BIAS)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, bias_initializer=BIAS)(h)
    return keras.Model(inp, keras.layers.Softmax()(out))


def cnn1d():
    return keras.Sequential([
        keras.Input((24, 3)),
        keras.layers.Conv1D(8, 5, activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(8, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


ARCHITECTURES = {
    "mlp": (mlp, (3, 10), None),
    "cnn2d": (cnn2d, (3, 12, 10, 2), "grad_cam"),
    "cnn2d_separate_relu": (cnn2d_separate_relu, (3, 9, 9, 3), "grad_cam"),
    "cnn1d": (cnn1d, (3, 24, 3), "grad_cam_timeseries"),
}

METHODS = [
    ("integrated_gradients_steps_8", {}),
    ("integrated_gradients_x_input", {"steps": 5, "batch_size": 4}),
    ("integrated_gradients_x_sign_mu_0_5", {"steps": 1}),
    ("smoothgrad", {"samples": 6, "seed": 3, "batch_size": 4}),
    ("smoothgrad_x_sign", {"samples": 4, "seed": 8, "noise_mode": "absolute", "noise": 0.5}),
    ("vargrad", {"samples": 6, "seed": 3}),
    ("vargrad_x_input", {"samples": 5, "seed": 1, "noise": 0.4}),
]


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def twins(request):
    builder, shape, cam = ARCHITECTURES[request.param]
    keras.utils.set_random_seed(11)
    model = builder()
    x = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    x.reshape(-1)[1::11] = 0.5  # exactly mu
    return model, keras_to_torch(model), x, cam


def both(keras_model, torch_model, x, name, tf_params=None, torch_params=None, **params):
    tf_map = signxai_tf.explain(keras_model, x, name, **params, **(tf_params or {}))
    torch_map = signxai_captum.explain(torch_model, to_channels_first(x), name, **params, **(torch_params or {}))
    return tf_map, to_channels_last(np.asarray(torch_map))


@pytest.mark.parametrize("name, params", METHODS, ids=[m[0] for m in METHODS])
def test_gradient_family_same_map_in_both_frameworks(twins, name, params):
    keras_model, torch_model, x, _ = twins
    tf_params = torch_params = None
    if name.startswith("integrated_gradients") and params.get("steps") != 1:
        baseline = np.random.default_rng(2).normal(size=x.shape[1:]).astype(np.float32) * 0.2  # one sample, broadcast
        tf_params = {"baseline": baseline}
        torch_params = {"baseline": to_channels_first(baseline[None])[0] if x.ndim > 2 else baseline}
    tf_map, torch_map = both(keras_model, torch_model, x, name, tf_params, torch_params, target=[0, 2, 3], **params)
    _check(tf_map, torch_map)


def _check(tf_map, torch_map):
    scale = np.abs(tf_map).max()
    assert scale > 0
    assert tf_map.shape == torch_map.shape
    difference = np.abs(torch_map - tf_map).max()
    assert difference <= TOLERANCE * scale, f"max difference {difference:.3g} = {difference / scale:.3g} of max |map|"


def test_grad_cam_same_map_in_both_frameworks(twins):
    keras_model, torch_model, x, cam = twins
    if cam is None:
        pytest.skip("no convolution")
    tf_map, torch_map = both(keras_model, torch_model, x, cam, target=[1, 0, 3])
    _check(tf_map, torch_map)
    tf_map, torch_map = both(keras_model, torch_model, x, cam)  # default targets
    _check(tf_map, torch_map)
