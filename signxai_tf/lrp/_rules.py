"""The LRP rules of kernel layers (docs/semantics.md §4.1), each one relevance step ``R_out -> R_in``.

Every rule is written with the gradient trick: ``W^T s`` is the vector-Jacobian product of the
layer's linear map (``vjp``), so a rule costs a few forward/transposed convolutions of the layer
and works for Dense and every convolution alike. Inside ``tf.function`` the forward op recorded
for a ``vjp`` is dead code (the transposed op needs only the kernel and the input's shape) and is
pruned.

The element-wise arithmetic around those convolutions (stabilised denominators, quotients,
products with the input) is most of an LRP pass's cost on CPU when every op is a pass of its own
over a large tensor. The hot parts (the Z/epsilon quotient, AlphaBeta's denominators and
products, the batch-norm and sum rules of the engine) therefore run as small XLA-compiled
kernels (:func:`fused`): one pass over memory each, the same arithmetic in the same order (on
CPU the maps are bit-identical to the separate ops; ``FUSE_ELEMENTWISE = False`` runs the
separate ops, which the tests compare against). Each kernel is one ``tf.function`` shared by all
layers and models, so XLA compiles it once per tensor shape.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf

from ._layers import KernelLayer

__all__ = ["FUSE_ELEMENTWISE", "RULES", "apply_rule", "fused", "stabilize", "vjp"]


def stabilize(d: tf.Tensor, eps: Any) -> tf.Tensor:
    """``d + eps * s(d)``, s(d) = +1 for d >= 0, -1 otherwise.

    Written as ``d + where(d >= 0, eps, -eps)`` with ``eps`` broadcast (a scalar or, for the
    std-x rule, one value per sample): three element-wise passes over ``d`` instead of seven
    (no ``ones_like`` tensors), bit-identical to the product form since ``eps * (+-1) = +-eps``.
    """
    eps = tf.cast(eps, d.dtype)
    return d + tf.where(d >= 0, eps, -eps)


#: Run the element-wise parts of the hot rules as XLA-fused kernels (see the module docstring).
#: Read when a plan is traced; ``False`` gives the same arithmetic as separate TensorFlow ops.
#: The environment variable ``SIGNXAI_TF_FUSE=0`` (set before import) turns it off, for
#: TensorFlow builds or device plugins without XLA (docs/performance.md).
FUSE_ELEMENTWISE = os.environ.get("SIGNXAI_TF_FUSE", "1").strip().lower() not in ("0", "false", "no", "off")


def fused(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (element-wise tensor arithmetic) as one XLA-compiled kernel, or as plain ops.

    The choice is made per call from :data:`FUSE_ELEMENTWISE`, so inside a traced plan it is
    made once, at tracing time. ``fn`` must take and return tensors only (parameters such as
    ``eps`` as tensors, so that one compiled kernel serves every layer of the same shape).
    """
    compiled = tf.function(fn, jit_compile=True, reduce_retracing=True)

    def call(*args: Any) -> Any:
        return compiled(*args) if FUSE_ELEMENTWISE else fn(*args)

    call.__name__ = call.__qualname__ = getattr(fn, "__name__", "fused")
    call.__doc__ = fn.__doc__
    return call


def vjp(k: KernelLayer, a: tf.Tensor, s: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``W^T s`` for the layer's linear map with ``kernel``, shaped like ``a``.

    Through ``k.transposed`` where the layer has a cheaper forward form of the transposed map
    (1x1 stride-1 convolutions), else as the gradient of ``k.linear``.
    """
    if k.transposed is not None:
        return k.transposed(s, kernel)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(a)
        out = k.linear(a, kernel)
    return tape.gradient(out, a, output_gradients=s)


def _div(num: tf.Tensor, den: tf.Tensor) -> tf.Tensor:
    return tf.math.divide_no_nan(num, den)


def _sign(a: tf.Tensor, mu: float = 0.0) -> tf.Tensor:
    one = tf.constant(1.0, a.dtype)
    return tf.where(a >= tf.cast(mu, a.dtype), one, -one)


def _per_sample(value: tf.Tensor, rank: int) -> tf.Tensor:
    return tf.reshape(value, [-1] + [1] * (rank - 1))


def _bound(value: Any, a: tf.Tensor, k: KernelLayer) -> tf.Tensor:
    """A scalar, per-channel or per-element bound broadcast to ``a``'s shape."""
    arr = np.asarray(value, dtype=a.dtype.as_numpy_dtype)
    shape = a.shape[1:]
    if arr.ndim == 1 and arr.size > 1:
        channels_first = getattr(k.layer, "data_format", "channels_last") == "channels_first"
        axis = 0 if channels_first else len(shape) - 1
        if arr.size != shape[axis]:
            raise ValueError(
                f"bounded rule: {arr.size} per-channel bounds for layer {k.layer.name!r}, whose input has "
                f"{shape[axis]} channels"
            )
        new_shape = [1] * len(shape)
        new_shape[axis] = arr.size
        arr = arr.reshape(new_shape)
    try:
        np.broadcast_shapes(arr.shape, tuple(shape))
    except ValueError:
        raise ValueError(
            f"bounded rule: bounds of shape {arr.shape} do not fit the input {tuple(shape)} of layer {k.layer.name!r}"
        ) from None
    return tf.constant(arr) * tf.ones_like(a)


@fused
def _quotient(R: tf.Tensor, z_nb: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """``R / (z_nb + bias)``, 0/0 = 0."""
    return _div(R, z_nb + bias)


@fused
def _eps_quotient(R: tf.Tensor, z: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """``R / stabilize(z, eps)``, 0/0 = 0."""
    return _div(R, stabilize(z, eps))


@fused
def _bias_eps_quotient(R: tf.Tensor, z_nb: tf.Tensor, bias: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """``R / stabilize(z_nb + bias, eps)``, 0/0 = 0."""
    return _div(R, stabilize(z_nb + bias, eps))


def _z_quotient(R: tf.Tensor, z_nb: tf.Tensor, bias: tf.Tensor | None, eps: Any) -> tf.Tensor:
    """``R / z`` or ``R / stabilize(z, eps)`` with ``z = z_nb + bias`` (``bias`` None: ``z = z_nb``)."""
    if eps is None:
        return _div(R, z_nb) if bias is None else _quotient(R, z_nb, bias)
    eps = tf.cast(eps, z_nb.dtype)
    return _eps_quotient(R, z_nb, eps) if bias is None else _bias_eps_quotient(R, z_nb, bias, eps)


def _z_like(k, a, z_nb, R, params, *, eps=None, factor=None, kernel=None, bias=None):
    """The Z family; ``params["bias"] = False`` (the IgnoreBias variants) drops the bias from ``z``."""
    b = (k.bias if bias is None else bias) if params.get("bias", True) else None
    s = _z_quotient(R, z_nb, b, eps)
    return (a if factor is None else factor) * vjp(k, a, s, k.kernel if kernel is None else kernel)


def _z(k, a, z_nb, R, params, nonneg):
    return _z_like(k, a, z_nb, R, params)


def _epsilon(k, a, z_nb, R, params, nonneg):
    return _z_like(k, a, z_nb, R, params, eps=float(params["epsilon"]))


def _std_x_epsilon(k, a, z_nb, R, params, nonneg):
    axes = list(range(1, a.shape.rank))
    eps = float(params["std_factor"]) * _per_sample(tf.math.reduce_std(a, axis=axes), z_nb.shape.rank)
    return _z_like(k, a, z_nb, R, params, eps=eps)


_ALPHA_BETA_BIAS = ("reference", "split")


def _alpha_beta_core(k, a, R, alpha, beta, use_bias, nonneg, bias_form="reference"):
    """AlphaBeta (docs/semantics.md §4.1): ``z+ = W+ a+ + W- a- + b``, ``z- = W- a+ + W+ a- + b``.

    ``bias_form="reference"``: the full bias in both denominators (the layer copied into
    ``(W+, b+)`` and ``(W-, b-)``, each evaluated on ``a+`` and ``a-``, as the reference does);
    ``"split"``: ``b+`` in ``z+`` and ``b-`` in ``z-``. ``use_bias=False``: no bias in either.
    For ``nonneg`` inputs the ``a-`` passes are skipped (the bias terms stay).
    """
    if bias_form not in _ALPHA_BETA_BIAS:
        raise ValueError(f"alpha_beta rule: alpha_beta_bias must be one of {_ALPHA_BETA_BIAS}, got {bias_form!r}")
    kernel = k.kernel
    kp, kn = tf.nn.relu(kernel), tf.minimum(kernel, 0.0)
    bias = k.bias if use_bias else None
    if bias is None or bias_form == "reference":
        b_act = b_inh = bias
    else:
        b_act, b_inh = tf.nn.relu(bias), tf.minimum(bias, 0.0)
    ap = a if nonneg else tf.nn.relu(a)
    an = None if nonneg else tf.minimum(a, 0.0)

    def quotient(k_for_pos, k_for_neg, b):
        z = k.linear(ap, k_for_pos)
        if an is None:
            return _z_quotient(R, z, b, None)
        z_neg = k.linear(an, k_for_neg)
        return _div(R, z + z_neg) if b is None else _sum_quotient(R, z, z_neg, b)

    alpha_t = tf.constant(alpha, a.dtype)
    s_act = quotient(kp, kn, b_act)
    g_act = vjp(k, a, s_act, kp)
    if beta == 0.0:
        if an is None:
            return _ab_alpha(alpha_t, ap, g_act)
        return _ab_alpha_signed(alpha_t, ap, an, g_act, vjp(k, a, s_act, kn))
    beta_t = tf.constant(beta, a.dtype)
    s_inh = quotient(kn, kp, b_inh)
    g_inh = vjp(k, a, s_inh, kn)
    if an is None:
        return _ab_alpha_beta(alpha_t, beta_t, ap, g_act, g_inh)
    return _ab_alpha_beta_signed(alpha_t, beta_t, ap, an, g_act, vjp(k, a, s_act, kn), g_inh, vjp(k, a, s_inh, kp))


@fused
def _sum_quotient(R: tf.Tensor, z_pos: tf.Tensor, z_neg: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """``R / (z_pos + z_neg + bias)``, 0/0 = 0."""
    return _div(R, (z_pos + z_neg) + bias)


@fused
def _ab_alpha(alpha: tf.Tensor, ap: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
    """AlphaBeta's relevance for ``beta = 0`` and ``a >= 0``: ``alpha (a+ g)``."""
    return alpha * (ap * g)


@fused
def _ab_alpha_signed(alpha: tf.Tensor, ap: tf.Tensor, an: tf.Tensor, g_pos: tf.Tensor, g_neg: tf.Tensor) -> tf.Tensor:
    """AlphaBeta's relevance for ``beta = 0``: ``alpha (a+ g_pos + a- g_neg)``."""
    return alpha * (ap * g_pos + an * g_neg)


@fused
def _ab_alpha_beta(alpha: tf.Tensor, beta: tf.Tensor, ap: tf.Tensor, g_act: tf.Tensor, g_inh: tf.Tensor) -> tf.Tensor:
    """AlphaBeta's relevance for ``a >= 0``: ``alpha (a+ g_act) - beta (a+ g_inh)``."""
    return alpha * (ap * g_act) - beta * (ap * g_inh)


@fused
def _ab_alpha_beta_signed(
    alpha: tf.Tensor, beta: tf.Tensor, ap: tf.Tensor, an: tf.Tensor,
    g_pos: tf.Tensor, g_neg: tf.Tensor, h_pos: tf.Tensor, h_neg: tf.Tensor,
) -> tf.Tensor:
    """AlphaBeta's relevance: ``alpha (a+ g_pos + a- g_neg) - beta (a+ h_pos + a- h_neg)``."""
    return alpha * (ap * g_pos + an * g_neg) - beta * (ap * h_pos + an * h_neg)


def _alpha_beta(k, a, z_nb, R, params, nonneg):
    return _alpha_beta_core(
        k, a, R, float(params["alpha"]), float(params["beta"]), bool(params.get("bias", True)), nonneg,
        bias_form=params.get("alpha_beta_bias", "reference"),
    )


def _z_plus(k, a, z_nb, R, params, nonneg):
    return _alpha_beta_core(k, a, R, 1.0, 0.0, False, nonneg)


def _z_plus_fast(k, a, z_nb, R, params, nonneg):
    """``a * W+^T (R / (W+ a))``: no bias, ``a`` itself (ZPlus for ``a >= 0``, which it assumes)."""
    kp = tf.nn.relu(k.kernel)
    return a * vjp(k, a, _div(R, k.linear(a, kp)), kp)


def _alpha_beta_x(k, a, z_nb, R, params, nonneg):
    """AlphaBetaX (docs/semantics.md §4.4): four separately normalised terms,
    ``(alpha_0 r_pp + beta_1 r_nn) - (beta_0 r_pn + beta_1 r_np)`` (r_nn weighted by beta_1, as the reference)."""
    alpha0 = float(params["alpha_x"][0])
    beta0, beta1 = (float(v) for v in params["beta_x"])
    kp, kn = tf.nn.relu(k.kernel), tf.minimum(k.kernel, 0.0)
    use_bias = bool(params.get("bias", True)) and k.bias is not None
    bp = tf.nn.relu(k.bias) if use_bias else None
    bn = tf.minimum(k.bias, 0.0) if use_bias else None
    ap = a if nonneg else tf.nn.relu(a)
    an = None if nonneg else tf.minimum(a, 0.0)

    def term(x, kernel, bias):
        s = _div(R, k.add_bias(k.linear(x, kernel), bias))
        return x * vjp(k, a, s, kernel)

    out = 0.0
    if alpha0 != 0.0:
        out = out + alpha0 * term(ap, kp, bp)
    if beta0 != 0.0:
        out = out - beta0 * term(ap, kn, bn)
    if beta1 != 0.0 and an is not None:
        out = out + beta1 * (term(an, kn, bn) - term(an, kp, bp))
    return out if isinstance(out, tf.Tensor) else tf.zeros_like(a)


def _gamma(k, a, z_nb, R, params, nonneg):
    gamma = float(params.get("gamma", 0.25))
    kernel = k.kernel
    kernel_g = kernel + gamma * tf.nn.relu(kernel)
    bias = k.bias
    bias_g = None if bias is None else bias + gamma * tf.nn.relu(bias)
    return _z_like(k, a, k.linear(a, kernel_g), R, params, kernel=kernel_g, bias=bias_g if bias is not None else None)


def _square_like(k, a, R, kernel):
    den = k.linear(tf.ones_like(a), kernel)
    return vjp(k, a, _div(R, den), kernel)


def _w_square(k, a, z_nb, R, params, nonneg):
    return _square_like(k, a, R, tf.square(k.kernel))


def _flat(k, a, z_nb, R, params, nonneg):
    return _square_like(k, a, R, tf.ones_like(k.kernel))


def _bounded(k, a, z_nb, R, params, nonneg):
    kernel = k.kernel
    kp, kn = tf.nn.relu(kernel), tf.minimum(kernel, 0.0)
    low = _bound(params.get("low", -1.0), a, k)
    high = _bound(params.get("high", 1.0), a, k)
    z = z_nb - k.linear(low, kp) - k.linear(high, kn)
    s = _div(R, z)
    return a * vjp(k, a, s, kernel) - low * vjp(k, a, s, kp) - high * vjp(k, a, s, kn)


def _sign_rule(k, a, z_nb, R, params, nonneg):
    return _z_like(k, a, z_nb, R, params, factor=_sign(a))


def _sign_mu(k, a, z_nb, R, params, nonneg):
    return _z_like(k, a, z_nb, R, params, factor=_sign(a, float(params["mu"])))


def _custom(k, a, z_nb, R, params, nonneg):
    """A user-written rule: ``params["function"](k, a, z_nb, R)`` returns the relevance at the input
    (``signxai_tf.analyzer.rules.Rule`` subclasses implementing ``relevance``)."""
    return params["function"](k, a, z_nb, R)


RuleFn = Callable[[KernelLayer, tf.Tensor, tf.Tensor, tf.Tensor, Mapping[str, Any], bool], tf.Tensor]

#: rule name (``shared_spec.LRPRule.name``) -> implementation
RULES: dict[str, RuleFn] = {
    "z": _z,
    "epsilon": _epsilon,
    "std_x_epsilon": _std_x_epsilon,
    "alpha_beta": _alpha_beta,
    "z_plus": _z_plus,
    "z_plus_fast": _z_plus_fast,
    "alpha_beta_x": _alpha_beta_x,
    "gamma": _gamma,
    "w_square": _w_square,
    "flat": _flat,
    "bounded": _bounded,
    "sign": _sign_rule,
    "sign_mu": _sign_mu,
    "custom": _custom,
}


def apply_rule(
    name: str,
    params: Mapping[str, Any],
    k: KernelLayer,
    a: tf.Tensor,
    z_nb: tf.Tensor,
    R: tf.Tensor,
    nonneg: bool = False,
) -> tf.Tensor:
    """Relevance at the input of kernel layer ``k`` under rule ``name``.

    Parameters
    ----------
    name, params : str, mapping
        The rule and its parameters (``shared_spec.LRPRule``); ``alpha_beta`` reads ``alpha``,
        ``beta`` and ``alpha_beta_bias`` (``"reference"``, the default, or ``"split"``).
    k : KernelLayer
        The layer.
    a : tf.Tensor
        Its input (a batch).
    z_nb : tf.Tensor
        ``linear(a, kernel)``, its pre-activation without bias (from the forward pass).
    R : tf.Tensor
        Relevance at its output.
    nonneg : bool
        Whether ``a`` is known to be non-negative (lets AlphaBeta/ZPlus skip the negative part).
    """
    try:
        fn = RULES[name]
    except KeyError:
        raise ValueError(f"unknown LRP rule {name!r}; known rules: {', '.join(RULES)}") from None
    return fn(k, a, z_nb, R, params, nonneg)
