"""LRP rules (docs/semantics.md §4.1, §4.2): how relevance at a layer's output is moved to its input(s).

A rule is a small immutable object with one method, :meth:`Rule.relevance`, that receives the
:class:`LayerCall` (the module, its inputs and its output as recorded during the forward pass)
and the relevance at the layer's output, and returns the relevance at each input. Rules keep no
per-module or per-call state, so one rule object can serve any number of modules and of calls
(a module used twice in a forward, as torchvision's ResNet blocks do with their ReLU, gets two
independent calls).

Kernel-layer rules: :class:`Z`, :class:`Epsilon`, :class:`StdxEpsilon`, :class:`AlphaBeta`,
:class:`ZPlus`, :class:`Gamma`, :class:`WSquare`, :class:`Flat`, :class:`Bounded`,
:class:`Sign`, :class:`SignMu`. Other layers: :class:`Pass` (activations and other
identity-shaped layers), :class:`Route` (plain gradient: reshapes, max pooling, padding),
:class:`BatchNormRule`, :class:`SumRule` (residual additions), and :class:`Z` also serves
average pooling (the pooling is the linear map).

Division conventions (docs/semantics.md §4.1): a quotient with an exactly-zero denominator is 0 ("0/0 is 0");
``s(z) = +1`` for ``z >= 0`` and ``-1`` otherwise.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ._layers import (
    kernel_forward, kernel_parameters, kernel_transpose, pointwise_stride, pointwise_transpose, sign_part_row_blocks,
    sign_parts_by_rows, stacked_output_axis, transposes_without_graph,
)
from .._multipliers import sign_mu
from shared_spec import check_alpha_beta, check_parameter, parameter_default

__all__ = [
    "LayerCall",
    "Rule",
    "Z",
    "Epsilon",
    "StdxEpsilon",
    "AlphaBeta",
    "ZPlus",
    "ZPlusFast",
    "AlphaBetaX",
    "Gamma",
    "WSquare",
    "Flat",
    "Bounded",
    "Sign",
    "SignMu",
    "Pass",
    "Route",
    "BatchNormRule",
    "SumRule",
    "GateRule",
    "rule_from_spec",
    "as_rule",
    "FUSE_ELEMENTWISE",
]


@dataclass(eq=False)
class LayerCall:
    """One call of a module during the forward pass, as a rule sees it.

    Attributes
    ----------
    module : torch.nn.Module
        The module that was called.
    path : str
        Its dotted path in the explained model (for messages).
    inputs : tuple of torch.Tensor
        The tensors the module was called with, still attached to the forward graph.
    output : torch.Tensor or None
        The module's output, attached to the graph of this call only (``None`` for rules that do
        not need it).
    is_input_layer : bool
        Whether the module is fed directly by the model input (docs/semantics.md §4.3).
    padding : tuple of (torch.nn.Module, torch.Tensor) or None
        When the input was zero-padded by a padding module that belongs to this convolution (the
        converter's padding for Keras ``padding="same"``, see :mod:`signxai_captum.lrp.composites`):
        that module and the unpadded tensor. Padded positions are then not inputs: they get no
        bounds (Bounded), no unit input (WSquare/Flat) and do not enter std(a) (StdxEpsilon),
        as with a convolution's own ``padding=``.
    """

    module: nn.Module
    path: str
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor | None
    is_input_layer: bool = False
    padding: tuple[nn.Module, torch.Tensor] | None = field(default=None, repr=False)
    #: for a gating product: which inputs are gates (they get no relevance); set by the engine
    gates: tuple[bool, ...] | None = None
    #: whether the output feeds a ReLU directly (set by the ReLU's rule; DeepTaylor reads it)
    followed_by_relu: bool = False
    #: whether the input is known to have no negative entry (the output of a ReLU-like activation,
    #: through reshapes and max pooling; set by the engine for rules with ``reads_sign``)
    nonnegative_input: bool = False
    #: the output of the ReLU that is the only consumer of this call's output, kept instead of the
    #: output (set by the engine, see :meth:`z`); ``rectified_checked``: the graph check confirmed
    #: that the relevance reaching that ReLU's output is zero wherever the output is zero
    rectified: torch.Tensor | None = field(default=None, repr=False)
    rectified_checked: bool = False

    def z(self) -> torch.Tensor:
        """The layer's output ``z``, detached, for a rule's denominator.

        A convolution whose output only feeds a ReLU may keep that ReLU's output ``relu(z)``
        instead of ``z`` (one activation less per layer until the backward pass reaches it;
        docs/performance.md, *Peak memory*). Where ``z > 0`` the two are equal; where ``z <= 0``
        the relevance arriving is exactly zero once the graph check has confirmed that every
        consumer of the ReLU's output gives zero relevance to a zero input
        (:attr:`Rule.zero_at_zero_input`), so a denominator ``s(0) = epsilon`` divides a zero
        there as ``z - epsilon`` would. The same holds for a batch norm's output in the batch-norm
        rule, whose factor ``(y - beta) / s(y)`` multiplies the relevance. Without that
        confirmation ``z`` is computed again by the layer's own forward (the same values)."""
        if self.output is not None:
            return self.output.detach()
        if self.rectified is not None and self.rectified_checked:
            return self.rectified
        with torch.no_grad():  # forward(), not __call__: the layer's hooks (ours) must not run again
            return self.module.forward(self.x.detach())

    def has_negative_input(self) -> bool:
        """Whether the (first) input has a negative entry; no look at the values (and on a GPU no
        synchronisation) when the graph already says it has none."""
        if self.nonnegative_input:
            return False
        x = self.x
        return bool(x.numel()) and bool(x.min() < 0)

    @property
    def x(self) -> torch.Tensor:
        """The first (for kernel layers: the only) input."""
        return self.inputs[0]

    def transpose(self, grad: torch.Tensor) -> torch.Tensor:
        """``J^T grad`` through the module's own forward graph (``W^T grad`` for a linear layer).

        Uses the graph recorded in the forward pass (no recomputation). May be called once.
        """
        if self.output is None:
            if self.rectified is not None and transposes_without_graph(self.module, self.inputs[0]):
                return kernel_transpose(self.module, self.inputs[0], self.module.weight.detach(), grad)
            raise RuntimeError(f"internal error: the output of {self.path} was not recorded")
        stride = pointwise_stride(self.module, self.inputs[0])
        if stride is not None:  # a 1x1 convolution on CPU: a matrix product is faster than its backward
            return pointwise_transpose(self.inputs[0], self.module.weight.detach(), grad, stride)
        (result,) = torch.autograd.grad(self.output, self.inputs[0], grad, allow_unused=True)
        return torch.zeros_like(self.inputs[0]) if result is None else result

    def real_input(self) -> torch.Tensor:
        """The layer input without the convolution's own padding (see ``padding``), detached."""
        return (self.x if self.padding is None else self.padding[1]).detach()

    def input_mask(self) -> torch.Tensor | None:
        """1 at real input positions, 0 at the convolution's own padding; None without such padding."""
        if self.padding is None:
            return None
        pad, source = self.padding
        with torch.no_grad():
            return pad(torch.ones_like(source))

    def release(self) -> None:
        """Drop the recorded tensors (called once the relevance has passed)."""
        self.inputs = ()
        self.output = None
        self.padding = None
        self.rectified = None


#: Run the element-wise parts of the hot rules (the epsilon quotient, 0/0-safe quotients,
#: AlphaBeta's final combination, the batch-norm and sum rules) as kernels fused by
#: ``torch.compile`` (inductor), one pass over each
#: tensor instead of three to ten. Off by default: compiling costs ~20 s on the first call on a
#: machine (cached after that: ~3 s per new process) and needs a C++ compiler; worth it for long
#: runs on batch-norm networks (docs/performance.md), which ``explain_dataset`` switches it on for
#: (its ``fuse`` keyword, docs/datasets.md). Read on every call, so it can be switched at
#: run time; the environment variable ``SIGNXAI_TORCH_FUSE=1`` (set before import) turns it on.
#: Where compiling fails, a warning says so once and the rules run their eager arithmetic.
FUSE_ELEMENTWISE = os.environ.get("SIGNXAI_TORCH_FUSE", "0").strip().lower() in ("1", "true", "yes", "on")

_FUSE_FAILED: list[str] = []  # the first compile error, once fusing has been given up
_RECOMPILE_LIMIT = 64  # compiled variants per kernel (dynamo's default: 8)
_FUSE_LOCK = threading.Lock()


def _inside_a_trace() -> bool:
    """Whether a caller's ``torch.compile`` is tracing us or a ``TorchDispatchMode`` is active (a
    profiler, a FLOP counter): then the eager arithmetic runs (the caller's trace fuses it anyway)."""
    if torch.compiler.is_compiling():
        return True
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode
    except ImportError:  # pragma: no cover - other torch versions
        return False
    return _get_current_dispatch_mode() is not None


def fused(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (element-wise tensor arithmetic) as one kernel compiled by ``torch.compile``, or eager.

    The choice is made per call from :data:`FUSE_ELEMENTWISE` (eager inside a caller's trace or
    dispatch mode, see :func:`_inside_a_trace`). The compiled form is built on the
    first fused call (shape-generic: one compile serves every layer of the same rank and dtype).
    When it cannot be compiled (no C++ compiler, an unsupported device), the eager result is
    returned, a ``RuntimeWarning`` names the cause and fusing stays off for the process; an error
    of the arithmetic itself is raised by the eager form as usual. A kernel gets one compiled variant
    per rank, dtype, device, broadcast pattern and set of size-1 axes, up to 64 (or dynamo's own
    ``recompile_limit`` where that is higher); calls beyond that run eagerly.
    """
    compiled: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not FUSE_ELEMENTWISE or _FUSE_FAILED or _inside_a_trace():
            return fn(*args, **kwargs)
        try:
            if not compiled:
                compiled.append(torch.compile(fn, dynamic=True, fullgraph=True))
            # one compiled variant per rank, dtype, device, broadcast pattern and size-1 axes: more
            # than dynamo's default of 8 on one network. The limit is a process-wide setting,
            # raised for the call (never lowered) and restored; the lock keeps threads from
            # restoring each other's value (fused kernels from several threads run one at a time).
            # Set and restored directly: config.patch builds a class per call (15 of ~50 us)
            with _FUSE_LOCK:
                config = torch._dynamo.config
                limit = config.recompile_limit
                if limit >= _RECOMPILE_LIMIT:
                    return compiled[0](*args, **kwargs)
                config.recompile_limit = _RECOMPILE_LIMIT
                try:
                    return compiled[0](*args, **kwargs)
                finally:
                    config.recompile_limit = limit
        except Exception as error:  # noqa: BLE001 - any compiler failure: fall back below
            if type(error).__name__ == "FailOnRecompileLimitHit":  # yet more variants (dynamo with
                return fn(*args, **kwargs)  # fullgraph=True): this call runs eagerly, fusing stays on
            result = fn(*args, **kwargs)  # a mistake in the arguments raises here, not as a compile failure
            first_line = (str(error).strip().splitlines() or [""])[0]
            _FUSE_FAILED.append(f"{type(error).__name__}: {first_line}")
            warnings.warn(
                f"signxai_captum: the fused LRP kernels could not be compiled ({_FUSE_FAILED[0]}); "
                "the rules run their eager arithmetic (same maps, slower); set "
                "signxai_captum.lrp.rules.FUSE_ELEMENTWISE = False to silence this",
                RuntimeWarning,
                stacklevel=2,
            )
            return result

    call.__name__ = call.__qualname__ = getattr(fn, "__name__", "fused")
    call.__doc__ = fn.__doc__
    call.eager = fn  # type: ignore[attr-defined]
    return call


def _stabilise(z: torch.Tensor, epsilon: float | torch.Tensor) -> torch.Tensor:
    """``z + epsilon * s(z)`` as a fresh tensor; ``epsilon`` a scalar or a broadcastable tensor >= 0.

    ``s(z) = +1`` for ``z >= 0`` and ``-1`` otherwise, computed as ``copysign(epsilon, z) + z`` (one
    allocation, two passes). At ``z = -0.0`` this takes ``-epsilon`` where the formula says
    ``+epsilon``, which changes no value where it is used: a layer output is ``-0.0`` only when every
    contribution ``a_i w_ij`` (and the bias) is a zero, so the relevance it sends to its inputs is a
    zero whatever the sign of the denominator (the rules that use it multiply by ``a``; the batch-norm
    rule multiplies by ``a`` and by ``y - beta``, which are then zero too).
    """
    eps = epsilon if isinstance(epsilon, torch.Tensor) else z.new_tensor(epsilon)
    return torch.copysign(eps, z).add_(z)


def _has_no_zero(den: torch.Tensor) -> bool:
    """Whether a CPU tensor outside a trace has no exact zero (False on other devices and inside a
    trace, where the answer would cost a synchronisation or a graph break).

    One read-only count (NaN counts as non-zero): on CPU it costs a third of the zero mask and the
    fill it saves (a 25 MB quotient: 1.6 ms against 4.6 ms for the mask and the fill).
    """
    if den.device.type != "cpu" or _inside_a_trace():
        return False
    return int(torch.count_nonzero(den)) == den.numel()


#: a kernel layer whose outputs read at most this many inputs each (depthwise convolutions) often has
#: exact zeros in ``W+ a`` after a ReLU (MobileNetV2: every depthwise layer did, the other layers
#: almost never): its quotients skip the count of :func:`_has_no_zero` and go to the zero mask
FEW_INPUTS_PER_OUTPUT = 64


def _few_inputs_per_output(module: nn.Module) -> bool:
    """Whether each output of ``module`` reads at most :data:`FEW_INPUTS_PER_OUTPUT` inputs."""
    weight = getattr(module, "weight", None)
    return isinstance(weight, torch.Tensor) and weight.ndim >= 2 and weight[0].numel() <= FEW_INPUTS_PER_OUTPUT


@fused
def _safe_div(num: torch.Tensor, den: torch.Tensor, into_den: bool = False, count_zeros: bool = True) -> torch.Tensor:
    """``num / den`` with 0 where ``den`` is exactly 0; ``into_den``: written into ``den`` (a tensor
    the caller owns and no longer needs).

    A denominator without zeros (the usual case, see :func:`_has_no_zero`) is divided without the
    zero mask: the same values, bit for bit. ``count_zeros=False``: zeros are likely, the mask is
    made without counting them first (same values)."""
    into = into_den and den.shape == torch.broadcast_shapes(num.shape, den.shape)
    if count_zeros and _has_no_zero(den):
        return torch.div(num, den, out=den) if into else torch.div(num, den)
    zero = den == 0
    if into:
        return torch.div(num, den, out=den).masked_fill_(zero, 0.0)
    return torch.div(num, den).masked_fill_(zero, 0.0)


def _layer_quotient(call: LayerCall, num: torch.Tensor, den: torch.Tensor, into_den: bool = False) -> torch.Tensor:
    """:func:`_safe_div` of a kernel layer's denominator: the zero count is skipped where each
    output reads few inputs (:func:`_few_inputs_per_output`), where exact zeros are common."""
    return _safe_div(num, den, into_den=into_den, count_zeros=not _few_inputs_per_output(call.module))


@fused
def _epsilon_quotient(num: torch.Tensor, z: torch.Tensor, epsilon: torch.Tensor) -> torch.Tensor:
    """``num / (z + epsilon s(z))`` for ``epsilon > 0`` (the denominator is never 0)."""
    den = _stabilise(z, epsilon)
    return torch.div(num, den, out=den) if den.shape == num.shape else num / den


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape per-sample values ``(N,)`` to broadcast against ``like`` ``(N, ...)``."""
    return values.reshape((-1,) + (1,) * (like.ndim - 1))


class Rule:
    """Base class of the LRP rules.

    Subclasses implement :meth:`relevance`. ``name`` is the rule's name in the method table
    (``shared_spec``), ``params`` its parameters.
    """

    name: str = "rule"
    #: whether the rule reads the module's recorded output (then the engine keeps it)
    needs_output: bool = True
    #: whether the rule needs kernel parameters (Linear/convolution weights)
    needs_kernel: bool = False
    #: whether the rule splits its input by sign (then the engine finds out whether it can be negative)
    reads_sign: bool = False
    #: whether the relevance the rule gives an input is zero wherever that input is zero (the rule
    #: multiplies by the input); the engine relies on it to keep a ReLU's output in place of the
    #: output of the layer before it (:meth:`LayerCall.z`). False unless the formula guarantees it.
    zero_at_zero_input: bool = False

    @property
    def params(self) -> dict[str, Any]:
        """The rule's parameters."""
        return {}

    def on_forward(self, call: LayerCall) -> None:
        """Called by the engine when the call is recorded in the forward pass (default: nothing)."""

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Relevance at each input of ``call`` given the relevance at its output.

        Parameters
        ----------
        call : LayerCall
            The recorded call.
        relevance : torch.Tensor
            Relevance at the module's output (the output's shape).

        Returns
        -------
        tuple of torch.Tensor or None
            One entry per input (``None`` for inputs that get no relevance).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


# --------------------------------------------------------------------------------------------
# the Z family: the layer's own forward gives z, its own backward gives W^T s
# --------------------------------------------------------------------------------------------
class _ZFamily(Rule):
    """R_in = m(a) * W^T (R / (z + stabiliser)); subclasses choose m and the stabiliser.

    ``bias=False`` (the reference's IgnoreBias variants): ``z = W a`` without the layer's bias.
    """

    bias: bool = True
    zero_at_zero_input = True  # R_in = a * (...)

    def _set_bias(self, bias: Any) -> None:
        self.bias = check_parameter("bias", bias, type(self).__name__)

    def _bias_params(self) -> dict[str, Any]:
        return {} if self.bias else {"bias": False}

    def _quotient(self, call: LayerCall, relevance: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``R / denominator(z)``; here ``R / z`` with 0/0 = 0."""
        return _layer_quotient(call, relevance, z)

    def _input_factor(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _z(self, call: LayerCall) -> torch.Tensor:
        if self.bias:
            return call.z()
        try:
            weight, bias = kernel_parameters(call.module)
        except AttributeError:  # average pooling and other linear maps without parameters: no bias
            return call.z()
        if bias is None:
            return call.z()
        return kernel_forward(call.module, call.x.detach(), weight, None)

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        scaled = self._quotient(call, relevance, self._z(call))
        # the transposed product is a fresh tensor: multiply in place
        return (call.transpose(scaled).mul_(self._input_factor(call.x.detach())),)


class Z(_ZFamily):
    """Z rule: ``R_in = a * W^T (R / z)``, ``z = W a + b`` (bias included), 0/0 = 0.

    Also the rule of average pooling layers (the pooling is the linear map, no bias).

    Parameters
    ----------
    bias : bool, default True
        ``False``: ``z = W a`` (the reference's ZIgnoreBias).
    """

    name = "z"

    def __init__(self, bias: bool = parameter_default("bias")) -> None:
        self._set_bias(bias)

    @property
    def params(self) -> dict[str, Any]:
        return self._bias_params()


class Epsilon(_ZFamily):
    """Epsilon rule: ``R_in = a * W^T (R / (z + epsilon s(z)))``.

    Parameters
    ----------
    epsilon : float
        Stabiliser, > 0.
    bias : bool, default True
        ``False``: no bias in ``z`` (the reference's EpsilonIgnoreBias).
    """

    name = "epsilon"

    def __init__(self, epsilon: float, bias: bool = parameter_default("bias")) -> None:
        self.epsilon = check_parameter("epsilon", epsilon, "Epsilon")
        self._set_bias(bias)

    @property
    def params(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, **self._bias_params()}

    def _quotient(self, call: LayerCall, relevance: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return _epsilon_quotient(relevance, z, z.new_tensor(self.epsilon))


class StdxEpsilon(_ZFamily):
    """StdxEpsilon rule: Epsilon with ``epsilon = std_factor * std(a)`` per sample.

    ``std(a)`` is the population standard deviation over all elements of each sample's input to
    this layer, recomputed on every call, so a sample's map does not depend on its batch.

    Parameters
    ----------
    std_factor : float
        Factor f > 0.
    bias : bool, default True
        ``False``: no bias in ``z``.
    """

    name = "std_x_epsilon"

    def __init__(self, std_factor: float, bias: bool = parameter_default("bias")) -> None:
        self.std_factor = check_parameter("std_factor", std_factor, "StdxEpsilon")
        self._set_bias(bias)

    @property
    def params(self) -> dict[str, Any]:
        return {"std_factor": self.std_factor, **self._bias_params()}

    def _quotient(self, call: LayerCall, relevance: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = call.real_input()
        std = x.reshape(x.shape[0], -1).std(dim=1, unbiased=False)
        # std = 0 gives a zero epsilon: then 0/0 = 0 is needed (a fresh denominator: divide into it)
        return _layer_quotient(call, relevance, _stabilise(z, self.std_factor * _per_sample(std, z)), into_den=True)


class Sign(_ZFamily):
    """SIGN input rule: ``R_in = sign(a) * W^T (R / z)``, ``z = W a + b``, no epsilon.

    sign(a) is +1 for a >= 0 and -1 otherwise.

    Parameters
    ----------
    bias : bool, default True
        ``False``: ``z = W a`` without the layer's bias.
    """

    name = "sign"
    zero_at_zero_input = False  # the factor sign(a) is +1 at a = 0

    def __init__(self, bias: bool = parameter_default("bias")) -> None:
        self._set_bias(bias)

    @property
    def params(self) -> dict[str, Any]:
        return self._bias_params()

    def _input_factor(self, x: torch.Tensor) -> torch.Tensor:
        return sign_mu(x, 0.0)


class SignMu(_ZFamily):
    """SIGNmu input rule: ``R_in = sign_mu(a, mu) * W^T (R / z)``; sign_mu is +1 for a >= mu.

    Parameters
    ----------
    mu : float
        Threshold in the layer input's units (the model's raw input units on the input layer).
    bias : bool, default True
        ``False``: ``z = W a`` without the layer's bias.
    """

    name = "sign_mu"
    zero_at_zero_input = False  # the factor sign_mu(a) is +-1 at a = 0

    def __init__(self, mu: float = parameter_default("mu"), bias: bool = parameter_default("bias")) -> None:
        self.mu = check_parameter("mu", mu, "SignMu")
        self._set_bias(bias)

    @property
    def params(self) -> dict[str, Any]:
        return {"mu": self.mu, **self._bias_params()}

    def _input_factor(self, x: torch.Tensor) -> torch.Tensor:
        return sign_mu(x, self.mu)


# --------------------------------------------------------------------------------------------
# rules that evaluate the layer with modified weights
# --------------------------------------------------------------------------------------------
class _KernelRule(Rule):
    needs_output = False
    needs_kernel = True

    @staticmethod
    def _forward(call: LayerCall, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return kernel_forward(call.module, x, weight, bias)

    @staticmethod
    def _transpose(call: LayerCall, weight: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        return kernel_transpose(call.module, call.x, weight, grad)


class AlphaBeta(_KernelRule):
    """AlphaBeta rule: alpha times the positive contributions minus beta times the negative ones.

    With ``a = a+ + a-`` and ``W = W+ + W-``, activator ``z+ = W+ a+ + W- a- + b``, inhibitor
    ``z- = W- a+ + W+ a- + b`` and
    ``R_in = alpha (a+ W+^T(R/z+) + a- W-^T(R/z+)) - beta (a+ W-^T(R/z-) + a- W+^T(R/z-))``,
    0/0 = 0. This is the reference's form (docs/semantics.md §4.1): the layer is copied into a positive part
    ``(W+, b+)`` and a negative part ``(W-, b-)``, each evaluated on ``a+`` and ``a-``, so both
    denominators carry the full bias ``b = b+ + b-``, also when ``a`` has no negative part.

    Parameters
    ----------
    alpha, beta : float
        ``alpha - beta = 1``, ``alpha >= 1``, ``beta >= 0``.
    bias : bool, default True
        Whether the bias enters ``z+``/``z-`` (``False``: neither, the reference's IgnoreBias variants;
        for (1, 0) this is :class:`ZPlus`).
    alpha_beta_bias : {"reference", "split"}, default "reference"
        ``"reference"``: the full bias ``b`` in both denominators (iNNvestigate, signxai);
        ``"split"``: ``b+`` in ``z+`` and ``b-`` in ``z-`` (the textbook/zennit form).
    """

    name = "alpha_beta"
    zero_at_zero_input = True  # R_in = a+ * (...) + a- * (...)
    reads_sign = True

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.0,
        bias: bool = parameter_default("bias"),
        alpha_beta_bias: str = parameter_default("alpha_beta_bias"),
    ) -> None:
        self.alpha, self.beta = check_alpha_beta(alpha, beta, "AlphaBeta")
        self.bias = check_parameter("bias", bias, "AlphaBeta")
        self.alpha_beta_bias = check_parameter("alpha_beta_bias", alpha_beta_bias, "AlphaBeta")

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"alpha": self.alpha, "beta": self.beta}
        if not self.bias:
            params["bias"] = False
        params["alpha_beta_bias"] = self.alpha_beta_bias
        return params

    def _part(
        self, call: LayerCall, relevance: torch.Tensor, w_for_pos: torch.Tensor, w_for_neg: torch.Tensor,
        bias: torch.Tensor | None, x_pos: torch.Tensor, x_neg: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(Wa^T(R/z), Wb^T(R/z))`` with ``z = Wa x+ + Wb x- + bias`` (the second None without ``x-``)."""
        z = self._forward(call, x_pos, w_for_pos, bias)
        if x_neg is not None:
            z = z.add_(self._forward(call, x_neg, w_for_neg, None))
        scaled = _layer_quotient(call, relevance, z, into_den=True)  # z is ours: divide into it
        return (
            self._transpose(call, w_for_pos, scaled),
            self._transpose(call, w_for_neg, scaled) if x_neg is not None else None,
        )

    def _parts_by_rows(
        self, call: LayerCall, relevance: torch.Tensor, weight: torch.Tensor, bias_act: torch.Tensor | None,
        bias_inh: torch.Tensor | None, x_pos: torch.Tensor, x_neg: torch.Tensor | None,
    ) -> tuple[tuple[torch.Tensor | None, ...], tuple[torch.Tensor | None, ...]]:
        """The activator's and the inhibitor's :meth:`_part` of a large ``nn.Linear`` layer, with
        ``W+``/``W-`` formed one block of rows (output features) at a time
        (:func:`~signxai_captum.lrp._layers.sign_parts_by_rows`): a block's denominators need only
        its own rows, so each block's parts are summed before the next block overwrites the buffers."""
        inhibit = self.beta != 0.0
        sums: list[torch.Tensor | None] = [None] * 4  # activator (a+, a-), inhibitor (a+, a-)
        for rows, w_pos, w_neg in sign_part_row_blocks(weight, negative=x_neg is not None or inhibit):
            w_neg = w_pos if w_neg is None else w_neg
            block = relevance[..., rows]
            parts = self._part(call, block, w_pos, w_neg, None if bias_act is None else bias_act[rows], x_pos, x_neg)
            if inhibit:
                parts += self._part(call, block, w_neg, w_pos, None if bias_inh is None else bias_inh[rows], x_pos, x_neg)
            # the transposed products are fresh tensors: the first block's hold the sums
            sums = [part if total is None else total if part is None else total.add_(part)
                    for total, part in zip(sums, parts)]
        return (sums[0], sums[1]), ((sums[2], sums[3]) if inhibit else (None, None))

    def _stacked(
        self, call: LayerCall, relevance: torch.Tensor, weight: torch.Tensor, bias_act: torch.Tensor | None,
        bias_inh: torch.Tensor | None, x_pos: torch.Tensor, x_neg: torch.Tensor | None, axis: int,
    ) -> torch.Tensor:
        """The relevance with ``beta != 0`` through the layer with its output features stacked
        (:func:`~signxai_captum.lrp._layers.stacked_output_axis`): ``[z+; z-]`` from ``[W+; W-]`` on
        ``x+`` (and ``[W-; W+]`` on ``x-``), one 0/0-safe quotient ``[R/z+; R/z-]``, and
        ``alpha W+^T(R/z+) - beta W-^T(R/z-)`` as one transposed product with the weight
        ``[alpha W+; -beta W-]`` (for ``x-``: ``[alpha W-; -beta W+]``). Mathematically the
        :meth:`_part` form; the sums are accumulated in another order (float round-off)."""
        w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
        bias = None if bias_act is None else torch.cat((bias_act, bias_inh))
        z = self._forward(call, x_pos, torch.cat((w_pos, w_neg)), bias)
        if x_neg is not None:
            z = z.add_(self._forward(call, x_neg, torch.cat((w_neg, w_pos)), None))
        halves = z.unflatten(axis, (2, -1))  # (..., 2, features, ...): the activator's, the inhibitor's
        scaled = _layer_quotient(call, relevance.unsqueeze(axis - 1 if axis < 0 else axis), halves, into_den=True).reshape(z.shape)
        result = self._transpose(call, torch.cat((w_pos * self.alpha, w_neg * -self.beta)), scaled).mul_(x_pos)
        if x_neg is not None:
            result.add_(self._transpose(call, torch.cat((w_neg * self.alpha, w_pos * -self.beta)), scaled).mul_(x_neg))
        return result

    def _biases(self, bias: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The bias terms of the activator and the inhibitor denominators."""
        if not self.bias or bias is None:
            return None, None
        if self.alpha_beta_bias == "split":
            return bias.clamp(min=0), bias.clamp(max=0)
        # reference: (W+, b+) and (W-, b-) each evaluated on a+ and a-: b+ + b- = b in both
        return bias, bias

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x = call.x.detach()
        weight, bias = kernel_parameters(call.module)
        bias_act, bias_inh = self._biases(bias)
        # after a ReLU the input has no negative part: skip those passes (and W- when beta = 0);
        # the bias terms stay (the negative copy on a- = 0 still adds its bias)
        has_negative = call.has_negative_input()
        x_pos = x.clamp(min=0) if has_negative else x
        x_neg = x.clamp(max=0) if has_negative else None
        axis = stacked_output_axis(call.module, x) if self.beta != 0.0 else None
        if axis is not None:
            return (self._stacked(call, relevance, weight, bias_act, bias_inh, x_pos, x_neg, axis),)
        if sign_parts_by_rows(call.module, weight):
            activator, inhibitor = self._parts_by_rows(call, relevance, weight, bias_act, bias_inh, x_pos, x_neg)
        else:
            w_pos = weight.clamp(min=0)
            w_neg = weight.clamp(max=0) if (x_neg is not None or self.beta != 0.0) else w_pos
            activator = self._part(call, relevance, w_pos, w_neg, bias_act, x_pos, x_neg)
            inhibitor = self._part(call, relevance, w_neg, w_pos, bias_inh, x_pos, x_neg) if self.beta != 0.0 else (None, None)
        # a single product (ZPlus-like: no a-, no inhibitor, alpha 1) is one pass already: a
        # compiled kernel would only add the write-back of its in-place product
        single = x_neg is None and inhibitor[0] is None and self.alpha == 1.0
        combine = _alpha_beta_relevance.eager if single else _alpha_beta_relevance
        return (combine(self.alpha, self.beta, x_pos, x_neg, *activator, *inhibitor),)


@fused
def _alpha_beta_relevance(
    alpha: float, beta: float, x_pos: torch.Tensor, x_neg: torch.Tensor | None,
    act_pos: torch.Tensor, act_neg: torch.Tensor | None, inh_pos: torch.Tensor | None, inh_neg: torch.Tensor | None,
) -> torch.Tensor:
    """``alpha (x+ act+ + x- act-) - beta (x+ inh+ + x- inh-)`` of :class:`AlphaBeta` (terms of ``x-``
    where it is given, the inhibitor where ``beta != 0``), written into the transposed products,
    which are the rule's own fresh tensors."""
    result = act_pos.mul_(x_pos)
    if x_neg is not None:
        result.add_(act_neg.mul_(x_neg))
    if alpha != 1.0:
        result.mul_(alpha)
    if inh_pos is not None:
        inhibitor = inh_pos.mul_(x_pos)
        if x_neg is not None:
            inhibitor.add_(inh_neg.mul_(x_neg))
        result.sub_(inhibitor, alpha=beta)
    return result


class ZPlus(AlphaBeta):
    """ZPlus rule: AlphaBeta(1, 0) without bias (in neither denominator)."""

    name = "z_plus"

    def __init__(self) -> None:
        super().__init__(1.0, 0.0, bias=False)

    @property
    def params(self) -> dict[str, Any]:
        return {}


class ZPlusFast(_KernelRule):
    """ZPlusFast rule: ``R_in = a * W+^T (R / (W+ a))``, no bias, ``a`` itself (not ``a+``).

    Equal to :class:`ZPlus` for non-negative inputs, which it assumes (docs/semantics.md §4.1).
    """

    name = "z_plus_fast"
    zero_at_zero_input = True  # R_in = a * (...)

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x = call.x.detach()
        weight, _ = kernel_parameters(call.module)
        w_pos = weight.clamp(min=0)
        scaled = _layer_quotient(call, relevance, self._forward(call, x, w_pos, None), into_den=True)
        return (self._transpose(call, w_pos, scaled).mul_(x),)


class AlphaBetaX(_KernelRule):
    """AlphaBetaX rule (Binder's variant, docs/semantics.md §4.4): four separately normalised terms.

    ``r_pp = a+ W+^T(R/(W+a+ + b+))``, ``r_nn = a- W-^T(R/(W-a- + b-))``,
    ``r_pn = a+ W-^T(R/(W-a+ + b-))``, ``r_np = a- W+^T(R/(W+a- + b+))`` and
    ``R_in = (alpha_0 r_pp + beta_1 r_nn) - (beta_0 r_pn + beta_1 r_np)``: ``r_nn`` is weighted by
    ``beta_1``, not ``alpha_1``, as the reference computes it (``alpha_1`` is accepted and unused).

    Parameters
    ----------
    alpha_x : (float, float), default (1, 0)
        ``(alpha_0, alpha_1)``.
    beta_x : (float, float), default (0, 0)
        ``(beta_0, beta_1)``.
    bias : bool, default True
        ``False``: no bias in the four denominators.
    """

    name = "alpha_beta_x"
    zero_at_zero_input = True  # four terms a+- * (...)
    reads_sign = True

    def __init__(
        self,
        alpha_x: tuple[float, float] = tuple(parameter_default("alpha_x")),
        beta_x: tuple[float, float] = tuple(parameter_default("beta_x")),
        bias: bool = parameter_default("bias"),
    ) -> None:
        self.alpha_x = check_parameter("alpha_x", alpha_x, "AlphaBetaX")
        self.beta_x = check_parameter("beta_x", beta_x, "AlphaBetaX")
        self.bias = check_parameter("bias", bias, "AlphaBetaX")

    @property
    def params(self) -> dict[str, Any]:
        return {"alpha_x": self.alpha_x, "beta_x": self.beta_x, "bias": self.bias}

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x = call.x.detach()
        weight, bias = kernel_parameters(call.module)
        if not self.bias:
            bias = None
        w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
        b_pos = None if bias is None else bias.clamp(min=0)
        b_neg = None if bias is None else bias.clamp(max=0)
        has_negative = call.has_negative_input()
        x_pos = x.clamp(min=0) if has_negative else x
        x_neg = x.clamp(max=0) if has_negative else None

        def term(inputs: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
            scaled = _layer_quotient(call, relevance, self._forward(call, inputs, w, b))
            return inputs * self._transpose(call, w, scaled)

        alpha0 = self.alpha_x[0]
        beta0, beta1 = self.beta_x
        result = torch.zeros_like(x)
        if alpha0 != 0.0:
            result = result + alpha0 * term(x_pos, w_pos, b_pos)
        if beta0 != 0.0:
            result = result - beta0 * term(x_pos, w_neg, b_neg)
        if beta1 != 0.0 and x_neg is not None:
            result = result + beta1 * (term(x_neg, w_neg, b_neg) - term(x_neg, w_pos, b_pos))
        return (result,)


class Gamma(_KernelRule):
    """Gamma rule (textbook): ``z = sum a (w + gamma w+) + b + gamma b+``, relevance by the same
    contributions: ``R_in = a * (W + gamma W+)^T (R / z)``.

    Parameters
    ----------
    gamma : float, default 0.25
        >= 0.
    bias : bool, default True
        ``False``: neither ``b`` nor ``gamma b+`` enters ``z`` (the reference's IgnoreBias form).
    """

    name = "gamma"
    zero_at_zero_input = True  # R_in = a * (...)

    def __init__(self, gamma: float = parameter_default("gamma"), bias: bool = parameter_default("bias")) -> None:
        self.gamma = check_parameter("gamma", gamma, "Gamma")
        self.bias = check_parameter("bias", bias, "Gamma")

    @property
    def params(self) -> dict[str, Any]:
        return {"gamma": self.gamma, **({} if self.bias else {"bias": False})}

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x = call.x.detach()
        weight, bias = kernel_parameters(call.module)
        weight = weight + self.gamma * weight.clamp(min=0)
        if not self.bias:
            bias = None
        if bias is not None:
            bias = bias + self.gamma * bias.clamp(min=0)
        z = self._forward(call, x, weight, bias)
        return (self._transpose(call, weight, _layer_quotient(call, relevance, z, into_den=True)).mul_(x),)


class WSquare(_KernelRule):
    """WSquare rule: ``R_in = (W^2)^T (R / (W^2 1))``; input-independent, no bias."""

    name = "w_square"

    def _weight(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * weight

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        weight, _ = kernel_parameters(call.module)
        weight = self._weight(weight)
        mask = call.input_mask()
        ones = torch.ones_like(call.x) if mask is None else mask
        z = self._forward(call, ones, weight, None)
        return (self._transpose(call, weight, _layer_quotient(call, relevance, z)),)


class Flat(WSquare):
    """Flat rule: WSquare with every weight set to 1 (the layer's connectivity only)."""

    name = "flat"

    def _weight(self, weight: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(weight)


class Bounded(_KernelRule):
    """Bounded (z^B) rule for inputs known to lie in ``[low, high]``; no bias.

    ``z = W a - W+ L - W- H``, ``R_in = a * W^T s - L * W+^T s - H * W-^T s``, ``s = R / z``.

    Parameters
    ----------
    low, high : float or array-like, default -1 and 1
        Scalars, per-channel arrays of shape ``(C,)`` (channel axis 1 of the layer input, or the
        features of a Linear layer's input), or arrays of the layer input's per-sample shape.
    """

    name = "bounded"

    def __init__(self, low: Any = parameter_default("low"), high: Any = parameter_default("high")) -> None:
        self.low = self._check_bound(low, "low")
        self.high = self._check_bound(high, "high")

    @staticmethod
    def _check_bound(value: Any, what: str) -> float | np.ndarray:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"Bounded: {what} must be finite, got {value!r}")
        return float(array) if array.ndim == 0 else array.copy()

    @property
    def params(self) -> dict[str, Any]:
        as_param = lambda v: v if isinstance(v, float) else v.tolist()  # noqa: E731
        return {"low": as_param(self.low), "high": as_param(self.high)}

    def _bound(self, value: float | np.ndarray, x: torch.Tensor, what: str) -> torch.Tensor:
        if isinstance(value, float):
            return torch.full_like(x, value)
        tensor = torch.as_tensor(value, dtype=x.dtype, device=x.device)
        per_sample = tuple(x.shape[1:])
        if tensor.shape == per_sample:
            return tensor.expand_as(x)
        if tensor.ndim == 1 and x.ndim >= 2 and tensor.shape[0] == x.shape[1]:
            return tensor.reshape((1, -1) + (1,) * (x.ndim - 2)).expand_as(x)
        raise ValueError(
            f"Bounded: {what} has shape {tuple(tensor.shape)}, which fits neither the channels ({x.shape[1]},) "
            f"nor the per-sample shape {per_sample} of the layer input"
        )

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x = call.x.detach()
        if call.padding is None:
            low, high = self._bound(self.low, x, "low"), self._bound(self.high, x, "high")
        else:  # bounds for the real inputs; the convolution's own zero padding gets none
            pad, source = call.padding
            with torch.no_grad():
                low = pad(self._bound(self.low, source.detach(), "low"))
                high = pad(self._bound(self.high, source.detach(), "high"))
        weight, _ = kernel_parameters(call.module)
        w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
        z = (
            self._forward(call, x, weight, None)
            - self._forward(call, low, w_pos, None)
            - self._forward(call, high, w_neg, None)
        )
        scaled = _layer_quotient(call, relevance, z)
        result = (
            x * self._transpose(call, weight, scaled)
            - low * self._transpose(call, w_pos, scaled)
            - high * self._transpose(call, w_neg, scaled)
        )
        return (result,)


# --------------------------------------------------------------------------------------------
# other layers
# --------------------------------------------------------------------------------------------
class Pass(Rule):
    """Relevance passes unchanged (activations, other identity-shaped layers; docs/semantics.md §4.2)."""

    name = "pass"
    needs_output = False

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (relevance,)


class Route(Rule):
    """The plain gradient routes the relevance: no hook is installed.

    Right for layers that only move values: Flatten/Reshape/Permute, padding, cropping,
    concatenation, nearest upsampling, identity/dropout (in eval mode) and max pooling (winner
    takes all). Never use it for a layer that scales or mixes values.
    """

    name = "route"
    needs_output = False

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        raise RuntimeError("Route installs no hook; the gradient moves the relevance")


class BatchNormRule(Rule):
    """BatchNorm with inference statistics, ``y = gamma (a - mu) / sigma + beta`` (docs/semantics.md §4.2).

    ``R_in = R * [a / (a - mu)] * [(y - beta) / y]``, each denominator stabilised by
    ``1e-7 s(.)``. Equivalent to the Z rule on the affine map with the bias
    ``beta - gamma mu / sigma`` (this is not zennit's merge-into-the-previous-layer canonizer).
    """

    name = "batch_norm"
    zero_at_zero_input = True  # R_in = R * a / s(a - mu) * ...
    stabiliser = 1e-7

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        module, x = call.module, call.x.detach()
        y = call.z()
        mean = getattr(module, "running_mean", None)
        if mean is None:
            raise ValueError(
                f"LRP: batch norm '{call.path}' ({type(module).__name__}) has no running statistics "
                "(track_running_stats=False); the BatchNorm rule needs inference statistics"
            )
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = mean.detach().reshape(shape)
        beta = module.bias.detach().reshape(shape) if getattr(module, "bias", None) is not None else torch.zeros_like(mean)
        return (_batch_norm_relevance(x, y, mean, beta, relevance, x.new_tensor(self.stabiliser)),)


@fused
def _batch_norm_relevance(
    x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, beta: torch.Tensor, relevance: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """``R a / s(a - mu) * (y - beta) / s(y)`` of :class:`BatchNormRule`, in two buffers (fresh CPU
    allocations cost as much as the arithmetic)."""
    factor = torch.sub(x, mean)
    work = torch.copysign(eps, factor)
    factor.add_(work)  # s(a - mu)
    torch.div(x, factor, out=factor)  # a / s(a - mu)
    factor.mul_(torch.sub(y, beta, out=work))  # * (y - beta)
    torch.copysign(eps, y, out=work).add_(y)  # s(y)
    factor.div_(work)
    return factor.mul_(relevance)


class SumRule(Rule):
    """Element-wise sums (residual additions, docs/semantics.md §4.2): Z rule over the addends.

    ``R_i = R * c_i x_i / z``, ``z = sum_j c_j x_j`` (0/0 = 0), with coefficients ``c``: all 1 for a
    sum (and for an average, whose 1/n cancels), ``(1, -1)`` for a difference.

    Parameters
    ----------
    coefficients : sequence of float, optional
        Per-input coefficients; default all 1.
    """

    name = "sum"
    zero_at_zero_input = True  # R_i = R * c_i x_i / z
    needs_output = False  # the sum is formed again from the addends (the quotient needs it in a buffer anyway)

    def __init__(self, coefficients: Sequence[float] | None = None) -> None:
        self.coefficients = None if coefficients is None else tuple(float(c) for c in coefficients)

    @property
    def params(self) -> dict[str, Any]:
        return {} if self.coefficients is None else {"coefficients": self.coefficients}

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        coefficients = self.coefficients or (1.0,) * len(call.inputs)
        if len(coefficients) != len(call.inputs):
            raise ValueError(f"LRP: '{call.path}' got {len(call.inputs)} inputs, the rule has {len(coefficients)} coefficients")
        terms = [x.detach() if c == 1.0 else c * x.detach() for c, x in zip(coefficients, call.inputs)]
        return _sum_relevance(relevance, *terms)


@fused
def _sum_relevance(relevance: torch.Tensor, *terms: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``R * t_i / sum_j t_j`` (0/0 = 0) for each addend ``t_i`` of :class:`SumRule`, summed back to
    its shape where it was broadcast."""
    if len(terms) == 1:
        return (_sum_to(terms[0] * _safe_div.eager(relevance, terms[0]), terms[0].shape),)
    z = terms[0] + terms[1]  # a fresh tensor: later addends and the quotient go into it
    for term in terms[2:]:
        z = z.add_(term) if z.shape == torch.broadcast_shapes(z.shape, term.shape) else z + term
    scaled = _safe_div.eager(relevance, z, into_den=True)
    *first, last = terms
    results = [_sum_to(term * scaled, term.shape) for term in first]
    # the last product may overwrite the quotient (when it has the quotient's shape)
    fits = scaled.shape == torch.broadcast_shapes(last.shape, scaled.shape)
    results.append(_sum_to(torch.mul(last, scaled, out=scaled) if fits else last * scaled, last.shape))
    return tuple(results)


class GateRule(Rule):
    """Gating products ``y = x * g`` (squeeze-excitation, hard-swish/swish written out).

    The gate ``g`` (a factor produced by a sigmoid or hard-sigmoid) is treated as a constant: all
    relevance goes to the other factor, ``R_x = R``, and the gate gets none. Which inputs are gates
    is found by the engine when the product runs (:attr:`LayerCall.gates`); when every factor is
    a gate, the first one gets the relevance.
    """

    name = "gate"
    needs_output = False

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gates = call.gates if call.gates is not None else (False,) + (True,) * (len(call.inputs) - 1)
        receiver = next((i for i, g in enumerate(gates) if not g), 0)
        return tuple(
            _sum_to(relevance, x.shape) if i == receiver else None for i, x in enumerate(call.inputs)
        )


# --------------------------------------------------------------------------------------------
# DeepTaylor (docs/semantics.md §4.4)
# --------------------------------------------------------------------------------------------
class DeepTaylorKernel(_KernelRule):
    """DeepTaylor's kernel rule: ZPlus when the layer's output feeds a ReLU, WSquare otherwise."""

    name = "deep_taylor_kernel"

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (ZPlus() if call.followed_by_relu else WSquare()).relevance(call, relevance)


class ReLUGradient(Rule):
    """DeepTaylor's ReLU: the plain gradient ``R * 1[x > 0]``; marks the layer that feeds it."""

    name = "relu_gradient"
    zero_at_zero_input = True  # R * 1[a > 0]
    needs_output = False

    def on_forward(self, call: LayerCall) -> None:
        state = getattr(call.inputs[0].grad_fn, "state", None) if call.inputs else None
        producer = getattr(state, "call", None)
        if isinstance(producer, LayerCall):
            producer.followed_by_relu = True

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return (relevance * (call.x.detach() > 0).to(relevance.dtype),)


class GradientRule(Rule):
    """The plain gradient of the module (DeepTaylor's pooling and sums: relevance routed, not redistributed)."""

    name = "gradient"
    needs_output = False

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs = tuple(x.detach().requires_grad_(x.is_floating_point()) for x in call.inputs)
        with torch.enable_grad():  # forward() itself: the module's hooks (this rule's own) must not run again
            output = call.module.forward(*inputs)
        wanted = [x for x in inputs if x.requires_grad]
        grads = iter(torch.autograd.grad(output, wanted, relevance, allow_unused=True))
        return tuple(next(grads) if x.requires_grad else None for x in inputs)


class DeepTaylorBatchNorm(Rule):
    """DeepTaylor's batch norm: WSquare on its affine map ``y = w a + c`` (per channel), i.e. the
    relevance passes where ``w != 0`` and vanishes where the scale is 0."""

    name = "deep_taylor_batch_norm"
    needs_output = False

    def relevance(self, call: LayerCall, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        module = call.module
        weight = module.weight.detach() if getattr(module, "weight", None) is not None else None
        if weight is None:
            return (relevance,)
        shape = (1, -1) + (1,) * (relevance.ndim - 2)
        return (relevance * (weight != 0).to(relevance.dtype).reshape(shape),)


def _sum_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast result back to an input's shape."""
    if tensor.shape == shape:
        return tensor
    extra = tensor.ndim - len(shape)
    if extra:
        tensor = tensor.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and tensor.shape[i] != 1)
    return tensor.sum(dim=dims, keepdim=True) if dims else tensor


# --------------------------------------------------------------------------------------------
# names -> rules
# --------------------------------------------------------------------------------------------
_BY_NAME: dict[str, Any] = {
    "z": lambda p: Z(p.get("bias", parameter_default("bias"))),
    "epsilon": lambda p: Epsilon(p["epsilon"], p.get("bias", parameter_default("bias"))),
    "std_x_epsilon": lambda p: StdxEpsilon(p["std_factor"], p.get("bias", parameter_default("bias"))),
    "alpha_beta": lambda p: AlphaBeta(
        p["alpha"], p["beta"], p.get("bias", parameter_default("bias")),
        alpha_beta_bias=p.get("alpha_beta_bias", parameter_default("alpha_beta_bias")),
    ),
    "z_plus": lambda p: ZPlus(),
    "z_plus_fast": lambda p: ZPlusFast(),
    "alpha_beta_x": lambda p: AlphaBetaX(
        p.get("alpha_x", tuple(parameter_default("alpha_x"))), p.get("beta_x", tuple(parameter_default("beta_x"))),
        p.get("bias", parameter_default("bias")),
    ),
    "gamma": lambda p: Gamma(p.get("gamma", parameter_default("gamma")), p.get("bias", parameter_default("bias"))),
    "w_square": lambda p: WSquare(),
    "flat": lambda p: Flat(),
    "bounded": lambda p: Bounded(p.get("low", parameter_default("low")), p.get("high", parameter_default("high"))),
    "sign": lambda p: Sign(p.get("bias", parameter_default("bias"))),
    "sign_mu": lambda p: SignMu(p.get("mu", parameter_default("mu")), p.get("bias", parameter_default("bias"))),
    "pass": lambda p: Pass(),
    "route": lambda p: Route(),
    "batch_norm": lambda p: BatchNormRule(),
    "sum": lambda p: SumRule(p.get("coefficients")),
    "gate": lambda p: GateRule(),
}


def rule_from_spec(name: str, params: Mapping[str, Any] | None = None) -> Rule:
    """Build a rule from its table name and parameters (e.g. ``shared_spec.LRPRule`` fields).

    Parameters
    ----------
    name : str
        ``z``, ``epsilon``, ``std_x_epsilon``, ``alpha_beta``, ``alpha_beta_x``, ``z_plus``,
        ``z_plus_fast``, ``gamma``, ``w_square``, ``flat``, ``bounded``, ``sign``, ``sign_mu``, or the layer rules
        ``pass``, ``route``, ``batch_norm``, ``sum``, ``gate``.
    params : mapping, optional
        The rule's parameters (``epsilon``, ``std_factor``, ``alpha``/``beta`` with the optional
        ``alpha_beta_bias``, ``bias`` (z, epsilon, std_x_epsilon, alpha_beta, alpha_beta_x),
        ``alpha_x``/``beta_x``, ``gamma``, ``low``/``high``, ``mu``).
    """
    factory = _BY_NAME.get(name)
    if factory is None:
        raise ValueError(f"unknown LRP rule {name!r}; known rules: {', '.join(sorted(_BY_NAME))}")
    params = dict(params or {})
    try:
        return factory(params)
    except KeyError as missing:
        raise ValueError(f"LRP rule {name!r} needs the parameter {missing.args[0]!r}") from None


def as_rule(value: Any) -> Rule:
    """Accept a :class:`Rule`, a rule name (parameter-free or with defaults), a ``shared_spec.LRPRule``
    or a ``(low, high)`` pair (:class:`Bounded` with these bounds, as the reference's ``input_layer_rule``)."""
    if isinstance(value, Rule):
        return value
    if isinstance(value, str):
        return rule_from_spec(value)
    if hasattr(value, "name") and hasattr(value, "params"):
        return rule_from_spec(value.name, value.params)
    if isinstance(value, tuple) and len(value) == 2:
        return Bounded(*value)
    raise TypeError(
        f"expected an LRP rule (signxai_captum.lrp.rules.Rule, a rule name or a (low, high) pair for Bounded), got {value!r}"
    )
