"""The table's parameters: the one place where defaults, types, ranges and choices are checked.

Every entry of ``methods.json``'s ``parameters`` section declares a parameter's ``type``
(``int``, ``float``, ``str``, ``bool``, ``pair`` of floats, ``array``, ``float_or_array``), its ``default`` and its range
(``min``, ``min_exclusive``, ``choices``). :func:`check_parameter` enforces exactly that and is
used by the name grammar, by the PyTorch classes and rules, by the TensorFlow functions and by
the iNNvestigate-style analyzers, so that a value accepted in one place is accepted everywhere.
:func:`parameter_default` gives the default that public signatures use.

No framework is imported here.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from .errors import MethodParameterError
from .table import method_table

__all__ = ["check_parameter", "check_parameters", "check_alpha_beta", "parameter_default", "parameter_problem"]

_NO_DEFAULT = object()


def _definition(key: str) -> dict[str, Any]:
    try:
        return method_table()["parameters"][key]
    except KeyError:
        raise KeyError(f"{key!r} is not a parameter of the method table") from None


def parameter_default(key: str) -> Any:
    """The table's default of parameter ``key`` (``None`` where the table has ``null``).

    Raises
    ------
    KeyError
        If ``key`` is not a table parameter or has no default (e.g. ``epsilon``).
    """
    pdef = _definition(key)
    if "default" not in pdef:
        raise KeyError(f"the table parameter {key!r} has no default: it must be given")
    return pdef["default"]


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, Decimal)):
        return True
    # numpy scalars and 0-d arrays / tensors without importing numpy
    return hasattr(value, "__float__") and tuple(getattr(value, "shape", ())) == () and hasattr(value, "dtype")


def parameter_problem(key: str, value: Any, allow_none: bool = False, literal: str | None = None) -> tuple[Any, str | None]:
    """Check one value against the table without raising.

    Parameters
    ----------
    key : str
        The table parameter.
    value : Any
        The value.
    allow_none : bool, default False
        Accept ``None`` even where the table's default is not ``None`` (optional parameters such as
        LRP's ``mu``: ``None`` is SIGN, a number SIGNmu).
    literal : str, optional
        The text the value was read from in a method name (an ``int`` must then be written
        without a decimal point).

    Returns
    -------
    (converted, problem)
        The value converted to the table's type, and ``None``; or the value and a description
        of what is wrong (``"must be >= 1, got 0"``).
    """
    pdef = _definition(key)
    kind = pdef["type"]
    if value is None:
        if allow_none or ("default" in pdef and pdef["default"] is None):
            return None, None
        return value, "must not be None"
    if kind == "array" or (kind == "float_or_array" and not _is_number(value)):
        return value, None
    if kind == "bool":
        if not isinstance(value, bool) and not (hasattr(value, "dtype") and str(getattr(value, "dtype")) == "bool"):
            return value, f"must be True or False, got {value!r}"
        return bool(value), None
    if kind == "pair":
        items = list(value) if isinstance(value, (tuple, list)) else None
        if items is None or len(items) != 2 or not all(_is_number(v) and math.isfinite(float(v)) for v in items):
            return value, f"must be a pair of two finite numbers, e.g. (1, 0), got {value!r}"
        return (float(items[0]), float(items[1])), None
    if kind == "str":
        if not isinstance(value, str):
            return value, f"must be a string, got {type(value).__name__}"
        if "choices" in pdef and value not in pdef["choices"]:
            return value, f"must be one of {pdef['choices']}, got {value!r}"
        return value, None
    if not _is_number(value):
        return value, f"must be a number, got {type(value).__name__}"
    number = float(value)
    if not math.isfinite(number):
        return value, "must be finite"
    converted: float | int
    if kind == "int":
        if number != int(number) or (literal is not None and "." in literal):
            return value, "must be an integer"
        converted = int(number)
    else:
        converted = number
    if "min" in pdef and number < pdef["min"]:
        return value, f"must be >= {format(pdef['min'], 'g')}, got {format(number, 'g')}"
    if "min_exclusive" in pdef and number <= pdef["min_exclusive"]:
        return value, f"must be > {format(pdef['min_exclusive'], 'g')}, got {format(number, 'g')}"
    return converted, None


def check_parameter(key: str, value: Any, where: str, allow_none: bool = False) -> Any:
    """Validate one parameter value against the table; return it converted to the table's type.

    Parameters
    ----------
    key : str
        The table parameter (``"steps"``, ``"epsilon"``, ``"noise_mode"``...).
    value : Any
        The value given by the user.
    where : str
        Who asks (a method name, a class or function name), for the message.
    allow_none : bool, default False
        See :func:`parameter_problem`.

    Raises
    ------
    MethodParameterError
        Naming ``where``, the parameter, the value and the allowed range.
    """
    converted, problem = parameter_problem(key, value, allow_none)
    if problem is not None:
        doc = _definition(key).get("doc")
        raise MethodParameterError(f"{where}: parameter {key}={value!r}: {problem}" + (f" ({key}: {doc})" if doc else ""))
    return converted


def check_parameters(where: str, **values: Any) -> dict[str, Any]:
    """:func:`check_parameter` for several keyword values; returns the converted values."""
    return {key: check_parameter(key, value, where) for key, value in values.items()}


def check_alpha_beta(alpha: Any, beta: Any, where: str) -> tuple[float, float]:
    """Check ``alpha`` and ``beta`` against the table and ``alpha - beta = 1``; return them as floats."""
    alpha = check_parameter("alpha", alpha, where)
    beta = check_parameter("beta", beta, where)
    if abs(alpha - beta - 1.0) > 1e-9:
        raise MethodParameterError(
            f"{where}: alpha - beta must be 1, got alpha={format(alpha, 'g')}, beta={format(beta, 'g')}"
        )
    return alpha, beta
