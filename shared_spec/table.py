"""Access to the method table ``methods.json`` shipped with this package."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["method_table", "list_methods", "model_constants"]


@functools.lru_cache(maxsize=1)
def method_table() -> dict[str, Any]:
    """Return the parsed method table (``shared_spec/methods.json``).

    Returns
    -------
    dict
        The table. Treat it as read-only: it is cached and shared.
    """
    text = resources.files(__package__).joinpath("methods.json").read_text(encoding="utf-8")
    return json.loads(text)


def list_methods(include_deprecated: bool = True) -> list[str]:
    """Return the canonical named methods of the table.

    Parameters
    ----------
    include_deprecated : bool, default True
        Include the four names of the original table whose model suffix carries a typo
        (e.g. ``zblrp_epsilon_10_VGG106ILSVRC``); they parse with a ``DeprecationWarning``.

    Returns
    -------
    list of str
        Every named method, in table order. Parametric names beyond these also parse.
    """
    table = method_table()
    names = list(table["named_methods"])
    if include_deprecated:
        return names
    typos = tuple("_" + s for s in table["deprecated_model_suffixes"])
    return [n for n in names if not n.endswith(typos)]


def model_constants(model: str) -> dict[str, Any]:
    """Return the constants carried by a model suffix such as ``"VGG16ILSVRC"``.

    Parameters
    ----------
    model : str
        A model suffix of the table (deprecated spellings are accepted).

    Returns
    -------
    dict
        ``{"params": {...}, "grad_cam_layer": {"torch": ..., "tf": ...}, ...}``.

    Raises
    ------
    KeyError
        If the suffix is unknown.
    """
    table = method_table()
    model = table["deprecated_model_suffixes"].get(model, model)
    try:
        return table["model_suffixes"][model]
    except KeyError:
        known = ", ".join(sorted(table["model_suffixes"]))
        raise KeyError(f"unknown model suffix {model!r}; known suffixes: {known}") from None
