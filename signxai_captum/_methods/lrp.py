"""Layer-wise relevance propagation (docs/semantics.md §4) as Captum attributions, with the SIGN input rules.

>>> LRPSign(model, epsilon=0.1).attribute(x, target=3)          # lrpsign_epsilon_0_1
>>> LRP(model, rule=Epsilon(0.1), input_rule=Sign()).attribute(x, target=3)
>>> LRP.from_method(model, "lrp_sequential_composite_a").attribute(x)

Relevance starts from the selected logit value f_c(x) (docs/semantics.md §1), so for conservative rules it sums
to about f_c(x); ``return_convergence_delta=True`` returns ``sum(R) - f_c(x)`` per sample.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Literal, Mapping, Sequence, overload

import torch
from captum.log import log_usage
from torch import nn

from shared_spec import LRPRuleSet, MethodParameterError, check_parameter, MethodSpec, lrp_spec, parameter_default, parse
from shared_spec.grammar import preset_default

from ..lrp.canonizers import Canonizer, default_canonizers
from ..lrp.composites import Composite, DeepTaylorComposite, UnsupportedLayerError
from ..lrp._engine import relevance_session
from .._modelstate import exclusive
from ..lrp.rules import Rule
from .base import SignXAIAttribution, TensorOrTuple

__all__ = [
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
]

RuleLike = Rule | str


class LRP(SignXAIAttribution):
    """Layer-wise relevance propagation with configurable rules.

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final ``nn.Softmax`` is skipped; the model is never modified: hooks and
        canonizers are removed and ``training``/``requires_grad`` restored on every path).
    rule : Rule, str, mapping or Composite, default "z"
        The rule of every kernel layer (Linear and convolutions); or ``{"dense": rule, "conv": rule}``;
        or a ``shared_spec.LRPRuleSet``; or a ready :class:`~signxai_captum.lrp.composites.Composite`
        (then ``input_rule`` and ``layer_rules`` must be left out).
    input_rule : Rule or str, optional
        Rule for the kernel layer(s) fed directly by the model input (docs/semantics.md §4.3), e.g.
        :class:`~signxai_captum.lrp.rules.Sign`. ``None``: the kernel rule there too.
    layer_rules : mapping, optional
        Per-layer overrides keyed by module path (``"features.0"``) or module type; values are rules
        or rule names (``"pass"``, ``"route"``, ``"z"``...). Use it to give a rule to a custom layer.
    canonizers : sequence of Canonizer or callable, optional
        Temporary model rewrites; default :func:`~signxai_captum.lrp.canonizers.default_canonizers`
        (out-of-place activations, torchvision ResNet residual sums). A callable is called once per
        :meth:`attribute` to get fresh instances.
    initial_relevance : {"logit", "one"}, default "logit"
        Seed at the selected output: its value f_c(x) (docs/semantics.md §1) or 1.
    trace : bool, default True
        Run the forward pass through a cached ``torch.fx`` view of the model, so that operations
        written in ``forward`` (``F.relu``, ``x + y``, ``x.mean(...)``, ``x * gate``...) get their
        rules (:mod:`signxai_captum.lrp._functional`); models that cannot be traced, and ``False``,
        use module hooks only.

    Notes
    -----
    Which layers are supported, and why a functional ``x + y`` in ``forward`` is an error, is
    described in :mod:`signxai_captum.lrp.composites` and :mod:`signxai_captum.lrp._engine`.
    """

    needs_layers = "applies its rules through hooks on the model's layers"

    def __init__(
        self,
        model: nn.Module,
        rule: RuleLike | Mapping[str, RuleLike] | LRPRuleSet | Composite = "z",
        input_rule: RuleLike | None = None,
        layer_rules: Mapping[Any, RuleLike] | None = None,
        canonizers: Sequence[Canonizer] | Callable[[], Sequence[Canonizer]] | None = None,
        initial_relevance: Literal["logit", "one"] = parameter_default("initial_relevance"),
        trace: bool = True,
    ) -> None:
        super().__init__(model)
        self.trace = bool(trace)
        self.composite = _composite(rule, input_rule, layer_rules)
        if canonizers is None:
            canonizers = default_canonizers
        self._canonizers = canonizers
        self.initial_relevance = check_parameter("initial_relevance", initial_relevance, type(self).__name__)
        self.method_name: str | None = None
        self.input_layers: list[str] = []
        self._warned_no_input_layer = False

    @staticmethod
    def from_method(model: nn.Module, method: str | MethodSpec, **kwargs: Any) -> "LRP":
        """The :class:`LRP` attribution of a method name of the table (``lrpsign_epsilon_0_1``, ...).

        Parameters
        ----------
        model : torch.nn.Module
            The model.
        method : str or shared_spec.MethodSpec
            An LRP method name (or parametric form, docs/semantics.md §2).
        **kwargs
            Keyword overrides of the name's parameters (``epsilon=``, ``mu=``, ``low=``...), plus
            ``layer_rules``, ``canonizers`` and ``initial_relevance`` for the attribution.
        """
        options = {k: kwargs.pop(k) for k in ("layer_rules", "canonizers", "initial_relevance", "trace") if k in kwargs}
        spec = method if isinstance(method, MethodSpec) else parse(method, **kwargs)
        if not spec.is_lrp:
            raise ValueError(f"{spec.name!r} is not an LRP method")
        attribution = LRP(model, spec.lrp_rules(), **options)
        attribution.method_name = spec.name
        return attribution

    def has_convergence_delta(self) -> bool:  # noqa: D102
        return True

    @property
    def multiplies_by_inputs(self) -> bool:  # noqa: D102
        return True

    @overload
    def attribute(
        self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None,
        return_convergence_delta: Literal[False] = False,
    ) -> TensorOrTuple: ...

    @overload
    def attribute(
        self, inputs: TensorOrTuple, target: Any = None, additional_forward_args: Any = None, *,
        return_convergence_delta: Literal[True],
    ) -> tuple[TensorOrTuple, torch.Tensor]: ...

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: Any = None,
        additional_forward_args: Any = None,
        return_convergence_delta: bool = False,
    ) -> TensorOrTuple | tuple[TensorOrTuple, torch.Tensor]:
        """Relevance of each input element for the selected logit.

        Parameters
        ----------
        inputs : torch.Tensor or tuple of torch.Tensor
            A batch (dim 0), or a tuple of batches for multi-input models.
        target : None, int, list of int or 1-D tensor
            ``None``: the argmax of the logits per sample; an int: that class for every sample;
            a list or 1-D tensor of length N: one class per sample.
        additional_forward_args : Any, optional
            Extra positional arguments for the model's forward (they get no relevance).
        return_convergence_delta : bool, default False
            Also return ``sum(R) - seed`` per sample (``seed = f_c(x)`` by default), a tensor of
            shape ``(N,)``.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            Relevance maps with exactly the shapes of ``inputs``; with ``return_convergence_delta``
            a pair ``(maps, delta)``.
        """
        with exclusive(self.forward_func):  # the seed stays this call's when threads share this object
            self._seed: torch.Tensor | None = None
            result = SignXAIAttribution.attribute.__wrapped__(self, inputs, target, additional_forward_args)
            seed = self._seed
        if not return_convergence_delta:
            return result
        maps = result if isinstance(result, tuple) else (result,)
        total = sum(m.reshape(m.shape[0], -1).sum(dim=1) for m in maps)
        return result, (total - seed).detach()

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        canonizers = self._canonizers() if callable(self._canonizers) else self._canonizers
        with relevance_session(self.forward_func, self.composite, canonizers, self.trace) as session:
            leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
            session.set_inputs(leaves)
            try:  # session.module: the FX view (same modules) or the model itself
                output = self._forward(leaves, additional_forward_args, module=session.module)
            except ValueError as error:  # _forward wraps errors raised by the model: show ours as they are
                if isinstance(error.__cause__, UnsupportedLayerError):
                    raise error.__cause__ from None
                raise
            session.check_graph(output)
            targets = self._targets(target, output)
            selected = output.gather(1, targets[:, None])
            seed = selected.detach() if self.initial_relevance == "logit" else torch.ones_like(selected)
            if self.composite.nonnegative_seed:  # DeepTaylor starts from max(f_c(x), 0)
                seed = seed.clamp(min=0)
            grads = torch.autograd.grad(selected, leaves, seed, allow_unused=True)
            self.input_layers = list(session.input_layers)
        self._seed = seed[:, 0].detach()
        if self.composite.input_rule is not None and not self.input_layers and not self._warned_no_input_layer:
            self._warned_no_input_layer = True
            warnings.warn(
                f"the input-layer rule {self.composite.input_rule!r} was not applied: no Linear/convolution layer is "
                "fed directly by the model input (only Flatten/Reshape/Permute/Padding are looked through, docs/semantics.md §4.3)",
                stacklevel=4,
            )
        return tuple(torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads))


def _composite(
    rule: Any, input_rule: RuleLike | None, layer_rules: Mapping[Any, RuleLike] | None
) -> Composite:
    if isinstance(rule, Composite):
        if input_rule is not None or layer_rules:
            raise ValueError("give input_rule and layer_rules to the Composite, not next to it")
        return rule
    if isinstance(rule, LRPRuleSet):
        composite = Composite.from_rule_set(rule, layer_rules)
        if input_rule is not None:
            composite = Composite(composite.dense, composite.conv, input_rule, layer_rules)
        return composite
    if isinstance(rule, Mapping):
        unknown = set(rule) - {"dense", "conv"}
        if unknown or len(rule) != 2:
            raise ValueError(f"a rule mapping needs exactly the keys 'dense' and 'conv', got {sorted(rule)}")
        return Composite(rule["dense"], rule["conv"], input_rule, layer_rules)
    return Composite(rule, rule, input_rule, layer_rules)


class _Named(LRP):
    """Shared constructor of the preset classes: the rules of one table preset (:func:`shared_spec.lrp_spec`)."""

    def _init_from_spec(
        self, model: nn.Module, spec: MethodSpec, input_rule: RuleLike | None, options: dict[str, Any]
    ) -> None:
        LRP.__init__(self, model, spec.lrp_rules(), input_rule, **options)
        # a user-given input rule makes it a method without a table name
        self.method_name = spec.name if input_rule is None else None
        for key, value in spec.params.items():
            setattr(self, key, value)


class LRPZ(_Named):
    """``lrp_z``: the Z rule on every kernel layer.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    input_rule, layer_rules, canonizers, initial_relevance
        As for :class:`LRP`.
    bias : bool, default True
        ``False``: the IgnoreBias variant (``lrp_z_ignore_bias``), no bias in ``z``.
    """

    def __init__(
        self, model: nn.Module, input_rule: RuleLike | None = None, *, bias: bool = parameter_default("bias"),
        **options: Any,
    ) -> None:
        self._init_from_spec(model, lrp_spec("lrp", "z", bias=bias), input_rule, options)


class LRPEpsilon(_Named):
    """``lrp_epsilon_<v>``: the Epsilon rule on every kernel layer.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    epsilon : float
        Stabiliser > 0.
    input_rule, layer_rules, canonizers, initial_relevance
        As for :class:`LRP`.
    bias : bool, default True
        ``False``: the IgnoreBias variant (``lrp_epsilon_<v>_ignore_bias``).
    """

    def __init__(
        self, model: nn.Module, epsilon: float, input_rule: RuleLike | None = None, *,
        bias: bool = parameter_default("bias"), **options: Any,
    ) -> None:
        self._init_from_spec(model, lrp_spec("lrp", "epsilon", epsilon=epsilon, bias=bias), input_rule, options)


class LRPStdxEpsilon(_Named):
    """``lrp_epsilon_<f>_std_x``: Epsilon with ``epsilon = std_factor * std(layer input)`` per sample.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    std_factor : float
        Factor > 0.
    input_rule, layer_rules, canonizers, initial_relevance
        As for :class:`LRP`.
    bias : bool, default True
        ``False``: no bias in the denominators.
    """

    def __init__(
        self, model: nn.Module, std_factor: float, input_rule: RuleLike | None = None, *,
        bias: bool = parameter_default("bias"), **options: Any,
    ) -> None:
        spec = lrp_spec("lrp", "epsilon_std_x", std_factor=std_factor, bias=bias)
        self._init_from_spec(model, spec, input_rule, options)


class LRPAlphaBeta(_Named):
    """``lrp_alpha_<a>_beta_<b>``: the AlphaBeta rule on every kernel layer.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    alpha, beta : float, default 1 and 0
        ``alpha - beta = 1``, ``alpha >= 1``, ``beta >= 0``.
    input_rule, layer_rules, canonizers, initial_relevance
        As for :class:`LRP`.
    alpha_beta_bias : {"reference", "split"}, default "reference"
        ``"reference"``: the full bias in both denominators (iNNvestigate/signxai);
        ``"split"``: ``b+`` in ``z+``, ``b-`` in ``z-`` (textbook/zennit form).
        See :class:`~signxai_captum.lrp.rules.AlphaBeta`.
    bias : bool, default True
        ``False``: the IgnoreBias variant (``lrp_alpha_<a>_beta_<b>_ignore_bias``).
    """

    def __init__(
        self,
        model: nn.Module,
        alpha: float = 1.0,
        beta: float = 0.0,
        input_rule: RuleLike | None = None,
        *,
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
        bias: bool = parameter_default("bias"),
        **options: Any,
    ) -> None:
        spec = lrp_spec("lrp", "alpha_beta", alpha=alpha, beta=beta, alpha_beta_bias=alpha_beta_bias, bias=bias)
        self._init_from_spec(model, spec, input_rule, options)


class LRPSign(_Named):
    """``lrpsign_*``: the SIGN input rule (SIGNmu with ``mu``) over any LRP preset.

    The first kernel layer(s) fed by the input use ``R_in = sign(a) * W^T (R / z)`` (no epsilon);
    every other kernel layer uses the preset's rule.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    epsilon : float, optional
        Preset ``epsilon_<v>`` (``lrpsign_epsilon_<v>``).
    std_x : float, optional
        Preset ``epsilon_<f>_std_x`` with this std factor.
    mu : float, optional
        Use SIGNmu with this threshold (raw input units) instead of SIGN.
    preset : str, optional
        Any preset of the table written as in a method name after the prefix: ``"z"``,
        ``"epsilon_0_1"``, ``"alpha_1_beta_0"``, ``"sequential_composite_a"``, ``"z_plus"``...
        Give at most one of ``epsilon``, ``std_x`` and ``preset``; none gives ``"z"``.
    alpha_beta_bias : {"reference", "split"}, optional
        Bias form of the AlphaBeta rule (presets ``alpha_<a>_beta_<b>`` and the sequential
        composites only); default the reference form. See :class:`~signxai_captum.lrp.rules.AlphaBeta`.
    **options
        ``layer_rules``, ``canonizers``, ``initial_relevance`` as for :class:`LRP`.
    """

    def __init__(
        self,
        model: nn.Module,
        epsilon: float | None = None,
        std_x: float | None = None,
        mu: float | None = None,
        preset: str | None = None,
        *,
        alpha_beta_bias: str | None = None,
        **options: Any,
    ) -> None:
        given = [n for n, v in (("epsilon", epsilon), ("std_x", std_x), ("preset", preset)) if v is not None]
        if len(given) > 1:
            raise MethodParameterError(f"LRPSign: give at most one of epsilon, std_x and preset, got {', '.join(given)}")
        extra: dict[str, Any] = {} if alpha_beta_bias is None else {"alpha_beta_bias": alpha_beta_bias}
        if epsilon is not None:
            spec = lrp_spec("lrpsign", "epsilon", epsilon=epsilon, mu=mu, **extra)
        elif std_x is not None:
            spec = lrp_spec("lrpsign", "epsilon_std_x", std_factor=std_x, mu=mu, **extra)
        elif preset is None:
            spec = lrp_spec("lrpsign", "z", mu=mu, **extra)
        elif not isinstance(preset, str):
            raise MethodParameterError(f"LRPSign: preset must be a string such as 'epsilon_0_1', got {preset!r}")
        else:  # a preset written as in a name: read it with the grammar
            for prefix in ("lrpsign_", "lrp_"):
                preset = preset.removeprefix(prefix)
            overrides: dict[str, Any] = dict(extra)
            if mu is not None:
                overrides["mu"] = mu
            spec = parse(f"lrpsign_{preset}", **overrides)
        self._init_from_spec(model, spec, None, options)
        self.std_x = spec.params.get("std_factor")


class LRPSequentialCompositeA(_Named):
    """``lrp_sequential_composite_a``: Linear layers Epsilon(0.1), convolutions AlphaBeta(1, 0).

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    input_rule : Rule or str, optional
        As for :class:`LRP`.
    epsilon : float, default 0.1
        The Linear layers' epsilon (the reference's ``LRPSequentialCompositeA(epsilon=...)``).
    alpha_beta_bias : {"reference", "split"}, default "reference"
        Bias form of the convolutions' AlphaBeta rule, see :class:`~signxai_captum.lrp.rules.AlphaBeta`.
    **options
        ``layer_rules``, ``canonizers``, ``initial_relevance`` as for :class:`LRP`.
    """

    _preset = "sequential_composite_a"

    def __init__(
        self,
        model: nn.Module,
        input_rule: RuleLike | None = None,
        *,
        epsilon: float = preset_default("sequential_composite_a", "epsilon"),
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
        **options: Any,
    ) -> None:
        spec = lrp_spec("lrp", self._preset, epsilon=epsilon, alpha_beta_bias=alpha_beta_bias)
        self._init_from_spec(model, spec, input_rule, options)


class LRPSequentialCompositeB(LRPSequentialCompositeA):
    """``lrp_sequential_composite_b``: Linear layers Epsilon(0.1), convolutions AlphaBeta(2, 1)."""

    _preset = "sequential_composite_b"


class DeepTaylor(LRP):
    """``deep_taylor``: DeepTaylor decomposition (docs/semantics.md §4.4).

    Starts from ``max(f_c(x), 0)``; kernel layers that feed a ReLU use ZPlus, other kernel layers
    WSquare, batch norms WSquare on their affine map; ReLU, pooling and sums pass the plain gradient.
    Other layers (non-ReLU activations, gates, normalisations) raise.

    Parameters
    ----------
    model : torch.nn.Module
        A ReLU network.
    **options
        ``canonizers``, ``trace`` as for :class:`LRP`.
    """

    def __init__(self, model: nn.Module, **options: Any) -> None:
        LRP.__init__(self, model, DeepTaylorComposite(), **options)
        self.method_name = "deep_taylor"


class BoundedDeepTaylor(LRP):
    """``deep_taylor_bounded``: :class:`DeepTaylor` with Bounded(low, high) on the input layer(s).

    Parameters
    ----------
    model : torch.nn.Module
        A ReLU network.
    low, high : float or array, default -1 and 1
        The input range (scalars, per channel or per element), as for the Bounded rule.
    **options
        ``canonizers``, ``trace`` as for :class:`LRP`.
    """

    def __init__(
        self, model: nn.Module, low: Any = parameter_default("low"), high: Any = parameter_default("high"),
        **options: Any,
    ) -> None:
        from ..lrp.rules import Bounded

        LRP.__init__(self, model, DeepTaylorComposite(input_rule=Bounded(low, high)), **options)
        self.method_name = "deep_taylor_bounded"
        self.low, self.high = low, high
