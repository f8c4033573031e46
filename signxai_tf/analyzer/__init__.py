"""iNNvestigate's analyzer API on Keras 3 (docs/migration.md, "iNNvestigate analyzers").

>>> from signxai_tf.analyzer import LRPEpsilon, create_analyzer, model_wo_softmax
>>> model = model_wo_softmax(model)
>>> maps = LRPEpsilon(model, epsilon=0.1).analyze(x)                  # numpy, x's shape
>>> maps = create_analyzer("lrp.alpha_1_beta_0", model, neuron_selection_mode="index").analyze(x, 3)

Every analyzer is a configuration of this project's methods: the gradient analyzers call
:func:`signxai_tf.explain`, the LRP analyzers give :func:`signxai_tf.lrp.lrp` one rule of the
method table per kernel layer (``analyzer.rules``; ``analyzer.method_name`` names the equal
method where one exists). Rule classes: :mod:`signxai_tf.analyzer.rules`.
"""

from . import rules
from ._analyzers import analyzers, create_analyzer
from ._base import AnalyzerBase, model_wo_softmax
from ._deep_taylor import BoundedDeepTaylor, DeepTaylor
from ._gradient import Deconvnet, Gradient, GuidedBackprop, InputTimesGradient, IntegratedGradients, SmoothGrad
from ._lrp import (
    LRP,
    LRPZ,
    LRPAlpha1Beta0,
    LRPAlpha1Beta0IgnoreBias,
    LRPAlpha2Beta1,
    LRPAlpha2Beta1IgnoreBias,
    LRPAlphaBeta,
    LRPEpsilon,
    LRPEpsilonIgnoreBias,
    LRPFlat,
    LRPGamma,
    LRPRuleUntilIndex,
    LRPSequentialCompositeA,
    LRPSequentialCompositeAFlat,
    LRPSequentialCompositeB,
    LRPSequentialCompositeBFlat,
    LRPSequentialPresetA,
    LRPSequentialPresetAFlat,
    LRPSequentialPresetB,
    LRPSequentialPresetBFlat,
    LRPSequentialPresetBFlatUntilIdx,
    LRPStdxEpsilon,
    LRPWSquare,
    LRPZIgnoreBias,
    LRPZPlus,
    LRPZPlusFast,
    is_conv_layer,
    is_dense_layer,
    kernel_layer_names,
)
from .rules import LRP_RULES

__all__ = [
    "AnalyzerBase",
    "BoundedDeepTaylor",
    "Deconvnet",
    "DeepTaylor",
    "Gradient",
    "GuidedBackprop",
    "InputTimesGradient",
    "IntegratedGradients",
    "LRP",
    "LRPAlpha1Beta0",
    "LRPAlpha1Beta0IgnoreBias",
    "LRPAlpha2Beta1",
    "LRPAlpha2Beta1IgnoreBias",
    "LRPAlphaBeta",
    "LRPEpsilon",
    "LRPEpsilonIgnoreBias",
    "LRPFlat",
    "LRPGamma",
    "LRPRuleUntilIndex",
    "LRPSequentialCompositeA",
    "LRPSequentialCompositeAFlat",
    "LRPSequentialCompositeB",
    "LRPSequentialCompositeBFlat",
    "LRPSequentialPresetA",
    "LRPSequentialPresetAFlat",
    "LRPSequentialPresetB",
    "LRPSequentialPresetBFlat",
    "LRPSequentialPresetBFlatUntilIdx",
    "LRPStdxEpsilon",
    "LRPWSquare",
    "LRPZ",
    "LRPZIgnoreBias",
    "LRPZPlus",
    "LRPZPlusFast",
    "LRP_RULES",
    "SmoothGrad",
    "analyzers",
    "create_analyzer",
    "is_conv_layer",
    "is_dense_layer",
    "kernel_layer_names",
    "model_wo_softmax",
    "rules",
]
