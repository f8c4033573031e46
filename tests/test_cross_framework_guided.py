"""Guided backprop, deconvnet and guided Grad-CAM agree on converted twins (SPEC §5).

signxai_tf on a Keras model and signxai_captum on ``keras_to_torch`` of it (same weights, same
targets): maps equal to 1e-4 of their max |value|.
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


def cnn2d():
    inp = keras.Input((10, 10, 2))
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", bias_initializer=BIAS)(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(6, 3, padding="same", bias_initializer=BIAS)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(12, activation="relu", bias_initializer=BIAS)(h)
    out = keras.layers.Dense(4, activation="softmax", bias_initializer=BIAS)(h)
    return keras.Model(inp, out)


def cnn1d():
    return keras.Sequential([
        keras.Input((16, 3)),
        keras.layers.Conv1D(6, 3, activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(6, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


ARCHITECTURES = {"cnn2d": (cnn2d, (3, 10, 10, 2)), "cnn1d": (cnn1d, (3, 16, 3))}
METHODS = [
    "guided_backprop",
    "guided_backprop_x_input",
    "guided_backprop_x_sign_mu_0_5",
    "deconvnet",
    "deconvnet_x_sign",
    "guided_grad_cam",
]


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def twins(request):
    builder, shape = ARCHITECTURES[request.param]
    keras.utils.set_random_seed(13)
    model = builder()
    x = np.random.default_rng(6).normal(size=shape).astype(np.float32)
    x.reshape(-1)[1::11] = 0.5  # exactly mu
    return model, keras_to_torch(model), x


@pytest.mark.parametrize("name", METHODS)
def test_same_map_in_both_frameworks(twins, name):
    keras_model, torch_model, x = twins
    if name == "guided_grad_cam" and x.ndim != 4:
        pytest.skip("guided_grad_cam explains images (signxai_tf refuses time series)")
    for target in ([0, 2, 3], None):
        try:
            tf_map = signxai_tf.explain(keras_model, x, name, target=target)
        except NotImplementedError:
            pytest.skip(f"signxai_tf does not implement {name} yet")
        torch_map = to_channels_last(signxai_captum.explain(torch_model, to_channels_first(x), name, target=target))
        scale = np.abs(tf_map).max()
        assert scale > 0 and tf_map.shape == torch_map.shape
        difference = np.abs(torch_map - tf_map).max()
        assert difference <= 1e-4 * scale, f"{name}: max difference {difference / scale:.3g} of max |map|"
