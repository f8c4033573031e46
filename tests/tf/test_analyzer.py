"""signxai_tf.analyzer: iNNvestigate's analyzers on Keras 3.

Every class against the ``signxai_tf.explain`` method it configures (the same numbers), every class
against hand-derived numpy on single-layer models (Dense, Dense+ReLU, Conv2D, Conv2D+ReLU, max and
average pooling) with iNNvestigate's conventions (argmax output, LRP and guided backprop / deconvnet
started from the output value, gradients from 1), rule lists and conditions against a hand chain,
RuleUntilIndex, the neuron selection modes, create_analyzer's names, user-written rules and the errors.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import signxai_tf  # noqa: E402
from lrp_reference import layer_matrix, lrp_rule  # noqa: E402
from shared_spec import MethodParameterError, UnsupportedLayerError, standard_normal_noise  # noqa: E402
from signxai_tf import analyzer as A  # noqa: E402
from signxai_tf import explain  # noqa: E402
from signxai_tf.analyzer import rules as R  # noqa: E402
from signxai_tf.lrp._layers import kernel_layer  # noqa: E402

L = keras.layers


@pytest.fixture(autouse=True, scope="module")
def _eager():
    """Tiny models: eager execution is faster than tracing a tf.function per configuration."""
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(previous)


def _close(got, expected, tol=2e-5):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max()), 1e-6)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), expected, atol=tol * scale, rtol=1e-4)


def _x(shape, n=3, seed=0):
    x = np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)
    x.reshape(-1)[::7] = 0.0
    return x


# ---------------------------------------------------------------------------------- models
# (built once per process: analyzers never modify a model, and the engine caches its plans per model)
@functools.lru_cache(maxsize=None)
def cnn() -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Conv2D(3, 3, activation="relu", bias_initializer="random_normal", name="conv"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dense(5, activation="relu", bias_initializer="random_normal", name="dense"),
        L.Dense(3, bias_initializer=keras.initializers.Constant(0.5), name="out"),
    ])


@functools.lru_cache(maxsize=None)
def dense_chain() -> keras.Model:
    keras.utils.set_random_seed(7)
    return keras.Sequential([
        keras.Input((3, 2)),
        L.Flatten(),
        L.Dense(5, activation="relu", bias_initializer="random_normal", name="dense_a"),
        L.Dense(4, activation="relu", bias_initializer="random_normal", name="dense_b"),
        L.Dense(3, bias_initializer="random_normal", name="dense_c"),
    ])


def _bias(seed):
    return keras.initializers.RandomNormal(mean=0.2, stddev=0.3, seed=seed)


HAND_MODELS = {
    "dense": lambda: keras.Sequential([keras.Input((4,)), L.Dense(3, bias_initializer=_bias(1))]),
    "dense_relu": lambda: keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu", bias_initializer=_bias(2))]),
    "conv": lambda: keras.Sequential([keras.Input((4, 4, 2)), L.Conv2D(2, 3, bias_initializer=_bias(3)), L.Flatten()]),
    "conv_relu": lambda: keras.Sequential(
        [keras.Input((4, 4, 2)), L.Conv2D(2, 3, activation="relu", bias_initializer=_bias(4)), L.Flatten()]
    ),
    "maxpool": lambda: keras.Sequential(
        [keras.Input((4, 4, 2)), L.MaxPooling2D(2), L.Flatten(), L.Dense(3, bias_initializer=_bias(5))]
    ),
    "avgpool": lambda: keras.Sequential(
        [keras.Input((4, 4, 2)), L.AveragePooling2D(2), L.Flatten(), L.Dense(3, bias_initializer=_bias(6))]
    ),
    # a ReLU under an output whose selected value is negative (every logit < 0): the output-value seed matters
    "mlp_negative": lambda: keras.Sequential([
        keras.Input((4,)),
        L.Dense(5, activation="relu", bias_initializer=_bias(7)),
        L.Dense(3, bias_initializer=keras.initializers.Constant(-20.0)),
    ]),
}


@functools.lru_cache(maxsize=None)
def hand_model(name):
    keras.utils.set_random_seed(11)
    return HAND_MODELS[name]()


@functools.lru_cache(maxsize=None)
def hand_net(name):
    return NumpyNet(hand_model(name))


# ------------------------------------------------------------------ the numpy twin of a model
class NumpyNet:
    """The model as explicit float64 matrices: kernel layers (W, b, relu), max / average pooling."""

    def __init__(self, model):
        self.ops = []
        shape = tuple(model.inputs[0].shape[1:])
        for layer in model.layers:
            if isinstance(layer, L.Flatten):
                shape = (int(np.prod(shape)),)  # channels-last ravel order, as the matrices use
                continue
            out_shape = tuple(layer.compute_output_shape((None,) + shape)[1:])
            if isinstance(layer, (L.Dense, L.Conv2D)):
                k = kernel_layer(layer)
                W = layer_matrix(lambda e, k=k: k.linear(tf.constant(e[None], tf.float32), k.kernel).numpy()[0], shape)
                b = np.broadcast_to(layer.bias.numpy().astype(np.float64), out_shape).ravel()
                self.ops.append(("kernel", W, b, layer.activation.__name__ == "relu", layer))
            elif isinstance(layer, L.AveragePooling2D):
                P = layer_matrix(lambda e, layer=layer: layer(tf.constant(e[None], tf.float32)).numpy()[0], shape)
                self.ops.append(("avg", P))
            elif isinstance(layer, L.MaxPooling2D):
                self.ops.append(("max", shape))
            else:
                raise AssertionError(layer)
            shape = out_shape
        self.kinds = ["dense" if isinstance(op[4], L.Dense) else "conv" for op in self.ops if op[0] == "kernel"]
        self.input_fed = self.ops[0][0] == "kernel"

    @staticmethod
    def _max_windows(shape, a):
        """For 2x2 / stride-2 max pooling of a (H, W, C) input: the flat index of each output's winner."""
        H, Wd, C = shape
        grid = a.reshape(shape)
        winners = []
        for i in range(H // 2):
            for j in range(Wd // 2):
                for c in range(C):
                    cells = [(2 * i + di, 2 * j + dj) for di in range(2) for dj in range(2)]
                    best = max(cells, key=lambda p: grid[p[0], p[1], c])  # first index among ties
                    winners.append(np.ravel_multi_index((best[0], best[1], c), shape))
        return np.array(winners)

    def forward(self, x):
        a = np.asarray(x, np.float64).ravel()
        trace = []
        for op in self.ops:
            if op[0] == "kernel":
                _, W, b, relu, _ = op
                z = W @ a + b
                trace.append((a, z))
                a = np.maximum(z, 0.0) if relu else z
            elif op[0] == "avg":
                trace.append((a, None))
                a = op[1] @ a
            else:
                winners = self._max_windows(op[1], a)
                trace.append((a, winners))
                a = a[winners]
        return a, trace

    def lrp(self, x, R_out, rules):
        """LRP from the output relevance ``R_out`` with ``rules[i]`` = (name, params) for the i-th kernel layer."""
        _, trace = self.forward(x)
        R = np.asarray(R_out, np.float64)
        i = len(rules)
        for op, (a, aux) in zip(reversed(self.ops), reversed(trace)):
            if op[0] == "kernel":
                i -= 1
                name, params = rules[i]
                params = dict(params)
                b = op[2]
                if name == "gamma" and params.pop("bias", True) is False:
                    b = np.zeros_like(b)  # the literal reference's gamma always includes b
                R = lrp_rule(name, a, op[1], b, R, **params)
            elif op[0] == "avg":
                R = lrp_rule("z", a, op[1], np.zeros(op[1].shape[0]), R)
            else:
                R_in = np.zeros_like(a)
                np.add.at(R_in, aux, R)
                R = R_in
        return R.reshape(np.shape(x))

    def gradient(self, x, g_out, mode="gradient"):
        """The backward pass from ``g_out``: plain, guided (1[z>0] max(g, 0)) or deconvnet (max(g, 0)) at ReLUs."""
        _, trace = self.forward(x)
        g = np.asarray(g_out, np.float64)
        for op, (a, aux) in zip(reversed(self.ops), reversed(trace)):
            if op[0] == "kernel":
                _, W, _, relu, _ = op
                if relu:
                    if mode == "gradient":
                        g = g * (aux > 0)
                    elif mode == "guided_backprop":
                        g = (aux > 0) * np.maximum(g, 0.0)
                    else:
                        g = np.maximum(g, 0.0)
                g = W.T @ g
            elif op[0] == "avg":
                g = op[1].T @ g
            else:
                g_in = np.zeros_like(a)
                np.add.at(g_in, aux, g)
                g = g_in
        return g.reshape(np.shape(x))

    def output(self, x):
        return self.forward(x)[0]


def _onehot(n, c, value=1.0):
    v = np.zeros(n)
    v[c] = value
    return v


# ======================================================= 1. every class = the explain method it configures
LRP_CASES = [
    # id, analyzer, explain name, explain keywords, expected method_name
    ("LRPZ", lambda m: A.LRPZ(m), "lrp_z", {}, "lrp_z"),
    ("LRPZIgnoreBias", lambda m: A.LRPZIgnoreBias(m), "lrp_z_ignore_bias", {}, "lrp_z_ignore_bias"),
    ("LRPEpsilon-default", lambda m: A.LRPEpsilon(m), "lrp_epsilon_0_0000001", {}, "lrp_epsilon_0_0000001"),
    ("LRPEpsilon", lambda m: A.LRPEpsilon(m, 0.1), "lrp_epsilon_0_1", {}, "lrp_epsilon_0_1"),
    ("LRPEpsilon-bias", lambda m: A.LRPEpsilon(m, 0.1, bias=False), "lrp_epsilon_0_1_ignore_bias", {}, "lrp_epsilon_0_1_ignore_bias"),
    ("LRPEpsilonIgnoreBias", lambda m: A.LRPEpsilonIgnoreBias(m, epsilon=0.5), "lrp_epsilon_0_5_ignore_bias", {},
     "lrp_epsilon_0_5_ignore_bias"),
    ("LRPStdxEpsilon-default", lambda m: A.LRPStdxEpsilon(m), "lrp_epsilon_0_25_std_x", {}, "lrp_epsilon_0_25_std_x"),
    ("LRPStdxEpsilon", lambda m: A.LRPStdxEpsilon(m, stdfactor=0.1, bias=False), "lrp_epsilon_0_1_std_x_ignore_bias", {},
     "lrp_epsilon_0_1_std_x_ignore_bias"),
    ("LRPWSquare", lambda m: A.LRPWSquare(m), "lrp_w_square", {}, "lrp_w_square"),
    ("LRPFlat", lambda m: A.LRPFlat(m), "lrp_flat", {}, "lrp_flat"),
    ("LRPAlphaBeta-alpha", lambda m: A.LRPAlphaBeta(m, alpha=3), "lrp_alpha_3_beta_2", {}, "lrp_alpha_3_beta_2"),
    ("LRPAlphaBeta-beta", lambda m: A.LRPAlphaBeta(m, beta=1), "lrp_alpha_2_beta_1", {}, "lrp_alpha_2_beta_1"),
    ("LRPAlphaBeta-split", lambda m: A.LRPAlphaBeta(m, 2, 1, alpha_beta_bias="split"), "lrp_alpha_2_beta_1",
     {"alpha_beta_bias": "split"}, None),
    ("LRPAlpha2Beta1", lambda m: A.LRPAlpha2Beta1(m), "lrp_alpha_2_beta_1", {}, "lrp_alpha_2_beta_1"),
    ("LRPAlpha2Beta1IgnoreBias", lambda m: A.LRPAlpha2Beta1IgnoreBias(m), "lrp_alpha_2_beta_1_ignore_bias", {},
     "lrp_alpha_2_beta_1_ignore_bias"),
    ("LRPAlpha1Beta0", lambda m: A.LRPAlpha1Beta0(m), "lrp_alpha_1_beta_0", {}, "lrp_alpha_1_beta_0"),
    ("LRPAlpha1Beta0IgnoreBias", lambda m: A.LRPAlpha1Beta0IgnoreBias(m), "lrp_alpha_1_beta_0_ignore_bias", {},
     "lrp_alpha_1_beta_0_ignore_bias"),
    ("LRPZPlus", lambda m: A.LRPZPlus(m), "lrp_z_plus", {}, "lrp_z_plus"),
    ("LRPZPlusFast", lambda m: A.LRPZPlusFast(m), "lrp_z_plus_fast", {}, "lrp_z_plus_fast"),
    ("LRPGamma-default", lambda m: A.LRPGamma(m), "lrp_gamma", {}, "lrp_gamma"),
    ("LRPGamma", lambda m: A.LRPGamma(m, gamma=0.5), "lrp_gamma_0_5", {}, "lrp_gamma_0_5"),
    ("CompositeA", lambda m: A.LRPSequentialCompositeA(m), "lrp_sequential_composite_a", {}, "lrp_sequential_composite_a"),
    ("CompositeA-epsilon", lambda m: A.LRPSequentialCompositeA(m, epsilon=0.3), "lrp_sequential_composite_a",
     {"epsilon": 0.3}, None),
    ("CompositeB", lambda m: A.LRPSequentialCompositeB(m), "lrp_sequential_composite_b", {}, "lrp_sequential_composite_b"),
    ("CompositeAFlat", lambda m: A.LRPSequentialCompositeAFlat(m), "flatlrp_sequential_composite_a", {},
     "flatlrp_sequential_composite_a"),
    ("CompositeBFlat", lambda m: A.LRPSequentialCompositeBFlat(m), "flatlrp_sequential_composite_b", {},
     "flatlrp_sequential_composite_b"),
    ("PresetA", lambda m: A.LRPSequentialPresetA(m), "lrp_sequential_composite_a", {}, "lrp_sequential_composite_a"),
    ("RuleUntilIndex-0", lambda m: A.LRPRuleUntilIndex(m), "flatlrp_sequential_composite_b", {}, None),
    ("LRP-string", lambda m: A.LRP(m, rule="Epsilon"), "lrp_epsilon_0_0000001", {}, None),
    ("LRPEpsilon-Z-input", lambda m: A.LRPEpsilon(m, 0.1, input_layer_rule="Z"), "lrpz_epsilon_0_1", {}, "lrpz_epsilon_0_1"),
    ("LRPEpsilon-WSquare-input", lambda m: A.LRPEpsilon(m, 0.1, input_layer_rule=R.WSquareRule), "w2lrp_epsilon_0_1", {},
     "w2lrp_epsilon_0_1"),
    ("LRPEpsilon-SIGN-input", lambda m: A.LRPEpsilon(m, 0.1, input_layer_rule=R.SIGNRule()), "lrpsign_epsilon_0_1", {},
     "lrpsign_epsilon_0_1"),
    ("LRPAlpha2Beta1-SIGNmu", lambda m: A.LRPAlpha2Beta1(m, input_layer_rule=R.SIGNmuRule(mu=0.5)),
     "lrpsign_alpha_2_beta_1_mu_0_5", {}, "lrpsign_alpha_2_beta_1_mu_0_5"),
    ("LRP-bounded-tuple", lambda m: A.LRP(m, rule="Z", input_layer_rule=(-2.0, 3.0)), "zblrp_z", {"low": -2.0, "high": 3.0}, None),
    ("LRPZ-bounded-tuple", lambda m: A.LRPZ(m, input_layer_rule=(-1, 1)), "zblrp_z", {}, "zblrp_z"),
    ("LRP-AlphaBetaX2m100", lambda m: A.LRP(m, rule=R.AlphaBetaX2m100Rule), "lrp_alpha_beta_x_2m100", {}, None),
    ("LRP-AlphaBetaX1010", lambda m: A.LRP(m, rule="AlphaBetaX1010"), "lrp_alpha_beta_x_1010", {}, None),
    ("LRP-AlphaBetaX-defaults", lambda m: A.LRP(m, rule=R.AlphaBetaXRule()), "lrp_alpha_beta_x_1000",
     {"alpha_x": (0.5, 0.5), "beta_x": (0.5, 0.5)}, None),
    ("LRP-conditions", lambda m: A.LRP(m, rule=[(A.is_conv_layer, R.Alpha1Beta0Rule), (A.is_dense_layer, R.EpsilonRule(0.1))]),
     "lrp_sequential_composite_a", {}, None),
]


@pytest.mark.parametrize("make, method, kwargs, name", [c[1:] for c in LRP_CASES], ids=[c[0] for c in LRP_CASES])
def test_lrp_analyzer_equals_explain(make, method, kwargs, name):
    model = cnn()
    x = _x((6, 6, 2))
    analyzer = make(model)
    assert analyzer.method_name == name
    expected = explain(model, x, method, **kwargs)
    assert np.abs(expected).max() > 0
    _close(analyzer.analyze(x), expected, 1e-6)


def test_guided_and_deconvnet_start_from_the_output_value():
    model = cnn()
    x = _x((6, 6, 2))
    f = model(x).numpy().max(axis=1)
    assert np.all(f > 0)  # the negative seed is checked against numpy in test_gradient_analyzers_by_hand
    for cls, method in [(A.GuidedBackprop, "guided_backprop"), (A.Deconvnet, "deconvnet")]:
        _close(cls(model).analyze(x), explain(model, x, method) * f[:, None, None, None], 1e-6)


GRADIENT_CASES = [
    ("Gradient", lambda m: A.Gradient(m), lambda m, x: explain(m, x, "gradient")),
    ("Gradient-abs", lambda m: A.Gradient(m, postprocess="abs"), lambda m, x: np.abs(explain(m, x, "gradient"))),
    ("Gradient-square", lambda m: A.Gradient(m, postprocess="square"), lambda m, x: explain(m, x, "gradient") ** 2),
    ("InputTimesGradient", lambda m: A.InputTimesGradient(m), lambda m, x: explain(m, x, "gradient_x_input")),
    ("InputTimesGradient-abs", lambda m: A.InputTimesGradient(m, postprocess="abs"),
     lambda m, x: x * np.abs(explain(m, x, "gradient"))),
    ("IntegratedGradients", lambda m: A.IntegratedGradients(m, steps=5),
     lambda m, x: explain(m, x, "integrated_gradients", steps=5)),
    ("IntegratedGradients-scalar-reference", lambda m: A.IntegratedGradients(m, steps=4, reference_inputs=0.5),
     lambda m, x: explain(m, x, "integrated_gradients", steps=4, baseline=np.full(x.shape[1:], 0.5, np.float32))),
    ("IntegratedGradients-array-reference", lambda m: A.IntegratedGradients(m, steps=3, reference_inputs=_x((6, 6, 2), 1, 5)[0]),
     lambda m, x: explain(m, x, "integrated_gradients", steps=3, baseline=_x((6, 6, 2), 1, 5)[0])),
    ("SmoothGrad", lambda m: A.SmoothGrad(m, augment_by_n=4, noise_scale=0.3, seed=3),
     lambda m, x: explain(m, x, "smoothgrad", samples=4, noise=0.3, noise_mode="absolute", seed=3)),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in GRADIENT_CASES], ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_analyzer_equals_explain(make, expected):
    model = cnn()
    x = _x((6, 6, 2))
    _close(make(model).analyze(x), expected(model, x), 1e-6)


def test_defaults_are_innvestigates():
    model = cnn()
    assert A.IntegratedGradients(model)._steps == 64
    assert A.SmoothGrad(model)._samples == 64 and A.SmoothGrad(model)._noise == 1.0
    assert A.LRPEpsilon(model).rules_used["dense"].params["epsilon"] == 1e-7
    assert A.LRPSequentialCompositeA(model).rules_used["dense"].params["epsilon"] == 0.1
    assert A.LRPStdxEpsilon(model).rules_used["dense"].params["std_factor"] == 0.25
    assert R.AlphaBetaXRule().params["alpha_x"] == (0.5, 0.5)
    assert R.BoundedRule().params == {"low": -1.0, "high": 1.0}


# ======================================================= 2. single-layer models against hand-derived numpy
def _kernel_rule(rule):
    """A hand rule for the only kernel layer: a (name, params) or a function of (kind, fed by the input)."""
    return rule if callable(rule) else (lambda kind, fed: rule)


HAND_LRP = [
    ("LRPZ", lambda m: A.LRPZ(m), ("z", {})),
    ("LRPZIgnoreBias", lambda m: A.LRPZIgnoreBias(m), ("z", {"bias": False})),
    ("LRPEpsilon", lambda m: A.LRPEpsilon(m, 0.1), ("epsilon", {"epsilon": 0.1})),
    ("LRPEpsilon-default", lambda m: A.LRPEpsilon(m), ("epsilon", {"epsilon": 1e-7})),
    ("LRPEpsilonIgnoreBias", lambda m: A.LRPEpsilonIgnoreBias(m, 0.1), ("epsilon", {"epsilon": 0.1, "bias": False})),
    ("LRPStdxEpsilon", lambda m: A.LRPStdxEpsilon(m), ("std_x_epsilon", {"std_factor": 0.25})),
    ("LRPWSquare", lambda m: A.LRPWSquare(m), ("w_square", {})),
    ("LRPFlat", lambda m: A.LRPFlat(m), ("flat", {})),
    ("LRPAlphaBeta", lambda m: A.LRPAlphaBeta(m, alpha=3), ("alpha_beta", {"alpha": 3.0, "beta": 2.0})),
    ("LRPAlpha2Beta1", lambda m: A.LRPAlpha2Beta1(m), ("alpha_beta", {"alpha": 2.0, "beta": 1.0})),
    ("LRPAlpha2Beta1IgnoreBias", lambda m: A.LRPAlpha2Beta1IgnoreBias(m), ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "bias": False})),
    ("LRPAlpha1Beta0", lambda m: A.LRPAlpha1Beta0(m), ("alpha_beta", {"alpha": 1.0, "beta": 0.0})),
    ("LRPAlpha1Beta0IgnoreBias", lambda m: A.LRPAlpha1Beta0IgnoreBias(m), ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "bias": False})),
    ("LRPZPlus", lambda m: A.LRPZPlus(m), ("z_plus", {})),
    ("LRPZPlusFast", lambda m: A.LRPZPlusFast(m), ("z_plus_fast", {})),
    ("LRPGamma", lambda m: A.LRPGamma(m, gamma=0.5), ("gamma", {"gamma": 0.5})),
    ("LRPGamma-bias", lambda m: A.LRPGamma(m, gamma=0.5, bias=False), ("gamma", {"gamma": 0.5, "bias": False})),
    ("CompositeA", lambda m: A.LRPSequentialCompositeA(m),
     lambda kind, fed: ("epsilon", {"epsilon": 0.1}) if kind == "dense" else ("alpha_beta", {"alpha": 1.0, "beta": 0.0})),
    ("CompositeB", lambda m: A.LRPSequentialCompositeB(m),
     lambda kind, fed: ("epsilon", {"epsilon": 0.1}) if kind == "dense" else ("alpha_beta", {"alpha": 2.0, "beta": 1.0})),
    ("CompositeAFlat", lambda m: A.LRPSequentialCompositeAFlat(m),
     lambda kind, fed: ("flat", {}) if fed else ("epsilon", {"epsilon": 0.1}) if kind == "dense" else ("alpha_beta", {"alpha": 1.0, "beta": 0.0})),
    ("CompositeBFlat", lambda m: A.LRPSequentialCompositeBFlat(m),
     lambda kind, fed: ("flat", {}) if fed else ("epsilon", {"epsilon": 0.1}) if kind == "dense" else ("alpha_beta", {"alpha": 2.0, "beta": 1.0})),
    ("RuleUntilIndex", lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=0), ("flat", {})),
    ("LRP-Bounded", lambda m: A.LRP(m, rule="Bounded"), ("bounded", {"low": -1.0, "high": 1.0})),
    ("LRP-bounded-input", lambda m: A.LRP(m, rule="Epsilon", input_layer_rule=(-2.0, 3.0)),
     lambda kind, fed: ("bounded", {"low": -2.0, "high": 3.0}) if fed else ("epsilon", {"epsilon": 1e-7})),
    ("LRP-SIGN", lambda m: A.LRP(m, rule=R.SIGNRule), ("sign", {})),
    ("LRP-SIGNmu", lambda m: A.LRP(m, rule=R.SIGNmuRule(mu=0.3)), ("sign_mu", {"mu": 0.3})),
    ("LRP-AlphaBetaX", lambda m: A.LRP(m, rule=R.AlphaBetaXRule()), ("alpha_beta_x", {"alpha_x": (0.5, 0.5), "beta_x": (0.5, 0.5)})),
    ("LRP-AlphaBetaX2m100", lambda m: A.LRP(m, rule=R.AlphaBetaX2m100Rule), ("alpha_beta_x", {"alpha_x": (2, 0), "beta_x": (1, 0)})),
    ("LRP-Alpha2Beta1-string", lambda m: A.LRP(m, rule="Alpha2Beta1"), ("alpha_beta", {"alpha": 2.0, "beta": 1.0})),
]

SINGLE = ["dense", "dense_relu", "conv", "conv_relu", "maxpool", "avgpool"]


@pytest.mark.filterwarnings("ignore:.*input_layer_rule.*not applied")
@pytest.mark.parametrize("model_name", SINGLE)
@pytest.mark.parametrize("make, rule", [c[1:] for c in HAND_LRP], ids=[c[0] for c in HAND_LRP])
def test_lrp_analyzers_by_hand(model_name, make, rule):
    """The argmax output, seeded with its value, one rule on the only kernel layer (plus pooling's own step)."""
    model = hand_model(model_name)
    net = hand_net(model_name)
    x = _x(tuple(model.inputs[0].shape[1:]), n=2, seed=3)
    name, params = _kernel_rule(rule)(net.kinds[0], net.input_fed)
    expected = []
    for xi in x:
        out = net.output(xi)
        c = int(np.argmax(out))
        expected.append(net.lrp(xi, _onehot(len(out), c, out[c]), [(name, params)]))
    _close(make(model).analyze(x), np.stack(expected), 5e-5)


HAND_GRADIENT = [
    # id, analyzer, backward at ReLUs, seed at the selected output, times the input
    ("Gradient", lambda m: A.Gradient(m), "gradient", "one", False),
    ("InputTimesGradient", lambda m: A.InputTimesGradient(m), "gradient", "one", True),
    ("GuidedBackprop", lambda m: A.GuidedBackprop(m), "guided_backprop", "value", False),
    ("Deconvnet", lambda m: A.Deconvnet(m), "deconvnet", "value", False),
]


@pytest.mark.parametrize("model_name", SINGLE + ["mlp_negative"])
@pytest.mark.parametrize("make, mode, seed, times_input", [c[1:] for c in HAND_GRADIENT], ids=[c[0] for c in HAND_GRADIENT])
def test_gradient_analyzers_by_hand(model_name, make, mode, seed, times_input):
    model = hand_model(model_name)
    net = hand_net(model_name)
    x = _x(tuple(model.inputs[0].shape[1:]), n=2, seed=3)
    expected = []
    for xi in x:
        out = net.output(xi)
        c = int(np.argmax(out))
        g = net.gradient(xi, _onehot(len(out), c, 1.0 if seed == "one" else out[c]), mode)
        expected.append(xi * g if times_input else g)
    if model_name == "mlp_negative":
        assert np.all(model(x).numpy().max(axis=1) < 0)
    _close(make(model).analyze(x), np.stack(expected), 5e-5)


@pytest.mark.parametrize("model_name", ["dense_relu", "conv_relu", "maxpool", "mlp_negative"])
@pytest.mark.parametrize("quadrature", ["reference", "innvestigate"])
def test_integrated_gradients_by_hand(model_name, quadrature):
    """Reference quadrature alpha_k = k/(n-1) (docs/semantics.md §3); iNNvestigate 2.x's alpha_k = k/n."""
    model = hand_model(model_name)
    net = hand_net(model_name)
    x = _x(tuple(model.inputs[0].shape[1:]), n=2, seed=4)
    x0 = np.full(x.shape[1:], 0.25)
    steps = 6
    alphas = np.arange(steps) / ((steps - 1) if quadrature == "reference" else steps)
    expected = []
    for xi in x:
        out = net.output(xi)
        c = int(np.argmax(out))
        grads = [net.gradient(x0 + a * (xi - x0), _onehot(len(out), c)) for a in alphas]
        expected.append((xi - x0) * np.mean(grads, axis=0))
    got = A.IntegratedGradients(model, steps=steps, reference_inputs=0.25, quadrature=quadrature).analyze(x)
    _close(got, np.stack(expected), 5e-5)


@pytest.mark.parametrize("model_name", ["dense_relu", "conv_relu", "avgpool"])
def test_smoothgrad_by_hand(model_name):
    """sigma = noise_scale (absolute), the noise of shared_spec.standard_normal_noise(seed), class on the clean input."""
    model = hand_model(model_name)
    net = hand_net(model_name)
    x = _x(tuple(model.inputs[0].shape[1:]), n=2, seed=5)
    eps = standard_normal_noise(9, 5, x.shape[1:], channels_first=False).astype(np.float64)
    expected = []
    for xi in x:
        out = net.output(xi)
        c = int(np.argmax(out))
        expected.append(np.mean([net.gradient(xi + 0.4 * e, _onehot(len(out), c)) for e in eps], axis=0))
    got = A.SmoothGrad(model, augment_by_n=5, noise_scale=0.4, seed=9).analyze(x)
    _close(got, np.stack(expected), 5e-5)


# ======================================================= 3. rule lists, conditions, RuleUntilIndex
def _chain(model, x, rules, targets=None, all_outputs=False):
    net = NumpyNet(model)
    out_maps = []
    for i, xi in enumerate(x):
        out = net.output(xi)
        if all_outputs:
            R_out = out
        else:
            c = int(np.argmax(out)) if targets is None else int(targets[i])
            R_out = _onehot(len(out), c, out[c])
        out_maps.append(net.lrp(xi, R_out, rules))
    return np.stack(out_maps)


Z, FLAT, WSQ = ("z", {}), ("flat", {}), ("w_square", {})
EPS = ("epsilon", {"epsilon": 0.1})


@pytest.mark.parametrize(
    "make, rules",
    [
        (lambda m: A.LRP(m, rule=["Flat", R.EpsilonRule(0.1), "Z"]), [FLAT, EPS, Z]),
        (lambda m: A.LRP(m, rule=[R.ZRule, R.ZRule(), "Z"], input_layer_rule="WSquare"), [WSQ, Z, Z]),
        (lambda m: A.LRP(m, rule=[(lambda layer: layer.name == "dense_b", "Z"), (A.is_dense_layer, R.EpsilonRule(0.5))]),
         [("epsilon", {"epsilon": 0.5}), Z, ("epsilon", {"epsilon": 0.5})]),
        (lambda m: A.LRP(m, rule=[(A.is_conv_layer, "Flat"), (lambda layer: True, "Z")], input_layer_rule=R.FlatRule), [FLAT, Z, Z]),
        (lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=0), [FLAT, EPS, EPS]),
        (lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=1), [FLAT, FLAT, EPS]),
        (lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=1, until_index_rule="Z"), [Z, Z, EPS]),
        (lambda m: A.LRPRuleUntilIndex(m, 1, default_rule_configuration=A.LRPEpsilon, epsilon=0.5),
         [FLAT, FLAT, ("epsilon", {"epsilon": 0.5})]),
        # iNNvestigate's order: the configuration's input rule ahead of the index rule
        (lambda m: A.LRPRuleUntilIndex(m, 1, "Z", default_rule_configuration=A.LRPSequentialCompositeBFlat), [FLAT, Z, EPS]),
        (lambda m: A.LRPSequentialPresetBFlatUntilIdx(m, until_layer_idx=1), [FLAT, FLAT, EPS]),
        (lambda m: A.LRP(m, rule="Z", until_layer_idx=2, until_layer_rule=R.EpsilonRule(0.1)), [EPS, EPS, EPS]),
    ],
    ids=["list", "list+input", "conditions", "conditions+input", "until-0", "until-1", "until-1-Z", "until-config",
         "until-config-flat", "preset-b-flat-until", "lrp-until"],
)
def test_per_layer_rules_against_a_hand_chain(make, rules):
    model = dense_chain()
    x = _x((3, 2), n=2)
    analyzer = make(model)
    assert list(analyzer.rules_used) == A.kernel_layer_names(model) == ["dense_a", "dense_b", "dense_c"]
    _close(analyzer.analyze(x), _chain(model, x, rules), 1e-5)


AB10 = ("alpha_beta", {"alpha": 1.0, "beta": 0.0})


@pytest.mark.filterwarnings("ignore:.*changes nothing")
@pytest.mark.parametrize(
    "method, kwargs, layer_map, rules",
    [
        # signxai's example: AlphaBeta(1, 0) on convolutions, Epsilon(0.01) on Dense layers
        ("lrp.epsilon", {"epsilon": 0.1}, {"conv2d": {"alpha": 1, "beta": 0}, "dense": {"epsilon": 0.01}},
         [AB10, ("epsilon", {"epsilon": 0.01}), ("epsilon", {"epsilon": 0.01})]),
        # only the kinds named change; the method's rule stays on the others
        ("lrp.epsilon", {"epsilon": 0.1}, {"Conv2D": {"rule": "Flat"}}, [FLAT, EPS, EPS]),
        # "conv" names every convolution; a class name wins over it
        ("lrp.z", {}, {"conv": {"alpha": 1}, "dense": {}}, [AB10, Z, Z]),
        ("lrp.z", {}, {"conv": {"rule": "Flat"}, "conv_2d": {"alpha": 1}}, [AB10, Z, Z]),
        # the kernel layer fed by the input keeps input_layer_rule
        ("lrp.z", {"input_layer_rule": "WSquare"}, {"conv2d": {"alpha": 1}, "dense": {"epsilon": 0.1}}, [WSQ, EPS, EPS]),
        ("lrp.z", {}, {"dense": {"epsilon": 0.5, "bias": False}}, [Z] + [("epsilon", {"epsilon": 0.5, "bias": False})] * 2),
        ("lrp.alpha_1_beta_0", {}, {"dense": R.EpsilonRule(0.1)}, [AB10, EPS, EPS]),
    ],
    ids=["signxai-example", "one-kind", "conv-group", "class-over-group", "input-rule", "ignore-bias", "rule-instance"],
)
def test_layer_map_against_a_hand_chain(method, kwargs, layer_map, rules):
    """calculate_explanation_innvestigate(layer_map=...): the rule of each kernel layer by its kind."""
    from signxai_tf.compat import calculate_explanation_innvestigate

    model = cnn()
    x = _x((6, 6, 2), n=2)
    got = calculate_explanation_innvestigate(model, x, method, layer_map=layer_map, **kwargs)
    _close(got, _chain(model, x, rules), 1e-5)
    one = calculate_explanation_innvestigate(model, x[0], method, neuron_selection=2, layer_map=layer_map, **kwargs)
    _close(one, _chain(model, x[:1], rules, targets=[2])[0], 1e-5)


def test_layer_map_errors():
    from signxai_tf.compat import calculate_explanation_innvestigate as explain_innvestigate

    model, x = cnn(), _x((6, 6, 2), n=1)
    with pytest.raises(MethodParameterError, match="not a Keras layer kind"):
        explain_innvestigate(model, x, "lrp.z", layer_map={"conv9d": {}})
    with pytest.raises(MethodParameterError, match="select no single rule"):
        explain_innvestigate(model, x, "lrp.z", layer_map={"dense": {"epsilon": 0.1, "alpha": 2}})
    with pytest.raises(MethodParameterError, match="LRP rules, but the analyzer is Gradient"):
        explain_innvestigate(model, x, "gradient", layer_map={"dense": {}})
    with pytest.raises(MethodParameterError, match="epsilon"):
        explain_innvestigate(model, x, "lrp.z", layer_map={"dense": {"epsilon": -1.0}})
    with pytest.warns(UserWarning, match="conv1d.*changes nothing"):
        explain_innvestigate(model, x, "lrp.z", layer_map={"conv1d": {}})
    with pytest.raises(MethodParameterError, match="neuron_selection_mode"):
        explain_innvestigate(model, x, "lrp.z", neuron_selection_mode="all")


def test_calculate_explanation_innvestigate_is_the_analyzer():
    """The original's call: create_analyzer(method, model, **kw).analyze(x, neuron_selection), one sample or a batch."""
    from signxai_tf.compat import calculate_explanation_innvestigate as explain_innvestigate

    model, x = cnn(), _x((6, 6, 2), n=2)
    _close(explain_innvestigate(model, x, "lrp.stdxepsilon", stdfactor=0.3), A.LRPStdxEpsilon(model, stdfactor=0.3).analyze(x), 1e-6)
    _close(explain_innvestigate(model, x[1], "lrp.epsilon"), A.LRPEpsilon(model).analyze(x[1:])[0], 1e-6)
    _close(explain_innvestigate(model, x, "lrp.z", neuron_selection=1),
           A.LRPZ(model, neuron_selection_mode="index").analyze(x, 1), 1e-6)
    _close(explain_innvestigate(model, x, "lrp.z", neuron_selection="all"), _chain(model, x, [Z] * 3, all_outputs=True), 1e-5)
    _close(explain_innvestigate(model, x, "input_t_gradient", neuron_selection="all"),
           A.InputTimesGradient(model, neuron_selection_mode="all").analyze(x), 1e-6)
    with pytest.raises(ValueError, match="batchmode=True needs a batch"):
        explain_innvestigate(model, x[0], "lrp.z", batchmode=True)


def test_separable_conv_and_nested_model():
    """A SeparableConv is one kernel layer (both parts get its rule, the input rule only its depthwise part);
    kernel layers of a nested model are counted in graph order."""
    keras.utils.set_random_seed(5)
    inner = keras.Sequential([keras.Input((6, 6, 2)), L.SeparableConv2D(3, 3, activation="relu", name="sep")], name="inner")
    inp = keras.Input((6, 6, 2))
    h = L.GlobalAveragePooling2D()(inner(inp))
    model = keras.Model(inp, L.Dense(3, name="head")(h))
    x = _x((6, 6, 2), n=2)
    assert A.kernel_layer_names(model) == ["sep", "head"]
    for analyzer, name in [
        (A.LRPSequentialCompositeAFlat(model), "flatlrp_sequential_composite_a"),
        (A.LRPEpsilon(model, 0.1, input_layer_rule="SIGN"), "lrpsign_epsilon_0_1"),
    ]:
        assert analyzer.method_name == name
        _close(analyzer.analyze(x), explain(model, x, name), 1e-6)
    used = A.LRP(model, rule=["Flat", "Z"], input_layer_rule="Z").rules_used
    assert [(k, r.name) for k, r in used.items()] == [("sep/depthwise", "z"), ("sep/pointwise", "flat"), ("head", "z")]


def test_rules_used_names_every_kernel_layer():
    model = cnn()
    analyzer = A.LRPSequentialCompositeA(model)
    assert A.kernel_layer_names(model) == list(analyzer.rules_used) == ["conv", "dense", "out"]
    used = list(analyzer.rules_used.values())
    assert [r.name for r in used] == ["alpha_beta", "epsilon", "epsilon"]
    assert set(analyzer.rules.layers) == set(analyzer.rules_used)


# ======================================================= 4. neuron selection
def test_neuron_selection_index():
    model = cnn()
    x = _x((6, 6, 2))
    analyzer = A.LRPEpsilon(model, 0.1, neuron_selection_mode="index")
    _close(analyzer.analyze(x, 2), explain(model, x, "lrp_epsilon_0_1", target=2), 1e-6)
    _close(analyzer.analyze(x, [0, 2, 1]), explain(model, x, "lrp_epsilon_0_1", target=[0, 2, 1]), 1e-6)
    _close(analyzer.analyze(x, np.array([1])), explain(model, x, "lrp_epsilon_0_1", target=1), 1e-6)
    _close(analyzer.analyze([x], neuron_selection=1), explain(model, x, "lrp_epsilon_0_1", target=1), 1e-6)
    guided = A.GuidedBackprop(model, neuron_selection_mode="index").analyze(x, 0)
    f = model(x).numpy()[:, 0]
    expected = explain(model, x, "guided_backprop", target=0)
    # negative seeds go through the negated output; compare the non-negative rows directly
    rows = f >= 0
    _close(guided[rows], expected[rows] * f[rows, None, None, None], 1e-6)
    with pytest.raises(ValueError, match="out of range"):
        analyzer.analyze(x, 3)


def test_neuron_selection_all_lrp_is_the_chain_from_every_output():
    model = dense_chain()
    x = _x((3, 2), n=2)
    got = A.LRPEpsilon(model, 0.1, neuron_selection_mode="all").analyze(x)
    _close(got, _chain(model, x, [EPS] * 3, all_outputs=True), 1e-5)
    summed = sum(explain(model, x, "lrp_epsilon_0_1", target=c) for c in range(3))
    _close(got, summed, 1e-6)


def test_neuron_selection_all_gradients():
    model = cnn()
    x = _x((6, 6, 2))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        total = tf.reduce_sum(model(xt))
    grad_of_sum = tape.gradient(total, xt).numpy()
    _close(A.Gradient(model, neuron_selection_mode="all").analyze(x), grad_of_sum, 1e-5)
    _close(A.InputTimesGradient(model, neuron_selection_mode="all").analyze(x), x * grad_of_sum, 1e-5)
    _close(A.Gradient(model, "abs", neuron_selection_mode="all").analyze(x), np.abs(grad_of_sum), 1e-5)
    ig = A.IntegratedGradients(model, steps=3, neuron_selection_mode="all").analyze(x)
    _close(ig, sum(explain(model, x, "integrated_gradients", steps=3, target=c) for c in range(3)), 1e-6)
    sg = A.SmoothGrad(model, augment_by_n=3, noise_scale=0.2, seed=1, neuron_selection_mode="all").analyze(x)
    expected = sum(explain(model, x, "smoothgrad", samples=3, noise=0.2, noise_mode="absolute", seed=1, target=c) for c in range(3))
    _close(sg, expected, 1e-6)
    for cls in (A.GuidedBackprop, A.Deconvnet):
        with pytest.raises(MethodParameterError, match="not linear in the seed"):
            cls(model, neuron_selection_mode="all")


def test_neuron_selection_errors():
    model = cnn()
    x = _x((6, 6, 2))
    with pytest.raises(MethodParameterError, match="needs analyze"):
        A.LRPZ(model, neuron_selection_mode="index").analyze(x)
    with pytest.raises(MethodParameterError, match="neuron_selection_mode='index'"):
        A.LRPZ(model).analyze(x, 1)
    with pytest.raises(MethodParameterError, match="neuron_selection_mode"):
        A.Gradient(model, neuron_selection_mode="max")


# ======================================================= 5. create_analyzer
REQUIRED_NAMES = [
    "gradient", "input_t_gradient", "guided_backprop", "deconvnet", "integrated_gradients", "smoothgrad", "lrp",
    "lrp.z", "lrp.z_IB", "lrp.epsilon", "lrp.epsilon_IB", "lrp.stdxepsilon", "lrp.w_square", "lrp.flat",
    "lrp.alpha_beta", "lrp.alpha_2_beta_1", "lrp.alpha_2_beta_1_IB", "lrp.alpha_1_beta_0", "lrp.alpha_1_beta_0_IB",
    "lrp.z_plus", "lrp.z_plus_fast", "lrp.gamma", "lrp.sequential_composite_a", "lrp.sequential_composite_b",
    "lrp.sequential_preset_a", "lrp.sequential_preset_b", "lrp.sequential_preset_a_flat", "lrp.sequential_preset_b_flat",
    "lrp.sequential_preset_b_flat_until_idx", "lrp.rule_until_index",
]
NEEDS = {"lrp": {"rule": "Z"}, "lrp.alpha_beta": {"alpha": 2}}


@pytest.mark.parametrize("name", REQUIRED_NAMES)
def test_create_analyzer_names(name):
    model = cnn()
    analyzer = signxai_tf.create_analyzer(name, model, **NEEDS.get(name, {}))
    assert type(analyzer) is A.analyzers[name]


def test_create_analyzer_passes_keywords_and_aliases():
    model = cnn()
    x = _x((6, 6, 2))
    analyzer = A.create_analyzer("lrp.epsilon", model, epsilon=0.1, neuron_selection_mode="index")
    _close(analyzer.analyze(x, 1), explain(model, x, "lrp_epsilon_0_1", target=1), 1e-6)
    assert A.analyzers["lrp.sequential_preset_a"] is A.LRPSequentialCompositeA is A.LRPSequentialPresetA
    assert A.analyzers["input_t_gradient"] is A.InputTimesGradient
    assert signxai_tf.create_analyzer is A.create_analyzer
    assert "create_analyzer" in signxai_tf.__all__ and signxai_tf.__all__ == sorted(signxai_tf.__all__)
    with pytest.raises(MethodParameterError, match=r"no analyzer is named 'lrp\.epsilonn'.*lrp\.z_plus"):
        A.create_analyzer("lrp.epsilonn", model)
    with pytest.raises(NotImplementedError, match="PatternNet"):
        A.create_analyzer("pattern.net", model)


def test_deep_taylor_analyzers_are_the_deep_taylor_methods():
    """DeepTaylor / BoundedDeepTaylor: the table's deep_taylor names (checked against a literal chain in
    tests/parity/test_properties.py), with iNNvestigate's argmax selection and "all" as the sum."""
    model = cnn()
    x = _x((6, 6, 2))
    _close(A.create_analyzer("deep_taylor", model).analyze(x), explain(model, x, "deep_taylor"), 1e-6)
    bounded = A.create_analyzer("deep_taylor.bounded", model, low=-2.0, high=2.0)
    _close(bounded.analyze(x), explain(model, x, "deep_taylor_bounded", low=-2.0, high=2.0), 1e-6)
    every = A.DeepTaylor(model, neuron_selection_mode="all").analyze(x)
    n = model(x).shape[1]
    _close(every, sum(explain(model, x, "deep_taylor", target=c) for c in range(n)), 1e-5)
    with pytest.raises(MethodParameterError, match="give both low and high"):
        A.BoundedDeepTaylor(model, low=-1.0)


def test_rule_classes_are_importable():
    names = ["ZRule", "ZIgnoreBiasRule", "EpsilonRule", "EpsilonIgnoreBiasRule", "StdxEpsilonRule", "SIGNRule",
             "SIGNmuRule", "WSquareRule", "FlatRule", "AlphaBetaRule", "AlphaBetaIgnoreBiasRule", "Alpha2Beta1Rule",
             "Alpha2Beta1IgnoreBiasRule", "Alpha1Beta0Rule", "Alpha1Beta0IgnoreBiasRule", "AlphaBetaXRule",
             "AlphaBetaX1000Rule", "AlphaBetaX1010Rule", "AlphaBetaX1001Rule", "AlphaBetaX2m100Rule", "ZPlusRule",
             "ZPlusFastRule", "BoundedRule", "GammaRule"]
    for name in names:
        assert issubclass(getattr(signxai_tf.analyzer.rules, name), R.Rule)
    assert A.__all__ == sorted(A.__all__)


# ======================================================= 6. user-written rules
class HandZ(R.Rule):
    """The Z rule written with the documented interface."""

    def relevance(self, layer, a, R_out):
        return a * layer.transposed(tf.math.divide_no_nan(R_out, layer.z))


class EpsilonProxyRule(R.EpsilonRule):
    """iNNvestigate's way to fix a parameter."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, epsilon=0.1, **kwargs)


def test_user_written_rule():
    model = cnn()
    x = _x((6, 6, 2))
    _close(A.LRP(model, rule=HandZ).analyze(x), explain(model, x, "lrp_z"), 1e-6)
    _close(A.LRP(model, rule=EpsilonProxyRule).analyze(x), explain(model, x, "lrp_epsilon_0_1"), 1e-6)
    chain_model = dense_chain()
    xc = _x((3, 2), n=2)
    got = A.LRP(chain_model, rule=[HandZ(), "Flat", R.EpsilonRule(0.1)]).analyze(xc)
    _close(got, _chain(chain_model, xc, [Z, FLAT, EPS]), 1e-5)
    assert A.LRP(model, rule=HandZ).rules_used["dense"].name == "custom"


def test_user_written_rule_inside_tf_function():
    model = cnn()
    x = _x((6, 6, 2))
    tf.config.run_functions_eagerly(False)
    try:
        got = A.LRP(model, rule=HandZ()).analyze(x)
    finally:
        tf.config.run_functions_eagerly(True)
    _close(got, explain(model, x, "lrp_z"), 1e-6)


def test_rule_without_relevance_is_refused():
    class Nothing(R.Rule):
        pass

    with pytest.raises(TypeError, match="implement relevance"):
        A.LRP(cnn(), rule=Nothing)


# ======================================================= 7. batch norm, softmax, errors
def test_batch_norm_gets_the_batch_norm_rule():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((5, 5, 2)), L.Conv2D(3, 3), L.BatchNormalization(), L.ReLU(), L.Flatten(), L.Dense(3),
    ])
    bn = model.layers[1]
    bn.set_weights([w + np.random.default_rng(0).uniform(0.1, 0.5, w.shape).astype(np.float32) for w in bn.get_weights()])
    x = _x((5, 5, 2))
    expected = explain(model, x, "lrp_epsilon_0_1")
    _close(A.LRPEpsilon(model, 0.1).analyze(x), expected, 1e-6)
    _close(A.LRPEpsilon(model, 0.1, bn_layer_rule="Z", bn_layer_fuse_mode="two_linear").analyze(x), expected, 1e-6)
    with pytest.raises(MethodParameterError, match="bn_layer_rule"):
        A.LRPEpsilon(model, 0.1, bn_layer_rule=R.AlphaBetaX2m100Rule)
    with pytest.raises(MethodParameterError, match="bn_layer_fuse_mode"):
        A.LRPZ(model, bn_layer_fuse_mode="fused")


def test_softmax_models_are_refused_and_model_wo_softmax_helps():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="softmax")])
    x = _x((4,))
    with pytest.raises(UnsupportedLayerError, match="model_wo_softmax"):
        A.LRPZ(model)
    with pytest.raises(UnsupportedLayerError, match="softmax"):
        A.Gradient(model)
    logits = A.model_wo_softmax(model)
    _close(A.LRPZ(logits).analyze(x), explain(model, x, "lrp_z"), 1e-6)
    assert A.model_wo_softmax(logits) is logits


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: A.LRPEpsilon(m, 0), "epsilon"),
        (lambda m: A.LRPEpsilon(m, -0.1), "epsilon"),
        (lambda m: A.LRP(m, rule=R.EpsilonRule(epsilon=0.0)), "epsilon"),
        (lambda m: A.LRPEpsilonIgnoreBias(m, epsilon=0), "epsilon"),
        (lambda m: A.LRPStdxEpsilon(m, stdfactor=0), "std_factor"),
        (lambda m: A.LRPStdxEpsilon(m, epsilon=0), "epsilon"),
        (lambda m: A.LRPAlphaBeta(m), "neither"),
        (lambda m: A.LRPAlphaBeta(m, alpha=0.5), "alpha"),
        (lambda m: A.LRPAlphaBeta(m, beta=-1), "beta"),
        (lambda m: A.LRPAlphaBeta(m, alpha=2, beta=2), "alpha - beta must be 1"),
        (lambda m: A.LRP(m, rule=R.AlphaBetaRule(alpha=3, beta=1)), "alpha - beta must be 1"),
        (lambda m: A.LRPAlphaBeta(m, 2, alpha_beta_bias="both"), "alpha_beta_bias"),
        (lambda m: A.LRPGamma(m, gamma=-1), "gamma"),
        (lambda m: A.LRP(m, rule=R.BoundedRule(low=1.0, high=0.0)), "low < high"),
        (lambda m: A.LRP(m, rule="Z", input_layer_rule=(2.0, -2.0)), "low < high"),
        (lambda m: A.LRP(m, rule=["Z", "Z"]), "2 entries, but the model has 3 kernel layers"),
        (lambda m: A.LRP(m, rule=["Z"] * 4), "4 entries"),
        (lambda m: A.LRP(m, rule="Zed"), "unknown rule 'Zed'"),
        (lambda m: A.LRP(m, rule=42), "rule must be"),
        (lambda m: A.LRP(m, rule="Z", input_layer_rule="Nope"), "unknown input_layer_rule"),
        (lambda m: A.LRP(m), "needs LRP rule"),
        (lambda m: A.LRP(m, rule=[(A.is_conv_layer, "Z")]), "no rule applies to layer 'dense'"),
        (lambda m: A.LRP(m, rule=[(A.is_conv_layer, "Z"), "Z"]), "pairs"),
        (lambda m: A.LRP(m, rule="Z", until_layer_idx=1), "go together"),
        (lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=3), "indices 0..2"),
        (lambda m: A.LRPRuleUntilIndex(m, until_layer_idx=-1), "indices 0..2"),
        (lambda m: A.LRPRuleUntilIndex(m, default_rule_configuration=A.Gradient), "default_rule_configuration"),
        (lambda m: A.LRPSequentialCompositeAFlat(m, input_layer_rule="Z"), "Flat"),
        (lambda m: A.Gradient(m, postprocess="log"), "postprocess"),
        (lambda m: A.IntegratedGradients(m, postprocess="abs"), "postprocess"),
        (lambda m: A.IntegratedGradients(m, steps=0), "steps"),
        (lambda m: A.IntegratedGradients(m, quadrature="simpson"), "quadrature"),
        (lambda m: A.SmoothGrad(m, augment_by_n=0), "samples"),
        (lambda m: A.SmoothGrad(m, noise_scale=-1.0), "noise"),
        (lambda m: A.SmoothGrad(m, seed=-1), "seed"),
    ],
)
def test_clear_errors(call, match):
    with pytest.raises(MethodParameterError, match=match):
        call(cnn())


def test_not_a_model():
    with pytest.raises(TypeError, match="keras.Model"):
        A.LRPZ(lambda x: x)
    with pytest.raises(ValueError, match="x\\[None\\]"):
        A.LRPZ(cnn()).analyze(np.zeros((6, 6, 2), np.float32))
