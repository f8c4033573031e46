"""Rules by layer kind (signxai's ``layer_map``): ``{"conv2d": {"alpha": 1, "beta": 0}, "dense": {"epsilon": 0.01}}``.

A ``layer_map`` replaces the rule of an LRP analyzer on every kernel layer of a given kind and
leaves the others (and the input layer rule) as the analyzer chose them (docs/migration.md,
"calculate_explanation_innvestigate").
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import keras

from shared_spec import LRPRule, MethodParameterError

from ._lrp import LRP, _kernel_parts, is_conv_layer
from .rules import (
    LRP_RULES,
    AlphaBetaRule,
    AlphaBetaXRule,
    BoundedRule,
    EpsilonRule,
    GammaRule,
    Rule,
    SIGNmuRule,
    StdxEpsilonRule,
    ZRule,
    as_lrp_rule,
)

__all__ = ["layer_kind", "rule_from_parameters", "with_layer_map"]

#: the kind that names every convolution (Conv1D/2D/3D, depthwise, separable, transposed)
ANY_CONVOLUTION = "conv"

#: parameter names -> the rule class they select (the first whose names hold all given ones)
_RULES_BY_PARAMETERS: tuple[tuple[frozenset[str], type[Rule]], ...] = (
    (frozenset({"epsilon"}), EpsilonRule),
    (frozenset({"stdfactor"}), StdxEpsilonRule),
    (frozenset({"alpha", "beta", "alpha_beta_bias"}), AlphaBetaRule),
    (frozenset({"alpha_x", "beta_x"}), AlphaBetaXRule),
    (frozenset({"gamma"}), GammaRule),
    (frozenset({"low", "high"}), BoundedRule),
    (frozenset({"mu"}), SIGNmuRule),
)


def _normalized(kind: str) -> str:
    return kind.replace("_", "").lower()


def layer_kind(layer: Any) -> str:
    """The kind of a Keras layer in a ``layer_map``: its class name, lower case, without underscores (``"conv2d"``)."""
    return _normalized(type(layer).__name__)


def _known_kinds() -> set[str]:
    """Every Keras layer class name, normalised (a key of a layer_map must be one of them, or "conv")."""
    return {_normalized(name) for name in dir(keras.layers) if isinstance(getattr(keras.layers, name), type)}


def rule_from_parameters(value: Any, where: str) -> LRPRule:
    """The rule a ``layer_map`` entry names.

    Parameters
    ----------
    value : mapping, rule name, rule class or instance
        A mapping of rule parameters selects the rule by its parameter names: ``epsilon`` ->
        Epsilon, ``stdfactor`` -> StdxEpsilon, ``alpha`` / ``beta`` -> AlphaBeta (the missing one
        inferred), ``alpha_x`` / ``beta_x`` -> AlphaBetaX, ``gamma`` -> Gamma, ``low`` / ``high``
        -> Bounded, ``mu`` -> SIGNmu; ``bias`` may be added to any of them, and ``{}`` or only
        ``bias`` is the Z rule. ``{"rule": "Flat", ...}`` names the rule (a name of
        :data:`signxai_tf.analyzer.rules.LRP_RULES`, a class) and passes the rest as its
        parameters. A rule name, class or instance is used as it is.
    where : str
        The caller, for messages.

    Raises
    ------
    MethodParameterError
        For parameter names that select no rule or several, and for bad values (the rule's own checks).
    """
    if not isinstance(value, Mapping):
        return as_lrp_rule(value, where, "layer_map rule")
    params = dict(value)
    named = params.pop("rule", None)
    if named is not None:
        rule_class = LRP_RULES.get(named) if isinstance(named, str) else named
        if not (isinstance(rule_class, type) and issubclass(rule_class, Rule)):
            raise MethodParameterError(
                f"{where}: layer_map rule {named!r} is not a rule; rule names: {', '.join(LRP_RULES)}"
            )
        return _make(rule_class, params, where)
    keys = set(params) - {"bias"}
    if not keys:
        return _make(ZRule, params, where)
    for names, rule_class in _RULES_BY_PARAMETERS:
        if keys <= names:
            return _make(rule_class, params, where)
    choices = "; ".join(f"{'/'.join(sorted(names))} -> {cls.__name__}" for names, cls in _RULES_BY_PARAMETERS)
    raise MethodParameterError(
        f"{where}: the layer_map parameters {sorted(params)} select no single rule; give the parameters of one rule "
        f"({choices}; plus bias), or name it with 'rule'"
    )


def _make(rule_class: type[Rule], params: dict[str, Any], where: str) -> LRPRule:
    try:
        rule = rule_class(**params)
    except TypeError as error:
        raise MethodParameterError(f"{where}: {rule_class.__name__} does not take the parameters {sorted(params)}: {error}") from None
    return rule.lrp_rule()


def with_layer_map(analyzer: Any, layer_map: Mapping[str, Any], where: str) -> LRP:
    """``analyzer`` with the rules of ``layer_map`` on the kernel layers of the kinds it names.

    Parameters
    ----------
    analyzer : signxai_tf.analyzer.LRP
        An LRP analyzer; it is changed in place and returned (its ``method_name`` becomes None).
    layer_map : mapping
        Layer kind -> rule (:func:`rule_from_parameters`). A kind is a Keras layer class name
        in any case, with or without underscores (``"conv2d"``, ``"Conv2D"``, ``"depthwise_conv2d"``,
        ``"dense"``), or ``"conv"`` for every convolution; a class name wins over ``"conv"``. Kernel
        layers fed by the model input keep the analyzer's ``input_layer_rule`` when it has one.

    Raises
    ------
    MethodParameterError
        For an analyzer that is not LRP, a key that is no Keras layer class, or a bad rule.

    Warns
    -----
    UserWarning
        For a kind of which the model has no kernel layer (the entry changes nothing).
    """
    if not isinstance(analyzer, LRP):
        raise MethodParameterError(
            f"{where}: layer_map sets LRP rules, but the analyzer is {type(analyzer).__name__}; use an 'lrp.*' method"
        )
    if not isinstance(layer_map, Mapping):
        raise MethodParameterError(f"{where}: layer_map must be a dict of layer kind -> rule parameters, got {layer_map!r}")
    known = _known_kinds()
    rules: dict[str, LRPRule] = {}
    for key, value in layer_map.items():
        if not isinstance(key, str) or (_normalized(key) not in known and _normalized(key) != ANY_CONVOLUTION):
            raise MethodParameterError(
                f"{where}: layer_map key {key!r} is not a Keras layer kind; use a layer class name such as 'conv2d', "
                "'dense', 'depthwise_conv2d', or 'conv' for every convolution"
            )
        rules[_normalized(key)] = rule_from_parameters(value, f"{where}: layer_map[{key!r}]")
    parts = _kernel_parts(analyzer.model, where)
    mapping = dict(analyzer.rules.layers)
    matched: set[str] = set()
    for k, layer, is_input in parts:
        if is_input and analyzer.input_layer_rule is not None:
            continue
        kind = layer_kind(layer)
        if kind in rules:
            mapping[k.name] = rules[kind]
            matched.add(kind)
        elif ANY_CONVOLUTION in rules and is_conv_layer(layer):
            mapping[k.name] = rules[ANY_CONVOLUTION]
            matched.add(ANY_CONVOLUTION)
    for key in layer_map:
        if _normalized(key) not in matched:
            warnings.warn(
                f"{where}: layer_map[{key!r}] changes nothing: the model has no kernel layer of that kind (outside the "
                f"input layer rule); its kernel layers are {sorted({type(layer).__name__ for _, layer, _ in parts})}",
                UserWarning,
                stacklevel=3,
            )
    analyzer._set_layer_rules(mapping)
    return analyzer
