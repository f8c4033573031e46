"""One table, one answer: every method gives the same map in both packages (docs/semantics.md §5).

For every name of ``shared_spec.list_methods()`` and a sample of parametric names, on each
architecture of ``parity_models`` built in Keras and converted with ``keras_to_torch``:
``signxai_tf.explain`` on the Keras model and ``signxai_captum.explain`` on its twin must agree to
1e-4 of the map's max |value| (float32), stochastic methods with the same seed included. A name
a model cannot honour (Grad-CAM on a model without convolutions, the VGG16 Grad-CAM layer on
other models) must be refused by both packages with the same kind of error.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402
from parity_models import ARCHITECTURES, TARGETS, parity_input  # noqa: E402

import shared_spec  # noqa: E402
import signxai_captum  # noqa: E402
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last  # noqa: E402

TOLERANCE = 1e-4
STOCHASTIC = ("smoothgrad", "vargrad")
PARAMETRIC = [
    "lrp_epsilon_0_37",
    "lrpsign_epsilon_0_5_std_x_mu_0_5",
    "lrpz_epsilon_2_5_std_x",
    "lrp_alpha_1_5_beta_0_5",
    "lrpsign_alpha_3_beta_2_mu_neg_0_25",
    "lrp_gamma_0_5",
    "lrp_gamma_0_5_ignore_bias",
    "lrpsign_gamma_ignore_bias",
    "zblrp_epsilon_0_2",
    "flatlrp_z_plus",
    "gradient_x_sign_mu_neg_0_25",
    "guided_backprop_x_sign_mu_0_25",
    "deconvnet_x_input",
    "integrated_gradients_steps_100",
    "integrated_gradients_x_sign_steps_7",
    "smoothgrad_noise_0_3_samples_50",
    "smoothgrad_x_input_samples_8_noise_0_05",
    "vargrad_samples_12_noise_0_1",
    "vargrad_x_sign_mu_0_5",
]
# keyword overrides, including the stochastic ones with explicit seeds
OVERRIDES = [
    ("smoothgrad", {"noise_mode": "absolute", "noise": 0.5, "samples": 10, "seed": 4}),
    ("vargrad", {"seed": 9, "samples": 7, "batch_size": 3}),
    ("integrated_gradients", {"steps": 1}),
    ("lrp_epsilon_0_1", {"epsilon": 0.01}),
    ("lrpsign_z", {"mu": -0.5}),
    ("zblrp_z", {"low": -3.0, "high": 3.0}),
    ("lrp_alpha_2_beta_1", {"alpha_beta_bias": "split"}),
    ("lrpsign_sequential_composite_b", {"alpha_beta_bias": "split"}),
]
NAMES = shared_spec.list_methods() + PARAMETRIC
TYPO_SUFFIXES = ("VGG106ILSVRC", "VGG206ILSVRC", "VGG256ILSVRC", "VGG56ILSVRC")


@functools.lru_cache(maxsize=None)
def twins(architecture: str):
    builder, shape = ARCHITECTURES[architecture]
    keras.utils.set_random_seed(11)
    model = builder()
    return model, keras_to_torch(model), parity_input(shape)


def run_both(architecture: str, name: str, params: dict):
    keras_model, torch_model, x = twins(architecture)
    if name.startswith(STOCHASTIC) and "seed" not in params:
        params = {**params, "seed": 0}
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated names, non-ReLU activations: not under test here
        for explain, inputs, back in (
            (signxai_tf.explain, x, lambda m: m),
            (signxai_captum.explain, to_channels_first(x), to_channels_last),
        ):
            try:
                results.append(back(explain(keras_model if explain is signxai_tf.explain else torch_model,
                                            inputs, name, target=TARGETS, **params)))
            except (ValueError, TypeError, NotImplementedError) as error:
                results.append(error)
    return results


def expected_refusal(architecture: str, name: str) -> bool:
    """Names a model cannot honour: Grad-CAM without convolutions, the VGG16 Grad-CAM layer on
    models without it, the time-series Grad-CAM on images."""
    family = shared_spec.parse(name).family if not name.endswith(TYPO_SUFFIXES) else ""
    if family not in ("grad_cam", "grad_cam_timeseries", "guided_grad_cam"):
        return False
    return architecture == "mlp" or name.endswith("VGG16ILSVRC") or (
        family == "grad_cam_timeseries" and architecture != "cnn1d"
    )


def assert_same(tf_result, torch_result):
    if isinstance(tf_result, Exception) or isinstance(torch_result, Exception):
        # a name the model cannot honour: both refuse, with the same kind of error
        assert type(tf_result) is type(torch_result), f"TF: {tf_result!r} / torch: {torch_result!r}"
        assert not isinstance(tf_result, NotImplementedError), f"not implemented: {tf_result}"
        return
    assert tf_result.shape == torch_result.shape
    assert np.all(np.isfinite(tf_result)) and np.all(np.isfinite(torch_result))
    scale = np.abs(tf_result).max()
    difference = np.abs(torch_result - tf_result).max()
    assert difference <= TOLERANCE * max(scale, 1e-30), (
        f"max difference {difference:.3g} = {difference / max(scale, 1e-30):.3g} of max |map| {scale:.3g}"
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_same_map_in_both_frameworks(architecture, name):
    tf_result, torch_result = run_both(architecture, name, {})
    refused = isinstance(tf_result, Exception) or isinstance(torch_result, Exception)
    assert refused == expected_refusal(architecture, name), f"TF: {tf_result!r:.300} / torch: {torch_result!r:.300}"
    assert_same(tf_result, torch_result)


@pytest.mark.parametrize("name, params", OVERRIDES, ids=[f"{n}-{'-'.join(p)}" for n, p in OVERRIDES])
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_same_map_with_keyword_overrides(architecture, name, params):
    assert_same(*run_both(architecture, name, params))


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_baseline_default_targets_and_logits_agree(architecture):
    keras_model, torch_model, x = twins(architecture)
    # the softmax-free views compute the same logits
    with torch.no_grad():
        torch_logits = signxai_captum.remove_softmax(torch_model)(torch.tensor(to_channels_first(x))).numpy()
    tf_logits = signxai_tf.remove_softmax(keras_model)(x).numpy()
    np.testing.assert_allclose(torch_logits, tf_logits, rtol=1e-5, atol=1e-5)
    # a baseline of one sample, broadcast over the batch
    baseline = np.random.default_rng(2).normal(size=x.shape[1:]).astype(np.float32) * 0.2
    tf_map = signxai_tf.explain(keras_model, x, "integrated_gradients_steps_9", baseline=baseline)
    torch_map = signxai_captum.explain(torch_model, to_channels_first(x), "integrated_gradients_steps_9",
                                       baseline=to_channels_first(baseline[None])[0])
    assert_same(tf_map, to_channels_last(torch_map))
    # target=None: the argmax of the logits per sample, in both
    names = ["gradient_x_sign", "lrpsign_epsilon_0_1", "lrp_sequential_composite_b"]
    names += [] if architecture == "mlp" else ["grad_cam_timeseries" if architecture == "cnn1d" else "grad_cam"]
    for name in names:
        tf_map = signxai_tf.explain(keras_model, x, name)
        torch_map = signxai_captum.explain(torch_model, to_channels_first(x), name)
        assert_same(tf_map, to_channels_last(torch_map))


def test_the_suite_covers_what_it_claims():
    assert len(ARCHITECTURES) >= 5 and len(set(TARGETS)) == len(TARGETS)
    assert set(shared_spec.list_methods()) <= set(NAMES)
    families = {shared_spec.parse(n).family for n in NAMES if not n.endswith(TYPO_SUFFIXES)}
    assert families == set(shared_spec.method_table()["families"]) | {"lrp"}
    for architecture in ARCHITECTURES:
        x = twins(architecture)[2]
        assert (x == 0).any() and (x > 0).any() and (x < 0).any() and (x == 0.5).any()
