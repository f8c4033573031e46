"""signxai_captum gradient family (docs/semantics.md §3): values against independent computations.

References: Captum's GuidedBackprop / Deconvolution / LayerGradCam, a model whose ReLUs are
replaced by a module with its own autograd.Function, literal per-sample loops of the IG
quadrature and of SmoothGrad/VarGrad with noise drawn here, and a numpy bilinear resize.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from captum.attr import Deconvolution, LayerGradCam  # noqa: E402
from captum.attr import GuidedBackprop as CaptumGuidedBackprop  # noqa: E402
from torch import nn  # noqa: E402

import signxai_captum as sc  # noqa: E402
from signxai_captum import explain  # noqa: E402

SIGN = {  # multiplier of a name suffix, written out from docs/semantics.md §1
    "": lambda x: 1.0,
    "_x_input": lambda x: x,
    "_x_sign": lambda x: np.where(x >= 0, 1.0, -1.0),
    "_x_sign_mu_0_5": lambda x: np.where(x >= 0.5, 1.0, -1.0),
    "_x_sign_mu_neg_0_5": lambda x: np.where(x >= -0.5, 1.0, -1.0),
}


def cnn(inplace: bool = False, seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=inplace), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3), nn.ReLU(inplace=inplace), nn.Flatten(), nn.Linear(8 * 2 * 2, 16),
        nn.ReLU(inplace=inplace), nn.Linear(16, 5),
    )


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))


def smooth_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 12), nn.Softplus(), nn.Linear(12, 4))


def ts_cnn(seed: int = 2) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(2, 4, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 6, 3), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, 3),
    )


def data(shape, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    x.reshape(-1)[::11] = 0.0
    return x


def grad_at(model: nn.Module, x: np.ndarray, target: int) -> np.ndarray:
    """Plain autograd: d logit_target / d x for one sample (no batch axis)."""
    xi = torch.tensor(x[None], requires_grad=True)
    (g,) = torch.autograd.grad(model(xi)[0, target], xi)
    return g[0].numpy().astype(np.float64)


# --------------------------------------------------------------------------------------------
# guided backprop and deconvnet


class _LiteralReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, guided):
        ctx.save_for_backward(z)
        ctx.guided = guided
        return torch.relu(z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        out = torch.where(g > 0, g, torch.zeros_like(g))
        if ctx.guided:
            out = torch.where(z > 0, out, torch.zeros_like(out))
        return out, None


class _LiteralReLU(nn.Module):
    def __init__(self, guided):
        super().__init__()
        self.guided = guided

    def forward(self, z):
        return _LiteralReLUFunction.apply(z, self.guided)


def with_literal_relus(model: nn.Module, guided: bool) -> nn.Module:
    """A deep copy of ``model`` whose nn.ReLU modules compute the defined signal by replacement."""
    twin = copy.deepcopy(model)
    for name, module in list(twin.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(module, child_name, _LiteralReLU(guided))
    return twin


@pytest.mark.parametrize("family, captum_cls", [("guided_backprop", CaptumGuidedBackprop), ("deconvnet", Deconvolution)])
@pytest.mark.parametrize("builder, shape", [(mlp, (4, 6)), (cnn, (3, 3, 8, 8))])
def test_modified_relu_against_captum(family, captum_cls, builder, shape):
    model = builder().eval()
    x = data(shape)
    targets = [i % 4 for i in range(shape[0])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum's own deprecation notes
        reference = captum_cls(model).attribute(torch.tensor(x), target=torch.tensor(targets)).numpy()
    assert np.abs(reference).max() > 0
    for suffix, factor in SIGN.items():
        got = explain(model, x, family + suffix, target=targets)
        np.testing.assert_allclose(got, reference * factor(x), rtol=1e-5, atol=1e-7, err_msg=family + suffix)


@pytest.mark.parametrize("guided, family", [(True, "guided_backprop"), (False, "deconvnet")])
def test_modified_relu_inplace_and_literal_replacement(guided, family):
    """ReLU(inplace=True) works, and the hooks equal a model whose ReLUs are replaced."""
    model = cnn(inplace=True).eval()
    x = data((3, 3, 8, 8), seed=4)
    literal = with_literal_relus(model, guided)
    expected = np.stack([grad_at(literal, x[i], 2) for i in range(3)])
    np.testing.assert_allclose(explain(model, x, family, target=2), expected, rtol=1e-5, atol=1e-7)
    # and they differ from the plain gradient (the modification matters on this model)
    assert not np.allclose(explain(model, x, "gradient", target=2), expected, atol=1e-6)


@pytest.mark.parametrize("guided, family", [(True, "guided_backprop"), (False, "deconvnet")])
def test_modified_relu_inplace_on_the_input_leaves_the_input_alone(guided, family):
    """An in-place ReLU applied to the model's input itself works on a copy: the caller's tensor keeps its values."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(6, 4), nn.ReLU(inplace=True), nn.Linear(4, 3)).eval()
    x = torch.tensor(data((3, 6), seed=6))
    before = x.clone()
    assert (before < 0).any()
    got = getattr(sc, "GuidedBackprop" if guided else "Deconvnet")(model).attribute(x, target=1)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    literal = with_literal_relus(model, guided)
    expected = np.stack([grad_at(literal, before.numpy()[i], 1) for i in range(3)])
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-5, atol=1e-7)


def test_guided_backprop_hand_derived():
    """f(x) = w2 . relu(W1 x): guided = W1^T (1[z>0] max(w2, 0)), deconvnet = W1^T max(w2, 0)."""
    model = nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 1.0], [1.0, -3.0]]))
        model[2].weight.copy_(torch.tensor([[2.0, -1.0, 5.0]]))
    x = np.array([[1.0, 1.0]], dtype=np.float32)  # z = (3, 0, -2): only unit 0 is active
    np.testing.assert_allclose(explain(model, x, "gradient", target=0), [[2.0, 4.0]])
    np.testing.assert_allclose(explain(model, x, "guided_backprop", target=0), [[2.0, 4.0]])
    # deconvnet passes max(g, 0) = (2, 0, 5) through every unit: W1^T (2, 0, 5) = (7, -11)
    np.testing.assert_allclose(explain(model, x, "deconvnet", target=0), [[7.0, -11.0]])


@pytest.mark.slow
def test_resnet18_guided_backprop_against_captum():
    """ResNet-18 calls each block's ReLU(inplace=True) twice; Captum gives the same maps."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(2, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = CaptumGuidedBackprop(model).attribute(x, target=[3, 7])
    got = sc.GuidedBackprop(model).attribute(x, target=[3, 7])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_non_relu_activations_warn_once():
    model = smooth_mlp()
    with pytest.warns(UserWarning, match="Tanh") as record:
        attr = sc.GuidedBackprop(model)
    assert sum("nn.ReLU modules only" in str(w.message) for w in record) == 1
    x = torch.tensor(data((2, 6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no further warning per call
        got = attr.attribute(x, target=0)
    # without ReLU modules guided backprop is the plain gradient
    expected = np.stack([grad_at(model, x[i].numpy(), 0) for i in range(2)])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------
# integrated gradients


def literal_ig(model, x, baseline, steps, target):
    """The defined quadrature, one path point at a time."""
    alphas = [1.0] if steps == 1 else [k / (steps - 1) for k in range(steps)]
    total = np.zeros(x.shape)
    for a in alphas:
        point = (baseline + a * (x - baseline)).astype(np.float32)
        total += grad_at(model, point, target)
    return (x - baseline) * total / len(alphas)


@pytest.mark.parametrize("suffix", ["", "_x_input", "_x_sign_mu_0_5"])
def test_integrated_gradients_against_literal_quadrature(suffix):
    model = cnn()
    x = data((3, 3, 8, 8), seed=2)
    baseline = data((3, 8, 8), seed=9) * 0.1
    targets = [0, 3, 4]
    expected = np.stack([literal_ig(model, x[i], baseline, 7, targets[i]) for i in range(3)]) * SIGN[suffix](x)
    got = explain(model, x, "integrated_gradients" + suffix, target=targets, steps=7, baseline=baseline, batch_size=5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_one_step_and_baseline_forms():
    model = mlp()
    x = data((4, 6), seed=3)
    grads = np.stack([grad_at(model, x[i], 1) for i in range(4)])
    # steps = 1: the single point is x itself, IG = (x - 0) * grad f(x) = gradient_x_input
    np.testing.assert_allclose(explain(model, x, "integrated_gradients", target=1, steps=1), x * grads, rtol=1e-5, atol=1e-8)
    one = data((6,), seed=8)
    per_sample = explain(model, x, "integrated_gradients", target=1, steps=5, baseline=np.stack([one] * 4))
    np.testing.assert_allclose(explain(model, x, "integrated_gradients", target=1, steps=5, baseline=one), per_sample, rtol=1e-6)
    np.testing.assert_allclose(
        explain(model, x, "integrated_gradients", target=1, steps=5, baseline=0.5),
        explain(model, x, "integrated_gradients", target=1, steps=5, baseline=np.full((1, 6), 0.5, np.float32)),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="baseline has shape"):
        explain(model, x, "integrated_gradients", baseline=np.zeros((3, 6)))


def test_integrated_gradients_completeness_and_delta():
    model = smooth_mlp()
    x = torch.tensor(data((3, 6), seed=5))
    baseline = torch.full((6,), -0.25)
    ig = sc.IntegratedGradients(model, steps=400, batch_size=256)
    attr, delta = ig.attribute(x, target=2, baselines=baseline, return_convergence_delta=True)
    with torch.no_grad():
        gap = model(x)[:, 2] - model(baseline.expand(3, 6))[:, 2]
    torch.testing.assert_close(delta, attr.sum(1) - gap, rtol=0, atol=1e-6)
    # completeness: the trapezoid-like rule converges, sum IG -> f(x) - f(baseline)
    assert torch.all(delta.abs() <= 2e-3 * gap.abs().max())
    assert ig.has_convergence_delta() and not sc.IntegratedGradientsXInput(model).has_convergence_delta()
    with pytest.raises(ValueError, match="only defined for plain"):
        sc.IntegratedGradientsXSign(model).attribute(x, return_convergence_delta=True)


def test_integrated_gradients_runs_in_chunks():
    model = mlp()
    calls = []
    handle = model[0].register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    try:
        x = data((3, 6))
        a = explain(model, x, "integrated_gradients", target=0, steps=20, batch_size=16)
        b = explain(model, x, "integrated_gradients", target=0, steps=20, batch_size=1000)
    finally:
        handle.remove()
    # 60 path points: ceil(60 / 16) = 4 chunks, then 1 with batch_size 1000 (a given target needs no forward pass at x)
    assert calls == [16, 16, 16, 12, 60]
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------
# smoothgrad and vargrad


def literal_noise(seed, samples, shape_cf):
    """Standard-normal draws in channels-last order, moved to channels-first (docs/conventions.md)."""
    c, rest = shape_cf[0], tuple(shape_cf[1:])
    draws = np.random.default_rng(seed).standard_normal((samples, *rest, c), dtype=np.float32)
    return np.moveaxis(draws, -1, 1)


def literal_noisy_grads(model, x, target, samples, noise, seed, mode="relative"):
    eps = literal_noise(seed, samples, x.shape)
    sigma = noise * (x.max() - x.min()) if mode == "relative" else noise
    return np.stack([grad_at(model, (x + np.float32(sigma) * eps[k]).astype(np.float32), target) for k in range(samples)])


@pytest.mark.parametrize("suffix", ["", "_x_input", "_x_sign"])
@pytest.mark.parametrize("family", ["smoothgrad", "vargrad"])
def test_smoothgrad_vargrad_against_literal(family, suffix):
    model = cnn()
    x = data((2, 3, 8, 8), seed=6)
    targets = [1, 4]
    stat = (lambda g: g.mean(0)) if family == "smoothgrad" else (lambda g: g.var(0))  # population variance
    expected = np.stack([stat(literal_noisy_grads(model, x[i], targets[i], 6, 0.3, 11)) for i in range(2)]) * SIGN[suffix](x)
    got = explain(model, x, family + suffix, target=targets, samples=6, noise=0.3, seed=11, batch_size=5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7 * np.abs(expected).max())


def test_smoothgrad_absolute_noise_seed_and_batch_independence():
    model = mlp()
    x = data((3, 6), seed=7)
    expected = np.stack([literal_noisy_grads(model, x[i], 2, 5, 0.1, 3, mode="absolute").mean(0) for i in range(3)])
    got = explain(model, x, "smoothgrad", target=2, samples=5, noise=0.1, noise_mode="absolute", seed=3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
    again = explain(model, x, "smoothgrad", target=2, samples=5, noise=0.1, noise_mode="absolute", seed=3)
    np.testing.assert_array_equal(got, again)
    other = explain(model, x, "smoothgrad", target=2, samples=5, noise=0.1, noise_mode="absolute", seed=4)
    assert not np.allclose(got, other)
    singles = np.concatenate([explain(model, x[i : i + 1], "vargrad", target=2, samples=5, seed=3) for i in range(3)])
    np.testing.assert_allclose(explain(model, x, "vargrad", target=2, samples=5, seed=3), singles, rtol=1e-5, atol=1e-9)


def test_smoothgrad_tuple_inputs_use_seed_plus_index():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def forward(self, a, b):
            return self.net(torch.cat([a, b], dim=1))

    model = TwoInputs()
    a, b = data((2, 2), seed=1), data((2, 4), seed=2)
    got = sc.SmoothGrad(model, samples=4, noise=0.2, seed=5).attribute((torch.tensor(a), torch.tensor(b)), target=1)
    for i in range(2):
        ea, eb = literal_noise(5, 4, (2,)), literal_noise(6, 4, (4,))
        ea, eb = ea * 0.2 * (a[i].max() - a[i].min()), eb * 0.2 * (b[i].max() - b[i].min())
        joined = np.concatenate([a[i] + ea, b[i] + eb], axis=1).astype(np.float32)
        grads = np.stack([grad_at(model.net, joined[k], 1) for k in range(4)]).mean(0)
        np.testing.assert_allclose(got[0][i].numpy(), grads[:2], rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got[1][i].numpy(), grads[2:], rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------------------------
# Grad-CAM


def linear_resize(a: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Linear interpolation along one axis with half-pixel centres (source clamped at the edges)."""
    n = a.shape[axis]
    src = np.maximum((np.arange(size) + 0.5) * n / size - 0.5, 0.0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = src - i0
    shape = [1] * a.ndim
    shape[axis] = size
    w = w.reshape(shape)
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w


def aligned_linear_resize(a: np.ndarray, size: int) -> np.ndarray:
    """1-D resize of (N, n) maps as the reference: np.interp over linspace(0, n - 1, size)."""
    n = a.shape[1]
    return np.stack([np.interp(np.linspace(0, n - 1, size), np.arange(n), row) for row in a])


def expected_cam(model, layer_module, x: np.ndarray, targets) -> np.ndarray:
    """Captum's LayerGradCam (ReLU'd), then the defined max-normalisation, resize and channel broadcast.

    Resize: 1-D linear with aligned end points (np.interp); 2-D bilinear with half-pixel centres.
    """
    raw = LayerGradCam(model, layer_module).attribute(
        torch.tensor(x), target=torch.tensor(targets), relu_attributions=True
    ).detach().numpy()[:, 0].astype(np.float64)
    peak = raw.reshape(len(raw), -1).max(1).reshape((-1,) + (1,) * (raw.ndim - 1))
    cam = np.where(peak > 0, raw / np.where(peak > 0, peak, 1), raw)
    if cam.ndim == 2:
        cam = aligned_linear_resize(cam, x.shape[2])
    for axis, size in enumerate(x.shape[2:] if cam.ndim > 2 else (), start=1):
        cam = linear_resize(cam, size, axis)
    return np.broadcast_to(cam[:, None], x.shape)


def test_grad_cam_default_layer_against_captum():
    model = cnn().eval()
    x = data((3, 3, 8, 8), seed=3)
    targets = [0, 1, 2]
    attr = sc.GradCAM(model)
    got = attr.attribute(torch.tensor(x), target=targets).numpy()
    assert attr.resolved_layer((torch.tensor(x),)) == "4"  # the ReLU after the last conv "3"
    expected = expected_cam(model, model[4], x, targets)
    assert expected.max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(explain(model, x, "grad_cam", target=targets), expected, rtol=1e-5, atol=1e-6)
    literal = sc.GradCAM(model, layer="3", through_activation=False).attribute(torch.tensor(x), target=targets)
    np.testing.assert_allclose(literal.numpy(), expected_cam(model, model[3], x, targets), rtol=1e-5, atol=1e-6)


def test_grad_cam_hand_derived_1d():
    """One conv channel, linear head on the mean: alpha = w/T, CAM = relu(A) / max, linear resize."""
    conv = nn.Conv1d(1, 1, 1, bias=False)
    model = nn.Sequential(conv, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        conv.weight.fill_(1.0)
        model[3].weight.fill_(2.0)
    x = np.array([[[0.0, 2.0, -1.0, 4.0]]], dtype=np.float32)
    # A = x, alpha = 2/4 > 0, CAM = relu(0.5 x) / max = [0, 0.5, 0, 1]; same size, no resize
    np.testing.assert_allclose(explain(model, x, "grad_cam_timeseries", target=0), [[[0.0, 0.5, 0.0, 1.0]]], atol=1e-7)
    with torch.no_grad():
        model[3].weight.fill_(-2.0)  # alpha = -0.5: CAM = relu(-0.5 x) / 0.5 = [0, 0, 1, 0]
    np.testing.assert_allclose(explain(model, x, "grad_cam_timeseries", target=0), [[[0.0, 0.0, 1.0, 0.0]]], atol=1e-7)
    # a map that is zero everywhere stays zero (no division by a max of 0)
    np.testing.assert_array_equal(explain(model, np.abs(x), "grad_cam_timeseries", target=0), np.zeros((1, 1, 4), np.float32))


def test_grad_cam_timeseries_against_captum():
    model = ts_cnn().eval()
    x = data((3, 2, 20), seed=4)
    targets = [0, 1, 2]
    expected = expected_cam(model, model[4], x, targets)
    np.testing.assert_allclose(explain(model, x, "grad_cam_timeseries", target=targets), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch, channels, time"):
        explain(cnn(), data((1, 3, 8, 8)), "grad_cam_timeseries")


def test_guided_grad_cam_is_the_product_for_the_same_target():
    model = cnn().eval()
    x = data((3, 3, 8, 8), seed=8)
    with torch.no_grad():
        argmax = model(torch.tensor(x)).argmax(1).numpy()
    expected = explain(model, x, "grad_cam", target=argmax) * explain(model, x, "guided_backprop", target=argmax)
    np.testing.assert_allclose(explain(model, x, "guided_grad_cam"), expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(
        explain(model, x, "guided_grad_cam", target=2),
        explain(model, x, "grad_cam", target=2) * explain(model, x, "guided_backprop", target=2),
        rtol=1e-5, atol=1e-9,
    )


def test_grad_cam_layer_errors():
    model = cnn()
    with pytest.raises(ValueError, match="'features.28'.*missing"):
        explain(model, data((1, 3, 8, 8)), "grad_cam_VGG16ILSVRC")
    with pytest.raises(ValueError, match="layer 'conv9' not found"):
        sc.GradCAM(model, layer="conv9")
    with pytest.raises(ValueError, match="needs a convolution"):
        explain(mlp(), data((2, 6)), "grad_cam")
    with pytest.raises(ValueError, match="'6'.*\\(batch, channels"):
        sc.GradCAM(model, layer="6").attribute(torch.tensor(data((1, 3, 8, 8))))


@pytest.mark.slow
def test_vgg16_default_layer_and_suffix():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    attr = sc.GradCAM(model)
    got = attr.attribute(torch.tensor(x), target=[1, 2]).numpy()
    assert attr.resolved_layer((torch.tensor(x),)) == "features.29"  # features.28 + its ReLU
    np.testing.assert_allclose(got, expected_cam(model, model.features[29], x, [1, 2]), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(explain(model, x, "grad_cam_VGG16ILSVRC", target=[1, 2]), got)
    guided = explain(model, x, "guided_backprop", target=[1, 2])
    np.testing.assert_allclose(explain(model, x, "guided_grad_cam_VGG16ILSVRC", target=[1, 2]), got * guided, rtol=1e-5, atol=1e-12)


@pytest.mark.slow
def test_resnet18_default_layer():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    attr = sc.GradCAM(model)
    got = attr.attribute(torch.tensor(x), target=[5, 6]).numpy()
    # the last convolution feeds a BatchNorm, not an activation: its own output is used
    assert attr.resolved_layer((torch.tensor(x),)) == "layer4.1.conv2"
    np.testing.assert_allclose(got, expected_cam(model, model.layer4[1].conv2, x, [5, 6]), rtol=1e-4, atol=1e-5)
    block = sc.GradCAM(model, layer="layer4").attribute(torch.tensor(x), target=[5, 6]).numpy()
    np.testing.assert_allclose(block, expected_cam(model, model.layer4, x, [5, 6]), rtol=1e-4, atol=1e-5)


CLASS_PREFIX = {
    "guided_backprop": "GuidedBackprop", "deconvnet": "Deconvnet", "integrated_gradients": "IntegratedGradients",
    "smoothgrad": "SmoothGrad", "vargrad": "VarGrad", "grad_cam": "GradCAM",
    "grad_cam_timeseries": "GradCAMTimeseries", "guided_grad_cam": "GuidedGradCAM", "gradient": "Gradient",
}


def test_every_table_name_of_the_family_runs_through_explain():
    """Each non-LRP table name maps to its class, and a suffix multiplies the plain family's map."""
    from shared_spec import list_methods, parse

    model = cnn()
    x = data((2, 3, 8, 8), seed=12)
    plain: dict[str, np.ndarray] = {}
    for name in list_methods(include_deprecated=False):
        spec = parse(name)
        if spec.family in ("lrp", "deep_taylor", "deep_taylor_bounded", "grad_cam_timeseries") or spec.model is not None:
            continue
        extra = {"seed": 0, "samples": 3} if spec.family in ("smoothgrad", "vargrad") else {}
        extra.update({"steps": 4} if spec.family == "integrated_gradients" else {})
        attribution = sc.attribution_for(model, name, **extra)
        suffix = {None: "", "input": "XInput", "sign": "XSign"}[spec.multiplier]
        assert type(attribution).__name__ == CLASS_PREFIX[spec.family] + suffix, name
        if spec.multiplier == "sign":
            assert attribution.mu == spec.params["mu"], name
        if spec.family not in plain:
            plain[spec.family] = explain(model, x, spec.family, target=1, **extra)
        if spec.multiplier == "input":
            factor = x
        elif spec.multiplier == "sign":
            factor = np.where(x >= spec.params["mu"], 1.0, -1.0)
        else:
            factor = 1.0
        got = explain(model, x, name, target=1, **extra)
        assert np.abs(got).max() > 0, name
        np.testing.assert_allclose(got, plain[spec.family] * factor, rtol=1e-5, atol=1e-9, err_msg=name)
