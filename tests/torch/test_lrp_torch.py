"""signxai_captum LRP on whole networks: docs/semantics.md §4 identities, conservation, input-layer rule,
batch independence, zennit agreement, a literal chained computation, model restoration, errors,
and the Captum contract."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from torch import nn

from lrp_reference import lrp_batch_norm, lrp_rule, lrp_sum
from shared_spec import parse
from signxai_captum import (
    LRP,
    LRPZ,
    LRPAlphaBeta,
    LRPEpsilon,
    LRPSequentialCompositeA,
    LRPSequentialCompositeB,
    LRPSign,
    LRPStdxEpsilon,
    GradientXInput,
    explain,
)
from signxai_captum.lrp.canonizers import ResidualAdd
from signxai_captum.lrp.composites import UnsupportedLayerError
from signxai_captum.convert import Add
from signxai_captum.lrp.rules import AlphaBeta, Epsilon, Flat, Sign, WSquare, Z


def relu_net(seed: int = 0, bias: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=bias), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, bias=bias), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(),
        nn.Linear(6 * 2 * 2, 8, bias=bias), nn.ReLU(), nn.Linear(8, 5, bias=bias),
    )
    if bias:
        with torch.no_grad():
            for m in model:
                if getattr(m, "bias", None) is not None:
                    m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def batch(n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------
# docs/semantics.md §4.3 identities and conservation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda m: LRPZ(m), lambda m: LRPEpsilon(m, 1e-9), lambda m: LRPAlphaBeta(m, 1, 0)])
def test_convergence_delta_vanishes_when_relevance_is_conserved(make):
    """Captum's ``return_convergence_delta`` (the sums themselves: tests/parity/test_properties.py)."""
    model, x = relu_net(bias=False).double(), batch().double()
    maps, delta = make(model).attribute(x, target=2, return_convergence_delta=True)
    logits = model(x)[:, 2]
    assert torch.allclose(maps.sum(dim=(1, 2, 3)), logits, rtol=1e-6, atol=1e-9)
    assert torch.allclose(delta, torch.zeros_like(delta), atol=1e-6)


def test_input_rule_changes_only_the_first_layer():
    model, x = relu_net(), batch(2)
    captured = {}

    def capture(module, args):  # relevance arriving at the output of the first conv
        args[0].register_hook(lambda g: captured.__setitem__("r", g.detach().clone()))

    handle = model[1].register_forward_pre_hook(capture)
    maps, deeper = {}, {}
    try:
        for input_rule in (None, "z", Sign(), Flat(), WSquare(), "bounded"):
            attribution = LRP(model, rule=Epsilon(0.1), input_rule=input_rule)
            maps[repr(input_rule)] = attribution.attribute(x, target=1)
            deeper[repr(input_rule)] = captured["r"]
            assert attribution.input_layers == ["0"]
    finally:
        handle.remove()
    reference = deeper["None"]
    for key in deeper:
        torch.testing.assert_close(deeper[key], reference, rtol=1e-6, atol=1e-9)
    assert not torch.allclose(maps["Sign()"], maps["None"])
    assert not torch.allclose(maps["Flat()"], maps["None"])
    # the SIGN map is the literal SIGN rule applied to the first conv with that relevance
    conv = model[0]
    expected = torch.nn.grad.conv2d_input(x.shape, conv.weight, reference / conv(x).detach(), padding=1) * torch.where(x >= 0, 1.0, -1.0)
    torch.testing.assert_close(maps["Sign()"], expected.detach(), rtol=1e-4, atol=1e-6)


def test_input_layer_found_through_flatten_and_padding_but_not_through_activation():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))
    attribution = LRP(mlp, Epsilon(0.1), input_rule=Sign())
    attribution.attribute(torch.randn(2, 3, 4), target=0)
    assert attribution.input_layers == ["1"]
    padded = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 16, 2))
    attribution = LRP(padded, Epsilon(0.1), input_rule=Sign())
    attribution.attribute(torch.randn(2, 1, 4, 4), target=0)
    assert attribution.input_layers == ["1"]
    activated_first = nn.Sequential(nn.Tanh(), nn.Linear(3, 2))
    attribution = LRP(activated_first, Epsilon(0.1), input_rule=Sign())
    with pytest.warns(UserWarning, match="input-layer rule Sign\\(\\) was not applied"):
        attribution.attribute(torch.randn(2, 3), target=0)
    # as in signxai_tf: dropout and cropping are not looked through either
    for first in (nn.Dropout(0.5), nn.ZeroPad2d(-1)):
        model = nn.Sequential(first, nn.Conv2d(1, 2, 2), nn.Flatten(), nn.Linear(2 * 4, 2))
        attribution = LRP(model, Epsilon(0.1), input_rule=Sign())
        with pytest.warns(UserWarning, match="was not applied"):
            attribution.attribute(torch.randn(2, 1, 5, 5) if isinstance(first, nn.ZeroPad2d) else torch.randn(2, 1, 3, 3), target=0)
        assert attribution.input_layers == []


def _zennit_attribution(model, x, target, layer_rule):
    from zennit.attribution import Gradient as ZGradient
    from zennit.composites import LayerMapComposite
    from zennit.rules import Pass
    from zennit.types import Activation, Convolution, Linear

    composite = LayerMapComposite(layer_map=[(Activation, Pass()), (Convolution, layer_rule), (Linear, layer_rule)])
    with torch.no_grad():
        logits = model(x)
    seed = torch.zeros_like(logits)
    seed[torch.arange(len(x)), target] = logits[torch.arange(len(x)), target]
    with ZGradient(model, composite) as attributor:
        _, relevance = attributor(x, seed)
    return relevance


@pytest.mark.parametrize(
    "ours,theirs,bias",
    [
        (Epsilon(0.25), lambda r: r.Epsilon(epsilon=0.25), True),
        # zennit's AlphaBeta is the textbook form (b+ in z+, b- in z-): our "split" option ...
        (AlphaBeta(2, 1, alpha_beta_bias="split"), lambda r: r.AlphaBeta(alpha=2.0, beta=1.0, stabilizer=1e-12), True),
        (AlphaBeta(1, 0, alpha_beta_bias="split"), lambda r: r.ZPlus(stabilizer=1e-12), True),
        # ... and, without biases, also our default (reference) form
        (AlphaBeta(2, 1), lambda r: r.AlphaBeta(alpha=2.0, beta=1.0, stabilizer=1e-12), False),
        (AlphaBeta(1, 0), lambda r: r.ZPlus(stabilizer=1e-12), False),
        ("z_plus", lambda r: r.ZPlus(stabilizer=1e-12, zero_params="bias"), True),
        (WSquare(), lambda r: r.WSquare(stabilizer=1e-12, zero_params="bias"), True),
        (Flat(), lambda r: r.Flat(stabilizer=1e-12), True),
        ("bounded", lambda r: r.ZBox(-1.0, 1.0, stabilizer=1e-12, zero_params="bias"), True),
    ],
    ids=["epsilon", "alpha2beta1_split", "alpha1beta0_split", "alpha2beta1_nobias", "alpha1beta0_nobias", "zplus",
         "wsquare", "flat", "zbox"],
)
def test_agrees_with_zennit_where_the_rules_coincide(ours, theirs, bias):
    """zennit's own composites (0.5.1 / 1.0.0 API) on a ReLU/max-pool net, seeded with one-hot x logit."""
    zr = pytest.importorskip("zennit.rules")

    model, x = relu_net(bias=bias).double(), batch().double()
    target = [0, 1, 2]
    expected = _zennit_attribution(model, x, target, theirs(zr))
    got = LRP(model, rule=ours).attribute(x, target=target)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-9)


class _ResidualMLP(nn.Module):
    """x -> Linear -> BN -> ReLU -> h1; h1 -> Linear -> ReLU -> h2; Add(h2, h1) -> Linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.fc1, self.bn, self.act1 = nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU()
        self.fc2, self.act2, self.add, self.fc3 = nn.Linear(5, 5), nn.ReLU(), Add(), nn.Linear(5, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.3, 0.3)
            self.bn.running_var.uniform_(0.5, 1.5)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        h1 = self.act1(self.bn(self.fc1(x)))
        h2 = self.act2(self.fc2(h1))
        return self.fc3(self.add(h2, h1))


@pytest.mark.parametrize("name", ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_2_beta_1", "zblrp_z", "lrpsign_z_mu_0_5"])
def test_chained_literal_computation_with_batch_norm_and_residual(name):
    """The whole backward pass, chained by hand from the literal reference rules."""
    model = _ResidualMLP().double().eval()
    x = torch.randn(1, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x[0, 0] = 0.0
    rules = parse(name).lrp_rules()
    dense, first = rules.dense, rules.input or rules.dense

    def W(layer):
        return layer.weight.detach().numpy(), layer.bias.detach().numpy()

    with torch.no_grad():
        a1 = model.fc1(x)[0].numpy()
        y = model.bn(model.fc1(x))
        h1 = torch.relu(y)[0].numpy()
        h2 = model.act2(model.fc2(torch.relu(y)))[0].numpy()
        logits = model(x)[0].numpy()
    c = int(np.argmax(logits))
    R = np.zeros(3)
    R[c] = logits[c]
    R_add = lrp_rule(dense.name, h2 + h1, *W(model.fc3), R, **dense.params)
    R_h2, R_h1_skip = lrp_sum([h2, h1], R_add)
    R_h1 = lrp_rule(dense.name, h1, *W(model.fc2), R_h2, **dense.params) + R_h1_skip
    bn = model.bn
    R_a1 = lrp_batch_norm(a1, bn.running_mean.numpy(), bn.running_var.numpy(), bn.weight.detach().numpy(),
                          bn.bias.detach().numpy(), bn.eps, R_h1)
    expected = lrp_rule(first.name, x[0].numpy(), *W(model.fc1), R_a1, **first.params)
    got = explain(model, x, name)
    np.testing.assert_allclose(got[0], expected, rtol=1e-7, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# the user's model is left alone; errors
# ----------------------------------------------------------------------------------------------
def _model_state(model):
    return (
        [(m.training, getattr(m, "inplace", None), len(m._forward_hooks), len(m._forward_pre_hooks),
          "forward" in m.__dict__) for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        [p.grad for p in model.parameters()],
    )


def test_model_restored_after_success_and_failure():
    model = relu_net()
    model.train()
    model[0].weight.requires_grad_(False)
    before = _model_state(model)
    x = batch()
    x_copy = x.clone()
    LRPSequentialCompositeA(model).attribute(x, target=0)
    assert _model_state(model) == before
    assert torch.equal(x, x_copy)
    with pytest.raises(ValueError):
        LRPSequentialCompositeB(model).attribute(x, target=99)
    assert _model_state(model) == before
    with pytest.raises(Exception):
        LRPZ(model).attribute(torch.randn(2, 5, 8, 8), target=0)  # wrong channel count
    assert _model_state(model) == before


class _Scale(nn.Module):
    def forward(self, x):
        return torch.exp(x)  # a non-linear operation without a rule (2 * x would pass: element-wise affine)


def test_unsupported_layer_named_with_path_and_type():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), _Scale()), nn.Linear(4, 2))
    with pytest.raises(UnsupportedLayerError, match=r"'1\.1' \(.*_Scale\)"):
        LRPZ(model).attribute(torch.randn(2, 3), target=0)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    # the way out: give it a rule
    out = LRPZ(model, layer_rules={"1.1": "pass"}).attribute(torch.randn(2, 3), target=0)
    assert out.shape == (2, 3)


class _BareResidual(nn.Module):
    def __init__(self, add: bool = False):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)
        self.add = ResidualAdd() if add else None

    def forward(self, x):
        h = self.act(self.fc1(x))
        return self.fc2(self.add(h, x) if self.add is not None else h + x)


def test_functional_add_is_an_error_without_trace_and_the_module_form_works():
    with pytest.raises(UnsupportedLayerError, match="Add .*ResidualAdd"):
        LRPEpsilon(_BareResidual(), 0.1, trace=False).attribute(torch.randn(2, 4), target=0)
    # traced (the default), the functional sum gets the sum rule: same maps as the module form
    bare, module_form = _BareResidual(), _BareResidual(add=True)
    module_form.load_state_dict(bare.state_dict())
    x = torch.randn(2, 4)
    torch.testing.assert_close(
        LRPEpsilon(bare, 0.1).attribute(x, target=0), LRPEpsilon(module_form, 0.1).attribute(x, target=0)
    )
    torch.manual_seed(0)
    model = _BareResidual(add=True).double()
    for m in (model.fc1, model.fc2):
        nn.init.zeros_(m.bias)
    x = torch.randn(3, 4, dtype=torch.float64)
    maps, delta = LRPZ(model).attribute(x, target=1, return_convergence_delta=True)
    assert torch.allclose(delta, torch.zeros(3, dtype=torch.float64), atol=1e-9)


def test_functional_relu_is_reported():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(3, 3), nn.Linear(3, 2)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    with pytest.raises(UnsupportedLayerError, match="Relu"):
        LRPZ(Functional(), trace=False).attribute(torch.randn(2, 3), target=0)
    assert LRPZ(Functional()).attribute(torch.randn(2, 3), target=0).shape == (2, 3)  # traced: a pass rule


def test_layer_rules_by_path_and_type():
    model, x = relu_net(), batch(2)
    by_path = LRP(model, Epsilon(0.1), layer_rules={"0": AlphaBeta(1, 0), "7": "z"}).attribute(x, target=0)
    by_type = LRP(model, {"dense": "z", "conv": AlphaBeta(1, 0)}, layer_rules={nn.Linear: "z", "9": Epsilon(0.1)})
    torch.testing.assert_close(by_path, LRP(model, Epsilon(0.1), layer_rules={"0": AlphaBeta(1, 0), "7": Z()}).attribute(x, target=0))
    assert by_type.attribute(x, target=0).shape == x.shape
    with pytest.raises(ValueError, match=r"'features\.0' \(close"):
        LRP(model, "z", layer_rules={"features.0": "z"}).attribute(x, target=0)


# ----------------------------------------------------------------------------------------------
# named classes = method names; the Captum contract
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,name",
    [
        (lambda m: LRPZ(m), "lrp_z"),
        (lambda m: LRPEpsilon(m, 0.37), "lrp_epsilon_0_37"),
        (lambda m: LRPStdxEpsilon(m, 0.25), "lrp_epsilon_0_25_std_x"),
        (lambda m: LRPAlphaBeta(m, 2, 1), "lrp_alpha_2_beta_1"),
        (lambda m: LRPSign(m, epsilon=0.1), "lrpsign_epsilon_0_1"),
        (lambda m: LRPSign(m, std_x=0.5, mu=0.5), "lrpsign_epsilon_0_5_std_x_mu_0_5"),
        (lambda m: LRPSign(m, preset="alpha_1_beta_0", mu=-0.5), "lrpsign_alpha_1_beta_0_mu_neg_0_5"),
        (lambda m: LRPSign(m, preset="sequential_composite_a"), "lrpsign_sequential_composite_a"),
        (lambda m: LRPSequentialCompositeA(m), "lrp_sequential_composite_a"),
        (lambda m: LRPSequentialCompositeB(m), "lrp_sequential_composite_b"),
        (lambda m: LRP(m, Epsilon(0.1), input_rule=Sign()), "lrpsign_epsilon_0_1"),
    ],
)
def test_named_classes_equal_method_names(make, name):
    model, x = relu_net(), batch(2)
    torch.testing.assert_close(make(model).attribute(x, target=[1, 2]), torch.tensor(explain(model, x, name, target=[1, 2])))


def test_lrpsign_argument_errors():
    with pytest.raises(ValueError, match="at most one"):
        LRPSign(relu_net(), epsilon=0.1, std_x=0.5)


def test_captum_contract_tuple_inputs_no_grad_and_targets():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.add, self.out = nn.Linear(3, 4), nn.Linear(2, 4), Add(), nn.Linear(4, 3)

        def forward(self, x1, x2):
            return self.out(self.add(self.a(x1), self.b(x2)))

    torch.manual_seed(0)
    model = TwoInputs()
    x1, x2 = torch.randn(4, 3), torch.randn(4, 2)
    with torch.no_grad():
        maps = LRPSign(model, epsilon=0.1).attribute((x1, x2), target=torch.tensor([0, 1, 2, 0]))
    assert isinstance(maps, tuple) and maps[0].shape == x1.shape and maps[1].shape == x2.shape
    # both inputs are input layers (SIGN on each)
    attribution = LRPSign(model, epsilon=0.1)
    attribution.attribute((x1, x2), target=0)
    assert sorted(attribution.input_layers) == ["a", "b"]
    # None = argmax per sample
    default = LRPEpsilon(model, 0.1).attribute((x1, x2))
    argmax = model(x1, x2).argmax(1)
    explicit = LRPEpsilon(model, 0.1).attribute((x1, x2), target=argmax)
    torch.testing.assert_close(default, explicit)


def test_noise_tunnel_and_metrics():
    from captum.attr import NoiseTunnel
    from captum.metrics import infidelity, sensitivity_max

    model, x = relu_net(), batch(2)
    lrp = LRPSign(model, epsilon=0.1)
    torch.manual_seed(0)
    smooth, delta = NoiseTunnel(lrp).attribute(
        x, nt_type="smoothgrad", nt_samples=3, stdevs=0.1, target=1, return_convergence_delta=True
    )
    assert smooth.shape == x.shape and delta.shape == (6,)
    # with zero noise, NoiseTunnel is the plain map
    plain = NoiseTunnel(lrp).attribute(x, nt_type="smoothgrad", nt_samples=2, stdevs=0.0, target=1)
    torch.testing.assert_close(plain, lrp.attribute(x, target=1))

    def perturb(inputs):
        noise = torch.randn_like(inputs) * 0.01
        return noise, inputs - noise

    maps = lrp.attribute(x, target=1)
    assert infidelity(model, perturb, x, maps, target=1).shape == (2,)
    assert sensitivity_max(lrp.attribute, x, target=1, n_perturb_samples=2).shape == (2,)


def test_unit_seed_option():
    model, x = relu_net(), batch(2)
    logit = model(x)[:, 3].detach()
    a = LRPZ(model).attribute(x, target=3)
    b = LRPZ(model, initial_relevance="one").attribute(x, target=3)
    torch.testing.assert_close(a, b * logit[:, None, None, None])


@pytest.mark.parametrize("name", ["zblrp_z", "w2lrp_epsilon_0_1", "flatlrp_z", "lrp_epsilon_0_5_std_x", "lrpsign_z"])
def test_convolution_padding_module_acts_like_the_convolutions_own_padding(name):
    """The converter's SamePadding (and pads marked lrp_kernel_padding) are not layer inputs."""
    from signxai_captum.convert import SamePadding

    torch.manual_seed(0)
    own = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 4)).eval()
    marked_pad = nn.ZeroPad2d(1)
    marked_pad.lrp_kernel_padding = True
    for pad in (marked_pad, SamePadding((3, 3), (1, 1))):
        conv = nn.Conv2d(2, 3, 3)
        conv.load_state_dict(own[0].state_dict())
        split = nn.Sequential(pad, conv, own[1], own[2], own[3]).eval()
        x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(1))
        np.testing.assert_allclose(explain(split, x, name, target=1), explain(own, x, name, target=1), rtol=1e-5, atol=1e-7)
    # a padding layer of its own is part of the next layer's input (as in the reference)
    plain = nn.Sequential(nn.ZeroPad2d(1), conv, own[1], own[2], own[3]).eval()
    if name != "lrpsign_z":
        assert not np.allclose(explain(plain, x, name, target=1), explain(own, x, name, target=1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dims", [1, 3])
def test_conv1d_and_conv3d_networks(dims):
    """Bias-free ReLU/max-pool/average-pool networks: lrp_z = gradient x input and it conserves."""
    conv, pool, avg = {1: (nn.Conv1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d), 3: (nn.Conv3d, nn.MaxPool3d, nn.AdaptiveAvgPool3d)}[dims]
    torch.manual_seed(0)
    model = nn.Sequential(
        conv(2, 3, 3, padding=1, bias=False), nn.ReLU(), pool(2), conv(3, 4, 2, bias=False), nn.ELU(),
        avg(1), nn.Flatten(), nn.Linear(4, 3, bias=False),
    ).double().eval()
    x = torch.randn((2, 2) + (6,) * dims, dtype=torch.float64)
    maps, delta = LRPZ(model).attribute(x, target=[0, 2], return_convergence_delta=True)
    assert torch.allclose(delta, torch.zeros(2, dtype=torch.float64), atol=1e-10)
    if dims == 1:  # with an ELU the gradient is not the relevance; check the ReLU-only prefix instead
        relu_model = nn.Sequential(*list(model[:4]), nn.ReLU(), *list(model[5:])).eval()
        torch.testing.assert_close(LRPZ(relu_model).attribute(x, target=1), GradientXInput(relu_model).attribute(x, target=1))


def test_captum_visualization_takes_the_map():
    import matplotlib

    matplotlib.use("Agg")
    from captum.attr import visualization

    model, x = relu_net(), batch(1)
    maps = LRPSign(model, epsilon=0.1).attribute(x, target=1)
    hwc = maps[0].permute(1, 2, 0).numpy()
    figure, _ = visualization.visualize_image_attr(hwc, method="heat_map", sign="all", use_pyplot=False)
    assert figure is not None


def test_per_layer_rules_of_a_rule_set_and_a_bounds_pair_as_input_rule():
    """``LRPRuleSet.layers`` (by module path) become the composite's layer rules; ``input_rule=(low, high)``
    is Bounded(low, high), as the reference's ``input_layer_rule`` tuple."""
    from shared_spec import LRPRule, LRPRuleSet
    from signxai_captum.lrp.composites import Composite
    from signxai_captum.lrp.rules import Bounded

    model, x = relu_net(), batch(2)
    base = parse("lrp_epsilon_0_1").lrp_rules()
    rules = LRPRuleSet(base.dense, base.conv, None, {"3": LRPRule("flat", {}), "9": LRPRule("z", {})})
    got = LRP(model, rule=Composite.from_rule_set(rules)).attribute(x, target=1)
    expected = LRP(model, rule=Epsilon(0.1), layer_rules={"3": Flat(), "9": Z()}).attribute(x, target=1)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert not torch.allclose(got, LRP(model, rule=Epsilon(0.1)).attribute(x, target=1))
    pair = LRP(model, rule=Epsilon(0.1), input_rule=(-2.0, 3.0)).attribute(x, target=1)
    bounded = LRP(model, rule=Epsilon(0.1), input_rule=Bounded(-2.0, 3.0)).attribute(x, target=1)
    torch.testing.assert_close(pair, bounded, rtol=0, atol=0)


def test_named_classes_take_the_ignore_bias_and_composite_epsilon_options():
    """``bias=False`` is the table's ``_ignore_bias`` name; the composites' epsilon reaches the Linear layers."""
    model, x = relu_net(), batch(2)
    ib = LRPEpsilon(model, 0.1, bias=False)
    assert ib.method_name == "lrp_epsilon_0_1_ignore_bias"
    np.testing.assert_array_equal(ib.attribute(x, target=1).numpy(), explain(model, x, "lrp_epsilon_0_1_ignore_bias", target=1))
    assert not np.allclose(ib.attribute(x, target=1).numpy(), explain(model, x, "lrp_epsilon_0_1", target=1))
    small = LRPSequentialCompositeA(model, epsilon=0.05).attribute(x, target=1)
    composite = LRP(model, rule={"dense": Epsilon(0.05), "conv": AlphaBeta(1, 0)}).attribute(x, target=1)
    torch.testing.assert_close(small, composite, rtol=0, atol=0)
    assert not torch.allclose(small, LRPSequentialCompositeA(model).attribute(x, target=1))
