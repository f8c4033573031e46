"""signxai_tf LRP on the layer kinds of issue 10: depthwise / separable / transposed convolutions against the
literal reference (every rule, every input rule), gates, pass-through normalisations, element-wise affine
layers and ops (values and the input-layer look-through), mean/sum/global pooling, upsampling, fused
activations, and the errors for products without a gate.

Every expected value is computed independently: kernel matrices come from the Keras layers themselves
(``layer_matrix`` of ``layer(e) - layer(0)``), the rules from ``tests/lrp_reference.py``, and the chains
through the small models are written out by hand with numpy.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from lrp_reference import layer_matrix, lrp_rule, lrp_sum  # noqa: E402
from shared_spec import LRPRule, LRPRuleSet, parse  # noqa: E402
from signxai_tf import explain  # noqa: E402
from signxai_tf.lrp import lrp, lrp_plan  # noqa: E402

EPS = LRPRule("epsilon", {"epsilon": 0.1})

RULE_CASES = [
    ("z", {}),
    ("epsilon", {"epsilon": 0.1}),
    ("std_x_epsilon", {"std_factor": 0.25}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0}),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference"}),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}),
    ("z_plus", {}),
    ("gamma", {"gamma": 0.25}),
    ("w_square", {}),
    ("flat", {}),
    ("bounded", {"low": -1.0, "high": 1.0}),
    ("sign", {}),
    ("sign_mu", {"mu": 0.3}),
    ("epsilon", {"epsilon": 0.1, "bias": False}),
    ("z_plus_fast", {}),
    ("alpha_beta_x", {"alpha_x": (2.0, 0.0), "beta_x": (1.0, 0.0), "bias": True}),
]
INPUT_CASES = [("sign", {}), ("sign_mu", {"mu": -0.5}), ("bounded", {"low": -2.0, "high": 2.0}), ("w_square", {}),
               ("flat", {}), ("z_plus", {})]


@contextlib.contextmanager
def eager_functions():
    """Run the engine's tf.function eagerly (same numbers, no tracing of one graph per tiny model)."""
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(previous)


def _close(got, expected, tol=2e-5):
    scale = max(np.abs(expected).max(), 1e-6)
    np.testing.assert_allclose(got, expected, atol=tol * scale, rtol=1e-4)


def _x(shape, n=2, seed=0):
    x = np.random.default_rng(seed).normal(size=(n,) + shape).astype(np.float32)
    x.reshape(-1)[::7] = 0.0
    return x


# ------------------------------------------------------------------ kernel layers vs. the literal reference

class _SeededNormal:
    """N(0, 0.5) weights with a fixed seed per draw, counted from 0 for every model (``_kernel_model``):
    a model's weights do not depend on which tests ran before in the same worker."""

    draws = 0

    def __call__(self, shape, dtype=None):
        _SeededNormal.draws += 1
        return keras.initializers.RandomNormal(stddev=0.5, seed=1000 + _SeededNormal.draws)(shape, dtype)


INIT = _SeededNormal()

KERNEL_KINDS = {
    "depthwise2d_m1": (lambda: keras.layers.DepthwiseConv2D(3, padding="same", depthwise_initializer=INIT,
                                                            bias_initializer=INIT), (4, 4, 2)),
    "depthwise2d_m2": (lambda: keras.layers.DepthwiseConv2D(2, strides=2, depth_multiplier=2, depthwise_initializer=INIT,
                                                            bias_initializer=INIT), (5, 5, 2)),
    "depthwise1d_m2": (lambda: keras.layers.DepthwiseConv1D(3, depth_multiplier=2, depthwise_initializer=INIT,
                                                            bias_initializer=INIT), (7, 2)),
    "separable2d": (lambda: keras.layers.SeparableConv2D(3, 3, padding="same", depthwise_initializer=INIT,
                                                         pointwise_initializer=INIT, bias_initializer=INIT), (4, 4, 2)),
    "separable2d_m2_s2": (lambda: keras.layers.SeparableConv2D(3, 2, strides=2, depth_multiplier=2,
                                                               depthwise_initializer=INIT, pointwise_initializer=INIT,
                                                               bias_initializer=INIT), (5, 5, 2)),
    "separable1d": (lambda: keras.layers.SeparableConv1D(3, 3, depthwise_initializer=INIT, pointwise_initializer=INIT,
                                                         bias_initializer=INIT), (7, 2)),
    "conv2d_transpose": (lambda: keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same", kernel_initializer=INIT,
                                                              bias_initializer=INIT), (3, 3, 2)),
    "conv1d_transpose": (lambda: keras.layers.Conv1DTranspose(2, 3, strides=2, kernel_initializer=INIT,
                                                              bias_initializer=INIT), (4, 2)),
    "conv2d_grouped": (lambda: keras.layers.Conv2D(4, 2, groups=2, kernel_initializer=INIT, bias_initializer=INIT),
                       (3, 3, 4)),
    "conv2d_one_channel_groups": (lambda: keras.layers.Conv2D(6, 3, groups=3, padding="same", kernel_initializer=INIT,
                                                              bias_initializer=INIT), (3, 3, 3)),
    "conv1d_grouped": (lambda: keras.layers.Conv1D(4, 2, groups=2, kernel_initializer=INIT, bias_initializer=INIT),
                       (5, 4)),
}


def _affine_matrix(fn, shape):
    """(W, b) of an affine map from its action on the one-hot basis (independent of the engine)."""
    zero = np.asarray(fn(np.zeros((1,) + shape, np.float32)), np.float64)[0]
    W = layer_matrix(lambda e: np.asarray(fn(e[None].astype(np.float32)), np.float64)[0] - zero, shape)
    return W, zero.ravel()


def _kernel_model(kind):
    keras.utils.set_random_seed(3)
    _SeededNormal.draws = 0
    build, shape = KERNEL_KINDS[kind]
    layer = build()
    model = keras.Sequential([keras.Input(shape), layer, keras.layers.Flatten(),
                              keras.layers.Dense(3, kernel_initializer=INIT, bias_initializer=INIT)])
    return model, layer, shape


def _parts(layer, shape):
    """The (W, b, in_shape) of each kernel part of ``layer``, built from Keras layers, input side first."""
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        rank = 2 if isinstance(layer, keras.layers.SeparableConv2D) else 1
        dw_cls = keras.layers.DepthwiseConv2D if rank == 2 else keras.layers.DepthwiseConv1D
        conv_cls = keras.layers.Conv2D if rank == 2 else keras.layers.Conv1D
        dw = dw_cls(layer.kernel_size, strides=layer.strides, padding=layer.padding,
                    depth_multiplier=layer.depth_multiplier, dilation_rate=layer.dilation_rate, use_bias=False)
        dw.build((None,) + shape)
        dw.set_weights([layer.depthwise_kernel.numpy()])
        mid_shape = tuple(dw.compute_output_shape((None,) + shape)[1:])
        pw = conv_cls(layer.filters, 1)
        pw.build((None,) + mid_shape)
        pw.set_weights([layer.pointwise_kernel.numpy(), layer.bias.numpy()])
        Wd, bd = _affine_matrix(lambda t: dw(t).numpy(), shape)
        Wp, bp = _affine_matrix(lambda t: pw(t).numpy(), mid_shape)
        # the decomposition reproduces the layer
        e = np.random.default_rng(5).normal(size=(1,) + shape).astype(np.float32)
        np.testing.assert_allclose((Wp @ (Wd @ e.ravel()) + bp), layer(e).numpy().ravel(), rtol=1e-4, atol=1e-5)
        return [(Wd, bd, shape), (Wp, bp, mid_shape)]
    W, b = _affine_matrix(lambda t: layer(t).numpy(), shape)
    return [(W, b, shape)]


def _ref_params(params):
    return dict(params)


def _reference_chain(model, layer, shape, x, target, part_rules):
    """Dense (epsilon 0.1) then the parts of ``layer`` backwards, each with its rule, by the literal reference."""
    parts = _parts(layer, shape)
    dense = model.layers[-1]
    Wd, bd = dense.kernel.numpy().T.astype(np.float64), dense.bias.numpy().astype(np.float64)
    out = []
    for i in range(len(x)):
        acts = [x[i].ravel().astype(np.float64)]
        for W, b, _ in parts:
            acts.append(W @ acts[-1] + b)
        f = Wd @ acts[-1] + bd
        R = np.zeros(3)
        R[target[i]] = f[target[i]]
        R = lrp_rule("epsilon", acts[-1], Wd, bd, R, epsilon=0.1)
        for j in reversed(range(len(parts))):
            W, b, _ = parts[j]
            name, params = part_rules[j]
            R = lrp_rule(name, acts[j], W, b, R, **_ref_params(params))
        out.append(R.reshape(shape))
    return np.stack(out)


def _engine(model, x, target, rules):
    with eager_functions():
        return lrp(model, tf.constant(x), target, rules).numpy()


@pytest.mark.parametrize("name, params", RULE_CASES, ids=[f"{n}-{p}" for n, p in RULE_CASES])
@pytest.mark.parametrize("kind", sorted(KERNEL_KINDS))
def test_kernel_layer_rule_against_reference(kind, name, params):
    """The preset's conv rule on every part (input rule: none)."""
    model, layer, shape = _kernel_model(kind)
    x = _x(shape)
    x[1] *= 3.0
    target = [0, 2]
    rule = LRPRule(name, params)
    got = _engine(model, x, target, LRPRuleSet(dense=EPS, conv=rule, input=None))
    n_parts = len(_parts(layer, shape))
    # AlphaBeta with beta > 0 divides by the inhibitor z-, which can nearly vanish: the float32 engine then
    # differs from the float64 reference by up to ~2e-4 of the map's max, depending on TF's summation order
    # (seen once in CI on conv2d_transpose, 1.7e-4); the other rules are well conditioned
    # Bounded on inputs outside [low, high] (x[1] is scaled by 3) has the same kind of indefinite denominator
    # (seen at 3.5e-4 on separable2d; the weights depend on the worker's Keras seed state)
    ill_conditioned = (name == "alpha_beta" and params.get("beta", 0.0) > 0) or name == "bounded"
    tol = 5e-4 if ill_conditioned else 5e-5
    _close(got, _reference_chain(model, layer, shape, x, target, [(name, params)] * n_parts), tol)


@pytest.mark.parametrize("name, params", INPUT_CASES, ids=[f"{n}-{p}" for n, p in INPUT_CASES])
@pytest.mark.parametrize("kind", ["depthwise2d_m2", "separable2d", "separable1d", "conv2d_transpose"])
def test_input_rule_on_the_first_part_only(kind, name, params):
    """The input-layer rule goes to the depthwise part of a separable conv; the pointwise part keeps the preset."""
    model, layer, shape = _kernel_model(kind)
    x = _x(shape)
    target = [1, 0]
    conv = LRPRule("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference"})
    rules = LRPRuleSet(dense=EPS, conv=conv, input=LRPRule(name, params))
    got = _engine(model, x, target, rules)
    n_parts = len(_parts(layer, shape))
    part_rules = [(name, params)] + [(conv.name, dict(conv.params))] * (n_parts - 1)
    _close(got, _reference_chain(model, layer, shape, x, target, part_rules), 5e-5)
    used = lrp_plan(model, "lrp", rules).rules_used
    if n_parts == 2:
        assert used[f"{layer.name}/depthwise"].name == name and used[f"{layer.name}/pointwise"] == conv
    else:
        assert used[layer.name].name == name


def test_separable_std_x_epsilon_uses_the_depthwise_output_std():
    model, layer, shape = _kernel_model("separable2d")
    x = _x(shape)
    x[0] *= 10.0
    rule = LRPRule("std_x_epsilon", {"std_factor": 0.5})
    got = _engine(model, x, [0, 1], LRPRuleSet(dense=EPS, conv=rule, input=None))
    # per sample: the batch must not mix statistics
    alone = np.concatenate([_engine(model, x[i:i + 1], [t], LRPRuleSet(dense=EPS, conv=rule, input=None))
                            for i, t in enumerate([0, 1])])
    _close(got, alone, 1e-5)
    _close(got, _reference_chain(model, layer, shape, x, [0, 1], [("std_x_epsilon", {"std_factor": 0.5})] * 2), 5e-5)


@pytest.mark.parametrize("kind", ["depthwise2d_m2", "separable2d", "conv2d_transpose"])
def test_compiled_equals_eager_and_gradient_identity(kind):
    """Compiled run = eager run; with Z everywhere and no ReLU, LRP-Z equals gradient x input only with zero
    biases: checked on a copy of the model with biases set to zero."""
    model, layer, shape = _kernel_model(kind)
    x = _x(shape)
    rules = parse("lrpsign_epsilon_0_1").lrp_rules()
    compiled = lrp(model, tf.constant(x), [0, 1], rules).numpy()
    _close(compiled, _engine(model, x, [0, 1], rules), 1e-5)
    for w in [layer.bias, model.layers[-1].bias]:
        w.assign(np.zeros(w.shape, np.float32))
    _close(explain(model, x, "lrp_z", target=[0, 1]), explain(model, x, "gradient_x_input", target=[0, 1]), 1e-5)
    # guided backprop / deconvnet on a model without ReLU: the plain gradient (through both separable parts)
    _close(explain(model, x, "guided_backprop", target=[0, 1]), explain(model, x, "gradient", target=[0, 1]), 1e-5)


# ------------------------------------------------------------------------- small models, hand-derived chains


def _dense(layer):
    return layer.kernel.numpy().T.astype(np.float64), layer.bias.numpy().astype(np.float64)


def _eps(a, layer, R):
    W, b = _dense(layer)
    return lrp_rule("epsilon", a, W, b, R, epsilon=0.1)


def _seed(f, t):
    R = np.zeros_like(f)
    R[t] = f[t]
    return R


def _gate_variants():
    def dense_sigmoid(h):
        return keras.layers.Dense(4, activation="sigmoid", name="gate_dense")(h)

    def activation_hard_sigmoid(h):
        return keras.layers.Activation("hard_sigmoid")(keras.layers.Dense(4, name="gate_dense")(h))

    def op_sigmoid(h):
        return keras.ops.sigmoid(keras.layers.Dense(4, name="gate_dense")(h))

    def written_out_hard_sigmoid(h):  # MobileNetV3: ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
        return keras.layers.ReLU(6.0)(keras.layers.Dense(4, name="gate_dense")(h) + 3.0) * (1.0 / 6.0)

    def divided_hard_sigmoid(h):
        return keras.layers.ReLU(6.0)(keras.layers.Dense(4, name="gate_dense")(h) + 3.0) / 6.0

    def reshaped_gate(h):  # squeeze-excitation style: the gate broadcast through a reshape
        g = keras.layers.Dense(4, activation="sigmoid", name="gate_dense")(h)
        return keras.layers.Reshape((4,))(keras.layers.Reshape((1, 4))(g))

    return {f.__name__: f for f in (dense_sigmoid, activation_hard_sigmoid, op_sigmoid, written_out_hard_sigmoid,
                                    divided_hard_sigmoid, reshaped_gate)}


GATES = _gate_variants()


@pytest.mark.parametrize("gate_first", [False, True])
@pytest.mark.parametrize("variant", sorted(GATES))
@pytest.mark.parametrize("product", ["layer", "op"])
def test_gate_rule(variant, product, gate_first):
    keras.utils.set_random_seed(1)
    inp = keras.Input((5,))
    h = keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp)
    g = GATES[variant](h)
    factors = [g, h] if gate_first else [h, g]
    y = keras.layers.Multiply()(factors) if product == "layer" else factors[0] * factors[1]
    out = keras.layers.Dense(3, bias_initializer="random_normal", name="d2")(y)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [h, y, out])
    x = _x((5,))
    got = explain(model, x, "lrp_epsilon_0_1", target=[0, 2])
    hs, ys, fs = (t.numpy().astype(np.float64) for t in probe(x))
    for i, t in enumerate([0, 2]):
        R_y = _eps(ys[i], model.get_layer("d2"), _seed(fs[i], t))
        expected = _eps(x[i].astype(np.float64), model.get_layer("d1"), R_y)  # R_h = R_y, the gate gets nothing
        _close(got[i], expected, 1e-4)


def test_swish_written_out_and_both_gates():
    """x * sigmoid(x): the relevance goes to x; sigmoid(a) * sigmoid(b): to the first factor."""
    keras.utils.set_random_seed(2)
    inp = keras.Input((5,))
    h1 = keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp)
    h2 = keras.layers.Dense(4, bias_initializer="random_normal", name="d2")(inp)
    s1 = keras.layers.Activation("sigmoid")(h1)
    y = keras.layers.Multiply()([keras.layers.Activation("sigmoid")(h2), s1])  # both gates: the first gets R
    y = keras.layers.Multiply()([y, keras.ops.sigmoid(y)])  # swish written out: y gets R
    out = keras.layers.Dense(3, bias_initializer="random_normal", name="d3")(y)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [y, out])
    x = _x((5,))
    got = explain(model, x, "lrp_epsilon_0_1", target=[1, 1])
    ys, fs = (t.numpy().astype(np.float64) for t in probe(x))
    for i in range(2):
        R = _eps(ys[i], model.get_layer("d3"), _seed(fs[i], 1))
        expected = _eps(x[i].astype(np.float64), model.get_layer("d2"), R)  # through sigmoid(h2) to d2 only
        _close(got[i], expected, 1e-4)


@pytest.mark.parametrize("product", ["layer", "op"])
def test_product_without_gate_is_refused(product):
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,))
    a = keras.layers.Dense(4, name="left")(inp)
    b = keras.layers.Dense(4, activation="tanh", name="right")(inp)
    y = keras.layers.Multiply(name="my_product")([a, b]) if product == "layer" else a * b
    model = keras.Model(inp, keras.layers.Dense(2)(y))
    with pytest.raises(NotImplementedError, match=r"product '\w+' of class Multiply.*'left'.*'right'.*gate"):
        explain(model, _x((5,)), "lrp_epsilon_0_1")
    # gradient methods still work
    assert np.isfinite(explain(model, _x((5,)), "gradient")).all()


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_normalisations_pass_relevance(norm):
    keras.utils.set_random_seed(4)
    inp = keras.Input((6,))
    h = keras.layers.Dense(6, bias_initializer="random_normal", name="d1")(inp)
    n = (keras.layers.LayerNormalization() if norm == "layer" else keras.layers.GroupNormalization(groups=2))(h)
    out = keras.layers.Dense(3, bias_initializer="random_normal", name="d2")(n)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [n, out])
    x = _x((6,))
    got = explain(model, x, "lrp_epsilon_0_1", target=[0, 1])
    ns, fs = (t.numpy().astype(np.float64) for t in probe(x))
    for i, t in enumerate([0, 1]):
        R = _eps(ns[i], model.get_layer("d2"), _seed(fs[i], t))
        _close(got[i], _eps(x[i].astype(np.float64), model.get_layer("d1"), R), 1e-4)


def _affine_front(kind):
    inp = keras.Input((4, 4, 2))
    if kind == "layers":
        h = keras.layers.Rescaling(0.5, offset=0.25)(inp)
        norm = keras.layers.Normalization(mean=[0.1, -0.2], variance=[2.0, 0.5])
        h = norm(h)
    else:  # keras.ops arithmetic with constants (MobileNetV3 / ConvNeXt style)
        h = (inp * 2.0 + 1.0 - 0.5) / 4.0
        h = -h
    h = keras.layers.ZeroPadding2D(1)(h)
    return inp, h


@pytest.mark.parametrize("kind", ["layers", "ops"])
@pytest.mark.parametrize("method, input_rule", [("lrpsign_epsilon_0_1", ("sign", {})),
                                                ("zblrp_epsilon_0_1", ("bounded", {"low": -1.0, "high": 1.0})),
                                                ("lrp_epsilon_0_1", ("epsilon", {"epsilon": 0.1}))])
def test_affine_layers_pass_and_are_looked_through(kind, method, input_rule):
    """Rescaling / Normalization / ops with constants pass relevance; the input rule sees the normalised values."""
    keras.utils.set_random_seed(6)
    inp, h = _affine_front(kind)
    conv = keras.layers.Conv2D(2, 3, bias_initializer="random_normal", name="conv")
    c = conv(h)
    out = keras.layers.Dense(2, bias_initializer="random_normal", name="dense")(keras.layers.Flatten()(c))
    model = keras.Model(inp, out)
    assert lrp_plan(model, "lrp", parse(method).lrp_rules()).rules_used["conv"].name == input_rule[0]
    probe = keras.Model(inp, [h, c, out])
    x = _x((4, 4, 2))
    got = explain(model, x, method, target=[0, 1])
    hs, cs, fs = (t.numpy().astype(np.float64) for t in probe(x))
    W, b = _affine_matrix(lambda t: conv(t).numpy(), (6, 6, 2))
    for i, t in enumerate([0, 1]):
        R = _eps(cs[i].ravel(), model.get_layer("dense"), _seed(fs[i], t))
        R = lrp_rule(input_rule[0], hs[i].ravel(), W, b, R, **input_rule[1]).reshape(6, 6, 2)
        _close(got[i], R[1:-1, 1:-1], 1e-4)  # padding routes; the affine front passes unchanged


@pytest.mark.parametrize("pool", ["gap_keepdims", "ops_mean", "ops_sum", "upsampling_bilinear"])
def test_linear_reductions_are_the_z_rule(pool):
    keras.utils.set_random_seed(8)
    inp = keras.Input((4, 4, 3))
    fn = {
        "gap_keepdims": lambda t: keras.layers.GlobalAveragePooling2D(keepdims=True)(t),
        "ops_mean": lambda t: keras.ops.mean(t, axis=(1, 2)),
        "ops_sum": lambda t: keras.ops.sum(t, axis=1),
        "upsampling_bilinear": lambda t: keras.layers.UpSampling2D(2, interpolation="bilinear")(t),
    }[pool]
    p = fn(inp)
    out = keras.layers.Dense(2, bias_initializer="random_normal", name="dense")(keras.layers.Flatten()(p))
    model = keras.Model(inp, out)
    pool_model = keras.Model(inp, p)
    x = _x((4, 4, 3))
    got = explain(model, x, "lrp_epsilon_0_1", target=[1, 0])
    P, _ = _affine_matrix(lambda t: pool_model(t).numpy(), (4, 4, 3))
    fs = model(x).numpy().astype(np.float64)
    for i, t in enumerate([1, 0]):
        pooled = P @ x[i].ravel()
        R = _eps(pooled, model.get_layer("dense"), _seed(fs[i], t))
        expected = lrp_rule("z", x[i].ravel(), P, np.zeros(P.shape[0]), R).reshape(4, 4, 3)
        _close(got[i], expected, 1e-4)


def test_nearest_upsampling_and_cropping_route():
    keras.utils.set_random_seed(9)
    inp = keras.Input((3, 3, 2))
    u = keras.layers.Cropping2D(((1, 0), (0, 1)))(keras.layers.UpSampling2D(2)(inp))
    out = keras.layers.Dense(2, bias_initializer="random_normal", name="dense")(keras.layers.Flatten()(u))
    model = keras.Model(inp, out)
    x = _x((3, 3, 2))
    got = explain(model, x, "lrp_epsilon_0_1", target=[1, 0])
    route = keras.Model(inp, u)
    P, _ = _affine_matrix(lambda t: route(t).numpy(), (3, 3, 2))  # a 0/1 routing matrix
    fs = model(x).numpy().astype(np.float64)
    for i, t in enumerate([1, 0]):
        R = _eps(P @ x[i].ravel(), model.get_layer("dense"), _seed(fs[i], t))
        _close(got[i], (P.T @ R).reshape(3, 3, 2), 1e-4)


def test_residual_op_add_and_subtract():
    """``inputs + x`` / ``a - b`` as keras.ops nodes: the Z rule over the (signed) addends."""
    keras.utils.set_random_seed(10)
    inp = keras.Input((4,))
    h = keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp)
    r = keras.layers.Dense(4, bias_initializer="random_normal", name="d2")(h)
    s = h + r
    d = keras.layers.Subtract()([s, keras.layers.Dense(4, name="d3")(inp)])
    out = keras.layers.Dense(2, bias_initializer="random_normal", name="d4")(d)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [h, r, s, d, model.get_layer("d3").output, out])
    x = _x((4,))
    got = explain(model, x, "lrp_epsilon_0_1", target=[0, 1])
    hs, rs, ss, ds, ts, fs = (v.numpy().astype(np.float64) for v in probe(x))
    for i, t in enumerate([0, 1]):
        a0 = x[i].astype(np.float64)
        R_d = _eps(ds[i], model.get_layer("d4"), _seed(fs[i], t))
        R_s, R_t = lrp_sum([ss[i], -ts[i]], R_d)
        R_h, R_r = lrp_sum([hs[i], rs[i]], R_s)
        R_h = R_h + _eps(hs[i], model.get_layer("d2"), R_r)
        expected = _eps(a0, model.get_layer("d1"), R_h) + _eps(a0, model.get_layer("d3"), R_t)
        _close(got[i], expected, 1e-4)


@pytest.mark.parametrize("act", ["silu", "gelu", "tanh", "elu", "hard_silu", "relu6", "leaky_relu", "sigmoid"])
@pytest.mark.parametrize("where", ["fused", "layer", "op"])
def test_activations_pass_and_kernel_rule_uses_pre_activation(act, where):
    keras.utils.set_random_seed(12)
    inp = keras.Input((5,))
    if where == "fused":
        z = None
        a = keras.layers.Dense(4, activation=act, bias_initializer="random_normal", name="d1")(inp)
    else:
        z = keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp)
        a = keras.layers.Activation(act)(z) if where == "layer" else getattr(keras.ops, act)(z)
    out = keras.layers.Dense(3, bias_initializer="random_normal", name="d2")(a)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [a, out])
    x = _x((5,))
    got = explain(model, x, "lrp_epsilon_0_1", target=[2, 0])
    acts, fs = (v.numpy().astype(np.float64) for v in probe(x))
    for i, t in enumerate([2, 0]):
        R = _eps(acts[i], model.get_layer("d2"), _seed(fs[i], t))
        _close(got[i], _eps(x[i].astype(np.float64), model.get_layer("d1"), R), 1e-4)


def test_relu6_is_nonnegative_for_the_alpha_beta_shortcut():
    """ReLU6 outputs are >= 0: the AlphaBeta shortcut is taken and still gives the literal rule."""
    keras.utils.set_random_seed(13)
    inp = keras.Input((5,))
    a = keras.layers.ReLU(6.0)(keras.layers.Dense(4, bias_initializer="random_normal", name="d1")(inp))
    out = keras.layers.Dense(3, bias_initializer="random_normal", name="d2")(a)
    model = keras.Model(inp, out)
    probe = keras.Model(inp, [a, out])
    x = _x((5,)) * 4
    got = explain(model, x, "lrp_alpha_2_beta_1", target=[0, 1])
    acts, fs = (v.numpy().astype(np.float64) for v in probe(x))
    ab = {"alpha": 2.0, "beta": 1.0}
    for i, t in enumerate([0, 1]):
        W2, b2 = _dense(model.get_layer("d2"))
        W1, b1 = _dense(model.get_layer("d1"))
        R = lrp_rule("alpha_beta", acts[i], W2, b2, _seed(fs[i], t), **ab)
        _close(got[i], lrp_rule("alpha_beta", x[i].astype(np.float64), W1, b1, R, **ab), 1e-4)


def test_unsupported_op_names_operation_and_remedy():
    inp = keras.Input((4,))
    h = keras.layers.Dense(4)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.ops.square(h)))
    with pytest.raises(NotImplementedError, match=r"operation '\w+' of class Square.*fed by 'dense\w*'.*gradient-based"):
        explain(model, _x((4,)), "lrp_z")
