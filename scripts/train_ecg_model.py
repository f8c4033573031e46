"""Train the ECG demo CNN (normal vs wide beats of MIT-BIH record 208) and ship it.

Usage::

    python scripts/train_ecg_model.py [--out PATH] [--epochs N]

Needs ``signxai_tools/demo/data/mitdb208_ecg.npz`` (``python scripts/fetch_ecg_data.py``).

Labels (:func:`signxai_tools.demo.ecg.derive_beats`, exact integer arithmetic on the raw ADC
samples at 360 Hz, 200 units per mV):

1. baseline = moving median over 73 samples (201 ms), then over 217 samples (603 ms);
   ``xb = raw - baseline``;
2. R peaks = local maxima of ``|moving sum over 5 samples of xb|`` above 600 (0.6 mV), kept from
   the largest down with a 90-sample (0.25 s) refractory period, each moved to the largest
   ``|xb|`` within +-22 samples (60 ms);
3. width = full width at half maximum of the R deflection (contiguous samples around the peak
   with the peak's sign and at least half its magnitude);
4. ``normal`` (0) if width <= 14 samples (38.9 ms), ``wide`` (1, ventricular-like, e.g. PVCs) if
   width >= 22 samples (61.1 ms); widths in between and beats whose 256-sample window leaves the
   record are not used.

Split by time: beats whose window lies in the first 70 % of the record (0 - 210 s) train, those
after it (210 - 300 s) are held out. The Keras model of
:func:`signxai_tools.demo.ecg.make_keras_ecg_model` is trained deterministically on CPU with
class weights inversely proportional to the class frequencies (the classes are imbalanced);
the script prints held-out accuracy, per-class recall and balanced accuracy and writes the
weights (Keras layout), the derived beats, the split and the metrics to
``signxai_tools/demo/data/ecg_cnn.npz``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "signxai_tools" / "demo" / "data" / "ecg_cnn.npz"

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from signxai_tools.demo.ecg import (
    CLASS_NAMES,
    WEIGHT_LAYERS,
    balanced_accuracy,
    derive_beats,
    make_keras_ecg_model,
    split_beats,
)

SEED = 0
EPOCHS = 40
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
MIN_BALANCED_ACCURACY = 0.9


def train(epochs: int = EPOCHS) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Derive the labels, train the CNN and evaluate it on the held-out beats.

    Parameters
    ----------
    epochs : int
        Passes over the training beats.

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        Weights (``<layer>_kernel`` / ``<layer>_bias``, Keras layout, float32), derived beats
        (``r_peaks``, ``widths``, ``labels``), split (``train_index``, ``held_out_index``) and
        metrics (``held_out_accuracy``, ``held_out_balanced_accuracy``, ``held_out_recall``,
        ``held_out_probabilities``).
    metrics : dict of str to float
        The same metrics as numbers, plus the training accuracy.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    beats = derive_beats()
    train_index, held_out_index = split_beats(beats)
    x_train, y_train = beats.windows[train_index], beats.labels[train_index]
    x_test, y_test = beats.windows[held_out_index], beats.labels[held_out_index]
    counts = np.bincount(y_train, minlength=len(CLASS_NAMES))
    class_weight = {c: float(len(y_train) / (len(CLASS_NAMES) * n)) for c, n in enumerate(counts)}
    print(
        f"beats: {len(beats.r_peaks)} detected; train {len(y_train)} "
        f"({dict(zip(CLASS_NAMES, counts.tolist()))}), held out {len(y_test)} "
        f"({dict(zip(CLASS_NAMES, np.bincount(y_test, minlength=2).tolist()))})"
    )

    model = make_keras_ecg_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, shuffle=True,
        class_weight=class_weight, verbose=0,
    )

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)

    train_acc = float(np.mean(np.argmax(predict(x_train), axis=1) == y_train))
    logits = predict(x_test)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y_pred = np.argmax(logits, axis=1)
    accuracy = float(np.mean(y_pred == y_test))
    balanced, recalls = balanced_accuracy(y_test, y_pred)

    arrays: dict[str, np.ndarray] = {}
    for layer in WEIGHT_LAYERS:
        kernel, bias = model.get_layer(layer).get_weights()
        arrays[f"{layer}_kernel"] = np.asarray(kernel, dtype=np.float32)
        arrays[f"{layer}_bias"] = np.asarray(bias, dtype=np.float32)
    arrays.update(
        r_peaks=beats.r_peaks.astype(np.int32),
        widths=beats.widths.astype(np.int16),
        labels=beats.labels.astype(np.int8),
        train_index=train_index.astype(np.int32),
        held_out_index=held_out_index.astype(np.int32),
        held_out_accuracy=np.float32(accuracy),
        held_out_balanced_accuracy=np.float32(balanced),
        held_out_recall=recalls.astype(np.float32),
        held_out_probabilities=prob.astype(np.float32),
    )
    metrics = {
        "train_accuracy": train_acc,
        "held_out_accuracy": accuracy,
        "held_out_balanced_accuracy": balanced,
        **{f"held_out_recall_{name}": float(r) for name, r in zip(CLASS_NAMES, recalls)},
    }
    return arrays, metrics


def main(argv: list[str] | None = None) -> int:
    """Train, report, check the balanced accuracy and write the weights file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    arrays, metrics = train(args.epochs)
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}")
    print(f"training took {time.perf_counter() - start:.1f} s")
    if metrics["held_out_balanced_accuracy"] < MIN_BALANCED_ACCURACY:
        print(
            f"held-out balanced accuracy below {MIN_BALANCED_ACCURACY}; not writing {args.out}",
            file=sys.stderr,
        )
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
