"""1x1 convolutions on CPU as matrix products (``lrp._layers.pointwise_stride``, issue 14).

The LRP rules' forward with replaced weights (``W+ a``, ``W- a``, ...) and transposed products
(``W^T g``) of a 1x1 convolution run as matrix products over the channels on CPU, where the
convolution backend is up to 5x slower for them. These tests check

- which layers take the path (a declarative table: kernel size, groups, padding, input size,
  dtype, device, a subclass with its own forward);
- the values, in float64, against the convolution itself and its autograd vector-Jacobian
  product, for 1-D, 2-D and 3-D layers, strides 1 to 3 (also strides that skip the last
  positions), with and without bias;
- whole LRP maps (epsilon, AlphaBeta, composite B, SIGN) with the path against the maps with it
  switched off, on a small residual network with stride-2 1x1 shortcuts, and that the path is
  actually taken there.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from signxai_captum import explain  # noqa: E402
from signxai_captum.lrp import _layers, rules  # noqa: E402
from signxai_captum.lrp._layers import kernel_forward, kernel_transpose, pointwise_stride  # noqa: E402


class StandardisedConv(nn.Conv2d):
    """A convolution whose forward does not compute ``W x`` with its stored weight."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        return self._conv_forward(x, (w - w.mean()) / (w.std() + 1e-5), self.bias)


class PlainSubclass(nn.Conv2d):
    """A subclass that keeps ``nn.Conv2d.forward``."""


ELIGIBILITY = [
    # (id, module, input shape, dtype, expected stride)
    ("2d", nn.Conv2d(4, 6, 1), (2, 4, 14, 14), torch.float32, (1, 1)),
    ("2d-stride-2", nn.Conv2d(4, 6, 1, stride=2), (2, 4, 15, 16), torch.float32, (2, 2)),
    ("2d-float64", nn.Conv2d(4, 6, 1), (1, 4, 14, 14), torch.float64, (1, 1)),
    ("1d", nn.Conv1d(3, 5, 1, stride=3), (2, 3, 200), torch.float32, (3,)),
    ("3d", nn.Conv3d(2, 3, 1), (1, 2, 6, 6, 6), torch.float32, (1, 1, 1)),
    ("padding-same", nn.Conv2d(4, 6, 1, padding="same"), (2, 4, 14, 14), torch.float32, (1, 1)),
    ("plain-subclass", PlainSubclass(4, 6, 1), (2, 4, 14, 14), torch.float32, (1, 1)),
    ("3x3", nn.Conv2d(4, 6, 3), (2, 4, 14, 14), torch.float32, None),
    ("groups", nn.Conv2d(4, 6, 1, groups=2), (2, 4, 14, 14), torch.float32, None),
    ("padded", nn.Conv2d(4, 6, 1, padding=1), (2, 4, 14, 14), torch.float32, None),
    ("below-196-positions", nn.Conv2d(4, 6, 1), (2, 4, 13, 15), torch.float32, None),
    ("float16", nn.Conv2d(4, 6, 1), (2, 4, 14, 14), torch.float16, None),
    ("unbatched", nn.Conv2d(4, 6, 1), (4, 14, 14), torch.float32, None),
    ("own-forward", StandardisedConv(4, 6, 1), (2, 4, 14, 14), torch.float32, None),
    ("transposed-conv", nn.ConvTranspose2d(4, 6, 1), (2, 4, 14, 14), torch.float32, None),
    ("linear", nn.Linear(14, 6), (2, 4, 14, 14), torch.float32, None),
]


@pytest.mark.parametrize("module, shape, dtype, expected", [c[1:] for c in ELIGIBILITY], ids=[c[0] for c in ELIGIBILITY])
def test_which_layers_run_as_matrix_products(module: nn.Module, shape: tuple[int, ...], dtype: torch.dtype,
                                             expected: tuple[int, ...] | None) -> None:
    assert pointwise_stride(module, torch.zeros(shape, dtype=dtype)) == expected


def test_meta_device_inputs_keep_the_convolution() -> None:
    """Only CPU tensors take the path (other devices were not measured)."""
    assert pointwise_stride(nn.Conv2d(4, 6, 1), torch.zeros(2, 4, 14, 14, device="meta")) is None


VALUES = [
    # (id, conv class, in, out, stride, input spatial shape, bias)
    ("2d", nn.Conv2d, 5, 7, 1, (14, 15), True),
    ("2d-no-bias", nn.Conv2d, 5, 7, 1, (14, 15), False),
    ("2d-stride-2-odd", nn.Conv2d, 5, 7, 2, (29, 31), True),
    ("2d-stride-3-skips-last", nn.Conv2d, 3, 4, 3, (20, 22), True),
    ("2d-stride-(1,2)", nn.Conv2d, 3, 4, (1, 2), (14, 17), False),
    ("1d", nn.Conv1d, 4, 6, 1, (250,), True),
    ("1d-stride-2", nn.Conv1d, 4, 6, 2, (251,), True),
    ("3d-stride-2", nn.Conv3d, 2, 3, 2, (7, 6, 9), True),
]


@pytest.mark.parametrize("cls, cin, cout, stride, spatial, bias", [c[1:] for c in VALUES], ids=[c[0] for c in VALUES])
def test_matrix_products_equal_the_convolution_and_its_vjp(cls: type[nn.Module], cin: int, cout: int, stride: object,
                                                           spatial: tuple[int, ...], bias: bool) -> None:
    torch.manual_seed(0)
    conv = cls(cin, cout, 1, stride=stride, bias=bias).double()
    x = torch.randn((3, cin) + spatial, dtype=torch.float64)
    assert pointwise_stride(conv, x) is not None
    weight = torch.randn_like(conv.weight)  # a replaced weight, as W+ or W-
    b = torch.randn(cout, dtype=torch.float64) if bias else None
    expected = conv._conv_forward(x, weight, b)
    got = kernel_forward(conv, x, weight, b)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)

    grad = torch.randn_like(expected)
    leaf = x.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(conv._conv_forward(leaf, weight, None), leaf, grad)
    got_t = kernel_transpose(conv, x, weight, grad)
    assert got_t.shape == x.shape
    torch.testing.assert_close(got_t, vjp, rtol=1e-12, atol=1e-12)


class Residual(nn.Module):
    """conv-relu, then a bottleneck with a stride-2 1x1 shortcut, avgpool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.reduce = nn.Conv2d(8, 4, 1)
        self.mid = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.expand = nn.Conv2d(4, 16, 1)
        self.shortcut = nn.Conv2d(8, 16, 1, stride=2)
        self.relu2 = nn.ReLU()
        self.relu3 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.stem(x))
        h = self.expand(self.relu2(self.mid(self.relu3(self.reduce(a)))))
        return self.fc(self.pool(h + self.shortcut(a)).flatten(1))


METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_alpha_2_beta_1",
           "lrp_sequential_composite_b", "lrp_z"]


@pytest.mark.parametrize("method", METHODS)
def test_lrp_maps_with_and_without_the_matrix_products(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In float64 the maps agree to 1e-10; in float32 the path's map is as close to the float64 map
    as the convolution backend's (AlphaBeta with beta > 0 divides by small inhibitor sums, where
    float32 round-off of either order grows to ~1e-4 relative in single entries)."""
    torch.manual_seed(1)
    model = Residual().eval()
    x = torch.randn(2, 3, 30, 30)  # 900 positions before the stride, 225 after
    calls = []

    def counted(fn):
        def wrapper(*args, **kwargs):
            calls.append(fn.__name__)
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(rules, "pointwise_transpose", counted(_layers.pointwise_transpose))
    monkeypatch.setattr(_layers, "pointwise_transpose", counted(_layers.pointwise_transpose))
    maps = {}
    for path in ("fast", "slow"):
        if path == "slow":  # off: every layer on the convolution backend
            monkeypatch.setattr(_layers, "POINTWISE_MIN_POSITIONS", 10**12)
        for dtype in (torch.float64, torch.float32):
            calls.clear()
            maps[path, dtype] = explain(model.to(dtype), x.to(dtype), method, target=[1, 3])
            assert (len(calls) >= 3) == (path == "fast"), f"{path} {dtype}: matrix-product calls {calls}"
    reference = maps["slow", torch.float64]
    scale = np.abs(reference).max()
    assert scale > 0
    np.testing.assert_allclose(maps["fast", torch.float64], reference, rtol=1e-10, atol=1e-12 * scale)
    err_fast = np.abs(maps["fast", torch.float32] - reference).max()
    err_slow = np.abs(maps["slow", torch.float32] - reference).max()
    assert err_fast <= 3 * err_slow + 1e-6 * scale, (err_fast, err_slow, scale)


def test_strided_transpose_leaves_zeros_at_the_skipped_positions() -> None:
    """A stride-2 1x1 convolution reads every second position: its transposed product is 0 elsewhere."""
    conv = nn.Conv2d(2, 3, 1, stride=2)
    x = torch.randn(1, 2, 15, 15)
    grad = torch.randn(1, 3, 8, 8)
    out = kernel_transpose(conv, x, conv.weight.detach(), grad)
    mask = torch.zeros(15, 15, dtype=torch.bool)
    mask[::2, ::2] = True
    assert torch.all(out[..., ~mask] == 0)
    expected = torch.einsum("oc,no...->nc...", conv.weight.detach()[:, :, 0, 0], grad)
    torch.testing.assert_close(out[..., ::2, ::2], expected)
