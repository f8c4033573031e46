"""PyTorch LRP: one engine switch on against off, time in one process.

Usage::

    python benchmarks/torch_engine_ab.py --switch rectified [--models vgg16 resnet50]
        [--batch 8] [--rounds 5] [--threads 2] [--methods ...]

Switches (each on by default in the package):

- ``rectified``: ``signxai_captum.lrp._engine.RECTIFIED_DENOMINATORS``; a convolution with a
  z/epsilon-family rule or a batch norm whose output feeds only a ReLU keeps the ReLU's output for
  its denominator instead of its own output (docs/performance.md, *Memory*). Peak memory needs one
  fresh process per measurement: ``benchmarks/lrp_torch.py --memory-of METHOD`` with and without
  ``--keep-outputs``.

A new engine switch (a module-level flag read on every call) gets its A/B by one more entry in
``SWITCHES``; docs/performance.md, *Element-wise arithmetic in blocks (tried, not kept)*, was
measured that way.

Every round calls the raw autograd gradient and each method with the switch on and off, starting
one call later each round; printed: the median per call, its ratio to the raw gradient, and whether
the two maps are identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lrp_torch  # noqa: E402

from signxai_captum.lrp import _engine  # noqa: E402

SWITCHES = {"rectified": (_engine, "RECTIFIED_DENOMINATORS")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switch", choices=sorted(SWITCHES), default="rectified")
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet50"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["lrp_epsilon_0_1", "lrpsign_epsilon_0_1",
                                                          "lrp_sequential_composite_b"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    module, attribute = SWITCHES[args.switch]
    print(f"switch {args.switch} ({module.__name__}.{attribute}); torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"{args.size}x{args.size}, median of {args.rounds}")
    for name in args.models:
        model, x, target = lrp_torch._setup(name, args.batch, args.size, torch.device("cpu"), True)
        raw = lrp_torch._attribution(model, "raw_autograd", name)
        calls = {"raw": lambda: raw.attribute(x, target=target)}
        for method in args.methods:
            attribution = lrp_torch._attribution(model, method, name)
            for flag in (True, False):
                def call(a=attribution, f=flag):
                    setattr(module, attribute, f)
                    try:
                        return a.attribute(x, target=target)
                    finally:
                        setattr(module, attribute, True)
                calls[f"{method} {'on' if flag else 'off'}"] = call
        maps = {key: call() for key, call in calls.items()}  # warm-up
        times: dict[str, list[float]] = {key: [] for key in calls}
        keys = list(calls)
        for round_ in range(args.rounds):
            for key in keys[round_ % len(keys):] + keys[: round_ % len(keys)]:
                start = time.perf_counter()
                calls[key]()
                times[key].append(time.perf_counter() - start)
        base = statistics.median(times["raw"])
        print(f"\n{name}: raw gradient {base * 1e3:.0f} ms")
        for method in args.methods:
            on, off = (statistics.median(times[f"{method} {s}"]) for s in ("on", "off"))
            same = torch.equal(maps[f"{method} on"], maps[f"{method} off"])
            print(f"  {method:30s} on {on / base:.2f}  off {off / base:.2f}  maps identical: {same}")


if __name__ == "__main__":
    main()
