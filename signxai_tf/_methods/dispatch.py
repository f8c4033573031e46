"""Method-table families -> computations: the one dispatch table of signxai_tf (used by ``explain``).

Each entry is ``(model, x, target, spec) -> tf.Tensor`` on a softmax-free model.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from shared_spec import MethodSpec, method_table

from .grad_cam import grad_cam, grad_cam_timeseries
from .gradient import gradient
from .guided_backprop import deconvnet, guided_backprop, guided_grad_cam
from .integrated_gradients import integrated_gradients
from .lrp import deep_taylor_method, lrp_method
from .smoothgrad import smoothgrad, vargrad

__all__ = ["DISPATCH"]

Method = Callable[[keras.Model, tf.Tensor, Any, MethodSpec], tf.Tensor]


def _mu(spec: MethodSpec) -> float:
    mu = spec.params.get("mu")
    return 0.0 if mu is None else float(mu)


def _modified_gradient(function: Callable[..., tf.Tensor]) -> Method:
    """gradient / guided_backprop / deconvnet with the name's multiplier."""

    def run(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
        return function(model, x, target, multiplier=spec.multiplier, mu=_mu(spec))

    return run


def _family_params(spec: MethodSpec) -> dict[str, Any]:
    """The parameters the table lists for the method's family, with the name's values."""
    return {key: spec.params[key] for key in method_table()["families"][spec.family]["params"]}


def _sampled_method(function: Callable[..., tf.Tensor]) -> Method:
    """integrated_gradients / smoothgrad / vargrad with the family's parameters and the name's multiplier."""

    def run(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
        return function(model, x, target, multiplier=spec.multiplier, mu=_mu(spec), **_family_params(spec))

    return run


def _cam(function: Callable[..., tf.Tensor], with_model: bool = True) -> Method:
    def run(model: keras.Model, x: tf.Tensor, target: Any, spec: MethodSpec) -> tf.Tensor:
        extra = {"model_name": spec.model} if with_model else {}
        return function(model, x, target, layer=spec.params.get("layer"), **extra)

    return run


#: family -> computation, for every family of the method table.
DISPATCH: dict[str, Method] = {
    "gradient": _modified_gradient(gradient),
    "guided_backprop": _modified_gradient(guided_backprop),
    "deconvnet": _modified_gradient(deconvnet),
    "integrated_gradients": _sampled_method(integrated_gradients),
    "smoothgrad": _sampled_method(smoothgrad),
    "vargrad": _sampled_method(vargrad),
    "grad_cam": _cam(grad_cam),
    "grad_cam_timeseries": _cam(grad_cam_timeseries, with_model=False),
    "guided_grad_cam": _cam(guided_grad_cam),
    "lrp": lrp_method,
    "deep_taylor": deep_taylor_method,
    "deep_taylor_bounded": deep_taylor_method,
}
