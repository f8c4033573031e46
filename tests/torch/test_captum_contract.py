"""The Captum contract, checked for every signxai_captum gradient-family class.

One declarative list of configurations (as Captum's own test config) runs each attribution
through: target forms, tuple inputs, batch = per sample, torch.no_grad(), NoiseTunnel (three
modes), captum.metrics.sensitivity_max and infidelity, visualize_image_attr, the
``multiplies_by_inputs`` flag, and the restoration of the model after an injected exception.
Values are compared against the method itself under the reference conditions (explicit targets,
one sample at a time, gradients enabled) and against literal formulas of Captum's wrappers.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from captum.attr import NoiseTunnel  # noqa: E402
from captum.attr import visualization as viz  # noqa: E402
from captum.metrics import infidelity, sensitivity_max  # noqa: E402
from torch import nn  # noqa: E402

import signxai_captum as sc  # noqa: E402


class Faulty(nn.Module):
    """Identity that raises in its forward (or in the backward through it) at a chosen call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at: int | None = None
        self.fail_in = "forward"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_at == self.calls:
            if self.fail_in == "forward":
                raise RuntimeError("injected failure")
            if x.requires_grad:
                x = x.clone()
                x.register_hook(lambda g: (_ for _ in ()).throw(RuntimeError("injected backward failure")))
        return x


def image_cnn() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.BatchNorm2d(6), nn.Flatten(), Faulty(), nn.Linear(6 * 3 * 3, 4),
    )


def mlp() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), Faulty(), nn.Linear(10, 4))


def series_cnn() -> nn.Module:
    torch.manual_seed(13)  # a seed whose Grad-CAM maps are non-zero for every test sample and class
    return nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv1d(4, 4, 3), nn.ReLU(), nn.Flatten(),
        Faulty(), nn.Linear(4 * 8, 3),
    )


SHAPES = {image_cnn: (3, 6, 6), mlp: (6,), series_cnn: (2, 10)}


@dataclasses.dataclass(frozen=True)
class Config:
    """One attribution under test."""

    name: str
    make: Callable[[nn.Module], Any]
    model: Callable[[], nn.Module]
    multiplies_by_inputs: bool
    stochastic: bool = False  # noise drawn per input: tuple inputs are checked in the value tests


NOISE = {"samples": 4, "noise": 0.2, "seed": 0, "batch_size": 5}
IG = {"steps": 6, "batch_size": 7}

CONFIGS = [
    Config("gradient", sc.Gradient, mlp, False),
    Config("gradient_x_input", sc.GradientXInput, image_cnn, True),
    Config("gradient_x_sign_mu_0_5", lambda m: sc.GradientXSign(m, mu=0.5), image_cnn, False),
    Config("guided_backprop", sc.GuidedBackprop, image_cnn, False),
    Config("guided_backprop_x_input", sc.GuidedBackpropXInput, mlp, True),
    Config("guided_backprop_x_sign", lambda m: sc.GuidedBackpropXSign(m, mu=-0.5), image_cnn, False),
    Config("deconvnet", sc.Deconvnet, image_cnn, False),
    Config("deconvnet_x_input", sc.DeconvnetXInput, image_cnn, True),
    Config("deconvnet_x_sign", lambda m: sc.DeconvnetXSign(m, mu=0.0), mlp, False),
    Config("integrated_gradients", lambda m: sc.IntegratedGradients(m, **IG), image_cnn, True),
    Config("integrated_gradients_x_input", lambda m: sc.IntegratedGradientsXInput(m, **IG), mlp, True),
    Config("integrated_gradients_x_sign", lambda m: sc.IntegratedGradientsXSign(m, mu=0.5, **IG), image_cnn, True),
    Config("smoothgrad", lambda m: sc.SmoothGrad(m, **NOISE), image_cnn, False, True),
    Config("smoothgrad_x_input", lambda m: sc.SmoothGradXInput(m, **NOISE), mlp, True, True),
    Config("smoothgrad_x_sign", lambda m: sc.SmoothGradXSign(m, mu=0.5, **NOISE), image_cnn, False, True),
    Config("vargrad", lambda m: sc.VarGrad(m, **NOISE), image_cnn, False, True),
    Config("vargrad_x_input", lambda m: sc.VarGradXInput(m, **NOISE), image_cnn, True, True),
    Config("vargrad_x_sign", lambda m: sc.VarGradXSign(m, mu=0.5, **NOISE), mlp, False, True),
    Config("grad_cam", sc.GradCAM, image_cnn, False),
    Config("grad_cam_timeseries", sc.GradCAMTimeseries, series_cnn, False),
    Config("guided_grad_cam", sc.GuidedGradCAM, image_cnn, False),
]
IDS = [c.name for c in CONFIGS]


def batch(config: Config, n: int = 3, seed: int = 0) -> torch.Tensor:
    x = np.random.default_rng(seed).normal(size=(n, *SHAPES[config.model])).astype(np.float32)
    return torch.tensor(x)


def setup(config: Config):
    model = config.model().eval()
    return model, config.make(model)


@pytest.fixture(params=CONFIGS, ids=IDS)
def config(request) -> Config:
    return request.param


def test_is_a_captum_attribution(config):
    from captum.attr import Attribution, GradientAttribution

    model, attr = setup(config)
    assert isinstance(attr, Attribution) and isinstance(attr, GradientAttribution)
    assert attr.multiplies_by_inputs is config.multiplies_by_inputs
    assert hasattr(attr.attribute, "__wrapped__")  # NoiseTunnel calls attribute.__wrapped__


def test_target_forms(config):
    model, attr = setup(config)
    x = batch(config)
    reference = attr.attribute(x, target=torch.tensor([2, 2, 2]))
    assert reference.abs().max() > 0
    for target in (2, (2,), [2, 2, 2], torch.tensor([2, 2, 2]), torch.tensor(2), [(2,), (2,), (2,)]):
        torch.testing.assert_close(attr.attribute(x, target=target), reference, rtol=1e-6, atol=1e-9, msg=str(target))
    with torch.no_grad():
        argmax = model(x).argmax(1)
    torch.testing.assert_close(attr.attribute(x), attr.attribute(x, target=argmax), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        attr.attribute(x, target=7)


def test_batch_equals_samples_and_no_grad(config):
    model, attr = setup(config)
    x = batch(config, seed=1)
    targets = [0, 1, 2]
    full = attr.attribute(x, target=targets)
    singles = torch.cat([attr.attribute(x[i : i + 1], target=targets[i]) for i in range(3)])
    torch.testing.assert_close(full, singles, rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        under_no_grad = attr.attribute(x, target=targets)
    torch.testing.assert_close(under_no_grad, full, rtol=0, atol=0)
    assert not under_no_grad.requires_grad


class _Joined(nn.Module):
    """model(cat(a, b)) along the channel/feature axis: a two-input version of the same function."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([a, b], dim=1))


def test_tuple_inputs(config):
    model, attr = setup(config)
    x = batch(config, seed=2)
    single = attr.attribute(x, target=1)
    as_tuple = attr.attribute((x,), target=1)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 1
    torch.testing.assert_close(as_tuple[0], single, rtol=1e-6, atol=1e-9)
    if config.stochastic:
        return  # per-input noise streams: tests/test_gradient_family_torch.py checks them literally
    joined = config.make(_Joined(model))
    a, b = x[:, :1], x[:, 1:]
    parts = joined.attribute((a, b), target=1)
    assert isinstance(parts, tuple) and len(parts) == 2
    if "cam" in config.name:  # one map per sample, broadcast over each input's channels
        torch.testing.assert_close(parts[0], single[:, :1], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(parts[1], single[:, 1:], rtol=1e-5, atol=1e-7)
    else:
        torch.testing.assert_close(torch.cat(parts, dim=1), single, rtol=1e-5, atol=1e-7)


def test_additional_forward_args(config):
    class Scaled(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x, scale):
            return self.model(x) * scale[:, None]

    model, attr = setup(config)
    x = batch(config, seed=3)
    scale = torch.tensor([1.0, 2.0, 0.5])
    got = config.make(Scaled(model)).attribute(x, target=0, additional_forward_args=(scale,))
    reference = attr.attribute(x, target=0)
    if "cam" in config.name or config.name.startswith("vargrad"):
        factor = torch.ones(3) if "cam" in config.name else scale**2  # normalised / variance scales by s^2
    else:
        factor = scale
    expected = reference * factor.reshape((-1,) + (1,) * (x.ndim - 1))
    if config.name == "guided_grad_cam":
        expected = reference * scale.reshape((-1,) + (1,) * (x.ndim - 1))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel(config, nt_type):
    model, attr = setup(config)
    x = batch(config, n=2, seed=4)
    n, stdev = 3, 0.1
    torch.manual_seed(123)
    got = NoiseTunnel(attr).attribute(x, nt_type=nt_type, nt_samples=n, stdevs=stdev, target=[0, 1])
    # literal: Captum draws N(0, stdev) noise of shape (2 * n, ...) over repeat_interleave'd inputs
    torch.manual_seed(123)
    noise = torch.normal(0, torch.full((2 * n, *x.shape[1:]), stdev))
    noisy = x.repeat_interleave(n, dim=0) + noise
    per_row = attr.attribute(noisy, target=torch.tensor([0, 1]).repeat_interleave(n)).reshape(2, n, *x.shape[1:])
    mean, mean_sq = per_row.mean(1), (per_row**2).mean(1)
    expected = {"smoothgrad": mean, "smoothgrad_sq": mean_sq, "vargrad": mean_sq - mean**2}[nt_type]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)


def test_sensitivity_max(config):
    model, attr = setup(config)
    x = batch(config, n=2, seed=5)
    delta = torch.tensor(np.random.default_rng(6).uniform(-0.02, 0.02, size=x.shape).astype(np.float32))

    def perturb(inputs, perturb_radius):  # deterministic: every perturbation of sample i adds delta[i]
        return inputs + delta.repeat_interleave(inputs.shape[0] // 2, dim=0)  # rows: x0, x0, x1, x1

    got = sensitivity_max(attr.attribute, x, perturb_func=perturb, n_perturb_samples=2, target=[0, 1])
    base = attr.attribute(x, target=[0, 1])
    moved = attr.attribute(x + delta, target=[0, 1])
    expected = (moved - base).reshape(2, -1).norm(dim=1) / base.reshape(2, -1).norm(dim=1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_infidelity(config):
    model, attr = setup(config)
    x = batch(config, n=2, seed=7)
    pert = torch.tensor(np.random.default_rng(8).normal(0, 0.05, size=x.shape).astype(np.float32))

    def perturb(inputs):
        p = pert.repeat_interleave(inputs.shape[0] // 2, dim=0)
        return p, inputs - p

    attributions = attr.attribute(x, target=[1, 3 % model(x).shape[1]])
    targets = [1, 3 % model(x).shape[1]]
    got = infidelity(model, perturb, x, attributions, target=targets, n_perturb_samples=2)
    with torch.no_grad():
        rows = torch.arange(2)
        gap = model(x)[rows, targets] - model(x - pert)[rows, targets]
    expected = ((attributions * pert).reshape(2, -1).sum(1) - gap) ** 2
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-8)


def test_visualize_image_attr(config):
    if len(SHAPES[config.model]) != 3:
        pytest.skip("visualize_image_attr draws images")
    pytest.importorskip("matplotlib")
    model, attr = setup(config)
    x = batch(config, n=1, seed=9)
    a = attr.attribute(x, target=1)[0].permute(1, 2, 0).numpy()  # HWC, as Captum asks
    figure, axis = viz.visualize_image_attr(a, method="heat_map", sign="all", outlier_perc=0, use_pyplot=False)
    summed = a.sum(axis=2)
    expected = np.clip(summed / np.abs(summed).max(), -1, 1)
    np.testing.assert_allclose(np.asarray(axis.images[0].get_array()), expected, rtol=1e-5, atol=1e-7)
    blended = viz.visualize_image_attr(
        a, original_image=(x[0].permute(1, 2, 0).numpy() * 0.2 + 0.5).clip(0, 1), method="blended_heat_map",
        sign="absolute_value", use_pyplot=False,
    )
    assert len(blended[1].images) == 2
    import matplotlib.pyplot as plt

    plt.close(figure)
    plt.close(blended[0])


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("where", ["first_forward", "last_forward", "backward"])
def test_model_restored_after_an_exception(config, where):
    model, attr = setup(config)
    faulty = next(m for m in model.modules() if isinstance(m, Faulty))
    x = batch(config, seed=10)
    x_copy = x.clone()
    attr.attribute(x, target=1)  # warm-up: Grad-CAM traces its layer once
    faulty.calls = 0
    attr.attribute(x, target=1)
    calls = faulty.calls
    model.train()
    model[0].weight.requires_grad_(False)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [m.training for m in model.modules()]
    faulty.calls = 0
    faulty.fail_at = 1 if where == "first_forward" else calls
    faulty.fail_in = "backward" if where == "backward" else "forward"
    with pytest.raises((RuntimeError, ValueError), match="injected"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attr.attribute(x, target=1)
    assert _hooks(model) == 0
    assert [m.training for m in model.modules()] == flags
    assert model[0].weight.requires_grad is False
    assert all(p.requires_grad for name, p in model.named_parameters() if not name.startswith("0."))
    assert all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert torch.equal(x, x_copy) and not x.requires_grad
    # and the attribution still works afterwards
    faulty.fail_at = None
    model.eval()
    torch.testing.assert_close(attr.attribute(x, target=1), config.make(model).attribute(x, target=1))
