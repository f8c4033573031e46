"""The parsed form of a method name: :class:`MethodSpec` and the LRP rules it selects."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, TypeVar

__all__ = ["MethodSpec", "LRPRule", "LRPRuleSet", "select_kernel_rule"]

R = TypeVar("R")


def select_kernel_rule(
    dense: R,
    conv: R,
    input: R | None,
    kind: str,
    is_input_layer: bool,
    name: str | None = None,
    layers: Mapping[str, R] | None = None,
) -> R:
    """The one rule-selection function of both packages (docs/semantics.md §4.3).

    A layer named in ``layers`` gets that rule (per-layer rules: iNNvestigate's rule lists and
    conditions, RuleUntilIndex); otherwise a kernel layer fed directly by the model input gets
    ``input`` when there is one, a Dense/Linear layer ``dense`` and a convolution ``conv``. Used with
    table rules (:meth:`LRPRuleSet.for_layer`), with PyTorch rule objects (``Composite.kernel_rule``)
    and with TensorFlow ones alike.

    Parameters
    ----------
    dense, conv : rule
        Rules for Dense/Linear layers and for convolutions.
    input : rule or None
        Rule of the input layer(s); ``None``: no replacement.
    kind : {"dense", "conv"}
        The kernel layer's kind.
    is_input_layer : bool
        Whether the layer is fed directly by the model input.
    name : str, optional
        The layer's name (Keras layer name, ``/depthwise`` or ``/pointwise`` for the parts of a
        SeparableConv; PyTorch module path).
    layers : mapping, optional
        Per-layer rules by name; they take precedence over everything else.
    """
    if layers and name is not None and name in layers:
        return layers[name]
    if is_input_layer and input is not None:
        return input
    if kind == "dense":
        return dense
    if kind == "conv":
        return conv
    raise ValueError(f"kind must be 'dense' or 'conv', got {kind!r}")


@dataclass(frozen=True)
class LRPRule:
    """One LRP rule with its parameters, e.g. ``LRPRule("epsilon", {"epsilon": 0.1})``.

    Rule names: ``z``, ``epsilon``, ``std_x_epsilon``, ``alpha_beta``, ``z_plus``, ``gamma``,
    ``w_square``, ``flat``, ``bounded``, ``sign``, ``sign_mu`` (see docs/semantics.md §4.1).
    """

    name: str
    params: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True)
class LRPRuleSet:
    """The rules an LRP method applies to each kind of kernel layer.

    Attributes
    ----------
    dense : LRPRule
        Rule for Dense/Linear layers.
    conv : LRPRule
        Rule for convolutions.
    input : LRPRule or None
        Rule that replaces ``dense``/``conv`` on the first kernel layer(s) fed directly by
        the model input; ``None`` for the plain ``lrp`` prefix (no replacement).
    layers : Mapping[str, LRPRule]
        Rules of individual kernel layers by name (empty for the table's presets), ahead of all
        of the above.
    """

    dense: LRPRule
    conv: LRPRule
    input: LRPRule | None
    layers: Mapping[str, LRPRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", MappingProxyType(dict(self.layers)))

    def for_layer(self, kind: str, is_input_layer: bool, name: str | None = None) -> LRPRule:
        """Return the rule for a kernel layer of ``kind`` (``"dense"`` or ``"conv"``), see :func:`select_kernel_rule`."""
        return select_kernel_rule(self.dense, self.conv, self.input, kind, is_input_layer, name, self.layers)


@dataclass(frozen=True)
class MethodSpec:
    """A method name parsed against the method table.

    Attributes
    ----------
    name : str
        The method name, with aliases resolved (``input_t_gradient`` -> ``gradient_x_input``,
        deprecated model suffixes -> ``VGG16ILSVRC``).
    base : str
        Family plus multiplier for gradient-type methods (``"gradient_x_sign"`` for
        ``gradient_x_sign_mu_0_5``), prefix plus preset for LRP (``"lrpsign_epsilon"``,
        ``"lrp_epsilon_std_x"``).
    family : str
        ``gradient``, ``guided_backprop``, ``deconvnet``, ``integrated_gradients``,
        ``smoothgrad``, ``vargrad``, ``grad_cam``, ``grad_cam_timeseries``,
        ``guided_grad_cam`` or ``lrp``.
    params : Mapping[str, Any]
        Every parameter of the method with its value (from the name, keyword overrides or
        defaults): floats, ints, strings, ``None``; arrays only where given by keyword.
    multiplier : str or None
        ``"input"`` (``_x_input``), ``"sign"`` (``_x_sign``, with ``params["mu"]``) or ``None``.
    prefix : str or None
        LRP prefix (``lrp``, ``lrpsign``, ``lrpz``, ``zblrp``, ``w2lrp``, ``flatlrp``).
    input_rule : str or None
        LRP input-layer rule (``sign``, ``sign_mu``, ``z``, ``bounded``, ``w_square``, ``flat``)
        or ``None`` (no replacement, or not LRP).
    preset : str or None
        LRP preset (``z``, ``epsilon``, ``epsilon_std_x``, ``alpha_beta``, ``z_plus``, ``gamma``,
        ``flat``, ``w_square``, ``sequential_composite_a``, ``sequential_composite_b``).
    model : str or None
        Model suffix (``"VGG16ILSVRC"``) or ``None``.
    """

    name: str
    base: str
    family: str
    params: Mapping[str, Any]
    multiplier: str | None = None
    prefix: str | None = None
    input_rule: str | None = None
    preset: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def is_lrp(self) -> bool:
        """Whether this is an LRP method."""
        return self.family == "lrp"

    @property
    def linear_in_seed(self) -> bool:
        """Whether the map is linear in the output's seed (the table's ``linear_in_seed``; LRP: True).

        Then the map for "all outputs" (iNNvestigate's ``neuron_selection_mode="all"``) is the sum
        of the maps of every output. Guided backprop, deconvnet (ReLU backward that depends on the
        sign of the incoming gradient), VarGrad and the CAM family are not.
        """
        if self.is_lrp:
            return True
        from .table import method_table

        return bool(method_table()["families"][self.family]["linear_in_seed"])

    def lrp_rules(self) -> LRPRuleSet:
        """Return the rules of an LRP method (docs/semantics.md §4.3).

        Raises
        ------
        ValueError
            If the method is not an LRP method.
        """
        if not self.is_lrp:
            raise ValueError(f"{self.name!r} is not an LRP method")
        from .table import method_table

        preset = method_table()["lrp"]["presets"][self.preset]

        def build(entry: Mapping[str, Any]) -> LRPRule:
            params = {}
            for key, value in entry.get("params", {}).items():
                params[key] = self.params[value[1:]] if isinstance(value, str) and value.startswith("$") else value
            return LRPRule(entry["rule"], params)

        input_rule = None
        if self.input_rule == "sign_mu":
            input_rule = LRPRule("sign_mu", {"mu": self.params["mu"]})
        elif self.input_rule == "bounded":
            input_rule = LRPRule("bounded", {"low": self.params["low"], "high": self.params["high"]})
        elif self.input_rule is not None:
            input_rule = LRPRule(self.input_rule, {})
        return LRPRuleSet(dense=build(preset["dense"]), conv=build(preset["conv"]), input=input_rule)
