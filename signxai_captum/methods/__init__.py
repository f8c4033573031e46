"""Attribution classes, one module per method family."""

from .base import SignXAIAttribution
from .gradient import Gradient, GradientXInput, GradientXSign
from .lrp import (
    LRP,
    LRPZ,
    LRPAlphaBeta,
    LRPEpsilon,
    LRPSequentialCompositeA,
    LRPSequentialCompositeB,
    LRPSign,
    LRPStdxEpsilon,
)
from .deconvnet import Deconvnet, DeconvnetXInput, DeconvnetXSign
from .grad_cam import GradCAM, GradCAMTimeseries, GuidedGradCAM
from .guided_backprop import GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign
from .integrated_gradients import IntegratedGradients, IntegratedGradientsXInput, IntegratedGradientsXSign
from .smoothgrad import SmoothGrad, SmoothGradXInput, SmoothGradXSign, VarGrad, VarGradXInput, VarGradXSign

__all__ = [
    "SignXAIAttribution",
    "Gradient",
    "GradientXInput",
    "GradientXSign",
    "LRP",
    "LRPZ",
    "LRPEpsilon",
    "LRPStdxEpsilon",
    "LRPAlphaBeta",
    "LRPSign",
    "LRPSequentialCompositeA",
    "LRPSequentialCompositeB",
    "GuidedBackprop",
    "GuidedBackpropXInput",
    "GuidedBackpropXSign",
    "Deconvnet",
    "DeconvnetXInput",
    "DeconvnetXSign",
    "IntegratedGradients",
    "IntegratedGradientsXInput",
    "IntegratedGradientsXSign",
    "SmoothGrad",
    "SmoothGradXInput",
    "SmoothGradXSign",
    "VarGrad",
    "VarGradXInput",
    "VarGradXSign",
    "GradCAM",
    "GradCAMTimeseries",
    "GuidedGradCAM",
]
