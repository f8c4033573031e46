"""signxai_tf LRP engine: every rule against the literal numpy reference, network identities,
conservation, batch independence, input-layer rule placement, BatchNorm/Add/AvgPool literals."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from lrp_reference import layer_matrix, lrp_rule  # noqa: E402
from shared_spec import LRPRuleSet, LRPRule, list_methods, parse  # noqa: E402
from signxai_tf import explain  # noqa: E402
from signxai_tf.lrp import lrp, lrp_plan  # noqa: E402
from signxai_tf.lrp._layers import kernel_layer  # noqa: E402
from signxai_tf.lrp._rules import apply_rule  # noqa: E402

RULE_CASES = [
    ("z", {}),
    ("epsilon", {"epsilon": 0.1}),
    ("epsilon", {"epsilon": 7.0}),
    ("std_x_epsilon", {"std_factor": 0.25}),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference"}),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "split"}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}),
    ("z_plus", {}),
    ("gamma", {"gamma": 0.25}),
    ("gamma", {"gamma": 1.5}),
    ("w_square", {}),
    ("flat", {}),
    ("bounded", {"low": -1.0, "high": 1.0}),
    ("bounded", {"low": -2.5, "high": 0.5}),
    ("sign", {}),
    ("sign_mu", {"mu": 0.3}),
    ("sign_mu", {"mu": -0.5}),
    # the rest of the reference rule set (docs/semantics.md §4.1, §4.4)
    ("z", {"bias": False}),
    ("epsilon", {"epsilon": 0.1, "bias": False}),
    ("std_x_epsilon", {"std_factor": 0.25, "bias": False}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "bias": False}),
    ("z_plus_fast", {}),
    ("alpha_beta_x", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, 0.0), "bias": True}),
    ("alpha_beta_x", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, -1.0), "bias": True}),
    ("alpha_beta_x", {"alpha_x": (1.0, 1.0), "beta_x": (0.0, 0.0), "bias": True}),
    ("alpha_beta_x", {"alpha_x": (2.0, 0.0), "beta_x": (1.0, 0.0), "bias": True}),
    ("alpha_beta_x", {"alpha_x": (2.0, 0.5), "beta_x": (1.0, 0.7), "bias": False}),
    ("gamma", {"gamma": 0.5, "bias": False}),
    ("sign", {"bias": False}),
    ("sign_mu", {"mu": 0.25, "bias": False}),
]


def _layer(kind: str):
    keras.utils.set_random_seed(3)
    init = keras.initializers.RandomNormal(stddev=0.5)
    if kind == "dense":
        layer, shape = keras.layers.Dense(5, bias_initializer=init, kernel_initializer=init), (7,)
    elif kind == "conv1d":
        layer, shape = keras.layers.Conv1D(3, 3, strides=2, padding="same", bias_initializer=init), (7, 2)
    else:
        layer, shape = keras.layers.Conv2D(3, 2, padding="valid", bias_initializer=init), (4, 4, 2)
    layer.build((None,) + shape)
    return layer, shape


def _inputs(shape, n=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    x[0].reshape(-1)[::3] = 0.0  # exact zeros, mixed signs
    x[1] *= 3.0
    x[-1] = 0.0  # an all-zero sample: z = b
    return x


def _reference(layer, shape, x, R, name, params):
    kernel = tf.convert_to_tensor(layer.kernel)
    k = kernel_layer(layer)
    W = layer_matrix(lambda e: k.linear(tf.constant(e[None], tf.float32), kernel).numpy()[0], shape)
    b = np.broadcast_to(layer.bias.numpy(), R.shape[1:]).ravel()
    ref_params = dict(params)
    for key in ("low", "high"):
        if key in ref_params:
            ref_params[key] = np.broadcast_to(np.asarray(ref_params[key], np.float64), shape).ravel()
    return np.stack([lrp_rule(name, x[i].ravel(), W, b, R[i].ravel(), **ref_params).reshape(shape) for i in range(len(x))])


def _engine(layer, x, R, name, params, nonneg=False):
    k = kernel_layer(layer)
    a = tf.constant(x)
    z_nb = k.linear(a, k.kernel)
    return apply_rule(name, params, k, a, z_nb, tf.constant(R), nonneg).numpy()


def _close(got, expected, tol=2e-5):
    scale = max(np.abs(expected).max(), 1e-6)
    np.testing.assert_allclose(got, expected, atol=tol * scale, rtol=1e-4)


@pytest.mark.parametrize("kind", ["dense", "conv1d", "conv2d"])
@pytest.mark.parametrize("name, params", RULE_CASES, ids=[f"{n}-{p}" for n, p in RULE_CASES])
def test_rule_against_literal_reference(kind, name, params):
    layer, shape = _layer(kind)
    x = _inputs(shape)
    out_shape = tuple(layer.compute_output_shape((None,) + shape)[1:])
    R = np.random.default_rng(1).normal(size=(len(x),) + out_shape).astype(np.float32)
    _close(_engine(layer, x, R, name, params), _reference(layer, shape, x, R, name, params))


@pytest.mark.parametrize("kind", ["dense", "conv2d"])
@pytest.mark.parametrize(
    "name, params",
    [("alpha_beta", {"alpha": 2.0, "beta": 1.0}), ("alpha_beta", {"alpha": 1.0, "beta": 0.0}),
     ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}), ("z_plus", {}),
     ("alpha_beta_x", {"alpha_x": (2.0, 0.5), "beta_x": (1.0, 0.7), "bias": True})],
)
def test_alpha_beta_nonnegative_shortcut(kind, name, params):
    """The shortcut for inputs known to be >= 0 (after a ReLU) gives the literal rule."""
    layer, shape = _layer(kind)
    x = np.abs(_inputs(shape))
    out_shape = tuple(layer.compute_output_shape((None,) + shape)[1:])
    R = np.random.default_rng(2).normal(size=(len(x),) + out_shape).astype(np.float32)
    _close(_engine(layer, x, R, name, params, nonneg=True), _reference(layer, shape, x, R, name, params))


@pytest.mark.parametrize("kind", ["conv1d", "conv2d"])
def test_bounded_per_channel(kind):
    layer, shape = _layer(kind)
    x = _inputs(shape)
    channels = shape[-1]
    low = -1.0 - np.arange(channels, dtype=np.float32)
    high = 0.5 + np.arange(channels, dtype=np.float32)
    out_shape = tuple(layer.compute_output_shape((None,) + shape)[1:])
    R = np.random.default_rng(1).normal(size=(len(x),) + out_shape).astype(np.float32)
    params = {"low": low, "high": high}
    _close(_engine(layer, x, R, "bounded", params), _reference(layer, shape, x, R, "bounded", params))


def test_bounded_wrong_channel_count():
    layer, shape = _layer("conv2d")
    with pytest.raises(ValueError, match="per-channel bounds"):
        _engine(layer, _inputs(shape), np.ones((3, 3, 3, 3), np.float32), "bounded", {"low": [0.0, 1.0, 2.0], "high": 1.0})


# ---------------------------------------------------------------------------- networks


def relu_cnn(bias=True, seed=0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    b = "random_normal" if bias else "zeros"
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", bias_initializer=b)(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(6, 3, bias_initializer=b)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(10, activation="relu", bias_initializer=b)(h)
    h = keras.layers.Dropout(0.5)(h)
    out = keras.layers.Dense(4, bias_initializer=b)(h)
    return keras.Model(inp, out)


def relu_conv1d(bias=True) -> keras.Model:
    keras.utils.set_random_seed(4)
    b = "random_normal" if bias else "zeros"
    return keras.Sequential([
        keras.Input((12, 2)),
        keras.layers.Conv1D(4, 3, activation="relu", bias_initializer=b),
        keras.layers.MaxPooling1D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(3, bias_initializer=b),
    ])


def residual(bias=True) -> keras.Model:
    keras.utils.set_random_seed(5)
    b = "random_normal" if bias else "zeros"
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=b)(inp)
    r = keras.layers.Conv2D(4, 3, padding="same", bias_initializer=b)(h)
    r = keras.layers.Activation("relu")(r)
    h = keras.layers.Add()([h, r])
    c = keras.layers.Concatenate()([h, r])
    h = keras.layers.GlobalAveragePooling2D()(c)
    out = keras.layers.Dense(3, bias_initializer=b)(h)
    return keras.Model(inp, out)


def _x(shape, n=3, seed=0):
    x = np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)
    x.reshape(-1)[::5] = 0.0
    return x


# --------------------------------------------------------- literal chains through whole models


def _dense_chain_model(act_last_hidden="relu"):
    keras.utils.set_random_seed(7)
    return keras.Sequential([
        keras.Input((3, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="relu", bias_initializer="random_normal"),
        keras.layers.Dense(4, activation=act_last_hidden, bias_initializer="random_normal"),
        keras.layers.Dense(3, bias_initializer="random_normal"),
    ])


def _literal_chain(model, x, target, rules_per_layer):
    """Forward with numpy, backward with the literal reference rule of each Dense layer."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    acts = [x.reshape(-1).astype(np.float64)]
    for layer in dense:
        W, b = layer.kernel.numpy().T.astype(np.float64), layer.bias.numpy().astype(np.float64)
        z = W @ acts[-1] + b
        acts.append(np.maximum(z, 0) if layer.activation.__name__ == "relu" else z)
    R = np.zeros_like(acts[-1])
    R[target] = acts[-1][target]
    for i in reversed(range(len(dense))):
        W, b = dense[i].kernel.numpy().T, dense[i].bias.numpy()
        name, params = rules_per_layer[i]
        R = lrp_rule(name, acts[i], W, b, R, **params)
    return R.reshape(x.shape)


@pytest.mark.parametrize(
    "method, rules",
    [
        ("lrp_epsilon_0_1", [("epsilon", {"epsilon": 0.1})] * 3),
        ("lrpz_epsilon_0_1", [("z", {})] + [("epsilon", {"epsilon": 0.1})] * 2),
        ("lrpsign_epsilon_0_1", [("sign", {})] + [("epsilon", {"epsilon": 0.1})] * 2),
        ("lrpsign_epsilon_0_1_mu_neg_0_5", [("sign_mu", {"mu": -0.5})] + [("epsilon", {"epsilon": 0.1})] * 2),
        ("zblrp_alpha_2_beta_1", [("bounded", {"low": -1.0, "high": 1.0})] + [("alpha_beta", {"alpha": 2.0, "beta": 1.0})] * 2),
        ("w2lrp_epsilon_0_1_std_x", [("w_square", {})] + [("std_x_epsilon", {"std_factor": 0.1})] * 2),
        ("flatlrp_z", [("flat", {})] + [("z", {})] * 2),
        ("lrp_gamma", [("gamma", {"gamma": 0.25})] * 3),
        ("lrp_sequential_composite_a", [("epsilon", {"epsilon": 0.1})] * 3),
    ],
)
def test_whole_model_against_literal_chain(method, rules):
    """The input-layer rule replaces the preset on the first Dense only (seen through Flatten)."""
    model = _dense_chain_model()
    x = _x((3, 2), n=2)
    got = explain(model, x, method, target=[1, 2])
    expected = np.stack([_literal_chain(model, x[i], t, rules) for i, t in enumerate([1, 2])])
    _close(got, expected, 1e-4)


def test_per_layer_rules_override_the_preset_on_exactly_their_layers():
    """``LRPRuleSet.layers`` (iNNvestigate's rule lists, RuleUntilIndex): a named Dense gets its own rule,
    ahead of the input rule too; the others keep the preset's."""
    model = _dense_chain_model()
    x = _x((3, 2), n=2)
    dense = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    base = parse("lrpsign_epsilon_0_1").lrp_rules()
    rules = LRPRuleSet(base.dense, base.conv, base.input, {dense[0]: LRPRule("flat", {}), dense[2]: LRPRule("z", {})})
    got = lrp(model, tf.constant(x), [1, 2], rules).numpy()
    chain = [("flat", {}), ("epsilon", {"epsilon": 0.1}), ("z", {})]
    expected = np.stack([_literal_chain(model, x[i], t, chain) for i, t in enumerate([1, 2])])
    _close(got, expected, 1e-4)
    assert lrp_plan(model, "lrp", rules).rules_used[dense[1]] == LRPRule("epsilon", {"epsilon": 0.1, "bias": True})


def test_input_rule_only_on_layers_fed_by_the_input():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    p = keras.layers.ZeroPadding2D(1)(inp)
    a = keras.layers.Conv2D(3, 3, activation="relu", name="first_a")(p)
    b = keras.layers.Conv2D(3, 3, activation="relu", name="first_b")(inp)
    a = keras.layers.Conv2D(3, 3, name="second")(a)
    h = keras.layers.Concatenate()([keras.layers.Flatten()(a), keras.layers.Flatten()(b)])
    out = keras.layers.Dense(2, name="dense")(h)
    model = keras.Model(inp, out)
    plan = lrp_plan(model, "lrp", parse("lrpsign_sequential_composite_b").lrp_rules())
    assert plan.rules_used == {
        "first_a": LRPRule("sign", {}),
        "first_b": LRPRule("sign", {}),
        "second": LRPRule("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference"}),
        "dense": LRPRule("epsilon", {"epsilon": 0.1}),
    }
    plan = lrp_plan(model, "lrp", parse("lrp_sequential_composite_a").lrp_rules())
    assert plan.rules_used["first_a"] == LRPRule("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference"})
    plan = lrp_plan(model, "lrp", parse("lrp_sequential_composite_a", alpha_beta_bias="split").lrp_rules())
    assert plan.rules_used["first_a"] == LRPRule("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "split"})


def test_batch_norm_and_add_against_literal():
    keras.utils.set_random_seed(11)
    inp = keras.Input((4,))
    h = keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp)
    bn = keras.layers.BatchNormalization(name="bn")
    h = bn(h)
    r = keras.layers.Dense(4, activation="relu", bias_initializer="random_normal", name="d2")(h)
    s = keras.layers.Add()([h, r])
    out = keras.layers.Dense(2, bias_initializer="random_normal", name="d3")(s)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.5, 2, 4)])
    x = rng.normal(size=(2, 4)).astype(np.float32)
    got = explain(model, x, "lrp_epsilon_0_01", target=1)

    def dense(name):
        layer = model.get_layer(name)
        return layer.kernel.numpy().T.astype(np.float64), layer.bias.numpy().astype(np.float64)

    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    st = lambda d: d + 1e-7 * np.where(d >= 0, 1.0, -1.0)  # noqa: E731
    eps = {"epsilon": 0.01}
    for i in range(2):
        (W1, b1), (W2, b2), (W3, b3) = dense("d1"), dense("d2"), dense("d3")
        a0 = x[i].astype(np.float64)
        a1 = W1 @ a0 + b1
        y = gamma * (a1 - mean) / np.sqrt(var + bn.epsilon) + beta
        r = np.maximum(W2 @ y + b2, 0)
        s = y + r
        f = W3 @ s + b3
        R = np.zeros(2)
        R[1] = f[1]
        R_s = lrp_rule("epsilon", s, W3, b3, R, **eps)
        R_y = R_s * np.where(s == 0, 0.0, y / np.where(s == 0, 1.0, s))
        R_r = R_s * np.where(s == 0, 0.0, r / np.where(s == 0, 1.0, s))
        R_y = R_y + lrp_rule("epsilon", y, W2, b2, R_r, **eps)
        R_a1 = R_y * (a1 / st(a1 - mean)) * ((y - beta) / st(y))
        expected = lrp_rule("epsilon", a0, W1, b1, R_a1, **eps)
        _close(got[i], expected, 1e-4)


def test_average_pooling_is_z_rule_over_the_pooling():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((4, 4, 2)),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(2, bias_initializer="random_normal"),
    ])
    x = _x((4, 4, 2), n=1)[0]
    got = explain(model, x[None], "lrp_epsilon_0_1", target=0)[0]
    pool = model.layers[0]
    P = layer_matrix(lambda e: pool(tf.constant(e[None], tf.float32)).numpy()[0], (4, 4, 2))
    dense = model.layers[2]
    W, b = dense.kernel.numpy().T, dense.bias.numpy()
    pooled = P @ x.ravel()
    f = W @ pooled + b
    R = np.array([f[0], 0.0])
    R_pool = lrp_rule("epsilon", pooled, W, b, R, epsilon=0.1)
    expected = lrp_rule("z", x.ravel(), P, np.zeros(P.shape[0]), R_pool).reshape(x.shape)
    _close(got, expected, 1e-5)


def test_nested_sequential_equals_flat_model():
    flat = relu_cnn()
    fresh = [keras.layers.deserialize(keras.layers.serialize(layer)) for layer in flat.layers[1:]]
    inner = keras.Sequential([keras.Input((8, 8, 3))] + fresh[:3], name="inner")  # conv, pool, conv
    inp = keras.Input((8, 8, 3))
    h = inner(inp)
    for layer in fresh[3:]:
        h = layer(h)
    nested = keras.Model(inp, h)
    for new, old in zip(fresh, flat.layers[1:]):
        new.set_weights(old.get_weights())
    assert any(isinstance(layer, keras.Sequential) for layer in nested.layers)
    x = _x((8, 8, 3))
    for name in ["lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "guided_backprop"]:
        _close(explain(nested, x, name), explain(flat, x, name), 1e-6)


def test_unit_seed_option():
    model, x = relu_cnn(), _x((8, 8, 3))
    rules = parse("lrp_z").lrp_rules()
    logit = lrp(model, tf.constant(x), 1, rules).numpy()
    unit = lrp(model, tf.constant(x), 1, rules, initial_relevance="one").numpy()
    f = model(x).numpy()[:, 1]
    _close(logit, unit * f[:, None, None, None], 1e-5)


def test_softmax_model_explained_on_logits():
    keras.utils.set_random_seed(0)
    with_softmax = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    plain = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])
    plain.set_weights(with_softmax.get_weights())
    x = _x((5,))
    _close(explain(with_softmax, x, "lrp_epsilon_0_1"), explain(plain, x, "lrp_epsilon_0_1"), 1e-6)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "layer, cls",
    [
        (lambda: keras.layers.LSTM(3, name="my_lstm"), "LSTM"),
        (lambda: keras.layers.Lambda(lambda t: t * 2.0, name="my_lambda"), "Lambda"),
        (lambda: keras.layers.SimpleRNN(3, return_sequences=True, name="my_rnn"), "SimpleRNN"),
    ],
)
def test_layer_without_rule_names_layer_and_class(layer, cls):
    model = keras.Sequential([keras.Input((4, 2)), layer(), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(NotImplementedError, match=rf"'my_\w+' of class {cls}.*gradient-based method"):
        explain(model, np.ones((1, 4, 2), np.float32), "lrp_epsilon_0_1")


def test_subclassed_model_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.ones((1, 3), np.float32))
    with pytest.raises((NotImplementedError, ValueError), match="subclassed|no defined inputs"):
        explain(net, np.ones((1, 3), np.float32), "lrp_z")


# ----------------------------------------------------------------------- all method names


def _all_lrp_names():
    return [n for n in list_methods(include_deprecated=False) if parse(n).family == "lrp"]


def test_every_lrp_name_runs_on_a_small_conv_net():
    model = relu_cnn()
    x = _x((8, 8, 3), n=2)
    names = _all_lrp_names() + ["lrp_epsilon_0_37", "lrpsign_epsilon_0_5_std_x_mu_0_5"]
    for name in names:
        got = explain(model, x, name)
        assert got.shape == x.shape and np.isfinite(got).all(), name
        assert np.abs(got).sum() > 0, name


def _app(builder):
    keras.utils.set_random_seed(0)
    return builder(weights=None, input_shape=(32, 32, 3), classes=10)


@pytest.mark.slow
def test_vgg16_names_and_identity():
    model = _app(keras.applications.VGG16)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32) * 50
    _close(explain(model, x, "lrp_z"), explain(model, x, "gradient_x_input"), 1e-4)
    for name in ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1_std_x", "zblrp_epsilon_0_1_VGG16ILSVRC", "lrp_alpha_2_beta_1",
                 "w2lrp_sequential_composite_a", "flatlrp_z", "lrp_gamma", "lrpsign_z_mu_0_5", "guided_backprop"]:
        got = explain(model, x, name)
        assert got.shape == x.shape and np.isfinite(got).all() and np.abs(got).sum() > 0, name



def test_the_plan_cache_per_model_is_bounded():
    """A sweep over many methods of one model keeps at most PLANS_PER_MODEL traced plans (least recently
    used dropped): unbounded, 66 methods of NASNetMobile held 17 GB."""
    from signxai_tf.lrp import _engine

    model = relu_cnn()
    plans = [lrp_plan(model, "lrp", parse(f"lrp_epsilon_{e}").lrp_rules()) for e in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    cache = _engine._CACHE[model]
    assert len(cache) == _engine.PLANS_PER_MODEL
    assert lrp_plan(model, "lrp", parse("lrp_epsilon_10").lrp_rules()) is plans[-1]  # recent ones are kept
    assert lrp_plan(model, "lrp", parse("lrp_epsilon_1").lrp_rules()) is not plans[0]  # the oldest was dropped
