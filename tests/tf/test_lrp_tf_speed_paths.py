"""The fast paths of the TensorFlow LRP engine give the values of the generic computation.

- 1x1 stride-1 convolutions compute ``W^T s`` as a forward convolution with the kernel's channel
  axes swapped (``KernelLayer.transposed``): checked against the GradientTape gradient and against
  the literal numpy contraction ``s @ W^T``, and only such layers get that path.
- Ungrouped stride-1 convolutions with odd kernels and ``"same"`` padding compute it as a forward
  convolution with the kernel flipped in space and its channel axes swapped: checked in float64
  against the GradientTape gradient and against the adjoint identity ``<W^T s, b> = <s, W b>`` (no
  TensorFlow gradient involved), whole maps against the maps with the gradient everywhere, and the
  layers that do not qualify keep the gradient.
- The element-wise parts of the hot rules run as XLA-fused kernels (``FUSE_ELEMENTWISE``): each
  kernel is checked against its numpy formula, and whole maps with fusion against the same maps
  computed with separate TensorFlow ops (a second model instance, so a plan of its own).
- AlphaBeta skips the ``a-`` passes for inputs known to be >= 0: the same relevance as the full
  computation on a non-negative input.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from shared_spec import parse  # noqa: E402
from signxai_tf.lrp import _engine, _rules, lrp  # noqa: E402
from signxai_tf.lrp._layers import kernel_layers  # noqa: E402
from signxai_tf.lrp._rules import apply_rule  # noqa: E402

L = keras.layers
RNG = np.random.default_rng(7)


def _tape_vjp(k, a, s, kernel):
    """``W^T s`` as TensorFlow's gradient of the layer's linear map (the generic path)."""
    with tf.GradientTape() as tape:
        tape.watch(a)
        out = k.linear(a, kernel)
    return tape.gradient(out, a, output_gradients=s)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (L.Conv1D(5, 1), (2, 9, 3)),
        (L.Conv2D(6, 1, padding="same"), (2, 5, 4, 3)),
        (L.Conv2D(4, (1, 1), dilation_rate=2), (2, 5, 5, 7)),
        (L.Conv3D(3, 1), (2, 3, 4, 5, 2)),
    ],
    ids=["conv1d", "conv2d_same", "conv2d_dilated", "conv3d"],
)
def test_pointwise_transposed_is_the_gradient(layer, shape):
    a = tf.constant(RNG.normal(size=shape).astype(np.float32))
    layer(a)
    (k,) = kernel_layers(layer)
    assert k.transposed is not None
    s = tf.constant(RNG.normal(size=tuple(k.linear(a, k.kernel).shape)).astype(np.float32))
    for kernel in (k.kernel, tf.nn.relu(k.kernel), tf.minimum(k.kernel, 0.0)):
        got = _rules.vjp(k, a, s, kernel).numpy()
        w = kernel.numpy().reshape(kernel.shape[-2], kernel.shape[-1])  # (C_in, C_out)
        literal = s.numpy() @ w.T
        np.testing.assert_allclose(got, literal, rtol=1e-5, atol=1e-5 * np.abs(literal).max())
        np.testing.assert_allclose(got, _tape_vjp(k, a, s, kernel), rtol=1e-6, atol=1e-6 * np.abs(literal).max())


def test_separable_pointwise_part_transposed_is_the_gradient():
    layer = L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2)
    a = tf.constant(RNG.normal(size=(2, 6, 6, 3)).astype(np.float32))
    layer(a)
    depthwise, pointwise = kernel_layers(layer)
    assert depthwise.transposed is None and pointwise.transposed is not None
    h = depthwise.linear(a, depthwise.kernel)
    s = tf.constant(RNG.normal(size=(2, 6, 6, 5)).astype(np.float32))
    got = _rules.vjp(pointwise, h, s, pointwise.kernel).numpy()
    literal = s.numpy() @ pointwise.kernel.numpy()[0, 0].T
    np.testing.assert_allclose(got, literal, rtol=1e-5, atol=1e-5 * np.abs(literal).max())
    np.testing.assert_allclose(got, _tape_vjp(pointwise, h, s, pointwise.kernel), rtol=1e-6, atol=1e-7)


FLIPPED = [
    (lambda: L.Conv2D(5, 3, padding="same"), (2, 7, 6, 3)),
    (lambda: L.Conv2D(5, 5, padding="same", dilation_rate=2), (2, 9, 9, 3)),
    (lambda: L.Conv2D(4, (3, 1), padding="same"), (2, 6, 6, 3)),
    (lambda: L.Conv1D(4, 3, padding="same"), (2, 9, 3)),
    (lambda: L.Conv3D(3, 3, padding="same"), (2, 4, 5, 6, 2)),
    (lambda: L.Conv2D(6, 1, dilation_rate=2), (2, 5, 5, 4)),
]


@pytest.mark.parametrize(
    "make, shape", FLIPPED,
    ids=["conv2d", "conv2d_5x5_dilated", "conv2d_3x1", "conv1d", "conv3d", "conv2d_1x1_dilated"],
)
def test_flipped_kernel_transposed_is_the_gradient(make, shape):
    """float64, so that the only difference is the order of the sums (1e-12)."""
    layer = make()
    layer.build(shape)
    layer.set_weights([RNG.normal(size=w.shape) for w in layer.get_weights()])
    h = tf.constant(RNG.normal(size=shape))
    for k in kernel_layers(layer):
        assert k.transposed is not None, k.name
        kernel = tf.cast(k.kernel, tf.float64)
        out = k.linear(h, kernel)
        s = tf.constant(RNG.normal(size=tuple(out.shape)))
        for w in (kernel, tf.nn.relu(kernel), tf.minimum(kernel, 0.0)):
            got = _rules.vjp(k, h, s, w).numpy()
            scale = np.abs(got).max()
            assert got.shape == tuple(h.shape) and scale > 0
            np.testing.assert_allclose(got, _tape_vjp(k, h, s, w), rtol=0, atol=1e-12 * scale)
            # the adjoint identity, with a second random input: <W^T s, b> = <s, W b>
            b = tf.constant(RNG.normal(size=shape))
            lhs = float(np.sum(got * b.numpy()))
            rhs = float(np.sum(s.numpy() * k.linear(b, w).numpy()))
            assert abs(lhs - rhs) <= 1e-10 * (abs(rhs) + 1.0), (k.name, lhs, rhs)
        h = out


@pytest.mark.parametrize(
    "layer",
    [
        L.Conv2D(4, 3),  # "valid" padding, K > 1
        L.Conv2D(4, 2, padding="same"),  # even kernel: asymmetric padding
        L.Conv2D(4, 3, strides=2, padding="same"),
        L.Conv2D(4, 1, strides=2),
        L.Conv2D(4, 1, groups=2),
        L.DepthwiseConv2D(3, padding="same"),
        L.DepthwiseConv2D(1),
        L.SeparableConv2D(4, 3, padding="same"),  # its depthwise part (the pointwise part: see above)
        L.Conv2DTranspose(4, 3, padding="same"),
        L.Dense(3),
    ],
    ids=["valid", "even", "stride2", "1x1_stride2", "grouped", "depthwise", "depthwise_1x1",
         "separable_depthwise_part", "conv_transpose", "dense"],
)
def test_other_kernel_layers_use_the_gradient(layer):
    layer(tf.zeros((1, 6, 6, 4)))
    assert all(k.transposed is None for k in kernel_layers(layer) if k.part != "pointwise")


def _flip_model():
    inp = keras.Input((10, 10, 3))
    h = L.Conv2D(6, 3, padding="same", activation="relu")(inp)
    h = L.DepthwiseConv2D(3, padding="same")(h)
    h = L.ReLU(max_value=6.0)(h)
    h = L.Conv2D(6, 3, padding="same")(h)  # signed input to the next layers
    h = L.Conv2D(5, 5, padding="same", dilation_rate=2, activation="relu")(h)
    h = L.SeparableConv2D(5, 3, padding="same", activation="relu")(h)
    h = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(h)  # the gradient
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(5)(h)
    model = keras.Model(inp, out)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(RNG.normal(0, 0.1, layer.bias.shape).astype(np.float32))
    return model


def _twins(model):
    """``model`` and a second instance with its weights (a plan, and a trace, of its own)."""
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return model, twin


def test_flipped_kernel_maps_equal_the_gradient_maps(monkeypatch):
    """Whole maps with the forward-convolution transposes equal those with the gradient everywhere."""
    fast_model, slow_model = _twins(_flip_model())
    x = tf.constant(RNG.normal(size=(3, 10, 10, 3)).astype(np.float32))
    targets = [0, 3, 4]
    methods = ["lrp_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_alpha_2_beta_1", "lrp_sequential_composite_b",
               "lrp_gamma", "lrp_w_square"]
    fast = {m: lrp(fast_model, x, targets, parse(m).lrp_rules()).numpy() for m in methods}
    calls = []

    def tape_only(k, a, s, kernel):
        calls.append(k.name)
        return _tape_vjp(k, a, s, kernel)

    monkeypatch.setattr(_rules, "vjp", tape_only)
    _assert_maps_close(fast, slow_model, x, targets, tolerance=1e-5)
    assert calls  # the slow maps really ran through the gradient


def _assert_maps_close(got, model, x, targets, tolerance):
    """Each map in ``got`` (method name -> map) against the map of ``model`` (non-zero, relative to its largest value)."""
    for m, value in got.items():
        expected = lrp(model, x, targets, parse(m).lrp_rules()).numpy()
        scale = np.abs(expected).max()
        assert scale > 0, m
        np.testing.assert_allclose(value, expected, rtol=tolerance, atol=tolerance * scale, err_msg=m)



def _stab(d, eps):
    return d + np.where(d >= 0, eps, -eps).astype(d.dtype)


def _div0(n, d):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d == 0, 0.0, n / np.where(d == 0, 1.0, d)).astype(n.dtype)


def _arrays(*shapes, zeros=True):
    out = []
    for shape in shapes:
        v = RNG.normal(size=shape).astype(np.float32)
        if zeros:
            v[..., 0] = 0.0  # exact zeros: the stabiliser's sign and 0/0 = 0
        out.append(v)
    return out


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "ops"])
def test_fused_kernels_match_their_formulas(fuse, monkeypatch):
    monkeypatch.setattr(_rules, "FUSE_ELEMENTWISE", fuse)
    shape = (2, 4, 4, 3)
    r, z, g, h, ap = _arrays(shape, shape, shape, shape, shape)
    ap = np.abs(ap)
    an = -np.abs(_arrays(shape)[0])
    bias = RNG.normal(size=(1, 1, 1, 3)).astype(np.float32)
    eps = np.float32(0.1)
    t = tf.constant

    def check(got, expected):
        # relative to each value, and to the largest value where a difference of products cancels
        # (XLA may contract a product and a sum into one fused multiply-add: one rounding fewer)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())

    check(_rules._quotient(t(r), t(z), t(bias)), _div0(r, z + bias))
    check(_rules._eps_quotient(t(r), t(z), t(eps)), _div0(r, _stab(z, eps)))
    check(_rules._bias_eps_quotient(t(r), t(z), t(bias), t(eps)), _div0(r, _stab(z + bias, eps)))
    per_sample = np.array([0.1, 0.3], np.float32).reshape(2, 1, 1, 1)
    check(_rules._bias_eps_quotient(t(r), t(z), t(bias), t(per_sample)), _div0(r, _stab(z + bias, per_sample)))
    check(_rules._sum_quotient(t(r), t(z), t(g), t(bias)), _div0(r, z + g + bias))
    alpha, beta = np.float32(2.0), np.float32(1.0)
    check(_rules._ab_alpha(t(alpha), t(ap), t(g)), alpha * ap * g)
    check(_rules._ab_alpha_signed(t(alpha), t(ap), t(an), t(g), t(h)), alpha * (ap * g + an * h))
    check(_rules._ab_alpha_beta(t(alpha), t(beta), t(ap), t(g), t(h)), alpha * ap * g - beta * ap * h)
    check(
        _rules._ab_alpha_beta_signed(t(alpha), t(beta), t(ap), t(an), t(g), t(h), t(r), t(z)),
        alpha * (ap * g + an * h) - beta * (ap * r + an * z),
    )
    # batch-norm rule: r * (a / stab(a - mean)) * ((y - beta) / stab(y)); y = a with some entries at the mean
    a, y = _arrays(shape, shape)
    mean = RNG.normal(size=(1, 1, 1, 3)).astype(np.float32)
    a[0, 0, 0] = mean[0, 0, 0]
    shift = RNG.normal(size=(1, 1, 1, 3)).astype(np.float32)
    bn_eps = np.float32(1e-7)
    expected = r * (a / _stab(a - mean, bn_eps)) * ((y - shift) / _stab(y, bn_eps))
    check(_engine._batch_norm_relevance(t(r), t(a), t(y), t(mean), t(shift), t(bn_eps)), expected)
    no_shift = r * (a / _stab(a - mean, bn_eps)) * (y / _stab(y, bn_eps))
    check(_engine._batch_norm_relevance(t(r), t(a), t(y), t(mean), t(np.zeros_like(shift)), t(bn_eps)), no_shift)
    x0, x1 = _arrays(shape, shape)
    y_sum = x0 + x1
    y_sum[0, 0, 0] = 0.0
    s = _div0(r, y_sum)
    got0, got1 = _engine._two_addends(t(r), t(y_sum), t(x0), t(x1))
    check(got0, x0 * s)
    check(got1, x1 * s)


def _model():
    inp = keras.Input((12, 12, 3))
    h = L.Conv2D(8, 3, padding="same")(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    skip = h
    h = L.Conv2D(8, 1)(h)  # 1x1 stride 1: the transposed path; input >= 0 (after a ReLU)
    h = L.BatchNormalization(center=False)(h)  # no shift
    h = L.Add()([h, skip])  # signed: the next 1x1 convolution gets the full AlphaBeta
    h = L.Conv2D(6, 1, activation="relu")(h)
    h = L.SeparableConv2D(6, 3, padding="same", activation="relu")(h)
    h = L.Conv2D(4, 1, strides=2)(h)
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(5)(h)
    model = keras.Model(inp, out)
    for layer in model.layers:  # non-trivial statistics and biases
        if isinstance(layer, L.BatchNormalization):
            for w in layer.weights:
                positive = w.name in ("gamma", "moving_variance")
                value = RNG.uniform(0.5, 1.5, w.shape) if positive else RNG.normal(0, 0.3, w.shape)
                w.assign(value.astype(np.float32))
        elif getattr(layer, "bias", None) is not None:
            layer.bias.assign(RNG.normal(0, 0.1, layer.bias.shape).astype(np.float32))
    return model


METHODS = [
    "lrp_epsilon_0_1",
    "lrpsign_epsilon_0_1",
    "lrp_z",
    "lrpz_epsilon_0_1_std_x",
    "lrp_alpha_1_beta_0",
    "lrp_alpha_2_beta_1",
    "lrp_sequential_composite_a",
    "lrp_sequential_composite_b",
    "lrp_gamma",
]


def test_fused_maps_equal_the_separate_ops(monkeypatch):
    fused_model, ops_model = _twins(_model())
    x = tf.constant(RNG.normal(size=(3, 12, 12, 3)).astype(np.float32))
    targets = [0, 3, 4]
    fused = {m: lrp(fused_model, x, targets, parse(m).lrp_rules()).numpy() for m in METHODS}
    monkeypatch.setattr(_rules, "FUSE_ELEMENTWISE", False)
    _assert_maps_close(fused, ops_model, x, targets, tolerance=1e-6)


@pytest.mark.parametrize("params", [{"alpha": 1.0, "beta": 0.0}, {"alpha": 2.0, "beta": 1.0},
                                    {"alpha": 2.0, "beta": 1.0, "alpha_beta_bias": "split"}])
def test_alpha_beta_nonneg_skip_equals_full(params):
    layer = L.Conv2D(4, 3, padding="same")
    a = tf.constant(np.abs(RNG.normal(size=(2, 6, 6, 3))).astype(np.float32))
    layer(a)
    layer.bias.assign(RNG.normal(0, 0.5, 4).astype(np.float32))
    (k,) = kernel_layers(layer)
    z_nb = k.linear(a, k.kernel)
    r = tf.constant(RNG.normal(size=(2, 6, 6, 4)).astype(np.float32))
    skipped = apply_rule("alpha_beta", params, k, a, z_nb, r, nonneg=True).numpy()
    full = apply_rule("alpha_beta", params, k, a, z_nb, r, nonneg=False).numpy()
    np.testing.assert_allclose(skipped, full, rtol=1e-6, atol=1e-6 * np.abs(full).max())
    assert np.abs(full).max() > 0


def test_environment_variable_turns_the_fused_kernels_off():
    """``SIGNXAI_TF_FUSE=0`` (for TensorFlow builds without XLA) selects the separate ops at import."""
    import os
    import subprocess
    import sys

    code = "import signxai_tf.lrp._rules as r; print(r.FUSE_ELEMENTWISE)"
    for value, expected in (("0", "False"), ("off", "False"), ("1", "True")):
        env = {**os.environ, "SIGNXAI_TF_FUSE": value, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == expected
