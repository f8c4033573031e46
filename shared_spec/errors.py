"""The exception hierarchy of signxai-captum, shared by both packages and the converter.

Every error this project raises on purpose derives from :class:`SignXAIError`, so
``except SignXAIError`` catches them all, while each also derives from the built-in exception a
user would expect (``ValueError`` for a bad name or value, ``NotImplementedError`` for a layer
without a treatment), so code written against the built-ins keeps working::

    SignXAIError
    ├── MethodNameError(ValueError)        a method name that does not parse / is out of range
    ├── MethodParameterError(ValueError)   a keyword or constructor argument out of the table's range
    └── UnsupportedLayerError(NotImplementedError)
                                           a layer or operation an engine or the converter cannot treat

No framework is imported here.
"""

from __future__ import annotations

import difflib
from typing import Sequence

__all__ = ["SignXAIError", "MethodNameError", "MethodParameterError", "UnsupportedLayerError"]


class SignXAIError(Exception):
    """Base class of the errors raised by signxai_captum, signxai_tf and the converter."""


class MethodNameError(SignXAIError, ValueError):
    """A method name that does not parse, or that carries a parameter out of range.

    Attributes
    ----------
    name : str
        The name as given.
    part : str
        The part of the name that is wrong.
    problem : str
        What is wrong with it.
    suggestions : list of str
        Close valid names (the corrected name where the mistake is clear, e.g. the lower-case
        spelling of an upper-case name).
    """

    def __init__(self, name: str, part: str, problem: str, suggestions: list[str] | None = None) -> None:
        self.name = name
        self.part = part
        self.problem = problem
        if suggestions is None:
            from .table import list_methods

            suggestions = difflib.get_close_matches(name, list_methods(include_deprecated=False), n=5, cutoff=0.6)
        self.suggestions = list(suggestions)
        message = f"invalid method name {name!r}: {problem} (at {part!r})."
        if self.suggestions:
            message += " Did you mean: " + ", ".join(self.suggestions) + "?"
        if "number" in problem or "integer" in problem:
            message += (
                " Numbers use '_' as the decimal point and 'neg_' for minus, e.g. lrp_epsilon_0_1, "
                "gradient_x_sign_mu_neg_0_5."
            )
        super().__init__(message)


class MethodParameterError(SignXAIError, ValueError):
    """A parameter that the method does not take, or whose value is outside the table's range."""


class UnsupportedLayerError(SignXAIError, NotImplementedError):
    """A layer (or operation) that an LRP engine or the converter has no treatment for.

    The message names the layer, its type, what was tried and the options the user has.

    Parameters
    ----------
    message : str
        The full explanation.
    layer : str, optional
        The layer's name (Keras) or module path (PyTorch), or the operation and where it is.
    layer_type : str, optional
        The layer's class name.
    options : sequence of str, optional
        What the user can do instead (kept as an attribute for programs).
    """

    def __init__(
        self, message: str, layer: str | None = None, layer_type: str | None = None, options: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.layer = layer
        self.layer_type = layer_type
        self.options = tuple(options)
