"""Method-table families -> configured attributions: the one dispatch table of signxai_captum.

:data:`FACTORIES` maps each family of ``shared_spec`` to a factory
``(model, spec) -> SignXAIAttribution``; :func:`signxai_captum.attribution_for` uses it.
Suffix variants map to the classes of the same name: ``guided_backprop_x_sign_mu_0_5`` ->
``GuidedBackpropXSign(model, mu=0.5)``, ``smoothgrad_x_input`` -> ``SmoothGradXInput(model, ...)``.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from shared_spec import MethodSpec, model_constants

from .methods.base import SignXAIAttribution
from .methods.gradient import Gradient, GradientXInput, GradientXSign
from .methods.lrp import LRP
from .methods.deconvnet import Deconvnet, DeconvnetXInput, DeconvnetXSign
from .methods.grad_cam import GradCAM, GradCAMTimeseries, GuidedGradCAM, check_model_layer
from .methods.guided_backprop import GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign
from .methods.integrated_gradients import (
    IntegratedGradients,
    IntegratedGradientsXInput,
    IntegratedGradientsXSign,
)
from .methods.smoothgrad import SmoothGrad, SmoothGradXInput, SmoothGradXSign, VarGrad, VarGradXInput, VarGradXSign

__all__ = ["FACTORIES"]

Factory = Callable[[nn.Module, MethodSpec], SignXAIAttribution]


def _variants(plain: type, x_input: type, x_sign: type, keys: tuple[str, ...]) -> Factory:
    """A factory choosing the class by the name's multiplier and passing the parameters ``keys``."""

    def factory(model: nn.Module, spec: MethodSpec) -> SignXAIAttribution:
        params = {key: spec.params[key] for key in keys}
        if spec.multiplier == "sign":
            return x_sign(model, mu=spec.params["mu"], **params)
        if spec.multiplier == "input":
            return x_input(model, **params)
        return plain(model, **params)

    return factory


def _cam_layer(model: nn.Module, spec: MethodSpec) -> str | None:
    layer = spec.params.get("layer")
    if layer is None and spec.model is not None:
        path = model_constants(spec.model)["grad_cam_layer"]["torch"]
        return check_model_layer(model, path, spec.model)
    return layer


_NOISE = ("samples", "noise", "noise_mode", "seed", "batch_size")

#: family -> factory, for every family of the method table.
FACTORIES: dict[str, Factory] = {
    "gradient": _variants(Gradient, GradientXInput, GradientXSign, ()),
    "guided_backprop": _variants(GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign, ()),
    "deconvnet": _variants(Deconvnet, DeconvnetXInput, DeconvnetXSign, ()),
    "integrated_gradients": _variants(
        IntegratedGradients, IntegratedGradientsXInput, IntegratedGradientsXSign, ("steps", "baseline", "batch_size")
    ),
    "smoothgrad": _variants(SmoothGrad, SmoothGradXInput, SmoothGradXSign, _NOISE),
    "vargrad": _variants(VarGrad, VarGradXInput, VarGradXSign, _NOISE),
    "grad_cam": lambda model, spec: GradCAM(model, layer=_cam_layer(model, spec)),
    "grad_cam_timeseries": lambda model, spec: GradCAMTimeseries(model, layer=_cam_layer(model, spec)),
    "guided_grad_cam": lambda model, spec: GuidedGradCAM(model, layer=_cam_layer(model, spec)),
    "lrp": lambda model, spec: LRP.from_method(model, spec),
}
