"""Slow, literal, framework-free reference of the LRP rules of docs/semantics.md §4.1.

Everything here is float64 numpy with explicit per-element loops, written to mirror the formulas of
the specification as directly as possible, so that the engines of both packages (PyTorch and
TensorFlow) can be checked against it on small layers.

A kernel layer is described by an explicit matrix ``W`` of shape ``(out_size, in_size)`` acting on
the flattened input ``a`` (``z = W a + b``).  :func:`layer_matrix` builds that matrix for any linear
map (a convolution included) from its action on the one-hot basis.

Conventions (docs/semantics.md §1, §4.1)
---------------------------
* ``s(z) = +1`` for ``z >= 0`` and ``-1`` otherwise (also used by ``sign``).
* A quotient whose denominator is exactly zero is taken as 0 ("0/0 is 0"; a non-zero numerator over
  an exactly-zero denominator is also 0: that output passes no relevance down).
* ``flat``: every *non-zero* entry of ``W`` counts as a weight of 1 (structural zeros of a
  convolution matrix stay 0).  Test layers should therefore not contain exact zero weights, or pass
  the matrix of the layer with all weights set to 1.
* ``alpha_beta``: by default the reference's form, with the full bias b in both the activator and the
  inhibitor denominator; ``alpha_beta_bias="split"`` gives the textbook form (b+ / b-).
* ``bias=False`` (z, epsilon, std_x_epsilon, alpha_beta, alpha_beta_x): the IgnoreBias variants, b = 0 in every
  denominator.
* ``alpha_beta_x``: four separately normalised terms, weighted as the reference weights them
  (r_nn by beta_1, docs/semantics.md §4.4).
* ``bounded``: ``low``/``high`` are scalars or arrays of the flattened input's size (expand
  per-channel bounds to every element before calling).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["layer_matrix", "lrp_rule", "lrp_batch_norm", "lrp_sum", "RULES"]

RULES = (
    "z",
    "epsilon",
    "std_x_epsilon",
    "alpha_beta",
    "z_plus",
    "gamma",
    "w_square",
    "flat",
    "bounded",
    "sign",
    "sign_mu",
    "z_plus_fast",
    "alpha_beta_x",
)


def layer_matrix(apply_linear: Callable[[np.ndarray], np.ndarray], in_shape: tuple[int, ...]) -> np.ndarray:
    """Return the explicit matrix ``(out_size, in_size)`` of a linear map.

    Column ``k`` is ``apply_linear(e_k).ravel()`` where ``e_k`` is the ``k``-th one-hot array of
    shape ``in_shape`` (no batch axis).  ``apply_linear`` must not add a bias.
    """
    in_shape = tuple(int(d) for d in in_shape)
    in_size = int(np.prod(in_shape))
    columns = []
    for k in range(in_size):
        basis = np.zeros(in_size, dtype=np.float64)
        basis[k] = 1.0
        out = np.asarray(apply_linear(basis.reshape(in_shape)), dtype=np.float64).ravel()
        columns.append(out)
    return np.stack(columns, axis=1)


def _s(value: float) -> float:
    """Defined sign: +1 for value >= 0, -1 otherwise."""
    return 1.0 if value >= 0 else -1.0


def _div(num: float, den: float) -> float:
    """``num / den`` with an exactly-zero denominator giving 0."""
    if den == 0.0:
        return 0.0
    return num / den


def _pos(v: float) -> float:
    return v if v > 0 else 0.0


def _neg(v: float) -> float:
    return v if v < 0 else 0.0


def _z_like(a, W, b, R, factor_of_input, eps_of_z):
    """R_in_i = factor_i * sum_j W_ji * R_j / (z_j + eps(z_j)), z_j = sum_i W_ji a_i + b_j."""
    n_out, n_in = W.shape
    s_vec = np.zeros(n_out)
    for j in range(n_out):
        z = b[j]
        for i in range(n_in):
            z += W[j, i] * a[i]
        s_vec[j] = _div(R[j], z + eps_of_z(z))
    out = np.zeros(n_in)
    for i in range(n_in):
        acc = 0.0
        for j in range(n_out):
            acc += W[j, i] * s_vec[j]
        out[i] = factor_of_input(a[i]) * acc
    return out


def lrp_rule(rule: str, a: np.ndarray, W: np.ndarray, b: np.ndarray, R: np.ndarray, **params) -> np.ndarray:
    """Relevance at the input of one kernel layer under ``rule`` (docs/semantics.md §4.1).

    Parameters
    ----------
    rule : str
        One of :data:`RULES`.
    a : ndarray, shape (in_size,)
        The layer input.
    W : ndarray, shape (out_size, in_size)
        The layer's explicit matrix.
    b : ndarray, shape (out_size,)
        The bias (ignored by the rules that have none: z_plus, w_square, flat, bounded).
    R : ndarray, shape (out_size,)
        Relevance at the layer output.
    **params
        ``epsilon`` (epsilon), ``std_factor`` (std_x_epsilon), ``alpha``/``beta`` (alpha_beta;
        also ``alpha_beta_bias``: ``"reference"`` (default, the full bias in both denominators)
        or ``"split"`` (b+ in z+, b- in z-)), ``bias`` (z, epsilon, std_x_epsilon, alpha_beta,
        alpha_beta_x, gamma, sign, sign_mu: False drops the bias, and gamma's ``gamma b+``, from every
        denominator), ``alpha_x``/``beta_x`` (alpha_beta_x), ``gamma`` (gamma,
        default 0.25), ``low``/``high`` (bounded, default -1/1), ``mu``
        (sign_mu).

    Returns
    -------
    ndarray, shape (in_size,)
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).ravel()
    R = np.asarray(R, dtype=np.float64).ravel()
    n_out, n_in = W.shape
    if a.shape != (n_in,) or b.shape != (n_out,) or R.shape != (n_out,):
        raise ValueError(f"shapes do not fit: a {a.shape}, W {W.shape}, b {b.shape}, R {R.shape}")

    if rule in ("z", "epsilon", "std_x_epsilon", "alpha_beta_x", "gamma", "sign", "sign_mu") and not params.get("bias", True):
        b = np.zeros(n_out)  # the IgnoreBias variants: no bias in the denominators

    if rule == "z":
        return _z_like(a, W, b, R, lambda ai: ai, lambda z: 0.0)

    if rule == "epsilon":
        eps = float(params["epsilon"])
        return _z_like(a, W, b, R, lambda ai: ai, lambda z: eps * _s(z))

    if rule == "z_plus_fast":
        # R_in_i = a_i * sum_j W+_ji R_j / (sum_k W+_jk a_k), no bias, a itself (not a+)
        out = np.zeros(n_in)
        for i in range(n_in):
            acc = 0.0
            for j in range(n_out):
                z = 0.0
                for k in range(n_in):
                    z += _pos(W[j, k]) * a[k]
                acc += _pos(W[j, i]) * _div(R[j], z)
            out[i] = a[i] * acc
        return out

    if rule == "alpha_beta_x":
        a0, a1 = (float(v) for v in params.get("alpha_x", (1.0, 0.0)))
        b0, b1 = (float(v) for v in params.get("beta_x", (0.0, 0.0)))
        del a1  # the reference does not use alpha_1: r_nn is weighted by beta_1

        def term(sign_a, sign_w, bias_part):
            # r_i = a_i^(sign_a) * sum_j W_ji^(sign_w) R_j / (sum_k W_jk^(sign_w) a_k^(sign_a) + b_j^(sign_w))
            pick_a = _pos if sign_a > 0 else _neg
            pick_w = _pos if sign_w > 0 else _neg
            r = np.zeros(n_in)
            for i in range(n_in):
                acc = 0.0
                for j in range(n_out):
                    z = bias_part(b[j])
                    for k in range(n_in):
                        z += pick_w(W[j, k]) * pick_a(a[k])
                    acc += pick_w(W[j, i]) * _div(R[j], z)
                r[i] = pick_a(a[i]) * acc
            return r

        r_pp = term(+1, +1, _pos)
        r_nn = term(-1, -1, _neg)
        r_pn = term(+1, -1, _neg)
        r_np = term(-1, +1, _pos)
        return (a0 * r_pp + b1 * r_nn) - (b0 * r_pn + b1 * r_np)

    if rule == "std_x_epsilon":
        factor = float(params["std_factor"])
        mean = 0.0
        for ai in a:
            mean += ai
        mean /= n_in
        var = 0.0
        for ai in a:
            var += (ai - mean) ** 2
        var /= n_in
        eps = factor * var**0.5
        return _z_like(a, W, b, R, lambda ai: ai, lambda z: eps * _s(z))

    if rule in ("alpha_beta", "z_plus"):
        # The layer is copied into a positive part (W+, b+) and a negative part (W-, b-).
        # Activator z+: the positive copy on a+ plus the negative copy on a-,
        #   z+_j = (sum_i W+_ji a+_i + b+_j) + (sum_i W-_ji a-_i + b-_j)      -> full bias b_j
        # Inhibitor z-: the negative copy on a+ plus the positive copy on a-,
        #   z-_j = (sum_i W-_ji a+_i + b-_j) + (sum_i W+_ji a-_i + b+_j)      -> full bias b_j
        # "split" (textbook/zennit): the copies applied to a- carry no bias (z+ gets b+, z- gets b-).
        # use_bias=False (and z_plus): no bias in either denominator.
        if rule == "alpha_beta":
            alpha, beta = float(params["alpha"]), float(params["beta"])
            use_bias = bool(params.get("bias", True))
            form = params.get("alpha_beta_bias", "reference")
        else:
            alpha, beta, use_bias, form = 1.0, 0.0, False, "reference"
        if form not in ("reference", "split"):
            raise ValueError(f"alpha_beta_bias must be 'reference' or 'split', got {form!r}")
        z_act = np.zeros(n_out)
        z_inh = np.zeros(n_out)
        for j in range(n_out):
            # positive copy on a+, negative copy on a- (activator)
            zp = 0.0
            for i in range(n_in):
                zp += _pos(W[j, i]) * _pos(a[i])
            if use_bias:
                zp += _pos(b[j])
            for i in range(n_in):
                zp += _neg(W[j, i]) * _neg(a[i])
            if use_bias and form == "reference":
                zp += _neg(b[j])
            # negative copy on a+, positive copy on a- (inhibitor)
            zn = 0.0
            for i in range(n_in):
                zn += _neg(W[j, i]) * _pos(a[i])
            if use_bias:
                zn += _neg(b[j])
            for i in range(n_in):
                zn += _pos(W[j, i]) * _neg(a[i])
            if use_bias and form == "reference":
                zn += _pos(b[j])
            z_act[j], z_inh[j] = zp, zn
        out = np.zeros(n_in)
        for i in range(n_in):
            act = 0.0
            inh = 0.0
            for j in range(n_out):
                s_act = _div(R[j], z_act[j])
                s_inh = _div(R[j], z_inh[j])
                act += _pos(a[i]) * _pos(W[j, i]) * s_act + _neg(a[i]) * _neg(W[j, i]) * s_act
                inh += _pos(a[i]) * _neg(W[j, i]) * s_inh + _neg(a[i]) * _pos(W[j, i]) * s_inh
            out[i] = alpha * act - beta * inh
        return out

    if rule == "gamma":
        gamma = float(params.get("gamma", 0.25))
        z = np.zeros(n_out)
        for j in range(n_out):
            zj = b[j] + gamma * _pos(b[j])
            for i in range(n_in):
                zj += a[i] * (W[j, i] + gamma * _pos(W[j, i]))
            z[j] = zj
        out = np.zeros(n_in)
        for i in range(n_in):
            acc = 0.0
            for j in range(n_out):
                acc += a[i] * (W[j, i] + gamma * _pos(W[j, i])) * _div(R[j], z[j])
            out[i] = acc
        return out

    if rule in ("w_square", "flat"):
        if rule == "flat":
            V = np.zeros_like(W)
            for j in range(n_out):
                for i in range(n_in):
                    V[j, i] = 1.0 if W[j, i] != 0.0 else 0.0
        else:
            V = W
        out = np.zeros(n_in)
        for i in range(n_in):
            acc = 0.0
            for j in range(n_out):
                den = 0.0
                for k in range(n_in):
                    den += V[j, k] ** 2
                acc += V[j, i] ** 2 * _div(R[j], den)
            out[i] = acc
        return out

    if rule == "bounded":
        low = np.broadcast_to(np.asarray(params.get("low", -1.0), dtype=np.float64).ravel(), (n_in,))
        high = np.broadcast_to(np.asarray(params.get("high", 1.0), dtype=np.float64).ravel(), (n_in,))
        s_vec = np.zeros(n_out)
        for j in range(n_out):
            z = 0.0
            for i in range(n_in):
                z += W[j, i] * a[i] - _pos(W[j, i]) * low[i] - _neg(W[j, i]) * high[i]
            s_vec[j] = _div(R[j], z)
        out = np.zeros(n_in)
        for i in range(n_in):
            acc = 0.0
            for j in range(n_out):
                acc += a[i] * W[j, i] * s_vec[j] - low[i] * _pos(W[j, i]) * s_vec[j] - high[i] * _neg(W[j, i]) * s_vec[j]
            out[i] = acc
        return out

    if rule == "sign":
        return _z_like(a, W, b, R, _s, lambda z: 0.0)

    if rule == "sign_mu":
        mu = float(params["mu"])
        return _z_like(a, W, b, R, lambda ai: 1.0 if ai >= mu else -1.0, lambda z: 0.0)

    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def lrp_batch_norm(a, mean, var, gamma, beta, eps, R, stabiliser=1e-7) -> np.ndarray:
    """docs/semantics.md §4.2 batch norm rule, element by element (all arguments of the input's flat shape).

    y = gamma (a - mu) / sqrt(var + eps) + beta;  R_in = R * [a / (a - mu)] * [(y - beta) / y],
    each denominator d replaced by d + stabiliser * s(d).
    """
    a, mean, var, gamma, beta, R = (np.asarray(v, dtype=np.float64).ravel() for v in (a, mean, var, gamma, beta, R))
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        y = gamma[i] * (a[i] - mean[i]) / (var[i] + eps) ** 0.5 + beta[i]
        d1 = a[i] - mean[i]
        d2 = y
        out[i] = R[i] * (a[i] / (d1 + stabiliser * _s(d1))) * ((y - beta[i]) / (d2 + stabiliser * _s(d2)))
    return out


def lrp_sum(xs, R) -> list:
    """docs/semantics.md §4.2 sum rule over same-shape addends: R_i = R * x_i / sum_j x_j, 0/0 = 0."""
    xs = [np.asarray(x, dtype=np.float64).ravel() for x in xs]
    R = np.asarray(R, dtype=np.float64).ravel()
    outs = [np.zeros(R.shape[0]) for _ in xs]
    for k in range(R.shape[0]):
        z = 0.0
        for x in xs:
            z += x[k]
        for x, out in zip(xs, outs):
            out[k] = _div(R[k] * x[k], z) if z != 0.0 else 0.0
    return outs
