"""signxai_tf: SIGN and LRP explanations for TensorFlow 2.16+ / Keras 3.

>>> from signxai_tf import explain
>>> maps = explain(model, x, "gradient_x_sign", target=3)   # numpy, x's shape
"""

from shared_spec import MethodNameError, MethodParameterError, SignXAIError, UnsupportedLayerError

from ._explain import explain, supported_methods
from ._multipliers import sign, sign_mu
from ._softmax import remove_softmax

__all__ = [
    "MethodNameError",
    "MethodParameterError",
    "SignXAIError",
    "UnsupportedLayerError",
    "explain",
    "remove_softmax",
    "sign",
    "sign_mu",
    "supported_methods",
]

__version__ = "0.1.0"
