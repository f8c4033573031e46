"""iNNvestigate's LRP analyzers as configurations of the method table's rules.

An analyzer decides one ``shared_spec.LRPRule`` per kernel layer (part) of the model and hands the
engine of :mod:`signxai_tf.lrp` an ``LRPRuleSet`` naming every kernel layer in ``layers``; the
engine computes it as it computes the named methods (docs/semantics.md §4; batch norm, pooling,
sums and the other layers as in §4.2).

Which rule a kernel layer gets (first match):

1. ``input_layer_rule``, on the kernel layer(s) fed by the model input (the engine's definition,
   docs/semantics.md §4.3; of a SeparableConv only the depthwise part);
2. ``until_layer_rule``, on the kernel layers ``0 .. until_layer_idx`` counted from the input;
3. ``rule``: one rule for every layer, one rule per kernel layer (a list, input to output order),
   or the first ``(condition, rule)`` pair whose condition holds for the Keras layer.

This is iNNvestigate's order (it inserts the input rule, then the index rules, before the given
conditions).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from shared_spec import (
    LRPRule,
    LRPRuleSet,
    MethodParameterError,
    SignXAIError,
    check_parameter,
    lrp_spec,
    parameter_default,
    parse,
)
from shared_spec.grammar import preset_default

from ..lrp._engine import lrp, lrp_plan
from ..lrp._layers import KernelLayer, kernel_layers
from ._base import AnalyzerBase
from .rules import (
    INNVESTIGATE_EPSILON,
    SIGNXAI_STDFACTOR,
    Alpha1Beta0Rule,
    Alpha2Beta1Rule,
    AlphaBetaRule,
    BoundedRule,
    EpsilonRule,
    FlatRule,
    GammaRule,
    Rule,
    StdxEpsilonRule,
    WSquareRule,
    ZIgnoreBiasRule,
    ZPlusFastRule,
    ZPlusRule,
    ZRule,
    as_lrp_rule,
)

__all__ = [
    "LRP",
    "LRPZ",
    "LRPZIgnoreBias",
    "LRPEpsilon",
    "LRPEpsilonIgnoreBias",
    "LRPStdxEpsilon",
    "LRPWSquare",
    "LRPFlat",
    "LRPAlphaBeta",
    "LRPAlpha2Beta1",
    "LRPAlpha2Beta1IgnoreBias",
    "LRPAlpha1Beta0",
    "LRPAlpha1Beta0IgnoreBias",
    "LRPZPlus",
    "LRPZPlusFast",
    "LRPGamma",
    "LRPSequentialCompositeA",
    "LRPSequentialCompositeB",
    "LRPSequentialCompositeAFlat",
    "LRPSequentialCompositeBFlat",
    "LRPRuleUntilIndex",
    "LRPSequentialPresetBFlatUntilIdx",
    "is_conv_layer",
    "is_dense_layer",
    "kernel_layer_names",
]

_Z = LRPRule("z", {"bias": True})
_PROBE = LRPRuleSet(_Z, _Z, _Z)  # a rule set with an input rule: the plan then lists the input layers
_BN_FUSE_MODES = ("one_linear", "two_linear")


# ---------------------------------------------------------------- conditions on Keras layers
def is_dense_layer(layer: Any) -> bool:
    """Whether ``layer`` is a Dense kernel layer (the engine's "dense" kind; iNNvestigate's ``is_dense_layer``)."""
    parts = kernel_layers(layer)
    return parts is not None and parts[0].kind == "dense"


def is_conv_layer(layer: Any) -> bool:
    """Whether ``layer`` is a convolution of any kind (the engine's "conv" kind; iNNvestigate's ``is_conv_layer``)."""
    parts = kernel_layers(layer)
    return parts is not None and parts[0].kind == "conv"


# ---------------------------------------------------------------- the model's kernel layers
def _kernel_parts(model: keras.Model, where: str) -> list[tuple[KernelLayer, Any, bool]]:
    """(part, Keras layer, fed by the input) of every kernel-layer call in graph order, input first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input rule applied nowhere" is this module's to say
        plan = lrp_plan(model, "lrp", _PROBE, where)
    inputs = set(plan.input_layers)
    parts = []
    for step in plan.graph.steps:
        for k in kernel_layers(step.layer) or ():
            parts.append((k, step.layer, k.name in inputs))
    return parts


def _distinct_layers(parts: list[tuple[KernelLayer, Any, bool]]) -> list[Any]:
    seen: set[int] = set()
    layers = []
    for _, layer, _ in parts:
        if id(layer) not in seen:
            seen.add(id(layer))
            layers.append(layer)
    return layers


def kernel_layer_names(model: keras.Model) -> list[str]:
    """The names of the model's kernel layers in the order rule lists and ``until_layer_idx`` count them (input first).

    A layer used twice counts once; a SeparableConv is one layer (both parts get its rule).
    """
    return [layer.name for layer in _distinct_layers(_kernel_parts(model, "kernel_layer_names"))]


# ---------------------------------------------------------------- rules -> one rule per kernel layer
def _condition_pairs(items: list, where: str) -> list[tuple[Callable[[Any], bool], Any]]:
    pairs = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and callable(item[0])):
            raise MethodParameterError(
                f"{where}: a list of conditions holds (condition, rule) pairs with a callable condition on the Keras "
                f"layer, got {item!r}"
            )
        pairs.append(item)
    return pairs


def _input_rule(value: Any, where: str) -> LRPRule | None:
    if value is None:
        return None
    if isinstance(value, tuple) and len(value) == 2 and not callable(value[0]):
        return BoundedRule(*value).lrp_rule()  # iNNvestigate: (low, high) is a BoundedRule
    return as_lrp_rule(value, where, "input_layer_rule")


def _configure(
    model: keras.Model, where: str, rule: Any, input_layer_rule: Any, until_layer_idx: Any, until_layer_rule: Any
) -> tuple[LRPRuleSet, dict[str, LRPRule]]:
    parts = _kernel_parts(model, where)
    layers = _distinct_layers(parts)
    converted: dict[int, LRPRule] = {}

    def convert(value: Any, what: str = "rule") -> LRPRule:
        key = id(value)
        if key not in converted:
            converted[key] = as_lrp_rule(value, where, what)
        return converted[key]

    per_layer: list | None = None
    conditions: list[tuple[Callable[[Any], bool], Any]] = []
    if isinstance(rule, (list, tuple)) and not isinstance(rule, str):
        items = list(rule)
        if not items:
            raise MethodParameterError(f"{where}: the rule list is empty")
        if isinstance(items[0], tuple):
            conditions = _condition_pairs(items, where)
        else:
            per_layer = items
            if len(per_layer) != len(layers):
                names = ", ".join(repr(layer.name) for layer in layers)
                raise MethodParameterError(
                    f"{where}: the rule list has {len(per_layer)} entries, but the model has {len(layers)} kernel layers "
                    f"(input to output: {names}); give one rule per kernel layer, or (condition, rule) pairs"
                )
    else:
        conditions = [(lambda layer: True, rule)]

    if (until_layer_idx is None) != (until_layer_rule is None):
        raise MethodParameterError(f"{where}: until_layer_idx and until_layer_rule go together; give both or neither")
    until = None
    if until_layer_idx is not None:
        if isinstance(until_layer_idx, bool) or not isinstance(until_layer_idx, (int, np.integer)):
            raise MethodParameterError(f"{where}: until_layer_idx must be an int, got {until_layer_idx!r}")
        if not 0 <= int(until_layer_idx) < len(layers):
            raise MethodParameterError(
                f"{where}: until_layer_idx={until_layer_idx}, but the model has {len(layers)} kernel layers "
                f"(indices 0..{len(layers) - 1}, input first)"
            )
        until = (int(until_layer_idx), convert(until_layer_rule, "until_layer_rule"))
    input_rule = _input_rule(input_layer_rule, where)

    layer_rule: dict[int, LRPRule] = {}
    for i, layer in enumerate(layers):
        if until is not None and i <= until[0]:
            layer_rule[id(layer)] = until[1]
        elif per_layer is not None:
            layer_rule[id(layer)] = convert(per_layer[i])
        else:
            for condition, candidate in conditions:
                if condition(layer):
                    layer_rule[id(layer)] = convert(candidate)
                    break
            else:
                raise MethodParameterError(
                    f"{where}: no rule applies to layer {layer.name!r} ({type(layer).__name__}): none of the "
                    "conditions holds for it"
                )

    mapping: dict[str, LRPRule] = {}
    owner: dict[str, int] = {}
    applied = False
    for k, layer, is_input in parts:
        if owner.setdefault(k.name, id(layer)) != id(layer):
            raise MethodParameterError(
                f"{where}: two different kernel layers are named {k.name!r} (a nested model?); per-layer rules need "
                "unique layer names"
            )
        if is_input and input_rule is not None:
            mapping[k.name] = input_rule
            applied = True
        else:
            mapping[k.name] = layer_rule[id(layer)]
    if input_rule is not None and not applied:
        warnings.warn(
            f"{where}: the input_layer_rule {input_rule.name!r} was not applied: no Dense/convolution layer is fed "
            "directly by the model input (docs/semantics.md §4.3)",
            stacklevel=4,
        )
    return LRPRuleSet(dense=_Z, conv=_Z, input=None, layers=mapping), mapping


def _check_bn_layer_rule(rule: Any, fuse_mode: Any, where: str) -> None:
    if fuse_mode not in _BN_FUSE_MODES:
        raise MethodParameterError(f"{where}: bn_layer_fuse_mode={fuse_mode!r}; must be one of {_BN_FUSE_MODES}")
    if rule is None or rule == "Z" or rule is ZRule or (type(rule) is ZRule and rule.params["bias"]):
        return
    raise MethodParameterError(
        f"{where}: bn_layer_rule={rule!r} is not offered: batch-norm layers always get the batch-norm rule of "
        "docs/semantics.md §4.2, which is the Z rule on the layer's affine map; give bn_layer_rule=None (or 'Z', "
        "the same rule)"
    )


# ---------------------------------------------------------------- the method name a configuration equals
_PREFIX = {None: "lrp", "sign": "lrpsign", "sign_mu": "lrpsign", "z": "lrpz", "bounded": "zblrp", "w_square": "w2lrp", "flat": "flatlrp"}
_DEFAULTS = {"bias": parameter_default("bias"), "alpha_beta_bias": parameter_default("alpha_beta_bias")}


def _normalized(rule: LRPRule | None) -> tuple | None:
    if rule is None:
        return None
    params = {k: v for k, v in rule.params.items() if not (k in _DEFAULTS and v == _DEFAULTS[k])}
    return rule.name, params


def _same(a: LRPRule | None, b: LRPRule | None) -> bool:
    na, nb = _normalized(a), _normalized(b)
    if na is None or nb is None:
        return na is nb
    if na[0] != nb[0] or set(na[1]) != set(nb[1]):
        return False
    return all(np.array_equal(np.asarray(na[1][k]), np.asarray(nb[1][k])) for k in na[1])


def _table_name(preset: str, params: Mapping[str, Any], dense: LRPRule, conv: LRPRule, input_rule: LRPRule | None) -> str | None:
    """The method name whose rules are (dense, conv, input_rule), or None if no name says exactly that."""
    prefix_of = None if input_rule is None else input_rule.name
    if prefix_of == "z" and not input_rule.params.get("bias", True):
        return None
    if prefix_of not in _PREFIX:
        return None
    extra = {}
    if prefix_of == "sign_mu":
        extra["mu"] = input_rule.params["mu"]
    try:
        name = lrp_spec(_PREFIX[prefix_of], preset, **params, **extra).name
        rules = parse(name).lrp_rules()
    except SignXAIError:
        return None
    if _same(rules.dense, dense) and _same(rules.conv, conv) and _same(rules.input, input_rule):
        return name
    return None


# ---------------------------------------------------------------- the analyzers
class LRP(AnalyzerBase):
    """LRP with a rule configuration (iNNvestigate's ``LRP``), computed by :func:`signxai_tf.lrp.lrp`.

    Parameters
    ----------
    model : keras.Model
        A Sequential or functional model without final softmax.
    rule : str, rule class or instance, list of them, or list of (condition, rule) pairs
        A rule name of :data:`signxai_tf.analyzer.rules.LRP_RULES` (``"Z"``, ``"Epsilon"``,
        ``"Alpha1Beta0"``, ``"Flat"``...), a class or instance of :mod:`signxai_tf.analyzer.rules`
        (or a user-written :class:`~signxai_tf.analyzer.rules.Rule`), for every kernel layer; a list
        with one of these per kernel layer, in input-to-output order (:func:`kernel_layer_names`);
        or ``(condition, rule)`` pairs, ``condition(keras_layer) -> bool``, the first that holds
        wins (:func:`is_dense_layer`, :func:`is_conv_layer`).
    input_layer_rule : rule or (low, high), optional
        The rule of the kernel layer(s) fed by the input; a ``(low, high)`` pair is
        ``BoundedRule(low, high)``.
    until_layer_idx, until_layer_rule : int and rule, optional
        Give both: the rule of kernel layers ``0 .. until_layer_idx`` (input first).
    bn_layer_rule : None or "Z"
        Batch-norm layers get the batch-norm rule of docs/semantics.md §4.2 (the Z rule on the
        layer's affine map, so ``"Z"`` is accepted as the same); other rules are refused.
    bn_layer_fuse_mode : {"one_linear", "two_linear"}
        Accepted for compatibility; both give the same Z rule.
    neuron_selection_mode : {"max_activation", "index", "all"}
        ``"all"``: the sum of the maps of all outputs, each started from its value (LRP is linear
        in the output relevance for fixed forward values).

    Attributes
    ----------
    rules : shared_spec.LRPRuleSet
        What the engine computes (every kernel layer named in ``layers``).
    rules_used : dict
        Kernel layer (part) name -> ``shared_spec.LRPRule``, in graph order.
    method_name : str or None
        The method name of the table that computes the same rules (``explain(model, x,
        method_name)`` gives the same maps), where one exists.
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        rule: Any = None,
        input_layer_rule: Any = None,
        until_layer_idx: int | None = None,
        until_layer_rule: Any = None,
        bn_layer_rule: Any = None,
        bn_layer_fuse_mode: str = "one_linear",
        neuron_selection_mode: str = "max_activation",
    ) -> None:
        super().__init__(model, neuron_selection_mode)
        where = type(self).__name__
        if rule is None:
            raise MethodParameterError(f"{where}: needs LRP rule(s): give rule=... (a rule name, class, instance or list)")
        _check_bn_layer_rule(bn_layer_rule, bn_layer_fuse_mode, where)
        self._rule_set, self._rules_used = _configure(model, where, rule, input_layer_rule, until_layer_idx, until_layer_rule)
        self._input_lrp_rule = _input_rule(input_layer_rule, where)
        self._plain = until_layer_idx is None
        self._method_name: str | None = None

    def _name_as(self, preset: str, params: Mapping[str, Any], dense: Rule, conv: Rule | None = None) -> None:
        """Fixed-parameter classes: record the table name that equals this configuration, if any."""
        if self._plain:
            d = dense.lrp_rule()
            c = d if conv is None else conv.lrp_rule()
            self._method_name = _table_name(preset, params, d, c, self._input_lrp_rule)

    @property
    def rules(self) -> LRPRuleSet:
        """The rule set the engine computes."""
        return self._rule_set

    @property
    def rules_used(self) -> dict[str, LRPRule]:
        """Kernel layer (part) name -> rule, in graph order."""
        return dict(self._rules_used)

    @property
    def method_name(self) -> str | None:
        """The table's method name with the same rules, or None."""
        return self._method_name

    @property
    def input_layer_rule(self) -> LRPRule | None:
        """The rule of the kernel layer(s) fed by the input, or None."""
        return self._input_lrp_rule

    def _set_layer_rules(self, mapping: Mapping[str, LRPRule]) -> None:
        """Replace the rule of each named kernel layer (part); the configuration then has no table name."""
        self._rules_used = dict(mapping)
        self._rule_set = LRPRuleSet(dense=self._rule_set.dense, conv=self._rule_set.conv, input=None, layers=self._rules_used)
        self._method_name = None

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        return lrp(self._model, x, target, self._rule_set, initial_relevance="logit", method=type(self).__name__).numpy()


class LRPZ(LRP):
    """LRP-Z on every kernel layer (``lrp_z``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = ZRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("z", {}, rule)


class LRPZIgnoreBias(LRP):
    """LRP-Z without bias (``lrp_z_ignore_bias``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = ZIgnoreBiasRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("z", {"bias": False}, rule)


class LRPEpsilon(LRP):
    """LRP-Epsilon (``lrp_epsilon_<e>``); iNNvestigate's default ``epsilon=1e-7``, ``bias=False``: IgnoreBias."""

    def __init__(self, model: keras.Model, epsilon: float = INNVESTIGATE_EPSILON, bias: bool = True, **kwargs: Any) -> None:
        rule = EpsilonRule(epsilon=epsilon, bias=bias)
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("epsilon", rule.params, rule)


class LRPEpsilonIgnoreBias(LRPEpsilon):
    """LRP-Epsilon without bias (``lrp_epsilon_<e>_ignore_bias``)."""

    def __init__(self, model: keras.Model, epsilon: float = INNVESTIGATE_EPSILON, **kwargs: Any) -> None:
        super().__init__(model, epsilon=epsilon, bias=False, **kwargs)


class LRPStdxEpsilon(LRP):
    """LRP-StdxEpsilon (``lrp_epsilon_<f>_std_x``): epsilon = ``stdfactor`` times std(layer input), per sample.

    ``epsilon`` is accepted (and checked, > 0) for signxai's signature; it has no effect, as in
    the reference: the stabiliser is ``stdfactor * std(a)`` (docs/semantics.md §4.1).
    """

    def __init__(
        self,
        model: keras.Model,
        epsilon: float = INNVESTIGATE_EPSILON,
        stdfactor: float = SIGNXAI_STDFACTOR,
        bias: bool = True,
        **kwargs: Any,
    ) -> None:
        check_parameter("epsilon", epsilon, type(self).__name__)
        rule = StdxEpsilonRule(stdfactor=stdfactor, bias=bias)
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("epsilon_std_x", rule.params, rule)


class LRPWSquare(LRP):
    """LRP-WSquare on every kernel layer (``lrp_w_square``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = WSquareRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("w_square", {}, rule)


class LRPFlat(LRP):
    """LRP-Flat on every kernel layer (``lrp_flat``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = FlatRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("flat", {}, rule)


class LRPAlphaBeta(LRP):
    """LRP-AlphaBeta (``lrp_alpha_<a>_beta_<b>``): give alpha or beta, the other follows from ``alpha - beta = 1``.

    ``bias=False``: the IgnoreBias variant; ``alpha_beta_bias``: the bias form (docs/semantics.md §4.1).
    """

    def __init__(
        self,
        model: keras.Model,
        alpha: float | None = None,
        beta: float | None = None,
        bias: bool = True,
        *,
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
        **kwargs: Any,
    ) -> None:
        rule = AlphaBetaRule(alpha, beta, bias, alpha_beta_bias=alpha_beta_bias)
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("alpha_beta", rule.params, rule)


class LRPAlpha2Beta1(LRPAlphaBeta):
    """AlphaBeta(2, 1) (``lrp_alpha_2_beta_1``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        super().__init__(model, 2.0, 1.0, True, **kwargs)


class LRPAlpha2Beta1IgnoreBias(LRPAlphaBeta):
    """AlphaBeta(2, 1) without bias (``lrp_alpha_2_beta_1_ignore_bias``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        super().__init__(model, 2.0, 1.0, False, **kwargs)


class LRPAlpha1Beta0(LRPAlphaBeta):
    """AlphaBeta(1, 0) (``lrp_alpha_1_beta_0``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        super().__init__(model, 1.0, 0.0, True, **kwargs)


class LRPAlpha1Beta0IgnoreBias(LRPAlphaBeta):
    """AlphaBeta(1, 0) without bias (``lrp_alpha_1_beta_0_ignore_bias``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        super().__init__(model, 1.0, 0.0, False, **kwargs)


class LRPZPlus(LRP):
    """LRP-ZPlus (``lrp_z_plus``): AlphaBeta(1, 0) without bias, as iNNvestigate's LRPZPlus."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = ZPlusRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("z_plus", {}, rule)


class LRPZPlusFast(LRP):
    """LRP-ZPlusFast (``lrp_z_plus_fast``)."""

    def __init__(self, model: keras.Model, **kwargs: Any) -> None:
        rule = ZPlusFastRule()
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("z_plus_fast", {}, rule)


class LRPGamma(LRP):
    """LRP-Gamma (``lrp_gamma_<g>``), docs/semantics.md §4.1's textbook form; ``bias=False`` leaves the bias out.

    The default ``gamma`` is the table's (0.25); signxai's iNNvestigate copy had 0.5 and another formula.
    """

    def __init__(self, model: keras.Model, gamma: float = parameter_default("gamma"), bias: bool = True, **kwargs: Any) -> None:
        rule = GammaRule(gamma=gamma, bias=bias)
        super().__init__(model, rule=rule, **kwargs)
        self._name_as("gamma", rule.params, rule)


class LRPSequentialCompositeA(LRP):
    """Dense layers Epsilon(epsilon), convolutions AlphaBeta(1, 0) (``lrp_sequential_composite_a``).

    ``epsilon`` defaults to the table's preset default (0.1, iNNvestigate's too). Batch-norm layers get
    the rule of docs/semantics.md §4.2 (iNNvestigate's default ``bn_layer_rule`` is AlphaBetaX2m100,
    which is not offered).
    """

    _preset = "sequential_composite_a"
    _conv_rule: type[Rule] = Alpha1Beta0Rule

    def __init__(
        self,
        model: keras.Model,
        epsilon: float = preset_default("sequential_composite_a", "epsilon"),
        *,
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
        **kwargs: Any,
    ) -> None:
        dense = EpsilonRule(epsilon=epsilon)
        conv = self._conv_rule(alpha_beta_bias=alpha_beta_bias)
        super().__init__(model, rule=[(is_dense_layer, dense), (is_conv_layer, conv)], **kwargs)
        params = {"epsilon": dense.params["epsilon"], "alpha_beta_bias": conv.params["alpha_beta_bias"]}
        self._name_as(self._preset, params, dense, conv)


class LRPSequentialCompositeB(LRPSequentialCompositeA):
    """Dense layers Epsilon(epsilon), convolutions AlphaBeta(2, 1) (``lrp_sequential_composite_b``)."""

    _preset = "sequential_composite_b"
    _conv_rule = Alpha2Beta1Rule

    def __init__(
        self,
        model: keras.Model,
        epsilon: float = preset_default("sequential_composite_b", "epsilon"),
        **kwargs: Any,
    ) -> None:
        super().__init__(model, epsilon, **kwargs)


def _flat_input(kwargs: dict, where: str) -> dict:
    given = kwargs.pop("input_layer_rule", "Flat")
    if not (given == "Flat" or given is FlatRule or type(given) is FlatRule):
        raise MethodParameterError(f"{where}: the input layer rule is Flat; got input_layer_rule={given!r}")
    return {**kwargs, "input_layer_rule": FlatRule()}


class LRPSequentialCompositeAFlat(LRPSequentialCompositeA):
    """Sequential composite A with Flat on the input layer (``flatlrp_sequential_composite_a``)."""

    def __init__(self, model: keras.Model, *args: Any, **kwargs: Any) -> None:
        super().__init__(model, *args, **_flat_input(kwargs, type(self).__name__))


class LRPSequentialCompositeBFlat(LRPSequentialCompositeB):
    """Sequential composite B with Flat on the input layer (``flatlrp_sequential_composite_b``)."""

    def __init__(self, model: keras.Model, *args: Any, **kwargs: Any) -> None:
        super().__init__(model, *args, **_flat_input(kwargs, type(self).__name__))


class LRPRuleUntilIndex(LRP):
    """One rule on the kernel layers ``0 .. until_layer_idx`` (input first), a configuration on the rest.

    Parameters
    ----------
    model : keras.Model
    until_layer_idx : int, default 0
        The last kernel layer (counted from the input, :func:`kernel_layer_names`) that gets
        ``until_index_rule``.
    until_index_rule : rule, default FlatRule
        Any rule form of :class:`LRP`.
    default_rule_configuration : LRP subclass, default LRPSequentialCompositeB
        The analyzer class whose rules the later layers get (docs/semantics.md §4.4; signxai's copy
        of iNNvestigate defaulted to the Flat variant, which differs only when ``until_index_rule``
        is not Flat: its Flat input rule then wins on the input layer).
    **kwargs
        Passed to the configuration (``epsilon=``, ``neuron_selection_mode=``...).
    """

    def __init__(
        self,
        model: keras.Model,
        until_layer_idx: int = 0,
        until_index_rule: Any = FlatRule,
        default_rule_configuration: type[LRP] | None = None,
        **kwargs: Any,
    ) -> None:
        config = LRPSequentialCompositeB if default_rule_configuration is None else default_rule_configuration
        if not (inspect.isclass(config) and issubclass(config, LRP)):
            raise MethodParameterError(
                f"{type(self).__name__}: default_rule_configuration must be an LRP analyzer class of signxai_tf.analyzer, "
                f"got {config!r}"
            )
        #: the configuration analyzer (with the index rule), as in signxai's copy of iNNvestigate
        self.default_rule_configuration = config(
            model, until_layer_idx=until_layer_idx, until_layer_rule=until_index_rule, **kwargs
        )
        configured = self.default_rule_configuration
        AnalyzerBase.__init__(self, model, configured.neuron_selection_mode)
        self._rule_set = configured.rules
        self._rules_used = configured.rules_used
        self._input_lrp_rule = configured._input_lrp_rule
        self._plain = False
        self._method_name = None


class LRPSequentialPresetBFlatUntilIdx(LRPSequentialCompositeBFlat):
    """iNNvestigate 2.x: preset B with Flat on the input layer and on the kernel layers ``0 .. until_layer_idx``."""

    def __init__(self, model: keras.Model, *args: Any, until_layer_idx: int | None = None, **kwargs: Any) -> None:
        if until_layer_idx is not None:
            kwargs.update(until_layer_idx=until_layer_idx, until_layer_rule=FlatRule)
        super().__init__(model, *args, **kwargs)


# iNNvestigate 2.x's names of the composites
LRPSequentialPresetA = LRPSequentialCompositeA
LRPSequentialPresetB = LRPSequentialCompositeB
LRPSequentialPresetAFlat = LRPSequentialCompositeAFlat
LRPSequentialPresetBFlat = LRPSequentialCompositeBFlat
