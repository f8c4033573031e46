"""Composites: which LRP rule applies to which module (docs/semantics.md §4.2, §4.3).

A :class:`Composite` holds the rule for Linear layers (``dense``), the rule for convolutions
(``conv``), the optional input-layer rule that replaces them on the kernel layer(s) fed directly by
the model input, and per-layer overrides. Everything else follows a fixed layer map:

- activations and other identity-shaped layers (the converter's ``Rescaling``, ``Identity``,
  ``Dropout``): :class:`Pass`;
- Flatten/Unflatten, padding, max pooling, nearest upsampling, concatenation, the converter's
  channels-last reshapes: :class:`Route` (plain gradient, no hook);
- average pooling (``AvgPool``, ``AdaptiveAvgPool``, the converter's ``SameAvgPool``): :class:`Z`;
- batch norm (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, torchvision's ``FrozenBatchNorm2d``):
  :class:`BatchNormRule`;
- residual sums (the converter's ``Add``/``Average``/``Subtract``, :class:`ResidualAdd`):
  :class:`SumRule`.

- layer norm / group norm (``LayerNorm``, ``GroupNorm``, torchvision's ``LayerNorm2d``) and
  torchvision's ``StochasticDepth``: :class:`Pass`; torchvision's ``Permute``: :class:`Route`;
- gating products: :class:`GateRule` (the factor produced by a sigmoid/hard-sigmoid is a constant).

A module class (or instance) may declare its treatment with the attribute ``lrp_rule``, read
before every type table: ``"pass"``, ``"affine"`` (pass, and the input-layer search looks
through it: element-wise affine maps such as a normalisation), ``"route"``, ``"z"``, ``"sum"``
(coefficients from an optional ``lrp_coefficients`` attribute) or ``"gate"``. Modules whose output
is a gate declare ``lrp_gate_source = True`` (besides ``nn.Sigmoid``/``nn.Hardsigmoid``).

A leaf module of any other type has no rule: using it on the relevance path raises
:class:`LRPLayerError` naming its path and type (give it a rule with ``layer_rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from torch import nn

from shared_spec import LRPRuleSet, UnsupportedLayerError, select_kernel_rule

from .. import _blocks as blocks
from .canonizers import ResidualAdd
from ._layers import kernel_kind
from .rules import (
    BatchNormRule, DeepTaylorBatchNorm, DeepTaylorKernel, GateRule, GradientRule, Pass, ReLUGradient, Route, Rule,
    SumRule, Z, as_rule, rule_from_spec,
)

__all__ = [
    "Composite", "DeepTaylorComposite", "LayerDecision", "UnsupportedLayerError", "PASS_TYPES", "ROUTE_TYPES", "LRP_RULE_VALUES", "is_affine",
    "is_kernel_padding",
]




PASS_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.LogSigmoid, nn.Tanhshrink, nn.Threshold, nn.Softshrink, nn.Hardshrink,
    blocks.Rescaling,
    # identities at inference: Pass (not Route) so that they, like activations, end the input-layer
    # search (docs/semantics.md §4.3 looks through Flatten/Reshape/Permute/Padding only)
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
    # normalisations whose statistics are treated as constants (issue 10)
    nn.LayerNorm, nn.GroupNorm,
)

# third-party module types by qualified name (no import needed)
_PASS_NAMES = {"torchvision.ops.stochastic_depth.StochasticDepth", "torchvision.models.convnext.LayerNorm2d"}
_ROUTE_NAMES = {"torchvision.ops.misc.Permute"}

#: the values of the ``lrp_rule`` class attribute that :meth:`Composite.decide` understands
LRP_RULE_VALUES = ("pass", "affine", "route", "z", "sum", "gate")


_AFFINE_BLOCKS: tuple[type[nn.Module], ...] = tuple(
    getattr(blocks, name) for name in ("Rescaling", "Normalization", "ConstantOp", "LayerScale") if hasattr(blocks, name)
)


def is_affine(module: nn.Module) -> bool:
    """Whether ``module`` is an element-wise affine map the input-layer search looks through."""
    return getattr(module, "lrp_rule", None) == "affine" or isinstance(module, _AFFINE_BLOCKS)


def _qualified_name(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _declared(path: str, module: nn.Module) -> "LayerDecision | None":
    """The decision a module declares with its ``lrp_rule`` attribute, if any."""
    value = getattr(module, "lrp_rule", None)
    if value is None or not isinstance(value, str):
        return None
    if value in ("pass", "affine"):
        return LayerDecision("rule", Pass())
    if value in ("route", "unsupported"):  # "unsupported": a traced operation that raises by itself
        return LayerDecision("route")
    if value == "z":
        return LayerDecision("rule", Z())
    if value == "sum":
        for cls, rule in SUM_RULES.items():
            if type(module) is cls:
                return LayerDecision("rule", rule)
        coefficients = getattr(module, "lrp_coefficients", None)
        return LayerDecision("rule", SumRule(coefficients))
    if value == "gate":
        return LayerDecision("rule", GateRule())
    return LayerDecision(
        "unsupported",
        message=f"LRP: '{path}' ({type(module).__name__}) declares lrp_rule={value!r}; known values: "
        + ", ".join(LRP_RULE_VALUES),
    )

ROUTE_TYPES: tuple[type[nn.Module], ...] = (
    nn.Flatten, nn.Unflatten,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
    nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d,
    nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d,
    nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d,
    nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle,
    blocks.ChannelsLastFlatten, blocks.ChannelsLastReshape, blocks.ChannelsLastPermute,
    blocks.SamePadding, blocks.Concatenate, blocks.Maximum, blocks.Minimum,
)

AVERAGE_POOL_TYPES: tuple[type[nn.Module], ...] = (
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    blocks.SameAvgPool,
)

BATCH_NORM_TYPES: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)

SUM_RULES: dict[type[nn.Module], Rule] = {
    blocks.Add: SumRule(),
    blocks.Average: SumRule(),
    blocks.Subtract: SumRule((1.0, -1.0)),
    ResidualAdd: SumRule(),
}

# modules with children that are handled as one layer (their children get no hooks)
UNIT_TYPES: tuple[type[nn.Module], ...] = (blocks.ChannelsFirstLinear, blocks.SameAvgPool)

_HINTS: dict[str, str] = {
    "Softmax": "a softmax inside the model has no LRP rule (only a final nn.Softmax is removed); "
    "return logits from the model",
    "LogSoftmax": "LRP explains logits: drop the final LogSoftmax (return logits)",
    "Multiply": "element-wise products of two signals have no LRP rule unless one factor is a gate",
}


@dataclass(frozen=True)
class LayerDecision:
    """What the engine does with one module.

    ``action`` is ``"kernel"`` (rule decided per call by :meth:`Composite.kernel_rule`),
    ``"rule"`` (hook with ``rule``), ``"route"`` (no hook), ``"kernel_padding"`` (no rule; the
    padding belongs to the convolution it feeds, see :func:`is_kernel_padding`), ``"container"``
    (look at the children) or ``"unsupported"`` (raise ``message`` when it is called on the
    relevance path).
    """

    action: str
    rule: Rule | None = None
    kind: str | None = None
    message: str = ""


def is_kernel_padding(module: nn.Module) -> bool:
    """Whether ``module`` is zero padding that belongs to the convolution it feeds.

    True for the converter's :class:`~signxai_captum._blocks.SamePadding` (Keras ``padding="same"``)
    and for any zero-padding module with the attribute ``lrp_kernel_padding = True``. Such padding
    is treated like a convolution's own ``padding=`` argument: the padded positions are not layer
    inputs (no bounds for Bounded, no unit input for WSquare/Flat, not in std(a) for StdxEpsilon).
    Padding done by a separate padding layer (``nn.ZeroPad2d``, Keras ``ZeroPadding2D``) is part of
    the next layer's input, as in the reference implementation.
    """
    if isinstance(module, blocks.SamePadding):
        return module.value == 0.0
    if getattr(module, "lrp_kernel_padding", False) is True:
        value = getattr(module, "value", 0.0)
        return value == 0.0
    return False


def _is_frozen_batch_norm(module: nn.Module) -> bool:
    return type(module).__name__ == "FrozenBatchNorm2d" and hasattr(module, "running_mean")


class Composite:
    """Rules for every layer of a model.

    Parameters
    ----------
    dense : Rule or str
        Rule for Linear layers.
    conv : Rule or str
        Rule for convolutions (Conv1d/2d/3d and transposed convolutions).
    input_rule : Rule or str, optional
        Replaces ``dense``/``conv`` on the kernel layer(s) fed directly by the model input
        (looking through Flatten/Reshape/Permute/Padding, docs/semantics.md §4.3). ``None``: no replacement.
    layer_rules : mapping, optional
        Overrides, keyed by module path (``"features.0"``, exact) or by module type (matched with
        ``isinstance``, in insertion order); values are rules or rule names (``"pass"``,
        ``"route"``, ``"z"`` ...). A path override beats a type override, and both beat the
        input-layer rule.
    """

    #: start from max(f_c(x), 0) instead of f_c(x) (DeepTaylor)
    nonnegative_seed = False

    def __init__(
        self,
        dense: Rule | str,
        conv: Rule | str,
        input_rule: Rule | str | None = None,
        layer_rules: Mapping[Any, Rule | str] | None = None,
    ) -> None:
        self.dense = as_rule(dense)
        self.conv = as_rule(conv)
        self.input_rule = None if input_rule is None else as_rule(input_rule)
        self.path_rules: dict[str, Rule] = {}
        self.type_rules: list[tuple[type, Rule]] = []
        for key, value in dict(layer_rules or {}).items():
            if isinstance(key, str):
                self.path_rules[key] = as_rule(value)
            elif isinstance(key, type) and issubclass(key, nn.Module):
                self.type_rules.append((key, as_rule(value)))
            else:
                raise TypeError(f"layer_rules keys must be module paths (str) or nn.Module types, got {key!r}")

    @classmethod
    def from_rule_set(cls, rules: LRPRuleSet, layer_rules: Mapping[Any, Rule | str] | None = None) -> "Composite":
        """Build from a ``shared_spec.LRPRuleSet`` (``MethodSpec.lrp_rules()``); its per-layer rules are
        keyed by module path, ``layer_rules`` given here take precedence over them."""
        per_layer: dict[Any, Rule | str] = {name: rule_from_spec(r.name, r.params) for name, r in rules.layers.items()}
        per_layer.update(dict(layer_rules or {}))
        return cls(
            rule_from_spec(rules.dense.name, rules.dense.params),
            rule_from_spec(rules.conv.name, rules.conv.params),
            None if rules.input is None else rule_from_spec(rules.input.name, rules.input.params),
            per_layer,
        )

    def __repr__(self) -> str:
        return f"Composite(dense={self.dense!r}, conv={self.conv!r}, input_rule={self.input_rule!r})"

    def _override(self, path: str, module: nn.Module) -> Rule | None:
        if path in self.path_rules:
            return self.path_rules[path]
        for cls, rule in self.type_rules:
            if isinstance(module, cls):
                return rule
        return None

    def decide(self, path: str, module: nn.Module) -> LayerDecision:
        """The :class:`LayerDecision` for ``module`` at ``path``."""
        kind = kernel_kind(module)
        override = self._override(path, module)
        if override is not None:
            if isinstance(override, Route):
                return LayerDecision("route")
            return LayerDecision("rule", override, kind)
        if is_kernel_padding(module):
            return LayerDecision("kernel_padding")
        declared = _declared(path, module)
        if declared is not None:
            return declared
        if kind is not None:
            return LayerDecision("kernel", kind=kind)
        if isinstance(module, UNIT_TYPES) or not any(True for _ in module.children()):
            return self._leaf_decision(path, module)
        return LayerDecision("container")

    @staticmethod
    def _leaf_decision(path: str, module: nn.Module) -> LayerDecision:
        if isinstance(module, AVERAGE_POOL_TYPES):
            return LayerDecision("rule", Z())
        if isinstance(module, BATCH_NORM_TYPES) or _is_frozen_batch_norm(module):
            return LayerDecision("rule", BatchNormRule())
        for cls, rule in SUM_RULES.items():
            if type(module) is cls:
                return LayerDecision("rule", rule)
        if isinstance(module, PASS_TYPES) or _qualified_name(module) in _PASS_NAMES:
            return LayerDecision("rule", Pass())
        if _qualified_name(module) in _ROUTE_NAMES:
            return LayerDecision("route")
        if is_kernel_padding(module):
            return LayerDecision("kernel_padding")
        if isinstance(module, nn.Upsample) and module.mode == "nearest":
            return LayerDecision("route")
        if isinstance(module, ROUTE_TYPES):
            return LayerDecision("route")
        name = type(module).__name__
        hint = _HINTS.get(name, "give it a rule with layer_rules={'%s': rule}" % path)
        return LayerDecision(
            "unsupported",
            message=f"LRP has no rule for layer '{path}' ({type(module).__module__}.{name}): {hint}",
        )

    def kernel_rule(self, path: str, kind: str, is_input_layer: bool) -> Rule:
        """The rule of a kernel layer of ``kind`` (``"dense"``/``"conv"``) for one call (:func:`shared_spec.select_kernel_rule`)."""
        return select_kernel_rule(self.dense, self.conv, self.input_rule, kind, is_input_layer)


#: layers that are the identity at inference (every dropout kind), the only Pass layers DeepTaylor keeps
_IDENTITY_TYPES = (nn.Identity, nn.modules.dropout._DropoutNd)
_STOCHASTIC_DEPTH = "torchvision.ops.stochastic_depth.StochasticDepth"
_RELU_LABELS = frozenset(f"{m}.{n}" for m in ("F", "torch", "Tensor") for n in ("relu", "relu_"))


class DeepTaylorComposite(Composite):
    """DeepTaylor (docs/semantics.md §4.4): kernel layers ZPlus when they feed a ReLU, WSquare otherwise;
    ReLU, pooling and sums the plain gradient; batch norm WSquare on its affine map; an optional
    input-layer rule (Bounded for BoundedDeepTaylor); any other layer raises.

    The explanation starts from ``max(f_c(x), 0)`` (:attr:`nonnegative_seed`).

    Parameters
    ----------
    input_rule : Rule or str, optional
        Rule of the input layer(s) (``Bounded(low, high)`` for ``deep_taylor_bounded``).
    """

    nonnegative_seed = True

    def __init__(self, input_rule: Rule | str | None = None) -> None:
        super().__init__(DeepTaylorKernel(), DeepTaylorKernel(), input_rule)

    def decide(self, path: str, module: nn.Module) -> LayerDecision:
        decision = super().decide(path, module)
        if decision.action != "rule":
            return decision
        rule = decision.rule
        if isinstance(rule, Pass):
            if isinstance(module, nn.ReLU) or getattr(module, "label", None) in _RELU_LABELS:
                return LayerDecision("rule", ReLUGradient(), decision.kind)
            if isinstance(module, _IDENTITY_TYPES) or _qualified_name(module) == _STOCHASTIC_DEPTH:
                return decision  # identities at inference
            return self._refuse(path, module, "only ReLU activations and identity layers pass relevance in DeepTaylor")
        if isinstance(rule, (Z, SumRule)):  # average pooling, means and sums: the plain gradient
            return LayerDecision("rule", GradientRule(), decision.kind)
        if isinstance(rule, BatchNormRule):
            return LayerDecision("rule", DeepTaylorBatchNorm(), decision.kind)
        return self._refuse(path, module, f"its LRP rule {rule!r} has no DeepTaylor counterpart")

    @staticmethod
    def _refuse(path: str, module: nn.Module, why: str) -> LayerDecision:
        return LayerDecision(
            "unsupported",
            message=f"DeepTaylor has no rule for layer '{path}' ({type(module).__name__}): {why}; "
            "DeepTaylor applies to ReLU networks of kernel layers, pooling, sums and batch norms",
        )
