"""signxai_captum: SIGN and LRP explanations for PyTorch, as Captum attributions.

>>> from signxai_captum import explain, GradientXSign
>>> maps = explain(model, x, "gradient_x_sign", target=3)          # numpy, x's shape
>>> attr = GradientXSign(model, mu=0.0).attribute(x_tensor, target=3)

Code written for signxai2's PyTorch module: :mod:`signxai_captum.compat` (docs/migration.md).
"""

from ._triton_guard import guard_triton

guard_triton()

from ._explain import attribution_for, explain, explain_dataset, supported_methods  # noqa: E402
from ._methods.base import SignXAIAttribution  # noqa: E402
from ._methods.gradient import Gradient, GradientXInput, GradientXSign  # noqa: E402
from ._methods.guided_backprop import GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign  # noqa: E402
from ._methods.deconvnet import Deconvnet, DeconvnetXInput, DeconvnetXSign  # noqa: E402
from ._methods.integrated_gradients import (  # noqa: E402
    IntegratedGradients,
    IntegratedGradientsXInput,
    IntegratedGradientsXSign,
)
from ._methods.smoothgrad import (  # noqa: E402
    SmoothGrad,
    SmoothGradXInput,
    SmoothGradXSign,
    VarGrad,
    VarGradXInput,
    VarGradXSign,
)
from ._methods.grad_cam import GradCAM, GradCAMTimeseries, GuidedGradCAM  # noqa: E402
from ._methods.lrp import (  # noqa: E402
    LRP,
    BoundedDeepTaylor,
    DeepTaylor,
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

from ._multipliers import sign, sign_mu  # noqa: E402
from ._softmax import remove_softmax  # noqa: E402
from .compat import calculate_relevancemap, calculate_relevancemaps, calculate_sign_mu, normalize_heatmap  # noqa: E402
from . import visualization  # noqa: E402, F401  (signxai_captum.visualization after import signxai_captum)

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
    "DeepTaylor",
    "BoundedDeepTaylor",
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
    "calculate_relevancemap",
    "calculate_relevancemaps",
    "calculate_sign_mu",
    "explain",
    "explain_dataset",
    "normalize_heatmap",
    "remove_softmax",
    "sign",
    "sign_mu",
    "supported_methods",
]

__version__ = "0.1.0"
