"""The gradient and its input-multiplied variants: ``gradient``, ``gradient_x_input``, ``gradient_x_sign(_mu)``."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable

import keras
import tensorflow as tf

from shared_spec import check_parameter, parameter_default

from .._batch import select_logits, target_inputs, warn_if_probabilities
from .._multipliers import apply_multiplier
from .._tracing import quiet_retracing

__all__ = ["gradient", "logit_gradient"]

logger = logging.getLogger(__name__)

Compiled = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
#: one compiled forward-backward pass per model (weakly keyed: the cache keeps no model alive);
#: None marks a model that cannot be traced (then the gradient is taken eagerly)
_COMPILED: "weakref.WeakKeyDictionary[keras.Model, Compiled | None]" = weakref.WeakKeyDictionary()
#: errors that mean "this model's call cannot be traced by tf.function" (the eager pass is used)
_TRACING_ERRORS = (TypeError, ValueError, NotImplementedError, tf.errors.OperatorNotAllowedInGraphError)


def _compiled_gradient(model: keras.Model) -> Compiled | None:
    """``(x, targets, use_argmax) -> (d f_c / d x, logits)`` compiled once per model, or None.

    The batch axis is left open, so a new batch size does not retrace; the target (given or the
    argmax, chosen in the graph) is an input, so a new target does not retrace either.
    """
    if model in _COMPILED:
        return _COMPILED[model]
    try:
        spec = model.inputs[0]
        classes = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        spec, classes = None, None
    if spec is None or classes is None or len(model.inputs) != 1:
        _COMPILED[model] = None
        return None
    model_ref = weakref.ref(model)
    x_spec = tf.TensorSpec([None, *spec.shape[1:]], spec.dtype or tf.float32)

    @tf.function(input_signature=[x_spec, tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.bool)])
    def run(x: tf.Tensor, targets: tf.Tensor, use_argmax: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = model_ref()(x, training=False)
            chosen = tf.cond(use_argmax, lambda: tf.argmax(logits, axis=1, output_type=tf.int64), lambda: targets)
            selected = tf.gather(logits, chosen, axis=1, batch_dims=1)
        return tape.gradient(selected, x), logits

    _COMPILED[model] = run
    return run


def _eager_gradient(model: keras.Model, x: tf.Tensor, target: Any) -> tf.Tensor:
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        selected, _ = select_logits(logits, target)
    return tape.gradient(selected, x)


def logit_gradient(model: keras.Model, x: tf.Tensor, target: Any) -> tf.Tensor:
    """d f_c / d x for each sample's selected class c (unit seed), in inference mode.

    One compiled forward-backward pass per call (:func:`_compiled_gradient`); models that cannot
    be traced (a subclassed model with Python control flow on tensors) get the eager pass.
    """
    run = _compiled_gradient(model)
    if run is None:
        return _eager_gradient(model, x, target)
    targets, use_argmax = target_inputs(target, int(x.shape[0]), int(model.outputs[0].shape[-1]))
    try:
        with quiet_retracing():
            grads, logits = run(x, targets, use_argmax)
    except _TRACING_ERRORS as error:
        if run.experimental_get_tracing_count() > 0:
            raise
        logger.info("gradient: %s cannot be traced by tf.function (%s); using the eager pass", model.name, error)
        _COMPILED[model] = None
        return _eager_gradient(model, x, target)
    warn_if_probabilities(logits)
    return grads


def gradient(
    model: keras.Model, x: tf.Tensor, target: Any = None, multiplier: str | None = None, mu: float = parameter_default("mu")
) -> tf.Tensor:
    """``gradient`` / ``gradient_x_input`` / ``gradient_x_sign(_mu)`` on a logit model.

    Parameters
    ----------
    model : keras.Model
        A model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample (None: argmax).
    multiplier : {None, "input", "sign"}
        Multiply the gradient by x or by sign_mu(x, mu).
    mu : float
        Threshold of sign_mu.
    """
    mu = check_parameter("mu", mu, "gradient")
    return apply_multiplier(logit_gradient(model, x, target), x, multiplier, mu)
