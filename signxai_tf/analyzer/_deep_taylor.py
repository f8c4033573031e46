"""iNNvestigate's DeepTaylor analyzers, each a call of :func:`signxai_tf.explain` (docs/semantics.md §4.4)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import MethodParameterError, check_parameter

from .._explain import explain
from ._base import AnalyzerBase

__all__ = ["DeepTaylor", "BoundedDeepTaylor"]


class DeepTaylor(AnalyzerBase):
    """DeepTaylor (``explain(..., "deep_taylor")``): starts from ``max(f_c(x), 0)``; kernel layers that
    feed a ReLU use ZPlus, the others WSquare; ReLU, pooling and sums pass the gradient.

    Parameters
    ----------
    model : keras.Model
        A ReLU network without final softmax.
    neuron_selection_mode : {"max_activation", "index", "all"}
        ``"all"``: the maps of every output summed (DeepTaylor is linear in the start relevance).
    """

    _method = "deep_taylor"

    def _params(self) -> dict[str, Any]:
        return {}

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        return explain(self._model, x, self._method, target=target, **self._params())


class BoundedDeepTaylor(DeepTaylor):
    """BoundedDeepTaylor (``explain(..., "deep_taylor_bounded", low=..., high=...)``): DeepTaylor with
    Bounded(low, high) on the input layer(s).

    Parameters
    ----------
    model : keras.Model
        A ReLU network without final softmax.
    low, high : float or array
        The input range; both must be given, as in iNNvestigate.
    neuron_selection_mode : {"max_activation", "index", "all"}
        As for :class:`DeepTaylor`.
    """

    _method = "deep_taylor_bounded"

    def __init__(
        self, model: keras.Model, low: Any = None, high: Any = None, neuron_selection_mode: str = "max_activation"
    ) -> None:
        if low is None or high is None:
            raise MethodParameterError(
                "BoundedDeepTaylor: give both low and high, the range of the input values (e.g. low=-1, high=1)"
            )
        self._low = check_parameter("low", low, "BoundedDeepTaylor")
        self._high = check_parameter("high", high, "BoundedDeepTaylor")
        super().__init__(model, neuron_selection_mode)

    def _params(self) -> dict[str, Any]:
        return {"low": self._low, "high": self._high}
