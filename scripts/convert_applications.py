"""Convert every keras.applications CNN with ``keras_to_torch`` and print max |torch - keras| per model.

Usage::

    python scripts/convert_applications.py [--models NAME ...] [--batch 2]

Each model is built with ``weights=None`` (nothing is downloaded), ``classes=10``,
``classifier_activation=None`` (the logits are compared, not softmax probabilities) and the
smallest input the architecture accepts (32, InceptionV3 75, Xception 71); every weight is then
given random non-trivial values (batch-norm and normalisation statistics, layer scales, biases).
For each model one line: the maximum absolute difference of the logits, the same relative to the
largest |logit|, and the conversion time; the last line counts the models within 1e-4 relative.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21 oneDNN crash on some 1x1 stride-2 convs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402  (torch before TensorFlow)

MODELS = [
    "VGG16", "ResNet50", "ResNet50V2", "DenseNet121", "InceptionV3", "Xception", "NASNetMobile",
    "MobileNet", "MobileNetV2", "MobileNetV3Small", "EfficientNetB0", "EfficientNetV2B0", "ConvNeXtTiny",
]
SIZE = {"InceptionV3": 75, "Xception": 71}
RELATIVE_TOLERANCE = 1e-4


def randomize_weights(model, seed: int = 0) -> None:
    """Give every float weight of ``model`` a random, non-trivial value (in place): the parity suite's
    weights, ``tests/parity/parity_models.py::randomize_application_weights``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "parity"))
    from parity_models import randomize_application_weights

    randomize_application_weights(model, seed)


def build(name: str):
    """The keras.applications model ``name`` (random weights, 10 classes, logits), its input size."""
    import keras

    size = SIZE.get(name, 32)
    model = getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None
    )
    randomize_weights(model)
    return model, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    from signxai_captum.convert import keras_to_torch, to_channels_first

    ok = 0
    for name in args.models:
        model, size = build(name)
        x = np.random.default_rng(1).uniform(0.0, 255.0, (args.batch, size, size, 3)).astype(np.float32)
        if name not in ("EfficientNetB0", "EfficientNetV2B0", "MobileNetV3Small", "ConvNeXtTiny"):
            x = x / 127.5 - 1.0  # the models without built-in preprocessing take [-1, 1] input
        start = time.perf_counter()
        try:
            torch_model = keras_to_torch(model)
        except Exception as error:  # noqa: BLE001  (a report line per model)
            print(f"{name:18s} FAILED: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
            continue
        seconds = time.perf_counter() - start
        expected = np.asarray(model(x, training=False))
        with torch.no_grad():
            got = torch_model(torch.from_numpy(to_channels_first(x))).numpy()
        difference = float(np.abs(got - expected).max())
        relative = difference / max(float(np.abs(expected).max()), 1e-30)
        ok += relative <= RELATIVE_TOLERANCE
        print(f"{name:18s} max|torch-keras| {difference:.3g}  relative {relative:.3g}  "
              f"(max|logit| {np.abs(expected).max():.3g}, converted in {seconds:.1f}s)")
    print(f"converted with forward equal to {RELATIVE_TOLERANCE:g} relative: {ok}/{len(args.models)}")


if __name__ == "__main__":
    main()
