"""The same map in both frameworks on converted keras.applications models (docs/semantics.md §5, issue 10).

For a representative subset of keras.applications CNNs (random weights, smallest inputs, batch 2
with explicit targets) converted with ``keras_to_torch``: ``signxai_tf.explain`` on the Keras
model and ``signxai_captum.explain`` on its twin must agree to 1e-4 of the map's max |value|
(float32) for the LRP presets and the gradient family. The subset covers depthwise and separable
convolutions, squeeze-excitation gates (sigmoid and the written-out hard sigmoid), Rescaling /
Normalization, keras.ops constant arithmetic, swish / hard-swish / GELU, LayerNormalization,
ConvNeXt's layer scale and pointwise Dense, and NASNet's cropping and 'same' pooling.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402
from parity_models import APPLICATION_SIZES, keras_application, parity_input  # noqa: E402
from test_parity import assert_same, run_both  # noqa: E402,F401  (the helpers of the parity suite)

import signxai_captum  # noqa: E402
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402

TARGETS = [3, 7]
MODELS = ["MobileNetV2", "MobileNetV3Small", "EfficientNetB0", "EfficientNetV2B0", "NASNetMobile", "ConvNeXtTiny"]
SLOW = ("NASNetMobile", "ConvNeXtTiny")  # the slowest to build and explain
#: SIGNXAI_FULL_PARITY=1 runs every model x method (about 15 minutes on 2 cores); by default the CI
#: subset below (under 3 minutes)
FULL = os.environ.get("SIGNXAI_FULL_PARITY", "") not in ("", "0")
GRADIENT_FAMILY = ["gradient", "gradient_x_sign", "guided_backprop", "integrated_gradients_steps_4", "grad_cam"]
LRP = [
    "lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_b",
    "lrpz_epsilon_0_1", "w2lrp_epsilon_0_1", "flatlrp_epsilon_0_1",
]
# zblrp_epsilon_0_1_VGG16ILSVRC is left out: its bounds are VGG16's ImageNet preprocessing, which
# means nothing for these models (and their inputs) and is exercised by the VGG16 tests.


# Cases where the float32 maps of *both* frameworks differ from a float64 computation of the same
# map by more than the tolerance: the map is ill-conditioned in float32 (relevance through sums
# whose addends nearly cancel, AlphaBeta's reference form with near-zero z+), so the two float32
# maps cannot agree to 1e-4 either. Measured (relative to max |map|): MobileNetV2 lrp_alpha_1_beta_0
# TF 6.7e-4 / torch 2.0e-4 from float64 (TF vs torch 4.7e-4); lrp_sequential_composite_b 7.4e-4 /
# 1.9e-4 (5.5e-4); ConvNeXtTiny lrp_epsilon_0_1 TF 5.5e-4 / torch 1.6e-3 (1.6e-3; every LRP preset
# 7e-4 .. 3.5e-3); EfficientNetV2B0 lrp_sequential_composite_b (max |map| 1e-12) TF 9.4e-5 / torch
# 2.8e-5 (1.1e-4). NASNetMobile's AlphaBeta cases (TF vs torch 1.8e-4 / 3.4e-3 of max |map| 5e-5 /
# 36) were not measured against float64. float64 = the torch engine on the converted model in
# float64; on float64 twins (keras.config.set_floatx) TF and torch agree to 8e-6 / 3e-5 on ConvNeXt
# (the converter rounds constants such as Normalization's mean to float32). Not a converter bug.
ILL_CONDITIONED = {
    ("MobileNetV2", "lrp_alpha_1_beta_0"), ("MobileNetV2", "lrp_sequential_composite_b"),
    ("EfficientNetV2B0", "lrp_sequential_composite_b"),
    ("NASNetMobile", "lrp_alpha_1_beta_0"), ("NASNetMobile", "lrp_sequential_composite_b"),
} | {("ConvNeXtTiny", method) for method in LRP}

# the CI subset: every layer kind of the converter on the relevance path at least once
CI_GRADIENT = {
    "MobileNetV3Small": GRADIENT_FAMILY,
    "EfficientNetB0": ["gradient_x_sign", "guided_backprop"],
    "MobileNetV2": ["gradient", "grad_cam"],
    "EfficientNetV2B0": ["gradient"],
    "ConvNeXtTiny": ["gradient"],
}
CI_LRP = {
    "MobileNetV3Small": LRP,  # hard sigmoid written out (gates), ConstantOp, Rescaling, depthwise
    "EfficientNetB0": ["lrp_epsilon_0_1", "lrp_alpha_1_beta_0"],  # Normalization, swish, sigmoid gates
    "MobileNetV2": ["lrpsign_epsilon_0_1"],
}


def _cases(ci: dict, methods: list) -> list:
    cases = []
    for name in MODELS:
        for method in methods:
            if not FULL and method not in ci.get(name, ()):
                continue
            marks = [pytest.mark.slow] if name in SLOW else []
            if (name, method) in ILL_CONDITIONED:
                marks.append(pytest.mark.xfail(reason="ill-conditioned in float32 in both frameworks", strict=False))
            cases.append(pytest.param(name, method, marks=marks, id=f"{name}-{method}"))
    return cases


@functools.lru_cache(maxsize=None)
def application_twins(name: str):
    keras.utils.set_random_seed(11)
    model = keras_application(name)
    size = APPLICATION_SIZES[name]
    return model, keras_to_torch(model), parity_input((2, size, size, 3))


def explain_both(name: str, method: str):
    keras_model, torch_model, x = application_twins(name)
    tf_map = signxai_tf.explain(keras_model, x, method, target=TARGETS)
    torch_map = signxai_captum.explain(torch_model, to_channels_first(x), method, target=TARGETS)
    return np.asarray(tf_map), to_channels_last(np.asarray(torch_map))


@pytest.mark.filterwarnings("ignore")  # guided backprop warns about non-ReLU activations
@pytest.mark.parametrize("name, method", _cases(CI_GRADIENT, GRADIENT_FAMILY))
def test_gradient_family_same_map(name, method):
    tf_map, torch_map = explain_both(name, method)
    # Grad-CAM: at these input sizes the last convolution's map is 1x1, so the CAM is constant
    # (1, or 0 where the single value is negative, e.g. EfficientNetB0, ConvNeXtTiny)
    assert method == "grad_cam" or np.abs(tf_map).max() > 0
    assert_same(tf_map, torch_map)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name, method", _cases(CI_LRP, LRP))
def test_lrp_same_map(name, method):
    tf_map, torch_map = explain_both(name, method)
    assert np.abs(tf_map).max() > 0
    assert_same(tf_map, torch_map)


@pytest.mark.parametrize("name", [m for m in MODELS if FULL or m in CI_GRADIENT or m in CI_LRP])
def test_twins_compute_the_same_logits(name):
    keras_model, torch_model, x = application_twins(name)
    with torch.no_grad():
        torch_logits = torch_model(torch.tensor(to_channels_first(x))).numpy()
    tf_logits = np.asarray(keras_model(x, training=False))
    np.testing.assert_allclose(torch_logits, tf_logits, rtol=1e-5, atol=1e-5 * np.abs(tf_logits).max())
