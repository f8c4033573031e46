"""Train the demo CNN on scikit-learn's 8x8 digits and ship its weights.

Usage::

    python scripts/train_digits_model.py [--out PATH] [--epochs N]

Trains the Keras model of :func:`signxai_tools.demo.make_keras_digits_model`
deterministically on CPU (a few seconds) on the split of
:func:`signxai_tools.demo.split_digits` (inputs in [-1, 1], channels-last) and
writes the weights, in Keras layout under explicit names, plus the test
accuracy and the test split (raw 0..16 images and labels, so the demo needs no
scikit-learn at run time) to ``signxai_tools/demo/digits_cnn.npz``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "signxai_tools" / "demo" / "digits_cnn.npz"

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from signxai_tools.demo import (  # noqa: E402
    WEIGHT_NAMES,
    make_keras_digits_model,
    split_digits,
)

SEED = 0
EPOCHS = 40
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
MIN_ACCURACY = 0.95


def train(epochs: int = EPOCHS) -> tuple[dict[str, np.ndarray], float]:
    """Train the digits CNN deterministically.

    Parameters
    ----------
    epochs : int
        Number of passes over the training split.

    Returns
    -------
    weights : dict of str to numpy.ndarray
        Kernels and biases in Keras layout, named as in ``WEIGHT_NAMES``, and
        the test split (``test_images``: raw ``uint8`` 0..16, ``test_labels``),
        shipped so that the demo needs no scikit-learn at run time.
    accuracy : float
        Accuracy on the test split.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    x_train, x_test, y_train, y_test = split_digits()
    model = make_keras_digits_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, shuffle=True, verbose=0
    )
    logits = keras.ops.convert_to_numpy(model(x_test, training=False))
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))

    weights: dict[str, np.ndarray] = {}
    for layer in ("conv1", "conv2", "dense1", "dense2"):
        kernel, bias = model.get_layer(layer).get_weights()
        weights[f"{layer}_kernel"] = np.asarray(kernel, dtype=np.float32)
        weights[f"{layer}_bias"] = np.asarray(bias, dtype=np.float32)
    assert tuple(weights) == WEIGHT_NAMES
    _, raw_test, _, _ = split_digits(raw=True)
    weights["test_images"] = raw_test.astype(np.uint8)
    weights["test_labels"] = y_test.astype(np.uint8)
    return weights, accuracy


def main(argv: list[str] | None = None) -> int:
    """Train, check the accuracy and write the weights file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)

    weights, accuracy = train(args.epochs)
    print(f"test accuracy: {accuracy:.4f}")
    if accuracy < MIN_ACCURACY:
        print(f"accuracy below {MIN_ACCURACY}; not writing {args.out}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, test_accuracy=np.float32(accuracy), **weights)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
