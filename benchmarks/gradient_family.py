"""The gradient family, Grad-CAM, integrated gradients and SmoothGrad: cost against the raw computation and peers.

Usage::

    python benchmarks/gradient_family.py [--framework torch tf] [--models vgg16 resnet50] [--batch 8]
                                         [--size 224] [--repeats 3] [--steps 16] [--samples 8]

Everything is timed in one process per framework (random weights, CPU threads as the machine
gives them): the first call is a warm-up (tracing included in TensorFlow), then the median of
``--repeats`` calls. Printed ratios:

- PyTorch: ``explain`` ÷ a raw autograd input gradient of the selected logits (gradient, guided
  backprop); Grad-CAM ÷ Captum's ``LayerGradCam`` on the same layer; integrated gradients ÷
  Captum's ``IntegratedGradients`` with ``n_steps`` = steps (its Gauss-Legendre rule: the same
  number of gradient evaluations, in one internal batch) and SmoothGrad ÷ Captum's
  ``NoiseTunnel(Saliency)`` with as many samples.
- TensorFlow: ``explain`` ÷ a ``tf.function``-compiled GradientTape input gradient (gradient,
  guided backprop, Grad-CAM), and integrated gradients / SmoothGrad ÷ the same compiled gradient
  run ``steps`` / ``samples`` times over the batch (the raw computation they wrap); and, when
  xplique can be imported, each ÷ xplique's ``Saliency`` / ``GradCAM`` (on the same layer) /
  ``IntegratedGradients`` / ``SmoothGrad`` with the same steps, samples and batch size.

xplique 2.0.2 declares ``tensorflow<=2.20``, so pip will not install it next to TensorFlow 2.21;
its attribution methods run on 2.21 and Keras 3 all the same. To compare, install it and its
import-time dependencies without their pins into a separate folder and put it on the path::

    pip install --no-deps --target /tmp/xqlib xplique==2.0.2 einops deprecated wrapt \
        opencv-python-headless tensorflow-probability dm-tree cloudpickle gast decorator "tf-keras==2.21.*"
    PYTHONPATH=/tmp/xqlib python benchmarks/gradient_family.py --framework tf

(xplique's ``Saliency`` returns the maximum over channels of the absolute gradient, ours the
gradient itself: the timing compares, the maps differ by that reduction.) ``--no-xplique`` skips it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402


def _time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_torch(models: list[str], batch: int, size: int, repeats: int, steps: int, samples: int) -> None:
    import torch
    import torchvision
    from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Saliency

    import signxai_captum

    for name in models:
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
        targets = list(range(batch))
        # the same activation for both: VGG16's last convolution after its ReLU, ResNet-50's last block
        ours_layer, captum_layer = {"vgg16": ("features.28", "features.29"), "resnet50": ("layer4.2", "layer4.2")}[name]

        def raw() -> None:
            leaf = x.clone().requires_grad_(True)
            out = model(leaf)
            torch.autograd.grad(out[torch.arange(batch), torch.tensor(targets)].sum(), leaf)

        base = _time(raw, repeats)
        rows = [("raw autograd gradient", base, "1.00")]
        for method in ("gradient", "guided_backprop"):
            t = _time(lambda: signxai_captum.explain(model, x, method, target=targets), repeats)
            rows.append((method, t, f"{t / base:.2f}x raw"))
        ours = _time(lambda: signxai_captum.explain(model, x, "grad_cam", target=targets, layer=ours_layer), repeats)
        cam = LayerGradCam(model, model.get_submodule(captum_layer))
        theirs = _time(lambda: cam.attribute(x, target=targets), repeats)
        rows.append(("grad_cam", ours, f"{ours / base:.2f}x raw, {ours / theirs:.2f}x Captum LayerGradCam"))
        ig = IntegratedGradients(model)
        ours = _time(lambda: signxai_captum.explain(model, x, "integrated_gradients", target=targets, steps=steps,
                                                    batch_size=batch * steps), repeats)
        theirs = _time(lambda: ig.attribute(x, target=targets, n_steps=steps, internal_batch_size=batch * steps), repeats)
        rows.append((f"integrated_gradients ({steps} steps)", ours, f"{ours / theirs:.2f}x Captum"))
        nt = NoiseTunnel(Saliency(model))
        ours = _time(lambda: signxai_captum.explain(model, x, "smoothgrad", target=targets, samples=samples, noise=0.2,
                                                    batch_size=batch * samples, seed=0), repeats)
        theirs = _time(lambda: nt.attribute(x, target=targets, nt_type="smoothgrad", nt_samples=samples, stdevs=0.2,
                                            nt_samples_batch_size=samples, abs=False), repeats)
        rows.append((f"smoothgrad ({samples} samples)", ours, f"{ours / theirs:.2f}x Captum NoiseTunnel(Saliency)"))
        _print(f"torch {name} (batch {batch}, {size}x{size})", rows)


def _xplique():
    """xplique's attribution module, or None when it cannot be imported (see the module docstring)."""
    try:
        from xplique import attributions
    except Exception as error:  # not installed, or an import-time dependency missing
        print(f"xplique not available ({type(error).__name__}: {error}); its columns are left out")
        return None
    return attributions


def run_tf(models: list[str], batch: int, size: int, repeats: int, steps: int, samples: int,
           use_xplique: bool = True) -> None:
    import keras
    import tensorflow as tf

    import signxai_tf

    xq = _xplique() if use_xplique else None
    # the layer Grad-CAM explains, the same for ours and xplique's
    cam_layers = {"vgg16": "block5_conv3", "resnet50": "conv5_block3_out"}

    builders = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}
    for name in models:
        model = builders[name](weights=None, input_shape=(size, size, 3))
        x = np.random.default_rng(0).uniform(0, 1, (batch, size, size, 3)).astype(np.float32)
        xt, tt = tf.constant(x), tf.constant(np.arange(batch), tf.int64)

        @tf.function(reduce_retracing=True)
        def raw_gradient(inputs, targets):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(inputs)
                selected = tf.gather(model(inputs, training=False), targets, axis=1, batch_dims=1)
            return tape.gradient(selected, inputs)

        base = _time(lambda: raw_gradient(xt, tt).numpy(), repeats)
        rows = [("compiled GradientTape gradient", base, "1.00")]
        one_hot = tf.one_hot(np.arange(batch) % model.output_shape[-1], model.output_shape[-1])
        peers = {}
        if xq is not None:
            peers = {
                "gradient": xq.Saliency(model, batch_size=batch),
                "grad_cam": xq.GradCAM(model, conv_layer=cam_layers[name], batch_size=batch),
                "integrated_gradients": xq.IntegratedGradients(model, steps=steps, batch_size=batch * steps),
                "smoothgrad": xq.SmoothGrad(model, nb_samples=samples, noise=0.2, batch_size=batch * samples),
            }

        def versus(method: str, ours: float) -> str:
            if method not in peers:
                return ""
            theirs = _time(lambda: np.asarray(peers[method].explain(x, one_hot)), repeats)
            return f", {ours / theirs:.2f}x xplique {type(peers[method]).__name__} ({theirs * 1000:.0f} ms)"

        for method in ("gradient", "guided_backprop", "grad_cam"):
            extra = {"layer": cam_layers[name]} if method == "grad_cam" else {}
            t = _time(lambda: signxai_tf.explain(model, x, method, target=list(range(batch)), **extra), repeats)
            rows.append((method, t, f"{t / base:.2f}x raw" + versus(method, t)))
        for method, n, extra in (("integrated_gradients", steps, {"steps": steps}), ("smoothgrad", samples, {"samples": samples, "seed": 0})):
            t = _time(lambda: signxai_tf.explain(model, x, method, target=list(range(batch)), batch_size=batch * n, **extra), repeats)
            rows.append((f"{method} ({n})", t, f"{t / (n * base):.2f}x {n} raw gradients" + versus(method, t)))
        _print(f"tf {name} (batch {batch}, {size}x{size})", rows)


def _print(title: str, rows: list[tuple[str, float, str]]) -> None:
    print(f"\n{title}")
    for label, seconds, ratio in rows:
        print(f"  {label:<38} {seconds * 1000:9.1f} ms   {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", nargs="+", default=["torch", "tf"], choices=["torch", "tf"])
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50"], choices=["vgg16", "resnet50"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--no-xplique", action="store_true", help="leave out the xplique columns")
    args = parser.parse_args()
    if "torch" in args.framework:
        import torch  # noqa: F401  (torch before TensorFlow)
        run_torch(args.models, args.batch, args.size, args.repeats, args.steps, args.samples)
    if "tf" in args.framework:
        if "torch" not in args.framework:
            import torch  # noqa: F401
        run_tf(args.models, args.batch, args.size, args.repeats, args.steps, args.samples, not args.no_xplique)


if __name__ == "__main__":
    main()
