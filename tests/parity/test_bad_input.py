"""Bad input is refused with a clear error in both packages, never answered silently.

Non-finite values in x, an empty batch, z^B bounds with low >= high and (PyTorch) channels-last
or unbatched input each raise a ``ValueError`` that says what was wrong and what would be right.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import shared_spec  # noqa: E402
import signxai_captum  # noqa: E402
from signxai_captum import GradientXSign, IntegratedGradients, LRPEpsilon, SmoothGrad  # noqa: E402

METHODS = ["gradient", "lrp_epsilon_0_1", "integrated_gradients_steps_3", "smoothgrad_samples_2"]


def torch_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def keras_cnn():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
         keras.layers.Dense(5)]
    )


def batch_nchw(n: int = 2) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 3, 8, 8)).astype(np.float32)


class CallCounter:
    """Counts forward calls of a module (a forward pre-hook)."""

    def __init__(self, module: nn.Module) -> None:
        self.calls = 0
        self.handle = module.register_forward_pre_hook(self)

    def __call__(self, module: nn.Module, args: tuple) -> None:
        self.calls += 1


# --------------------------------------------------------------------------
# 1. non-finite values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", METHODS)
def test_torch_explain_refuses_nonfinite(method, bad):
    model = torch_cnn()
    x = batch_nchw(3)
    x[1, 2, 4, 5] = bad
    x[2, 0, 0, 1] = bad
    counter = CallCounter(model)
    with pytest.raises(ValueError) as info:
        signxai_captum.explain(model, x, method)
    message = str(info.value)
    assert "2 non-finite values" in message
    assert "(1, 2, 4, 5)" in message
    assert "allow_nonfinite=True" in message
    assert counter.calls == 0  # raised before any computation


def test_torch_explain_nonfinite_counts_kinds():
    x = batch_nchw(2)
    x[0, 0, 0, 3] = np.inf
    x[1, 1, 1, 1] = np.nan
    x[1, 1, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"3 non-finite values \(2 NaN, 1 inf\).*\(0, 0, 0, 3\)"):
        signxai_captum.explain(torch_cnn(), x, "gradient")


def test_torch_explain_nonfinite_from_dtype_conversion():
    x = batch_nchw(1).astype(np.float64)
    x[0, 1, 2, 3] = 1e300  # finite in float64, inf in the model's float32
    with pytest.raises(ValueError, match=r"1 non-finite value.*\(0, 1, 2, 3\).*float32"):
        signxai_captum.explain(torch_cnn(), x, "gradient")


def test_torch_explain_allow_nonfinite():
    x = batch_nchw(2)
    x[1, 0, 3, 3] = np.nan
    maps = signxai_captum.explain(torch_cnn(), x, "gradient_x_input", target=0, allow_nonfinite=True)
    assert maps.shape == x.shape
    assert np.isfinite(maps[0]).all() and np.isnan(maps[1]).any()


@pytest.mark.parametrize(
    "make", [lambda m: GradientXSign(m), lambda m: LRPEpsilon(m, 0.1), lambda m: IntegratedGradients(m, steps=3),
             lambda m: SmoothGrad(m, samples=2, seed=0)],
    ids=["GradientXSign", "LRPEpsilon", "IntegratedGradients", "SmoothGrad"],
)
def test_captum_attribute_refuses_nonfinite(make):
    model = torch_cnn()
    x = torch.from_numpy(batch_nchw(2))
    x[1, 1, 2, 3] = float("nan")
    attr = make(model)
    counter = CallCounter(model)
    with pytest.raises(ValueError, match=r"1 non-finite value .*\(1, 1, 2, 3\)"):
        attr.attribute(x, target=0)
    assert counter.calls == 0
    attr.allow_nonfinite = True
    assert attr.attribute(x, target=0).shape == x.shape


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(2, 3)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.a(a) * self.b(b)


def test_captum_tuple_inputs_name_the_bad_tensor():
    a, b = torch.ones(2, 4), torch.ones(2, 2)
    b[1, 0] = float("inf")
    attr = GradientXSign(TwoInputs())
    with pytest.raises(ValueError, match=r"inputs\[1\] has 1 non-finite value \(1 inf\).*\(1, 0\)"):
        attr.attribute((a, b), target=0)
    with pytest.raises(ValueError, match=r"0 samples"):
        attr.attribute((a[:0], b[:0]), target=0)
    attr.allow_nonfinite = True
    maps = attr.attribute((a, b), target=0)
    assert maps[0].shape == a.shape and maps[1].shape == b.shape


def test_attribution_for_allow_nonfinite():
    model = torch_cnn()
    x = torch.from_numpy(batch_nchw(1))
    x[0, 0, 0, 0] = float("inf")
    assert signxai_captum.attribution_for(model, "gradient").allow_nonfinite is False
    attr = signxai_captum.attribution_for(model, "gradient", allow_nonfinite=True)
    assert attr.allow_nonfinite is True
    assert attr.attribute(x, target=1).shape == x.shape


def test_noise_tunnel_with_finite_input_still_works():
    from captum.attr import NoiseTunnel

    x = torch.from_numpy(batch_nchw(2))
    tunnel = NoiseTunnel(GradientXSign(torch_cnn()))
    maps = tunnel.attribute(x, nt_type="smoothgrad", nt_samples=3, stdevs=0.1, target=0)
    assert maps.shape == x.shape and torch.isfinite(maps).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("method", METHODS)
def test_tf_explain_refuses_nonfinite(method, bad):
    import signxai_tf

    model = keras_cnn()
    x = batch_nchw(3).transpose(0, 2, 3, 1).copy()
    x[2, 4, 5, 1] = bad
    with pytest.raises(ValueError) as info:
        signxai_tf.explain(model, x, method)
    message = str(info.value)
    assert "1 non-finite value" in message and "(2, 4, 5, 1)" in message
    assert "allow_nonfinite=True" in message


def test_tf_explain_allow_nonfinite():
    import signxai_tf

    x = batch_nchw(2).transpose(0, 2, 3, 1).copy()
    x[1, 3, 3, 0] = np.nan
    maps = signxai_tf.explain(keras_cnn(), x, "gradient_x_input", target=0, allow_nonfinite=True)
    assert maps.shape == x.shape
    assert np.isfinite(maps[0]).all() and np.isnan(maps[1]).any()


def test_tf_as_batch_nonfinite_from_dtype_conversion():
    from signxai_tf._batch import as_batch

    x = batch_nchw(1).transpose(0, 2, 3, 1).astype(np.float64)
    x[0, 1, 2, 0] = -1e300
    with pytest.raises(ValueError, match=r"1 non-finite value.*\(0, 1, 2, 0\).*float32"):
        as_batch(x, keras_cnn())


# --------------------------------------------------------------------------
# 2. empty batch


@pytest.mark.parametrize("method", ["gradient", "lrp_z"])
def test_torch_explain_refuses_empty_batch(method):
    with pytest.raises(ValueError, match=r"x has 0 samples"):
        signxai_captum.explain(torch_cnn(), batch_nchw(2)[:0], method)


def test_captum_attribute_refuses_empty_batch():
    x = torch.zeros((0, 3, 8, 8))
    with pytest.raises(ValueError, match=r"0 samples"):
        GradientXSign(torch_cnn()).attribute(x)
    with pytest.raises(ValueError, match=r"0 samples"):
        IntegratedGradients(torch_cnn(), steps=2).attribute(x, target=0)


@pytest.mark.parametrize("method", ["gradient", "lrp_z"])
def test_tf_explain_refuses_empty_batch(method):
    import signxai_tf

    with pytest.raises(ValueError, match=r"x has 0 samples"):
        signxai_tf.explain(keras_cnn(), np.zeros((0, 8, 8, 3), np.float32), method)


# --------------------------------------------------------------------------
# 3. z^B bounds


@pytest.mark.parametrize(
    "low, high, shown",
    [
        ([0, 0, 2], [1, 1, 1], "[2]"),
        ([0, 0, 1], [1, 1, 1], "[2]"),
        ([0, 5, 1], 1.0, "[1]"),
        (1.0, [2, 0.5, 3], "[1]"),
        (2.0, 1.0, "low=2"),
        (1.0, 1.0, "low=1"),
        (np.array([[0.0, 3.0], [0.0, 0.0]]), np.ones((2, 2)), "[0, 1]"),
        (np.array([0.0, np.nan, 0.0]), 1.0, "[1]"),
    ],
)
def test_zblrp_low_must_be_below_high(low, high, shown):
    with pytest.raises(shared_spec.MethodParameterError) as info:
        shared_spec.parse("zblrp_z", low=low, high=high)
    message = str(info.value)
    assert "low" in message and "high" in message and shown in message


def test_zblrp_names_all_offending_elements():
    with pytest.raises(shared_spec.MethodParameterError, match=r"2 of 4 elements.*\[1\].*\[3\]"):
        shared_spec.parse("zblrp_epsilon_0_1", low=[0, 2, 0, 3], high=[1, 1, 1, 1])


@pytest.mark.parametrize(
    "low, high",
    [([0, 0, 0], [1, 1, 1]), (-1.0, [1, 2, 3]), (np.zeros(3), 1.0), (torch.zeros(3), torch.ones(3)), (None, None)],
)
def test_zblrp_valid_bounds_pass(low, high):
    overrides = {} if low is None else {"low": low, "high": high}
    spec = shared_spec.parse("zblrp_z", **overrides)
    assert spec.params["low"] is not None
    assert shared_spec.parse("zblrp_z_VGG16ILSVRC").params["low"] == -123.68


def test_zblrp_bounds_checked_in_both_packages():
    x = batch_nchw(1)
    with pytest.raises(shared_spec.MethodParameterError, match=r"\[2\]"):
        signxai_captum.explain(torch_cnn(), x, "zblrp_z", low=[0, 0, 2], high=[1, 1, 1])
    import signxai_tf

    with pytest.raises(shared_spec.MethodParameterError, match=r"\[2\]"):
        signxai_tf.explain(keras_cnn(), x.transpose(0, 2, 3, 1), "zblrp_z", low=[0, 0, 2], high=[1, 1, 1])


# --------------------------------------------------------------------------
# 4. PyTorch layout hints


def test_torch_channels_last_hint():
    x = batch_nchw(2).transpose(0, 2, 3, 1).copy()
    with pytest.raises(ValueError) as info:
        signxai_captum.explain(torch_cnn(), x, "gradient")
    message = str(info.value)
    assert "channels-first" in message
    assert "(2, 8, 8, 3)" in message and "3 channels on axis 1" in message
    assert "x.permute(0, 3, 1, 2)" in message
    with pytest.raises(ValueError, match=re.escape("x.permute(0, 3, 1, 2)")):
        LRPEpsilon(torch_cnn(), 0.1).attribute(torch.from_numpy(x), target=0)


def test_torch_channels_last_hint_1d_and_grayscale():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8, 3))
    with pytest.raises(ValueError, match=re.escape("x.permute(0, 2, 1)")):
        signxai_captum.explain(model, np.ones((2, 10, 4), np.float32), "gradient")
    gray = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(ValueError, match=r"1 channels? on axis 1.*x\.permute\(0, 3, 1, 2\)"):
        signxai_captum.explain(gray, np.ones((2, 8, 8, 1), np.float32), "gradient")


def test_torch_missing_batch_axis_hint():
    x = batch_nchw(1)[0]
    with pytest.raises(ValueError) as info:
        signxai_captum.explain(torch_cnn(), x, "gradient")
    message = str(info.value)
    assert "(3, 8, 8)" in message and "4-D" in message and "x[None]" in message
    with pytest.raises(ValueError, match=re.escape("x[None]")):
        GradientXSign(torch_cnn()).attribute(torch.from_numpy(x))


def test_torch_no_layout_hint_for_other_failures():
    x = np.ones((2, 3, 9, 9), np.float32)  # right layout, wrong size: no layout advice
    with pytest.raises(ValueError) as info:
        signxai_captum.explain(torch_cnn(), x, "gradient")
    assert "could not run" in str(info.value)
    assert "permute" not in str(info.value) and "x[None]" not in str(info.value)


def test_both_packages_word_the_nonfinite_error_alike():
    """One message builder (shared_spec.check_finite): the same counts, kinds and wording in both packages."""
    import signxai_tf

    x = batch_nchw()
    x[1, 2, 3, 4] = np.nan
    x[0, 0, 0, 1] = np.inf
    with pytest.raises(ValueError) as torch_error:
        signxai_captum.explain(torch_cnn(), x, "gradient")
    with pytest.raises(ValueError) as tf_error:
        signxai_tf.explain(keras_cnn(), np.transpose(x, (0, 2, 3, 1)), "gradient")
    for error, first in ((torch_error, "(0, 0, 0, 1)"), (tf_error, "(0, 0, 1, 0)")):
        message = str(error.value)
        assert message.startswith("x has 2 non-finite values (1 NaN, 1 inf) among 384; ")
        assert f"the first at index {first} (inf)" in message
    torch_tail = str(torch_error.value).split("(inf)")[1]
    tf_tail = str(tf_error.value).split("(inf)")[1]
    assert torch_tail == tf_tail
