"""The Keras architectures of the parity suite; each is converted with ``keras_to_torch``.

Random weights with non-zero biases (and non-trivial batch-norm statistics), so that every rule's
bias handling is exercised. Builders are deterministic given ``keras.utils.set_random_seed``.
"""

from __future__ import annotations

import keras
import numpy as np

BIAS = keras.initializers.RandomNormal(stddev=0.3, seed=7)


def mlp() -> keras.Model:
    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(16, activation="relu", bias_initializer=BIAS),
        keras.layers.Dense(12, activation="relu", bias_initializer=BIAS),
        keras.layers.Dense(4, activation="softmax", bias_initializer=BIAS),
    ])


def cnn2d_pooling() -> keras.Model:
    """Conv (same/valid), max and average pooling, Flatten (channels-last order), Dense."""
    return keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(6, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, padding="valid", activation="relu", bias_initializer=BIAS),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


def cnn2d_functional() -> keras.Model:
    """Functional model with separate ReLU layers, global average pooling and a Softmax layer."""
    inp = keras.Input((9, 9, 3))
    h = keras.layers.Conv2D(5, 3, padding="same", bias_initializer=BIAS)(inp)
    h = keras.layers.ReLU()(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(6, 3, padding="same", bias_initializer=BIAS)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, bias_initializer=BIAS)(h)
    return keras.Model(inp, keras.layers.Softmax()(out))


def cnn1d() -> keras.Model:
    """A 1-D CNN for time series (time, channels)."""
    return keras.Sequential([
        keras.Input((24, 3)),
        keras.layers.Conv1D(8, 5, activation="relu", bias_initializer=BIAS),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(8, 3, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


def batchnorm_cnn() -> keras.Model:
    """Conv → BatchNormalization (non-trivial moving statistics, gamma, beta) → ReLU."""
    model = keras.Sequential([
        keras.Input((10, 10, 3)),
        keras.layers.Conv2D(6, 3, bias_initializer=BIAS),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])
    rng = np.random.default_rng(3)
    gamma, beta = rng.normal(1.0, 0.5, size=6), rng.normal(size=6)
    mean, var = rng.normal(size=6), rng.uniform(0.5, 2.0, size=6)
    model.layers[1].set_weights([gamma, beta, mean, var])
    return model


def residual() -> keras.Model:
    """A small residual network: two convolutions merged by Add."""
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=BIAS)(inp)
    r = keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=BIAS)(h)
    r = keras.layers.Conv2D(4, 3, padding="same", bias_initializer=BIAS)(r)
    h = keras.layers.Add()([h, r])
    h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(4, bias_initializer=BIAS)(h)
    return keras.Model(inp, out)


# name -> (builder, input batch shape); every batch has 3 samples with different targets
ARCHITECTURES = {
    "mlp": (mlp, (3, 10)),
    "cnn2d_pooling": (cnn2d_pooling, (3, 12, 12, 2)),
    "cnn2d_functional": (cnn2d_functional, (3, 9, 9, 3)),
    "cnn1d": (cnn1d, (3, 24, 3)),
    "batchnorm": (batchnorm_cnn, (3, 10, 10, 3)),
    "residual": (residual, (3, 8, 8, 3)),
}
TARGETS = [0, 2, 3]


def parity_input(shape: tuple[int, ...]) -> np.ndarray:
    """Mixed signs, exact zeros, and values exactly at the mu thresholds of the table (0.5, -0.5, -0.25)."""
    x = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::5] = 0.0
    flat[1::11] = 0.5
    flat[2::13] = -0.5
    flat[3::17] = -0.25
    return x


def cnn2d_strided_same() -> keras.Model:
    """Strided 'same' convolutions with uneven padding (the converter adds a padding module)."""
    return keras.Sequential([
        keras.Input((11, 10, 2)),
        keras.layers.Conv2D(5, 4, strides=2, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", bias_initializer=BIAS),
        keras.layers.Flatten(),
        keras.layers.Dense(4, bias_initializer=BIAS),
    ])


ARCHITECTURES["cnn2d_strided_same"] = (cnn2d_strided_same, (3, 11, 10, 2))


def batchnorm_residual() -> keras.Model:
    """Batch norm inside a residual branch, Add, max and average pooling, Dense head with softmax."""
    layers = keras.layers
    inp = keras.Input((10, 10, 3))
    h = layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    b = layers.Conv2D(6, 3, padding="same")(h)
    b = layers.BatchNormalization()(b)
    b = layers.ReLU()(b)
    h = layers.Add()([b, h])
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(8, 3, activation="relu")(h)
    h = layers.AveragePooling2D(3)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(10, activation="relu")(h)
    model = keras.Model(inp, layers.Dense(4, activation="softmax")(h))
    rng = np.random.default_rng(0)
    for weight in model.weights:
        name, shape = weight.path.split("/")[-1], tuple(weight.shape)
        if name == "moving_variance":
            value = rng.uniform(0.5, 2.0, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) <= 1:  # biases, beta, moving_mean
            value = rng.normal(0.0, 0.3, shape)
        else:
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        weight.assign(value.astype(np.float32))
    return model


ARCHITECTURES["batchnorm_residual"] = (batchnorm_residual, (3, 10, 10, 3))


# --------------------------------------------------------------------------- #
# keras.applications models (issue 10): random weights, smallest inputs, logits
# --------------------------------------------------------------------------- #
APPLICATION_SIZES = {
    "MobileNetV2": 32, "MobileNetV3Small": 32, "EfficientNetB0": 32, "EfficientNetV2B0": 32,
    "NASNetMobile": 32, "Xception": 71, "ConvNeXtTiny": 32,
}


def randomize_application_weights(model: keras.Model, seed: int = 0) -> None:
    """Every float weight random and non-trivial: batch-norm / normalisation statistics, layer
    scales and biases included; kernels scaled by 1/sqrt(fan-in) (per channel for depthwise)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "float" not in str(weight.dtype):
            continue
        shape, name = tuple(weight.shape), weight.path.split("/")[-1]
        if name in ("moving_variance", "variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name in ("moving_mean", "mean"):
            value = rng.normal(0.0, 0.5, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) <= 1:  # biases, beta, layer scales
            value = rng.normal(0.0, 0.3, shape)
        else:
            fan_in = int(np.prod(shape[:2])) if "depthwise" in weight.path else int(np.prod(shape[:-1]))
            value = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
        weight.assign(value.astype(np.float32))


def keras_application(name: str) -> keras.Model:
    """``keras.applications.<name>`` with random weights (nothing downloaded), 10 classes, logits."""
    size = APPLICATION_SIZES[name]
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None
    )
    randomize_application_weights(model)
    return model
