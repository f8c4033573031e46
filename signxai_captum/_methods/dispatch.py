"""Method-table families -> configured attributions: the one dispatch table of signxai_captum.

:data:`DISPATCH` maps each family of ``shared_spec`` to a factory
``(model, spec) -> SignXAIAttribution``; :func:`signxai_captum.attribution_for` uses it.
Suffix variants map to the classes of the same name: ``guided_backprop_x_sign_mu_0_5`` ->
``GuidedBackpropXSign(model, mu=0.5)``, ``smoothgrad_x_input`` -> ``SmoothGradXInput(model, ...)``.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from shared_spec import MethodSpec, method_table, model_constants

from .base import SignXAIAttribution
from .gradient import Gradient, GradientXInput, GradientXSign
from .lrp import LRP, BoundedDeepTaylor, DeepTaylor
from .deconvnet import Deconvnet, DeconvnetXInput, DeconvnetXSign
from .grad_cam import GradCAM, GradCAMTimeseries, GuidedGradCAM, check_model_layer
from .guided_backprop import GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign
from .integrated_gradients import (
    IntegratedGradients,
    IntegratedGradientsXInput,
    IntegratedGradientsXSign,
)
from .smoothgrad import SmoothGrad, SmoothGradXInput, SmoothGradXSign, VarGrad, VarGradXInput, VarGradXSign

__all__ = ["DISPATCH"]

Factory = Callable[[nn.Module, MethodSpec], SignXAIAttribution]


def _variants(plain: type, x_input: type, x_sign: type) -> Factory:
    """A factory choosing the class by the name's multiplier and passing the family's table parameters."""

    def factory(model: nn.Module, spec: MethodSpec) -> SignXAIAttribution:
        keys = method_table()["families"][spec.family]["params"]
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


#: family -> factory, for every family of the method table.
DISPATCH: dict[str, Factory] = {
    "gradient": _variants(Gradient, GradientXInput, GradientXSign),
    "guided_backprop": _variants(GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign),
    "deconvnet": _variants(Deconvnet, DeconvnetXInput, DeconvnetXSign),
    "integrated_gradients": _variants(IntegratedGradients, IntegratedGradientsXInput, IntegratedGradientsXSign),
    "smoothgrad": _variants(SmoothGrad, SmoothGradXInput, SmoothGradXSign),
    "vargrad": _variants(VarGrad, VarGradXInput, VarGradXSign),
    "grad_cam": lambda model, spec: GradCAM(model, layer=_cam_layer(model, spec)),
    "grad_cam_timeseries": lambda model, spec: GradCAMTimeseries(model, layer=_cam_layer(model, spec)),
    "guided_grad_cam": lambda model, spec: GuidedGradCAM(model, layer=_cam_layer(model, spec)),
    "lrp": lambda model, spec: LRP.from_method(model, spec),
    "deep_taylor": lambda model, spec: DeepTaylor(model),
    "deep_taylor_bounded": lambda model, spec: BoundedDeepTaylor(model, spec.params["low"], spec.params["high"]),
}
