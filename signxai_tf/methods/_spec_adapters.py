"""``MethodSpec`` -> call of integrated gradients, SmoothGrad, VarGrad and Grad-CAM (used by ``explain``)."""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from shared_spec import MethodSpec

from .grad_cam import grad_cam, grad_cam_timeseries
from .integrated_gradients import integrated_gradients
from .smoothgrad import smoothgrad, vargrad

__all__ = ["GRADIENT_FAMILY_METHODS"]


def _integrated_gradients(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    p = spec.params
    return integrated_gradients(
        model, x, target, steps=p["steps"], baseline=p["baseline"], batch_size=p["batch_size"],
        multiplier=spec.multiplier, mu=p.get("mu", 0.0),
    )


def _noise_method(function: Callable[..., tf.Tensor]) -> Callable[[keras.Model, tf.Tensor, Any, MethodSpec], tf.Tensor]:
    def run(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
        p = spec.params
        return function(
            model, x, target, samples=p["samples"], noise=p["noise"], noise_mode=p["noise_mode"], seed=p["seed"],
            batch_size=p["batch_size"], multiplier=spec.multiplier, mu=p.get("mu", 0.0),
        )

    return run


def _grad_cam(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    return grad_cam(model, x, target, layer=spec.params.get("layer"), model_name=spec.model)


def _grad_cam_timeseries(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
    return grad_cam_timeseries(model, x, target, layer=spec.params.get("layer"))


GRADIENT_FAMILY_METHODS: dict[str, Callable[[keras.Model, tf.Tensor, Any, MethodSpec], tf.Tensor]] = {
    "integrated_gradients": _integrated_gradients,
    "smoothgrad": _noise_method(smoothgrad),
    "vargrad": _noise_method(vargrad),
    "grad_cam": _grad_cam,
    "grad_cam_timeseries": _grad_cam_timeseries,
}
