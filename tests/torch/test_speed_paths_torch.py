"""The fast paths of Grad-CAM, integrated gradients and SmoothGrad/VarGrad give the literal maps.

- Grad-CAM keeps its layer resolution (one traced forward pass) per model: later ``explain``
  calls skip the trace, a changed module tree (a replaced, added or patched module, another input
  shape) is traced again, the functional-activation warning still comes once per attribution,
  and the cache does not keep a model alive.
- Integrated gradients and SmoothGrad/VarGrad run no forward pass on the clean input when the
  target is given (the class is only chosen there for ``target=None``): the number of forward
  passes is counted, the maps are compared with literal per-sample, per-point loops, and bad
  targets raise the same errors.
"""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import signxai_captum  # noqa: E402
from shared_spec import noise_scale, standard_normal_noise  # noqa: E402
from signxai_captum._methods import grad_cam as grad_cam_module  # noqa: E402
from signxai_captum._methods.grad_cam import GradCAM  # noqa: E402
from signxai_captum._methods.integrated_gradients import IntegratedGradients  # noqa: E402
from torch_test_models import FunctionalReLUNet  # noqa: E402


def convnet(seed: int = 0, softmax: bool = False) -> nn.Sequential:
    """conv(0) relu(1) conv(2) relu(3) avgpool(4) flatten(5) linear(6) [softmax(7)]."""
    torch.manual_seed(seed)
    layers = [
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(20, 6),
    ]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers).eval()


class AddOne(nn.Module):
    """Not an activation: Grad-CAM does not look through it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0


def images(n: int = 3, size: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2, size, size)).astype(np.float32)


def literal_cam(model: nn.Sequential, x: np.ndarray, targets: list[int], upto: int) -> np.ndarray:
    """Grad-CAM with A = the output of ``model[upto]``, by autograd on the split model (float64 maps)."""
    xt = torch.tensor(x)
    a = model[: upto + 1](xt).detach().requires_grad_(True)
    logits = model[upto + 1:](a)
    (grad,) = torch.autograd.grad(logits[torch.arange(len(x)), torch.tensor(targets)].sum(), a)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)).detach().double()
    peak = cam.reshape(len(cam), -1).amax(dim=1)[:, None, None]
    cam = torch.where(peak > 0, cam / torch.where(peak > 0, peak, torch.ones_like(peak)), cam)
    resized = F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)
    return np.broadcast_to(resized.numpy(), x.shape)


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the traced forward passes of the Grad-CAM layer resolution."""
    calls: list[int] = []
    original = grad_cam_module._trace

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(grad_cam_module, "_trace", counting)
    return calls


# -- Grad-CAM's layer resolution cache -----------------------------------------------------------------------
def test_grad_cam_traces_once_per_model_and_gives_the_literal_map(traces):
    model = convnet()
    x = images()
    targets = [0, 3, 5]
    first = signxai_captum.explain(model, x, "grad_cam", target=targets)
    second = signxai_captum.explain(model, x, "grad_cam", target=targets)
    assert len(traces) == 1
    expected = literal_cam(model, x, targets, upto=3)  # the last conv "2" after its ReLU "3"
    assert expected.max() > 0.5
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(second, first)
    # another sample shape is another resolution; the earlier one stays cached
    x9 = images(size=9)
    np.testing.assert_allclose(
        signxai_captum.explain(model, x9, "grad_cam", target=targets), literal_cam(model, x9, targets, upto=3),
        rtol=1e-5, atol=1e-6,
    )
    signxai_captum.explain(model, x, "grad_cam", target=targets)
    assert len(traces) == 2


def test_grad_cam_is_resolved_again_after_a_module_is_replaced(traces):
    model = convnet()
    x = images(seed=1)
    targets = [1, 2, 4]
    before = signxai_captum.explain(model, x, "grad_cam", target=targets)
    np.testing.assert_allclose(before, literal_cam(model, x, targets, upto=3), rtol=1e-5, atol=1e-6)
    model[3] = AddOne()  # no activation after the last conv any more: A is the conv's own output
    after = signxai_captum.explain(model, x, "grad_cam", target=targets)
    assert len(traces) == 2
    expected = literal_cam(model, x, targets, upto=2)
    stale = literal_cam(model, x, targets, upto=3)  # what the old path "3" would give now
    assert np.abs(expected - stale).max() > 1e-2
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)
    assert signxai_captum.attribution_for(model, "grad_cam").resolved_layer((torch.tensor(x),)) == "2"
    # a new convolution of the same type, with other weights, at the same path
    torch.manual_seed(11)
    model[2] = nn.Conv2d(4, 5, 3)
    np.testing.assert_allclose(
        signxai_captum.explain(model, x, "grad_cam", target=targets), literal_cam(model, x, targets, upto=2),
        rtol=1e-5, atol=1e-6,
    )
    assert len(traces) == 3


def test_grad_cam_is_resolved_again_after_forward_is_patched(traces):
    model = convnet()
    x = images(seed=2)
    targets = [0, 1, 2]
    signxai_captum.explain(model, x, "grad_cam", target=targets)

    def forward_without_the_last_relu(inputs: torch.Tensor) -> torch.Tensor:
        h = model[2](model[1](model[0](inputs)))
        return model[6](model[5](model[4](h)))

    model.forward = forward_without_the_last_relu  # the ReLU "3" no longer runs: A is conv "2"'s output
    got = signxai_captum.explain(model, x, "grad_cam", target=targets)
    assert len(traces) == 2
    h = model[2](model[1](model[0](torch.tensor(x)))).detach().requires_grad_(True)
    logits = model[6](model[5](model[4](h)))
    (grad,) = torch.autograd.grad(logits[torch.arange(3), torch.tensor(targets)].sum(), h)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * h).sum(dim=1)).detach()
    cam = cam / cam.reshape(3, -1).amax(dim=1)[:, None, None]
    expected = F.interpolate(cam[:, None], size=(7, 7), mode="bilinear", align_corners=False).expand(x.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_grad_cam_cache_hits_for_a_model_with_a_final_softmax(traces):
    model = convnet(softmax=True)
    x = images(seed=3)
    maps = [signxai_captum.explain(model, x, "grad_cam", target=[2, 2, 2]) for _ in range(3)]
    assert len(traces) == 1
    expected = literal_cam(model[:7], x, [2, 2, 2], upto=3)  # the logits: the softmax is skipped
    for got in maps:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_grad_cam_functional_activation_warns_once_per_attribution_also_from_the_cache(traces):
    model = FunctionalReLUNet().eval()
    x = images(seed=4)
    targets = [0, 1, 3]
    for _ in range(2):
        with pytest.warns(UserWarning, match="functional activation") as record:
            got = signxai_captum.explain(model, x, "grad_cam", target=targets)
        assert sum("functional activation" in str(w.message) for w in record) == 1
    attr = GradCAM(model)
    with pytest.warns(UserWarning, match="functional activation") as record:
        attr.attribute(torch.tensor(x), target=targets)
        again = attr.attribute(torch.tensor(x), target=targets).numpy()
    assert sum("functional activation" in str(w.message) for w in record) == 1
    assert len(traces) == 1
    # the map is taken before F.relu, from the conv's own output
    a = model.conv(torch.tensor(x)).detach().requires_grad_(True)
    logits = model.fc(F.relu(a).mean(dim=(2, 3)))
    (grad,) = torch.autograd.grad(logits[torch.arange(3), torch.tensor(targets)].sum(), a)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)).detach()
    peak = cam.reshape(3, -1).amax(dim=1)[:, None, None]
    cam = torch.where(peak > 0, cam / torch.where(peak > 0, peak, torch.ones_like(peak)), cam)
    expected = F.interpolate(cam[:, None], size=(7, 7), mode="bilinear", align_corners=False).expand(x.shape)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again, got)
    with warnings.catch_warnings():  # the literal layer: no warning, from the cache or not
        warnings.simplefilter("error")
        for _ in range(2):
            GradCAM(model, through_activation=False).attribute(torch.tensor(x), target=targets)


def test_grad_cam_cache_does_not_keep_the_model_alive():
    model = convnet(seed=5)
    signxai_captum.explain(model, images(n=1), "grad_cam", target=0)
    assert model in grad_cam_module._RESOLUTIONS
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


# -- no forward pass on the clean input for a given target --------------------------------------------------
def counting_forwards(model: nn.Module) -> list[int]:
    rows: list[int] = []
    model.register_forward_pre_hook(lambda module, args: rows.append(int(args[0].shape[0])))
    return rows


def literal_gradient(model: nn.Module, point: np.ndarray, target: int) -> np.ndarray:
    leaf = torch.tensor(point[None]).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf)[0, target], leaf)
    return grad[0].numpy().astype(np.float64)


def literal_ig(model: nn.Module, x: np.ndarray, targets: list[int], steps: int) -> np.ndarray:
    alphas = np.arange(steps) / (steps - 1)
    out = np.zeros(x.shape)
    for i, t in enumerate(targets):
        grads = [literal_gradient(model, (a * x[i]).astype(np.float32), t) for a in alphas]
        out[i] = x[i] * np.mean(grads, axis=0)
    return out


def test_integrated_gradients_runs_no_clean_forward_for_a_given_target():
    model = convnet(seed=6)
    x = images(n=2, seed=5)
    rows = counting_forwards(model)
    got = signxai_captum.explain(model, x, "integrated_gradients", target=[4, 1], steps=4, batch_size=8)
    assert rows == [8]  # the 2 x 4 path points in one chunk, nothing else
    np.testing.assert_allclose(got, literal_ig(model, x, [4, 1], 4), rtol=1e-4, atol=1e-7)
    rows.clear()
    chosen = signxai_captum.explain(model, x, "integrated_gradients", steps=4, batch_size=3)
    assert rows == [2, 3, 3, 2]  # target None: the argmax at x first, then the chunks
    argmax = model(torch.tensor(x)).argmax(1).tolist()
    np.testing.assert_allclose(chosen, literal_ig(model, x, argmax, 4), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(
        chosen, signxai_captum.explain(model, x, "integrated_gradients", target=argmax, steps=4, batch_size=3)
    )


def test_integrated_gradients_delta_with_a_given_target():
    model = convnet(seed=7)
    x = images(n=2, seed=6)
    attr, delta = IntegratedGradients(model, steps=5, batch_size=4).attribute(
        torch.tensor(x), target=3, return_convergence_delta=True
    )
    expected = literal_ig(model, x, [3, 3], 5)
    np.testing.assert_allclose(attr.numpy(), expected, rtol=1e-4, atol=1e-7)
    with torch.no_grad():
        gap = (model(torch.tensor(x))[:, 3] - model(torch.zeros(x.shape))[:, 3]).numpy()
    np.testing.assert_allclose(delta.numpy(), expected.reshape(2, -1).sum(1) - gap, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["smoothgrad", "vargrad"])
def test_noisy_gradients_run_no_clean_forward_for_a_given_target(method):
    model = convnet(seed=8)
    x = images(n=2, seed=7)
    samples, seed = 3, 4
    rows = counting_forwards(model)
    got = signxai_captum.explain(model, x, method, target=[5, 0], samples=samples, seed=seed, batch_size=4)
    assert rows == [4, 2]
    eps = standard_normal_noise(seed, samples, x.shape[1:], channels_first=True)
    sigma = noise_scale(x, 0.2, "relative")
    expected = np.zeros(x.shape)
    for i, t in enumerate([5, 0]):
        grads = np.stack([literal_gradient(model, (x[i] + sigma[i] * eps[k]).astype(np.float32), t) for k in range(samples)])
        expected[i] = grads.var(axis=0) if method == "vargrad" else grads.mean(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9)
    rows.clear()
    chosen = signxai_captum.explain(model, x, method, samples=samples, seed=seed, batch_size=4)
    assert rows == [2, 4, 2]
    argmax = model(torch.tensor(x)).argmax(1).tolist()
    np.testing.assert_array_equal(
        chosen, signxai_captum.explain(model, x, method, target=argmax, samples=samples, seed=seed, batch_size=4)
    )


@pytest.mark.parametrize("method", ["integrated_gradients", "smoothgrad"])
def test_bad_given_targets_still_raise(method):
    model = convnet(seed=9)
    x = images(n=2)
    with pytest.raises(ValueError, match="out of range"):
        signxai_captum.explain(model, x, method, target=[0, 6])
    with pytest.raises(ValueError, match="the batch has 2 samples"):
        signxai_captum.explain(model, x, method, target=[0, 1, 2])
    with pytest.raises(TypeError, match="int"):
        signxai_captum.explain(model, x, method, target=[0.5, 1])
