"""The keywords of the original signxai / signxai2 APIs, translated once for both packages.

Code written for the original packages passes ``neuron_selection=3``, ``noise_scale=0.2``,
``last_conv_layer_name="block5_conv3"``, ``input_layer_rule="SIGN"``... :func:`translate_legacy`
maps each of these onto this project's parameters (and the explained class onto ``target``),
emitting one ``DeprecationWarning`` per old keyword per process that names the new spelling.
Both packages' ``explain`` and their ``compat`` modules call it before the name is parsed, so an
old keyword means the same thing everywhere.

========================  ==========================================================
old keyword               new spelling
========================  ==========================================================
``neuron_selection``      ``target`` (``"max_activation"`` -> ``None``, the argmax; ``"all"``
                          stays ``"all"``: the sum over every output)
``target_class``          ``target``
``last_conv_layer_name``  ``layer``
``layer_name``            ``layer``
``target_layer``          ``layer``
``reference_inputs``      ``baseline``
``ig_steps``              ``steps``
``augment_by_n``          ``samples``
``num_samples``           ``samples``
``noise_scale``           ``noise`` with ``noise_mode="absolute"`` (signxai TF / iNNvestigate:
                          sigma = noise_scale)
``noise_level``           ``noise`` with ``noise_mode="relative"`` (signxai2 PyTorch:
                          sigma = noise_level * (max(x) - min(x)))
``stdfactor``             ``std_factor``
``input_layer_rule``      the LRP prefix of the method name (``"SIGN"``: ``lrp_*`` ->
                          ``lrpsign_*``; ``"SIGNmu"``, ``"Z"``, ``"Bounded"``,
                          ``"WSquare"``, ``"Flat"``)
========================  ==========================================================

Giving an old and a new spelling of one parameter (``neuron_selection=3, target=3``,
``noise_scale=0.1, noise=0.1``) raises :class:`MethodParameterError` naming both.

No framework is imported here.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any, Mapping

from .errors import MethodParameterError
from .grammar import parse
from .parameters import parameter_default
from .spec import MethodSpec
from .table import method_table
from .targets import ALL_OUTPUTS

__all__ = ["LEGACY_KEYWORDS", "translate_legacy"]

#: old keyword -> the parameter of this project it is a spelling of (``target`` is explain's argument)
LEGACY_KEYWORDS: Mapping[str, str] = {
    "neuron_selection": "target",
    "target_class": "target",
    "last_conv_layer_name": "layer",
    "layer_name": "layer",
    "target_layer": "layer",
    "reference_inputs": "baseline",
    "ig_steps": "steps",
    "augment_by_n": "samples",
    "num_samples": "samples",
    "noise_scale": "noise",
    "noise_level": "noise",
    "stdfactor": "std_factor",
    "input_layer_rule": "the method name's LRP prefix",
}

#: the noise keywords and the ``noise_mode`` that gives the original's sigma
_NOISE_MODES = {"noise_scale": "absolute", "noise_level": "relative"}
_NOISE_ORIGIN = {
    "noise_scale": "signxai (TensorFlow, iNNvestigate's GaussianSmoother): sigma = noise_scale",
    "noise_level": "signxai2 (PyTorch): sigma = noise_level * (max(x) - min(x))",
}
#: the original's input_layer_rule strings -> the table's input rules (methods.json lrp.input_rules)
_INPUT_LAYER_RULES = {"SIGN": "sign", "SIGNmu": "sign", "Z": "z", "Bounded": "bounded", "WSquare": "w_square", "Flat": "flat"}
#: frames of these packages are skipped, so that a warning points at the user's line
_OWN_PACKAGES = ("shared_spec", "signxai_captum", "signxai_tf", "signxai_tools")

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()


def _reset_warnings() -> None:
    """Forget which old keywords have warned (for tests: every keyword warns once per process)."""
    with _WARNED_LOCK:
        _WARNED.clear()


def _warn_once(old: str, message: str) -> None:
    """One ``DeprecationWarning`` per old keyword per process, attributed to the first caller outside this project."""
    with _WARNED_LOCK:
        if old in _WARNED:
            return
        _WARNED.add(old)
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _OWN_PACKAGES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def _both_given(where: str, spellings: list[str], new: str) -> MethodParameterError:
    shown = " and ".join(repr(s) for s in spellings)
    return MethodParameterError(f"{where}: {shown} are spellings of one parameter; give only {new!r}")


def _legacy_target(where: str, old: str, value: Any) -> Any:
    """The original's neuron selection as a target: ``"max_activation"`` -> None (the argmax)."""
    if isinstance(value, str):
        if value == "max_activation":
            return None
        if value == ALL_OUTPUTS:
            return ALL_OUTPUTS
        raise MethodParameterError(
            f"{where}: {old}={value!r} is not supported; give a class index, a sequence of class indices "
            "(one per sample), None / 'max_activation' for the argmax of each sample, or 'all' for the sum over "
            "every output"
        )
    return value


def _with_input_rule(where: str, method_name: Any, rule_name: Any, params: dict[str, Any]) -> Any:
    """The method name with the LRP prefix whose input rule is the original's ``input_layer_rule``."""
    if rule_name not in _INPUT_LAYER_RULES:
        raise MethodParameterError(
            f"{where}: input_layer_rule={rule_name!r} is not an input rule of the method table; "
            f"accepted: {', '.join(repr(r) for r in _INPUT_LAYER_RULES)} (each selects an LRP prefix: "
            "lrpsign_, lrpsign_..._mu_<v>, lrpz_, zblrp_, w2lrp_, flatlrp_)"
        )
    table_rule = _INPUT_LAYER_RULES[rule_name]
    prefix = next(p for p, d in method_table()["lrp"]["input_rules"].items() if d["rule"] == table_rule)
    if not isinstance(method_name, str):
        raise MethodParameterError(f"{where}: input_layer_rule needs a method name (str), got {type(method_name).__name__}")
    spec = parse(method_name)
    if not spec.is_lrp:
        raise MethodParameterError(f"{where}: input_layer_rule={rule_name!r} applies to LRP methods only")
    mu = params.get("mu", spec.params.get("mu"))
    if rule_name == "SIGN" and mu is not None:
        raise MethodParameterError(f"{where}: input_layer_rule='SIGN' takes no mu (got mu={mu!r}); use 'SIGNmu'")
    if rule_name == "SIGNmu" and mu is None:
        params["mu"] = parameter_default("mu")  # signxai2's SIGNmuRule default: mu = 0.0
    if spec.prefix == prefix:
        return method_name
    if spec.prefix != "lrp":
        raise MethodParameterError(
            f"{where}: input_layer_rule={rule_name!r} selects the prefix {prefix!r}, but the name already has the "
            f"prefix {spec.prefix!r}; write the name with the prefix you mean (e.g. {prefix}_{spec.name.split('_', 1)[1]!s})"
        )
    return f"{prefix}_{spec.name.split('_', 1)[1]}"


def translate_legacy(
    method_name: str | MethodSpec, params: Mapping[str, Any], target: Any = None
) -> tuple[str | MethodSpec, dict[str, Any], Any]:
    """Translate the original signxai keywords in ``params`` into this project's parameters.

    Parameters
    ----------
    method_name : str or MethodSpec
        The method name (rewritten only for ``input_layer_rule``).
    params : mapping
        The keyword parameters as given (old and new spellings).
    target : Any, default None
        The ``target`` as given; ``neuron_selection`` / ``target_class`` set it.

    Returns
    -------
    (method_name, params, target)
        The name (with the LRP prefix of ``input_layer_rule`` if one was given), the parameters in
        this project's spelling (``noise_mode`` added for ``noise_scale`` / ``noise_level``) and the
        target. Without old keywords the inputs come back unchanged (``params`` as a new dict).

    Raises
    ------
    MethodParameterError
        If an old and a new spelling of one parameter are both given (the message names both),
        for an ``input_layer_rule`` that names no input rule of the
        table or does not fit the name, and for ``noise_scale`` / ``noise_level`` with a
        ``noise_mode`` that contradicts it.

    Warns
    -----
    DeprecationWarning
        Once per old keyword per process, naming the new spelling.
    """
    old = [key for key in params if key in LEGACY_KEYWORDS]
    if not old:
        return method_name, dict(params), target
    where = method_name.name if isinstance(method_name, MethodSpec) else str(method_name)
    new_params = {key: value for key, value in params.items() if key not in LEGACY_KEYWORDS}
    # every parameter must be given in one spelling only
    by_new: dict[str, list[str]] = {}
    for key in old:
        by_new.setdefault(LEGACY_KEYWORDS[key], []).append(key)
    for new, keys in by_new.items():
        given = keys + ([new] if new in params else []) + (["target"] if new == "target" and target is not None else [])
        if len(given) > 1:
            raise _both_given(where, given, new)
    for key in old:
        value = params[key]
        new = LEGACY_KEYWORDS[key]
        if key == "input_layer_rule":
            _warn_once(key, (
                f"the keyword 'input_layer_rule' of the original signxai is deprecated: write the input rule as the "
                f"method name's LRP prefix (input_layer_rule='SIGN': lrp_epsilon_0_1 -> lrpsign_epsilon_0_1; "
                f"{', '.join(f'{r!r}' for r in _INPUT_LAYER_RULES)} are lrpsign, lrpsign with mu, lrpz, zblrp, w2lrp, flatlrp)"
            ))
            method_name = _with_input_rule(where, method_name, value, new_params)
            continue
        if new == "target":
            _warn_once(key, f"the keyword {key!r} of the original signxai is deprecated: use target=... instead")
            target = _legacy_target(where, key, value)
            continue
        if key in _NOISE_MODES:
            mode = _NOISE_MODES[key]
            given_mode = new_params.get("noise_mode")
            if given_mode is not None and given_mode != mode:
                raise MethodParameterError(
                    f"{where}: {key}={value!r} is the original's {mode} noise ({_NOISE_ORIGIN[key]}), but "
                    f"noise_mode={given_mode!r} was given; give noise={value!r} with the noise_mode you mean instead"
                )
            _warn_once(key, (
                f"the keyword {key!r} of the original signxai is deprecated: use noise={value!r}, "
                f"noise_mode={mode!r} instead ({_NOISE_ORIGIN[key]})"
            ))
            new_params["noise"] = value
            new_params["noise_mode"] = mode
            continue
        _warn_once(key, f"the keyword {key!r} of the original signxai is deprecated: use {new}=... instead")
        new_params[new] = value
    return method_name, new_params, target
