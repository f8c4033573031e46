"""Explanation methods on Keras 3 models, one module per method family."""

from .grad_cam import grad_cam, grad_cam_timeseries
from .gradient import gradient
from .guided_backprop import deconvnet, guided_backprop, guided_grad_cam
from .integrated_gradients import integrated_gradients
from .smoothgrad import smoothgrad, vargrad

__all__ = [
    "deconvnet",
    "grad_cam",
    "grad_cam_timeseries",
    "gradient",
    "guided_backprop",
    "guided_grad_cam",
    "integrated_gradients",
    "smoothgrad",
    "vargrad",
]
