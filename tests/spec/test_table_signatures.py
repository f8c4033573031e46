"""The method table decides: every public signature's defaults and every check agree with methods.json.

For each public constructor / function of both packages (and the LRP rule classes), every parameter
that is a table parameter must (a) default to the table's default (``None`` only where the method
treats the parameter as optional, as LRPSign's ``mu``), and (b) refuse, with MethodParameterError,
a value just outside the table's range and a value outside its choices — the same values in both
packages. A new signature that restates a default by hand and lets it drift fails here.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

import signxai_captum
from shared_spec.grammar import preset_default
from shared_spec import MethodParameterError, method_table, parameter_default
from signxai_captum.lrp import rules as torch_rules

TABLE = method_table()["parameters"]
#: signature names that carry a table parameter under another name
ALIASES = {"std_x": "std_factor", "noise_level": "noise", "num_samples": "samples"}
#: (callable, parameter) whose ``None`` default means "not given" rather than the table's default
OPTIONAL = {
    ("LRPSign", "mu"),
    ("LRPSign", "epsilon"),
    ("LRPSign", "std_x"),
    ("LRPSign", "alpha_beta_bias"),
    ("LRPAnalyzer", "epsilon"),  # None: signxai2's default epsilon (the table has none)
}


def _torch_callables() -> list[tuple[str, object]]:
    found = []
    for name in signxai_captum.__all__:
        obj = getattr(signxai_captum, name)
        if inspect.isclass(obj) and issubclass(obj, signxai_captum.SignXAIAttribution) and obj is not signxai_captum.SignXAIAttribution:
            found.append((name, obj))
    for name in ("Epsilon", "StdxEpsilon", "AlphaBeta", "Gamma", "Bounded", "SignMu"):
        found.append((f"rules.{name}", getattr(torch_rules, name)))
    return found


def _tf_callables() -> list[tuple[str, object]]:
    import importlib

    found = []
    for module, names in [
        ("gradient", ["gradient"]),
        ("guided_backprop", ["guided_backprop", "deconvnet"]),
        ("integrated_gradients", ["integrated_gradients"]),
        ("smoothgrad", ["smoothgrad", "vargrad"]),
    ]:
        loaded = importlib.import_module(f"signxai_tf._methods.{module}")
        found += [(f"tf.{name}", getattr(loaded, name)) for name in names]
    return found


def _table_parameters(name: str, fn: object) -> list[tuple[str, str, inspect.Parameter]]:
    signature = inspect.signature(fn.__init__ if inspect.isclass(fn) else fn)
    out = []
    for pname, param in signature.parameters.items():
        key = ALIASES.get(pname, pname)
        if key in TABLE:
            out.append((pname, key, param))
    return out


def _compat_callables() -> list[tuple[str, object]]:
    """The public classes and functions of the signxai / signxai2 compat modules that take table parameters."""
    from signxai_captum import compat as torch_compat
    from signxai_tf import compat as tf_compat

    names = ["GradientXSignAnalyzer", "IntegratedGradientsAnalyzer", "SmoothGradAnalyzer", "VarGradAnalyzer", "LRPAnalyzer"]
    found = [(f"compat.{name}", getattr(torch_compat, name)) for name in names]
    found.append(("compat.calculate_sign_mu", torch_compat.calculate_sign_mu))
    found.append(("compat.tf.calculate_sign_mu", tf_compat.calculate_sign_mu))
    return found


ALL = _torch_callables() + _tf_callables() + _compat_callables()


def test_the_walk_finds_the_public_signatures():
    names = {name for name, _ in ALL}
    assert {"SmoothGrad", "IntegratedGradientsXSign", "LRPAlphaBeta", "rules.Gamma", "tf.smoothgrad"} <= names
    assert sum(len(_table_parameters(n, f)) for n, f in ALL) > 60


@pytest.mark.parametrize("name,fn", ALL, ids=[n for n, _ in ALL])
def test_defaults_are_the_tables(name, fn):
    for pname, key, param in _table_parameters(name, fn):
        if param.default is inspect.Parameter.empty:
            assert "default" not in TABLE[key] or key in ("mu", "alpha", "beta"), (name, pname)
            continue
        if (name.split(".")[-1], pname) in OPTIONAL:
            assert param.default is None, (name, pname)
            continue
        if key in ("alpha", "beta"):  # no table default: AlphaBeta's (1, 0) is the rule's own
            assert (pname, param.default) in (("alpha", 1.0), ("beta", 0.0)), (name, pname)
            continue
        if key == "epsilon" and "SequentialComposite" in name:  # the composites' preset default (table: lrp.presets)
            preset = "sequential_composite_" + name[-1].lower()
            assert param.default == preset_default(preset, "epsilon"), (name, pname)
            continue
        assert param.default == parameter_default(key), (name, pname, param.default, parameter_default(key))


def _bad_values(key: str) -> list[object]:
    pdef = TABLE[key]
    bad: list[object] = []
    if "min" in pdef:
        bad.append(pdef["min"] - (1 if pdef["type"] == "int" else 1e-3))
    if "min_exclusive" in pdef:
        bad.append(pdef["min_exclusive"])
    if "choices" in pdef:
        bad.append("no-such-choice")
    if pdef["type"] == "int":
        bad.append(2.5)
    if pdef["type"] in ("int", "float"):
        bad.append(math.nan)
        bad.append("3")
    return bad


def _tiny_torch_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()


def _call_with(name: str, fn: object, pname: str, value: object) -> None:
    if name.startswith("compat."):
        if inspect.isclass(fn):
            fn(_tiny_torch_model(), **{pname: value})
        else:
            fn(np.zeros(3, np.float32), **{pname: value})
    elif name.startswith("rules."):
        required = {"Epsilon": {"epsilon": 0.1}, "StdxEpsilon": {"std_factor": 0.1}}.get(name[6:], {})
        fn(**{**required, pname: value})
    elif name.startswith("tf."):
        import keras

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        fn(model, np.ones((1, 3), np.float32), 0, **{pname: value})
    else:
        required = {"LRPEpsilon": {"epsilon": 0.1}, "LRPStdxEpsilon": {"std_factor": 0.1}}.get(name, {})
        fn(_tiny_torch_model(), **{**required, pname: value})


CASES = [
    (name, fn, pname, key, bad)
    for name, fn in ALL
    for pname, key, _ in _table_parameters(name, fn)
    if key not in ("baseline", "layer", "low", "high")  # arrays / layer names: checked where they are used
    for bad in _bad_values(key)
]


@pytest.mark.parametrize(
    "name,fn,pname,key,bad", CASES, ids=[f"{c[0]}-{c[2]}={c[4]!r}" for c in CASES]
)
def test_out_of_range_values_are_refused_with_the_tables_words(name, fn, pname, key, bad):
    with pytest.raises(MethodParameterError, match=pname if pname == key else key):
        _call_with(name, fn, pname, bad)


def test_drifts_the_review_found_are_gone():
    model = _tiny_torch_model()
    with pytest.raises(MethodParameterError, match="std_factor"):
        signxai_captum.LRPStdxEpsilon(model, 0.0)  # used to report the unparsable name lrp_epsilon_0_std_x
    with pytest.raises(MethodParameterError, match="std_factor"):
        signxai_captum.LRPSign(model, std_x=0.0)
    with pytest.raises(MethodParameterError, match="seed"):
        signxai_captum.SmoothGrad(model, seed=-1)  # the TF function always refused it
    # the named classes give the rules the parser gives for their names
    for attribution, name in [
        (signxai_captum.LRPSign(model, epsilon=0.25, mu=-0.5), "lrpsign_epsilon_0_25_mu_neg_0_5"),
        (signxai_captum.LRPStdxEpsilon(model, 0.25), "lrp_epsilon_0_25_std_x"),
        (signxai_captum.LRPAlphaBeta(model, 2.0, 1.0), "lrp_alpha_2_beta_1"),
    ]:
        assert attribution.method_name == name
        reference = signxai_captum.attribution_for(model, name)
        x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(attribution.attribute(x, target=1), reference.attribute(x, target=1), atol=0, rtol=0)


# -- the iNNvestigate analyzer API (signxai_tf.analyzer): the table's ranges, iNNvestigate's defaults ----------
#: analyzer parameter names that spell a table parameter
ANALYZER_ALIASES = {"stdfactor": "std_factor", "augment_by_n": "samples", "noise_scale": "noise"}
#: iNNvestigate 2's own defaults, where they differ from the table's on purpose (docs/migration.md):
#: LRPEpsilon / EpsilonRule epsilon 1e-7, signxai's StdxEpsilon stdfactor 0.25, IntegratedGradients
#: steps 64, SmoothGrad augment_by_n 64 and noise_scale 1.0, AlphaBetaXRule alpha = beta = (0.5, 0.5)
INNVESTIGATE_DEFAULTS = {
    "epsilon": {1e-7},
    "std_factor": {0.25},
    "steps": {64},
    "samples": {64},
    "noise": {1.0},
}


def _analyzer_callables() -> list[tuple[str, object]]:
    from signxai_tf import analyzer as tf_analyzer
    from signxai_tf.analyzer import rules as tf_rules

    found = []
    for module, prefix in ((tf_analyzer, "analyzer"), (tf_rules, "analyzer.rules")):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and name not in ("AnalyzerBase", "Rule", "KernelView"):
                found.append((f"{prefix}.{name}", obj))
    return found


def _analyzer_parameters(fn: object) -> list[tuple[str, str, inspect.Parameter]]:
    out = []
    for pname, param in inspect.signature(fn.__init__).parameters.items():
        key = ANALYZER_ALIASES.get(pname, pname)
        if key in TABLE and key not in ("alpha", "beta") or pname in ("alpha", "beta"):
            out.append((pname, key, param))
    return out


ANALYZERS = _analyzer_callables()


def test_the_analyzer_walk_finds_the_classes():
    names = {name for name, _ in ANALYZERS}
    assert {"analyzer.LRPEpsilon", "analyzer.SmoothGrad", "analyzer.rules.GammaRule", "analyzer.BoundedDeepTaylor"} <= names
    assert sum(len(_analyzer_parameters(f)) for _, f in ANALYZERS) > 25


@pytest.mark.parametrize("name,fn", ANALYZERS, ids=[n for n, _ in ANALYZERS])
def test_analyzer_defaults_are_the_tables_or_innvestigates(name, fn):
    from signxai_tf.analyzer import rules as tf_rules

    for pname, key, param in _analyzer_parameters(fn):
        default = param.default
        if default is inspect.Parameter.empty or default is None:
            continue  # required, or "not given" (AlphaBeta infers the missing one; BoundedDeepTaylor needs both)
        if name.startswith("analyzer.rules.AlphaBetaX") and pname in ("alpha", "beta"):
            assert default == (tf_rules.INNVESTIGATE_ALPHA_X if pname == "alpha" else tf_rules.INNVESTIGATE_BETA_X) == (0.5, 0.5)
            continue
        if key == "epsilon" and "Sequential" in name:
            preset = "sequential_composite_" + ("a" if "CompositeA" in name or "PresetA" in name else "b")
            assert default == preset_default(preset, "epsilon"), (name, pname)
            continue
        allowed = ({TABLE[key]["default"]} if "default" in TABLE[key] else set()) | INNVESTIGATE_DEFAULTS.get(key, set())
        assert default in allowed, (name, pname, default, allowed)


def _tiny_keras_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])


ANALYZER_CASES = [
    (name, fn, pname, key, bad)
    for name, fn in ANALYZERS
    for pname, key, _ in _analyzer_parameters(fn)
    if key not in ("baseline", "low", "high", "alpha", "beta") and not name.startswith("analyzer.rules.AlphaBetaX")
    for bad in _bad_values(key)
]


@pytest.mark.parametrize("name,fn,pname,key,bad", ANALYZER_CASES, ids=[f"{c[0]}-{c[2]}={c[4]!r}" for c in ANALYZER_CASES])
def test_analyzer_out_of_range_values_are_refused_with_the_tables_words(name, fn, pname, key, bad):
    with pytest.raises(MethodParameterError, match=key):
        required = {"alpha": 1.0} if "AlphaBeta" in name and pname == "alpha_beta_bias" else {}
        if name.startswith("analyzer.rules."):
            fn(**required, **{pname: bad})
        else:
            fn(_tiny_keras_model(), **required, **{pname: bad})
