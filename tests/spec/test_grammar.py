"""The method table and the name grammar (docs/semantics.md §2)."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shared_spec
from shared_spec import MethodNameError, MethodParameterError, format_number, parse, parse_number

SEED_NAMES = [n.strip() for n in (Path(__file__).parents[1] / "data" / "seed_method_names.txt").read_text().split() if n.strip()]
TYPO_SUFFIXES = ("VGG106ILSVRC", "VGG206ILSVRC", "VGG256ILSVRC", "VGG56ILSVRC")


def test_seed_file_has_146_names():
    assert len(SEED_NAMES) == 146 and len(set(SEED_NAMES)) == 146


def test_every_seed_name_is_listed():
    missing = set(SEED_NAMES) - set(shared_spec.list_methods())
    assert not missing


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_seed_name_parses(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = parse(name)
    deprecated = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    if name.endswith(TYPO_SUFFIXES):
        assert deprecated and "VGG16ILSVRC" in str(deprecated[0].message)
        assert spec.model == "VGG16ILSVRC" and spec.name.endswith("_VGG16ILSVRC")
    else:
        assert not deprecated
        assert spec.name == (name if name != "input_t_gradient" else "gradient_x_input")


def test_list_methods_without_deprecated():
    names = shared_spec.list_methods(include_deprecated=False)
    assert not any(n.endswith(TYPO_SUFFIXES) for n in names)
    assert len(names) == len(shared_spec.list_methods()) - 4


# name -> (base, family, params, multiplier, input_rule, preset, model)
TABLE = {
    "gradient": ("gradient", "gradient", {}, None, None, None, None),
    "input_t_gradient": ("gradient_x_input", "gradient", {}, "input", None, None, None),
    "gradient_x_input": ("gradient_x_input", "gradient", {}, "input", None, None, None),
    "gradient_x_sign": ("gradient_x_sign", "gradient", {"mu": 0.0}, "sign", None, None, None),
    "gradient_x_sign_mu": ("gradient_x_sign", "gradient", {"mu": 0.0}, "sign", None, None, None),
    "gradient_x_sign_mu_0": ("gradient_x_sign", "gradient", {"mu": 0.0}, "sign", None, None, None),
    "gradient_x_sign_mu_0_5": ("gradient_x_sign", "gradient", {"mu": 0.5}, "sign", None, None, None),
    "gradient_x_sign_mu_neg_0_5": ("gradient_x_sign", "gradient", {"mu": -0.5}, "sign", None, None, None),
    "gradient_x_sign_mu_neg_0_25": ("gradient_x_sign", "gradient", {"mu": -0.25}, "sign", None, None, None),
    "guided_backprop": ("guided_backprop", "guided_backprop", {}, None, None, None, None),
    "guided_backprop_x_sign_mu_neg_0_5": ("guided_backprop_x_sign", "guided_backprop", {"mu": -0.5}, "sign", None, None, None),
    "deconvnet_x_sign_mu_0_5": ("deconvnet_x_sign", "deconvnet", {"mu": 0.5}, "sign", None, None, None),
    "deconvnet_x_input": ("deconvnet_x_input", "deconvnet", {}, "input", None, None, None),
    "integrated_gradients": ("integrated_gradients", "integrated_gradients", {"steps": 50, "baseline": None, "batch_size": 32}, None, None, None, None),
    "integrated_gradients_steps_100": ("integrated_gradients", "integrated_gradients", {"steps": 100, "baseline": None, "batch_size": 32}, None, None, None, None),
    "integrated_gradients_x_sign_steps_7": ("integrated_gradients_x_sign", "integrated_gradients", {"steps": 7, "baseline": None, "batch_size": 32, "mu": 0.0}, "sign", None, None, None),
    "smoothgrad": ("smoothgrad", "smoothgrad", {"samples": 50, "noise": 0.2, "noise_mode": "relative", "seed": None, "batch_size": 32}, None, None, None, None),
    "smoothgrad_noise_0_3_samples_50": ("smoothgrad", "smoothgrad", {"samples": 50, "noise": 0.3, "noise_mode": "relative", "seed": None, "batch_size": 32}, None, None, None, None),
    "smoothgrad_samples_8_noise_0_05": ("smoothgrad", "smoothgrad", {"samples": 8, "noise": 0.05, "noise_mode": "relative", "seed": None, "batch_size": 32}, None, None, None, None),
    "smoothgrad_x_sign_mu_0_5": ("smoothgrad_x_sign", "smoothgrad", {"samples": 50, "noise": 0.2, "noise_mode": "relative", "seed": None, "batch_size": 32, "mu": 0.5}, "sign", None, None, None),
    "vargrad": ("vargrad", "vargrad", {"samples": 50, "noise": 0.2, "noise_mode": "relative", "seed": None, "batch_size": 32}, None, None, None, None),
    "grad_cam": ("grad_cam", "grad_cam", {"layer": None}, None, None, None, None),
    "grad_cam_timeseries": ("grad_cam_timeseries", "grad_cam_timeseries", {"layer": None}, None, None, None, None),
    "grad_cam_VGG16ILSVRC": ("grad_cam", "grad_cam", {"layer": None}, None, None, None, "VGG16ILSVRC"),
    "guided_grad_cam_VGG16ILSVRC": ("guided_grad_cam", "guided_grad_cam", {"layer": None}, None, None, None, "VGG16ILSVRC"),
    "lrp_z": ("lrp_z", "lrp", {"bias": True}, None, None, "z", None),
    "lrpsign_z": ("lrpsign_z", "lrp", {"mu": None, "bias": True}, None, "sign", "z", None),
    "lrpz_epsilon_0_001": ("lrpz_epsilon", "lrp", {"epsilon": 0.001, "bias": True}, None, "z", "epsilon", None),
    "w2lrp_z": ("w2lrp_z", "lrp", {"bias": True}, None, "w_square", "z", None),
    "flatlrp_z": ("flatlrp_z", "lrp", {"bias": True}, None, "flat", "z", None),
    "zblrp_z_VGG16ILSVRC": ("zblrp_z", "lrp", {"low": -123.68, "high": 151.061, "bias": True}, None, "bounded", "z", "VGG16ILSVRC"),
    "zblrp_z": ("zblrp_z", "lrp", {"low": -1.0, "high": 1.0, "bias": True}, None, "bounded", "z", None),
    "lrp_epsilon_0_1": ("lrp_epsilon", "lrp", {"epsilon": 0.1, "bias": True}, None, None, "epsilon", None),
    "lrp_epsilon_0_37": ("lrp_epsilon", "lrp", {"epsilon": 0.37, "bias": True}, None, None, "epsilon", None),
    "lrp_epsilon_100": ("lrp_epsilon", "lrp", {"epsilon": 100.0, "bias": True}, None, None, "epsilon", None),
    "lrpsign_epsilon_0_01": ("lrpsign_epsilon", "lrp", {"epsilon": 0.01, "mu": None, "bias": True}, None, "sign", "epsilon", None),
    "lrpsign_epsilon_100_mu_0": ("lrpsign_epsilon", "lrp", {"epsilon": 100.0, "mu": 0.0, "bias": True}, None, "sign_mu", "epsilon", None),
    "lrpsign_epsilon_100_mu_neg_0_5": ("lrpsign_epsilon", "lrp", {"epsilon": 100.0, "mu": -0.5, "bias": True}, None, "sign_mu", "epsilon", None),
    "zblrp_epsilon_0_001_VGG16ILSVRC": ("zblrp_epsilon", "lrp", {"epsilon": 0.001, "low": -123.68, "high": 151.061, "bias": True}, None, "bounded", "epsilon", "VGG16ILSVRC"),
    "w2lrp_epsilon_0_01": ("w2lrp_epsilon", "lrp", {"epsilon": 0.01, "bias": True}, None, "w_square", "epsilon", None),
    "flatlrp_epsilon_20": ("flatlrp_epsilon", "lrp", {"epsilon": 20.0, "bias": True}, None, "flat", "epsilon", None),
    "lrp_epsilon_0_1_std_x": ("lrp_epsilon_std_x", "lrp", {"std_factor": 0.1, "bias": True}, None, None, "epsilon_std_x", None),
    "lrpsign_epsilon_0_25_std_x_mu_neg_0_5": ("lrpsign_epsilon_std_x", "lrp", {"std_factor": 0.25, "mu": -0.5, "bias": True}, None, "sign_mu", "epsilon_std_x", None),
    "lrpsign_epsilon_0_5_std_x_mu_0_5": ("lrpsign_epsilon_std_x", "lrp", {"std_factor": 0.5, "mu": 0.5, "bias": True}, None, "sign_mu", "epsilon_std_x", None),
    "lrpz_epsilon_3_std_x": ("lrpz_epsilon_std_x", "lrp", {"std_factor": 3.0, "bias": True}, None, "z", "epsilon_std_x", None),
    "zblrp_epsilon_0_5_std_x_VGG16ILSVRC": ("zblrp_epsilon_std_x", "lrp", {"std_factor": 0.5, "low": -123.68, "high": 151.061, "bias": True}, None, "bounded", "epsilon_std_x", "VGG16ILSVRC"),
    "lrp_alpha_1_beta_0": ("lrp_alpha_beta", "lrp", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference", "bias": True}, None, None, "alpha_beta", None),
    "lrp_alpha_2_beta_1": ("lrp_alpha_beta", "lrp", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference", "bias": True}, None, None, "alpha_beta", None),
    "lrp_alpha_1_5_beta_0_5": ("lrp_alpha_beta", "lrp", {"alpha": 1.5, "beta": 0.5, "alpha_beta_bias": "reference", "bias": True}, None, None, "alpha_beta", None),
    "flatlrp_alpha_1_beta_0": ("flatlrp_alpha_beta", "lrp", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference", "bias": True}, None, "flat", "alpha_beta", None),
    "lrp_sequential_composite_a": ("lrp_sequential_composite_a", "lrp", {"alpha_beta_bias": "reference", "epsilon": 0.1}, None, None, "sequential_composite_a", None),
    "lrpsign_sequential_composite_b": ("lrpsign_sequential_composite_b", "lrp", {"mu": None, "alpha_beta_bias": "reference", "epsilon": 0.1}, None, "sign", "sequential_composite_b", None),
    "zblrp_sequential_composite_a_VGG16ILSVRC": ("zblrp_sequential_composite_a", "lrp", {"low": -123.68, "high": 151.061, "alpha_beta_bias": "reference", "epsilon": 0.1}, None, "bounded", "sequential_composite_a", "VGG16ILSVRC"),
    "lrp_z_plus": ("lrp_z_plus", "lrp", {}, None, None, "z_plus", None),
    "lrp_gamma": ("lrp_gamma", "lrp", {"gamma": 0.25, "bias": True}, None, None, "gamma", None),
    "lrp_gamma_0_5": ("lrp_gamma", "lrp", {"gamma": 0.5, "bias": True}, None, None, "gamma", None),
    "lrp_flat": ("lrp_flat", "lrp", {}, None, None, "flat", None),
    "lrp_w_square": ("lrp_w_square", "lrp", {}, None, None, "w_square", None),
    "lrp_z_ignore_bias": ("lrp_z", "lrp", {"bias": False}, None, None, "z", None),
    "lrpsign_epsilon_0_1_ignore_bias_mu_0_5": ("lrpsign_epsilon", "lrp", {"epsilon": 0.1, "bias": False, "mu": 0.5}, None, "sign_mu", "epsilon", None),
    "lrp_epsilon_0_5_std_x_ignore_bias": ("lrp_epsilon_std_x", "lrp", {"std_factor": 0.5, "bias": False}, None, None, "epsilon_std_x", None),
    "lrp_alpha_2_beta_1_ignore_bias": ("lrp_alpha_beta", "lrp", {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference", "bias": False}, None, None, "alpha_beta", None),
    "lrp_z_plus_fast": ("lrp_z_plus_fast", "lrp", {}, None, None, "z_plus_fast", None),
    "lrp_alpha_beta_x_1010": ("lrp_alpha_beta_x", "lrp", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, -1.0), "bias": True}, None, None, "alpha_beta_x", None),
    "lrpsign_alpha_beta_x_2m100": ("lrpsign_alpha_beta_x", "lrp", {"alpha_x": (2.0, 0.0), "beta_x": (1.0, 0.0), "bias": True, "mu": None}, None, "sign", "alpha_beta_x", None),
    "lrp_alpha_beta_x_1000_ignore_bias": ("lrp_alpha_beta_x", "lrp", {"alpha_x": (1.0, 0.0), "beta_x": (0.0, 0.0), "bias": False}, None, None, "alpha_beta_x", None),
}


def test_table_is_large_enough():
    assert len(TABLE) >= 40


@pytest.mark.parametrize("name", sorted(TABLE))
def test_name_parses_to_expected(name):
    base, family, params, multiplier, input_rule, preset, model = TABLE[name]
    spec = parse(name)
    assert (spec.base, spec.family, spec.multiplier, spec.input_rule, spec.preset, spec.model) == (
        base, family, multiplier, input_rule, preset, model
    )
    assert dict(spec.params) == params
    for value in spec.params.values():
        assert value is None or isinstance(value, (int, float, str)) or (
            isinstance(value, tuple) and all(isinstance(v, float) for v in value)
        )
    assert spec.is_lrp == (family == "lrp")


def test_lrp_rules_of_presets_and_prefixes():
    rules = parse("lrpsign_sequential_composite_a_mu_0_5").lrp_rules()
    assert (rules.dense.name, dict(rules.dense.params)) == ("epsilon", {"epsilon": 0.1})
    assert (rules.conv.name, dict(rules.conv.params)) == ("alpha_beta", {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference"})
    assert (rules.input.name, dict(rules.input.params)) == ("sign_mu", {"mu": 0.5})
    assert rules.for_layer("conv", is_input_layer=True).name == "sign_mu"
    assert rules.for_layer("conv", is_input_layer=False).name == "alpha_beta"
    b = parse("lrp_sequential_composite_b").lrp_rules()
    assert dict(b.conv.params) == {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "reference"} and b.input is None
    zb = parse("zblrp_epsilon_0_1_VGG16ILSVRC").lrp_rules()
    assert (zb.input.name, dict(zb.input.params)) == ("bounded", {"low": -123.68, "high": 151.061})
    assert (zb.dense.name, dict(zb.dense.params)) == ("epsilon", {"epsilon": 0.1, "bias": True})
    std = parse("lrpz_epsilon_0_25_std_x").lrp_rules()
    assert (std.conv.name, dict(std.conv.params), std.input.name) == ("std_x_epsilon", {"std_factor": 0.25, "bias": True}, "z")
    # the composites' epsilon can be overridden (the reference's LRPSequentialCompositeA(epsilon=...))
    assert dict(parse("lrp_sequential_composite_a", epsilon=0.05).lrp_rules().dense.params) == {"epsilon": 0.05}
    ib = parse("lrp_alpha_1_beta_0_ignore_bias").lrp_rules()
    assert dict(ib.conv.params) == {"alpha": 1.0, "beta": 0.0, "alpha_beta_bias": "reference", "bias": False}
    x = parse("lrp_alpha_beta_x_2m100").lrp_rules()
    assert (x.conv.name, dict(x.conv.params)) == ("alpha_beta_x", {"alpha_x": (2.0, 0.0), "beta_x": (1.0, 0.0), "bias": True})
    with pytest.raises(ValueError):
        parse("gradient").lrp_rules()


def test_model_constants():
    vgg = shared_spec.model_constants("VGG16ILSVRC")
    assert vgg["grad_cam_layer"] == {"torch": "features.28", "tf": "block5_conv3"}
    assert shared_spec.model_constants("VGG56ILSVRC") is vgg
    with pytest.raises(KeyError):
        shared_spec.model_constants("ResNet")


@pytest.mark.parametrize(
    "name, part",
    [
        ("lrp_epsilon_abc", "epsilon_abc"),
        ("lrp_epsilon_0", "epsilon_0"),
        ("lrp_epsilon_neg_0_1", "epsilon_neg"),
        ("lrp_alpha_2_beta_0", "alpha_2_beta_0"),
        ("lrp_alpha_0_5_beta_neg_0_5", "alpha_0_5_beta_neg_0_5"),
        ("smoothgrad_samples_0", "samples_0"),
        ("smoothgrad_noise_neg_0_1", "noise_neg_0_1"),
        ("integrated_gradients_steps_0", "steps_0"),
        ("integrated_gradients_steps_2_5", "steps_2_5"),
        ("gradiant", "gradiant"),
        ("lrp_epsilon", "epsilon"),
        ("lrp_foo", "foo"),
        ("lrpz_epsilon_0_1_mu_0_5", "mu_0_5"),
        ("lrp_epsilon_0_1_VGG16ILSVRC", "VGG16ILSVRC"),
        ("zblrp_z_VGG19ILSVRC", "VGG19ILSVRC"),
        ("gradient_x_input_x_sign", "x_sign"),
        ("grad_cam_x_sign", "x_sign"),
        ("gradient_steps_5", "steps_5"),
        ("lrp__z", "lrp__z"),
        ("", ""),
    ],
)
def test_bad_names_raise_a_useful_error(name, part):
    with pytest.raises(MethodNameError) as info:
        parse(name)
    error = info.value
    assert isinstance(error, ValueError)
    assert repr(name) in str(error)
    assert part in error.part or part in str(error)


def test_bad_name_suggests_close_names():
    with pytest.raises(MethodNameError) as info:
        parse("lrp_epsilon_abc")
    assert any(s.startswith("lrp_epsilon_") for s in info.value.suggestions)
    assert "Did you mean" in str(info.value)
    with pytest.raises(MethodNameError) as info:
        parse("gradient_x_sing")
    assert "gradient_x_sign" in info.value.suggestions


def test_keyword_overrides():
    assert parse("lrp_epsilon_0_1", epsilon=0.3).params["epsilon"] == 0.3
    assert parse("integrated_gradients", steps=7).params["steps"] == 7
    spec = parse("lrpsign_z", mu=0.5)
    assert spec.input_rule == "sign_mu" and spec.params["mu"] == 0.5
    assert parse("lrpsign_z_mu_0_5", mu=None).input_rule == "sign"
    assert parse("smoothgrad", seed=3, noise_mode="absolute").params["noise_mode"] == "absolute"
    assert parse("lrp_alpha_1_beta_0", alpha=2, beta=1).params["alpha"] == 2.0
    assert parse("zblrp_z", low=[-1.0, -2.0, -3.0]).params["low"] == [-1.0, -2.0, -3.0]


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("gradient", {"steps": 3}),
        ("lrp_epsilon_0_1", {"epsilon": 0}),
        ("lrp_epsilon_0_1", {"epsilon": "big"}),
        ("lrp_alpha_1_beta_0", {"alpha": 3}),
        ("smoothgrad", {"noise_mode": "loud"}),
        ("smoothgrad", {"samples": 2.5}),
        ("integrated_gradients", {"steps": None}),
        ("lrp_z", {"mu": 0.5}),
    ],
)
def test_bad_keyword_overrides(name, overrides):
    with pytest.raises(MethodParameterError) as info:
        parse(name, **overrides)
    assert next(iter(overrides)) in str(info.value)


def test_parse_and_format_number():
    assert parse_number("0_001") == 0.001
    assert parse_number("neg_0_5") == -0.5
    assert parse_number("100") == 100
    assert parse_number("007") == 7
    assert format_number(0.001) == "0_001"
    assert format_number(-0.25) == "neg_0_25"
    assert format_number(100.0) == "100"
    for bad in ("", "abc", "1_2_3", "neg", "0_x"):
        with pytest.raises(ValueError):
            parse_number(bad)


digits = st.text(alphabet="0123456789", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(integer=digits, fraction=st.none() | digits, negative=st.booleans())
def test_numbers_in_names_parse_back(integer, fraction, negative):
    """Written in the grammar (leading zeros, negatives, integers), a number parses to its value."""
    text = integer + ("" if fraction is None else "_" + fraction)
    decimal = Decimal(integer + ("" if fraction is None else "." + fraction))
    written = ("neg_" if negative else "") + text
    expected = float(-decimal if negative else decimal)
    assert parse(f"gradient_x_sign_mu_{written}").params["mu"] == expected
    assert parse_number(written) == expected
    if expected > 0 and not negative:
        assert parse(f"lrp_epsilon_{written}").params["epsilon"] == expected
    if fraction is None and not negative and int(integer) >= 1:
        assert parse(f"integrated_gradients_steps_{written}").params["steps"] == int(integer)


@settings(max_examples=300, deadline=None)
@given(value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_format_number_round_trips(value):
    assert parse_number(format_number(value)) == value


def test_noise_is_the_same_in_both_layouts():
    channels_last = shared_spec.standard_normal_noise(3, 4, (5, 6, 2), channels_first=False)
    channels_first = shared_spec.standard_normal_noise(3, 4, (2, 5, 6), channels_first=True)
    assert channels_last.shape == (4, 5, 6, 2) and channels_first.shape == (4, 2, 5, 6)
    import numpy as np

    np.testing.assert_array_equal(np.moveaxis(channels_first, 1, -1), channels_last)
    np.testing.assert_array_equal(channels_last, np.random.default_rng(3).standard_normal((4, 5, 6, 2), dtype=np.float32))
    flat = shared_spec.standard_normal_noise(0, 2, (7,), channels_first=True)
    np.testing.assert_array_equal(flat, shared_spec.standard_normal_noise(0, 2, (7,), channels_first=False))


def test_noise_scale():
    import numpy as np

    x = np.array([[0.0, 2.0, -1.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(shared_spec.noise_scale(x, 0.2, "relative"), [0.6, 0.0])
    np.testing.assert_allclose(shared_spec.noise_scale(x, 0.2, "absolute"), [0.2, 0.2])
    with pytest.raises(ValueError):
        shared_spec.noise_scale(x, 0.2, "other")


# --------------------------------------------------------------------------
# stray characters in numbers, upper-case names


@pytest.mark.parametrize(
    "name, part, shown, suggestion",
    [
        ("lrp_epsilon_0_1x", "0_1x", "'x'", "lrp_epsilon_0_1"),
        ("lrpsign_epsilon_0_25abc_std_x", "0_25abc", "'abc'", "lrpsign_epsilon_0_25_std_x"),
        ("gradient_x_sign_mu_neg_0_5x", "neg_0_5x", "'x'", "gradient_x_sign_mu_neg_0_5"),
        ("smoothgrad_samples_10k", "10k", "'k'", "smoothgrad_samples_10"),
        ("lrp_alpha_2x_beta_1", "2x", "'x'", "lrp_alpha_2_beta_1"),
        ("lrp_epsilon_0_1e5", "0_1e5", "'e5'", "lrp_epsilon_0_1"),
        ("lrp_epsilon_0.1", "0.1", "'0_1'", "lrp_epsilon_0_1"),
        ("lrp_epsilon_1e-3", "1e-3", "'0_001'", "lrp_epsilon_0_001"),
        ("gradient_x_sign_mu_-0.5", "-0.5", "'neg_0_5'", "gradient_x_sign_mu_neg_0_5"),
    ],
)
def test_stray_characters_in_a_number_are_named(name, part, shown, suggestion):
    with pytest.raises(MethodNameError) as info:
        parse(name)
    error = info.value
    assert error.part == part
    assert shown in str(error)
    assert error.suggestions == [suggestion]
    assert "must be >" not in str(error)  # not misread as a value out of range
    parse(suggestion)


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("LRP_Epsilon_0_1", "lrp_epsilon_0_1"),
        ("GRADIENT", "gradient"),
        ("Gradient_x_sign", "gradient_x_sign"),
        ("gradient_X_sign_mu_0_5", "gradient_x_sign_mu_0_5"),
        ("input_T_gradient", "input_t_gradient"),
        ("GRAD_CAM_VGG16ILSVRC", "grad_cam_VGG16ILSVRC"),
        ("ZBLRP_Z_VGG16ILSVRC", "zblrp_z_VGG16ILSVRC"),
    ],
)
def test_upper_case_name_suggests_lower_case(name, suggestion):
    with pytest.raises(MethodNameError) as info:
        parse(name)
    assert "lower case" in str(info.value)
    assert info.value.suggestions == [suggestion]
    parse(suggestion)


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("zblrp_z_vgg16ilsvrc", "zblrp_z_VGG16ILSVRC"),
        ("grad_cam_Vgg16Ilsvrc", "grad_cam_VGG16ILSVRC"),
        ("guided_grad_cam_vgg16ilsvrc", "guided_grad_cam_VGG16ILSVRC"),
    ],
)
def test_lower_case_model_suffix_suggests_upper_case(name, suggestion):
    with pytest.raises(MethodNameError) as info:
        parse(name)
    assert "'VGG16ILSVRC'" in str(info.value)
    assert info.value.suggestions == [suggestion]


def test_upper_case_model_suffix_still_works():
    assert parse("grad_cam_VGG16ILSVRC").model == "VGG16ILSVRC"
    assert parse("zblrp_z_VGG16ILSVRC").params["low"] == -123.68
    with pytest.raises(MethodNameError, match="unknown model suffix"):
        parse("zblrp_z_VGG19ILSVRC")
    with pytest.raises(MethodNameError, match="GRADIANT"):  # not a name in any case: close names
        parse("GRADIANT")
    with pytest.raises(MethodNameError, match="must follow a method name|lower case"):
        parse("VGG16ILSVRC")


LOWER_CASE_NAMES = [n for n in shared_spec.list_methods(include_deprecated=False)]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_upper_casing_suggests_the_name(data):
    name = data.draw(st.sampled_from(LOWER_CASE_NAMES))
    suffix = "_VGG16ILSVRC" if name.endswith("_VGG16ILSVRC") else ""
    body = name[: len(name) - len(suffix)]
    flips = data.draw(st.lists(st.booleans(), min_size=len(body), max_size=len(body)))
    written = "".join(c.upper() if f else c for c, f in zip(body, flips)) + suffix
    if written == name:
        assert parse(written).name == parse(name).name
        return
    with pytest.raises(MethodNameError) as info:
        parse(written)
    assert info.value.suggestions == [name]


NAMES_ENDING_IN_A_NUMBER = [n for n in LOWER_CASE_NAMES if n.split("_")[-1].isdigit()]


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(NAMES_ENDING_IN_A_NUMBER), stray=st.text(alphabet="xyzkqw", min_size=1, max_size=3))
def test_any_stray_letters_after_a_number_are_named(name, stray):
    with pytest.raises(MethodNameError) as info:
        parse(name + stray)
    assert repr(stray) in str(info.value)
    assert info.value.part.endswith(stray)
    assert info.value.suggestions == [name]


def test_one_rule_selection_function_for_table_and_framework_rules():
    """``select_kernel_rule`` decides for table rules and for each package's rule objects alike."""
    from shared_spec import select_kernel_rule

    assert select_kernel_rule("d", "c", "i", "dense", True) == "i"
    assert select_kernel_rule("d", "c", None, "dense", True) == "d"
    assert select_kernel_rule("d", "c", "i", "conv", False) == "c"
    with pytest.raises(ValueError, match="kind must be 'dense' or 'conv'"):
        select_kernel_rule("d", "c", None, "pool", False)
