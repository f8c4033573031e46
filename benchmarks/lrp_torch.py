"""LRP on PyTorch: time and peak memory relative to a plain gradient, on VGG16, ResNet-18 and others.

Usage::

    python benchmarks/lrp_torch.py [--batch 8] [--size 224] [--repeats 3] [--models vgg16 resnet18 mobilenet_v2 ...]
                                   [--device cpu|cuda] [--threads N]

For each model (torchvision, ``weights=None``, batch-norm statistics calibrated on random data so that
activations have the scale of a trained model; ``--random-bn`` keeps the initial (0, 1) statistics)
the raw autograd input gradient of the selected logits (``raw_autograd``: the reference of every
ratio), the plain gradient through our wrapper (``gradient``, ``signxai_captum.Gradient``) and the
LRP methods are timed in one process on the same batch:
one warm-up call each, then ``--repeats`` rounds over all methods (round robin, so that load from
other processes spreads evenly) and the median per method. Peak memory of one call: on CUDA
``torch.cuda.max_memory_allocated`` above the level before the call; on CPU (where freed memory
stays with the allocator, so in-process numbers mislead) each method runs once more in a fresh
subprocess on the same seeded batch, and the peak resident set size above the level before the
call is reported (sampled every millisecond from ``/proc/self/statm``).
Targets: the epsilon family within 2x of the raw gradient, alpha-beta within 4x. MobileNetV2 and
EfficientNet-B0 run through the torch.fx view (functional residual sums, functional pooling,
squeeze-excitation gates, StochasticDepth); ``--no-memory`` skips the memory measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable

import torch
import torchvision

from signxai_captum import Gradient, attribution_for

MODELS = ["vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
          "convnext_tiny"]
METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_a"]
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class _PeakRSS:
    """Peak resident set size above the starting level, sampled in a background thread."""

    def __enter__(self) -> "_PeakRSS":
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def delta(self) -> int:
        return self.peak - self.start


def _time_once(fn: Callable[[], torch.Tensor], device: torch.device) -> float:
    """Wall time of one call (synchronised on CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _cuda_peak(fn: Callable[[], torch.Tensor]) -> int:
    """Peak CUDA memory of one call above the level before it."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def _calibrate_batch_norm(model: torch.nn.Module, size: int) -> None:
    """Give the batch norms the statistics of their inputs, as training would (random data, 3 batches).

    With ``weights=None`` the running statistics are (0, 1) whatever the layer sees, so activations
    shrink layer after layer; on EfficientNet-B0 the LRP relevance then becomes subnormal (below
    1.2e-38) and every convolution on it runs ~50x slower on x86 CPUs. Trained models do not do this.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # cumulative average
    model.train()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, size, size, generator=generator))
    model.eval()


def _setup(name: str, batch: int, size: int, device: torch.device, calibrate: bool = True):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    if calibrate:
        _calibrate_batch_norm(model, size)
    model = model.eval().to(device)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device)
    target = torch.arange(batch, device=device) % 1000
    return model, x, target


class _RawGradient:
    """The plain autograd input gradient of the selected logits, without any wrapper."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        out = self.model(x)
        return torch.autograd.grad(out.gather(1, target[:, None]).sum(), x)[0]


def _attribution(model: torch.nn.Module, method: str):
    if method == "raw_autograd":
        return _RawGradient(model)
    return Gradient(model) if method == "gradient" else attribution_for(model, method)


def _memory_in_subprocess(name: str, method: str, args: argparse.Namespace) -> int:
    command = [
        sys.executable, os.path.abspath(__file__), "--models", name, "--batch", str(args.batch),
        "--size", str(args.size), "--threads", str(torch.get_num_threads()), "--memory-of", method,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])


def _memory_child(args: argparse.Namespace) -> None:
    model, x, target = _setup(args.models[0], args.batch, args.size, torch.device("cpu"), not args.random_bn)
    attribution = _attribution(model, args.memory_of)
    with _PeakRSS() as rss:
        attribution.attribute(x, target=target)
    print(rss.delta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["vgg16", "resnet18"], choices=MODELS)
    parser.add_argument("--no-memory", action="store_true", help="time only (no peak-memory subprocesses)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--random-bn", action="store_true",
                        help="keep the batch norms' initial statistics (0, 1) instead of calibrating them")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_of:
        _memory_child(args)
        return
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.size}x{args.size}, median of {args.repeats}")
    for name in args.models:
        model, x, target = _setup(name, args.batch, args.size, device, not args.random_bn)
        methods = ["raw_autograd", "gradient"] + METHODS
        calls = {m: (lambda a=_attribution(model, m): a.attribute(x, target=target)) for m in methods}
        for call in calls.values():  # warm-up
            call()
        # round robin over the methods, so that load from other processes spreads over all of them
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.repeats):
            for method, call in calls.items():
                times[method].append(_time_once(call, device))
        rows = []
        for method in methods:
            if args.no_memory:
                mem = 0
            elif device.type == "cpu":
                mem = _memory_in_subprocess(name, method, args)
            else:
                mem = _cuda_peak(calls[method])
            rows.append((method, statistics.median(times[method]), mem))
        raw_time, grad_mem = rows[0][1], rows[0][2]
        print(f"\n{name}")
        print(f"  {'method':30s} {'time [s]':>9s} {'x raw':>7s} {'peak mem [MiB]':>15s} {'x raw':>7s}")
        for method, t, mem in rows:
            print(f"  {method:30s} {t:9.3f} {t / raw_time:7.2f} {mem / 2**20:15.1f} {mem / max(grad_mem, 1):7.2f}")


if __name__ == "__main__":
    main()
