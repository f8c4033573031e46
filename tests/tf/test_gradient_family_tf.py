"""signxai_tf: integrated gradients, SmoothGrad, VarGrad and Grad-CAM against literal implementations.

Every reference here is computed independently of the library: per-sample, per-path-point (or
per-noise-sample) GradientTape loops, numpy weighting / ReLU / normalisation, and a literal numpy
linear interpolation with half-pixel centres.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from shared_spec import standard_normal_noise  # noqa: E402
from signxai_tf import explain  # noqa: E402
from signxai_tf._methods.grad_cam import grad_cam  # noqa: E402

SIGN = {
    None: lambda x: 1.0,
    "x_input": lambda x: x,
    "x_sign": lambda x: np.where(x >= 0, 1.0, -1.0),
    "x_sign_mu_0_5": lambda x: np.where(x >= 0.5, 1.0, -1.0),
}


# -- models and inputs -----------------------------------------------------------------------------
def mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(12, activation="tanh", bias_initializer="random_normal"),
        keras.layers.Dense(12, activation="relu", bias_initializer="random_normal"),
        keras.layers.Dense(4, bias_initializer="random_normal"),
    ])


def smooth_mlp() -> keras.Model:
    keras.utils.set_random_seed(2)
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(10, activation="tanh", bias_initializer="random_normal"),
        keras.layers.Dense(10, activation="softplus", bias_initializer="random_normal"),
        keras.layers.Dense(3, bias_initializer="random_normal"),
    ])


def cnn(separate_relu: bool = False, softmax: bool = False) -> keras.Model:
    """Small 2-D CNN; the last convolution has a fused ReLU or is followed by a ReLU layer."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 10, 3))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", bias_initializer="random_normal", name="conv_a")(inp)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    if separate_relu:
        h = keras.layers.Conv2D(7, 3, padding="same", bias_initializer="random_normal", name="conv_b")(h)
        h = keras.layers.ReLU(name="relu_b")(h)
    else:
        h = keras.layers.Conv2D(7, 3, padding="same", activation="relu", bias_initializer="random_normal", name="conv_b")(h)
    h = keras.layers.Flatten(name="flat")(h)
    out = keras.layers.Dense(5, activation="softmax" if softmax else None, name="dense")(h)
    return keras.Model(inp, out, name="cnn")


def cnn1d() -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((20, 2))
    h = keras.layers.Conv1D(5, 3, padding="same", activation="relu", name="c1")(inp)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Conv1D(6, 3, activation="relu", bias_initializer="random_normal", name="c2")(h)
    out = keras.layers.Dense(3, name="dense")(keras.layers.Flatten()(h))
    return keras.Model(inp, out, name="cnn1d")


def inputs(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# -- literal references ----------------------------------------------------------------------------
def grad_at(model: keras.Model, point: np.ndarray, target: int) -> np.ndarray:
    """Plain GradientTape on one sample's logit."""
    xi = tf.constant(point[None].astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xi)
        logit = model(xi, training=False)[0, int(target)]
    return tape.gradient(logit, xi).numpy()[0].astype(np.float64)


def literal_ig(model, x, targets, steps, baseline) -> np.ndarray:
    out = []
    for i in range(len(x)):
        b = baseline[i]
        alphas = [1.0] if steps == 1 else [k / (steps - 1) for k in range(steps)]
        grads = [grad_at(model, b + a * (x[i] - b), targets[i]) for a in alphas]
        out.append((x[i] - b) * np.mean(grads, axis=0))
    return np.stack(out)


def literal_noise_grads(model, x, targets, samples, noise, mode, seed) -> np.ndarray:
    """(N, samples, ...) gradients at x_i + sigma_i eps_k, noise drawn exactly as the spec says."""
    eps = np.random.default_rng(seed).standard_normal((samples, *x.shape[1:]), dtype=np.float32)
    out = []
    for i in range(len(x)):
        sigma = noise * (float(x[i].max()) - float(x[i].min())) if mode == "relative" else noise
        out.append([grad_at(model, x[i] + np.float32(sigma) * eps[k], targets[i]) for k in range(samples)])
    return np.array(out)


def linear_resize_half_pixel(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Literal 1-D linear interpolation with half-pixel centres along ``axis`` (edge-clamped)."""
    values = np.moveaxis(values, axis, 0)
    n_in = values.shape[0]
    out = np.empty((size, *values.shape[1:]), dtype=np.float64)
    for j in range(size):
        src = (j + 0.5) * n_in / size - 0.5
        lo = int(np.floor(src))
        frac = src - lo
        lo_c, hi_c = min(max(lo, 0), n_in - 1), min(max(lo + 1, 0), n_in - 1)
        out[j] = (1 - frac) * values[lo_c] + frac * values[hi_c]
    return np.moveaxis(out, 0, axis)


def literal_grad_cam(model, x, targets, layer_name) -> np.ndarray:
    """Activations and gradients from GradientTape; weights, ReLU, normalisation and resize in numpy.

    Resize: 2-D bilinear with half-pixel centres; 1-D linear with aligned end points (np.interp over
    linspace(0, n - 1, T), as the reference).
    """
    layer = model.get_layer(layer_name)
    features = keras.Model(model.inputs[0], [layer.output, model.outputs[0]])
    maps = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            act, logits = features(x[i : i + 1], training=False)
            logit = logits[0, int(targets[i])]
        grad = tape.gradient(logit, act).numpy()[0].astype(np.float64)
        act = act.numpy()[0].astype(np.float64)
        spatial = tuple(range(act.ndim - 1))
        weights = grad.mean(axis=spatial)
        cam = np.maximum((act * weights).sum(axis=-1), 0.0)
        if cam.max() > 0:
            cam = cam / cam.max()
        if cam.ndim == 1:
            cam = np.interp(np.linspace(0, len(cam) - 1, x.shape[1]), np.arange(len(cam)), cam)
        for axis in range(cam.ndim if cam.ndim > 1 else 0):
            cam = linear_resize_half_pixel(cam, x.shape[1 + axis], axis)
        maps.append(np.broadcast_to(cam[..., None], x.shape[1:]))
    return np.stack(maps)


def logit_model(model):
    from signxai_tf import remove_softmax

    return remove_softmax(model)


# -- integrated gradients --------------------------------------------------------------------------
@pytest.mark.parametrize("baseline_kind", ["zeros", "full", "one_sample", "one_sample_batch_axis"])
def test_integrated_gradients_matches_literal_quadrature(baseline_kind):
    model = cnn()
    x = inputs((3, 8, 10, 3), seed=1)
    targets = [0, 3, 4]
    b_full = inputs(x.shape, seed=9) * 0.3
    baseline = {"zeros": None, "full": b_full, "one_sample": b_full[0], "one_sample_batch_axis": b_full[:1]}[baseline_kind]
    b_literal = {"zeros": np.zeros_like(x), "full": b_full}.get(baseline_kind, np.broadcast_to(b_full[0], x.shape))
    got = explain(model, x, "integrated_gradients_steps_6", target=targets, baseline=baseline, batch_size=4)
    expected = literal_ig(model, x, targets, 6, b_literal)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_integrated_gradients_completeness():
    """sum(IG) ~ f_c(x) - f_c(baseline) on a smooth model with many steps."""
    model = smooth_mlp()
    x = inputs((4, 5), seed=2)
    baseline = inputs((5,), seed=3)
    logits_x = model(x).numpy()
    logits_b = model(np.broadcast_to(baseline, x.shape)).numpy()
    targets = np.argmax(logits_x, axis=1)
    ig = explain(model, x, "integrated_gradients", steps=2001, baseline=baseline, batch_size=1024)
    rows = np.arange(4)
    expected = logits_x[rows, targets] - logits_b[rows, targets]
    assert np.all(np.abs(expected) > 0.05)
    np.testing.assert_allclose(ig.reshape(4, -1).sum(axis=1), expected, rtol=2e-3, atol=1e-4)


def test_integrated_gradients_one_step_evaluates_the_input_end():
    """steps=1 (documented decision): alpha = 1, i.e. (x - baseline) * grad f_c(x)."""
    model = mlp()
    x = inputs((3, 6), seed=4)
    targets = [1, 2, 3]
    base = inputs((3, 6), seed=5)
    expected = np.stack([(x[i] - base[i]) * grad_at(model, x[i], targets[i]) for i in range(3)])
    np.testing.assert_allclose(explain(model, x, "integrated_gradients", target=targets, steps=1, baseline=base), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        explain(model, x, "integrated_gradients_steps_1", target=targets),
        explain(model, x, "gradient_x_input", target=targets), rtol=1e-6, atol=1e-8,
    )


def test_integrated_gradients_linear_model_hand_derived():
    """f linear: the gradient is constant, so IG = (x - b) * w exactly for any steps."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.layers[0].set_weights([np.array([[1.0, 0.5], [-2.0, 0.25], [3.0, -1.0]]), np.array([0.1, -0.2])])
    x = np.array([[0.0, -1.0, 2.0], [0.5, 0.4, -3.0]], dtype=np.float32)
    base = np.array([1.0, 1.0, -1.0], dtype=np.float32)
    np.testing.assert_allclose(
        explain(model, x, "integrated_gradients_steps_7", target=0, baseline=base), (x - base) * [1.0, -2.0, 3.0], rtol=1e-6
    )


# -- SmoothGrad / VarGrad --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_smoothgrad_and_vargrad_match_literal(mode):
    model = cnn()
    x = inputs((2, 8, 10, 3), seed=6) * 2.0
    targets = [1, 4]
    grads = literal_noise_grads(model, x, targets, samples=7, noise=0.3, mode=mode, seed=11)
    sg = explain(model, x, "smoothgrad_noise_0_3_samples_7", target=targets, seed=11, noise_mode=mode, batch_size=3)
    vg = explain(model, x, "vargrad_noise_0_3_samples_7", target=targets, seed=11, noise_mode=mode, batch_size=3)
    np.testing.assert_allclose(sg, grads.mean(axis=1), rtol=1e-4, atol=1e-6 * np.abs(grads).max())
    var = grads.var(axis=1)  # population variance
    np.testing.assert_allclose(vg, var, rtol=1e-3, atol=1e-6 * var.max())
    assert var.max() > 0


def test_noise_modes_differ_and_relative_scales_with_range():
    """Relative sigma = noise * (max - min): scaling x by 10 and noise by 1/10 in absolute mode is the same draw."""
    model = mlp()
    x = inputs((2, 6), seed=7)
    spans = x.max(axis=1) - x.min(axis=1)
    rel = explain(model, x[:1], "smoothgrad", target=2, samples=5, noise=0.2, seed=3)
    absolute = explain(model, x[:1], "smoothgrad", target=2, samples=5, noise=0.2 * spans[0], noise_mode="absolute", seed=3)
    np.testing.assert_allclose(rel, absolute, rtol=1e-5, atol=1e-7)
    other = explain(model, x[:1], "smoothgrad", target=2, samples=5, noise=0.2, noise_mode="absolute", seed=3)
    assert not np.allclose(rel, other)


def test_noise_is_the_shared_numpy_noise():
    """With noise the gradient is evaluated at x + sigma * standard_normal_noise(seed, ...)."""
    model = mlp()
    x = inputs((1, 6), seed=8)
    eps = standard_normal_noise(5, 3, (6,), channels_first=False)
    expected = np.mean([grad_at(model, x[0] + np.float32(0.5) * eps[k], 0) for k in range(3)], axis=0)
    got = explain(model, x, "smoothgrad", target=0, samples=3, noise=0.5, noise_mode="absolute", seed=5)
    np.testing.assert_allclose(got[0], expected, rtol=1e-5, atol=1e-7)


def test_seed_reproducible_and_unseeded_fresh():
    model = mlp()
    x = inputs((3, 6), seed=9)
    for name in ("smoothgrad", "vargrad"):
        a = explain(model, x, name, samples=4, seed=1)
        np.testing.assert_array_equal(a, explain(model, x, name, samples=4, seed=1))
        assert not np.allclose(a, explain(model, x, name, samples=4, seed=2))
        assert not np.allclose(explain(model, x, name, samples=4), explain(model, x, name, samples=4))


def test_zero_noise_gives_gradient_and_zero_variance():
    model = mlp()
    x = inputs((3, 6), seed=10)
    np.testing.assert_allclose(explain(model, x, "smoothgrad", noise=0.0, samples=3), explain(model, x, "gradient"), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(explain(model, x, "vargrad", noise=0.0, samples=3), 0.0, atol=1e-12)


def test_target_none_is_chosen_on_the_clean_input():
    model = mlp()
    x = inputs((6, 6), seed=11)
    argmax = np.argmax(model(x).numpy(), axis=1)
    assert len(set(argmax)) > 1
    for name, params in [("smoothgrad", {"seed": 0, "noise": 1.0}), ("vargrad", {"seed": 0, "noise": 1.0}), ("integrated_gradients", {})]:
        np.testing.assert_array_equal(explain(model, x, name, **params), explain(model, x, name, target=argmax, **params))


# -- multipliers, batches, chunks ------------------------------------------------------------------
@pytest.mark.parametrize("family", ["integrated_gradients", "smoothgrad", "vargrad"])
@pytest.mark.parametrize("suffix", ["x_input", "x_sign", "x_sign_mu_0_5"])
def test_multiplier_variants(family, suffix):
    model = mlp()
    x = inputs((4, 6), seed=12)
    x[0, 0] = 0.0  # sign(0) = +1
    x[1, 1] = 0.5  # sign_mu(0.5, 0.5) = +1
    params = {"steps": 5} if family == "integrated_gradients" else {"samples": 4, "seed": 0}
    plain = explain(model, x, family, target=1, **params)
    got = explain(model, x, f"{family}_{suffix}", target=1, **params)
    np.testing.assert_allclose(got, plain * SIGN[suffix](x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "name, params",
    [
        ("integrated_gradients_x_sign", {"steps": 5}),
        ("smoothgrad", {"samples": 5, "seed": 4}),
        ("vargrad_x_input", {"samples": 5, "seed": 4}),
        ("grad_cam", {}),
    ],
)
def test_batch_equals_single_samples(name, params):
    model = cnn()
    x = inputs((4, 8, 10, 3), seed=13)
    targets = [0, 1, 2, 3]
    batch = explain(model, x, name, target=targets, **params)
    singles = np.concatenate([explain(model, x[i : i + 1], name, target=targets[i], **params) for i in range(4)])
    np.testing.assert_allclose(batch, singles, rtol=1e-5, atol=1e-6 * max(np.abs(singles).max(), 1e-30))


@pytest.mark.parametrize(
    "name, params",
    [("integrated_gradients", {"steps": 9}), ("smoothgrad", {"samples": 8, "seed": 2}), ("vargrad", {"samples": 8, "seed": 2})],
)
def test_chunking_does_not_change_results(name, params):
    model = cnn()
    x = inputs((3, 8, 10, 3), seed=14)
    small = explain(model, x, name, target=[4, 2, 0], batch_size=3, **params)
    large = explain(model, x, name, target=[4, 2, 0], batch_size=50, **params)
    single = explain(model, x, name, target=[4, 2, 0], batch_size=1, **params)
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-6 * np.abs(large).max())
    np.testing.assert_allclose(single, large, rtol=1e-5, atol=1e-6 * np.abs(large).max())


def test_inputs_and_model_are_not_modified():
    model = cnn(softmax=True)
    weights = [w.copy() for w in model.get_weights()]
    x = inputs((2, 8, 10, 3), seed=15)
    base = inputs((8, 10, 3), seed=16)
    x_copy, base_copy = x.copy(), base.copy()
    explain(model, x, "integrated_gradients", steps=3, baseline=base)
    explain(model, x, "smoothgrad", samples=2, seed=0)
    explain(model, x, "grad_cam")
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(base, base_copy)
    for w, w0 in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, w0)
    assert model.get_layer("dense").activation is keras.activations.softmax


def test_softmax_model_is_explained_on_logits():
    x = inputs((2, 8, 10, 3), seed=17)
    with_softmax, plain = cnn(softmax=True), cnn()
    for name, params in [("integrated_gradients", {"steps": 4}), ("vargrad", {"samples": 3, "seed": 1}), ("grad_cam", {})]:
        np.testing.assert_allclose(
            explain(with_softmax, x, name, target=1, **params), explain(plain, x, name, target=1, **params), rtol=1e-5, atol=1e-8
        )


# -- Grad-CAM --------------------------------------------------------------------------------------
def test_half_pixel_resize_matches_tf_image_resize():
    """The literal numpy interpolation of the tests is the one tf.image.resize(bilinear) computes."""
    cam = np.random.default_rng(0).random((3, 5))
    for size in [(7, 11), (3, 5), (2, 2), (8, 1)]:
        literal = linear_resize_half_pixel(linear_resize_half_pixel(cam, size[0], 0), size[1], 1)
        got = tf.image.resize(cam[None, ..., None], size, method="bilinear", antialias=False).numpy()[0, ..., 0]
        np.testing.assert_allclose(got, literal, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("separate_relu", [False, True])
def test_grad_cam_matches_literal_on_the_activated_last_conv(separate_relu):
    model = cnn(separate_relu=separate_relu)
    x = inputs((3, 8, 10, 3), seed=18)
    targets = [0, 2, 4]
    default_layer = "relu_b" if separate_relu else "conv_b"
    expected = literal_grad_cam(model, x, targets, default_layer)
    got = explain(model, x, "grad_cam", target=targets)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.all(got >= 0) and np.all(got <= 1) and np.all(got.reshape(3, -1).max(axis=1) > 0.5)
    np.testing.assert_allclose(explain(model, x, "grad_cam", target=targets, layer=default_layer), got, rtol=1e-6, atol=1e-7)


def test_grad_cam_named_layer():
    """A named convolution is taken after the activation layer following it (as in signxai_captum); other layers as named."""
    model = cnn(separate_relu=True)
    x = inputs((2, 8, 10, 3), seed=19)
    for layer, used in (("conv_a", "conv_a"), ("conv_b", "relu_b"), ("relu_b", "relu_b"), ("pool", "pool")):
        np.testing.assert_allclose(
            explain(model, x, "grad_cam", target=[1, 3], layer=layer), literal_grad_cam(model, x, [1, 3], used), rtol=1e-5, atol=1e-6
        )
    literal = literal_grad_cam(model, x, [1, 3], "conv_b")
    got = grad_cam(model, tf.constant(x), [1, 3], layer="conv_b", through_activation=False).numpy()
    np.testing.assert_allclose(got, literal, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, literal_grad_cam(model, x, [1, 3], "relu_b"))


def test_grad_cam_follows_a_chain_of_activation_layers():
    keras.utils.set_random_seed(4)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, name="conv")(inp)
    h = keras.layers.LeakyReLU(negative_slope=0.2, name="leaky")(h)
    h = keras.layers.Activation("tanh", name="tanh")(h)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    x = inputs((2, 6, 6, 2), seed=23)
    np.testing.assert_allclose(explain(model, x, "grad_cam", target=[0, 2]), literal_grad_cam(model, x, [0, 2], "tanh"), rtol=1e-5, atol=1e-6)


def test_grad_cam_all_negative_map_stays_zero():
    """A CAM that ReLU zeroes everywhere is not divided by its max (0)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4, 1))
    h = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")(inp)
    out = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), dtype=np.float32)])
    model.layers[-1].set_weights([np.ones((16, 1), dtype=np.float32)])
    x = -np.ones((1, 4, 4, 1), dtype=np.float32)  # A = -1, dA = 1: alpha = 1, CAM = ReLU(-1) = 0
    np.testing.assert_array_equal(explain(model, x, "grad_cam", target=0), 0.0)
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)  # CAM = x, normalised: x / 15
    np.testing.assert_allclose(explain(model, x, "grad_cam", target=0), x / 15.0, rtol=1e-6)


def test_grad_cam_timeseries_matches_literal():
    model = cnn1d()
    x = inputs((3, 20, 2), seed=20)
    targets = [0, 1, 2]
    expected = literal_grad_cam(model, x, targets, "c2")
    got = explain(model, x, "grad_cam_timeseries", target=targets)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.all(got[..., 0] == got[..., 1]) and np.all(got.reshape(3, -1).max(axis=1) > 0.5)
    np.testing.assert_allclose(
        explain(model, x, "grad_cam_timeseries", target=targets, layer="c1"), literal_grad_cam(model, x, targets, "c1"), rtol=1e-5, atol=1e-6
    )


def test_grad_cam_function_for_other_methods():
    """grad_cam() (used by guided_grad_cam) takes a logit model and a tensor and gives explain's result."""
    model = cnn()
    x = inputs((2, 8, 10, 3), seed=21)
    got = grad_cam(model, tf.constant(x), [1, 2]).numpy()
    np.testing.assert_allclose(got, explain(model, x, "grad_cam", target=[1, 2]), rtol=1e-6)


# -- bad input -------------------------------------------------------------------------------------
def test_grad_cam_errors():
    model = cnn()
    x = inputs((1, 8, 10, 3))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        explain(model, x, "grad_cam", layer="nope")
    with pytest.raises(ValueError, match="feature map.*'dense'"):
        explain(model, x, "grad_cam", layer="dense")
    with pytest.raises(ValueError, match="feature map.*'flat'"):
        explain(model, x, "grad_cam", layer="flat")
    with pytest.raises(ValueError, match="'block5_conv3'"):
        explain(model, x, "grad_cam_VGG16ILSVRC")
    # grad_cam on a batch of time series is grad_cam_timeseries (as in signxai_captum)
    series = inputs((2, 20, 2))
    np.testing.assert_array_equal(explain(cnn1d(), series, "grad_cam"), explain(cnn1d(), series, "grad_cam_timeseries"))
    with pytest.raises(ValueError, match="grad_cam_timeseries explains time series"):
        explain(model, x, "grad_cam_timeseries")
    with pytest.raises(ValueError, match="no convolution layer"):
        explain(keras.Sequential([keras.Input((5, 2)), keras.layers.Flatten(), keras.layers.Dense(2)]), inputs((1, 5, 2)), "grad_cam_timeseries")


def test_grad_cam_nested_and_shared_layers_are_refused():
    inner = cnn()
    outer = keras.Sequential([keras.Input((8, 10, 3)), inner, keras.layers.Dense(2)])
    x = inputs((1, 8, 10, 3))
    with pytest.raises(ValueError, match="nest"):
        explain(outer, x, "grad_cam")
    with pytest.raises(ValueError, match="nested model 'cnn'"):
        explain(outer, x, "grad_cam", layer="conv_b")
    shared = keras.layers.Conv2D(3, 3, padding="same", name="shared")
    inp = keras.Input((6, 6, 3))
    out = keras.layers.Dense(2)(keras.layers.Flatten()(shared(shared(inp))))
    with pytest.raises(ValueError, match="'shared' is called 2 times"):
        explain(keras.Model(inp, out), inputs((1, 6, 6, 3)), "grad_cam")


def test_bad_baseline_and_parameters():
    model = mlp()
    x = inputs((3, 6))
    with pytest.raises(ValueError, match=r"baseline has shape \(5,\).*\(3, 6\)"):
        explain(model, x, "integrated_gradients", baseline=np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        explain(model, x, "integrated_gradients", baseline=np.full(6, np.nan))
    with pytest.raises(ValueError, match="steps"):
        explain(model, x, "integrated_gradients", steps=0)
    with pytest.raises(ValueError, match="noise_mode"):
        explain(model, x, "smoothgrad", noise_mode="gaussian")
    with pytest.raises(ValueError, match="batch_size"):
        explain(model, x, "vargrad", batch_size=0)


# -- VGG16 -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_grad_cam_vgg16_block5_conv3():
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG16(weights=None, input_shape=(64, 64, 3), classes=10)  # softmax head
    x = inputs((2, 64, 64, 3), seed=22) * 50.0
    got = explain(vgg, x, "grad_cam_VGG16ILSVRC", target=[3, 7])
    assert np.all(np.isfinite(got)) and got.shape == x.shape and np.all(got.reshape(2, -1).max(axis=1) > 0.5)
    expected = literal_grad_cam(logit_model(vgg), x, [3, 7], "block5_conv3")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # block5_conv3 is also the default (last convolution, fused ReLU)
    np.testing.assert_allclose(explain(vgg, x, "grad_cam", target=[3, 7]), got, rtol=1e-6, atol=1e-7)
