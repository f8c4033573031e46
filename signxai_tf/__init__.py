"""signxai_tf: SIGN and LRP explanations for TensorFlow 2.16+ / Keras 3.

>>> from signxai_tf import explain
>>> maps = explain(model, x, "gradient_x_sign", target=3)   # numpy, x's shape

Code written for the original signxai TensorFlow API: :mod:`signxai_tf.compat`; for iNNvestigate's
analyzers: :mod:`signxai_tf.analyzer` (``create_analyzer("lrp.epsilon", model)``), docs/migration.md.
"""

from shared_spec import MethodNameError, MethodParameterError, SignXAIError, UnsupportedLayerError

from ._explain import explain, explain_dataset, supported_methods
from .compat import calculate_relevancemap, calculate_relevancemaps, calculate_sign_mu, normalize_heatmap
from ._multipliers import sign, sign_mu
from ._softmax import remove_softmax
from .analyzer import create_analyzer
from . import visualization  # noqa: F401  (signxai_tf.visualization after import signxai_tf)

__all__ = [
    "MethodNameError",
    "MethodParameterError",
    "SignXAIError",
    "UnsupportedLayerError",
    "calculate_relevancemap",
    "calculate_relevancemaps",
    "calculate_sign_mu",
    "create_analyzer",
    "explain",
    "explain_dataset",
    "normalize_heatmap",
    "remove_softmax",
    "sign",
    "sign_mu",
    "supported_methods",
]

__version__ = "0.1.0"
