"""The method-name grammar (docs/semantics.md §2): parse names such as ``lrpsign_epsilon_0_5_std_x_mu_0_5``.

A name is a base name with parameters written into it. Inside a number ``_`` is the decimal
point (``0_001`` = 0.001) and ``neg_`` negates (``mu_neg_0_5`` = -0.5). Keyword arguments
override what the name says.
"""

from __future__ import annotations

import math
import re
import warnings
from decimal import Decimal
from typing import Any, Mapping

import numpy as np

from .errors import MethodNameError, MethodParameterError
from .parameters import check_alpha_beta, check_parameter, parameter_problem
from .spec import MethodSpec
from .table import method_table

__all__ = [
    "MethodNameError",
    "MethodParameterError",
    "lrp_spec",
    "parse",
    "parse_number",
    "format_number",
]

_MULTIPLIER_TOKENS = {("x", "input"): "input", ("x", "sign"): "sign"}
# presets written with several tokens, longest first
_MULTI_TOKEN_PRESETS = (
    ("sequential", "composite", "a"),
    ("sequential", "composite", "b"),
    ("alpha", "beta", "x"),
    ("z", "plus", "fast"),
    ("z", "plus"),
    ("w", "square"),
)


def parse_number(text: str) -> float:
    """Parse a number written in the grammar: ``"0_001"`` -> 0.001, ``"neg_0_5"`` -> -0.5.

    Parameters
    ----------
    text : str
        One number: optional ``neg_``, digits, optionally ``_`` and more digits.

    Returns
    -------
    float
        The value (an integral float for integers).

    Raises
    ------
    ValueError
        If ``text`` is not a number of the grammar.
    """
    tokens = text.split("_")
    value, end = _read_number(tokens, 0)
    if value is None or end != len(tokens):
        raise ValueError(f"{text!r} is not a number of the method-name grammar (e.g. 0_001, neg_0_5, 100)")
    return float(value)


def format_number(value: float) -> str:
    """Write a number in the grammar: 0.001 -> ``"0_001"``, -0.5 -> ``"neg_0_5"``, 100 -> ``"100"``.

    Parameters
    ----------
    value : float
        A finite number.

    Returns
    -------
    str
        Its spelling in method names; :func:`parse_number` reads it back to the same value.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} in a method name")
    text = format(Decimal(repr(float(value))), "f")
    negative = text.startswith("-")
    text = text.lstrip("-")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text.replace(".", "_")
    if negative and text != "0":
        return "neg_" + text
    return text


def _read_number(tokens: list[str], i: int) -> tuple[Decimal | None, int]:
    """Read one number starting at ``tokens[i]``; return (value or None, next index)."""
    negative = False
    j = i
    if j < len(tokens) and tokens[j] == "neg":
        negative = True
        j += 1
    if j >= len(tokens) or not tokens[j].isdigit() or not tokens[j].isascii():
        return None, i
    text = tokens[j]
    j += 1
    if j < len(tokens) and tokens[j].isdigit() and tokens[j].isascii():
        text += "." + tokens[j]
        j += 1
    value = Decimal(text)
    return (-value if negative else value), j


def preset_default(preset: str, key: str, table: Mapping[str, Any] | None = None) -> Any:
    """The default of parameter ``key`` in an LRP preset: the preset's own (``defaults``, e.g. the
    composites' epsilon 0.1), else the table parameter's; pairs as tuples."""
    table = method_table() if table is None else table
    defaults = table["lrp"]["presets"][preset].get("defaults", {})
    value = defaults[key] if key in defaults else table["parameters"][key].get("default")
    return tuple(value) if isinstance(value, list) else value


def _input_rule(table: Mapping[str, Any], prefix: str, params: Mapping[str, Any]) -> str | None:
    """The input-layer rule of an LRP prefix: the table's, with ``sign`` -> ``sign_mu`` when ``mu`` is given."""
    rule = table["lrp"]["input_rules"][prefix]["rule"]
    if rule == "sign" and params.get("mu") is not None:
        return "sign_mu"
    return rule


class _Parser:
    """Parses one name; collects parameters from the name, then applies overrides."""

    def __init__(self, name: str) -> None:
        self.table = method_table()
        self.original = name
        self.name = name

    def fail(self, part: str, problem: str) -> MethodNameError:
        return MethodNameError(self.original, part, problem)

    def number(self, tokens: list[str], i: int, key: str) -> tuple[Decimal, int]:
        value, j = _read_number(tokens, i)
        if value is None:
            got = tokens[i] if i < len(tokens) else "the end of the name"
            raise self.fail("_".join(tokens[max(i - 1, 0) : i + 1]), f"expected a number after '{key}_', got {got!r}")
        return value, j

    # -- whole name ---------------------------------------------------------------------
    def parse(self) -> MethodSpec:
        try:
            return self._parse_name()
        except MethodNameError:
            case_error = self._case_error()
            if case_error is None:
                raise
            raise case_error from None

    def _parse_name(self) -> MethodSpec:
        table = self.table
        if not isinstance(self.name, str) or not self.name:
            raise MethodNameError(str(self.name), str(self.name), "a method name must be a non-empty string")
        name = table["aliases"].get(self.name, self.name)
        tokens = name.split("_")
        if any(t == "" for t in tokens):
            raise self.fail(name, "empty part between underscores")
        for i, token in enumerate(tokens):
            if tokens[max(i - 3, 0) : i] == ["alpha", "beta", "x"] and token in table["lrp"]["presets"]["alpha_beta_x"]["settings"]:
                continue  # a named AlphaBetaX setting (``2m100``), not a number
            if _looks_numeric(token) and not (token.isdigit() and token.isascii()):
                raise self._number_error(tokens, i)
        model = None
        if tokens[-1][:1].isupper():
            suffix = tokens.pop()
            if suffix in table["deprecated_model_suffixes"]:
                canonical = table["deprecated_model_suffixes"][suffix]
                warnings.warn(
                    f"model suffix {suffix!r} in {self.original!r} is a typo of the original table; use {canonical!r}",
                    DeprecationWarning,
                    stacklevel=4,
                )
                suffix = canonical
            if suffix not in table["model_suffixes"]:
                known = ", ".join(sorted(table["model_suffixes"]))
                raise self.fail(suffix, f"unknown model suffix; known suffixes: {known}")
            if not tokens:
                raise self.fail(suffix, "a model suffix must follow a method name, e.g. grad_cam_VGG16ILSVRC")
            model = suffix
            name = "_".join(tokens + [suffix])
        self.name = name
        if tokens[0] in table["lrp"]["input_rules"]:
            return self._parse_lrp(tokens, model)
        return self._parse_gradient(tokens, model)

    def _number_error(self, tokens: list[str], i: int) -> MethodNameError:
        """The error for a token that starts like a number but is not one (``1x``, ``0.1``, ``1e-3``)."""
        token = tokens[i]
        start = i
        fraction = i > 0 and tokens[i - 1].isdigit() and tokens[i - 1].isascii() and token[:1].isdigit()
        if fraction:
            start -= 1  # the integer part of '0_1x'
        if start > 0 and tokens[start - 1] == "neg":
            start -= 1
        part = "_".join(tokens[start : i + 1])
        if _is_float_literal(token) and not fraction:
            replacement = format_number(float(token))
            problem = (
                f"{token!r} is not a number of the grammar ({format(float(token), 'g')} is written {replacement!r})"
            )
        else:
            digits = re.match(r"[0-9]*", token).group(0)
            stray = token[len(digits):]
            if digits:
                number = "_".join(tokens[start:i] + [digits])
                problem = f"stray {stray!r} after the number {number!r}; a number has digits only"
            else:
                problem = f"{token!r} is not a number of the grammar"
            replacement = digits
        fixed = tokens[:i] + ([replacement] if replacement else []) + tokens[i + 1 :]
        candidate = "_".join(fixed)
        suggestions = [candidate] if candidate and _parses(candidate) else None
        return MethodNameError(self.original, part, problem, suggestions)

    def _case_error(self) -> MethodNameError | None:
        """A clearer error for a name that fails because of its upper/lower case, or None.

        Method names are lower case; only a model suffix (``VGG16ILSVRC``) is upper case.
        """
        name = self.original
        if not isinstance(name, str) or not name:
            return None
        tokens = name.split("_")
        known = set(self.table["model_suffixes"]) | set(self.table["deprecated_model_suffixes"])
        suffixes = {s.lower(): s for s in self.table["model_suffixes"]}
        suffixes.update({s.lower(): c for s, c in self.table["deprecated_model_suffixes"].items()})
        is_suffix = len(tokens) > 1 and tokens[-1].lower() in suffixes
        body = tokens[:-1] if is_suffix else tokens
        fixed = [t.lower() for t in body]
        wrong_suffix = is_suffix and tokens[-1] not in known
        if is_suffix:
            fixed.append(suffixes[tokens[-1].lower()] if wrong_suffix else tokens[-1])
        candidate = "_".join(fixed)
        if candidate == name:
            return None
        upper = [t for t in body if t != t.lower()]
        # an upper-case last part is meant as a model suffix (its own error says more), unless the
        # lower-case name is valid (``w2lrp_Z``)
        maybe_suffix = upper == [tokens[-1]] and len(tokens) > 1 and tokens[-1] == tokens[-1].upper()
        if maybe_suffix and not _parses(candidate):
            return None
        problems = []
        if upper:
            problems.append("method names are lower case (only a model suffix such as 'VGG16ILSVRC' is upper case)")
        if wrong_suffix:
            problems.append(f"the model suffix is written {fixed[-1]!r}")
        changed = [k for k, (t, f) in enumerate(zip(tokens, fixed)) if t != f]
        part = "_".join(tokens[changed[0] : changed[-1] + 1])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _Parser(candidate).parse()
        except MethodNameError as error:
            if not upper:
                return None
            problem = "; ".join(problems) + f"; {candidate!r} is not valid either: {error.problem}"
            return MethodNameError(name, part, problem, error.suggestions)
        return MethodNameError(name, part, "; ".join(problems), [candidate])

    # -- gradient family -----------------------------------------------------------------
    def _parse_gradient(self, tokens: list[str], model: str | None) -> MethodSpec:
        families = self.table["families"]
        family = None
        for candidate in sorted(families, key=lambda f: -len(f.split("_"))):
            ftoks = candidate.split("_")
            if tokens[: len(ftoks)] == ftoks:
                family = candidate
                break
        if family is None:
            raise self.fail(tokens[0], "unknown method")
        fdef = families[family]
        values: dict[str, Any] = {}
        multiplier = None
        i = len(family.split("_"))
        writable = [p for p in fdef["params"] if not self.table["parameters"][p].get("keyword_only")]
        while i < len(tokens):
            pair = tuple(tokens[i : i + 2])
            if pair in _MULTIPLIER_TOKENS:
                kind = _MULTIPLIER_TOKENS[pair]
                if kind not in fdef["multipliers"]:
                    raise self.fail("_".join(pair), f"{family} takes no '_{'_'.join(pair)}' suffix")
                if multiplier is not None:
                    raise self.fail("_".join(pair), "only one of _x_input / _x_sign may be given")
                multiplier = kind
                i += 2
                if kind == "sign" and i < len(tokens) and tokens[i] == "mu":
                    i += 1
                    value, j = _read_number(tokens, i)
                    if value is not None:
                        values["mu"] = self.check("mu", value, "mu_" + "_".join(tokens[i:j]))
                        i = j
                continue
            key = tokens[i]
            if key in writable:
                value, j = self.number(tokens, i + 1, key)
                values[key] = self.check(key, value, "_".join(tokens[i:j]))
                i = j
                continue
            raise self.fail("_".join(tokens[i:]), f"unexpected {tokens[i]!r} after {family!r}" + self._expected(family, writable, fdef))
        if model is not None and model not in fdef.get("models", []):
            raise self.fail(model, f"{family} takes no model suffix")
        params = {p: self.table["parameters"][p].get("default") for p in fdef["params"]}
        if multiplier == "sign":
            params["mu"] = self.table["parameters"]["mu"]["default"]
        if model is not None:
            params["layer"] = None
        params.update(values)
        base = family + (f"_x_{multiplier}" if multiplier else "")
        return MethodSpec(name=self.name, base=base, family=family, params=params, multiplier=multiplier, model=model)

    def _expected(self, family: str, writable: list[str], fdef: Mapping[str, Any]) -> str:
        parts = [f"_{m}" for m in ("x_input", "x_sign", "x_sign_mu_<v>") if m.split("_")[1] in fdef["multipliers"]]
        parts += [f"_{p}_<v>" for p in writable]
        return "; it takes " + ", ".join(parts) if parts else "; it takes no parameters in the name"

    # -- LRP -----------------------------------------------------------------------------
    def _parse_lrp(self, tokens: list[str], model: str | None) -> MethodSpec:
        lrp = self.table["lrp"]
        prefix = tokens[0]
        i = 1
        values: dict[str, Any] = {}
        preset = None
        for multi in _MULTI_TOKEN_PRESETS:
            if tuple(tokens[i : i + len(multi)]) == multi:
                preset = "_".join(multi)
                i += len(multi)
                break
        if preset == "alpha_beta_x":
            settings = lrp["presets"]["alpha_beta_x"]["settings"]
            setting = tokens[i] if i < len(tokens) else ""
            if setting not in settings:
                raise self.fail(
                    "_".join(tokens[i - 3 : i + 1]),
                    f"alpha_beta_x takes a named setting: {', '.join('alpha_beta_x_' + k for k in settings)} "
                    "(other values with alpha_x=(a0, a1), beta_x=(b0, b1))",
                )
            values.update({k: tuple(v) for k, v in settings[setting].items()})
            i += 1
        if preset is None:
            key = tokens[i] if i < len(tokens) else ""
            if key == "epsilon":
                value, j = self.number(tokens, i + 1, "epsilon")
                part = "_".join(tokens[i:j])
                i = j
                if tokens[i : i + 2] == ["std", "x"]:
                    preset = "epsilon_std_x"
                    values["std_factor"] = self.check("std_factor", value, part + "_std_x")
                    i += 2
                else:
                    preset = "epsilon"
                    values["epsilon"] = self.check("epsilon", value, part)
            elif key == "alpha":
                alpha, j = self.number(tokens, i + 1, "alpha")
                if tokens[j : j + 1] != ["beta"]:
                    raise self.fail("_".join(tokens[i:]), "alpha_<a> must be followed by beta_<b>")
                beta, k = self.number(tokens, j + 1, "beta")
                part = "_".join(tokens[i:k])
                values["alpha"] = self.check("alpha", alpha, part)
                values["beta"] = self.check("beta", beta, part)
                self.check_alpha_beta(values["alpha"], values["beta"], part, keyword=False)
                preset, i = "alpha_beta", k
            elif key == "gamma":
                preset = "gamma"
                i += 1
                value, j = _read_number(tokens, i)
                if value is not None:
                    values["gamma"] = self.check("gamma", value, "_".join(tokens[i - 1 : j]))
                    i = j
            elif key in ("z", "flat"):
                preset, i = key, i + 1
            else:
                shown = {"epsilon": "epsilon_<v>", "epsilon_std_x": "epsilon_<f>_std_x", "alpha_beta": "alpha_<a>_beta_<b>", "gamma": "gamma[_<v>]"}
                presets = ", ".join(shown.get(p, p) for p in lrp["presets"])
                raise self.fail("_".join(tokens[i:]) or prefix, f"unknown LRP preset after {prefix!r}; presets: {presets}")
        rule_def = lrp["input_rules"][prefix]
        preset_params = lrp["presets"][preset]["params"]
        while i < len(tokens):
            if tokens[i : i + 2] == ["ignore", "bias"] and "bias" in preset_params and "bias" not in values:
                values["bias"] = False
                i += 2
                continue
            if tokens[i] == "mu" and "mu" in rule_def["params"]:
                value, j = self.number(tokens, i + 1, "mu")
                values["mu"] = self.check("mu", value, "_".join(tokens[i:j]))
                i = j
                continue
            hint = "; only lrpsign takes _mu_<v>" if tokens[i] == "mu" else ""
            if tokens[i] == "ignore":
                hint = "; _ignore_bias follows z, epsilon_<v>, epsilon_<f>_std_x, alpha_<a>_beta_<b> or alpha_beta_x_<setting>, before _mu_<v>"
            raise self.fail("_".join(tokens[i:]), f"unexpected {tokens[i]!r} after the LRP preset {preset!r}{hint}")
        if model is not None and prefix != "zblrp":
            raise self.fail(model, f"model suffix {model!r} only sets z^B bounds and applies to zblrp names only")
        params: dict[str, Any] = {p: preset_default(preset, p, self.table) for p in preset_params}
        if prefix == "lrpsign":
            params["mu"] = None
        if prefix == "zblrp":
            params["low"] = self.table["parameters"]["low"]["default"]
            params["high"] = self.table["parameters"]["high"]["default"]
            if model is not None:
                params.update(self.table["model_suffixes"][model]["params"])
        params.update(values)
        return MethodSpec(
            name=self.name,
            base=f"{prefix}_{preset}",
            family="lrp",
            params=params,
            prefix=prefix,
            input_rule=_input_rule(self.table, prefix, params),
            preset=preset,
            model=model,
        )

    # -- values --------------------------------------------------------------------------
    def check(self, key: str, value: Any, part: str, keyword: bool = False, allow_none: bool = False) -> Any:
        """Validate one parameter value against the table (:mod:`shared_spec.parameters`); return it converted."""
        if keyword:
            return check_parameter(key, value, self.name, allow_none=allow_none)
        converted, problem = parameter_problem(key, value, allow_none, literal=str(value))
        if problem is not None:
            raise self.fail(part, f"{key} {problem}")
        return converted

    def check_alpha_beta(self, alpha: float, beta: float, part: str, keyword: bool) -> None:
        if abs(alpha - beta - 1.0) > 1e-9:
            problem = f"alpha - beta must be 1, got alpha={format(alpha, 'g')}, beta={format(beta, 'g')}"
            if keyword:
                raise MethodParameterError(f"{self.name}: {problem}")
            raise self.fail(part, problem)


def _looks_numeric(token: str) -> bool:
    """Whether a name part starts like a number (a digit, or a sign or point before digits)."""
    return token[:1].isdigit() or (token[:1] in "+-." and any(c.isdigit() for c in token))


def _is_float_literal(token: str) -> bool:
    """Whether ``token`` is a Python float literal with digits (``0.1``, ``1e-3``, ``-2``)."""
    try:
        float(token)
    except ValueError:
        return False
    return any(c.isdigit() for c in token)


def _parses(name: str) -> bool:
    """Whether ``name`` parses (warnings silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _Parser(name).parse()
    except MethodNameError:
        return False
    return True


def _bound_array(name: str, key: str, value: Any) -> np.ndarray:
    """A z^B bound as a float64 array (torch tensors are copied to the CPU)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodParameterError(
            f"{name}: parameter {key}={value!r}: must be a number or an array of numbers "
            "(scalar, one per input channel, or one sample's input shape)"
        ) from None


def check_bounds(name: str, low: Any, high: Any) -> None:
    """Check the z^B bounds: ``low < high`` in every element.

    Parameters
    ----------
    name : str
        The method name, for the message.
    low, high : float or array-like
        Scalars, per-channel arrays or arrays of one sample's shape. Element-wise comparison when
        both have the same shape or one is a scalar; other shape combinations are left to the
        packages, which know the input layout.

    Raises
    ------
    MethodParameterError
        If a bound is not numeric, or ``low >= high`` (or NaN) in some element; the message names
        the offending elements.
    """
    lo, hi = _bound_array(name, "low", low), _bound_array(name, "high", high)
    if lo.shape != hi.shape and lo.ndim and hi.ndim:
        return
    bad = ~(lo < hi)
    if not bad.any():
        return
    if bad.ndim == 0:
        raise MethodParameterError(
            f"{name}: the z^B bounds need low < high, got low={format(float(lo), 'g')}, high={format(float(hi), 'g')}"
        )

    def element(label: str, array: np.ndarray, index: tuple[int, ...]) -> str:
        if array.ndim == 0:
            return f"{label}={format(float(array), 'g')}"
        return f"{label}[{', '.join(map(str, index))}]={format(float(array[index]), 'g')}"

    offending = [tuple(int(k) for k in index) for index in np.argwhere(bad)]
    shown = "; ".join(f"{element('low', lo, i)} is not below {element('high', hi, i)}" for i in offending[:5])
    more = f"; and {len(offending) - 5} more" if len(offending) > 5 else ""
    raise MethodParameterError(
        f"{name}: the z^B bounds need low < high in every element; {len(offending)} of {bad.size} elements "
        f"{'is' if len(offending) == 1 else 'are'} not: {shown}{more}"
    )


def parse(name: str, **overrides: Any) -> MethodSpec:
    """Parse a method name into a :class:`MethodSpec`.

    Parameters
    ----------
    name : str
        A method name: a named method of :func:`shared_spec.list_methods` or a parametric form
        such as ``lrp_epsilon_0_37``, ``smoothgrad_noise_0_3_samples_50``,
        ``gradient_x_sign_mu_neg_0_25`` or ``lrpsign_epsilon_0_5_std_x_mu_0_5``.
    **overrides
        Parameter values that override the name (e.g. ``epsilon=0.3``, ``steps=100``,
        ``seed=0``, ``baseline=array``).

    Returns
    -------
    MethodSpec

    Raises
    ------
    MethodNameError
        If the name does not parse or a value written into it is out of range; the message
        names the bad part and suggests close valid names.
    MethodParameterError
        If a keyword is not a parameter of the method or its value is out of range.
    """
    parser = _Parser(name)
    spec = parser.parse()
    if not overrides:
        return spec
    params = dict(spec.params)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        valid = ", ".join(sorted(params)) or "none"
        raise MethodParameterError(f"{spec.name}: unknown parameter(s) {', '.join(unknown)}; valid parameters: {valid}")
    for key, value in overrides.items():
        # LRP's mu is optional (None: SIGN, a number: SIGNmu)
        allow_none = key == "mu" and spec.is_lrp
        params[key] = parser.check(key, value, key, keyword=True, allow_none=allow_none)
    if "alpha" in overrides or "beta" in overrides:
        parser.check_alpha_beta(params["alpha"], params["beta"], "alpha/beta", keyword=True)
    if ("low" in overrides or "high" in overrides) and "low" in params and "high" in params:
        check_bounds(spec.name, params["low"], params["high"])
    input_rule = _input_rule(parser.table, spec.prefix, params) if spec.is_lrp else None
    return MethodSpec(
        name=spec.name,
        base=spec.base,
        family=spec.family,
        params=params,
        multiplier=spec.multiplier,
        prefix=spec.prefix,
        input_rule=input_rule,
        preset=spec.preset,
        model=spec.model,
    )


def lrp_spec(prefix: str, preset: str, **params: Any) -> MethodSpec:
    """The :class:`MethodSpec` of an LRP method given by its parts, without writing and parsing a name.

    Parameters
    ----------
    prefix : str
        An input-rule prefix of the table (``lrp``, ``lrpsign``, ``lrpz``, ``zblrp``, ``w2lrp``,
        ``flatlrp``).
    preset : str
        A preset of the table (``z``, ``epsilon``, ``epsilon_std_x``, ``alpha_beta``, ``z_plus``,
        ``gamma``, ``flat``, ``w_square``, ``sequential_composite_a``, ``sequential_composite_b``).
    **params
        The preset's and the prefix's parameters (``epsilon``, ``std_factor``, ``alpha``/``beta``,
        ``gamma``, ``alpha_beta_bias``, ``mu`` for lrpsign, ``low``/``high`` for zblrp); each is
        checked against the table (:func:`shared_spec.check_parameter`); omitted ones take the
        table's default, and parameters without a default (``epsilon``...) must be given.

    Returns
    -------
    MethodSpec
        With the canonical name (``lrp_spec("lrpsign", "epsilon", epsilon=0.1).name ==
        "lrpsign_epsilon_0_1"``); ``parse(spec.name)`` gives the same rules where every parameter
        is one the name can carry.

    Raises
    ------
    MethodParameterError
        For an unknown prefix, preset or parameter, a missing parameter or a value out of range.
    """
    table = method_table()
    lrp = table["lrp"]
    where = f"{prefix}_{preset}"
    if prefix not in lrp["input_rules"]:
        raise MethodParameterError(f"unknown LRP prefix {prefix!r}; prefixes: {', '.join(lrp['input_rules'])}")
    if preset not in lrp["presets"]:
        raise MethodParameterError(f"unknown LRP preset {preset!r}; presets: {', '.join(lrp['presets'])}")
    keys = list(lrp["presets"][preset]["params"]) + list(lrp["input_rules"][prefix]["params"])
    unknown = sorted(set(params) - set(keys))
    if unknown:
        raise MethodParameterError(
            f"{where}: unknown parameter(s) {', '.join(unknown)}; valid parameters: {', '.join(keys) or 'none'}"
        )
    values: dict[str, Any] = {}
    for key in keys:
        optional = key == "mu"  # lrpsign: None is SIGN, a number SIGNmu
        if key in params:
            values[key] = check_parameter(key, params[key], where, allow_none=optional)
        elif optional:
            values[key] = None
        elif key in lrp["presets"][preset].get("defaults", {}) or "default" in table["parameters"][key]:
            values[key] = preset_default(preset, key, table)
        else:
            raise MethodParameterError(f"{where}: the parameter {key!r} is required")
    if preset == "alpha_beta":
        check_alpha_beta(values["alpha"], values["beta"], where)
    if prefix == "zblrp":
        check_bounds(where, values["low"], values["high"])
    words = {
        "epsilon": lambda: f"epsilon_{format_number(values['epsilon'])}",
        "epsilon_std_x": lambda: f"epsilon_{format_number(values['std_factor'])}_std_x",
        "alpha_beta": lambda: f"alpha_{format_number(values['alpha'])}_beta_{format_number(values['beta'])}",
        "gamma": lambda: "gamma"
        if values["gamma"] == table["parameters"]["gamma"]["default"]
        else f"gamma_{format_number(values['gamma'])}",
    }
    if preset == "alpha_beta_x":
        settings = lrp["presets"]["alpha_beta_x"]["settings"]
        named = [k for k, v in settings.items() if all(tuple(v[p]) == values[p] for p in v)]
        # other weights have no name of their own: the name says alpha_beta_x (keyword-only values)
        words["alpha_beta_x"] = lambda: "alpha_beta_x_" + named[0] if named else "alpha_beta_x"
    name = f"{prefix}_{words[preset]() if preset in words else preset}"
    if values.get("bias") is False:
        name += "_ignore_bias"
    if values.get("mu") is not None:
        name += f"_mu_{format_number(values['mu'])}"
    return MethodSpec(
        name=name,
        base=where,
        family="lrp",
        params=values,
        prefix=prefix,
        input_rule=_input_rule(table, prefix, values),
        preset=preset,
    )
