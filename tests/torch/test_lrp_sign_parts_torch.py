"""Sign parts of large Linear weights by blocks of rows (``lrp._layers.sign_parts_by_rows``, issue 14).

AlphaBeta on an ``nn.Linear`` layer whose weight has at least ``SIGN_PARTS_MIN_BYTES`` forms
``W+``/``W-`` one block of rows (output features) at a time instead of as whole copies. These tests
check

- which layers take the path (a declarative table);
- that the blocks cover the weight and hold its clamped rows, the last block a partial one;
- the rule's relevance against the slow literal rule of ``tests/lrp_reference.py`` (per sample, in
  float64), for (alpha, beta) = (1, 0) and (2, 1), both bias forms, no bias, inputs with and without
  negative parts, a sequence input ``(N, T, features)`` and block sizes that do not divide the rows;
- whole LRP maps with the path against the maps with it switched off (float64 to 1e-12, float32
  to round-off), that the path is actually taken, and that the model's weights are not written.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from signxai_captum import explain  # noqa: E402
from signxai_captum._blocks import ChannelsFirstLinear  # noqa: E402
from signxai_captum.lrp import _layers, rules  # noqa: E402
from signxai_captum.lrp._layers import sign_part_row_blocks, sign_parts_by_rows  # noqa: E402
from signxai_captum.lrp.rules import AlphaBeta, LayerCall  # noqa: E402

from lrp_reference import lrp_rule  # noqa: E402


class ScaledLinear(nn.Linear):
    """A Linear whose forward does not compute ``W x + b`` with its stored weight."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, 2.0 * self.weight, self.bias)


class PlainLinear(nn.Linear):
    """A subclass that keeps ``nn.Linear.forward``."""


def _small_blocks(monkeypatch: pytest.MonkeyPatch, min_bytes: int = 1024, block_bytes: int = 7 * 8 * 8) -> None:
    """Blocks of a few rows for small test layers (float64, 8 features: 7 rows per block)."""
    monkeypatch.setattr(_layers, "SIGN_PARTS_MIN_BYTES", min_bytes)
    monkeypatch.setattr(_layers, "SIGN_PARTS_BLOCK_BYTES", block_bytes)


ELIGIBILITY = [
    # (id, module, expected) with SIGN_PARTS_MIN_BYTES = 1024 (128 float64 or 256 float32 values)
    ("linear-float64", nn.Linear(8, 16).double(), True),
    ("linear-float32", nn.Linear(16, 16), True),
    ("linear-below-min", nn.Linear(8, 8), False),
    ("plain-subclass", PlainLinear(16, 16), True),
    ("own-forward", ScaledLinear(16, 16), False),
    ("channels-first-linear", ChannelsFirstLinear(nn.Linear(16, 16)), False),
    ("conv", nn.Conv2d(16, 16, 1), False),
]


@pytest.mark.parametrize("module, expected", [c[1:] for c in ELIGIBILITY], ids=[c[0] for c in ELIGIBILITY])
def test_which_layers_take_the_path(monkeypatch, module, expected):
    _small_blocks(monkeypatch)
    weight = _layers.kernel_parameters(module)[0]
    assert sign_parts_by_rows(module, weight) is expected


def test_vgg16_classifier_layers_with_the_default_threshold():
    # 32 MiB: VGG16's classifier layers of 411 MB and 67 MB take the path, its last one (16 MB) does not
    assert sign_parts_by_rows(nn.Linear(25088, 4096, device="meta"), torch.empty(4096, 25088, device="meta"))
    assert sign_parts_by_rows(nn.Linear(4096, 4096, device="meta"), torch.empty(4096, 4096, device="meta"))
    assert not sign_parts_by_rows(nn.Linear(4096, 1000, device="meta"), torch.empty(1000, 4096, device="meta"))


@pytest.mark.parametrize("negative", [False, True])
def test_blocks_cover_the_rows_with_their_sign_parts(monkeypatch, negative):
    _small_blocks(monkeypatch)
    weight = torch.randn(23, 8, dtype=torch.float64)
    seen = []
    for rows, w_pos, w_neg in sign_part_row_blocks(weight, negative):
        assert torch.equal(w_pos, weight[rows].clamp(min=0))
        if negative:
            assert torch.equal(w_neg, weight[rows].clamp(max=0))
        else:
            assert w_neg is None
        seen.append((rows.start, rows.stop))
    assert seen == [(0, 7), (7, 14), (14, 21), (21, 23)]


def _literal(x, weight, layer_bias, relevance, **params):
    """The slow literal AlphaBeta rule, sample by sample (rows of the flattened input)."""
    w, b = weight.numpy(), layer_bias.numpy()
    xs, rs = x.reshape(-1, w.shape[1]).numpy(), relevance.reshape(-1, w.shape[0]).numpy()
    return np.stack([lrp_rule("alpha_beta", a, w, b, r, **params) for a, r in zip(xs, rs)]).reshape(x.shape)


CASES = [
    # (id, alpha, beta, bias, alpha_beta_bias, signed input, input shape)
    ("ab10", 1.0, 0.0, True, "reference", False, (3, 8)),
    ("ab10-signed", 1.0, 0.0, True, "reference", True, (3, 8)),
    ("ab21", 2.0, 1.0, True, "reference", False, (3, 8)),
    ("ab21-signed", 2.0, 1.0, True, "reference", True, (3, 8)),
    ("ab21-split-bias", 2.0, 1.0, True, "split", True, (3, 8)),
    ("ab10-no-bias", 1.0, 0.0, False, "reference", True, (3, 8)),
    ("ab21-sequence", 2.0, 1.0, True, "reference", True, (2, 3, 8)),
]


@pytest.mark.parametrize("alpha, beta, bias, form, signed, shape", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_matches_the_literal_rule(monkeypatch, alpha, beta, bias, form, signed, shape):
    _small_blocks(monkeypatch)
    torch.manual_seed(0)
    layer = nn.Linear(8, 23).double()
    x = torch.randn(shape, dtype=torch.float64)
    if not signed:
        x = x.abs()
    relevance = torch.randn(shape[:-1] + (23,), dtype=torch.float64)
    rule = AlphaBeta(alpha, beta, bias=bias, alpha_beta_bias=form)
    taken = []
    blocks = rules.sign_part_row_blocks
    monkeypatch.setattr(rules, "sign_part_row_blocks", lambda *a, **k: taken.append(1) or blocks(*a, **k))
    call = LayerCall(module=layer, path="fc", inputs=(x,), output=None, nonnegative_input=not signed)
    (result,) = rule.relevance(call, relevance)
    assert taken, "the block path was not taken"
    expected = _literal(x, layer.weight.detach(), layer.bias.detach(), relevance,
                        alpha=alpha, beta=beta, bias=bias, alpha_beta_bias=form)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-10, atol=1e-12)


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Linear(12, 40), nn.Tanh(),  # signed input of the next layer: the a- passes run
        nn.Linear(40, 50), nn.ReLU(),
        nn.Linear(50, 6),
    )


@pytest.mark.parametrize("method", ["lrp_alpha_1_beta_0", "lrp_alpha_2_beta_1", "lrp_z_plus"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_maps_equal_the_maps_with_whole_copies(monkeypatch, method, dtype):
    model = _model().to(dtype)
    x = np.random.default_rng(2).normal(size=(5, 12)).astype(np.float64 if dtype == torch.float64 else np.float32)
    monkeypatch.setattr(_layers, "SIGN_PARTS_MIN_BYTES", 2**62)  # whole copies
    whole = explain(model, x, method, target=3)
    _small_blocks(monkeypatch, min_bytes=1024, block_bytes=3 * 40 * x.itemsize)  # 3 rows per block
    weights = [p.detach().clone() for p in model.parameters()]
    versions = [p._version for p in model.parameters()]
    taken = []
    blocks = rules.sign_part_row_blocks
    monkeypatch.setattr(rules, "sign_part_row_blocks", lambda *a, **k: taken.append(a[0].shape) or blocks(*a, **k))
    by_rows = explain(model, x, method, target=3)
    assert sorted(taken) == [(6, 50), (40, 12), (50, 40)]  # every layer is >= 1024 bytes here
    scale = np.abs(whole).max()
    assert scale > 0
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    assert np.abs(by_rows - whole).max() <= tolerance * scale
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights))
    assert [p._version for p in model.parameters()] == versions
