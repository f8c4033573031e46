"""LRP methods of the table (``lrp_*``, ``lrpsign_*``, ``lrpz_*``, ``zblrp_*``, ``w2lrp_*``, ``flatlrp_*``)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from shared_spec import LRPRule, MethodSpec, parameter_default

from ..lrp._engine import deep_taylor, lrp

__all__ = ["deep_taylor_method", "lrp_method"]


def lrp_method(
    model: keras.Model,
    x: tf.Tensor,
    target: Any,
    spec: MethodSpec,
    initial_relevance: str = parameter_default("initial_relevance"),
) -> tf.Tensor:
    """Relevance of a batch under the rules of an LRP method (``spec.lrp_rules()``), docs/semantics.md §4.

    Parameters
    ----------
    model : keras.Model
        A model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample (None: argmax).
    spec : shared_spec.MethodSpec
        A parsed LRP method name.
    initial_relevance : {"logit", "one"}
        Start from f_c(x) (default, docs/semantics.md §1) or from 1.
    """
    return lrp(model, x, target, spec.lrp_rules(), initial_relevance=initial_relevance, method=spec.name)


def deep_taylor_method(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    """``deep_taylor`` and ``deep_taylor_bounded`` (Bounded(low, high) on the input layers), docs/semantics.md §4.4."""
    bounded = spec.family == "deep_taylor_bounded"
    rule = LRPRule("bounded", {"low": spec.params["low"], "high": spec.params["high"]}) if bounded else None
    return deep_taylor(model, x, target, rule, method=spec.name)
