"""iNNvestigate's analyzer names: :data:`analyzers` and :func:`create_analyzer`."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import keras

from shared_spec import MethodParameterError

from ._base import AnalyzerBase
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
    LRPSequentialPresetBFlatUntilIdx,
    LRPStdxEpsilon,
    LRPWSquare,
    LRPZIgnoreBias,
    LRPZPlus,
    LRPZPlusFast,
)

__all__ = ["analyzers", "create_analyzer"]

#: iNNvestigate 2.x's and signxai's analyzer names -> analyzer class
analyzers: Mapping[str, type[AnalyzerBase]] = MappingProxyType({
    # gradient based
    "gradient": Gradient,
    "input_t_gradient": InputTimesGradient,
    "deconvnet": Deconvnet,
    "guided_backprop": GuidedBackprop,
    "integrated_gradients": IntegratedGradients,
    "smoothgrad": SmoothGrad,
    # relevance based
    "lrp": LRP,
    "lrp.z": LRPZ,
    "lrp.z_IB": LRPZIgnoreBias,
    "lrp.epsilon": LRPEpsilon,
    "lrp.epsilon_IB": LRPEpsilonIgnoreBias,
    "lrp.stdxepsilon": LRPStdxEpsilon,
    "lrp.w_square": LRPWSquare,
    "lrp.flat": LRPFlat,
    "lrp.alpha_beta": LRPAlphaBeta,
    "lrp.alpha_2_beta_1": LRPAlpha2Beta1,
    "lrp.alpha_2_beta_1_IB": LRPAlpha2Beta1IgnoreBias,
    "lrp.alpha_1_beta_0": LRPAlpha1Beta0,
    "lrp.alpha_1_beta_0_IB": LRPAlpha1Beta0IgnoreBias,
    "lrp.z_plus": LRPZPlus,
    "lrp.z_plus_fast": LRPZPlusFast,
    "lrp.gamma": LRPGamma,
    "lrp.sequential_composite_a": LRPSequentialCompositeA,
    "lrp.sequential_composite_b": LRPSequentialCompositeB,
    "lrp.sequential_composite_a_flat": LRPSequentialCompositeAFlat,
    "lrp.sequential_composite_b_flat": LRPSequentialCompositeBFlat,
    "lrp.rule_until_index": LRPRuleUntilIndex,
    "deep_taylor": DeepTaylor,
    "deep_taylor.bounded": BoundedDeepTaylor,
    # iNNvestigate 2.x's names of the composites
    "lrp.sequential_preset_a": LRPSequentialCompositeA,
    "lrp.sequential_preset_b": LRPSequentialCompositeB,
    "lrp.sequential_preset_a_flat": LRPSequentialCompositeAFlat,
    "lrp.sequential_preset_b_flat": LRPSequentialCompositeBFlat,
    "lrp.sequential_preset_b_flat_until_idx": LRPSequentialPresetBFlatUntilIdx,
})

#: iNNvestigate / signxai names without an analyzer here, and what to use instead
NOT_OFFERED: Mapping[str, str] = MappingProxyType({
    "input": "the input itself is x",
    "random": "random noise is not an explanation method of this project",
    "gradient.baseline": "use 'gradient' (the same gradient, computed by signxai_tf.explain)",
    "vargrad": "use signxai_tf.explain(model, x, 'vargrad', noise=s, noise_mode='absolute', samples=n)",
    "deep_lift": "DeepLIFT is not implemented",
    "pattern.net": "PatternNet is not implemented",
    "pattern.attribution": "PatternAttribution is not implemented",
})


def create_analyzer(name: str, model: keras.Model, **kwargs: Any) -> AnalyzerBase:
    """Create the analyzer iNNvestigate calls ``name`` (``"lrp.epsilon"``, ``"gradient"``...).

    Parameters
    ----------
    name : str
        A key of :data:`analyzers`.
    model : keras.Model
        The model, without final softmax (:func:`signxai_tf.analyzer.model_wo_softmax`).
    **kwargs
        The analyzer's parameters (``epsilon=0.1``, ``neuron_selection_mode="index"``...).

    Raises
    ------
    shared_spec.MethodParameterError
        For a name that is not an analyzer (the message lists the names).
    NotImplementedError
        For iNNvestigate names this project does not offer (PatternNet, DeepLIFT...).
    """
    if not isinstance(name, str):
        raise MethodParameterError(f"create_analyzer: the analyzer name must be a string, got {name!r}")
    if name in NOT_OFFERED:
        raise NotImplementedError(f"create_analyzer: {name!r} is not offered by signxai_tf: {NOT_OFFERED[name]}")
    try:
        analyzer_class = analyzers[name]
    except KeyError:
        raise MethodParameterError(
            f"create_analyzer: no analyzer is named {name!r}; the names are: {', '.join(analyzers)}"
        ) from None
    return analyzer_class(model, **kwargs)
