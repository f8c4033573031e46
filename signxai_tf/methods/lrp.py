"""LRP methods of the table (``lrp_*``, ``lrpsign_*``, ``lrpz_*``, ``zblrp_*``, ``w2lrp_*``, ``flatlrp_*``)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from shared_spec import MethodSpec

from ..lrp.engine import lrp

__all__ = ["lrp_method"]


def lrp_method(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec, seed: str = "logit") -> tf.Tensor:
    """Relevance of a batch under the rules of an LRP method (``spec.lrp_rules()``), SPEC §4.

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
    seed : {"logit", "unit"}
        Start from f_c(x) (default, SPEC §1) or from 1.
    """
    return lrp(model, x, target, spec.lrp_rules(), seed=seed, method=spec.name)
