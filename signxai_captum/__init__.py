"""signxai_captum: SIGN and LRP explanations for PyTorch, as Captum attributions.

>>> from signxai_captum import explain, GradientXSign
>>> maps = explain(model, x, "gradient_x_sign", target=3)          # numpy, x's shape
>>> attr = GradientXSign(model, mu=0.0).attribute(x_tensor, target=3)
"""

from ._triton_guard import guard_triton

guard_triton()

from .explain import attribution_for, explain, supported_methods  # noqa: E402
from .methods import Gradient, GradientXInput, GradientXSign, SignXAIAttribution  # noqa: E402
from .methods import (  # noqa: E402
    GuidedBackprop,
    GuidedBackpropXInput,
    GuidedBackpropXSign,
    Deconvnet,
    DeconvnetXInput,
    DeconvnetXSign,
    IntegratedGradients,
    IntegratedGradientsXInput,
    IntegratedGradientsXSign,
    SmoothGrad,
    SmoothGradXInput,
    SmoothGradXSign,
    VarGrad,
    VarGradXInput,
    VarGradXSign,
    GradCAM,
    GradCAMTimeseries,
    GuidedGradCAM,
)
from .methods import (  # noqa: E402
    LRP,
    LRPZ,
    LRPAlphaBeta,
    LRPEpsilon,
    LRPSequentialCompositeA,
    LRPSequentialCompositeB,
    LRPSign,
    LRPStdxEpsilon,
)
from shared_spec import (  # noqa: E402
    MethodNameError,
    MethodParameterError,
    SignXAIError,
    UnsupportedLayerError,
)

from .multipliers import sign, sign_mu  # noqa: E402
from .softmax import remove_softmax  # noqa: E402

__all__ = [
    "MethodNameError",
    "MethodParameterError",
    "SignXAIError",
    "UnsupportedLayerError",
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
    "Gradient",
    "GradientXInput",
    "GradientXSign",
    "SignXAIAttribution",
    "attribution_for",
    "explain",
    "remove_softmax",
    "sign",
    "sign_mu",
    "supported_methods",
]

__version__ = "0.1.0"
