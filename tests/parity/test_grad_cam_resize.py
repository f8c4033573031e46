"""Grad-CAM resizing as the reference computes it, in both packages (docs/semantics.md §3).

- 1-D (``grad_cam_timeseries``, and ``grad_cam`` on time series): linear interpolation with aligned
  end points, output sample t at CAM position t·(n−1)/(T−1), i.e. ``np.interp`` over
  ``linspace(0, n−1, T)``.
- 2-D: bilinear with half-pixel centres (as cv2.resize), source positions clamped at the edges.
- The VGG16 suffix finds its layer in torchvision's layout and in a Keras VGG16 converted with
  ``keras_to_torch``; a functional activation after the Grad-CAM convolution of a PyTorch model
  gets one warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import signxai_captum  # noqa: E402
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402
from signxai_captum._methods.grad_cam import GradCAM  # noqa: E402
from signxai_captum._methods.grad_cam import resize_cam as resize_torch  # noqa: E402
from signxai_tf._methods.grad_cam import resize_cam as resize_tf  # noqa: E402
from torch_test_models import FunctionalReLUNet  # noqa: E402


# -- literal references ------------------------------------------------------------------------------
def interp_1d(cam: np.ndarray, size: int) -> np.ndarray:
    """The reference's 1-D resize: np.interp over linspace(0, n-1, size), per sample."""
    n = cam.shape[-1]
    return np.stack([np.interp(np.linspace(0, n - 1, size), np.arange(n), row) for row in cam])


def half_pixel_axis(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Linear interpolation with half-pixel centres along ``axis``, source clamped to [0, n-1]."""
    n = values.shape[axis]
    src = np.clip((np.arange(size) + 0.5) * n / size - 0.5, 0.0, n - 1)
    lower = np.minimum(np.floor(src).astype(int), max(n - 2, 0))
    frac = src - lower
    upper = np.minimum(lower + 1, n - 1)
    shape = [1] * values.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    return np.take(values, lower, axis=axis) * (1 - frac) + np.take(values, upper, axis=axis) * frac


def bilinear_half_pixel(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w) -> (N, H, W), separable half-pixel bilinear (cv2.resize's INTER_LINEAR)."""
    return half_pixel_axis(half_pixel_axis(cam, size[0], 1), size[1], 2)


def keras_layer_cam(model: keras.Model, x: np.ndarray, targets, layer_name: str) -> np.ndarray:
    """Grad-CAM at the layer's resolution, (N, *space), normalised: GradientTape + numpy."""
    features = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, model.outputs[0]])
    cams = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            act, logits = features(x[i : i + 1], training=False)
            logit = logits[0, int(targets[i])]
        grad = tape.gradient(logit, act).numpy()[0].astype(np.float64)
        act = act.numpy()[0].astype(np.float64)
        cam = np.maximum((act * grad.mean(axis=tuple(range(act.ndim - 1)))).sum(axis=-1), 0.0)
        cams.append(cam / cam.max() if cam.max() > 0 else cam)
    return np.stack(cams)


# -- the resize functions --------------------------------------------------------------------------------
# CAM [0, 1, 0.5] (n = 3) to T = 5: positions t * (3-1)/(5-1) = 0, 0.5, 1, 1.5, 2
# -> [0, (0+1)/2, 1, (1+0.5)/2, 0.5] = [0, 0.5, 1, 0.75, 0.5]
CAM_1D = np.array([[0.0, 1.0, 0.5]])
EXPECTED_1D = np.array([[0.0, 0.5, 1.0, 0.75, 0.5]])

# CAM [[0, 1], [0.5, 0.25]] (2x2) to 4x4, half-pixel centres: output j samples the source at
# (j + 0.5) * 2/4 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]: 0, 0.25, 0.75, 1, so along
# each axis the output is [a, 0.75a + 0.25b, 0.25a + 0.75b, b] of the two source values a, b.
# Rows first: [0, 1]; [0.125, 0.8125]; [0.375, 0.4375]; [0.5, 0.25]; then each row along the columns.
CAM_2D = np.array([[[0.0, 1.0], [0.5, 0.25]]])
EXPECTED_2D = np.array([[
    [0.0, 0.25, 0.75, 1.0],
    [0.125, 0.296875, 0.640625, 0.8125],
    [0.375, 0.390625, 0.421875, 0.4375],
    [0.5, 0.4375, 0.3125, 0.25],
]])


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_resize_functions_by_hand(framework):
    if framework == "torch":
        def resize(cam, size):
            return resize_torch(torch.tensor(cam, dtype=torch.float64), size).numpy()
    else:
        def resize(cam, size):
            return resize_tf(tf.constant(cam, dtype=tf.float64), size).numpy()

    np.testing.assert_allclose(resize(CAM_1D, (5,)), EXPECTED_1D, atol=1e-12)
    np.testing.assert_allclose(interp_1d(CAM_1D, 5), EXPECTED_1D, atol=1e-12)
    np.testing.assert_allclose(resize(CAM_2D, (4, 4)), EXPECTED_2D, atol=1e-12)
    np.testing.assert_allclose(bilinear_half_pixel(CAM_2D, (4, 4)), EXPECTED_2D, atol=1e-12)
    rng = np.random.default_rng(0)
    for n, size in [(8, 23), (7, 7), (20, 6), (2, 3), (5, 1)]:  # up, same, down, T == 1
        cam = rng.random((3, n))
        np.testing.assert_allclose(resize(cam, (size,)), interp_1d(cam, size), atol=1e-12)
    # n == 1: the constant; T == 1: the first value (np.interp at linspace(0, n-1, 1) = [0])
    np.testing.assert_allclose(resize(np.array([[0.3], [0.0]]), (4,)), [[0.3] * 4, [0.0] * 4], atol=1e-12)
    np.testing.assert_allclose(resize(np.array([[0.2, 1.0, 0.4]]), (1,)), [[0.2]], atol=1e-12)
    tolerance = 1e-12 if framework == "torch" else 1e-6  # tf.image.resize computes bilinear in float32
    for shape, size in [((3, 5), (9, 13)), ((6, 4), (3, 2)), ((4, 7), (5, 11))]:
        cam = rng.random((2, *shape))
        np.testing.assert_allclose(resize(cam, size), bilinear_half_pixel(cam, size), atol=tolerance)


def test_torch_resize_2d_is_interpolate_half_pixel():
    cam = torch.tensor(np.random.default_rng(1).random((2, 5, 3)))
    plain = F.interpolate(cam[:, None], size=(7, 11), mode="bilinear", align_corners=False, antialias=False)[:, 0]
    np.testing.assert_array_equal(resize_torch(cam, (7, 11)).numpy(), plain.numpy())


# -- end to end on models with a known layer output ------------------------------------------------------
# Input x = [9, 9, 0, 2, 1] (T = 5); the conv (kernel [0, 0, 1], no bias, valid) outputs
# A_t = x[t + 2] = [0, 2, 1] (n = 3), ReLU keeps it, the head is mean-pool + Dense with weight 1 for
# class 0, so alpha = 1/3 > 0 and CAM = A / max A = [0, 1, 0.5] -> resized to EXPECTED_1D.
SERIES = np.array([9.0, 9.0, 0.0, 2.0, 1.0], dtype=np.float32)


def torch_series_net() -> nn.Module:
    conv = nn.Conv1d(1, 1, 3, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[0.0, 0.0, 1.0]]]))
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), head).eval()


def keras_series_net() -> keras.Model:
    model = keras.Sequential([
        keras.Input((5, 1)),
        keras.layers.Conv1D(1, 3, use_bias=False, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(2, use_bias=False, name="head"),
    ])
    model.get_layer("conv").set_weights([np.array([0.0, 0.0, 1.0], np.float32).reshape(3, 1, 1)])
    model.get_layer("head").set_weights([np.array([[1.0, -1.0]], np.float32)])
    return model


def test_timeseries_end_to_end_by_hand():
    x_torch = SERIES.reshape(1, 1, 5)  # (N, C, T)
    x_tf = SERIES.reshape(1, 5, 1)  # (N, T, C)
    for name in ("grad_cam_timeseries", "grad_cam"):
        got_torch = signxai_captum.explain(torch_series_net(), x_torch, name, target=0)
        got_tf = signxai_tf.explain(keras_series_net(), x_tf, name, target=0)
        # the old half-pixel resize gave [0, 0.4, 1, 0.7, 0.5]
        np.testing.assert_allclose(got_torch[:, 0], EXPECTED_1D, atol=1e-6, err_msg=f"torch {name}")
        np.testing.assert_allclose(got_tf[..., 0], EXPECTED_1D, atol=1e-6, err_msg=f"tf {name}")


# A stride-2 conv with kernel [[0, 0], [0, 1]] on a 4x4 image outputs A[i, j] = x[2i+1, 2j+1]:
# with x[1,1] = 0, x[1,3] = 1, x[3,1] = 0.5, x[3,3] = 0.25, A = CAM_2D (max 1, alpha = 1/4 > 0),
# resized back to 4x4 = EXPECTED_2D.
IMAGE = np.full((4, 4), 7.0, dtype=np.float32)
IMAGE[1, 1], IMAGE[1, 3], IMAGE[3, 1], IMAGE[3, 3] = 0.0, 1.0, 0.5, 0.25


def test_image_end_to_end_by_hand():
    conv = nn.Conv2d(1, 1, 2, stride=2, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]]))
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    torch_model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    keras_model = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(1, 2, strides=2, use_bias=False, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, use_bias=False, name="head"),
    ])
    keras_model.get_layer("conv").set_weights([np.array([0.0, 0.0, 0.0, 1.0], np.float32).reshape(2, 2, 1, 1)])
    keras_model.get_layer("head").set_weights([np.array([[1.0, -1.0]], np.float32)])
    got_torch = signxai_captum.explain(torch_model, IMAGE.reshape(1, 1, 4, 4), "grad_cam", target=0)
    got_tf = signxai_tf.explain(keras_model, IMAGE.reshape(1, 4, 4, 1), "grad_cam", target=0)
    np.testing.assert_allclose(got_torch[:, 0], EXPECTED_2D, atol=1e-6)
    np.testing.assert_allclose(got_tf[..., 0], EXPECTED_2D, atol=1e-6)


# -- converted twins -----------------------------------------------------------------------------------
def keras_cnn1d() -> keras.Model:
    keras.utils.set_random_seed(7)
    inp = keras.Input((23, 2))
    h = keras.layers.Conv1D(4, 3, activation="relu", name="c1")(inp)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Conv1D(5, 3, activation="relu", bias_initializer="random_normal", name="c2")(h)  # n = 8
    out = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(h))
    return keras.Model(inp, out, name="cnn1d_twin")


def keras_cnn2d() -> keras.Model:
    keras.utils.set_random_seed(8)
    inp = keras.Input((9, 11, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(6, 2, bias_initializer="random_normal", name="c2")(h)  # (3, 4)
    h = keras.layers.ReLU(name="relu2")(h)
    out = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(h))
    return keras.Model(inp, out, name="cnn2d_twin")


def test_converted_twins_timeseries():
    model = keras_cnn1d()
    twin = keras_to_torch(model)
    x = np.random.default_rng(3).normal(size=(4, 23, 2)).astype(np.float32)
    targets = [0, 1, 2, 1]
    expected = interp_1d(keras_layer_cam(model, x, targets, "c2"), 23)[..., None] * np.ones((1, 1, 2))
    assert np.all(expected.reshape(4, -1).max(axis=1) > 0.1)
    for name in ("grad_cam_timeseries", "grad_cam"):
        got_tf = signxai_tf.explain(model, x, name, target=targets)
        got_torch = to_channels_last(signxai_captum.explain(twin, to_channels_first(x), name, target=targets))
        np.testing.assert_allclose(got_tf, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(got_torch, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(got_torch, got_tf, rtol=1e-5, atol=1e-6, err_msg=name)


def test_converted_twins_images():
    model = keras_cnn2d()
    twin = keras_to_torch(model)
    x = np.random.default_rng(4).normal(size=(3, 9, 11, 3)).astype(np.float32)
    per_class = [keras_layer_cam(model, x, [c] * 3, "relu2").reshape(3, -1).max(axis=1) for c in range(3)]
    targets = [next(c for c in (2, 0, 1) if per_class[c][i] > 0.1) for i in range(3)]  # classes with a non-zero CAM
    expected = bilinear_half_pixel(keras_layer_cam(model, x, targets, "relu2"), (9, 11))[..., None] * np.ones((1, 1, 1, 3))
    assert np.all(expected.reshape(3, -1).max(axis=1) > 0.1)
    got_tf = signxai_tf.explain(model, x, "grad_cam", target=targets)
    got_torch = to_channels_last(signxai_captum.explain(twin, to_channels_first(x), "grad_cam", target=targets))
    np.testing.assert_allclose(got_tf, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_torch, expected, rtol=1e-5, atol=1e-6)


# -- VGG16 suffix ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_vgg16_suffix_on_a_converted_keras_vgg16():
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3))
    twin = keras_to_torch(vgg)
    x = (np.random.default_rng(5).normal(size=(2, 32, 32, 3)) * 50.0).astype(np.float32)
    targets = [1, 7]  # classes whose CAM is non-zero for both samples (seed 0)
    cam_tf = signxai_tf.explain(vgg, x, "grad_cam_VGG16ILSVRC", target=targets)
    cam_torch = to_channels_last(signxai_captum.explain(twin, to_channels_first(x), "grad_cam_VGG16ILSVRC", target=targets))
    assert np.all(cam_tf.reshape(2, -1).max(axis=1) > 0.5)
    np.testing.assert_allclose(cam_torch, cam_tf, rtol=0, atol=1e-4 * np.abs(cam_tf).max())
    attr = signxai_captum.attribution_for(twin, "grad_cam_VGG16ILSVRC")
    assert attr.layer == "layers.block5_conv3.0"  # the converted block5_conv3 (conv + fused ReLU)
    assert attr.resolved_layer((torch.tensor(to_channels_first(x)),)) == "layers.block5_conv3.1"  # its ReLU
    guided_tf = signxai_tf.explain(vgg, x, "guided_grad_cam_VGG16ILSVRC", target=targets)
    guided_torch = to_channels_last(
        signxai_captum.explain(twin, to_channels_first(x), "guided_grad_cam_VGG16ILSVRC", target=targets)
    )
    np.testing.assert_allclose(guided_torch, guided_tf, rtol=0, atol=1e-4 * np.abs(guided_tf).max())


@pytest.mark.slow
def test_vgg16_suffix_on_torchvision_vgg16():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    x = np.random.default_rng(6).normal(size=(2, 3, 32, 32)).astype(np.float32)
    got = signxai_captum.explain(model, x, "grad_cam_VGG16ILSVRC", target=[1, 2])
    direct = GradCAM(model, layer="features.28").attribute(torch.tensor(x), target=[1, 2]).numpy()
    np.testing.assert_array_equal(got, direct)
    assert signxai_captum.attribution_for(model, "grad_cam_VGG16ILSVRC").layer == "features.28"


def test_vgg16_suffix_error_names_the_candidates():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(ValueError, match=r"'features\.28'.*'block5_conv3'.*missing"):
        signxai_captum.explain(model, np.zeros((1, 3, 6, 6), np.float32), "grad_cam_VGG16ILSVRC")


def test_vgg16_suffix_takes_a_module_named_block5_conv3():
    class Ported(nn.Module):  # a hand-ported VGG tail with Keras' names
        def __init__(self) -> None:
            super().__init__()
            self.block5_conv3 = nn.Conv2d(3, 4, 3)
            self.relu = nn.ReLU()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.relu(self.block5_conv3(x)).mean(dim=(2, 3)))

    assert signxai_captum.attribution_for(Ported(), "grad_cam_VGG16ILSVRC").layer == "block5_conv3"


# -- a functional activation after the Grad-CAM convolution ---------------------------------------------------
def pre_activation_cam(model: FunctionalReLUNet, x: torch.Tensor, targets: list[int]) -> np.ndarray:
    """Grad-CAM on the conv's own output (before F.relu), by autograd, resized half-pixel."""
    a = model.conv(x).detach().requires_grad_(True)
    logits = model.fc(F.relu(a).mean(dim=(2, 3)))
    (grad,) = torch.autograd.grad(logits[torch.arange(len(x)), torch.tensor(targets)].sum(), a)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)).detach().numpy().astype(np.float64)
    peak = cam.reshape(len(cam), -1).max(axis=1)[:, None, None]
    cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1.0), cam)
    resized = bilinear_half_pixel(cam, tuple(x.shape[2:]))
    return np.broadcast_to(resized[:, None], x.shape)


def test_functional_relu_after_the_conv_warns_once():
    model = FunctionalReLUNet().eval()
    x = torch.tensor(np.random.default_rng(9).normal(size=(3, 2, 7, 7)).astype(np.float32))
    targets = [0, 1, 3]
    attr = GradCAM(model)
    with pytest.warns(UserWarning) as record:
        got = attr.attribute(x, target=targets).numpy()
        again = attr.attribute(x, target=targets).numpy()
    messages = [str(w.message) for w in record if "functional" in str(w.message)]
    assert len(messages) == 1, messages
    (message,) = messages
    assert "'conv'" in message and "before" in message and "nn.ReLU" in message and "layer=" in message
    expected = pre_activation_cam(model, x, targets)
    assert expected.max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again, got)
    with pytest.warns(UserWarning, match="functional"):
        signxai_captum.explain(model, x.numpy(), "grad_cam", target=targets)


def test_no_functional_warning_for_modules_or_the_literal_layer():
    model = FunctionalReLUNet().eval()
    x = torch.tensor(np.random.default_rng(9).normal(size=(1, 2, 7, 7)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GradCAM(model, through_activation=False).attribute(x, target=0)  # the conv's output, asked for
        module_net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4))
        signxai_captum.explain(module_net, x.numpy(), "grad_cam", target=0)
        bn_net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4))
        signxai_captum.explain(bn_net.eval(), x.numpy(), "grad_cam", target=0)
