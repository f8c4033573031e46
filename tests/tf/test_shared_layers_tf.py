"""Keras models whose layers are also used by another model (the transfer-learning pattern).

A functional model built from the layers of a Sequential model calls every layer a second time:
``layer.input`` / ``layer.output`` then belong to the first model only. Every method must explain
both models, and give the maps of an independent copy of the same network (separate layers, the
same weights).
"""

from __future__ import annotations

import warnings

import torch  # noqa: F401  (torch before TensorFlow, see docs/conventions.md)

import keras
import numpy as np
import pytest

import signxai_tf
from signxai_tf.lrp._graph import calls, output_call
from signxai_tf._softmax import output_layer, remove_softmax


def _sequential() -> keras.Sequential:
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="block5_conv3"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(5, 3, name="conv_b"),
            keras.layers.ReLU(name="relu_b"),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu", name="dense_a"),
            keras.layers.Dense(4, activation="softmax", name="head"),
        ],
        name="base",
    )


@pytest.fixture(scope="module")
def models():
    seq = _sequential()
    # a functional model over the same layer objects (every layer now has two calls)
    inputs = keras.Input((10, 10, 3))
    h = inputs
    for layer in seq.layers:
        h = layer(h)
    shared = keras.Model(inputs, h, name="shared")
    # an independent copy: own layers, same weights
    copy = keras.models.clone_model(seq)
    copy.set_weights(seq.get_weights())
    return seq, shared, copy


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 10, 10, 3)).astype("float32")


def test_graph_calls_are_the_models_own(models):
    seq, shared, _ = models
    for model in (seq, shared):
        own = calls(model)
        assert [c.layer.name for c in own] == [l.name for l in seq.layers]
        assert all(len(c.layer._inbound_nodes) == 2 for c in own)
        # each call's output belongs to this model's graph: the last one is the model's output
        assert own[-1].outputs[0] is model.outputs[0]
        assert output_call(model).layer is seq.layers[-1]
        assert output_layer(model) is seq.layers[-1]
    assert calls(seq)[0].outputs[0] is not calls(shared)[0].outputs[0]


def test_remove_softmax_on_shared_output_layer(models, x):
    seq, shared, copy = models
    for model in (seq, shared):
        logits = remove_softmax(model)
        assert logits is not model
        expected = remove_softmax(copy)(x).numpy()
        np.testing.assert_allclose(logits(x).numpy(), expected, rtol=1e-5, atol=1e-6)
        # the logits, not probabilities
        assert not np.allclose(logits(x).numpy().sum(axis=1), 1.0)


def _explain(model, x, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return signxai_tf.explain(model, x, name, target=[1, 2], seed=0) if _has_seed(name) else signxai_tf.explain(
                model, x, name, target=[1, 2]
            )
        except (ValueError, NotImplementedError) as error:
            return type(error)


def _has_seed(name: str) -> bool:
    return name.startswith(("smoothgrad", "vargrad"))


@pytest.mark.parametrize("name", signxai_tf.supported_methods())
def test_every_method_on_models_sharing_layers(models, x, name):
    seq, shared, copy = models
    expected = _explain(copy, x, name)
    for model in (seq, shared):
        got = _explain(model, x, name)
        if isinstance(expected, type):  # an expected refusal (e.g. grad_cam_timeseries on images)
            assert got is expected, f"{name}: the independent copy raises {expected.__name__}, got {got!r}"
            continue
        assert not isinstance(got, type), f"{name} failed on {model.name!r} with {got.__name__}"
        scale = max(float(np.abs(expected).max()), 1e-12)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale, err_msg=f"{name} on {model.name!r}")


def test_refusals_are_only_the_expected_ones(models, x):
    _, _, copy = models
    refused = [n for n in signxai_tf.supported_methods() if isinstance(_explain(copy, x, n), type)]
    assert refused == ["grad_cam_timeseries"]


def test_grad_cam_layer_called_twice_in_one_model_is_refused(x):
    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="twice")
    inputs = keras.Input((10, 10, 3))
    h = conv(conv(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h)))
    with pytest.raises(ValueError, match="called 2 times"):
        signxai_tf.explain(model, x, "grad_cam", layer="twice")
