"""PyTorch ``explain_dataset`` over many batches: eager against ``fuse=None`` (the default) and ``fuse=True``.

Usage::

    python benchmarks/dataset_torch.py [--models resnet50 mobilenet_v2] [--samples 480] [--batch 8]
        [--methods lrp_epsilon_0_1 lrp_sequential_composite_b] [--threads 2] [--modes False None True]

Per model (torchvision, ``weights=None``, batch norms calibrated as in ``benchmarks/lrp_torch.py``)
and method, one ``explain_dataset`` run over ``--samples`` random 224x224 images per mode, in one
process, in the order given: ``fuse=False`` (the eager arithmetic throughout), ``fuse=None`` (eager
until the run is estimated at ``FUSE_AFTER_SECONDS`` = 120 s, then the fused kernels: their compile is
part of the run), ``fuse=True`` (fused from the first chunk). Printed: the wall time of each run, its
time per sample, the ratio to the eager run, when ``fuse=None`` switched on, and the largest
difference of its maps from the eager ones relative to their largest value (the fused kernels give
the eager values; the check in ``tests/torch/test_lrp_fused_torch.py`` allows 1e-6).
The first fused run of a process pays the compile (~20 s on a machine's first, 2-4 s with
inductor's disk cache warm), so the order of the modes matters for the ``None`` / ``True`` rows.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lrp_torch  # noqa: E402

import signxai_captum  # noqa: E402
from signxai_captum import _explain  # noqa: E402


def _mode(text: str) -> bool | None:
    return {"false": False, "none": None, "true": True}[text.lower()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"])
    parser.add_argument("--methods", nargs="+", default=["lrp_epsilon_0_1", "lrp_sequential_composite_b"])
    parser.add_argument("--samples", type=int, default=480)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", nargs="+", type=_mode, default=[False, None, True])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.samples} samples in batches of "
          f"{args.batch}, FUSE_AFTER_SECONDS {_explain.FUSE_AFTER_SECONDS:g}")
    data = np.random.default_rng(0).normal(size=(args.samples, 3, 224, 224)).astype(np.float32)
    for name in args.models:
        model, _, _ = lrp_torch._setup(name, args.batch, 224, torch.device("cpu"), True)
        for method in args.methods:
            maps: dict[bool | None, np.ndarray] = {}
            times: dict[bool | None, float] = {}
            switched: list[str] = []  # the log record of fuse=None's switch, which names the samples done
            handler = logging.Handler(logging.INFO)
            handler.emit = lambda record: switched.append(record.getMessage())  # type: ignore[method-assign]
            logger = logging.getLogger(_explain.__name__)
            level = logger.level
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            try:
                for mode in args.modes:
                    start = time.perf_counter()
                    maps[mode] = signxai_captum.explain_dataset(
                        model, data, method, target=1, batch_size=args.batch, progress=False, fuse=mode
                    )
                    times[mode] = time.perf_counter() - start
            finally:
                logger.removeHandler(handler)
                logger.setLevel(level)
            eager = maps.get(False)
            print(f"\n{name} {method}")
            for mode in args.modes:
                line = f"  fuse={str(mode):5s} {times[mode]:7.1f} s  {times[mode] / args.samples * 1e3:6.1f} ms/sample"
                if eager is not None and mode is not False:
                    scale = float(np.abs(eager).max()) or 1.0
                    diff = float(np.abs(maps[mode] - eager).max()) / scale
                    line += f"  ÷ eager {times[mode] / times[False]:.2f}  max diff {diff:.1e}"
                if mode is None:
                    after = re.search(r"after (\d+) samples", switched[0]) if switched else None
                    line += f"  switched on after {after.group(1)} samples" if after else "  stayed eager"
                print(line, flush=True)


if __name__ == "__main__":
    main()
