"""Framework-independent properties, written once and run in both packages.

Each property is a fact of docs/semantics.md that holds whatever the framework: the LRP identities
(LRP-Z = gradient x input on ReLU/max-pool nets, LRP-SIGN-Z = gradient x SIGN), conservation on a
zero-bias model, a batch explained as its samples one by one, ``target=None`` as the per-sample
argmax, and the user's model and arrays left as they were. One Keras definition of each model is
the TensorFlow model and, converted with ``keras_to_torch``, the PyTorch one; inputs are
channels-last here and transposed for PyTorch by the adapter.
"""

from __future__ import annotations

import functools
import warnings

import keras
import numpy as np
import pytest
import torch

import signxai_captum
import signxai_tf
import tensorflow as tf
from signxai_captum.convert import keras_to_torch, to_channels_first, to_channels_last

FRAMEWORKS = ["torch", "tf"]


def _bias(bias: bool):
    return keras.initializers.RandomNormal(stddev=0.3, seed=3) if bias else "zeros"


def relu_cnn(bias: bool = True) -> keras.Model:
    """Conv, max pooling, Flatten, Dense: ReLU and max pooling only (the identities hold exactly)."""
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=_bias(bias)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(6, 3, activation="relu", bias_initializer=_bias(bias)),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu", bias_initializer=_bias(bias)),
        keras.layers.Dense(5, bias_initializer=_bias(bias)),
    ])


def relu_conv1d(bias: bool = True) -> keras.Model:
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((12, 2)),
        keras.layers.Conv1D(4, 3, activation="relu", bias_initializer=_bias(bias)),
        keras.layers.MaxPooling1D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(3, bias_initializer=_bias(bias)),
    ])


def residual(bias: bool = True) -> keras.Model:
    """A residual sum, a concatenation and global average pooling."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=_bias(bias))(inp)
    r = keras.layers.Conv2D(4, 3, padding="same", bias_initializer=_bias(bias))(h)
    r = keras.layers.Activation("relu")(r)
    h = keras.layers.Add()([h, r])
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Concatenate()([h, r]))
    return keras.Model(inp, keras.layers.Dense(3, bias_initializer=_bias(bias))(h))


def batchnorm_cnn(bias: bool = True) -> keras.Model:
    """Conv, BatchNormalization with non-trivial statistics, ReLU, Dense."""
    keras.utils.set_random_seed(6)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(6, 3, bias_initializer=_bias(bias)),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=_bias(bias)),
    ])
    rng = np.random.default_rng(3)
    model.layers[1].set_weights([rng.normal(1.0, 0.3, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, 6)])
    return model


MODELS = {"relu_cnn": relu_cnn, "relu_conv1d": relu_conv1d, "residual": residual, "batchnorm_cnn": batchnorm_cnn}


@functools.lru_cache(maxsize=None)
def _keras(kind: str, bias: bool) -> keras.Model:
    return MODELS[kind](bias)


@functools.lru_cache(maxsize=None)
def _torch(kind: str, bias: bool) -> torch.nn.Module:
    return keras_to_torch(_keras(kind, bias))


def _inputs(kind: str, n: int = 3, seed: int = 0) -> np.ndarray:
    shape = _keras(kind, True).input_shape[1:]
    x = np.random.default_rng(seed).normal(size=(n,) + tuple(shape)).astype(np.float32)
    x.reshape(-1)[::7] = 0.0  # exact zeros: sign(0) = +1 and the 0/0 = 0 convention are exercised
    return x


class Framework:
    """One package behind one interface: models from the Keras definitions, channels-last arrays."""

    def __init__(self, name: str) -> None:
        self.name = name

    def model(self, kind: str, bias: bool = True):
        return _torch(kind, bias) if self.name == "torch" else _keras(kind, bias)

    def explain(self, model, x: np.ndarray, method: str, **kw) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if self.name == "torch":
                return to_channels_last(signxai_captum.explain(model, to_channels_first(x), method, **kw))
            return signxai_tf.explain(model, x, method, **kw)

    def logits(self, model, x: np.ndarray) -> np.ndarray:
        if self.name == "torch":
            with torch.no_grad():
                return model(torch.tensor(to_channels_first(x))).numpy()
        return model(x).numpy()

    def native(self, x: np.ndarray):
        """``x`` as the framework's own tensor (the layout the package expects)."""
        return torch.tensor(to_channels_first(x)) if self.name == "torch" else tf.constant(x)

    def native_values(self, t) -> np.ndarray:
        return to_channels_last(t.numpy()) if self.name == "torch" else t.numpy()

    def state(self, model) -> dict:
        """Everything an explanation could change in the model."""
        if self.name == "torch":
            return {
                "weights": {k: v.clone() for k, v in model.state_dict().items()},
                "training": [m.training for m in model.modules()],
                "requires_grad": [p.requires_grad for p in model.parameters()],
                "grads": [p.grad for p in model.parameters()],
                "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                             for m in model.modules()),
            }
        return {
            "weights": {str(i): w.copy() for i, w in enumerate(model.get_weights())},
            "configs": [layer.get_config() for layer in model.layers],
            "trainable": [layer.trainable for layer in model.layers],
        }


@pytest.fixture(params=FRAMEWORKS)
def fw(request) -> Framework:
    return Framework(request.param)


def _close(got, expected, rtol):
    scale = max(np.abs(expected).max(), 1e-12)
    np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * scale)


# ------------------------------------------------------------------------------ identities


@pytest.mark.parametrize("kind", ["relu_cnn", "relu_conv1d"])
@pytest.mark.parametrize(
    "lrp, gradient",
    [("lrp_z", "gradient_x_input"), ("lrpsign_z", "gradient_x_sign"), ("lrpsign_z_mu_0_5", "gradient_x_sign_mu_0_5")],
)
def test_lrp_z_identities_on_relu_max_pool_nets(fw, kind, lrp, gradient):
    """docs/semantics.md §4.3: on ReLU/max-pool nets LRP-Z is gradient x input (with biases too), and
    the SIGN input rule turns it into gradient x SIGN."""
    model, x = fw.model(kind), _inputs(kind)
    targets = [0, 2, 1]
    _close(fw.explain(model, x, lrp, target=targets), fw.explain(model, x, gradient, target=targets), 1e-5)


@pytest.mark.parametrize("kind", ["relu_cnn", "batchnorm_cnn"])
def test_gradient_x_input_is_gradient_times_input(fw, kind):
    model, x = fw.model(kind), _inputs(kind)
    _close(fw.explain(model, x, "gradient_x_input", target=1), fw.explain(model, x, "gradient", target=1) * x, 1e-6)


# ----------------------------------------------------------------------------- conservation


@pytest.mark.parametrize("name", ["lrp_z", "lrp_epsilon_0_000001", "lrpz_epsilon_0_000001", "lrp_alpha_1_beta_0"])
@pytest.mark.parametrize("kind", ["relu_cnn", "relu_conv1d", "residual"])
def test_conservation_with_zero_biases(fw, kind, name):
    """Without biases (and ε → 0), the relevance of a sample sums to its explained logit."""
    model, x = fw.model(kind, bias=False), _inputs(kind)
    logits = fw.logits(model, x)
    targets = logits.argmax(1)
    sums = fw.explain(model, x, name).reshape(len(x), -1).sum(1)
    np.testing.assert_allclose(sums, logits[np.arange(len(x)), targets], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------ batch = per sample

BATCH_NAMES = [
    "gradient_x_sign_mu_0_5", "lrp_epsilon_0_1_std_x", "lrpsign_epsilon_0_5_std_x_mu_0_5", "lrp_alpha_2_beta_1",
    "lrp_sequential_composite_b", "zblrp_z", "w2lrp_epsilon_0_1", "lrp_gamma", "lrp_z_plus",
]


@pytest.mark.parametrize("name", BATCH_NAMES)
@pytest.mark.parametrize("kind", ["residual", "batchnorm_cnn"])
def test_batch_equals_per_sample(fw, kind, name):
    """A sample's map does not depend on the rest of its batch (std_x uses each sample's own std)."""
    model, x = fw.model(kind), _inputs(kind, n=4)
    x[1] *= 10.0  # very different per-sample statistics
    targets = [0, 1, 2, 0]
    full = fw.explain(model, x, name, target=targets)
    alone = np.concatenate([fw.explain(model, x[i : i + 1], name, target=t) for i, t in enumerate(targets)])
    # float32 round-off through ill-conditioned denominators (γ: 1.1e-4 of the max on sample 1 in PyTorch, 0 in
    # float64; αβ with β > 0: 2e-5); mixing samples would be O(1)
    for i in range(len(x)):
        _close(full[i], alone[i], 1e-3)


def test_target_none_is_the_argmax_of_each_sample(fw):
    model, x = fw.model("relu_cnn"), _inputs("relu_cnn", n=8, seed=3)
    argmax = fw.logits(model, x).argmax(1)
    assert len(set(argmax)) > 1
    for name in ("gradient", "lrp_epsilon_0_1"):
        np.testing.assert_array_equal(fw.explain(model, x, name), fw.explain(model, x, name, target=argmax))


# ------------------------------------------------------------------------ nothing is changed


def _assert_same_state(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key in before:
        if key == "weights":
            assert before[key].keys() == after[key].keys()
            for name, value in before[key].items():
                np.testing.assert_array_equal(np.asarray(after[key][name]), np.asarray(value), err_msg=name)
        else:
            assert after[key] == before[key], key


@pytest.mark.parametrize(
    "name", ["gradient_x_input", "guided_backprop", "grad_cam", "lrpsign_sequential_composite_b",
             "zblrp_epsilon_0_1_VGG16ILSVRC", "smoothgrad", "integrated_gradients_steps_4"]
)
def test_model_and_inputs_are_unchanged(fw, name):
    """Weights, batch-norm statistics, flags and hooks as they were; numpy and native inputs unchanged."""
    model = fw.model("batchnorm_cnn")
    x = _inputs("batchnorm_cnn")
    x_copy, native = x.copy(), fw.native(x)
    params = {"seed": 0} if name == "smoothgrad" else {}
    if fw.name == "torch":  # a model in training mode with a frozen parameter: explained in eval mode, left as it was
        model.train()
        first = next(model.parameters())
        first.requires_grad_(False)
    try:
        before = fw.state(model)
        fw.explain(model, x, name, **params)
        if fw.name == "torch":
            signxai_captum.explain(model, native, name, **params)
            assert not native.requires_grad
        else:
            signxai_tf.explain(model, native, name, **params)
        _assert_same_state(before, fw.state(model))
    finally:
        if fw.name == "torch":
            model.eval()
            first.requires_grad_(True)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(fw.native_values(native), x_copy)


def activation_first(bias: bool = True) -> keras.Model:
    """An activation in front of the first kernel layer: no layer is an input layer (docs/semantics.md §4.3)."""
    keras.utils.set_random_seed(7)
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Activation("tanh"),
        keras.layers.Dense(4, activation="relu", bias_initializer=_bias(bias)),
        keras.layers.Dense(3, bias_initializer=_bias(bias)),
    ])


MODELS["activation_first"] = activation_first


def test_an_input_rule_that_applies_nowhere_warns_and_changes_nothing(fw):
    model, x = fw.model("activation_first"), _inputs("activation_first")
    with pytest.warns(UserWarning, match="input-layer rule .* was not applied"):
        signed = (signxai_captum if fw.name == "torch" else signxai_tf).explain(
            model, x if fw.name == "tf" else to_channels_first(x), "lrpsign_epsilon_0_1", target=1
        )
    np.testing.assert_array_equal(signed, fw.explain(model, x, "lrp_epsilon_0_1", target=1))


# ------------------------------------------------------------------------------ DeepTaylor


def deep_taylor_net(bias: bool = True) -> keras.Model:
    """Dense + ReLU (fused), Dense then a ReLU layer, average pooling in between, a last Dense without activation."""
    keras.utils.set_random_seed(8)
    inp = keras.Input((4, 4, 2))
    h = keras.layers.Conv2D(3, 2, activation="relu", bias_initializer=_bias(bias))(inp)   # ZPlus (fused ReLU)
    h = keras.layers.AveragePooling2D(3)(h)                                                  # gradient
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(4, bias_initializer=_bias(bias))(h)                               # ZPlus (ReLU layer next)
    h = keras.layers.ReLU()(h)                                                               # gradient
    return keras.Model(inp, keras.layers.Dense(3, bias_initializer=_bias(bias))(h))         # WSquare


MODELS["deep_taylor_net"] = deep_taylor_net


def _deep_taylor_chain(model: keras.Model, x: np.ndarray, target: int, bounded: tuple[float, float] | None) -> np.ndarray:
    """docs/semantics.md §4.4 written out with the literal rules of tests/lrp_reference.py (float64)."""
    from lrp_reference import layer_matrix, lrp_rule

    conv, pool, dense1, dense2 = (model.get_layer(index=i) for i in (1, 2, 4, 6))

    def matrix(layer, shape):
        zero = layer(np.zeros((1,) + shape, np.float32)).numpy().ravel()
        return layer_matrix(lambda e: layer(e[None].astype(np.float32)).numpy().ravel() - zero, shape), zero

    conv_linear = keras.layers.Conv2D(3, 2, use_bias=False)
    conv_linear.build((None, 4, 4, 2))
    conv_linear.set_weights([conv.get_weights()[0]])
    Wc, _ = matrix(conv_linear, (4, 4, 2))
    bc = np.tile(conv.get_weights()[1], 9)
    P, _ = matrix(pool, (3, 3, 3))
    W1, b1 = dense1.get_weights()[0].T, dense1.get_weights()[1]
    W2, b2 = dense2.get_weights()[0].T, dense2.get_weights()[1]
    a0 = x.ravel().astype(np.float64)
    zc = Wc @ a0 + bc
    ac = np.maximum(zc, 0)
    ap = P @ ac
    z1 = W1 @ ap + b1
    a1 = np.maximum(z1, 0)
    f = W2 @ a1 + b2
    R = np.zeros(3)
    R[target] = max(f[target], 0.0)
    R = lrp_rule("w_square", a1, W2, b2, R) * (z1 > 0)              # last Dense: WSquare; ReLU: the gradient
    R = lrp_rule("z_plus", ap, W1, b1, R)                            # Dense feeding a ReLU: ZPlus
    R = P.T @ R * (zc > 0)                                           # average pooling, fused ReLU: the gradient
    rule = ("bounded", {"low": bounded[0], "high": bounded[1]}) if bounded else ("z_plus", {})
    return lrp_rule(rule[0], a0, Wc, bc, R, **rule[1]).reshape(x.shape)


@pytest.mark.parametrize("name, bounded", [("deep_taylor", None), ("deep_taylor_bounded", (-1.0, 1.0))])
def test_deep_taylor_against_the_literal_chain(fw, name, bounded):
    model, x = fw.model("deep_taylor_net"), _inputs("deep_taylor_net", n=3, seed=5)
    targets = [0, 1, 2]
    got = fw.explain(model, x, name, target=targets)
    keras_model = _keras("deep_taylor_net", True)
    expected = np.stack([_deep_taylor_chain(keras_model, x[i], t, bounded) for i, t in enumerate(targets)])
    assert np.abs(expected).max() > 0
    _close(got, expected, 1e-5)


def test_deep_taylor_refuses_layers_without_a_rule(fw):
    """Non-ReLU activations have no DeepTaylor rule: one clear error naming the layer (both packages)."""
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh", name="tanh_dense"),
                              keras.layers.Dense(2)])
    native = model if fw.name == "tf" else keras_to_torch(model)
    with pytest.raises(NotImplementedError, match="(?i)deep.?taylor|tanh"):
        fw.explain(native, np.ones((1, 5), np.float32), "deep_taylor")


def test_deep_taylor_keeps_dropout_layers_of_every_kind():
    """Dropout layers are identities at inference in DeepTaylor too (a torch Dropout2d was refused once)."""
    import torch.nn as tnn

    torch.manual_seed(0)
    plain = tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(12, 2)).eval()
    # after the ReLU: a dropout between a kernel layer and its ReLU would end "feeds a ReLU directly"
    dropped = tnn.Sequential(plain[0], plain[1], tnn.Dropout2d(0.5), plain[2], tnn.Dropout(0.3), plain[3]).eval()
    x = torch.randn(2, 2, 4, 4)
    np.testing.assert_array_equal(signxai_captum.explain(dropped, x, "deep_taylor", target=1),
                                  signxai_captum.explain(plain, x, "deep_taylor", target=1))
