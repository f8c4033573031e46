"""AlphaBeta as the reference (iNNvestigate's AlphaBetaRule) computes it, in both packages (docs/semantics.md §4.1).

The reference copies a layer into a positive part (W+, b+) and a negative part (W-, b-) and
evaluates each on a+ and a-, so both denominators carry the full bias b = b+ + b-:
``z+ = W+ a+ + W- a- + b``, ``z- = W- a+ + W+ a- + b`` (also when a has no negative part, e.g.
after a ReLU). ``alpha_beta_bias="split"`` is the textbook/zennit form (b+ in z+, b- in z-);
``bias=False`` and ZPlus drop the bias from both.

1. Hand-derived one-layer cases (the numbers are written out in the comments), torch Linear /
   Conv1d / Conv2d and Keras Dense / Conv1D / Conv2D, where the two forms differ.
2. A conservation-type identity on random layers.
3. ``explain`` of the alpha-beta names in both packages against the literal reference
   (tests/lrp_reference.py) chained through a small random net with non-zero biases; the split
   option against the literal split form, and the two forms differ there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lrp_reference import layer_matrix, lrp_rule
import shared_spec
from shared_spec import MethodParameterError, parse
import signxai_captum
from signxai_captum import LRPAlphaBeta, LRPSequentialCompositeA, LRPSequentialCompositeB, LRPSign
from signxai_captum.lrp.rules import AlphaBeta, LayerCall, ZPlus, rule_from_spec

# ----------------------------------------------------------------------------------------------
# 1. hand-derived one-layer cases
# ----------------------------------------------------------------------------------------------
# Dense layer, 3 inputs -> 2 outputs:
#   a = [2, -1, 0.5], W = [[1, -2, 3], [-1, 0.5, 2]], b = [-1, 0.5], R = [1, 2]
#   a+ = [2, 0, 0.5], a- = [0, -1, 0]; W+ = [[1, 0, 3], [0, 0.5, 2]], W- = [[0, -2, 0], [-1, 0, 0]]
#   W+ a+ = [3.5, 1], W- a- = [2, 0]   -> activator without bias  [5.5, 1]
#   W- a+ = [0, -2],  W+ a- = [0, -0.5] -> inhibitor without bias [0, -2.5]
# reference: z+ = [5.5, 1] + b = [4.5, 1.5], s+ = R / z+ = [2/9, 4/3]
#   W+^T s+ = [2/9, 2/3, 3 * 2/9 + 2 * 4/3 = 10/3], W-^T s+ = [-4/3, -4/9, 0]
#   act = a+ * W+^T s+ + a- * W-^T s+ = [4/9, 4/9, 5/3]
#   z- = [0, -2.5] + b = [-1, -2], s- = [-1, -1]
#   W-^T s- = [1, 2, 0], W+^T s- = [-1, -0.5, -5]
#   inh = a+ * W-^T s- + a- * W+^T s- = [2, 0.5, 0]
# split: z+ = [5.5, 1] + b+ = [5.5, 1.5], s+ = [2/11, 4/3]
#   W+^T s+ = [2/11, 2/3, 6/11 + 8/3], W-^T s+ = [-4/3, -4/11, 0]  -> act = [4/11, 4/11, 3/11 + 4/3]
#   z- = [0, -2.5] + b- = [-1, -2.5], s- = [-1, -0.8]
#   W-^T s- = [0.8, 2, 0], W+^T s- = [-1, -0.4, -4.6]               -> inh = [1.6, 0.4, 0]
# no bias: z+ = [5.5, 1], s+ = [2/11, 2]: W+^T s+ = [2/11, 1, 6/11 + 4], W-^T s+ = [-2, -4/11, 0]
#   act = [4/11, 4/11, 3/11 + 2]; z- = [0, -2.5]: s- = [0 (0/0), -0.8]: inh = [1.6, 0.4, 0]
DENSE_W = np.array([[1.0, -2.0, 3.0], [-1.0, 0.5, 2.0]])
DENSE_B = np.array([-1.0, 0.5])
A_MIXED = np.array([2.0, -1.0, 0.5])
R_DENSE = np.array([1.0, 2.0])
DENSE_CASES = {
    # (alpha, beta, form): expected R_in
    (1.0, 0.0, "reference"): [4 / 9, 4 / 9, 5 / 3],
    (2.0, 1.0, "reference"): [2 * 4 / 9 - 2, 2 * 4 / 9 - 0.5, 2 * 5 / 3],
    (1.0, 0.0, "split"): [4 / 11, 4 / 11, 3 / 11 + 4 / 3],
    (2.0, 1.0, "split"): [8 / 11 - 1.6, 8 / 11 - 0.4, 6 / 11 + 8 / 3],
    (1.0, 0.0, "no_bias"): [4 / 11, 4 / 11, 3 / 11 + 2],
    (2.0, 1.0, "no_bias"): [8 / 11 - 1.6, 8 / 11 - 0.4, 6 / 11 + 4],
}
# The same layer after a ReLU: a = [2, 0, 0.5] (a- = 0); the negative copy on a- = 0 still adds b-:
#   W+ a+ = [3.5, 1], W- a+ = [0, -2]
# reference: z+ = [2.5, 1.5], s+ = [0.4, 4/3]: W+^T s+ = [0.4, 2/3, 1.2 + 8/3] -> act = [0.8, 0, 0.6 + 4/3]
#   z- = [-1, -1.5], s- = [-1, -4/3]: W-^T s- = [4/3, 2, 0] -> inh = [8/3, 0, 0]
# split: z+ = [3.5, 1.5], s+ = [2/7, 4/3]: W+^T s+ = [2/7, 2/3, 6/7 + 8/3] -> act = [4/7, 0, 3/7 + 4/3]
#   z- = [-1, -2], s- = [-1, -1]: W-^T s- = [1, 2, 0] -> inh = [2, 0, 0]
A_RELU = np.array([2.0, 0.0, 0.5])
DENSE_RELU_CASES = {
    (1.0, 0.0, "reference"): [0.8, 0.0, 0.6 + 4 / 3],
    (2.0, 1.0, "reference"): [1.6 - 8 / 3, 0.0, 1.2 + 8 / 3],
    (1.0, 0.0, "split"): [4 / 7, 0.0, 3 / 7 + 4 / 3],
    (2.0, 1.0, "split"): [8 / 7 - 2, 0.0, 6 / 7 + 8 / 3],
}
# Convolution, 1 channel, kernel [1, -2], bias -1, valid, input a = [2, -1, 0.5] -> 2 outputs, R = [1, 2]:
#   as a matrix W = [[1, -2, 0], [0, 1, -2]]; W+ = [[1, 0, 0], [0, 1, 0]], W- = [[0, -2, 0], [0, 0, -2]]
#   W+ a+ = [2, 0], W- a- = [2, 0]; W- a+ = [0, -1], W+ a- = [0, -1]
# reference: z+ = [4, 0] - 1 = [3, -1], s+ = [1/3, -2]: W+^T s+ = [1/3, -2, 0], W-^T s+ = [0, -2/3, 4]
#   act = [2/3, (-1)(-2/3), 0] = [2/3, 2/3, 0]
#   z- = [0, -2] - 1 = [-1, -3], s- = [-1, -2/3]: W-^T s- = [0, 2, 4/3], W+^T s- = [-1, -2/3, 0]
#   inh = [0, (-1)(-2/3), 0.5 * 4/3] = [0, 2/3, 2/3]
# split (b+ = 0, b- = -1): z+ = [4, 0], s+ = [1/4, 0 (0/0)]: act = [1/2, (-1)(-2 * 1/4), 0] = [1/2, 1/2, 0]
#   z- = [-1, -3] as in the reference: inh = [0, 2/3, 2/3]
# no bias: z+ = [4, 0] -> act = [1/2, 1/2, 0]
CONV_KERNEL = np.array([1.0, -2.0])
CONV_BIAS = -1.0
CONV_CASES = {
    (1.0, 0.0, "reference"): [2 / 3, 2 / 3, 0.0],
    (2.0, 1.0, "reference"): [4 / 3, 4 / 3 - 2 / 3, -2 / 3],
    (1.0, 0.0, "split"): [0.5, 0.5, 0.0],
    (2.0, 1.0, "split"): [1.0, 1 - 2 / 3, -2 / 3],
    (1.0, 0.0, "no_bias"): [0.5, 0.5, 0.0],
}


def _torch_rule(alpha: float, beta: float, form: str) -> AlphaBeta:
    if form == "no_bias":
        return AlphaBeta(alpha, beta, bias=False)
    return AlphaBeta(alpha, beta, alpha_beta_bias=form)


def _torch_relevance(rule, layer: nn.Module, x: np.ndarray, R: np.ndarray) -> np.ndarray:
    xt = torch.tensor(x, dtype=torch.float64)[None].requires_grad_(True)
    with torch.enable_grad():
        out = layer(xt)
    (rel,) = rule.relevance(LayerCall(layer, "layer", (xt,), out), torch.tensor(R, dtype=torch.float64).reshape(out.shape))
    return rel[0].detach().numpy()


def _torch_dense() -> nn.Linear:
    layer = nn.Linear(3, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(DENSE_W))
        layer.bias.copy_(torch.tensor(DENSE_B))
    return layer


def _torch_conv(dims: int) -> nn.Module:
    layer = (nn.Conv1d(1, 1, 2) if dims == 1 else nn.Conv2d(1, 1, (1, 2))).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(CONV_KERNEL).reshape(layer.weight.shape))
        layer.bias.fill_(CONV_BIAS)
    return layer


@pytest.mark.parametrize("case", list(DENSE_CASES), ids=str)
def test_torch_linear_by_hand(case):
    got = _torch_relevance(_torch_rule(*case), _torch_dense(), A_MIXED, R_DENSE)
    np.testing.assert_allclose(got, DENSE_CASES[case], rtol=1e-12, atol=1e-12)
    # the literal reference agrees with the hand values
    alpha, beta, form = case
    params = {"bias": False} if form == "no_bias" else {"alpha_beta_bias": form}
    ref = lrp_rule("alpha_beta", A_MIXED, DENSE_W, DENSE_B, R_DENSE, alpha=alpha, beta=beta, **params)
    np.testing.assert_allclose(ref, DENSE_CASES[case], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(DENSE_RELU_CASES), ids=str)
def test_torch_linear_after_relu_keeps_the_negative_copys_bias(case):
    got = _torch_relevance(_torch_rule(*case), _torch_dense(), A_RELU, R_DENSE)
    np.testing.assert_allclose(got, DENSE_RELU_CASES[case], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("case", list(CONV_CASES), ids=str)
def test_torch_conv_by_hand(case, dims):
    x = A_MIXED.reshape((1, 3) if dims == 1 else (1, 1, 3))
    R = R_DENSE.reshape((1, 2) if dims == 1 else (1, 1, 2))
    got = _torch_relevance(_torch_rule(*case), _torch_conv(dims), x, R)
    np.testing.assert_allclose(got.ravel(), CONV_CASES[case], rtol=1e-12, atol=1e-12)


def test_torch_zplus_and_no_bias_drop_the_bias_from_both_denominators():
    layer = _torch_dense()
    expected = DENSE_CASES[(1.0, 0.0, "no_bias")]
    np.testing.assert_allclose(_torch_relevance(ZPlus(), layer, A_MIXED, R_DENSE), expected, rtol=1e-12)
    for form in ("reference", "split"):
        no_bias = AlphaBeta(2, 1, bias=False, alpha_beta_bias=form)
        np.testing.assert_allclose(
            _torch_relevance(no_bias, layer, A_MIXED, R_DENSE), DENSE_CASES[(2.0, 1.0, "no_bias")], rtol=1e-12
        )
    # a layer without bias: both forms are the same rule
    bare = nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        bare.weight.copy_(torch.tensor(DENSE_W))
    for case in ((1.0, 0.0), (2.0, 1.0)):
        np.testing.assert_allclose(
            _torch_relevance(AlphaBeta(*case), bare, A_MIXED, R_DENSE), DENSE_CASES[case + ("no_bias",)], rtol=1e-12
        )


def test_torch_rules_from_the_table():
    assert rule_from_spec("alpha_beta", {"alpha": 1.0, "beta": 0.0}) == AlphaBeta(1, 0)
    assert rule_from_spec("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "split"}) == AlphaBeta(
        1, 0, alpha_beta_bias="split"
    )
    rules = parse("lrp_sequential_composite_b", alpha_beta_bias="split").lrp_rules()
    assert rule_from_spec(rules.conv.name, rules.conv.params) == AlphaBeta(2, 1, alpha_beta_bias="split")
    assert rule_from_spec("z_plus", {}) == ZPlus() and ZPlus().params == {}


# ----------------------------------------------------------------------------------------------
# 2. conservation-type identity
# ----------------------------------------------------------------------------------------------
def _identity_sum(a, W, b, R, alpha, beta, form):
    """sum_i R_in = sum_j R_j [alpha (z+_j - c+_j) / z+_j - beta (z-_j - c-_j) / z-_j]; c+, c- the bias terms."""
    Wp, Wn, ap, an = np.maximum(W, 0), np.minimum(W, 0), np.maximum(a, 0), np.minimum(a, 0)
    c_act, c_inh = (b, b) if form == "reference" else (np.maximum(b, 0), np.minimum(b, 0))
    z_act, z_inh = Wp @ ap + Wn @ an + c_act, Wn @ ap + Wp @ an + c_inh

    def share(z, c):  # R_j (z_j - c_j) / z_j, an output with z_j = 0 passes nothing (0/0 is 0)
        safe = np.where(z == 0, 1.0, z)
        return np.where(z == 0, 0.0, R * (z - c) / safe).sum()

    return float(alpha * share(z_act, c_act) - beta * share(z_inh, c_inh))


@pytest.mark.parametrize("form", ["reference", "split"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.0, 1.0)])
def test_torch_conservation_type_identity(form, alpha, beta):
    rng = np.random.default_rng(5)
    layer = nn.Linear(6, 4).double()
    W, b = rng.normal(size=(4, 6)), rng.uniform(-0.5, 0.5, size=4)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W))
        layer.bias.copy_(torch.tensor(b))
    a, R = rng.normal(size=6), rng.normal(size=4)
    got = _torch_relevance(AlphaBeta(alpha, beta, alpha_beta_bias=form), layer, a, R)
    assert got.sum() == pytest.approx(_identity_sum(a, W, b, R, alpha, beta, form), rel=1e-10)
    # without bias: conservation (alpha - beta = 1), except for outputs with a zero denominator
    got = _torch_relevance(AlphaBeta(alpha, beta, bias=False, alpha_beta_bias=form), layer, a, R)
    assert got.sum() == pytest.approx(_identity_sum(a, W, np.zeros(4), R, alpha, beta, form), rel=1e-10)
    dense = np.abs(a) + 0.1  # a > 0 and every row of W has a positive weight: z+ > 0, full conservation
    assert np.all(np.maximum(W, 0) @ dense > 0)
    got = _torch_relevance(AlphaBeta(1, 0, bias=False, alpha_beta_bias=form), layer, dense, R)
    assert got.sum() == pytest.approx(R.sum(), rel=1e-10)


# ----------------------------------------------------------------------------------------------
# 3. whole networks through explain against the literal reference
# ----------------------------------------------------------------------------------------------
AB10, AB21 = ("alpha_beta", {"alpha": 1.0, "beta": 0.0}), ("alpha_beta", {"alpha": 2.0, "beta": 1.0})
EPS = ("epsilon", {"epsilon": 0.1})
#: name -> (input-layer rule or None, dense rule, conv rule), written out independently of the table
NAMES = {
    "lrp_alpha_1_beta_0": (None, AB10, AB10),
    "lrp_alpha_2_beta_1": (None, AB21, AB21),
    "lrpsign_alpha_1_beta_0": (("sign", {}), AB10, AB10),
    "lrpz_alpha_2_beta_1": (("z", {}), AB21, AB21),
    "zblrp_alpha_1_beta_0": (("bounded", {"low": -1.0, "high": 1.0}), AB10, AB10),
    "lrp_sequential_composite_a": (None, EPS, AB10),
    "lrp_sequential_composite_b": (None, EPS, AB21),
}


def _with_form(rule, form):
    name, params = rule
    return (name, dict(params, alpha_beta_bias=form)) if name == "alpha_beta" else rule


def _literal_chain(layers, x, target, name, form):
    """Forward in numpy through (W, b, kind, relu_after) layers, backward with the literal rules."""
    input_rule, dense, conv = NAMES[name]
    acts = [x.ravel()]
    for W, b, _, relu in layers:
        z = W @ acts[-1] + b
        acts.append(np.maximum(z, 0.0) if relu else z)
    R = np.zeros_like(acts[-1])
    R[target] = acts[-1][target]
    for i in reversed(range(len(layers))):
        W, b, kind, _ = layers[i]
        rule = input_rule if (i == 0 and input_rule is not None) else (conv if kind == "conv" else dense)
        rname, params = _with_form(rule, form)
        R = lrp_rule(rname, acts[i], W, b, R, **params)
    return R.reshape(x.shape)


def _differ(a, b):
    return np.abs(a - b).max() > 0.05 * np.abs(a).max()


def _torch_net(seed: int = 1):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(18, 5), nn.ReLU(), nn.Linear(5, 3),
    ).double().eval()
    with torch.no_grad():
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, 0.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


def _torch_layers(model, in_shape):
    """(W, b, kind, relu_after) of each kernel layer, as explicit matrices on flattened inputs."""
    layers, shape = [], tuple(in_shape)
    kernels = [(i, m) for i, m in enumerate(model) if isinstance(m, (nn.Conv2d, nn.Linear))]
    for i, m in kernels:
        if isinstance(m, nn.Linear):
            shape = (m.in_features,)
        zero = torch.zeros((1,) + shape, dtype=torch.float64)
        with torch.no_grad():
            b = m(zero)[0].numpy().ravel()
            W = layer_matrix(lambda e, m=m, zero=zero: (m(torch.tensor(e)[None]) - m(zero))[0].numpy(), shape)
            shape = tuple(m(zero).shape[1:])
        relu = i + 1 < len(model) and isinstance(model[i + 1], nn.ReLU)
        layers.append((W, b, "conv" if isinstance(m, nn.Conv2d) else "dense", relu))
    return layers


@pytest.fixture(scope="module")
def torch_case():
    model = _torch_net()
    x = np.random.default_rng(3).normal(size=(2, 2, 5, 5))
    return model, x, _torch_layers(model, x.shape[1:])


@pytest.mark.parametrize("name", list(NAMES))
def test_torch_explain_equals_the_literal_reference(torch_case, name):
    model, x, layers = torch_case
    targets = [0, 2]
    reference = np.stack([_literal_chain(layers, x[i], t, name, "reference") for i, t in enumerate(targets)])
    split = np.stack([_literal_chain(layers, x[i], t, name, "split") for i, t in enumerate(targets)])
    assert _differ(reference, split)  # the test tells the forms apart on this net
    got = signxai_captum.explain(model, x, name, target=targets)
    np.testing.assert_allclose(got, reference, rtol=1e-7, atol=1e-10 * np.abs(reference).max())
    got = signxai_captum.explain(model, x, name, target=targets, alpha_beta_bias="split")
    np.testing.assert_allclose(got, split, rtol=1e-7, atol=1e-10 * np.abs(split).max())


def test_torch_captum_classes_take_the_option(torch_case):
    model, x, _ = torch_case
    xt = torch.tensor(x)
    pairs = [
        (LRPAlphaBeta(model, 2, 1, alpha_beta_bias="split"), "lrp_alpha_2_beta_1", {"alpha_beta_bias": "split"}),
        (LRPAlphaBeta(model, 2, 1), "lrp_alpha_2_beta_1", {}),
        (LRPSequentialCompositeA(model, alpha_beta_bias="split"), "lrp_sequential_composite_a", {"alpha_beta_bias": "split"}),
        (LRPSequentialCompositeB(model, alpha_beta_bias="split"), "lrp_sequential_composite_b", {"alpha_beta_bias": "split"}),
        (LRPSequentialCompositeB(model), "lrp_sequential_composite_b", {}),
        (LRPSign(model, preset="alpha_1_beta_0", alpha_beta_bias="split"), "lrpsign_alpha_1_beta_0", {"alpha_beta_bias": "split"}),
    ]
    for attribution, name, overrides in pairs:
        expected = signxai_captum.explain(model, x, name, target=1, **overrides)
        np.testing.assert_allclose(attribution.attribute(xt, target=1).detach().numpy(), expected, rtol=1e-12)
    with pytest.raises(MethodParameterError, match="alpha_beta_bias"):
        LRPSign(model, epsilon=0.1, alpha_beta_bias="split")
    with pytest.raises(ValueError, match="alpha_beta_bias"):
        LRPAlphaBeta(model, alpha_beta_bias="zennit")


@pytest.mark.parametrize("prefix", ["lrp", "lrpsign", "lrpz", "zblrp", "w2lrp", "flatlrp"])
def test_every_prefix_defaults_to_the_reference_form(prefix):
    for preset in ("alpha_1_beta_0", "alpha_2_beta_1", "sequential_composite_a", "sequential_composite_b"):
        spec = parse(f"{prefix}_{preset}")
        assert spec.params["alpha_beta_bias"] == "reference"
        assert spec.lrp_rules().conv.params["alpha_beta_bias"] == "reference"
        assert parse(f"{prefix}_{preset}", alpha_beta_bias="split").lrp_rules().conv.params["alpha_beta_bias"] == "split"
    with pytest.raises(MethodParameterError, match="must be one of"):
        parse(f"{prefix}_alpha_1_beta_0", alpha_beta_bias="textbook")
    pdef = shared_spec.method_table()["parameters"]["alpha_beta_bias"]
    assert pdef["default"] == "reference" and pdef["choices"] == ["reference", "split"] and pdef["keyword_only"]


# ----------------------------------------------------------------------------------------------
# TensorFlow (imported after torch, see docs/conventions.md)
# ----------------------------------------------------------------------------------------------
def _tf():
    tf = pytest.importorskip("tensorflow")
    import keras

    return tf, keras


def _tf_relevance(name, params, layer, x, R, nonneg=False):
    tf, _ = _tf()
    from signxai_tf.lrp._layers import kernel_layer
    from signxai_tf.lrp._rules import apply_rule

    k = kernel_layer(layer)
    a = tf.constant(x[None], tf.float64)
    return apply_rule(name, params, k, a, k.linear(a, k.kernel), tf.constant(R[None], tf.float64), nonneg).numpy()[0]


def _tf_dense():
    _, keras = _tf()
    layer = keras.layers.Dense(2, dtype="float64")
    layer.build((None, 3))
    layer.set_weights([DENSE_W.T, DENSE_B])
    return layer


def _tf_conv(dims):
    _, keras = _tf()
    if dims == 1:
        layer = keras.layers.Conv1D(1, 2, dtype="float64")
        layer.build((None, 3, 1))
    else:
        layer = keras.layers.Conv2D(1, (1, 2), dtype="float64")
        layer.build((None, 1, 3, 1))
    layer.set_weights([CONV_KERNEL.reshape(layer.kernel.shape), np.array([CONV_BIAS])])
    return layer


def _tf_params(alpha, beta, form):
    return ("z_plus", {}) if form == "no_bias" else ("alpha_beta", {"alpha": alpha, "beta": beta, "alpha_beta_bias": form})


@pytest.mark.parametrize("case", [c for c in DENSE_CASES if c[2] != "no_bias" or c[:2] == (1.0, 0.0)], ids=str)
def test_tf_dense_by_hand(case):
    name, params = _tf_params(*case)
    np.testing.assert_allclose(_tf_relevance(name, params, _tf_dense(), A_MIXED, R_DENSE), DENSE_CASES[case], rtol=1e-12)


@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("case", list(DENSE_RELU_CASES), ids=str)
def test_tf_dense_after_relu_keeps_the_negative_copys_bias(case, nonneg):
    name, params = _tf_params(*case)
    got = _tf_relevance(name, params, _tf_dense(), A_RELU, R_DENSE, nonneg=nonneg)
    np.testing.assert_allclose(got, DENSE_RELU_CASES[case], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("case", list(CONV_CASES), ids=str)
def test_tf_conv_by_hand(case, dims):
    name, params = _tf_params(*case)
    x = A_MIXED.reshape((3, 1) if dims == 1 else (1, 3, 1))
    R = R_DENSE.reshape((2, 1) if dims == 1 else (1, 2, 1))
    got = _tf_relevance(name, params, _tf_conv(dims), x, R)
    np.testing.assert_allclose(got.ravel(), CONV_CASES[case], rtol=1e-12, atol=1e-12)


def test_tf_default_is_the_reference_form_and_rejects_unknown():
    layer = _tf_dense()
    got = _tf_relevance("alpha_beta", {"alpha": 1.0, "beta": 0.0}, layer, A_MIXED, R_DENSE)
    np.testing.assert_allclose(got, DENSE_CASES[(1.0, 0.0, "reference")], rtol=1e-12)
    with pytest.raises(ValueError, match="alpha_beta_bias"):
        _tf_relevance("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "zennit"}, layer, A_MIXED, R_DENSE)


@pytest.mark.parametrize("form", ["reference", "split"])
def test_tf_conservation_type_identity(form):
    _, keras = _tf()
    rng = np.random.default_rng(6)
    W, b = rng.normal(size=(4, 6)), rng.uniform(-0.5, 0.5, size=4)
    layer = keras.layers.Dense(4, dtype="float64")
    layer.build((None, 6))
    layer.set_weights([W.T, b])
    a, R = rng.normal(size=6), rng.normal(size=4)
    got = _tf_relevance("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": form}, layer, a, R)
    assert got.sum() == pytest.approx(_identity_sum(a, W, b, R, 2.0, 1.0, form), rel=1e-10)


def _keras_net(seed: int = 0):
    _, keras = _tf()
    f64 = {"dtype": "float64"}
    model = keras.Sequential([
        keras.Input((5, 5, 2), dtype="float64"),
        keras.layers.Conv2D(3, 3, padding="same", **f64), keras.layers.ReLU(**f64),
        keras.layers.Conv2D(2, 3, **f64), keras.layers.ReLU(**f64),
        keras.layers.Flatten(**f64),
        keras.layers.Dense(5, **f64), keras.layers.ReLU(**f64),
        keras.layers.Dense(3, **f64),
    ])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0.0, 0.5, kernel.shape), rng.uniform(-0.5, 0.5, bias.shape)])
    return model


def _keras_layers(model, in_shape):
    _, keras = _tf()
    layers, shape = [], tuple(in_shape)
    seq = model.layers
    for i, layer in enumerate(seq):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            continue
        if isinstance(layer, keras.layers.Dense):
            shape = (int(np.prod(shape)),)
        zero = np.zeros((1,) + shape)
        b = np.asarray(layer(zero))[0].ravel()
        W = layer_matrix(lambda e, layer=layer, zero=zero: np.asarray(layer(e[None]))[0] - np.asarray(layer(zero))[0], shape)
        shape = tuple(np.asarray(layer(zero)).shape[1:])
        relu = i + 1 < len(seq) and isinstance(seq[i + 1], keras.layers.ReLU)
        layers.append((W, b, "conv" if isinstance(layer, keras.layers.Conv2D) else "dense", relu))
    return layers


@pytest.fixture(scope="module")
def keras_case():
    model = _keras_net()
    x = np.random.default_rng(4).normal(size=(2, 5, 5, 2))
    return model, x, _keras_layers(model, x.shape[1:])


@pytest.mark.parametrize("name", list(NAMES))
def test_tf_explain_equals_the_literal_reference(keras_case, name):
    import signxai_tf

    model, x, layers = keras_case
    targets = [1, 2]
    reference = np.stack([_literal_chain(layers, x[i], t, name, "reference") for i, t in enumerate(targets)])
    split = np.stack([_literal_chain(layers, x[i], t, name, "split") for i, t in enumerate(targets)])
    assert _differ(reference, split)
    got = signxai_tf.explain(model, x, name, target=targets)
    np.testing.assert_allclose(got, reference, rtol=1e-7, atol=1e-10 * np.abs(reference).max())
    got = signxai_tf.explain(model, x, name, target=targets, alpha_beta_bias="split")
    np.testing.assert_allclose(got, split, rtol=1e-7, atol=1e-10 * np.abs(split).max())
