"""Explain logits, not probabilities: a softmax-free view of a Keras model."""

from __future__ import annotations

import weakref

import keras
import numpy as np

__all__ = ["remove_softmax", "output_layer"]

# model -> its softmax-free view, so repeated explanations reuse one model (and its traced graphs)
_LOGIT_MODELS: "weakref.WeakKeyDictionary[keras.Model, keras.Model]" = weakref.WeakKeyDictionary()
# logit view -> (original variable, copy) of the output layer copied without its softmax: the copy
# follows later ``set_weights`` / assignments on the original at every lookup
_SYNCED: "weakref.WeakKeyDictionary[keras.Model, tuple]" = weakref.WeakKeyDictionary()


def _is_softmax(activation: object) -> bool:
    return activation is keras.activations.softmax or getattr(activation, "__name__", None) == "softmax"


def _single_input(model: keras.Model):
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no defined inputs yet; build it with keras.Input(...) "
            "or call it once on a batch before explaining it"
        )
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise NotImplementedError(
            f"model {model.name!r} has {len(inputs)} inputs and {len(model.outputs)} outputs; "
            "signxai_tf explains models with one input and one output"
        )
    return inputs[0]


def _output_call(model: keras.Model):
    # imported here: the LRP engine imports this module
    from .lrp._graph import output_call

    _single_input(model)
    return output_call(model)


def output_layer(model: keras.Model) -> keras.layers.Layer:
    """Return the layer that produces the model's output (one input, one output).

    Found through the model's own graph, so it also works when the layer is used by other
    models too (e.g. a functional model built from the layers of a Sequential model).
    """
    return _output_call(model).layer


def remove_softmax(model: keras.Model) -> keras.Model:
    """Return a model that computes the logits of ``model``, leaving ``model`` untouched.

    If the output layer is a ``Softmax`` layer or ``Activation("softmax")``, the result is a
    functional model over the same layers ending at that layer's input. If the output layer is
    a Dense/Conv layer with ``activation="softmax"``, the result ends with a copy of that layer
    with a linear activation and the same weights (copied again at every call, so the view follows
    later ``set_weights`` on the model). The original model and its layers are not modified; all
    other layers (and their weights) are shared.

    Parameters
    ----------
    model : keras.Model
        A built Keras 3 model with one input and one output.

    Returns
    -------
    keras.Model
        ``model`` itself when its output layer has no softmax, otherwise a softmax-free model.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    cached = _LOGIT_MODELS.get(model)
    if cached is not None:
        for original, copy in _SYNCED.get(cached, ()):
            copy.assign(original)  # the weights may have changed since the view was made
        return cached
    logits = _logit_model(model)
    if logits is not model:  # a value that is its own key would never be freed
        _LOGIT_MODELS[model] = logits
    return logits


def _logit_model(model: keras.Model) -> keras.Model:
    inputs = _single_input(model)
    call = _output_call(model)
    last = call.layer
    if len(call.inputs) != 1:
        return model
    last_input = call.inputs[0]  # this model's tensor, not ``last.input`` (ambiguous for shared layers)
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(last.activation)
    ):
        return keras.Model(inputs, last_input, name=f"{model.name}_logits")
    if _is_softmax(getattr(last, "activation", None)):
        config = last.get_config()
        config["activation"] = "linear"
        config["name"] = f"{last.name}_logits"
        clone = last.__class__.from_config(config)
        clone.build(last_input.shape)
        clone.set_weights([np.asarray(w) for w in last.get_weights()])
        logits = keras.Model(inputs, clone(last_input), name=f"{model.name}_logits")
        _SYNCED[logits] = tuple(zip(last.weights, clone.weights))
        return logits
    return model


def looks_like_probabilities(output: np.ndarray) -> bool:
    """Heuristic: rows that are non-negative and sum to 1 (a softmax we could not strip)."""
    return bool(
        output.ndim == 2
        and output.shape[1] > 1
        and np.all(output >= 0)
        and np.allclose(output.sum(axis=1), 1.0, atol=1e-5)
    )
