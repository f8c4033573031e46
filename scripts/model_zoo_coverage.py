"""Which methods explain which model-zoo architectures: a table (model x method: ok / error) and a summary.

Usage::

    python scripts/model_zoo_coverage.py [--framework torch tf] [--models NAME ...] [--methods quick|lrp|all]
                                         [--size 64] [--verbose]

Every model is built with random weights (``weights=None``: nothing is downloaded) at a small input
size and explained for one sample with each method; a cell is ``ok`` when the map is finite and has
the input's shape, otherwise the error type (``--verbose`` prints each error's first line).

Method sets:
- ``quick``: gradient, guided_backprop, grad_cam, lrp_epsilon_0_1, lrpsign_epsilon_0_1,
  lrp_alpha_1_beta_0, lrpsign_sequential_composite_a (the seven of the architecture issue);
- ``lrp``: every LRP preset x every input-rule prefix;
- ``all``: ``lrp`` plus the gradient family.

The last line is the summary: ``models with every method ok: torch a/b, tf c/d; cells ok: ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any, Callable

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21 oneDNN crash on some 1x1 stride-2 convs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402  (torch before TensorFlow)

TORCH_MODELS = [
    "alexnet", "vgg16", "resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_0",
    "densenet121", "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
    "mnasnet0_5", "shufflenet_v2_x0_5", "regnet_y_400mf", "convnext_tiny", "vit_b_16", "swin_t",
]
TF_MODELS = [
    "VGG16", "ResNet50", "ResNet50V2", "DenseNet121", "InceptionV3", "Xception", "NASNetMobile",
    "MobileNet", "MobileNetV2", "MobileNetV3Small", "EfficientNetB0", "EfficientNetV2B0", "ConvNeXtTiny",
]
# smallest input each architecture accepts (others: --size)
_MIN_SIZE = {"inception_v3": 75, "InceptionV3": 75, "vit_b_16": 224, "swin_t": 224, "NASNetMobile": 32, "Xception": 71}
# architectures with a fixed input size when built without weights
_FIXED_SIZE = {"vit_b_16": 224}

PRESETS = [
    "z", "epsilon_0_1", "epsilon_0_1_std_x", "alpha_1_beta_0", "alpha_2_beta_1", "z_plus", "gamma", "flat",
    "w_square", "sequential_composite_a", "sequential_composite_b",
]
PREFIXES = ["lrp", "lrpsign", "lrpz", "zblrp", "w2lrp", "flatlrp"]
GRADIENT_FAMILY = [
    "gradient", "gradient_x_sign", "guided_backprop", "deconvnet", "integrated_gradients_steps_4",
    "smoothgrad_samples_2", "vargrad_samples_2", "grad_cam", "guided_grad_cam",
]
QUICK = [
    "gradient", "guided_backprop", "grad_cam", "lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0",
    "lrpsign_sequential_composite_a",
]


def method_set(which: str) -> list[str]:
    """The method names of a set (``quick``, ``lrp``, ``all``)."""
    lrp = [f"{prefix}_{preset}" for preset in PRESETS for prefix in PREFIXES]
    return {"quick": QUICK, "lrp": lrp, "all": GRADIENT_FAMILY + lrp}[which]


def _size(name: str, size: int) -> int:
    return _FIXED_SIZE.get(name, max(size, _MIN_SIZE.get(name, 0)))


def torch_cases(names: list[str], size: int) -> list[tuple[str, Callable[[], Any], np.ndarray]]:
    import torchvision

    cases = []
    for name in names:
        s = _size(name, size)
        x = np.random.default_rng(0).normal(size=(1, 3, s, s)).astype("float32")

        def build(name: str = name) -> Any:
            torch.manual_seed(0)
            kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
            return torchvision.models.get_model(name, weights=None, **kwargs).eval()

        cases.append((name, build, x))
    return cases


def tf_cases(names: list[str], size: int) -> list[tuple[str, Callable[[], Any], np.ndarray]]:
    import keras

    cases = []
    for name in names:
        s = _size(name, size)
        x = np.random.default_rng(0).normal(size=(1, s, s, 3)).astype("float32")

        def build(name: str = name, s: int = s) -> Any:
            keras.utils.set_random_seed(0)
            return getattr(keras.applications, name)(weights=None, input_shape=(s, s, 3), classes=10)

        cases.append((name, build, x))
    return cases


def run(framework: str, cases, methods: list[str], verbose: bool) -> dict[str, dict[str, str]]:
    if framework == "torch":
        from signxai_captum import explain
    else:
        from signxai_tf import explain
    table: dict[str, dict[str, str]] = {}
    for name, build, x in cases:
        row: dict[str, str] = {}
        start = time.perf_counter()
        try:
            model = build()
        except Exception as error:  # noqa: BLE001 - reported in the table
            table[name] = {m: f"build: {type(error).__name__}" for m in methods}
            print(f"{framework} {name}: could not build: {error}", file=sys.stderr)
            continue
        for method in methods:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = explain(model, x, method, target=0)
                row[method] = "ok" if out.shape == x.shape and np.all(np.isfinite(out)) else "non-finite"
            except Exception as error:  # noqa: BLE001 - reported in the table
                row[method] = type(error).__name__
                if verbose:
                    print(f"  {framework} {name} {method}: {type(error).__name__}: {str(error).splitlines()[0][:300]}")
        table[name] = row
        ok = sum(v == "ok" for v in row.values())
        print(f"{framework:5s} {name:22s} {ok:3d}/{len(methods)} ok  ({time.perf_counter() - start:.0f} s)", flush=True)
    return table


def print_table(framework: str, table: dict[str, dict[str, str]], methods: list[str]) -> None:
    width = max(len(m) for m in table) if table else 10
    print(f"\n{framework}: model x method (only methods with a failure are listed as columns)")
    failing = [m for m in methods if any(row.get(m) != "ok" for row in table.values())]
    if not failing:
        print("  every cell ok")
        return
    for method in failing:
        cells = ", ".join(f"{name}: {row[method]}" for name, row in table.items() if row.get(method) != "ok")
        print(f"  {method:{width}s} fails on {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", nargs="+", choices=["torch", "tf"], default=["torch", "tf"])
    parser.add_argument("--models", nargs="+", default=None, help="model names (torchvision or keras.applications)")
    parser.add_argument("--methods", choices=["quick", "lrp", "all"], default="quick")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    methods = method_set(args.methods)
    summary = []
    cells_ok = cells = 0
    for framework in args.framework:
        known = TORCH_MODELS if framework == "torch" else TF_MODELS
        names = [m for m in (args.models or known) if m in known]
        if not names:
            continue
        cases = torch_cases(names, args.size) if framework == "torch" else tf_cases(names, args.size)
        table = run(framework, cases, methods, args.verbose)
        print_table(framework, table, methods)
        full = sum(all(v == "ok" for v in row.values()) for row in table.values())
        summary.append(f"{framework} {full}/{len(table)}")
        cells_ok += sum(v == "ok" for row in table.values() for v in row.values())
        cells += sum(len(row) for row in table.values())
    print(f"\nmodels with every method ok ({args.methods}): {', '.join(summary)}; cells ok: {cells_ok}/{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
