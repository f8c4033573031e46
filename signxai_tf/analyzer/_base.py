"""The analyzer interface of iNNvestigate: a model, a neuron selection mode, ``analyze(X, neuron_selection)``."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import MethodParameterError, UnsupportedLayerError, resolve_targets

from .._batch import as_batch
from .._softmax import output_layer, remove_softmax

__all__ = ["AnalyzerBase", "NEURON_SELECTION_MODES", "model_wo_softmax"]

#: iNNvestigate's neuron selection modes
NEURON_SELECTION_MODES = ("max_activation", "index", "all")


def model_wo_softmax(model: keras.Model) -> keras.Model:
    """The model without its final softmax (iNNvestigate's ``model_wo_softmax``; :func:`signxai_tf.remove_softmax`).

    Unlike iNNvestigate, a model without a final softmax is returned as it is (iNNvestigate raises
    "No softmax found."). The model itself is not modified; the layers are shared.
    """
    return remove_softmax(model)


def _checked_model(model: Any, where: str) -> keras.Model:
    if not isinstance(model, keras.Model):
        raise TypeError(f"{where}: model must be a keras.Model, got {type(model).__name__}")
    if remove_softmax(model) is not model:
        layer = output_layer(model)
        raise UnsupportedLayerError(
            f"{where}: the model ends in a softmax (layer {layer.name!r}, {type(layer).__name__}); iNNvestigate's "
            "analyzers explain models without it: pass model_wo_softmax(model) (signxai_tf.analyzer.model_wo_softmax), "
            "or use signxai_tf.explain, which explains the logits of such a model",
            layer=layer.name,
            layer_type=type(layer).__name__,
            options=("signxai_tf.analyzer.model_wo_softmax(model)", "signxai_tf.explain"),
        )
    return model


class AnalyzerBase:
    """Base class of the analyzers (iNNvestigate's ``AnalyzerBase`` interface).

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional Keras 3 model with one input and one output ``(batch, classes)``
        and without a final softmax (a softmax raises ``UnsupportedLayerError``: use
        :func:`model_wo_softmax`).
    neuron_selection_mode : {"max_activation", "index", "all"}
        Which output is explained: the largest per sample (default), the one given to
        :meth:`analyze`, or all outputs summed.
    """

    #: whether neuron_selection_mode="all" is offered (False where the map is not linear in the seed)
    _supports_all = True

    def __init__(self, model: keras.Model, neuron_selection_mode: str = "max_activation") -> None:
        where = type(self).__name__
        self._model = _checked_model(model, where)
        if neuron_selection_mode not in NEURON_SELECTION_MODES:
            raise MethodParameterError(
                f"{where}: neuron_selection_mode={neuron_selection_mode!r}; must be one of {NEURON_SELECTION_MODES}"
            )
        if neuron_selection_mode == "all" and not self._supports_all:
            raise MethodParameterError(f"{where}: neuron_selection_mode='all' is not offered: {self._all_refusal()}")
        self._neuron_selection_mode = neuron_selection_mode

    @property
    def model(self) -> keras.Model:
        """The analyzed model."""
        return self._model

    @property
    def neuron_selection_mode(self) -> str:
        """``"max_activation"``, ``"index"`` or ``"all"``."""
        return self._neuron_selection_mode

    # -- to implement ---------------------------------------------------------------------
    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        """The map of the outputs ``target`` (an array with one class per sample) before :meth:`_finish`."""
        raise NotImplementedError

    def _finish(self, x: tf.Tensor, total: np.ndarray, call: dict) -> np.ndarray:
        """Post-processing after the maps of the selected outputs are summed (default: none)."""
        return total

    def _prepare_call(self, x: tf.Tensor) -> dict:
        """State shared by the per-output maps of one analyze call (e.g. SmoothGrad's noise seed)."""
        return {}

    def _all_refusal(self) -> str:
        return "this analyzer's map is not linear in the output seed"

    # -- the interface --------------------------------------------------------------------
    def _as_batch(self, X: Any) -> tf.Tensor:
        if isinstance(X, (list, tuple)) and len(X) == 1 and (isinstance(X[0], (np.ndarray, tf.Tensor))):
            if np.ndim(X[0]) == len(self._model.inputs[0].shape):
                X = X[0]  # iNNvestigate's list of model inputs, for a model with one input
        return as_batch(X, self._model)

    def analyze(self, X: Any, neuron_selection: Any = None) -> np.ndarray:
        """Explain a batch.

        Parameters
        ----------
        X : array-like or tf.Tensor
            A batch in the model's layout (or a list holding it, as iNNvestigate accepts for
            models with one input).
        neuron_selection : None, int or sequence of int
            With ``neuron_selection_mode="index"`` only, and then required: the output to explain,
            one for all samples or one per sample.

        Returns
        -------
        numpy.ndarray
            One map per sample, ``X``'s shape.

        Raises
        ------
        shared_spec.MethodParameterError
            For ``neuron_selection`` given in another mode than ``"index"``, or missing in it.
        """
        where = type(self).__name__
        mode = self._neuron_selection_mode
        if mode == "index" and neuron_selection is None:
            raise MethodParameterError(f"{where}: neuron_selection_mode 'index' needs analyze(X, neuron_selection=...)")
        if mode != "index" and neuron_selection is not None:
            raise MethodParameterError(
                f"{where}: neuron_selection is given, but neuron_selection_mode is {mode!r}; create the analyzer "
                "with neuron_selection_mode='index' to choose the output"
            )
        x = self._as_batch(X)
        call = self._prepare_call(x)
        logits = self._model(x, training=False)
        call.setdefault("logits", logits)
        if mode == "all":
            resolve_targets(None, logits)  # the output must be (batch, classes)
            n, classes = int(x.shape[0]), int(logits.shape[1])
            total = None
            for c in range(classes):
                part = np.asarray(self._map(x, np.full(n, c, np.int64), call))
                total = part if total is None else total + part
            return np.asarray(self._finish(x, total, call))
        targets = resolve_targets(neuron_selection if mode == "index" else None, logits)
        return np.asarray(self._finish(x, np.asarray(self._map(x, targets, call)), call))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._model.name!r}, neuron_selection_mode={self._neuron_selection_mode!r})"
