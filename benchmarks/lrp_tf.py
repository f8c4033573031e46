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

Batch norms are calibrated first (one training-mode pass on random images with momentum 0, so
each moving mean and variance is its layer's batch statistic): with the initial statistics (0, 1)
a random MobileNetV2 gives logits of ~1e-10 and LRP maps of 0, so its timings would run on
degenerate values (``--random-bn`` keeps the initial statistics).

After each model a tracing table follows (docs/performance.md): per method the tracing cost (first
call minus steady state), the part of it spent building the plan (the layer graph and the rule per
layer, before any tracing), then one call each with a new batch size (``--batch`` - 1, or 2 for
``--batch 1``), new per-sample targets and ``target=None`` (argmax), which should all cost about the
steady state, and the number of traces of the method's plan after all of them (1: nothing retraced).
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
from signxai_tf.lrp import lrp, lrp_plan  # noqa: E402
from signxai_tf.lrp import _engine  # noqa: E402

BUILDERS = {
    "vgg16": keras.applications.VGG16,
    "resnet50": keras.applications.ResNet50,
    "mobilenet_v2": keras.applications.MobileNetV2,
    "efficientnet_b0": keras.applications.EfficientNetB0,
    "mobilenet_v3_small": keras.applications.MobileNetV3Small,
    "xception": keras.applications.Xception,
    "convnext_tiny": keras.applications.ConvNeXtTiny,
}
METHODS = [
    "lrp_epsilon_0_1",
    "lrpsign_epsilon_0_1",
    "lrp_alpha_1_beta_0",
    "lrp_sequential_composite_a",
    "lrp_sequential_composite_b",
]


def _calibrate_batch_norm(model: keras.Model, size: int) -> None:
    """Moving statistics of every batch norm from one training-mode pass (momentum 0 for the pass)."""
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        x = np.random.default_rng(2).normal(size=(8, size, size, 3)).astype(np.float32) * 50
        model(x, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


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


def _once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50"], choices=sorted(BUILDERS))
    parser.add_argument("--random-bn", action="store_true",
                        help="keep the batch norms' initial statistics (0, 1) instead of calibrating them")
    args = parser.parse_args()
    builders = BUILDERS
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, batch {args.batch}, {args.size}x{args.size}, "
          f"median of {args.repeats} after the first call; {os.cpu_count()} CPUs visible")
    for name in args.models:
        keras.utils.set_random_seed(0)
        model = builders[name](weights=None, input_shape=(args.size, args.size, 3), classifier_activation=None)
        if not args.random_bn:
            _calibrate_batch_norm(model, args.size)
        x = tf.constant(np.random.default_rng(0).normal(size=(args.batch, args.size, args.size, 3)).astype(np.float32) * 50)
        targets = tf.constant(np.arange(args.batch) % 1000, tf.int64)
        grad = _gradient_fn(model)
        first, base = _time(lambda: grad(x, targets).numpy(), args.repeats)
        print(f"{name:18s} {'gradient':28s} first {first:7.2f} s   steady {base:7.3f} s   ratio 1.00")
        print(f"{name:18s} {'gradient':28s} tracing cost {first - base:7.2f} s")
        new_n = args.batch - 1 if args.batch > 1 else 2
        x_new = tf.constant(np.resize(x.numpy(), (new_n,) + tuple(x.shape[1:])))
        new_targets = (targets.numpy() + 1) % 1000
        tracing = []
        for method in METHODS:
            rules = parse(method).lrp_rules()
            first, steady = _time(lambda: lrp(model, x, targets.numpy(), rules).numpy(), args.repeats)
            print(f"{name:18s} {method:28s} first {first:7.2f} s   steady {steady:7.3f} s   ratio {steady / base:4.2f}")
            build = _once(lambda: _engine._Plan(model, "lrp", rules, method))  # not cached: the plan-building part
            new_batch = _once(lambda: lrp(model, x_new, new_targets[:new_n], rules).numpy())
            new_target = _once(lambda: lrp(model, x, new_targets, rules).numpy())
            argmax = _once(lambda: lrp(model, x, None, rules).numpy())
            traces = lrp_plan(model, "lrp", rules, method).tracing_count()
            tracing.append((method, first - steady, build, new_batch, new_target, argmax, steady, traces))
        print(f"{name:18s} tracing: {'method':28s} {'first-steady':>12s} {'(plan build)':>12s} "
              f"{f'batch {new_n}':>9s} {'new target':>10s} {'None':>7s} {'steady':>7s} traces")
        for method, cost, build, new_batch, new_target, argmax, steady, traces in tracing:
            print(f"{name:18s} tracing: {method:28s} {cost:10.2f} s {build:10.2f} s {new_batch:7.3f} s "
                  f"{new_target:8.3f} s {argmax:5.3f} s {steady:5.3f} s {traces:6d}")


if __name__ == "__main__":
    main()
