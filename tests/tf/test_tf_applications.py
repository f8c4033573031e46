"""Every name of the table on keras.applications VGG16 and ResNet50 (weights=None): finite maps, and a
sample's map in a batch equals its map alone.

The models are small (32×32 inputs, batch 2). Each name is run with ``tf.function``s executed
eagerly, which gives the same numbers (checked below) without tracing one graph per method and
model (tracing ResNet50 128 times would take minutes).
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from shared_spec import list_methods, parse  # noqa: E402
from signxai_tf import explain  # noqa: E402

pytestmark = pytest.mark.slow

NAMES = list_methods(include_deprecated=False)
LRP_NAMES = [n for n in NAMES if parse(n).family == "lrp"]
#: presets whose ill-conditioned denominators amplify the round-off of kernels that differ between batch
#: sizes, with the tolerance of "a sample alone = the sample in a batch of two" (of the max). Measured on
#: an AMD EPYC (TF 2.21, oneDNN off), float32: lrp_gamma 3.9e-3, lrp_flat 7.9e-4, lrp_w_square 1.6e-3
#: (up to 9e-2 for flat/w_square on another machine; lrp_z, lrp_epsilon_0_1 2e-6). It is round-off: the
#: same comparison on a float64 ResNet50 gives 1.2e-10, 1.7e-11 and 2.1e-11, and the same sample twice
#: gives exactly the batch's map; so these names are checked for mixing at equal batch size instead
ROUND_OFF_AMPLIFIED = {"gamma": 3e-2, "flat": 0.2, "w_square": 0.2}
APPLICATIONS = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}


@functools.lru_cache(maxsize=None)
def application(name: str):
    keras.utils.set_random_seed(0)
    model = APPLICATIONS[name](weights=None, input_shape=(32, 32, 3), classes=10)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32) * 50
    return model, x


@contextlib.contextmanager
def eager_functions():
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(previous)


def test_the_list_is_complete():
    assert len(LRP_NAMES) == 134  # 138 LRP names in the table, 4 of them deprecated spellings
    assert len(_one_per_rule_set(LRP_NAMES)) == 44


def refused(app: str, name: str) -> bool:
    """Time-series Grad-CAM on images, and VGG16's Grad-CAM layer on ResNet50, must be refused."""
    spec = parse(name)
    return spec.family == "grad_cam_timeseries" or (app == "resnet50" and spec.model == "VGG16ILSVRC" and not spec.is_lrp)




def _one_per_rule_set(names: list[str]) -> list[str]:
    """The first name of each (prefix, preset) pair: every rule combination once (the other names only
    change a parameter value; every LRP name runs in the parity suite and on torchvision's ResNet-18)."""
    seen: dict[tuple, str] = {}
    for name in names:
        spec = parse(name)
        seen.setdefault((spec.prefix, spec.preset), name)
    return list(seen.values())


#: on ResNet50 (batch norms, residual sums) every gradient-family name and every LRP rule combination; on
#: VGG16 the gradient family (its LRP names run in tests/tf/test_lrp_tf.py::test_vgg16_names_and_identity)
GRADIENT_NAMES = [name for name in NAMES if name not in LRP_NAMES]
SWEEP = (
    [("resnet50", name) for name in GRADIENT_NAMES + _one_per_rule_set(LRP_NAMES)]
    + [("vgg16", name) for name in GRADIENT_NAMES]
)


@pytest.mark.parametrize("app, name", SWEEP)
def test_every_name_gives_finite_maps(app, name):
    model, x = application(app)
    # few samples/steps: the sweep checks that each name runs and its batch = per-sample property,
    # not the quadrature (tests/tf/test_gradient_family_tf.py checks that against a literal loop)
    family = parse(name).family
    params = {"seed": 0, "samples": 3} if family in ("smoothgrad", "vargrad") else {}
    if family == "integrated_gradients":
        params = {"steps": 3}
    with eager_functions(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if refused(app, name):
            with pytest.raises(ValueError):
                explain(model, x, name, target=[1, 7], **params)
            return
        got = explain(model, x, name, target=[1, 7], **params)
        alone = explain(model, x[1:], name, target=7, **params)
        amplified = parse(name).family == "lrp" and parse(name).preset in ROUND_OFF_AMPLIFIED
        if amplified:
            twice = explain(model, np.concatenate([x[1:], x[1:]]), name, target=[7, 7], **params)
    assert got.shape == x.shape and np.isfinite(got).all(), name
    # batch = per sample: the second sample's map is the map of that sample alone (for SmoothGrad and
    # VarGrad the same seed draws the same noise for a sample whatever its batch)
    # float32 round-off, amplified by ill-conditioned denominators (small epsilon on ResNet50),
    # stays below ~1e-3 of the max (gamma, flat, w_square: see ROUND_OFF_AMPLIFIED); mixing samples would be O(1)
    scale = max(np.abs(alone).max(), 1e-30)
    if amplified:
        # at equal batch size the sample's map does not depend on the other sample (mixing would be O(1))
        np.testing.assert_allclose(got[1:], twice[:1], rtol=0, atol=1e-5 * scale, err_msg=name)
        np.testing.assert_allclose(twice[1:], twice[:1], rtol=0, atol=1e-5 * scale, err_msg=name)
    tolerance = ROUND_OFF_AMPLIFIED[parse(name).preset] if amplified else 2e-3
    np.testing.assert_allclose(got[1:], alone, rtol=0, atol=tolerance * scale, err_msg=name)
    # a Grad-CAM map may be all zero (ReLU of a negative map), every other map may not
    assert np.abs(got).sum() > 0 or "grad_cam" in name, name


@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_eager_and_compiled_runs_agree(app):
    model, x = application(app)
    compiled = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    with eager_functions():
        eager = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    np.testing.assert_allclose(eager, compiled, rtol=1e-6, atol=1e-9 * np.abs(compiled).max())


# ------------------------------------------------- issue 10: the new layer kinds on keras.applications models

NEW_KIND_APPLICATIONS = {
    # name: (builder, input size) -- one model per new layer kind, at the smallest input it accepts
    "mobilenet_v2": (keras.applications.MobileNetV2, 32),  # depthwise convs, ReLU6
    "mobilenet_v3_small": (keras.applications.MobileNetV3Small, 32),  # keras.ops arithmetic, hard-swish, SE gates
    "efficientnet_b0": (keras.applications.EfficientNetB0, 32),  # Rescaling/Normalization, SE Multiply, swish
    "xception": (keras.applications.Xception, 71),  # separable convs
    "convnext_tiny": (keras.applications.ConvNeXtTiny, 32),  # LayerNormalization, LayerScale, grouped convs, ops add
}
NEW_KIND_METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrpsign_sequential_composite_a"]


@functools.lru_cache(maxsize=None)
def new_kind_application(name: str):
    """The model (float64, logits, random weights: every bias, BN shift and mean is zero) and two images."""
    builder, size = NEW_KIND_APPLICATIONS[name]
    keras.utils.set_random_seed(0)
    previous, previous_policy = keras.config.floatx(), keras.config.dtype_policy()
    # LRP-Z on random-weight residual nets cancels heavily: check sums in float64. Both the floatx and the
    # global dtype policy are set: Keras fixes the policy from floatx once any layer has been built.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        model = builder(weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None)
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(previous_policy)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, size, size, 3))
    _unit_scale_batch_norms(model, x)
    return model, x


def _unit_scale_batch_norms(model, x):
    """Set each BatchNormalization's moving variance to its input's mean square on ``x`` (mean stays 0).

    With random weights the activations of these deep nets shrink layer by layer (logits ~1e-11, float32
    underflow in the relevance); this data-dependent scaling keeps them O(1) and keeps every BN shift zero,
    so LRP-Z still conserves f_c(x) exactly.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        return
    probe = tf.function(keras.Model(model.inputs, [bn.input for bn in bns]))  # one trace, then fast calls
    x = tf.constant(x)
    for i, bn in enumerate(bns):
        a = probe(x)[i].numpy()
        axis = bn.axis if isinstance(bn.axis, int) else bn.axis[0]
        axes = tuple(d for d in range(a.ndim) if d != axis % a.ndim)
        square = np.maximum((a.astype(np.float64) ** 2).mean(axis=axes) - bn.epsilon, 1e-6)
        bn.moving_variance.assign(square.astype(bn.moving_variance.dtype))


@pytest.mark.parametrize("app", sorted(NEW_KIND_APPLICATIONS))
def test_new_layer_kinds_give_finite_maps_and_conserve(app):
    """The representative LRP set gives finite, non-zero maps; LRP-Z conserves f_c(x) exactly (all biases,
    BN shifts and means are zero at initialisation; activations, gates, affine and norm layers pass relevance;
    Add/mean/pooling are Z rules), and the batch equals the samples run alone."""
    model, x = new_kind_application(app)
    targets = [1, 7]
    maps = {}
    with eager_functions(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in NEW_KIND_METHODS:
            maps[name] = got = explain(model, x, name, target=targets)
            assert got.shape == x.shape and np.isfinite(got).all() and np.abs(got).sum() > 0, (app, name)
        relevance = explain(model, x, "lrp_z", target=targets)
        batch = maps["lrpsign_sequential_composite_a"]
        alone = np.concatenate([explain(model, x[i:i + 1], "lrpsign_sequential_composite_a", target=[t])
                                for i, t in enumerate(targets)])
    logits = model(x).numpy()
    assert relevance.dtype == np.float64
    sums = relevance.reshape(2, -1).sum(1)
    np.testing.assert_allclose(sums, logits[[0, 1], targets], rtol=1e-6, atol=1e-7 * np.abs(relevance).sum())
    np.testing.assert_allclose(batch, alone, rtol=1e-6, atol=1e-9 * np.abs(batch).max())


def test_new_layer_kinds_compiled_equals_eager():
    model, x = new_kind_application("mobilenet_v3_small")
    compiled = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    with eager_functions():
        eager = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    np.testing.assert_allclose(eager, compiled, rtol=1e-6, atol=1e-9 * np.abs(compiled).max())
