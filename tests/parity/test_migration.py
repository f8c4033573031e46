"""docs/migration.md, line by line: every call of the original signxai / signxai2 API against ours.

Each test runs the original spelling (``signxai_tf.compat`` / ``signxai_captum.compat``, old
keywords) and the new one (``explain`` with this project's names and keywords) and compares the
maps' values. Also: the old keywords' one-time ``DeprecationWarning``, the noise keywords' sigma,
``normalize_heatmap`` against hand-computed numbers, one sample without the batch axis in and out
in both packages, and old + new spelling of one parameter refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # torch before TensorFlow (tests/conftest.py)
from torch import nn  # noqa: E402

import shared_spec  # noqa: E402
import signxai_captum  # noqa: E402
from shared_spec import MethodParameterError  # noqa: E402
from shared_spec.legacy import _reset_warnings  # noqa: E402
from signxai_captum import compat as torch_compat  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
import signxai_tf  # noqa: E402
from signxai_tf import compat as tf_compat  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Every old keyword warns once per process: start each test with none warned yet."""
    _reset_warnings()
    yield
    _reset_warnings()


def close(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.abs(b).max()), 1e-12)
    assert float(np.abs(a - b).max()) <= tol * scale, float(np.abs(a - b).max())


def deprecations(record, word):
    return [w for w in record if issubclass(w.category, DeprecationWarning) and word in str(w.message)]


# -- models -----------------------------------------------------------------------------------
def torch_cnn(softmax: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)]
    return nn.Sequential(*layers, *([nn.Softmax(dim=1)] if softmax else [])).eval()


def torch_flatten_first() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4), nn.ReLU(), nn.Linear(4, 3)).eval()


def torch_conv1d() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 10, 3)).eval()


def torch_mlp() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()


class Square(nn.Module):
    """f_0(x) = sum x^2, f_1(x) = 0: the gradient 2 (x + e) shows the noise e itself."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = (x * x).flatten(1).sum(1)
        return torch.stack([total, 0 * total + self.dummy], dim=1)


def keras_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv_b"),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])


def keras_conv1d() -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        keras.Input((16, 2)),
        keras.layers.Conv1D(4, 3, activation="relu", name="conv1d"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(3),
    ])


def keras_square() -> keras.Model:
    """f_0(x) = sum x^2, f_1(x) = 0 (Keras)."""
    inp = keras.Input((4, 3))
    flat = keras.layers.Flatten()(keras.layers.Multiply()([inp, inp]))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inp, dense(flat))
    dense.set_weights([np.stack([np.ones(12), np.zeros(12)], axis=1).astype(np.float32)])
    return model


@pytest.fixture(scope="module")
def km():
    return keras_cnn()


def nchw(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, 8, 8)).astype(np.float32)


def nhwc(n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)


# == PyTorch: signxai2's calls ===================================================================
def test_torch_calculate_relevancemap_one_sample_and_batch():
    model, x = torch_cnn(), nchw()
    one = signxai_captum.calculate_relevancemap(model, x[0], "gradient_x_sign")
    assert one.shape == x[0].shape  # one sample in, one map out, without a batch axis
    close(one, signxai_captum.explain(model, x[:1], "gradient_x_sign")[0])
    batch = signxai_captum.calculate_relevancemap(model, torch.tensor(x), "gradient_x_sign")
    close(batch, signxai_captum.explain(model, x, "gradient_x_sign"))  # a batch stays a batch
    assert torch_compat.calculate_relevancemap is signxai_captum.calculate_relevancemap


def test_torch_old_method_names_and_default():
    model, x = torch_cnn(), nchw()
    reference = signxai_captum.explain(model, x, "gradient")
    close(signxai_captum.calculate_relevancemap(model, x), reference)  # method="gradients"
    close(signxai_captum.calculate_relevancemap(model, x, "gradients"), reference)
    close(signxai_captum.calculate_relevancemap(model, x, "vanilla_gradients"), reference)
    close(
        signxai_captum.calculate_relevancemap(model, x, "smooth_gradients", samples=3, seed=0),
        signxai_captum.explain(model, x, "smoothgrad", samples=3, seed=0),
    )


def test_torch_target_class_and_neuron_selection():
    model, x = torch_cnn(), nchw()
    reference = signxai_captum.explain(model, x, "gradient", target=3)
    close(signxai_captum.calculate_relevancemap(model, x, "gradient", target_class=3), reference)
    close(signxai_captum.calculate_relevancemap(model, x, "gradient", neuron_selection=3), reference)
    close(signxai_captum.calculate_relevancemap(model, x, "gradient", target_class=[3, 3]), reference)
    argmax = signxai_captum.explain(model, x, "gradient")
    close(signxai_captum.calculate_relevancemap(model, x, "gradient", neuron_selection="max_activation"), argmax)
    with pytest.raises(MethodParameterError, match="target_class.*neuron_selection"):
        signxai_captum.calculate_relevancemap(model, x, "gradient", target_class=1, neuron_selection=2)


def test_torch_calculate_relevancemaps():
    model, x = torch_cnn(), nchw(3)
    reference = signxai_captum.explain(model, x, "lrp_epsilon_0_1", target=2)
    close(signxai_captum.calculate_relevancemaps(model, list(x), "lrp_epsilon_0_1", target_class=2), reference)
    close(signxai_captum.calculate_relevancemaps(model, torch.tensor(x), "lrp_epsilon_0_1", target_class=2), reference)


def test_torch_argument_order_is_checked():
    with pytest.raises(TypeError, match="signxai_tf.calculate_relevancemap"):
        signxai_captum.calculate_relevancemap("gradient", nchw(), torch_cnn())


def test_torch_one_sample_is_told_by_the_first_layer_or_a_probe():
    for model, sample in [
        (torch_flatten_first(), nchw()[0]),  # Flatten first: the probe decides
        (torch_conv1d(), np.random.default_rng(0).normal(size=(2, 12)).astype(np.float32)),  # Conv1d: (C, T)
        (torch_mlp(), np.random.default_rng(0).normal(size=6).astype(np.float32)),  # Linear: (F,)
    ]:
        one = signxai_captum.calculate_relevancemap(model, sample, "gradient_x_input")
        assert one.shape == sample.shape
        close(one, signxai_captum.explain(model, sample[None], "gradient_x_input")[0])
        batch = np.stack([sample, 2 * sample])
        close(signxai_captum.calculate_relevancemap(model, batch, "gradient_x_input"),
              signxai_captum.explain(model, batch, "gradient_x_input"))
    flat = torch_flatten_first().train()
    signxai_captum.calculate_relevancemap(flat, nchw()[0], "gradient")
    assert flat.training  # the probe restores the training flags


def test_torch_converted_twin_equals_keras(km):
    from signxai_captum.convert import keras_to_torch, to_channels_first

    twin, x = keras_to_torch(km), nhwc()
    tf_map = signxai_tf.calculate_relevancemap("gradient_x_sign", x[0], km)
    torch_map = signxai_captum.calculate_relevancemap(twin, to_channels_first(x[:1])[0], "gradient_x_sign")
    close(torch_map, to_channels_first(tf_map[None])[0], tol=1e-4)


ANALYZERS = [
    # (id, analyzer factory, analyze kwargs, method name, explain params)
    ("GradientAnalyzer", lambda m: torch_compat.GradientAnalyzer(m), {}, "gradient", {}),
    ("GradientXInputAnalyzer", lambda m: torch_compat.GradientXInputAnalyzer(m), {}, "gradient_x_input", {}),
    ("GradientXSignAnalyzer", lambda m: torch_compat.GradientXSignAnalyzer(m, mu=0.2), {}, "gradient_x_sign_mu_0_2", {}),
    ("GradientXSignAnalyzer-mu", lambda m: torch_compat.GradientXSignAnalyzer(m), {"mu": -0.3}, "gradient_x_sign", {"mu": -0.3}),
    ("IntegratedGradientsAnalyzer", lambda m: torch_compat.IntegratedGradientsAnalyzer(m, 7), {}, "integrated_gradients_steps_7", {}),
    ("IntegratedGradientsAnalyzer-white", lambda m: torch_compat.IntegratedGradientsAnalyzer(m, 5, "white"), {},
     "integrated_gradients", {"steps": 5, "baseline": "ones"}),
    ("IntegratedGradientsAnalyzer-kw", lambda m: torch_compat.IntegratedGradientsAnalyzer(m), {"steps": 4, "reference_inputs": "ones"},
     "integrated_gradients", {"steps": 4, "baseline": "ones"}),
    ("SmoothGradAnalyzer", lambda m: torch_compat.SmoothGradAnalyzer(m, 0.1, 4), {"seed": 0}, "smoothgrad",
     {"noise": 0.1, "samples": 4, "seed": 0}),
    ("SmoothGradAnalyzer-kw", lambda m: torch_compat.SmoothGradAnalyzer(m), {"noise_level": 0.3, "num_samples": 3, "seed": 1},
     "smoothgrad", {"noise": 0.3, "samples": 3, "seed": 1}),
    ("SmoothGradAnalyzer-sign", lambda m: torch_compat.SmoothGradAnalyzer(m, 0.1, 3), {"apply_sign": True, "mu": 0.2, "seed": 0},
     "smoothgrad_x_sign", {"noise": 0.1, "samples": 3, "mu": 0.2, "seed": 0}),
    ("VarGradAnalyzer", lambda m: torch_compat.VarGradAnalyzer(m, 0.1, 4), {"seed": 0}, "vargrad", {"noise": 0.1, "samples": 4, "seed": 0}),
    ("GuidedBackpropAnalyzer", lambda m: torch_compat.GuidedBackpropAnalyzer(m), {}, "guided_backprop", {}),
    ("GuidedBackpropAnalyzer-input", lambda m: torch_compat.GuidedBackpropAnalyzer(m), {"multiply_by_input": True},
     "guided_backprop_x_input", {}),
    ("GradCAMAnalyzer", lambda m: torch_compat.GradCAMAnalyzer(m), {}, "grad_cam", {}),
    ("GradCAMAnalyzer-module", lambda m: torch_compat.GradCAMAnalyzer(m, m[0]), {}, "grad_cam", {"layer": "0"}),
    ("GradCAMAnalyzer-layer_name", lambda m: torch_compat.GradCAMAnalyzer(m), {"layer_name": "0"}, "grad_cam", {"layer": "0"}),
    ("DeepTaylorAnalyzer", lambda m: torch_compat.DeepTaylorAnalyzer(m), {}, "deep_taylor", {}),
    ("LRPAnalyzer", lambda m: torch_compat.LRPAnalyzer(m), {}, "lrp_epsilon_0_000001", {}),
    ("LRPAnalyzer-epsilon", lambda m: torch_compat.LRPAnalyzer(m, "epsilon", 0.1), {}, "lrp_epsilon_0_1", {}),
    ("LRPAnalyzer-zplus", lambda m: torch_compat.LRPAnalyzer(m, "zplus"), {}, "lrp_z_plus", {}),
    ("LRPAnalyzer-alphabeta", lambda m: torch_compat.LRPAnalyzer(m, "alphabeta", alpha=2.0, beta=1.0), {}, "lrp_alpha_2_beta_1", {}),
    ("LRPAnalyzer-stdx", lambda m: torch_compat.LRPAnalyzer(m, "stdxepsilon", stdfactor=0.25), {}, "lrp_epsilon_0_25_std_x", {}),
    ("LRPAnalyzer-gamma", lambda m: torch_compat.LRPAnalyzer(m, "gamma", gamma=0.5), {}, "lrp_gamma_0_5", {}),
    ("LRPAnalyzer-sign", lambda m: torch_compat.LRPAnalyzer(m, "epsilon", 0.1, input_layer_rule="SIGN"), {}, "lrpsign_epsilon_0_1", {}),
]


@pytest.mark.parametrize("factory,kwargs,method,params", [a[1:] for a in ANALYZERS], ids=[a[0] for a in ANALYZERS])
def test_torch_analyzers(factory, kwargs, method, params):
    model, x = torch_cnn(), nchw()

    def resolved(p, sample):
        return {k: (np.ones_like(sample) if v == "ones" else v) for k, v in p.items()}

    analyzer = factory(model)
    one = analyzer.analyze(x[0], **resolved(kwargs, x[0]))
    assert one.shape == x[0].shape
    close(one, signxai_captum.explain(model, x[:1], method, **resolved(params, x[0]))[0])
    batch = analyzer.analyze(torch.tensor(x), 1, **resolved(kwargs, x))
    close(batch, signxai_captum.explain(model, x, method, target=1, **resolved(params, x)))


def test_torch_analyzer_targets():
    model, x = torch_cnn(), nchw()
    analyzer = torch_compat.GradientAnalyzer(model)
    reference = signxai_captum.explain(model, x, "gradient", target=2)
    close(analyzer.analyze(x, target_class=2), reference)
    close(analyzer.analyze(x, neuron_selection=2), reference)
    close(analyzer.analyze(x, target_class="max_activation"), signxai_captum.explain(model, x, "gradient"))
    with pytest.raises(MethodParameterError, match="target_class.*neuron_selection"):
        analyzer.analyze(x, target_class=1, neuron_selection=2)


def test_torch_analyzer_refusals():
    model = torch_cnn()
    with pytest.raises(MethodParameterError, match="rule_name"):
        torch_compat.LRPAnalyzer(model, "no_such_rule")
    with pytest.raises(MethodParameterError, match="gaussian"):
        torch_compat.IntegratedGradientsAnalyzer(model, 5, "gaussian")
    with pytest.raises(MethodParameterError, match="resize must be True or False"):
        torch_compat.GradCAMAnalyzer(model).analyze(nchw(), resize="no")
    with pytest.raises(MethodParameterError, match="multiply_by_input and apply_sign"):
        torch_compat.GuidedBackpropAnalyzer(model).analyze(nchw(), multiply_by_input=True, apply_sign=True)
    with pytest.warns(UserWarning, match="stdev_spread"):
        torch_compat.SmoothGradAnalyzer(model, stdev_spread=0.15)


def test_no_softmax_wrapper():
    model, x = torch_cnn(softmax=True), torch.tensor(nchw())
    wrapped = torch_compat.NoSoftmaxWrapper(model)
    with torch.no_grad():
        assert torch.allclose(wrapped(x), model[:-1](x))
    close(signxai_captum.explain(wrapped, x, "gradient"), signxai_captum.explain(model, x, "gradient"))
    assert model.training is False and isinstance(model[-1], nn.Softmax)  # the model is untouched


# == TensorFlow: signxai's calls =================================================================
def test_tf_calculate_relevancemap_one_sample_and_batch(km):
    x = nhwc()
    one = signxai_tf.calculate_relevancemap("gradient_x_sign", x[0], km)
    assert one.shape == x[0].shape
    close(one, signxai_tf.explain(km, x[:1], "gradient_x_sign")[0])
    close(signxai_tf.calculate_relevancemap("gradient_x_sign", tf.constant(x), km), signxai_tf.explain(km, x, "gradient_x_sign"))
    close(signxai_tf.calculate_relevancemap("gradient", x, km, 3), signxai_tf.explain(km, x, "gradient", target=3))
    assert tf_compat.calculate_relevancemap is signxai_tf.calculate_relevancemap


def test_tf_calculate_relevancemaps(km):
    x = nhwc(3)
    reference = signxai_tf.explain(km, x, "lrpsign_epsilon_0_1", target=1)
    close(signxai_tf.calculate_relevancemaps("lrpsign_epsilon_0_1", list(x), km, neuron_selection=1), reference)
    close(signxai_tf.calculate_relevancemaps("lrpsign_epsilon_0_1", x, km, neuron_selection=1), reference)
    with pytest.raises(ValueError, match="samples along axis 0"):
        signxai_tf.calculate_relevancemaps("gradient", x[0], km)


def test_tf_shape_and_order_errors(km):
    x = nhwc()
    with pytest.raises(ValueError, match=r"one sample of shape \(8, 8, 3\)"):
        signxai_tf.calculate_relevancemap("gradient", x[0, 0], km)
    with pytest.raises(ValueError, match="batchmode=True"):
        tf_compat.gradient_x_sign_mu(km, x[0], 0.5, batchmode=True)
    with pytest.raises(TypeError, match="signxai_captum.calculate_relevancemap"):
        signxai_tf.calculate_relevancemap(km, x, "gradient")


TF_FUNCTIONS = [
    # (id, call of the original spelling, method, explain params)
    ("gradient", lambda m, x: tf_compat.gradient(m, x), "gradient", {}),
    ("gradient-neuron", lambda m, x: tf_compat.gradient(m, x, neuron_selection=2), "gradient", {"target": 2}),
    ("gradient_x_input", lambda m, x: tf_compat.gradient_x_input(m, x), "gradient_x_input", {}),
    ("gradient_x_sign", lambda m, x: tf_compat.gradient_x_sign(m, x), "gradient_x_sign", {}),
    ("gradient_x_sign_mu", lambda m, x: tf_compat.gradient_x_sign_mu(m, x, 0.5), "gradient_x_sign_mu_0_5", {}),
    ("integrated_gradients", lambda m, x: tf_compat.integrated_gradients(m, x, steps=6, reference_inputs=np.full_like(x, 0.1)),
     "integrated_gradients", {"steps": 6, "baseline": 0.1}),
    ("smoothgrad", lambda m, x: tf_compat.smoothgrad(m, x, augment_by_n=3, noise_scale=0.2, seed=0),
     "smoothgrad", {"samples": 3, "noise": 0.2, "noise_mode": "absolute", "seed": 0}),
    ("guided_backprop", lambda m, x: tf_compat.guided_backprop(m, x), "guided_backprop", {}),
    ("wrappers-name", lambda m, x: tf_compat.lrpsign_epsilon_0_1(m, x), "lrpsign_epsilon_0_1", {}),
    ("wrappers-input_layer_rule", lambda m, x: tf_compat.lrp_epsilon_0_1(m, x, input_layer_rule="Z"), "lrpz_epsilon_0_1", {}),
    ("grad_cam", lambda m, x: tf_compat.calculate_grad_cam_relevancemap(x, m, "conv", neuron_selection=2), "grad_cam",
     {"layer": "conv", "target": 2}),
]


@pytest.mark.parametrize("call,method,params", [f[1:] for f in TF_FUNCTIONS], ids=[f[0] for f in TF_FUNCTIONS])
def test_tf_function_api(km, call, method, params):
    x = nhwc()

    def resolved(sample):
        return {k: (np.full_like(sample, v) if k == "baseline" else v) for k, v in params.items()}

    one = call(km, x[0])
    assert one.shape == x[0].shape
    close(one, signxai_tf.explain(km, x[:1], method, **resolved(x[0]))[0])
    close(call(km, x), signxai_tf.explain(km, x, method, **resolved(x)))


def test_tf_grad_cam_timeseries_and_resize():
    model = keras_conv1d()
    x = np.random.default_rng(0).normal(size=(2, 16, 2)).astype(np.float32)
    close(tf_compat.calculate_grad_cam_relevancemap_timeseries(x, model, "conv1d", 1),
          signxai_tf.explain(model, x, "grad_cam_timeseries", layer="conv1d", target=1))
    one = tf_compat.calculate_grad_cam_relevancemap_timeseries(x[0], model)
    close(one, signxai_tf.explain(model, x[:1], "grad_cam_timeseries")[0])
    with pytest.raises(MethodParameterError, match="last_conv_layer_name.*layer"):
        tf_compat.calculate_grad_cam_relevancemap(x, model, "conv1d", layer="conv1d")


# -- Grad-CAM with resize=False: the CAM at the layer's resolution -------------------------------
def _literal_cam(model, layer, x, target):
    """ReLU(sum_k mean(dF_c/dA_k) A_k) / max per sample, with GradientTape on the layer's output."""
    sub = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        A, y = sub(xt)
        selected = tf.reduce_sum(y[:, target])
    g, A = tape.gradient(selected, A).numpy(), A.numpy()
    space = tuple(range(1, A.ndim - 1))
    cam = np.maximum((g.mean(axis=space, keepdims=True) * A).sum(-1), 0.0)
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape((-1,) + (1,) * (cam.ndim - 1))
    return cam / np.where(peak > 0, peak, 1.0)


def test_grad_cam_resize_false_is_the_layer_cam():
    """signxai's resize=False in both packages: (N, h, w) in TF, (N, 1, h, w) in PyTorch, one sample without N."""
    km = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.Conv2D(5, 3, activation="relu", name="c2"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])
    x = nhwc()
    expected = _literal_cam(km, "c2", x, 1)
    got = tf_compat.calculate_grad_cam_relevancemap(x, km, neuron_selection=1, resize=False)
    assert got.shape == (2, 4, 4)
    close(got, expected)
    close(tf_compat.calculate_grad_cam_relevancemap(x[1], km, "c1", 1, resize=False), _literal_cam(km, "c1", x[1:], 1)[0])
    # resize=True is the same CAM, bilinearly resized (TF's tf.image.resize), broadcast over channels
    resized = tf.image.resize(expected[..., None], (8, 8), method="bilinear").numpy()
    close(tf_compat.calculate_grad_cam_relevancemap(x, km, neuron_selection=1), np.broadcast_to(resized, x.shape), 1e-5)
    # the PyTorch twin: the same numbers with a channel axis
    twin = signxai_captum.convert.keras_to_torch(km)
    analyzer = torch_compat.GradCAMAnalyzer(twin)
    cam = analyzer.analyze(np.transpose(x, (0, 3, 1, 2)), target_class=1, resize=False)
    assert cam.shape == (2, 1, 4, 4)
    close(cam[:, 0], expected, 1e-5)
    assert analyzer.analyze(np.transpose(x[0], (2, 0, 1)), 1, resize=False).shape == (1, 4, 4)
    # time series: (N, n) at the convolution's length
    model, series = keras_conv1d(), np.random.default_rng(3).normal(size=(2, 16, 2)).astype(np.float32)
    cam1d = tf_compat.calculate_grad_cam_relevancemap_timeseries(series, model, neuron_selection=0, resize=False)
    close(cam1d, _literal_cam(model, "conv1d", series, 0))
    assert tf_compat.calculate_grad_cam_relevancemap_timeseries(series[0], model, resize=False).shape == (14,)


# -- neuron_selection="all": the sum of the maps of every output ---------------------------------
ALL_LINEAR = ["gradient", "gradient_x_sign", "integrated_gradients", "lrp_epsilon_0_1", "lrpsign_z", "deep_taylor"]


@pytest.mark.parametrize("method", ALL_LINEAR)
def test_neuron_selection_all_is_the_sum_over_outputs(km, method):
    x = nhwc()
    classes = 5
    expected = sum(signxai_tf.explain(km, x, method, target=c) for c in range(classes))
    close(tf_compat.calculate_relevancemap(method, x, km, neuron_selection="all"), expected)
    close(signxai_tf.explain(km, x, method, target="all"), expected)
    close(tf_compat.calculate_relevancemap(method, x[0], km, neuron_selection="all"), expected[0], 1e-5)
    twin = signxai_captum.convert.keras_to_torch(km)
    got = signxai_captum.calculate_relevancemap(twin, np.transpose(x, (0, 3, 1, 2)), method, neuron_selection="all")
    close(np.transpose(got, (0, 2, 3, 1)), expected, 1e-4)


def test_neuron_selection_all_gradient_is_the_gradient_of_the_sum(km):
    """Independent of explain: d(sum_c f_c)/dx by GradientTape (softmax removed) and by autograd."""
    x = nhwc()
    head = keras.layers.Dense(5)  # km's last layer without its softmax
    head.build((None, km.layers[-1].input.shape[-1]))
    head.set_weights(km.layers[-1].get_weights())
    body = keras.Model(km.inputs, km.layers[-1].input)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        total = tf.reduce_sum(head(body(xt)))
    close(signxai_tf.explain(km, x, "gradient", target="all"), tape.gradient(total, xt).numpy(), 1e-5)
    model = torch_cnn()
    xc = torch.tensor(nchw(), requires_grad=True)
    model(xc).sum().backward()
    close(signxai_captum.explain(model, xc.detach(), "gradient", target="all"), xc.grad.numpy(), 1e-5)


def test_neuron_selection_all_smoothgrad_uses_one_noise_for_every_output(km):
    x = nhwc()
    params = {"samples": 3, "noise": 0.2, "seed": 4}
    expected = sum(signxai_tf.explain(km, x, "smoothgrad", target=c, **params) for c in range(5))
    close(signxai_tf.explain(km, x, "smoothgrad", target="all", **params), expected)
    model = torch_cnn()
    expected = sum(signxai_captum.explain(model, nchw(), "smoothgrad", target=c, **params) for c in range(5))
    close(signxai_captum.explain(model, nchw(), "smoothgrad", target="all", **params), expected)


@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet", "vargrad", "grad_cam"])
def test_neuron_selection_all_refused_where_not_linear(km, method):
    with pytest.raises(MethodParameterError, match="not linear in the output's seed"):
        tf_compat.calculate_relevancemap(method, nhwc(), km, neuron_selection="all")
    with pytest.raises(MethodParameterError, match="not linear in the output's seed"):
        signxai_captum.calculate_relevancemap(torch_cnn(), nchw(), method, neuron_selection="all")


def test_tf_guided_backprop_on_guided_model(km):
    """The guided gradient of sum(layer output): a hand-written guided ReLU on the two convolutions."""
    x = nhwc()

    @tf.custom_gradient
    def guided_relu(z):
        def grad(dy):
            return tf.cast(dy > 0, dy.dtype) * tf.cast(z > 0, dy.dtype) * dy

        return tf.nn.relu(z), grad

    (k1, b1), (k2, b2) = km.get_layer("conv").get_weights(), km.get_layer("conv_b").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        h = guided_relu(tf.nn.conv2d(xt, k1, 1, "VALID") + b1)
        h = guided_relu(tf.nn.conv2d(h, k2, 1, "VALID") + b2)
        total = tf.reduce_sum(h)
    reference = tape.gradient(total, xt).numpy()
    close(tf_compat.guided_backprop_on_guided_model(km, x, "conv_b"), reference, tol=1e-5)
    one = tf_compat.guided_backprop_on_guided_model(km, x[0], "conv_b")  # one sample: no batch axis
    close(one, reference[0], tol=1e-5)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        tf_compat.guided_backprop_on_guided_model(km, x, "nope")


def test_tf_wrappers_module_names():
    assert callable(tf_compat.vargrad) and tf_compat.grad_cam_VGG16ILSVRC.__name__ == "grad_cam_VGG16ILSVRC"
    with pytest.raises(AttributeError, match="not a method name"):
        tf_compat.no_such_method  # noqa: B018


# == calculate_sign_mu ===========================================================================
def test_calculate_sign_mu_keeps_the_type():
    values = np.array([-1.0, 0.0, 0.25, 0.5, 2.0], np.float32)
    expected = np.array([-1, -1, -1, 1, 1], np.float32)
    for calculate in (signxai_captum.calculate_sign_mu, signxai_tf.calculate_sign_mu):
        result = calculate(values, 0.5)
        assert isinstance(result, np.ndarray) and result.dtype == np.float32
        np.testing.assert_array_equal(result, expected)
        np.testing.assert_array_equal(calculate(np.array([-2, 0, 3])), np.array([-1, 1, 1]))  # mu=0: sign(0) = +1
        np.testing.assert_array_equal(calculate(values, None), calculate(values, 0.0))
        np.testing.assert_array_equal(calculate(values, -1.5), np.ones(5, np.float32))  # no quirk below -1
        np.testing.assert_array_equal(calculate(values, -0.5), np.array([-1, 1, 1, 1, 1], np.float32))
    torch_result = signxai_captum.calculate_sign_mu(torch.tensor(values), 0.5)
    assert isinstance(torch_result, torch.Tensor)
    assert torch.equal(torch_result, signxai_captum.sign_mu(torch.tensor(values), 0.5))
    tf_result = signxai_tf.calculate_sign_mu(tf.constant(values), 0.5)
    assert isinstance(tf_result, tf.Tensor)
    np.testing.assert_array_equal(tf_result.numpy(), expected)
    with pytest.raises(TypeError, match="signxai_tf.calculate_sign_mu"):
        signxai_captum.calculate_sign_mu(tf.constant(values))
    with pytest.raises(TypeError, match="signxai_captum.calculate_sign_mu"):
        signxai_tf.calculate_sign_mu(torch.tensor(values))


# == normalize_heatmap ============================================================================
def test_normalize_heatmap_hand_computed():
    from shared_spec.heatmaps import normalize_heatmap

    assert signxai_captum.normalize_heatmap is normalize_heatmap is signxai_tf.normalize_heatmap
    h = np.array([[1.0, -2.0], [0.5, 0.0]])
    np.testing.assert_array_equal(normalize_heatmap(h), [[0.5, -1.0], [0.25, 0.0]])
    np.testing.assert_array_equal(h, [[1.0, -2.0], [0.5, 0.0]])  # not modified
    batch = np.array([[[4.0, -1.0]], [[0.0, 0.5]]], np.float32)
    whole = normalize_heatmap(batch)  # the original: one maximum for the whole array
    np.testing.assert_array_equal(whole, [[[1.0, -0.25]], [[0.0, 0.125]]])
    assert whole.dtype == np.float32
    np.testing.assert_array_equal(normalize_heatmap(batch, per_sample=True), [[[1.0, -0.25]], [[0.0, 1.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, not even a RuntimeWarning
        np.testing.assert_array_equal(normalize_heatmap(np.zeros((2, 3))), np.zeros((2, 3)))
        zero_sample = normalize_heatmap(np.array([[0.0, 0.0], [3.0, -6.0]]), per_sample=True)
        np.testing.assert_array_equal(zero_sample, [[0.0, 0.0], [0.5, -1.0]])
        np.testing.assert_array_equal(normalize_heatmap(np.array([1.0, np.nan, -4.0])), [0.25, 0.0, -1.0])
    np.testing.assert_array_equal(normalize_heatmap(np.full(3, -2.5)), [-1.0, -1.0, -1.0])
    ints = normalize_heatmap(np.array([2, -4]))
    assert ints.dtype == np.float64 and ints.tolist() == [0.5, -1.0]
    np.testing.assert_array_equal(normalize_heatmap(torch.tensor(h, requires_grad=True)), [[0.5, -1.0], [0.25, 0.0]])
    np.testing.assert_array_equal(normalize_heatmap(tf.constant(h)), [[0.5, -1.0], [0.25, 0.0]])
    with pytest.raises(ValueError, match="infinite"):
        normalize_heatmap(np.array([1.0, np.inf]))
    with pytest.raises(TypeError, match="numeric"):
        normalize_heatmap(np.array(["a"]))


# == old keywords in explain (both packages) ======================================================
def test_neuron_selection_in_explain_warns_once_naming_target(km):
    model, x = torch_cnn(), nchw()
    for package, m, batch in [(signxai_captum, model, x), (signxai_tf, km, nhwc())]:
        _reset_warnings()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            first = package.explain(m, batch, "gradient", neuron_selection=3)
            second = package.explain(m, batch, "gradient", neuron_selection=3)
        warned = deprecations(record, "neuron_selection")
        assert len(warned) == 1 and "target" in str(warned[0].message)
        assert warned[0].filename == __file__  # points at the caller's line
        reference = package.explain(m, batch, "gradient", target=3)
        close(first, reference)
        close(second, reference)
        close(package.explain(m, batch, "gradient", target_class=[1, 2]), package.explain(m, batch, "gradient", target=[1, 2]))


TORCH_KEYWORDS = [
    # (id, method, old keywords, new keywords)
    ("augment_by_n", "smoothgrad", {"augment_by_n": 3, "seed": 0}, {"samples": 3, "seed": 0}),
    ("num_samples", "vargrad", {"num_samples": 3, "seed": 0}, {"samples": 3, "seed": 0}),
    ("noise_scale", "smoothgrad", {"noise_scale": 0.3, "samples": 3, "seed": 0},
     {"noise": 0.3, "noise_mode": "absolute", "samples": 3, "seed": 0}),
    ("noise_level", "smoothgrad", {"noise_level": 0.3, "samples": 3, "seed": 0}, {"noise": 0.3, "samples": 3, "seed": 0}),
    ("reference_inputs", "integrated_gradients", {"reference_inputs": "half", "steps": 4}, {"baseline": "half", "steps": 4}),
    ("ig_steps", "integrated_gradients", {"ig_steps": 4}, {"steps": 4}),
    ("stdfactor", "lrp_epsilon_0_1_std_x", {"stdfactor": 0.25}, {"std_factor": 0.25}),
    ("layer_name", "grad_cam", {"layer_name": "0"}, {"layer": "0"}),
    ("last_conv_layer_name", "grad_cam", {"last_conv_layer_name": "0"}, {"layer": "0"}),
    ("target_layer", "grad_cam", {"target_layer": "0"}, {"layer": "0"}),
]
INPUT_LAYER_RULES = [
    ("SIGN", {}, "lrpsign_epsilon_0_1"),
    ("SIGNmu", {"mu": 0.5}, "lrpsign_epsilon_0_1_mu_0_5"),
    ("SIGNmu", {}, "lrpsign_epsilon_0_1_mu_0"),
    ("Z", {}, "lrpz_epsilon_0_1"),
    ("Bounded", {"low": -1.5, "high": 1.5}, "zblrp_epsilon_0_1"),
    ("WSquare", {}, "w2lrp_epsilon_0_1"),
    ("Flat", {}, "flatlrp_epsilon_0_1"),
]


@pytest.mark.parametrize("method,old,new", [k[1:] for k in TORCH_KEYWORDS], ids=[k[0] for k in TORCH_KEYWORDS])
def test_torch_old_keywords_are_the_new_ones(method, old, new):
    model, x = torch_cnn(), nchw()

    def resolved(p):
        return {k: (np.full_like(x, 0.5) if v == "half" else v) for k, v in p.items()}

    key = next(k for k in old if k in shared_spec.LEGACY_KEYWORDS)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = signxai_captum.explain(model, x, method, **resolved(old))
    assert len(deprecations(record, key)) == 1
    close(result, signxai_captum.explain(model, x, method, **resolved(new)))


@pytest.mark.parametrize("rule,extra,name", INPUT_LAYER_RULES, ids=[f"{r[0]}-{r[2]}" for r in INPUT_LAYER_RULES])
def test_input_layer_rule_is_the_prefix(rule, extra, name):
    model, x = torch_cnn(), nchw()
    close(signxai_captum.explain(model, x, "lrp_epsilon_0_1", input_layer_rule=rule, **extra),
          signxai_captum.explain(model, x, name, **({"low": -1.5, "high": 1.5} if rule == "Bounded" else {})))


def test_tf_old_keywords_are_the_new_ones(km):
    x = nhwc()
    for method, old, new in [
        ("smoothgrad", {"noise_scale": 0.3, "augment_by_n": 3, "seed": 0}, {"noise": 0.3, "noise_mode": "absolute", "samples": 3, "seed": 0}),
        ("vargrad", {"noise_level": 0.3, "num_samples": 3, "seed": 0}, {"noise": 0.3, "samples": 3, "seed": 0}),
        ("integrated_gradients", {"reference_inputs": np.full_like(x, 0.5), "ig_steps": 4}, {"baseline": np.full_like(x, 0.5), "steps": 4}),
        ("grad_cam", {"last_conv_layer_name": "conv"}, {"layer": "conv"}),
        ("lrp_epsilon_0_1", {"input_layer_rule": "SIGN"}, {}),
    ]:
        name = "lrpsign_epsilon_0_1" if "input_layer_rule" in old else method
        close(signxai_tf.explain(km, x, method, **old), signxai_tf.explain(km, x, name, **new))


def _sigma_from_vargrad(vargrad: np.ndarray, seed: int, samples: int, sample_shape, channels_first: bool) -> np.ndarray:
    """sigma per element from VarGrad of f = sum x^2 (gradient 2 (x + sigma z)): var = 4 sigma^2 var(z)."""
    z = shared_spec.standard_normal_noise(seed, samples, sample_shape, channels_first).astype(np.float64)
    return np.sqrt(vargrad / (4.0 * z.var(axis=0)))


def test_noise_keywords_give_the_originals_sigma():
    """noise_scale: sigma = noise_scale (signxai TF); noise_level: sigma = noise_level * (max - min) (signxai2)."""
    x = np.random.default_rng(5).uniform(-2, 3, (2, 3, 4)).astype(np.float32)
    spread = x.reshape(2, -1).max(1) - x.reshape(2, -1).min(1)
    for package, model, batch, channels_first in [
        (signxai_captum, Square(), x, True),
        (signxai_tf, keras_square(), np.moveaxis(x, 1, -1).copy(), False),
    ]:
        scale = package.explain(model, batch, "vargrad", target=0, noise_scale=0.3, samples=8, seed=4)
        sigma = _sigma_from_vargrad(scale, 4, 8, batch.shape[1:], channels_first)
        np.testing.assert_allclose(sigma, np.full(sigma.shape, 0.3), rtol=1e-3)
        level = package.explain(model, batch, "vargrad", target=0, noise_level=0.3, samples=8, seed=4)
        sigma = _sigma_from_vargrad(level, 4, 8, batch.shape[1:], channels_first)
        np.testing.assert_allclose(sigma, np.broadcast_to(0.3 * spread.reshape(2, 1, 1), sigma.shape), rtol=1e-3)


OLD_AND_NEW = [
    ("gradient", {"neuron_selection": 1, "target": 1}, "neuron_selection.*target"),
    ("gradient", {"neuron_selection": 1, "target_class": 1}, "neuron_selection.*target_class"),
    ("smoothgrad", {"noise_scale": 0.1, "noise": 0.1}, "noise_scale.*noise"),
    ("smoothgrad", {"noise_scale": 0.1, "noise_level": 0.1}, "noise_scale.*noise_level"),
    ("smoothgrad", {"augment_by_n": 3, "samples": 3}, "augment_by_n.*samples"),
    ("smoothgrad", {"noise_scale": 0.1, "noise_mode": "relative"}, "noise_scale.*noise_mode"),
    ("integrated_gradients", {"reference_inputs": 0.0, "baseline": 0.0}, "reference_inputs.*baseline"),
    ("integrated_gradients", {"ig_steps": 3, "steps": 3}, "ig_steps.*steps"),
    ("grad_cam", {"layer_name": "0", "layer": "0"}, "layer_name.*layer"),
    ("lrp_epsilon_0_1_std_x", {"stdfactor": 0.2, "std_factor": 0.2}, "stdfactor.*std_factor"),
    ("lrpz_epsilon_0_1", {"input_layer_rule": "SIGN"}, "prefix"),
    ("gradient", {"input_layer_rule": "SIGN"}, "LRP methods only"),
    ("lrp_epsilon_0_1", {"input_layer_rule": "ZPlus"}, "not an input rule"),
    ("gradient", {"neuron_selection": "every"}, "'every' is not supported"),
    ("lrpsign_epsilon_0_1_mu_0_5", {"input_layer_rule": "SIGN"}, "takes no mu"),
]


@pytest.mark.parametrize("method,params,match", OLD_AND_NEW, ids=[f"{m}-{'+'.join(p)}" for m, p, _ in OLD_AND_NEW])
def test_old_and_new_spelling_together_raise(method, params, match):
    params = dict(params)
    target = params.pop("target", None)
    with pytest.raises(MethodParameterError, match=match):
        signxai_captum.explain(torch_cnn(), nchw(), method, target, **params)
    with pytest.raises(MethodParameterError, match=match):
        shared_spec.translate_legacy(method, params, target)  # the same words in signxai_tf.explain


def test_tf_explain_refuses_old_and_new_together(km):
    with pytest.raises(MethodParameterError, match="noise_scale.*noise"):
        signxai_tf.explain(km, nhwc(), "smoothgrad", noise_scale=0.1, noise=0.1)


# == whole scripts, run with only their import lines changed =====================================
INNVESTIGATE_SCRIPT = """
{imports}
model = innvestigate.model_wo_softmax(model)
analyzer = innvestigate.create_analyzer("lrp.epsilon", model, epsilon=0.1)
a_eps = analyzer.analyze(x)
analyzer = innvestigate.create_analyzer("lrp.alpha_1_beta_0", model, neuron_selection_mode="index")
a_ab = analyzer.analyze(x, neuron_selection=3)
a_seq = innvestigate.create_analyzer("lrp.sequential_preset_a", model, epsilon=0.05).analyze(x)
"""

SIGNXAI_TF_SCRIPT = """
{imports}
model.layers[-1].activation = None  # signxai's README: remove the softmax
R1 = calculate_relevancemap("lrpz_epsilon_0_1_std_x", x[0], model)
R2 = calculate_relevancemap("lrpsign_epsilon_0_1_std_x", x[0], model, neuron_selection=2)
R3 = calculate_explanation_innvestigate(model, x[0], method="lrp.stdxepsilon", stdfactor=0.1, input_layer_rule="Z")
H = normalize_heatmap(R1.sum(axis=-1))
"""

SIGNXAI2_TORCH_SCRIPT = """
{imports}
model = NoSoftmaxWrapper(model)
R1 = calculate_relevancemap(model, x[0], method="gradient_x_sign", target_class=1)
R2 = LRPAnalyzer(model, rule_name="epsilon", epsilon=0.1).analyze(x)
R3 = calculate_relevancemaps(model, [x[0], x[1]], method="gradients")
"""


def test_scripts_run_with_only_their_imports_changed(km):
    x = nhwc()
    space = {"model": km, "x": x}
    exec(INNVESTIGATE_SCRIPT.format(imports="import signxai_tf.analyzer as innvestigate"), space)  # was: import innvestigate
    close(space["a_eps"], signxai_tf.explain(km, x, "lrp_epsilon_0_1"))
    close(space["a_ab"], signxai_tf.explain(km, x, "lrp_alpha_1_beta_0", target=3))
    close(space["a_seq"], signxai_tf.explain(km, x, "lrp_sequential_composite_a", epsilon=0.05))

    space = {"model": keras_cnn(), "x": x}  # a fresh copy: the script changes its last activation
    exec(SIGNXAI_TF_SCRIPT.format(imports=(  # was: from signxai.methods.wrappers / signxai.utils.utils import ...
        "from signxai_tf.compat import calculate_relevancemap, calculate_explanation_innvestigate, normalize_heatmap"
    )), space)
    close(space["R1"], signxai_tf.explain(km, x[:1], "lrpz_epsilon_0_1_std_x")[0])
    close(space["R2"], signxai_tf.explain(km, x[:1], "lrpsign_epsilon_0_1_std_x", target=2)[0])
    close(space["R3"], signxai_tf.explain(km, x[:1], "lrpz_epsilon_0_1_std_x")[0])
    summed = space["R1"].sum(axis=-1)
    close(space["H"], summed / np.abs(summed).max())

    model, xc = torch_cnn(softmax=True), nchw()
    space = {"model": model, "x": xc}
    exec(SIGNXAI2_TORCH_SCRIPT.format(imports=(  # was: from signxai.torch_signxai import ... / from signxai.torch_signxai.methods ...
        "from signxai_captum.compat import NoSoftmaxWrapper, calculate_relevancemap, calculate_relevancemaps, LRPAnalyzer"
    )), space)
    close(space["R1"], signxai_captum.explain(model, xc[:1], "gradient_x_sign", target=1)[0])
    close(space["R2"], signxai_captum.explain(model, xc, "lrp_epsilon_0_1"))
    close(space["R3"], signxai_captum.explain(model, xc, "gradient"))
