"""iNNvestigate's LRP rule classes, as descriptors of this project's rules (docs/semantics.md §4.1, §4.4).

Each class names one rule of the method table (``methods.json``, section ``lrp.rules``) with its
parameters and becomes a ``shared_spec.LRPRule`` (:meth:`Rule.lrp_rule`); the LRP engine of
:mod:`signxai_tf.lrp` computes it. Use a class, an instance or iNNvestigate's rule string
(:data:`LRP_RULES`) in ``rule=`` / ``input_layer_rule=`` of :class:`signxai_tf.analyzer.LRP`::

    from signxai_tf.analyzer import LRP
    from signxai_tf.analyzer.rules import EpsilonRule, FlatRule

    LRP(model, rule=EpsilonRule(epsilon=0.1), input_layer_rule=FlatRule)
    LRP(model, rule="Alpha1Beta0", input_layer_rule=(-1.0, 1.0))   # (low, high): BoundedRule

A class is instantiated without arguments (its defaults are iNNvestigate's); iNNvestigate's
"proxy" subclasses that fix parameters in ``__init__`` (``super().__init__(*args, epsilon=0.1,
**kwargs)``) work unchanged. Parameters are checked against the method table when the rule is
made (:class:`shared_spec.MethodParameterError`).

User-written rules
------------------
Subclass :class:`Rule` and implement :meth:`Rule.relevance`, one relevance step of one kernel layer
in TensorFlow::

    class MyZ(Rule):
        def relevance(self, layer, a, R):
            return a * layer.transposed(tf.math.divide_no_nan(R, layer.z))

``layer`` is a :class:`KernelView` (the kernel, the bias, the layer's linear map and its transpose);
``a`` the layer's input and ``R`` the relevance at its pre-activation output, both batches. The
method runs inside the engine's ``tf.function`` and must return a tensor of ``a``'s shape.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

import tensorflow as tf

from shared_spec import LRPRule, MethodParameterError, check_alpha_beta, check_parameter, method_table, parameter_default
from shared_spec.grammar import check_bounds

from ..lrp._layers import KernelLayer
from ..lrp._rules import vjp

__all__ = [
    "LRP_RULES",
    "KernelView",
    "Rule",
    "ZRule",
    "ZIgnoreBiasRule",
    "EpsilonRule",
    "EpsilonIgnoreBiasRule",
    "StdxEpsilonRule",
    "SIGNRule",
    "SIGNmuRule",
    "WSquareRule",
    "FlatRule",
    "AlphaBetaRule",
    "AlphaBetaIgnoreBiasRule",
    "Alpha2Beta1Rule",
    "Alpha2Beta1IgnoreBiasRule",
    "Alpha1Beta0Rule",
    "Alpha1Beta0IgnoreBiasRule",
    "AlphaBetaXRule",
    "AlphaBetaX1000Rule",
    "AlphaBetaX1010Rule",
    "AlphaBetaX1001Rule",
    "AlphaBetaX2m100Rule",
    "ZPlusRule",
    "ZPlusFastRule",
    "BoundedRule",
    "GammaRule",
]

#: iNNvestigate's default epsilon of EpsilonRule / LRPEpsilon (the method table has no default epsilon)
INNVESTIGATE_EPSILON = 1e-7
#: signxai's default std factor of StdxEpsilonRule / LRPStdxEpsilon
SIGNXAI_STDFACTOR = 0.25
#: iNNvestigate's AlphaBetaXRule defaults
INNVESTIGATE_ALPHA_X = (0.5, 0.5)
INNVESTIGATE_BETA_X = (0.5, 0.5)


class KernelView:
    """What a user-written :class:`Rule` sees of one kernel layer (or one part of a SeparableConv).

    Attributes
    ----------
    keras_layer : keras.layers.Layer
        The Keras layer (read only).
    name : str
        The layer's name (``"<name>/depthwise"`` / ``"<name>/pointwise"`` for a SeparableConv's parts).
    kind : {"dense", "conv"}
    kernel : tf.Tensor
        The kernel ``W``.
    bias : tf.Tensor or None
        The bias, shaped to broadcast against the layer's output, or ``None``.
    z_without_bias, z : tf.Tensor
        ``W a`` and ``W a + b`` for the layer's input ``a`` (the pre-activation; a fused activation is
        not part of it, docs/semantics.md §4).
    """

    def __init__(self, k: KernelLayer, a: tf.Tensor, z_nb: tf.Tensor) -> None:
        self._k = k
        self._a = a
        self.keras_layer = k.layer
        self.name = k.name
        self.kind = k.kind
        self.kernel = k.kernel
        self.bias = k.bias
        self.z_without_bias = z_nb
        self.z = k.add_bias(z_nb, self.bias)

    def linear(self, x: tf.Tensor, kernel: tf.Tensor | None = None) -> tf.Tensor:
        """``W x`` (no bias) with the layer's own linear map, for ``x`` of the input's shape; ``kernel`` replaces W."""
        return self._k.linear(x, self.kernel if kernel is None else kernel)

    def transposed(self, s: tf.Tensor, kernel: tf.Tensor | None = None) -> tf.Tensor:
        """``Wᵀ s`` for ``s`` of the output's shape, shaped like the input (the vector-Jacobian product)."""
        return vjp(self._k, self._a, s, self.kernel if kernel is None else kernel)


class Rule:
    """Base class of the rules: a table rule with its parameters, or a user-written rule.

    Built-in subclasses set :attr:`rule_name` (the table's rule name) and their parameters; a
    user subclass implements :meth:`relevance` instead. Rules are compared by identity.
    """

    #: the method table's rule name (``None`` for a user-written rule)
    rule_name: str | None = None
    _params: Mapping[str, Any] = MappingProxyType({})  # instances set their own

    def __init__(self) -> None:
        self._params: dict[str, Any] = {}

    @property
    def params(self) -> Mapping[str, Any]:
        """The rule's parameters as the engine reads them (read only)."""
        return MappingProxyType(self._params)

    def relevance(self, layer: KernelView, a: tf.Tensor, R: tf.Tensor) -> tf.Tensor:
        """One relevance step ``R -> R_in`` of a kernel layer (implement this in a user-written rule).

        Parameters
        ----------
        layer : KernelView
            The layer, bound to its input ``a``.
        a : tf.Tensor
            The layer's input (a batch).
        R : tf.Tensor
            The relevance at the layer's pre-activation output.

        Returns
        -------
        tf.Tensor
            The relevance at the layer's input, ``a``'s shape.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement relevance(layer, a, R)")

    def is_custom(self) -> bool:
        """Whether this rule is user-written (it overrides :meth:`relevance`)."""
        return type(self).relevance is not Rule.relevance

    def lrp_rule(self) -> LRPRule:
        """The ``shared_spec.LRPRule`` the engine computes (``"custom"`` for a user-written rule)."""
        if self.is_custom():
            return LRPRule("custom", {"function": self._engine_function})
        if self.rule_name is None:
            raise TypeError(
                f"{type(self).__name__} is a Rule without a table rule: implement relevance(layer, a, R) "
                "or derive from one of the rule classes of signxai_tf.analyzer.rules"
            )
        return LRPRule(self.rule_name, self._params)

    def _engine_function(self, k: KernelLayer, a: tf.Tensor, z_nb: tf.Tensor, R: tf.Tensor) -> tf.Tensor:
        return self.relevance(KernelView(k, a, z_nb), a, R)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({shown})"


def _bias(value: Any, where: str) -> bool:
    return check_parameter("bias", value, where)


class ZRule(Rule):
    """Z rule (docs/semantics.md §4.1); ``bias=False``: the bias is left out of ``z``."""

    rule_name = "z"

    def __init__(self, bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        self._params = {"bias": _bias(bias, type(self).__name__)}


class ZIgnoreBiasRule(ZRule):
    """Z rule without the bias."""

    def __init__(self) -> None:
        super().__init__(bias=False)


class EpsilonRule(Rule):
    """Epsilon rule, ``epsilon > 0`` (iNNvestigate's default 1e-7)."""

    rule_name = "epsilon"

    def __init__(self, epsilon: float = INNVESTIGATE_EPSILON, bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        where = type(self).__name__
        self._params = {"epsilon": check_parameter("epsilon", epsilon, where), "bias": _bias(bias, where)}


class EpsilonIgnoreBiasRule(EpsilonRule):
    """Epsilon rule without the bias."""

    def __init__(self, epsilon: float = INNVESTIGATE_EPSILON) -> None:
        super().__init__(epsilon=epsilon, bias=False)


class StdxEpsilonRule(Rule):
    """StdxEpsilon: epsilon = ``stdfactor`` times the standard deviation of the layer's input, per sample."""

    rule_name = "std_x_epsilon"

    def __init__(self, stdfactor: float = SIGNXAI_STDFACTOR, bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        where = type(self).__name__
        self._params = {
            "std_factor": check_parameter("std_factor", stdfactor, f"{where}(stdfactor)"),
            "bias": _bias(bias, where),
        }


class SIGNRule(Rule):
    """SIGN rule: ``sign(a) ⊙ Wᵀ(R / z)`` (an input-layer rule)."""

    rule_name = "sign"

    def __init__(self, bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        self._params = {} if _bias(bias, type(self).__name__) else {"bias": False}


class SIGNmuRule(Rule):
    """SIGNmu rule: ``sign_mu(a, mu) ⊙ Wᵀ(R / z)``."""

    rule_name = "sign_mu"

    def __init__(self, mu: float = parameter_default("mu"), bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        where = type(self).__name__
        self._params = {"mu": check_parameter("mu", mu, where)}
        if not _bias(bias, where):
            self._params["bias"] = False


class WSquareRule(Rule):
    """WSquare rule (no bias, independent of the input)."""

    rule_name = "w_square"


class FlatRule(Rule):
    """Flat rule (WSquare with all weights 1)."""

    rule_name = "flat"


def infer_alpha_beta(alpha: Any, beta: Any, where: str) -> tuple[float, float]:
    """iNNvestigate's alpha/beta handling: the missing one from ``alpha - beta = 1``, then the table's checks."""
    if alpha is None and beta is None:
        raise MethodParameterError(f"{where}: give alpha or beta (the other follows from alpha - beta = 1); neither was given")
    if alpha is not None:
        alpha = check_parameter("alpha", alpha, where)
    if beta is not None:
        beta = check_parameter("beta", beta, where)
    if alpha is None:
        alpha = beta + 1.0
    if beta is None:
        beta = alpha - 1.0
    return check_alpha_beta(alpha, beta, where)


class AlphaBetaRule(Rule):
    """AlphaBeta rule, reference form (docs/semantics.md §4.1); give alpha or beta, ``alpha - beta = 1``."""

    rule_name = "alpha_beta"

    def __init__(
        self,
        alpha: float | None = None,
        beta: float | None = None,
        bias: bool = parameter_default("bias"),
        *,
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
    ) -> None:
        super().__init__()
        where = type(self).__name__
        alpha, beta = infer_alpha_beta(alpha, beta, where)
        self._params = {
            "alpha": alpha,
            "beta": beta,
            "alpha_beta_bias": check_parameter("alpha_beta_bias", alpha_beta_bias, where),
            "bias": _bias(bias, where),
        }


class AlphaBetaIgnoreBiasRule(AlphaBetaRule):
    """AlphaBeta rule without the bias."""

    def __init__(self, alpha: float | None = None, beta: float | None = None, **kwargs: Any) -> None:
        super().__init__(alpha, beta, bias=False, **kwargs)


class Alpha2Beta1Rule(AlphaBetaRule):
    """AlphaBeta(2, 1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2.0, 1.0, bias=True, **kwargs)


class Alpha2Beta1IgnoreBiasRule(AlphaBetaRule):
    """AlphaBeta(2, 1) without the bias."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(2.0, 1.0, bias=False, **kwargs)


class Alpha1Beta0Rule(AlphaBetaRule):
    """AlphaBeta(1, 0)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(1.0, 0.0, bias=True, **kwargs)


class Alpha1Beta0IgnoreBiasRule(AlphaBetaRule):
    """AlphaBeta(1, 0) without the bias."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(1.0, 0.0, bias=False, **kwargs)


class AlphaBetaXRule(Rule):
    """AlphaBetaX((alpha_0, alpha_1), (beta_0, beta_1)) (docs/semantics.md §4.4; alpha_1 is unused, as in the reference).

    The defaults are iNNvestigate's, ``alpha=(0.5, 0.5)``, ``beta=(0.5, 0.5)``.
    """

    rule_name = "alpha_beta_x"

    def __init__(
        self,
        alpha: tuple[float, float] = INNVESTIGATE_ALPHA_X,
        beta: tuple[float, float] = INNVESTIGATE_BETA_X,
        bias: bool = parameter_default("bias"),
    ) -> None:
        super().__init__()
        where = type(self).__name__
        self._params = {
            "alpha_x": check_parameter("alpha_x", alpha, where),
            "beta_x": check_parameter("beta_x", beta, where),
            "bias": _bias(bias, where),
        }


def _setting(name: str) -> dict[str, Any]:
    return method_table()["lrp"]["presets"]["alpha_beta_x"]["settings"][name]


class AlphaBetaX1000Rule(AlphaBetaXRule):
    """AlphaBetaX, the table's setting ``1000``."""

    def __init__(self) -> None:
        s = _setting("1000")
        super().__init__(s["alpha_x"], s["beta_x"], bias=True)


class AlphaBetaX1010Rule(AlphaBetaXRule):
    """AlphaBetaX, the table's setting ``1010``."""

    def __init__(self) -> None:
        s = _setting("1010")
        super().__init__(s["alpha_x"], s["beta_x"], bias=True)


class AlphaBetaX1001Rule(AlphaBetaXRule):
    """AlphaBetaX, the table's setting ``1001``."""

    def __init__(self) -> None:
        s = _setting("1001")
        super().__init__(s["alpha_x"], s["beta_x"], bias=True)


class AlphaBetaX2m100Rule(AlphaBetaXRule):
    """AlphaBetaX, the table's setting ``2m100``."""

    def __init__(self) -> None:
        s = _setting("2m100")
        super().__init__(s["alpha_x"], s["beta_x"], bias=True)


class ZPlusRule(Rule):
    """ZPlus: AlphaBeta(1, 0) without bias (iNNvestigate's ZPlusRule is Alpha1Beta0IgnoreBiasRule)."""

    rule_name = "z_plus"


class ZPlusFastRule(Rule):
    """ZPlusFast: ``a ⊙ W⁺ᵀ(R / (W⁺a))``, no bias (assumes ``a >= 0``)."""

    rule_name = "z_plus_fast"


class BoundedRule(Rule):
    """Bounded (z^B) rule for inputs in ``[low, high]``: scalars, per-channel arrays or one sample's shape."""

    rule_name = "bounded"

    def __init__(self, low: Any = parameter_default("low"), high: Any = parameter_default("high")) -> None:
        super().__init__()
        where = type(self).__name__
        low = check_parameter("low", low, where)
        high = check_parameter("high", high, where)
        check_bounds(where, low, high)
        self._params = {"low": low, "high": high}


class GammaRule(Rule):
    """Gamma rule (docs/semantics.md §4.1, textbook form), ``gamma >= 0``; ``bias=False`` leaves the bias out."""

    rule_name = "gamma"

    def __init__(self, gamma: float = parameter_default("gamma"), bias: bool = parameter_default("bias")) -> None:
        super().__init__()
        where = type(self).__name__
        self._params = {"gamma": check_parameter("gamma", gamma, where)}
        if not _bias(bias, where):
            self._params["bias"] = False


#: iNNvestigate's rule strings (its ``LRP_RULES``) and this project's further rules -> rule class
LRP_RULES: Mapping[str, Callable[[], Rule]] = MappingProxyType({
    "Z": ZRule,
    "ZIgnoreBias": ZIgnoreBiasRule,
    "Epsilon": EpsilonRule,
    "EpsilonIgnoreBias": EpsilonIgnoreBiasRule,
    "StdxEpsilon": StdxEpsilonRule,
    "SIGN": SIGNRule,
    "SIGNmu": SIGNmuRule,
    "WSquare": WSquareRule,
    "Flat": FlatRule,
    "AlphaBeta": AlphaBetaRule,
    "AlphaBetaIgnoreBias": AlphaBetaIgnoreBiasRule,
    "Alpha2Beta1": Alpha2Beta1Rule,
    "Alpha2Beta1IgnoreBias": Alpha2Beta1IgnoreBiasRule,
    "Alpha1Beta0": Alpha1Beta0Rule,
    "Alpha1Beta0IgnoreBias": Alpha1Beta0IgnoreBiasRule,
    "AlphaBetaX": AlphaBetaXRule,
    "AlphaBetaX1000": AlphaBetaX1000Rule,
    "AlphaBetaX1010": AlphaBetaX1010Rule,
    "AlphaBetaX1001": AlphaBetaX1001Rule,
    "AlphaBetaX2m100": AlphaBetaX2m100Rule,
    "ZPlus": ZPlusRule,
    "ZPlusFast": ZPlusFastRule,
    "Bounded": BoundedRule,
    "Gamma": GammaRule,
})


def as_lrp_rule(value: Any, where: str, what: str = "rule") -> LRPRule:
    """A rule given as a string of :data:`LRP_RULES`, a :class:`Rule` class or instance, or a ``shared_spec.LRPRule``.

    Raises
    ------
    MethodParameterError
        For an unknown string or another kind of value.
    """
    if isinstance(value, LRPRule):
        return value
    if isinstance(value, str):
        try:
            value = LRP_RULES[value]
        except KeyError:
            raise MethodParameterError(
                f"{where}: unknown {what} {value!r}; rule names: {', '.join(LRP_RULES)} "
                "(or a rule class / instance of signxai_tf.analyzer.rules)"
            ) from None
    if isinstance(value, type) and issubclass(value, Rule):
        value = value()
    if isinstance(value, Rule):
        return value.lrp_rule()
    raise MethodParameterError(
        f"{where}: {what} must be a rule name ({', '.join(LRP_RULES)}), a rule class or instance of "
        f"signxai_tf.analyzer.rules, got {value!r}"
    )
