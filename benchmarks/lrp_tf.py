"""LRP on TensorFlow: cost relative to a plain gradient, on keras.applications models (weights=None).

Usage::

    python benchmarks/lrp_tf.py [--batch 8] [--size 224] [--repeats 3] [--models vgg16 resnet50 mobilenet_v2 ...]

Models: vgg16, resnet50 (default), mobilenet_v2 (depthwise convs, ReLU6), efficientnet_b0 (Rescaling,
Normalization, squeeze-excitation gates, swish), mobilenet_v3_small (keras.ops arithmetic, hard-swish),
xception (separable convs), convnext_tiny (LayerNormalization, LayerScale, grouped convs).

For each model, the plain gradient (``gradient``, a ``tf.function``-compiled GradientTape on the
selected logit, so both sides are compiled) and the LRP methods are timed in one process: the
first call (tracing included) and the median of ``--repeats`` calls after it. Ratios are to the
gradient's steady-state time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21 oneDNN crash on some 1x1 stride-2 convs

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from shared_spec import parse  # noqa: E402
from signxai_tf.lrp import lrp  # noqa: E402

BUILDERS = {
    "vgg16": keras.applications.VGG16,
    "resnet50": keras.applications.ResNet50,
    "mobilenet_v2": keras.applications.MobileNetV2,
    "efficientnet_b0": keras.applications.EfficientNetB0,
    "mobilenet_v3_small": keras.applications.MobileNetV3Small,
    "xception": keras.applications.Xception,
    "convnext_tiny": keras.applications.ConvNeXtTiny,
}
METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_a"]


def _gradient_fn(model: keras.Model):
    @tf.function(reduce_retracing=True)
    def grad(x, targets):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = model(x, training=False)
            selected = tf.gather(logits, targets, axis=1, batch_dims=1)
        return tape.gradient(selected, x)

    return grad


def _time(fn, repeats: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50"], choices=sorted(BUILDERS))
    args = parser.parse_args()
    builders = BUILDERS
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, batch {args.batch}, {args.size}x{args.size}, "
          f"median of {args.repeats} after the first call; {os.cpu_count()} CPUs visible")
    for name in args.models:
        keras.utils.set_random_seed(0)
        model = builders[name](weights=None, input_shape=(args.size, args.size, 3), classifier_activation=None)
        x = tf.constant(np.random.default_rng(0).normal(size=(args.batch, args.size, args.size, 3)).astype(np.float32) * 50)
        targets = tf.constant(np.arange(args.batch) % 1000, tf.int64)
        grad = _gradient_fn(model)
        first, base = _time(lambda: grad(x, targets).numpy(), args.repeats)
        print(f"{name:18s} {'gradient':28s} first {first:7.2f} s   steady {base:7.3f} s   ratio 1.00")
        for method in METHODS:
            rules = parse(method).lrp_rules()
            first, steady = _time(lambda: lrp(model, x, targets.numpy(), rules).numpy(), args.repeats)
            print(f"{name:18s} {method:28s} first {first:7.2f} s   steady {steady:7.3f} s   ratio {steady / base:4.2f}")


if __name__ == "__main__":
    main()
