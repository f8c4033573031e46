"""AlphaBeta with ``beta != 0`` through one layer with stacked outputs, and the zero-free quotient (issue 14).

- ``lrp._layers.stacked_output_axis`` says which layers run ``[W+; W-]`` as one layer (a declarative
  table);
- ``AlphaBeta._stacked`` (one forward of ``[W+; W-]``, one quotient, one transposed product with
  ``[alpha W+; -beta W-]``) against the slow literal rule of ``tests/lrp_reference.py`` in float64,
  on the layer kinds it serves (1x1 convolutions on the matrix-product path, stride 2 among them,
  3x3 convolutions with padding, Conv1d, Linear on a sequence, the converter's channels-first
  Linear), inputs with and without negative parts, both bias forms and no bias;
- whole maps with the stacked path against the maps with it switched off (float64 1e-12, float32
  round-off), that the path is taken, and that the model's weights are not written;
- ``rules._safe_div`` on a denominator without zeros (no zero mask: ``_has_no_zero``) equals the
  literal ``num / den`` bit for bit, and with zeros, NaNs or on a broadcast denominator the literal
  0/0 = 0 quotient.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from signxai_captum import explain  # noqa: E402
from signxai_captum._blocks import ChannelsFirstLinear  # noqa: E402
from signxai_captum.lrp import _layers, rules  # noqa: E402
from signxai_captum.lrp._layers import pointwise_stride, stacked_output_axis  # noqa: E402
from signxai_captum.lrp.rules import AlphaBeta, LayerCall, Z, ZPlusFast  # noqa: E402

from lrp_reference import layer_matrix, lrp_rule  # noqa: E402

ELIGIBILITY = [
    # (id, module, input shape, expected axis)
    ("linear", nn.Linear(4, 3), (2, 4), -1),
    ("linear-sequence", nn.Linear(4, 3), (2, 5, 4), -1),
    ("channels-first-linear", ChannelsFirstLinear(nn.Linear(4, 3)), (2, 4, 5), 1),
    ("conv1d", nn.Conv1d(2, 3, 3), (2, 2, 9), 1),
    ("conv2d", nn.Conv2d(2, 3, 3), (2, 2, 5, 5), 1),
    ("conv2d-1x1", nn.Conv2d(2, 3, 1), (2, 2, 16, 16), 1),
    ("conv3d", nn.Conv3d(1, 2, 2), (1, 1, 3, 3, 3), 1),
    ("conv2d-grouped", nn.Conv2d(4, 2, 3, groups=2), (1, 4, 5, 5), None),
    ("conv2d-depthwise", nn.Conv2d(3, 3, 3, groups=3), (1, 3, 5, 5), None),
    ("conv2d-unbatched-input", nn.Conv2d(2, 3, 3), (2, 5, 5), None),
    ("conv-transpose2d", nn.ConvTranspose2d(2, 3, 2), (1, 2, 4, 4), None),
    ("average-pooling", nn.AvgPool2d(2), (1, 2, 4, 4), None),
]


@pytest.mark.parametrize("module, shape, expected", [c[1:] for c in ELIGIBILITY], ids=[c[0] for c in ELIGIBILITY])
def test_which_layers_stack_their_outputs(module, shape, expected):
    assert stacked_output_axis(module, torch.zeros(shape)) == expected


def test_large_linear_layers_keep_their_blocks_of_rows(monkeypatch):
    monkeypatch.setattr(_layers, "SIGN_PARTS_MIN_BYTES", 1024)
    assert stacked_output_axis(nn.Linear(16, 16), torch.zeros(2, 16)) is None  # 1024 bytes: by rows
    assert stacked_output_axis(nn.Linear(8, 16), torch.zeros(2, 8)) == -1


def _init(module: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module.double()


LAYERS = {
    # (module, per-sample input shape); 16x16 1x1 convolutions run as matrix products on CPU
    "conv2d-1x1": (nn.Conv2d(3, 4, 1), (3, 16, 16)),
    "conv2d-1x1-stride2": (nn.Conv2d(3, 4, 1, stride=2), (3, 16, 16)),
    "conv2d-3x3-padded": (nn.Conv2d(2, 3, 3, padding=1), (2, 5, 5)),
    "conv2d-strided": (nn.Conv2d(2, 3, 3, stride=2), (2, 7, 7)),
    "conv1d": (nn.Conv1d(2, 3, 3, padding=1), (2, 6)),
    "linear": (nn.Linear(6, 5), (6,)),
    "linear-sequence": (nn.Linear(4, 3), (3, 4)),
    "channels-first-linear": (ChannelsFirstLinear(nn.Linear(3, 2)), (3, 2, 2)),
}

RULE_CASES = [
    # (id, alpha, beta, bias, alpha_beta_bias, signed input)
    ("ab21", 2.0, 1.0, True, "reference", False),
    ("ab21-signed", 2.0, 1.0, True, "reference", True),
    ("ab32-signed", 3.0, 2.0, True, "reference", True),
    ("ab21-split-bias-signed", 2.0, 1.0, True, "split", True),
    ("ab21-split-bias", 2.0, 1.0, True, "split", False),
    ("ab21-no-bias-signed", 2.0, 1.0, False, "reference", True),
]


def _literal(module: nn.Module, x: torch.Tensor, relevance: torch.Tensor, rule: str = "alpha_beta", **params) -> np.ndarray:
    """The literal rule (default AlphaBeta) per sample on the layer's explicit matrix (float64)."""
    weight, bias = _layers.kernel_parameters(module)

    def apply_linear(e: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return _layers.kernel_forward(module, torch.from_numpy(e)[None], weight, None)[0].numpy()

    in_shape = tuple(x.shape[1:])
    matrix = layer_matrix(apply_linear, in_shape)
    with torch.no_grad():
        zero = torch.zeros((1,) + in_shape, dtype=x.dtype)
        b = (_layers.kernel_forward(module, zero, weight, bias)[0].numpy().ravel()
             if bias is not None else np.zeros(matrix.shape[0]))
    out = [lrp_rule(rule, a.numpy().ravel(), matrix, b, r.numpy().ravel(), **params)
           for a, r in zip(x, relevance)]
    return np.stack(out).reshape(x.shape)


@pytest.mark.parametrize("alpha, beta, bias, form, signed", [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
@pytest.mark.parametrize("layer_name", list(LAYERS))
def test_stacked_rule_matches_the_literal_rule(monkeypatch, layer_name, alpha, beta, bias, form, signed):
    module, in_shape = LAYERS[layer_name]
    module = _init(module, seed=len(layer_name))
    generator = torch.Generator().manual_seed(7)
    x = torch.randn((2,) + in_shape, generator=generator, dtype=torch.float64)
    if not signed:
        x = x.abs()
    with torch.no_grad():
        out_shape = module(x).shape
    relevance = torch.randn(out_shape, generator=generator, dtype=torch.float64)
    taken = []
    stacked = AlphaBeta._stacked
    monkeypatch.setattr(AlphaBeta, "_stacked", lambda self, *a: taken.append(a[-1]) or stacked(self, *a))
    if layer_name.startswith("conv2d-1x1"):
        assert pointwise_stride(module, x) is not None  # the matrix-product path is the one under test
    call = LayerCall(module=module, path="layer", inputs=(x,), output=None, nonnegative_input=not signed)
    (result,) = AlphaBeta(alpha, beta, bias=bias, alpha_beta_bias=form).relevance(call, relevance)
    assert taken, "the stacked path was not taken"
    expected = _literal(module, x, relevance, alpha=alpha, beta=beta, bias=bias, alpha_beta_bias=form)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-9, atol=1e-11 * np.abs(expected).max())


def test_a_zero_denominator_gets_no_relevance_on_the_stacked_path():
    # z+ = 0 at one output (a zero input row and no bias): the 0/0 = 0 convention, as in the literal rule
    layer = nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [-1.0, 3.0, 2.0]], dtype=torch.float64))
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.5, 2.0]], dtype=torch.float64)
    relevance = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    call = LayerCall(module=layer, path="fc", inputs=(x,), output=None, nonnegative_input=True)
    (result,) = AlphaBeta(2.0, 1.0).relevance(call, relevance)
    expected = _literal(layer, x, relevance, alpha=2.0, beta=1.0)
    assert np.isfinite(result.numpy()).all() and np.array_equal(result.numpy()[0], np.zeros(3))
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-14)


def _model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.Tanh(),  # signed input of the next layer: the a- passes run
        nn.Conv2d(6, 8, 1), nn.ReLU(),  # 1x1 on 16x16: the matrix-product path
        nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.ReLU(),  # grouped: the separate parts
        nn.Conv2d(8, 4, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 7 * 7, 10), nn.ReLU(), nn.Linear(10, 5),
    )


@pytest.mark.parametrize("method", ["lrp_alpha_2_beta_1", "lrp_sequential_composite_b", "lrp_alpha_1_beta_0"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_maps_equal_the_maps_with_separate_parts(monkeypatch, method, dtype):
    model = _model().to(dtype)
    x = np.random.default_rng(4).normal(size=(3, 3, 16, 16)).astype(np.float64 if dtype == torch.float64 else np.float32)
    with monkeypatch.context() as patch:
        patch.setattr(rules, "stacked_output_axis", lambda module, inputs: None)
        separate = explain(model, x, method, target=2)
    weights = [p.detach().clone() for p in model.parameters()]
    versions = [p._version for p in model.parameters()]
    taken = []
    axis_of = rules.stacked_output_axis
    monkeypatch.setattr(rules, "stacked_output_axis",
                        lambda module, inputs: taken.append(type(module).__name__) or axis_of(module, inputs))
    stacked = explain(model, x, method, target=2)
    if method == "lrp_alpha_1_beta_0":
        assert taken == []  # beta = 0: one part only, nothing to stack
    else:
        # composite B: alpha-beta on the convolutions, epsilon on the Linear layers
        expected = ["Conv2d"] * 4 + ([] if method == "lrp_sequential_composite_b" else ["Linear"] * 2)
        assert sorted(taken) == sorted(expected)
    scale = np.abs(separate).max()
    assert scale > 0
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert np.abs(stacked - separate).max() <= tolerance * scale
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights))
    assert [p._version for p in model.parameters()] == versions


def _literal_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den == 0, torch.zeros_like(num), num / torch.where(den == 0, torch.ones_like(den), den))


@pytest.mark.parametrize("case", ["no-zero", "zeros", "negative-zero", "nan", "broadcast-no-zero", "broadcast-zeros"])
@pytest.mark.parametrize("into_den", [False, True])
def test_safe_division_with_and_without_the_zero_mask(monkeypatch, case, into_den):
    generator = torch.Generator().manual_seed(11)
    num = torch.randn(4, 3, 6, 6, generator=generator)
    den = torch.randn((4, 1, 6, 6) if case.startswith("broadcast") else (4, 3, 6, 6), generator=generator)
    if case in ("zeros", "broadcast-zeros"):
        den[0, 0, :2] = 0.0
    if case == "negative-zero":
        den[1, 0, 3, 3] = -0.0
    if case == "nan":
        den[2, 0, 1, 1] = float("nan")
    expected = _literal_div(num, den)
    masks = []
    check = rules._has_no_zero
    monkeypatch.setattr(rules, "_has_no_zero", lambda d: masks.append(not check(d)) or check(d))
    owned = den.clone()
    got = rules._safe_div(num, owned, into_den=into_den)
    assert torch.equal(torch.isnan(got), torch.isnan(expected))
    assert torch.equal(torch.nan_to_num(got), torch.nan_to_num(expected))  # bit for bit elsewhere
    # the zero mask is built exactly when the denominator has a zero (NaN is not one)
    assert masks == [case in ("zeros", "negative-zero", "broadcast-zeros")]
    written = into_den and not case.startswith("broadcast")
    assert (got.data_ptr() == owned.data_ptr()) is written
    if not written:
        assert torch.equal(torch.nan_to_num(owned), torch.nan_to_num(den))  # not written into


def test_no_zero_check_is_off_inside_a_dispatch_mode():
    # under a TorchDispatchMode (profilers, FLOP counters) the masked form runs: no data-dependent branch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    den = torch.rand(5) + 1.0
    assert rules._has_no_zero(den)
    with Passthrough():
        assert not rules._has_no_zero(den)
        assert torch.equal(rules._safe_div(torch.ones(5), den), 1.0 / den)


FEW_INPUTS = [
    # (id, module, expected): each output reads at most FEW_INPUTS_PER_OUTPUT (64) inputs
    ("depthwise-3x3", nn.Conv2d(8, 8, 3, groups=8), True),
    ("depthwise-7x7", nn.Conv2d(8, 8, 7, groups=8), True),
    ("grouped-wide", nn.Conv2d(64, 64, 3, groups=2), False),
    ("conv-3x3", nn.Conv2d(16, 8, 3), False),
    ("linear-small", nn.Linear(10, 4), True),
    ("linear", nn.Linear(100, 4), False),
    ("average-pooling", nn.AvgPool2d(2), False),
]


@pytest.mark.parametrize("module, expected", [c[1:] for c in FEW_INPUTS], ids=[c[0] for c in FEW_INPUTS])
def test_which_layers_skip_the_zero_count(module, expected):
    assert rules._few_inputs_per_output(module) is expected


@pytest.mark.parametrize("rule, literal, params", [
    (AlphaBeta(1.0, 0.0), "alpha_beta", {"alpha": 1.0, "beta": 0.0}),
    (AlphaBeta(2.0, 1.0), "alpha_beta", {"alpha": 2.0, "beta": 1.0}),  # grouped: the separate parts
    (Z(), "z", {}),
    (ZPlusFast(), "z_plus_fast", {}),
], ids=["ab10", "ab21", "z", "z_plus_fast"])
@pytest.mark.parametrize("zeros", [False, True])
def test_depthwise_quotients_make_the_zero_mask_without_counting(monkeypatch, zeros, rule, literal, params):
    # a depthwise layer after a ReLU: W+ a is exactly 0 wherever a 3x3 window is all zeros
    torch.manual_seed(5)
    layer = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False).double()
    x = torch.relu(torch.randn(2, 3, 6, 6, dtype=torch.float64))
    if zeros:
        x[:, :, :3, :3] = 0.0
    relevance = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    counted = []
    check = rules._has_no_zero
    monkeypatch.setattr(rules, "_has_no_zero", lambda d: counted.append(1) or check(d))
    xg = x.clone().requires_grad_(True)
    call = LayerCall(module=layer, path="dw", inputs=(xg,), output=layer(xg), nonnegative_input=True)
    (result,) = rule.relevance(call, relevance)
    result = result.detach()
    assert counted == []
    expected = _literal(layer, x, relevance, rule=literal, **params)
    assert np.isfinite(result.numpy()).all()
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-10, atol=1e-12)
    # without the hint the count runs and the values are the same
    torch.testing.assert_close(rules._safe_div(relevance, layer(x).detach()),
                               rules._safe_div(relevance, layer(x).detach(), count_zeros=False), rtol=0, atol=0)
