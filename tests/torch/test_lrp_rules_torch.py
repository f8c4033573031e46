"""Each LRP rule of signxai_captum on single layers against the slow literal reference.

The layer is turned into an explicit matrix (tests/lrp_reference.layer_matrix) and every rule is
computed element by element in numpy (float64); signxai_captum's rule runs on the torch layer
(also float64) with an arbitrary relevance at the output. Layers have non-zero biases, inputs have
positive and negative values and exact zeros.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared_spec import MethodParameterError
from torch import nn

from lrp_reference import layer_matrix, lrp_batch_norm, lrp_rule, lrp_sum
from signxai_captum.convert import ChannelsFirstLinear
from signxai_captum.lrp.rules import (
    AlphaBeta,
    BatchNormRule,
    Bounded,
    Epsilon,
    Flat,
    Gamma,
    LayerCall,
    Sign,
    SignMu,
    StdxEpsilon,
    SumRule,
    WSquare,
    Z,
    ZPlus,
    ZPlusFast,
    AlphaBetaX,
    rule_from_spec,
)

RULES = [
    ("z", {}, Z()),
    ("epsilon", {"epsilon": 0.3}, Epsilon(0.3)),
    ("std_x_epsilon", {"std_factor": 0.5}, StdxEpsilon(0.5)),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0}, AlphaBeta(1, 0)),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0}, AlphaBeta(2, 1)),
    ("alpha_beta", {"alpha": 3.0, "beta": 2.0}, AlphaBeta(3, 2)),
    ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "split"}, AlphaBeta(1, 0, alpha_beta_bias="split")),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}, AlphaBeta(2, 1, alpha_beta_bias="split")),
    ("alpha_beta", {"alpha": 2.0, "beta": 1.0, "bias": False}, AlphaBeta(2, 1, bias=False)),
    ("z_plus", {}, ZPlus()),
    ("gamma", {"gamma": 0.25}, Gamma(0.25)),
    ("w_square", {}, WSquare()),
    ("flat", {}, Flat()),
    ("bounded", {"low": -1.5, "high": 2.0}, Bounded(-1.5, 2.0)),
    ("sign", {}, Sign()),
    ("sign_mu", {"mu": 0.25}, SignMu(0.25)),
    # the rest of the reference rule set (docs/semantics.md §4.1, §4.4)
    ("z", {"bias": False}, Z(bias=False)),
    ("epsilon", {"epsilon": 0.3, "bias": False}, Epsilon(0.3, bias=False)),
    ("std_x_epsilon", {"std_factor": 0.5, "bias": False}, StdxEpsilon(0.5, bias=False)),
    ("z_plus_fast", {}, ZPlusFast()),
    ("alpha_beta_x", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, 0.0)}, AlphaBetaX((1, 0), (0, 0))),
    ("alpha_beta_x", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, -1.0)}, AlphaBetaX((1, 0), (0, -1))),
    ("alpha_beta_x", {"alpha_x": (1.0, 1.0), "beta_x": (0.0, 0.0)}, AlphaBetaX((1, 1), (0, 0))),
    ("alpha_beta_x", {"alpha_x": (2.0, 0.0), "beta_x": (1.0, 0.0)}, AlphaBetaX((2, 0), (1, 0))),
    ("alpha_beta_x", {"alpha_x": (2.0, 0.5), "beta_x": (1.0, 0.7), "bias": False}, AlphaBetaX((2, 0.5), (1, 0.7), bias=False)),
    ("gamma", {"gamma": 0.5, "bias": False}, Gamma(0.5, bias=False)),
    ("sign", {"bias": False}, Sign(bias=False)),
    ("sign_mu", {"mu": 0.25, "bias": False}, SignMu(0.25, bias=False)),
]


def _layers():
    g = torch.Generator().manual_seed(0)

    def init(layer):
        with torch.no_grad():
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.7)
        return layer

    return {
        "linear": (init(nn.Linear(7, 5).double()), (7,)),
        "conv1d": (init(nn.Conv1d(2, 3, 3, stride=2, padding=1).double()), (2, 7)),
        "conv2d": (init(nn.Conv2d(2, 3, 3, padding=1).double()), (2, 4, 4)),
        "conv2d_strided_dilated": (init(nn.Conv2d(2, 2, 2, stride=2, dilation=1, padding=1).double()), (2, 5, 5)),
        "conv3d": (init(nn.Conv3d(1, 2, 2).double()), (1, 3, 3, 3)),
        # generic code paths: string padding, transposed convolution, Keras-style Dense on channels
        "conv2d_same": (init(nn.Conv2d(2, 2, 2, padding="same").double()), (2, 4, 4)),
        "conv_transpose2d": (init(nn.ConvTranspose2d(2, 2, 2, stride=2).double()), (2, 2, 3)),
        "channels_first_linear": (init(ChannelsFirstLinear(nn.Linear(3, 2)).double()), (3, 2, 2)),
        # depthwise (groups = channels, depth multiplier 1 and 2) and grouped convolutions (issue 10)
        "conv2d_depthwise": (init(nn.Conv2d(3, 3, 3, padding=1, groups=3).double()), (3, 4, 4)),
        "conv2d_depthwise_x2": (init(nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2).double()), (2, 5, 5)),
        "conv2d_grouped": (init(nn.Conv2d(4, 2, 2, groups=2).double()), (4, 3, 3)),
        "conv1d_depthwise": (init(nn.Conv1d(2, 2, 3, padding=1, groups=2).double()), (2, 6)),
    }


LAYERS = _layers()


def _input(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    x.ravel()[::4] = 0.0  # exact zeros
    return x


def _explicit(layer, in_shape):
    def apply_linear(e):
        with torch.no_grad():
            return (layer(torch.tensor(e)[None]) - layer(torch.zeros((1,) + tuple(in_shape), dtype=torch.float64)))[0].numpy()

    W = layer_matrix(apply_linear, in_shape)
    with torch.no_grad():
        b = layer(torch.zeros((1,) + tuple(in_shape), dtype=torch.float64))[0].numpy().ravel()
    return W, b


def _torch_rule(rule, layer, x_np, R_np):
    x = torch.tensor(x_np)[None].requires_grad_(True)
    with torch.enable_grad():
        out = layer(x)
    call = LayerCall(layer, "layer", (x,), out)
    R = torch.tensor(R_np.reshape(out.shape[1:]))[None]
    (rel,) = rule.relevance(call, R)
    return rel[0].detach().numpy()


@pytest.mark.parametrize("layer_name", list(LAYERS))
@pytest.mark.parametrize("name,params,rule", RULES, ids=[f"{r[0]}{r[1]}" for r in RULES])
def test_rule_matches_literal_reference(layer_name, name, params, rule):
    layer, in_shape = LAYERS[layer_name]
    x = _input(in_shape, seed=1)
    W, b = _explicit(layer, in_shape)
    R = np.random.default_rng(2).normal(size=W.shape[0])
    expected = lrp_rule(name, x.ravel(), W, b, R, **params).reshape(in_shape)
    got = _torch_rule(rule, layer, x, R)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


def test_rules_built_from_the_method_table_names():
    for name, params, rule in RULES:
        assert rule_from_spec(name, params) == rule
        assert rule_from_spec(rule.name, rule.params) == rule


AB_NONNEG = [
    (name, params, rule) for name, params, rule in RULES if name in ("alpha_beta", "z_plus", "alpha_beta_x", "z_plus_fast")
]


@pytest.mark.parametrize("layer_name", ["linear", "conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("name,params,rule", AB_NONNEG, ids=[f"{r[0]}{r[1]}" for r in AB_NONNEG])
def test_alpha_beta_on_nonnegative_input_matches_reference(layer_name, name, params, rule):
    """The shortcut for inputs without a negative part (after a ReLU) keeps the bias terms."""
    layer, in_shape = LAYERS[layer_name]
    x = np.abs(_input(in_shape, seed=12))
    W, b = _explicit(layer, in_shape)
    R = np.random.default_rng(13).normal(size=W.shape[0])
    expected = lrp_rule(name, x.ravel(), W, b, R, **params).reshape(in_shape)
    np.testing.assert_allclose(_torch_rule(rule, layer, x, R), expected, rtol=1e-9, atol=1e-10)


def test_alpha_beta_repr_and_equality_carry_the_bias_form():
    reference, split, no_bias = AlphaBeta(1, 0), AlphaBeta(1, 0, alpha_beta_bias="split"), AlphaBeta(1, 0, bias=False)
    assert repr(reference) == "AlphaBeta(alpha=1.0, beta=0.0, alpha_beta_bias='reference')"
    assert repr(split) == "AlphaBeta(alpha=1.0, beta=0.0, alpha_beta_bias='split')"
    assert repr(no_bias) == "AlphaBeta(alpha=1.0, beta=0.0, bias=False, alpha_beta_bias='reference')"
    assert len({reference, split, no_bias, AlphaBeta(1.0, 0.0, True, "reference")}) == 3
    assert reference == AlphaBeta(alpha_beta_bias="reference") and reference != split and reference != no_bias
    assert repr(ZPlus()) == "ZPlus()" and ZPlus() != no_bias
    with pytest.raises(ValueError, match="alpha_beta_bias"):
        AlphaBeta(1, 0, alpha_beta_bias="zennit")


def test_per_channel_bounds_match_reference():
    layer, in_shape = LAYERS["conv2d"]
    x = _input(in_shape, seed=3)
    W, b = _explicit(layer, in_shape)
    R = np.random.default_rng(4).normal(size=W.shape[0])
    low, high = np.array([-1.0, -2.0]), np.array([0.5, 3.0])
    expected = lrp_rule(
        "bounded", x.ravel(), W, b, R,
        low=np.broadcast_to(low[:, None, None], in_shape).ravel(),
        high=np.broadcast_to(high[:, None, None], in_shape).ravel(),
    ).reshape(in_shape)
    got = _torch_rule(Bounded(low, high), layer, x, R)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="fits neither"):
        _torch_rule(Bounded(np.zeros(5), 1.0), layer, x, R)


def test_zero_denominator_passes_nothing_and_no_nan():
    layer = nn.Linear(2, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -1.0], [1.0, 2.0]]))
        layer.bias.zero_()
    x = np.array([2.0, 2.0])  # z = [0, 6]
    for rule in (Z(), Sign(), AlphaBeta(2, 1), Gamma(0.25)):
        got = _torch_rule(rule, layer, x, np.array([1.0, 3.0]))
        assert np.all(np.isfinite(got))
    np.testing.assert_allclose(_torch_rule(Z(), layer, x, np.array([1.0, 3.0])), [1.0, 2.0])


def test_std_x_epsilon_uses_each_sample_alone():
    layer, in_shape = LAYERS["conv2d"]
    x = torch.tensor(np.stack([_input(in_shape, 5), 10 * _input(in_shape, 6)])).requires_grad_(True)
    with torch.enable_grad():
        out = layer(x)
    R = torch.ones_like(out)
    (both,) = StdxEpsilon(1.0).relevance(LayerCall(layer, "l", (x,), out), R)
    for i in range(2):
        alone = _torch_rule(StdxEpsilon(1.0), layer, x[i].detach().numpy(), np.ones(out[0].numel()))
        np.testing.assert_allclose(both[i].detach().numpy(), alone, rtol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4,), (3, 2, 2)])
def test_batch_norm_rule_matches_literal(shape, affine):
    bn = (nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d)(shape[0], affine=affine).double().eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean) if affine else (bn.running_mean,):
            t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=g, dtype=torch.float64) + 0.5)
    x_np = _input(shape, 7)
    R_np = np.random.default_rng(8).normal(size=int(np.prod(shape)))
    got = _torch_rule(BatchNormRule(), bn, x_np, R_np)

    def per_element(v):
        return np.broadcast_to(v.detach().numpy().reshape((-1,) + (1,) * (len(shape) - 1)), shape).ravel()

    ones, zeros = torch.ones(shape[0], dtype=torch.float64), torch.zeros(shape[0], dtype=torch.float64)
    expected = lrp_batch_norm(
        x_np.ravel(), per_element(bn.running_mean), per_element(bn.running_var),
        per_element(bn.weight if affine else ones), per_element(bn.bias if affine else zeros), bn.eps, R_np,
    ).reshape(shape)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_sum_rule_matches_literal():
    a, b = _input((2, 3), 9), -_input((2, 3), 10)
    a[0, 0] = b[0, 0] = 0.0  # 0/0
    R = np.random.default_rng(11).normal(size=(2, 3))
    ta, tb = torch.tensor(a)[None], torch.tensor(b)[None]
    call = LayerCall(nn.Identity(), "add", (ta, tb), ta + tb)
    ra, rb = SumRule().relevance(call, torch.tensor(R)[None])
    ea, eb = lrp_sum([a, b], R)
    np.testing.assert_allclose(ra[0].numpy().ravel(), ea, rtol=1e-12)
    np.testing.assert_allclose(rb[0].numpy().ravel(), eb, rtol=1e-12)
    # a difference: the second addend enters with -1
    call = LayerCall(nn.Identity(), "sub", (ta, tb), ta - tb)
    ra, rb = SumRule((1.0, -1.0)).relevance(call, torch.tensor(R)[None])
    ea, eb = lrp_sum([a, -b], R)
    np.testing.assert_allclose(ra[0].numpy().ravel(), ea, rtol=1e-12)
    np.testing.assert_allclose(rb[0].numpy().ravel(), eb, rtol=1e-12)


def test_rule_parameter_checks():
    with pytest.raises(MethodParameterError, match="epsilon"):
        Epsilon(0.0)
    with pytest.raises(ValueError, match="alpha - beta must be 1"):
        AlphaBeta(2.0, 0.5)
    with pytest.raises(MethodParameterError, match="gamma"):
        Gamma(-1.0)
    with pytest.raises(ValueError, match="unknown LRP rule"):
        rule_from_spec("nope")
    with pytest.raises(ValueError, match="needs the parameter 'epsilon'"):
        rule_from_spec("epsilon")


def test_stabiliser_and_safe_division_match_their_literal_definitions():
    """``z + eps s(z)`` with s(0) = +1, bit for bit except at -0.0 (documented: copysign gives -eps
    there), and ``num / den`` with 0 where den == 0, also when written into ``den``."""
    from signxai_captum.lrp.rules import _safe_div, _stabilise

    generator = torch.Generator().manual_seed(3)
    z = torch.randn(4, 3, 5, 5, generator=generator)
    z[0, 0, 0] = 0.0
    z[0, 0, 1] = -0.0
    z[1, 1, 1, :2] = torch.tensor([1e-30, -1e-30])
    negative_zero = (z == 0) & torch.signbit(z)
    for eps in (0.1, 1e-7, torch.rand(4, 1, 1, 1, generator=generator)):
        sign = torch.where(z >= 0, 1.0, -1.0)
        expected = z + eps * sign
        got = _stabilise(z, eps)
        assert torch.equal(got[~negative_zero], expected[~negative_zero])
        assert torch.equal(got[negative_zero], -expected[negative_zero])
        assert torch.equal(got[0, 0, 0], expected[0, 0, 0]) and bool((got[0, 0, 0] > 0).all())
    num = torch.randn(4, 3, 5, 5, generator=generator)
    literal = torch.where(z == 0, torch.zeros_like(num), num / torch.where(z == 0, torch.ones_like(z), z))
    assert torch.equal(_safe_div(num, z), literal)
    den = z.clone()
    written = _safe_div(num, den, into_den=True)
    assert torch.equal(written, literal) and written.data_ptr() == den.data_ptr()
    # a broadcast denominator is not written into
    row = z[:1].clone()
    assert torch.equal(_safe_div(num, row, into_den=True), torch.where(row == 0, 0.0, num / row))


def test_epsilon_rule_relevance_is_unchanged_where_the_output_is_negative_zero():
    """A layer output of -0.0 means every contribution was a zero: the relevance the Epsilon rule
    sends back is the literal formula's (s(-0.0) = +1) whatever sign the stabiliser takes there."""
    generator = torch.Generator().manual_seed(5)
    weight = torch.rand(6, 4, generator=generator) + 0.1

    def layer(inputs):  # the linear map x -> -(W x): zero input gives -0.0 outputs
        return -(inputs @ weight.T)

    x = torch.rand(3, 4, generator=generator)
    x[0] = 0.0
    x[1, :2] = 0.0
    z = layer(x).detach()
    assert bool(torch.signbit(z[0]).all()) and bool((z[0] == 0).all())  # the case under test occurs
    relevance = torch.randn(3, 6, generator=generator)
    xg = x.clone().requires_grad_(True)
    (got,) = Epsilon(0.1).relevance(LayerCall(nn.Identity(), "layer", (xg,), layer(xg)), relevance)
    literal = x * ((relevance / (z + 0.1 * torch.where(z >= 0, 1.0, -1.0))) @ -weight)
    torch.testing.assert_close(got, literal, rtol=1e-6, atol=0.0)


def test_safe_division_literal_definition():
    from signxai_captum.lrp.rules import _safe_div

    generator = torch.Generator().manual_seed(3)
    z = torch.randn(4, 3, 5, 5, generator=generator)
    z[0, 0, 0] = 0.0
    z[0, 0, 1] = -0.0
    num = torch.randn(4, 3, 5, 5, generator=generator)
    expected = torch.where(z == 0, torch.zeros_like(num), num / torch.where(z == 0, torch.ones_like(z), z))
    assert torch.equal(_safe_div(num, z), expected)
    owned = z.clone()
    assert torch.equal(_safe_div(num, owned, into_den=True), expected) and torch.equal(owned, expected)
    broadcast = z[:, :1].clone()  # a denominator smaller than the quotient is not written into
    expected = torch.where(broadcast == 0, 0.0, num / torch.where(broadcast == 0, 1.0, broadcast))
    assert torch.equal(_safe_div(num, broadcast, into_den=True), expected) and broadcast.shape == (4, 1, 5, 5)
