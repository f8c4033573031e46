"""LRP through operations written in ``forward`` (the torch.fx view, issue 10).

Small hand-written models use functional operations; they are compared with the same network
written with modules (the module-hook engine of before: identical maps), and the new rules
(gates, pass-through norm layers, mean as Z) are checked against the literal reference
(tests/lrp_reference.py) chained by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lrp_reference import layer_matrix, lrp_rule
from signxai_captum import LRP, LRPZ, explain
from signxai_captum.lrp.canonizers import ResidualAdd
from signxai_captum.lrp.composites import UnsupportedLayerError
from signxai_captum.lrp._functional import FunctionalOp, traced_view

NAMES = ["lrp_z", "lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrpsign_sequential_composite_a"]


def _init(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
    return module.eval()


def _x(n: int = 2, c: int = 3, size: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------
# functional and module versions of the same network
# --------------------------------------------------------------------------------------------
class Body(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv3 = nn.Conv2d(4, 2, 1)
        self.fc = nn.Linear(6, 5)


class Functional(nn.Module):
    """F.relu, a residual ``x + y``, torch.cat, F.adaptive_avg_pool2d, torch.flatten."""

    def __init__(self, body: Body) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.body
        h = F.relu(b.conv1(x))
        h = F.relu(b.conv2(h) + h)
        h = torch.cat([h, b.conv3(h)], dim=1)
        return b.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class Modules(nn.Module):
    """The same network with modules only (runs on the module hooks as before)."""

    def __init__(self, body: Body) -> None:
        super().__init__()
        self.body = body
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.add = ResidualAdd()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.body
        h = self.relu1(b.conv1(x))
        h = self.relu2(self.add(b.conv2(h), h))
        h = torch.cat([h, b.conv3(h)], dim=1)  # a route: the gradient moves it in both versions
        return b.fc(self.flatten(self.pool(h)))


class MeanHead(Functional):
    """``x.mean((2, 3))`` instead of adaptive average pooling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.body
        h = F.relu(b.conv1(x))
        h = F.relu(b.conv2(h) + h)
        h = torch.cat([h, b.conv3(h)], dim=1)
        return b.fc(h.mean((2, 3)))


@pytest.fixture(scope="module")
def body() -> Body:
    return _init(Body())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("variant", [Functional, MeanHead])
def test_functional_ops_match_the_module_version(body, name, variant):
    x = _x()
    expected = explain(Modules(body).eval(), x, name, target=[1, 3])
    got = explain(variant(body).eval(), x, name, target=[1, 3])
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_functional_model_without_trace_reports_the_ops(body):
    with pytest.raises(UnsupportedLayerError, match="could not be traced"):
        LRPZ(Functional(body).eval(), trace=False).attribute(_x(), target=0)


def test_lrp_z_equals_gradient_times_input_through_functional_ops():
    """A bias-free ReLU chain with max pooling, written with F.relu / F.max_pool2d / flatten:
    lrp_z is exactly gradient x input (the identity of the module version)."""

    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.fc = nn.Linear(4 * 3 * 3, 3, bias=False)

        def forward(self, x):
            h = F.max_pool2d(F.relu(self.conv(x)), 2)
            return self.fc(h.flatten(1))

    model = _init(Chain()).double()
    x = _x().double()
    a = explain(model, x, "lrp_z", target=[0, 2])
    b = explain(model, x, "gradient_x_input", target=[0, 2])
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# the new rules against the literal reference, chained by hand
# --------------------------------------------------------------------------------------------
def _matrix(fn, in_shape):
    def apply(e):
        with torch.no_grad():
            return fn(torch.tensor(e)[None])[0].numpy()

    return layer_matrix(apply, in_shape)


def _kernel(layer, in_shape):
    W = _matrix(lambda t: layer(t) - layer(torch.zeros_like(t)), in_shape)
    with torch.no_grad():
        b = layer(torch.zeros((1,) + tuple(in_shape), dtype=torch.float64))[0].numpy().ravel()
    return W, b


RULES = [("lrp_z", "z", {}), ("lrp_epsilon_0_1", "epsilon", {"epsilon": 0.1}),
         ("lrp_alpha_1_beta_0", "alpha_beta", {"alpha": 1.0, "beta": 0.0})]


class SEGate(nn.Module):
    """conv -> relu -> x * sigmoid(fc(mean(x))) -> mean -> linear."""

    def __init__(self, gate: str = "sigmoid") -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.se = nn.Linear(3, 3)
        self.fc = nn.Linear(3, 4)
        self.gate = gate

    def forward(self, x):
        h = F.relu(self.conv(x))
        s = self.se(h.mean((2, 3)))
        if self.gate == "sigmoid":
            g = torch.sigmoid(s)
        elif self.gate == "hardsigmoid":
            g = F.hardsigmoid(s)
        else:  # written out: ReLU6(x + 3) / 6
            g = F.relu6(s + 3.0) / 6.0
        h = h * g[:, :, None, None]
        return self.fc(h.mean((2, 3)))


@pytest.mark.parametrize("gate", ["sigmoid", "hardsigmoid", "relu6"])
@pytest.mark.parametrize("name,rule,params", RULES)
def test_squeeze_excitation_gate_matches_reference(gate, name, rule, params):
    model = _init(SEGate(gate)).double()
    x = _x(n=1, c=2, size=4, seed=3).double()
    target = 2
    with torch.no_grad():
        h = F.relu(model.conv(x))
        s = model.se(h.mean((2, 3)))
        g = torch.sigmoid(s) if gate == "sigmoid" else F.hardsigmoid(s)
        hg = h * g[:, :, None, None]
        m = hg.mean((2, 3))
        logits = model.fc(m)
    R = np.zeros(4)
    R[target] = float(logits[0, target])
    W, b = _kernel(model.fc, (3,))
    R_m = lrp_rule(rule, m[0].numpy(), W, b, R, **params)
    M = _matrix(lambda t: t.mean((2, 3)), (3, 4, 4))
    R_hg = lrp_rule("z", hg[0].numpy().ravel(), M, np.zeros(3), R_m)  # mean as Z
    R_h = R_hg  # the gate is a constant: all relevance to h; the relu passes it
    W, b = _kernel(model.conv, (2, 4, 4))
    expected = lrp_rule(rule, x[0].numpy().ravel(), W, b, R_h, **params).reshape(2, 4, 4)
    got = explain(model, x, name, target=target)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


class NormScale(nn.Module):
    """conv -> LayerNorm (channels last) -> layer scale gamma * x -> hard-swish -> mean -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.norm = nn.LayerNorm(3)
        self.gamma = nn.Parameter(torch.ones(3, 1, 1))
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        h = self.norm(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        h = F.hardswish(self.gamma * h + 0.5)
        return self.fc(h.mean((2, 3)))


@pytest.mark.parametrize("name,rule,params", RULES)
def test_pass_through_norm_and_layer_scale_match_reference(name, rule, params):
    model = _init(NormScale()).double()
    x = _x(n=1, c=2, size=4, seed=4).double()
    target = 1
    with torch.no_grad():
        h = F.hardswish(model.gamma * model.norm(model.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2) + 0.5)
        m = h.mean((2, 3))
        logits = model.fc(m)
    R = np.zeros(4)
    R[target] = float(logits[0, target])
    W, b = _kernel(model.fc, (3,))
    R_m = lrp_rule(rule, m[0].numpy(), W, b, R, **params)
    M = _matrix(lambda t: t.mean((2, 3)), (3, 4, 4))
    R_h = lrp_rule("z", h[0].numpy().ravel(), M, np.zeros(3), R_m)
    # hard-swish, + 0.5, gamma *, LayerNorm, permutes: relevance unchanged
    W, b = _kernel(model.conv, (2, 4, 4))
    expected = lrp_rule(rule, x[0].numpy().ravel(), W, b, R_h, **params).reshape(2, 4, 4)
    got = explain(model, x, name, target=target)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_input_rule_looks_through_element_wise_affine_ops():
    class Normalised(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 3)
            self.fc = nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            return self.fc(F.relu(self.conv((x - 0.5) / 0.25)).flatten(1))

    model = _init(Normalised())
    attribution = LRP.from_method(model, "lrpsign_epsilon_0_1")
    attribution.attribute(_x(), target=0)
    assert attribution.input_layers == ["conv"]


# --------------------------------------------------------------------------------------------
# hard-swish written out, channel shuffle, stochastic depth, layer norm: against module versions
# --------------------------------------------------------------------------------------------
class Small(nn.Module):
    def __init__(self, kind: str, functional: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 3)
        self.kind, self.functional = kind, functional
        self.hardswish = nn.Hardswish()
        self.shuffle = nn.ChannelShuffle(2)
        self.norm = nn.GroupNorm(2, 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        from torchvision.ops import StochasticDepth

        self.depth = StochasticDepth(0.5, "row")

    def forward(self, x):
        h = self.conv1(x)
        if self.kind == "hardswish":
            h = h * (F.relu6(h + 3.0) / 6.0) if self.functional else self.hardswish(h)
        elif self.kind == "shuffle":
            if self.functional:
                n, c, hh, ww = h.size()
                h = torch.transpose(h.view(n, 2, c // 2, hh, ww), 1, 2).contiguous().view(n, c, hh, ww)
            else:
                h = self.shuffle(h)
        elif self.kind == "depth":
            from torchvision.ops import stochastic_depth

            h = stochastic_depth(h, 0.5, "row", self.training) if self.functional else self.depth(h)
        elif self.kind == "norm":
            h = F.group_norm(h, 2, self.norm.weight, self.norm.bias) if self.functional else self.norm(h)
        h = self.conv2(F.relu(h))
        return self.fc(self.pool(h).flatten(1))


@pytest.mark.parametrize("kind", ["hardswish", "shuffle", "depth", "norm"])
def test_written_out_ops_match_module_versions(kind):
    module_version = _init(Small(kind, False))
    functional = Small(kind, True).eval()
    functional.load_state_dict(module_version.state_dict())
    x = _x()
    for name in ("lrp_epsilon_0_1", "lrp_alpha_1_beta_0"):
        expected = explain(module_version, x, name, target=[0, 1])
        got = explain(functional, x, name, target=[0, 1])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------
# errors, the user's model, batches
# --------------------------------------------------------------------------------------------
class Bilinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(3, 2, 1)
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc((self.a(x) * self.b(x)).mean((2, 3)))


def test_product_without_a_gate_raises_naming_it():
    model = _init(Bilinear())
    with pytest.raises(UnsupportedLayerError, match=r"operator\.mul.*test_lrp_torch_functional\.py.*none of them"):
        LRPZ(model).attribute(_x(), target=0)


def test_unknown_operation_raises_naming_it_and_where():
    class Exp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(torch.exp(self.conv(x)).mean((2, 3)))

    with pytest.raises(UnsupportedLayerError, match=r"torch\.exp .*test_lrp_torch_functional\.py"):
        LRPZ(_init(Exp())).attribute(_x(), target=0)


def test_mean_over_the_batch_is_refused():
    class BatchMean(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3 * 6 * 6, 2)

        def forward(self, x):
            return self.fc((x - x.mean()).flatten(1))

    with pytest.raises(UnsupportedLayerError, match="batch"):
        LRPZ(_init(BatchMean())).attribute(_x(), target=0)


def _state(model: nn.Module):
    return (
        [(name, id(m), type(m), m.training, dict(m._forward_hooks), dict(m._forward_pre_hooks),
          m.__dict__.get("forward")) for name, m in model.named_modules()],
        [(name, id(p), p.requires_grad, p.detach().clone()) for name, p in model.named_parameters()],
    )


def test_user_model_is_unchanged(body):
    model = Functional(body)
    model.train()
    model.body.conv2.eval()
    model.body.fc.weight.requires_grad_(False)
    before = _state(model)
    forward = model.forward
    for name in NAMES:
        explain(model, _x(), name, target=0)
    with pytest.raises(UnsupportedLayerError):  # the error path restores too
        LRPZ(_init(Bilinear())).attribute(_x(), target=0)
    after = _state(model)
    assert [m[:-1] for m in before[0]] == [m[:-1] for m in after[0]]
    assert all(m[-1] is None for m in after[0]) and model.forward == forward
    for (n1, i1, r1, v1), (n2, i2, r2, v2) in zip(before[1], after[1]):
        assert (n1, i1, r1) == (n2, i2, r2) and torch.equal(v1, v2)
    model.body.fc.weight.requires_grad_(True)


def test_view_is_cached_and_shares_the_modules(body):
    model = Functional(body).eval()
    LRPZ(model).attribute(_x(), target=0)
    attribution = LRPZ(model)
    view1 = traced_view(model, attribution.composite)
    view2 = traced_view(model, attribution.composite)
    assert view1 is view2 and view1 is not None
    assert view1.get_submodule("body.conv1") is model.body.conv1
    assert any(isinstance(m, FunctionalOp) for m in view1.modules())
    model.body2 = nn.Identity()  # any change to the model re-traces
    assert traced_view(model, attribution.composite) is not view1
    del model.body2


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_per_sample(name):
    model = _init(SEGate("hardsigmoid"))
    x = _x(n=3, c=2, size=4, seed=5)
    batch = explain(model, x, name, target=[0, 1, 2])
    single = np.concatenate([explain(model, x[i : i + 1], name, target=[i]) for i in range(3)])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-7)
