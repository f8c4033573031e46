"""``explain`` adapters (model, x, target, spec) for LRP, guided backprop, deconvnet and guided Grad-CAM."""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from shared_spec import MethodSpec

from .guided_backprop import deconvnet, guided_backprop, guided_grad_cam
from .lrp import lrp_method

__all__ = ["MODIFIED_BACKWARD_METHODS"]


def _mu(spec: MethodSpec) -> float:
    mu = spec.params.get("mu")
    return 0.0 if mu is None else float(mu)


def _guided_backprop(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    return guided_backprop(model, x, target, multiplier=spec.multiplier, mu=_mu(spec))


def _deconvnet(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    return deconvnet(model, x, target, multiplier=spec.multiplier, mu=_mu(spec))


def _guided_grad_cam(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    return guided_grad_cam(model, x, target, layer=spec.params.get("layer"), model_name=spec.model)


MODIFIED_BACKWARD_METHODS: dict[str, Callable[[keras.Model, tf.Tensor, Any, MethodSpec], tf.Tensor]] = {
    "lrp": lrp_method,
    "guided_backprop": _guided_backprop,
    "deconvnet": _deconvnet,
    "guided_grad_cam": _guided_grad_cam,
}
