"""Tests for signxai_captum.convert (Keras 3 -> PyTorch conversion)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from torch import nn  # noqa: E402

from signxai_captum.convert import (  # noqa: E402
    SUPPORTED_LAYERS,
    ChannelsLastFlatten,
    KerasGraphModule,
    UnsupportedLayerError,
    keras_to_torch,
    to_channels_first,
    to_channels_last,
)

L = keras.layers
TOL = 1e-5


def _randomize(model: "keras.Model", seed: int = 0) -> None:
    """Give every weight (including biases and BN statistics) non-trivial values."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        name = w.path.split("/")[-1]
        if "moving_variance" in name:
            val = rng.uniform(0.5, 2.0, shape)
        elif "moving_mean" in name:
            val = rng.normal(0.0, 0.5, shape)
        elif name == "gamma":
            val = rng.uniform(0.5, 1.5, shape)
        elif len(shape) <= 1:  # biases, beta
            val = rng.normal(0.0, 0.3, shape)
        else:
            fan_in = int(np.prod(shape[:-1]))
            val = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
        w.assign(val.astype(np.float32))


def _compare(model: "keras.Model", x_keras: np.ndarray, tol: float = TOL) -> nn.Module:
    tm = keras_to_torch(model)
    expected = np.asarray(model(x_keras, training=False))
    with torch.no_grad():
        got = tm(torch.from_numpy(to_channels_first(x_keras))).numpy()
    got = to_channels_last(got)
    assert got.shape == expected.shape
    diff = float(np.max(np.abs(got - expected)))
    assert diff < tol, f"max abs diff {diff}"
    return tm


def _x(shape, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# --------------------------------------------------------------------------- #
# Architectures
# --------------------------------------------------------------------------- #
def test_mlp_fused_relu_softmax():
    model = keras.Sequential(
        [
            keras.Input((10,)),
            L.Dense(16, activation="relu"),
            L.Dropout(0.3),
            L.Dense(8, activation="tanh"),
            L.Dense(4, activation="softmax"),
        ]
    )
    _randomize(model)
    tm = _compare(model, _x((5, 10)))
    assert isinstance(tm, nn.Sequential)
    types = [type(m) for m in tm]
    assert types == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.Tanh, nn.Linear, nn.Softmax]
    assert not tm.training and all(not m.training for m in tm.modules())
    assert all(p.dtype == torch.float32 for p in tm.parameters())


def test_mlp_logits_without_softmax():
    model = keras.Sequential([keras.Input((6,)), L.Dense(5, activation="relu"), L.Dense(3)])
    _randomize(model, 3)
    _compare(model, _x((4, 6)))


@pytest.mark.parametrize("size", [13, 16])
def test_cnn2d_conv_pool_flatten_dense(size):
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            L.Conv2D(5, 3, padding="valid", activation="relu"),
            L.Conv2D(6, 4, padding="same", use_bias=False),  # even kernel -> asymmetric pad
            L.MaxPooling2D(2),
            L.AveragePooling2D(2, strides=1, padding="same"),  # asymmetric, excl. pad
            L.Flatten(),  # spatial size > 1: flatten order matters
            L.Dense(7, activation="relu"),
            L.Dense(3),
        ]
    )
    _randomize(model)
    tm = _compare(model, _x((2, size, size, 3)))
    kinds = {type(m) for m in tm.modules()}
    assert {nn.Conv2d, nn.ReLU, nn.MaxPool2d, ChannelsLastFlatten, nn.Linear} <= kinds
    assert isinstance(tm[-1], nn.Linear)


def test_cnn2d_dilation_and_strided_valid():
    model = keras.Sequential(
        [
            keras.Input((13, 10, 2)),
            L.Conv2D(3, (3, 2), dilation_rate=2, padding="same", activation="elu"),
            L.Conv2D(4, 3, strides=(2, 3), padding="valid", activation="sigmoid"),
            L.Conv2D(4, 2, strides=2, padding="same", activation="leaky_relu"),
            L.GlobalMaxPooling2D(),
            L.Dense(2),
        ]
    )
    _randomize(model, 5)
    _compare(model, _x((2, 13, 10, 2)))


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,k,s", [(7, 2, 2), (8, 3, 2), (9, 3, 1), (8, 2, 1)])
def test_pooling_2d(pool, padding, size, k, s):
    cls = L.MaxPooling2D if pool == "max" else L.AveragePooling2D
    model = keras.Sequential([keras.Input((size, size + 1, 2)), cls(k, strides=s, padding=padding)])
    _compare(model, _x((2, size, size + 1, 2)))


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,k,s", [(7, 2, 2), (10, 3, 2), (9, 4, 1)])
def test_pooling_1d(pool, padding, size, k, s):
    cls = L.MaxPooling1D if pool == "max" else L.AveragePooling1D
    model = keras.Sequential([keras.Input((size, 3)), cls(k, strides=s, padding=padding)])
    _compare(model, _x((2, size, 3)))


def test_dynamic_spatial_size_same_padding():
    model = keras.Sequential(
        [
            keras.Input((None, None, 2)),
            L.Conv2D(3, 3, strides=2, padding="same"),
            L.MaxPooling2D(3, strides=2, padding="same"),
            L.AveragePooling2D(2, strides=2, padding="same"),
            L.GlobalAveragePooling2D(),
        ]
    )
    _randomize(model)
    for h, w in [(9, 10), (12, 7)]:
        _compare(model, _x((2, h, w, 2)))


def test_cnn1d_time_series():
    model = keras.Sequential(
        [
            keras.Input((30, 3)),
            L.Conv1D(8, 5, padding="same", activation="relu"),
            L.MaxPooling1D(2),
            L.Conv1D(8, 3, strides=2, padding="same", activation="relu"),
            L.Conv1D(6, 3, padding="causal", dilation_rate=2),
            L.AveragePooling1D(2, padding="same"),
            L.Conv1D(6, 3, padding="valid", use_bias=False, activation="gelu"),
            L.GlobalAveragePooling1D(),
            L.Dense(4, activation="softmax"),
        ]
    )
    _randomize(model)
    tm = _compare(model, _x((3, 30, 3)))
    assert isinstance(tm[-1], nn.Softmax) and tm[-1].dim == 1
    assert any(isinstance(m, nn.Conv1d) for m in tm)


def test_batchnorm_cnn():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(4, 3, padding="same"),
            L.BatchNormalization(epsilon=1e-2),
            L.ReLU(),
            L.Conv2D(5, 3),
            L.BatchNormalization(center=False),
            L.Activation("relu"),
            L.BatchNormalization(scale=False),
            L.GlobalAveragePooling2D(),
            L.Dense(6),
            L.BatchNormalization(center=False, scale=False),
            L.Dense(3),
        ]
    )
    _randomize(model, 7)
    # the statistics really are non-trivial
    bn = model.layers[1]
    assert np.abs(np.asarray(bn.moving_mean)).max() > 0.05
    assert np.abs(np.asarray(bn.moving_variance) - 1).max() > 0.05
    tm = _compare(model, _x((4, 8, 8, 3)))
    bns = [m for m in tm if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert len(bns) == 4 and all(not m.training for m in bns)
    assert isinstance(bns[0], nn.BatchNorm2d) and bns[0].eps == pytest.approx(1e-2)
    assert isinstance(bns[-1], nn.BatchNorm1d)


def test_batchnorm_1d_time_series():
    model = keras.Sequential(
        [
            keras.Input((12, 4)),
            L.Conv1D(5, 3),
            L.BatchNormalization(),
            L.Activation("tanh"),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    _randomize(model, 8)
    _compare(model, _x((3, 12, 4)))


def test_functional_residual_add():
    inp = keras.Input((10, 10, 3), name="img")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inp)
    y = L.Conv2D(4, 3, padding="same", name="res.conv1")(x)
    y = L.BatchNormalization(name="res_bn")(y)
    y = L.ReLU(name="res_relu")(y)
    y = L.Conv2D(4, 3, padding="same", name="res_conv2")(y)
    x = L.Add(name="res_add")([x, y])
    x = L.Activation("relu", name="post_relu")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    out = L.Dense(3, name="logits")(x)
    model = keras.Model(inp, out)
    _randomize(model, 11)
    tm = _compare(model, _x((2, 10, 10, 3)))
    assert isinstance(tm, KerasGraphModule)
    keys = list(tm.layers.keys())
    assert keys[-1] == "logits"
    assert "res_conv1" in keys and "res_add" in keys  # sanitised names
    assert keys.index("stem") < keys.index("res_add") < keys.index("pool")
    assert type(tm.layers["res_add"]).__name__ == "Add"
    assert isinstance(tm.layers["stem"], nn.Sequential)  # conv + fused relu
    assert [type(m) for m in tm.layers["stem"]] == [nn.Conv2d, nn.ReLU]
    assert list(tm.children())[-1] is tm.layers
    assert list(tm.layers.children())[-1] is tm.layers["logits"]


def test_functional_branches_concat_merge():
    inp = keras.Input((16, 3))
    a = L.Conv1D(4, 3, padding="same", activation="relu", name="branch_a")(inp)
    b = L.Conv1D(4, 5, padding="same", activation="tanh", name="branch_b")(inp)
    c = L.Conv1D(4, 1, name="branch_c")(inp)
    m = L.Multiply(name="mul")([a, b])
    s = L.Subtract(name="sub")([a, c])
    mx = L.Maximum(name="max")([m, s])
    av = L.Average(name="avg")([m, s, c])
    cat = L.Concatenate(name="cat")([mx, av])
    cat = L.MaxPooling1D(2)(cat)
    g1 = L.GlobalAveragePooling1D()(cat)
    g2 = L.GlobalMaxPooling1D()(cat)
    h = L.Concatenate()([g1, g2])
    h = L.Dense(8, activation="relu")(h)
    out = L.Dense(3, activation="softmax", name="probs")(h)
    model = keras.Model(inp, out)
    _randomize(model, 13)
    tm = _compare(model, _x((4, 16, 3)))
    assert isinstance(tm, KerasGraphModule)
    assert list(tm.layers.keys())[-1] == "probs"
    assert isinstance(tm.layers["probs"][-1], nn.Softmax)


def test_shared_layer_in_functional():
    inp = keras.Input((6,))
    shared = L.Dense(6, activation="relu", name="shared")
    out = L.Dense(2, name="out")(L.Add()([shared(inp), shared(shared(inp))]))
    model = keras.Model(inp, out)
    _randomize(model, 2)
    tm = _compare(model, _x((3, 6)))
    assert list(tm.layers.keys()).count("shared") == 1


def test_nested_models():
    block = keras.Sequential(
        [keras.Input((8, 8, 2)), L.Conv2D(3, 3, padding="same", activation="relu"), L.MaxPooling2D()],
        name="block",
    )
    head_in = keras.Input((4, 4, 3))
    head = keras.Model(head_in, L.Dense(2)(L.Flatten()(head_in)), name="head")
    outer_seq = keras.Sequential([keras.Input((8, 8, 2)), block, head])
    _randomize(outer_seq, 4)
    tm = _compare(outer_seq, _x((2, 8, 8, 2)))
    assert isinstance(tm, nn.Sequential)
    assert isinstance(tm[0], nn.Conv2d)  # nested Sequential flattened
    assert isinstance(tm[-1], KerasGraphModule)

    inp = keras.Input((8, 8, 2))
    out = L.Dense(3)(L.Flatten()(block(inp)))
    outer_fn = keras.Model(inp, out)
    _randomize(outer_fn, 6)
    _compare(outer_fn, _x((2, 8, 8, 2)))


def test_misc_layers():
    model = keras.Sequential(
        [
            keras.Input((6, 5, 2)),
            L.Rescaling(0.5, offset=0.1),
            L.ZeroPadding2D(((1, 2), (0, 1))),
            L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
            L.SeparableConv2D(4, 3, padding="same", depth_multiplier=2),
            L.Cropping2D(((1, 0), (0, 1))),
            L.UpSampling2D((2, 1)),
            L.Conv2D(4, 3, groups=2, strides=2, padding="same"),
            L.Dense(3, activation="relu"),  # Dense on a rank-4 tensor
            L.Permute((2, 1, 3)),
            L.Reshape((-1, 3)),
            L.ZeroPadding1D(1),
            L.Cropping1D((0, 2)),
            L.UpSampling1D(2),
            L.SpatialDropout1D(0.2),
            L.LeakyReLU(0.1),
            L.Softmax(),
            L.Flatten(),
            L.ELU(alpha=0.5),
            L.ReLU(max_value=6.0),
            L.Identity(),
            L.GaussianNoise(0.5),
            L.Dense(3),
        ]
    )
    _randomize(model, 9)
    _compare(model, _x((2, 6, 5, 2)))


@pytest.mark.parametrize(
    "activation",
    ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "leaky_relu", "gelu",
     "silu", "softplus", "softsign", "relu6", "hard_sigmoid", "mish", "log_softmax"],
)
def test_fused_activations(activation):
    model = keras.Sequential([keras.Input((5,)), L.Dense(4, activation=activation)])
    _randomize(model, 1)
    _compare(model, 3 * _x((6, 5)))


def test_activation_layer_on_feature_maps_softmax_over_channels():
    model = keras.Sequential(
        [keras.Input((4, 4, 3)), L.Conv2D(5, 1), L.Activation("softmax"), L.Conv2D(2, 1)]
    )
    _randomize(model)
    _compare(model, _x((2, 4, 4, 3)))


# --------------------------------------------------------------------------- #
# Errors and helpers
# --------------------------------------------------------------------------- #
def test_unsupported_lstm_raises():
    model = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, name="my_lstm"), L.Dense(2)])
    with pytest.raises(UnsupportedLayerError) as info:
        keras_to_torch(model)
    msg = str(info.value)
    assert "my_lstm" in msg and "LSTM" in msg and "Conv2D" in msg
    # the project's one unsupported-layer error, shared with both LRP engines
    import shared_spec
    import signxai_tf

    assert isinstance(info.value, NotImplementedError) and isinstance(info.value, shared_spec.SignXAIError)
    assert UnsupportedLayerError is shared_spec.UnsupportedLayerError is signxai_tf.UnsupportedLayerError
    assert (info.value.layer, info.value.layer_type) == ("my_lstm", "LSTM")


def test_unsupported_lambda_raises():
    inp = keras.Input((4,))
    out = L.Lambda(lambda t: t * 2.0, name="times_two")(L.Dense(3)(inp))
    with pytest.raises(UnsupportedLayerError, match="times_two.*Lambda"):
        keras_to_torch(keras.Model(inp, out))


def test_unsupported_activation_raises():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, activation=lambda t: t * t, name="sq")])
    with pytest.raises(UnsupportedLayerError, match="sq"):
        keras_to_torch(model)


def test_multi_input_output_not_implemented():
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], L.Add()([L.Dense(2)(a), L.Dense(2)(b)]))
    with pytest.raises(NotImplementedError):
        keras_to_torch(model)
    inp = keras.Input((3,))
    model = keras.Model(inp, [L.Dense(2)(inp), L.Dense(1)(inp)])
    with pytest.raises(NotImplementedError):
        keras_to_torch(model)


def test_unbuilt_and_wrong_type():
    with pytest.raises(ValueError):
        keras_to_torch(keras.Sequential([L.Dense(2)]))
    with pytest.raises(TypeError):
        keras_to_torch(L.Dense(2))


def test_supported_layers_listed():
    for name in ["Dense", "Conv1D", "Conv2D", "MaxPooling2D", "AveragePooling1D", "Flatten",
                 "BatchNormalization", "Add", "GlobalAveragePooling2D", "Softmax", "InputLayer"]:
        assert name in SUPPORTED_LAYERS


@pytest.mark.parametrize("shape", [(2, 5), (2, 7, 3), (2, 4, 5, 3), (2, 3, 4, 5, 6)])
def test_channels_round_trip(shape):
    x = _x(shape)
    cf = to_channels_first(x)
    if len(shape) >= 3:
        assert cf.shape == (shape[0], shape[-1]) + shape[1:-1]
        assert np.array_equal(cf[:, 1], x[..., 1])
    else:
        assert cf.shape == shape
    assert np.array_equal(to_channels_last(cf), x)
    t = torch.from_numpy(x)
    tcf = to_channels_first(t)
    assert isinstance(tcf, torch.Tensor)
    assert np.array_equal(tcf.numpy(), cf)
    assert torch.equal(to_channels_last(tcf), t)


def test_keras_weights_unchanged():
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(3, 3, activation="relu")(inp)
    x = L.BatchNormalization()(x)
    out = L.Dense(2)(L.Flatten()(x))
    model = keras.Model(inp, out)
    _randomize(model, 21)
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    tm = keras_to_torch(model)
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(1.0)
    after = [keras.ops.convert_to_numpy(w) for w in model.weights]
    assert len(before) == len(after)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_gradients_flow():
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(2, 3, padding="same", strides=2), L.MaxPooling2D(2, padding="same"),
         L.Flatten(), L.Dense(2)]
    )
    _randomize(model)
    tm = keras_to_torch(model)
    x = torch.from_numpy(to_channels_first(_x((1, 8, 8, 1)))).requires_grad_(True)
    tm(x)[0, 1].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_import_does_not_load_tensorflow():
    code = (
        "import sys; import signxai_captum.convert; "
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------- #
# keras.applications layer kinds (issue 10): each converted and forward-equal on a tiny model
# --------------------------------------------------------------------------- #
from signxai_captum import _blocks as blocks  # noqa: E402
from signxai_captum.convert import SUPPORTED_OPERATIONS  # noqa: E402

ops = keras.ops


def _functional(build, shape):
    inp = keras.Input(shape[1:])
    model = keras.Model(inp, build(inp))
    _randomize(model, 4)
    return model


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_per_channel(invert):
    norm = L.Normalization(axis=-1, mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1e-20], invert=invert)
    model = keras.Sequential([keras.Input((5, 4, 3)), norm, L.Conv2D(2, 3)])
    _randomize(model, 2)
    tm = _compare(model, _x((2, 5, 4, 3)))
    assert isinstance(tm[0], blocks.Normalization) and tm[0].lrp_rule == "pass"
    assert tm[0].mean.shape == (1, 3, 1, 1)
    # variance 1e-20: Keras divides by max(sqrt(variance), epsilon), so must the conversion
    assert float(tm[0].denominator.flatten()[2]) == pytest.approx(keras.config.epsilon())


def test_normalization_adapted_weights():
    model = keras.Sequential([keras.Input((6, 2)), L.Normalization(), L.Conv1D(3, 2)])
    model.layers[0].adapt(_x((8, 6, 2)) * np.array([3.0, 0.5], dtype=np.float32) + 1)
    model.layers[1].set_weights([_x((2, 2, 3), 3), _x((3,), 4)])
    tm = _compare(model, _x((2, 6, 2)))
    assert tm[0].mean.shape == (1, 2, 1) and float(tm[0].mean.abs().min()) > 0.1


@pytest.mark.parametrize("scale,center", [(True, True), (False, True), (True, False)])
def test_layer_normalization_channels_first(scale, center):
    model = keras.Sequential([
        keras.Input((5, 4, 6)),
        L.LayerNormalization(epsilon=1e-6, scale=scale, center=center),
        L.Conv2D(3, 2),
        L.GlobalAveragePooling2D(),
        L.LayerNormalization(scale=scale, center=center),
        L.Dense(2),
    ])
    _randomize(model, 5)
    tm = _compare(model, 3 * _x((2, 5, 4, 6)) + 1)
    assert isinstance(tm[0], blocks.ChannelsFirstLayerNorm) and tm[0].lrp_rule == "pass"
    assert isinstance(tm[4], nn.LayerNorm if scale else blocks.ChannelsFirstLayerNorm)


def test_layer_normalization_other_axis_refused():
    model = keras.Sequential([keras.Input((5, 4, 6)), L.LayerNormalization(axis=1, name="ln_h")])
    with pytest.raises(NotImplementedError, match="ln_h"):
        keras_to_torch(model)


def test_convnext_layer_scale_and_stochastic_depth():
    from keras.src.applications.convnext import LayerScale, StochasticDepth

    def build(inp):
        h = L.DepthwiseConv2D(3, padding="same")(inp)
        h = L.LayerNormalization(epsilon=1e-6)(h)
        h = L.Dense(8, activation="gelu")(h)  # pointwise Dense on a 4-D tensor
        h = L.Dense(4)(h)
        h = LayerScale(1e-6, 4)(h)
        h = StochasticDepth(0.3)(h)
        return L.Add()([inp, h])

    model = _functional(build, (2, 6, 6, 4))
    tm = _compare(model, _x((2, 6, 6, 4)))
    kinds = {type(m) for m in tm.layers.values()}
    assert {blocks.LayerScale, blocks.ChannelsFirstLinear, nn.Identity, blocks.Add} <= kinds
    assert blocks.LayerScale.lrp_rule == "pass"


@pytest.mark.parametrize("activation, torch_type", [
    ("swish", nn.SiLU), ("silu", nn.SiLU), ("hard_swish", nn.Hardswish), ("hard_silu", nn.Hardswish),
    ("hard_sigmoid", nn.Hardsigmoid), ("gelu", nn.GELU), ("relu6", nn.ReLU6), ("sigmoid", nn.Sigmoid),
])
def test_activation_layers_are_torch_modules(activation, torch_type):
    model = keras.Sequential([keras.Input((4, 4, 2)), L.Conv2D(3, 1), L.Activation(activation)])
    _randomize(model, 6)
    tm = _compare(model, 4 * _x((2, 4, 4, 2)))
    assert type(tm[-1]) is torch_type


def test_relu_max_value_six_and_clipped():
    model = keras.Sequential([keras.Input((6,)), L.Dense(5), L.ReLU(6.0), L.Dense(4), L.ReLU(max_value=2.5)])
    _randomize(model, 7)
    tm = _compare(model, 5 * _x((3, 6)))
    assert type(tm[1]) is nn.ReLU6 and type(tm[3]) is nn.Hardtanh


def test_depthwise_and_separable_as_kernel_layers():
    model = keras.Sequential([
        keras.Input((7, 7, 3)),
        L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
        L.SeparableConv2D(5, 3, padding="same", activation="relu"),
    ])
    _randomize(model, 8)
    tm = _compare(model, _x((2, 7, 7, 3)))
    depthwise = [m for m in tm.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert [m.groups for m in depthwise] == [3, 6]
    # the Sequential model is flat: ..., depthwise (no bias), pointwise 1x1 (with the bias), ReLU
    assert [type(m) for m in tm[-3:]] == [nn.Conv2d, nn.Conv2d, nn.ReLU]
    assert tm[-3].bias is None and tm[-3].groups == 6
    assert tm[-2].kernel_size == (1, 1) and tm[-2].groups == 1 and tm[-2].bias is not None
    # in a functional graph the two kernel layers are one nn.Sequential entry named after the layer
    inp = keras.Input((7, 7, 3))
    model = keras.Model(inp, L.SeparableConv2D(5, 3, strides=2, padding="same", name="sep")(inp))
    _randomize(model, 8)
    tm = _compare(model, _x((2, 7, 7, 3)))
    convs = [m for m in tm.layers["sep"] if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and convs[0].groups == 3 and convs[0].bias is None and convs[1].bias is not None


def test_global_average_pooling_keepdims_padding_cropping():
    model = keras.Sequential([
        keras.Input((6, 5, 3)),
        L.ZeroPadding2D(((1, 0), (2, 1))),
        L.Cropping2D(((0, 2), (1, 1))),
        L.Conv2D(4, 2),
        L.GlobalAveragePooling2D(keepdims=True),
        L.Conv2D(2, 1),
        L.Flatten(),
    ])
    _randomize(model, 9)
    tm = _compare(model, _x((2, 6, 5, 3)))
    assert any(isinstance(m, nn.AdaptiveAvgPool2d) for m in tm)


def test_constant_arithmetic_operation_nodes():
    offsets = np.array([0.5, -1.0, 2.0], dtype=np.float32)

    def build(inp):
        h = L.Conv2D(3, 1)(inp)
        h = h + 3.0
        h = h * (1.0 / 6.0)
        h = 2.0 - h
        h = h / 4.0
        h = h - 0.25
        h = h + offsets  # a per-channel constant array
        h = -h
        return L.Conv2D(2, 1)(h)

    model = _functional(build, (2, 4, 5, 2))
    tm = _compare(model, _x((2, 4, 5, 2)))
    constant_ops = [m for m in tm.layers.values() if isinstance(m, blocks.ConstantOp)]
    assert [m.op for m in constant_ops] == ["add", "multiply", "subtract", "divide", "subtract", "add", "multiply"]
    assert constant_ops[2].constant_first and not constant_ops[0].constant_first
    assert constant_ops[5].constant.shape == (1, 3, 1, 1)
    assert all(m.lrp_rule == "pass" for m in constant_ops)


def test_tensor_operation_nodes_mean_sum_activations():
    def build(inp):
        a = L.Conv2D(4, 1)(inp)
        b = L.Conv2D(4, 1)(inp)
        h = ops.relu6(a + b)
        g = ops.sigmoid(ops.mean(h, axis=(1, 2), keepdims=True))
        h = h * g  # tensor * gate (broadcast)
        h = ops.silu(h - ops.hard_sigmoid(b))
        s = ops.sum(h, axis=-1, keepdims=True)  # over the channel axis
        m = ops.mean(h + s, axis=(1, 2))  # -> (N, C)
        return L.Dense(3)(ops.gelu(m, approximate=False) + ops.tanh(m))

    model = _functional(build, (2, 5, 4, 3))
    tm = _compare(model, _x((2, 5, 4, 3)))
    kinds = [type(m) for m in tm.layers.values()]
    assert kinds.count(blocks.Mean) == 3 and blocks.Multiply in kinds and blocks.Add in kinds
    assert blocks.Subtract in kinds and nn.ReLU6 in kinds and nn.Hardsigmoid in kinds
    assert blocks.Mean.lrp_rule == "z"
    multiply = next(m for m in tm.layers.values() if isinstance(m, blocks.Multiply))
    assert multiply.gate_inputs == (1,)
    assert {"Add", "Multiply", "Mean", "Sigmoid", "HardSigmoid"} <= set(SUPPORTED_OPERATIONS)


def test_mean_over_channels_without_keepdims_keeps_layout():
    model = _functional(lambda inp: L.Flatten()(ops.mean(L.Conv2D(4, 1)(inp), axis=-1)), (2, 3, 5, 2))
    _compare(model, _x((2, 3, 5, 2)))


def _gates(model):
    tm = keras_to_torch(model)
    return [m.gate_inputs for m in tm.layers.values() if isinstance(m, blocks.Multiply)]


def test_gate_inputs_found_in_the_keras_graph():
    def squeeze_excite(inp):
        h = L.Conv2D(4, 1)(inp)
        s = L.GlobalAveragePooling2D()(h)
        s = L.Reshape((1, 1, 4))(s)
        s = L.Conv2D(4, 1, activation="sigmoid")(s)  # fused sigmoid, behind a reshape
        return L.Multiply()([h, s])

    def hard_sigmoid_written_out(inp):
        h = L.Conv2D(4, 1)(inp)
        g = L.ReLU(6.0)(L.Conv2D(4, 1)(inp) + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard_sigmoid
        return L.Multiply()([g, h])

    def swish_written_out(inp):
        h = L.Conv2D(4, 1)(inp)
        return h * L.Activation("sigmoid")(h)

    def two_gates(inp):
        return L.Multiply()([L.Activation("hard_sigmoid")(inp), ops.sigmoid(inp)])

    def no_gate(inp):
        h = L.Conv2D(3, 1)(inp)
        return L.Multiply()([h, L.ReLU(6.0)(inp)])  # a ReLU6 without the 1/6 is no gate

    shape = (2, 4, 4, 3)
    assert _gates(_functional(squeeze_excite, shape)) == [(1,)]
    assert _gates(_functional(hard_sigmoid_written_out, shape)) == [(0,)]
    assert _gates(_functional(swish_written_out, shape)) == [(1,)]
    assert _gates(_functional(two_gates, shape)) == [(1,)]  # both gates: the first gets the relevance
    assert _gates(_functional(no_gate, shape)) == [()]
    for build in (squeeze_excite, hard_sigmoid_written_out, swish_written_out, two_gates, no_gate):
        _compare(_functional(build, shape), _x(shape))


def test_unsupported_operations_raise_clearly():
    for build, match in [
        (lambda inp: 2.0 / L.Dense(3)(inp), "constant divided by a tensor"),
        (lambda inp: L.Dense(3)(inp) / L.Dense(3)(inp), "division of two tensors"),
        (lambda inp: ops.exp(L.Dense(3)(inp)), "Exp"),
    ]:
        with pytest.raises(UnsupportedLayerError, match=match):
            keras_to_torch(_functional(build, (2, 4)))


def test_every_block_declares_its_lrp_rule():
    assert blocks.LRP_RULES == ("pass", "route", "z", "sum", "gate")
    without = {"KerasGraphModule", "ChannelsFirstLinear"}  # a container and a kernel layer
    for name in blocks.__all__:
        obj = getattr(blocks, name)
        if isinstance(obj, type) and issubclass(obj, nn.Module) and name not in without:
            assert getattr(obj, "lrp_rule", None) in blocks.LRP_RULES, name
    assert blocks.Multiply.lrp_rule == "gate" and blocks.Add.lrp_rule == "sum"
    assert blocks.SameAvgPool.lrp_rule == "z" and blocks.Concatenate.lrp_rule == "route"


# --------------------------------------------------------------------------- #
# keras.applications: forward equality (random weights, smallest inputs)
# --------------------------------------------------------------------------- #
def _application(name: str, size: int):
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts",
                        "convert_applications.py")
    spec = importlib.util.spec_from_file_location("convert_applications", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None
    )
    module.randomize_weights(model)
    return model


@pytest.mark.parametrize("name, size", [
    ("MobileNetV2", 32),
    ("MobileNetV3Small", 32),
    ("EfficientNetB0", 32),
    ("EfficientNetV2B0", 32),
    pytest.param("NASNetMobile", 32, marks=pytest.mark.slow),
    pytest.param("ConvNeXtTiny", 32, marks=pytest.mark.slow),
])
def test_keras_applications_forward_equal(name, size):
    model = _application(name, size)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (2, size, size, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    tm = keras_to_torch(model)
    with torch.no_grad():
        got = tm(torch.from_numpy(to_channels_first(x))).numpy()
    assert np.abs(got - expected).max() <= 1e-5 * max(np.abs(expected).max(), 1.0)
