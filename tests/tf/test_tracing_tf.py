"""signxai_tf LRP engine: what traces its tf.function again and what does not (docs/performance.md).

One plan per (model instance, mode, rule set), one traced pass per plan and input dtype/per-sample
shape. A new batch size, new targets (int, per-sample list, None), the unit seed, new weights
(``set_weights``) must not trace again; a second model instance has its own plan and traces once.
Every map is checked by value: against the same explanation computed on a fresh model with the same
weights (a fresh plan and trace), against per-sample consistency, and against gradient x input.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from shared_spec import parse  # noqa: E402
from signxai_tf import explain  # noqa: E402
from signxai_tf.lrp import lrp, lrp_plan  # noqa: E402

METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_b"]
SHAPE = (12, 12, 3)


def _cnn(seed: int) -> keras.Model:
    """A small functional CNN: conv + batch norm + pooling + residual add + dense (no softmax)."""
    keras.utils.set_random_seed(seed)
    i = keras.Input(SHAPE)
    h = keras.layers.Conv2D(6, 3, activation="relu")(i)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.MaxPooling2D()(h)
    h2 = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(h)
    h = keras.layers.Add()([h, h2])
    h = keras.layers.Flatten()(h)
    o = keras.layers.Dense(5)(h)
    model = keras.Model(i, o)
    bn = model.layers[2]  # non-trivial batch-norm statistics, so the BN rule matters
    rng = np.random.default_rng(seed)
    bn.set_weights([rng.uniform(0.5, 1.5, 6), rng.normal(0, 0.1, 6), rng.normal(0, 0.1, 6), rng.uniform(0.5, 1.5, 6)])
    return model


def _twin(model: keras.Model, seed: int) -> keras.Model:
    """A fresh instance of the same architecture carrying ``model``'s weights."""
    fresh = _cnn(seed)
    fresh.set_weights(model.get_weights())
    return fresh


def _traces(model: keras.Model, method: str) -> int:
    return lrp_plan(model, "lrp", parse(method).lrp_rules(), method).tracing_count()


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n,) + SHAPE).astype(np.float32)


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert np.abs(b).max() > 0
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(np.abs(b).max()))


@pytest.mark.parametrize("method", METHODS)
def test_new_batch_size_and_new_targets_do_not_retrace(method: str) -> None:
    """(a)-(d): one trace for the first call; the same call, batch sizes 3/1/6, int / per-sample / None
    targets and the unit seed reuse it, and every map is right (batch slices agree, None = argmax)."""
    model = _cnn(0)
    x = _x(4)
    first = explain(model, x, method, 1)
    assert _traces(model, method) == 1
    again = explain(model, x, method, 1)
    np.testing.assert_array_equal(again, first)
    three = explain(model, x[:3], method, 1)
    one = explain(model, x[2:3], method, 1)
    six = explain(model, np.concatenate([x, _x(2, 1)]), method, 1)
    per_sample = explain(model, x, method, [1, 1, 1, 1])
    other = explain(model, x, method, [4, 0, 2, 3])
    argmax = explain(model, x, method, None)
    unit = lrp(model, tf.constant(x), 3, parse(method).lrp_rules(), initial_relevance="one").numpy()
    assert _traces(model, method) == 1, "a new batch size, target or seed traced the pass again"
    _close(three, first[:3])
    _close(one, first[2:3])
    _close(six[:4], first)
    np.testing.assert_array_equal(per_sample, first)
    logits = model(x).numpy()
    _close(argmax, explain(_twin(model, 9), x, method, list(np.argmax(logits, axis=1))))
    for i, t in enumerate([4, 0, 2, 3]):
        _close(other[i : i + 1], explain(model, x[i : i + 1], method, t))
    # unit seed: every rule is linear in the relevance it distributes (the ratios depend on the forward
    # pass only), so the logit-seeded map is the unit-seeded one times the selected logit
    _close(unit * logits[:, 3].reshape(-1, 1, 1, 1), explain(model, x, method, 3))
    assert _traces(model, method) == 1


@pytest.mark.parametrize("method", METHODS)
def test_maps_match_a_fresh_model(method: str) -> None:
    """The cached, reused trace gives the same maps as a fresh model (fresh plan and trace) with the
    same weights, after calls with other batch sizes and targets."""
    model = _cnn(0)
    x = _x(4)
    explain(model, x[:2], method, None)
    explain(model, x, method, 2)
    got = explain(model, x, method, [0, 1, 2, 3])
    want = explain(_twin(model, 5), x, method, [0, 1, 2, 3])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_a_second_model_traces_once_for_itself() -> None:
    """(e), (f): a second instance of the same architecture has its own plan and traces once (its own
    layers and variables); the first model's trace is not redone; a different method traces its own."""
    m1, m2 = _cnn(0), _cnn(1)
    x = _x(4)
    method = METHODS[0]
    r1 = explain(m1, x, method, 1)
    r2 = explain(m2, x, method, 1)
    assert _traces(m1, method) == 1 and _traces(m2, method) == 1
    assert lrp_plan(m1, "lrp", parse(method).lrp_rules()) is not lrp_plan(m2, "lrp", parse(method).lrp_rules())
    assert not np.allclose(r1, r2)  # different weights, different maps
    _close(r2, explain(_twin(m2, 7), x, method, 1))
    np.testing.assert_array_equal(explain(m1, x, method, 1), r1)
    assert _traces(m1, method) == 1
    other = explain(m1, x, METHODS[2], 1)  # (f) another rule set: its own plan, one trace
    assert _traces(m1, METHODS[2]) == 1 and _traces(m1, method) == 1
    _close(other, explain(_twin(m1, 8), x, METHODS[2], 1))


@pytest.mark.parametrize("method", METHODS)
def test_set_weights_gives_the_new_weights_maps_without_retracing(method: str) -> None:
    """(g): the trace reads the model's variables, so after ``set_weights`` the maps are those of the
    new weights (equal to a fresh model carrying them), not stale ones, and nothing is traced again."""
    model, donor = _cnn(0), _cnn(1)
    x = _x(3)
    before = explain(model, x, method, 2)
    model.set_weights(donor.get_weights())
    after = explain(model, x, method, 2)
    assert _traces(model, method) == 1
    assert not np.allclose(before, after)
    _close(after, explain(_twin(donor, 6), x, method, 2))


def test_maps_are_numbers_gradient_x_input_across_batches_and_targets() -> None:
    """An engine-independent check of the reused trace: on a bias-free ReLU network LRP-z equals
    gradient x input, for every batch size and target the one trace serves."""
    keras.utils.set_random_seed(4)
    i = keras.Input((7,))
    h = keras.layers.Dense(6, activation="relu", use_bias=False)(i)
    model = keras.Model(i, keras.layers.Dense(4, use_bias=False)(h))
    rng = np.random.default_rng(2)
    for n, target in [(5, 1), (2, None), (3, [0, 3, 2]), (1, 2)]:
        x = rng.normal(size=(n, 7)).astype(np.float32)
        _close(explain(model, x, "lrp_z", target), explain(model, x, "gradient_x_input", target))
    assert lrp_plan(model, "lrp", parse("lrp_z").lrp_rules()).tracing_count() == 1


def test_a_new_sample_shape_traces_once_more() -> None:
    """A fully convolutional model (open spatial axes) traces once per per-sample shape; each shape's
    trace is reused for later batch sizes."""
    keras.utils.set_random_seed(2)
    i = keras.Input((None, None, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu")(i)
    model = keras.Model(i, keras.layers.Dense(3)(keras.layers.GlobalMaxPooling2D()(h)))
    rng = np.random.default_rng(3)
    method = "lrp_epsilon_0_1"
    a = explain(model, rng.normal(size=(2, 8, 8, 2)).astype(np.float32), method, 0)
    explain(model, rng.normal(size=(3, 10, 10, 2)).astype(np.float32), method, 1)
    assert _traces(model, method) == 2
    x = rng.normal(size=(4, 8, 8, 2)).astype(np.float32)
    got = explain(model, x, method, None)
    assert _traces(model, method) == 2
    fresh = keras.models.clone_model(model)
    fresh.set_weights(model.get_weights())
    _close(got, explain(fresh, x, method, None))
    assert a.shape == (2, 8, 8, 2)


def test_softmax_models_follow_set_weights():
    """The softmax-free view copies the output layer: it must follow later set_weights on the model."""
    def build():
        return keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3, activation="softmax"),
        ])

    keras.utils.set_random_seed(0)
    model = build()
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    explain(model, x, "lrp_epsilon_0_1")
    new = [w + 0.5 for w in model.get_weights()]
    model.set_weights(new)
    fresh = build()
    fresh.set_weights(new)
    for name in ("gradient", "lrp_epsilon_0_1"):
        np.testing.assert_allclose(explain(model, x, name), explain(fresh, x, name), rtol=1e-6, atol=1e-7)
