"""TensorFlow LRP: the forward-convolution transposes against the convolution gradient, in one process.

Usage::

    python benchmarks/tf_transposes_ab.py [--model resnet50] [--batch 4] [--rounds 5] [--methods ...]

Two instances of one keras.applications model with the same weights (random, batch norms
calibrated as in ``benchmarks/lrp_tf.py``): ``new`` as the engine builds it, ``old`` with its plans
built while the flipped-kernel path of ``signxai_tf/lrp/_layers.py`` (stride-1 convolutions with
odd kernels and "same" padding, K > 1) is switched off, so those layers use TensorFlow's
convolution gradient, as before that path existed; 1x1 layers keep their forward form in both.
Every round calls the compiled gradient and each method on both models, starting one call later
each round; printed: the median per call and its ratio to the gradient, and the largest
difference between the two maps relative to the largest value (float32 round-off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21 oneDNN crash on some 1x1 stride-2 convs

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lrp_tf  # noqa: E402

from shared_spec import parse  # noqa: E402
from signxai_tf.lrp import _layers, lrp  # noqa: E402


def _gradient_only(original):
    """``_layers.flipped_transposed`` for 1x1 kernels only (the path as it was before K > 1)."""

    def flipped_transposed(layer):
        return original(layer) and all(int(d) == 1 for d in layer.kernel_size)

    return flipped_transposed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", choices=sorted(lrp_tf.BUILDERS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=lrp_tf.METHODS)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    new = lrp_tf.BUILDERS[args.model](weights=None, input_shape=(args.size, args.size, 3), classifier_activation=None)
    lrp_tf._calibrate_batch_norm(new, args.size)
    old = keras.models.clone_model(new)
    old.set_weights(new.get_weights())
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, args.size, args.size, 3)).astype(np.float32) * 50)
    targets = tf.constant(np.arange(args.batch) % 1000, tf.int64)
    grad = lrp_tf._gradient_fn(new)
    calls = {"gradient": lambda: grad(x, targets).numpy()}
    original = _layers.flipped_transposed
    for method in args.methods:
        rules = parse(method).lrp_rules()
        calls[f"{method}:new"] = lambda r=rules: lrp(new, x, targets.numpy(), r).numpy()
        calls[f"{method}:old"] = lambda r=rules: lrp(old, x, targets.numpy(), r).numpy()
        fast = calls[f"{method}:new"]()
        _layers.flipped_transposed = _gradient_only(original)  # read while the plan is built and traced
        try:
            slow = calls[f"{method}:old"]()
        finally:
            _layers.flipped_transposed = original
        scale = float(np.abs(slow).max())
        print(f"{args.model} {method:28s} max |new - old| / max |old| {float(np.abs(fast - slow).max()) / scale:.1e}")
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {key: [] for key in calls}
    keys = list(calls)
    for i in range(args.rounds):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            t0 = time.perf_counter()
            calls[key]()
            times[key].append(time.perf_counter() - t0)
    base = statistics.median(times["gradient"])
    print(f"tensorflow {tf.__version__}, {args.model}, batch {args.batch}, median of {args.rounds}; "
          f"gradient {base:.3f} s")
    for method in args.methods:
        o, n = statistics.median(times[f"{method}:old"]), statistics.median(times[f"{method}:new"])
        print(f"{args.model} {method:28s} gradient only {o:.3f} s ({o / base:.2f})   flipped {n:.3f} s ({n / base:.2f})")


if __name__ == "__main__":
    main()
