"""LRP on PyTorch: time and peak memory relative to a plain gradient, on VGG16, ResNet-18 and others.

Usage::

    python benchmarks/lrp_torch.py [--batch 8] [--size 224] [--repeats 3] [--models vgg16 resnet18 mobilenet_v2 ...]
                                   [--device cpu|cuda] [--threads N] [--peers zennit captum | --no-peers]

For each model (torchvision, ``weights=None``, batch-norm statistics calibrated on random data so that
activations have the scale of a trained model; ``--random-bn`` keeps the initial (0, 1) statistics)
the raw autograd input gradient of the selected logits (``raw_autograd``: the reference of every
ratio), the plain gradient through our wrapper (``gradient``, ``signxai_captum.Gradient``) and the
LRP methods are timed in one process on the same batch:
one warm-up call each, then ``--repeats`` rounds over all methods (round robin, so that load from
other processes spreads evenly; each round starts one method later, so that no method always
follows the same one) and the median per method. Peak memory of one call: on CUDA
``torch.cuda.max_memory_allocated`` above the level before the call; on CPU (where freed memory
stays with the allocator, so in-process numbers mislead) each method runs once more in a fresh
subprocess on the same seeded batch, and the peak resident set size above the level before the
call is reported (sampled every millisecond from ``/proc/self/statm``). The first table also lists
the minor page faults per call (median; ``resource.getrusage``): on CPU, fresh pages from the
allocator cost as much as arithmetic, and their count says how much of a ratio is the machine's
paging (docs/performance.md, *Page faults*).
Targets: the epsilon family within 2x of the raw gradient, alpha-beta within 4x. MobileNetV2 and
EfficientNet-B0 run through the torch.fx view (functional residual sums, functional pooling,
squeeze-excitation gates, StochasticDepth); ``--no-memory`` skips the memory measurement.

Peers (``--peers zennit captum``, the default; ``--no-peers`` skips them): the same LRP computations
in zennit and Captum, timed in the same round robin, on the same batch, with the same seed
(the selected logit ``f_c``, the other outputs 0):

* zennit: ``zennit.attribution.Gradient(model_copy, composite)`` with a
  ``zennit.composites.LayerMapComposite`` built from zennit's public rules: its
  ``layer_map_base()`` (as in its built-in composites: activations pass, ``Norm``, the Z rule, on
  average pooling and on the residual sums, which is also our treatment) followed by
  ``lrp_epsilon_0_1``: ``Epsilon(0.1)`` on ``zennit.types.Convolution`` and ``zennit.types.Linear``;
  ``lrp_alpha_1_beta_0``: ``AlphaBeta(1, 0)`` on both; ``lrp_sequential_composite_b``:
  ``AlphaBeta(2, 1)`` on convolutions and ``Epsilon(0.1)`` on Linear. The output relevance is passed
  as ``attr_output``: the one-hot of the target scaled by its logit. The composite is registered
  once on a private deep copy of the model (``with Gradient(...) as attributor:`` around a loop of
  batches, zennit's usual use), so registration is not timed. ResNets get zennit's
  ``zennit.torchvision.ResNetCanonizer`` (batch norms merged into the convolutions before them),
  other models with batch norms ``zennit.canonizers.SequentialMergeBatchNorm``. Our engine handles
  batch norm with its own rule (docs/semantics.md §4.2), so on models with batch norms the maps of
  the two differ (on the random-weight, calibrated ResNets here by the order of the maps
  themselves); there the timing is what is compared.
* Captum: ``captum.attr.LRP`` on a deep copy of the model (it sets ``.rule`` attributes and hooks)
  with ``EpsilonRule(epsilon=0.1)`` on every ``Conv2d`` and ``Linear`` and Captum's defaults
  elsewhere (max pooling: ``EpsilonRule(1e-9)``, which is its winner-take-all gradient up to 1e-9),
  for ``lrp_epsilon_0_1`` on VGG16 only: Captum's LRP has no rule for the skip connections of a
  ResNet (reported as n/a).

``--fused`` adds a row ``fused:<method>`` per LRP method: the same method with the rules'
element-wise arithmetic fused by ``torch.compile`` (``signxai_captum.lrp.rules.FUSE_ELEMENTWISE``,
off by default), its first call (compile included) reported apart and its map compared with the
eager one.

Once per model and peer method the maps are compared with ours (max |ours - peer| / max |peer|
over the batch); for the AlphaBeta methods our map is computed with ``alpha_beta_bias="split"``
(zennit's bias form: ``b+`` in ``z+``, ``b-`` in ``z-``), the timed call uses our default. On VGG16
(no batch norm) they agree to about 1e-5 or better, the LRP-epsilon map of Captum too. A final
table per model lists ms per call, the ratio to ``raw_autograd`` and ``ours / zennit`` per
composite (target: <= 0.5), then the same numbers as one Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

import torch
import torchvision

from signxai_captum import Gradient, attribution_for
from signxai_captum.lrp import rules as lrp_rules

MODELS = ["vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
          "convnext_tiny"]
METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_a",
           "lrp_sequential_composite_b"]
PEERS = ["zennit", "captum"]
# the methods each peer computes with the same rules as ours (see the module docstring)
PEER_METHODS = {
    "zennit": ["lrp_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_b"],
    "captum": ["lrp_epsilon_0_1"],
}
CAPTUM_MODELS = {"vgg16"}  # Captum's LRP has no rule for residual sums (ResNet) or functional operations
ALPHA_BETA_METHODS = {"lrp_alpha_1_beta_0", "lrp_sequential_composite_a", "lrp_sequential_composite_b"}
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


def _minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing, e.g. Windows)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


def _time_once(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, int]:
    """Wall time of one call (synchronised on CUDA) and the minor page faults it caused.

    Every fault is a fresh 4 KiB page the kernel maps and zeroes: glibc's malloc hands tensors
    above its mmap threshold (32 MiB at most) fresh pages on every allocation and returns freed
    memory at the heap top to the system, so on CPU a call that allocates more than the raw
    gradient can pay for it in faults as much as in arithmetic (docs/performance.md, *Page faults*).
    """
    if device.type == "cuda":
        torch.cuda.synchronize()
    faults = _minor_faults()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, _minor_faults() - faults


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


class _ZennitLRP:
    """zennit's ``Gradient`` attributor with the composite equivalent to one of our method names.

    The composite is registered once on a private deep copy of the model and stays registered.
    """

    def __init__(self, model: torch.nn.Module, model_name: str, method: str) -> None:
        from zennit.attribution import Gradient as ZennitGradient
        from zennit.composites import LayerMapComposite, layer_map_base
        from zennit.rules import AlphaBeta, Epsilon
        from zennit.types import Convolution, Linear

        layer_maps = {
            "lrp_epsilon_0_1": [(Convolution, Epsilon(epsilon=0.1)), (Linear, Epsilon(epsilon=0.1))],
            "lrp_alpha_1_beta_0": [(Convolution, AlphaBeta(alpha=1.0, beta=0.0)),
                                   (Linear, AlphaBeta(alpha=1.0, beta=0.0))],
            "lrp_sequential_composite_b": [(Convolution, AlphaBeta(alpha=2.0, beta=1.0)),
                                           (Linear, Epsilon(epsilon=0.1))],
        }
        if method not in layer_maps:
            raise ValueError(f"no zennit equivalent of {method!r} here; one of {', '.join(layer_maps)}")
        self.model = copy.deepcopy(model)
        # zennit's base map first, as in its built-in composites: activations pass, Norm (the Z rule) on its
        # Sum (the canonized residual additions) and on average pooling. The first matching entry wins
        # (zennit.types.Linear also covers convolutions, so Convolution comes before it).
        layer_map = layer_map_base() + layer_maps[method]
        composite = LayerMapComposite(layer_map=layer_map, canonizers=_zennit_canonizers(model_name, model))
        self.attributor = ZennitGradient(self.model, composite)
        self.attributor.__enter__()  # registers the composite (and applies the canonizers) on the copy

    def attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        def seed(out: torch.Tensor) -> torch.Tensor:  # one-hot of the target scaled by its logit (our LRP seed)
            out = out.detach()
            index = target[:, None]
            return torch.zeros_like(out).scatter_(1, index, out.gather(1, index))

        result = self.attributor(x.detach(), seed)
        return result[1] if isinstance(result, tuple) else result


def _zennit_canonizers(model_name: str, model: torch.nn.Module) -> list | None:
    """ResNetCanonizer for ResNets, SequentialMergeBatchNorm for other models with batch norms, else none."""
    if model_name.startswith("resnet"):
        from zennit.torchvision import ResNetCanonizer
        return [ResNetCanonizer()]
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        from zennit.canonizers import SequentialMergeBatchNorm
        return [SequentialMergeBatchNorm()]
    return None


class _CaptumLRP:
    """``captum.attr.LRP`` with ``EpsilonRule(0.1)`` on every Conv2d and Linear, on a deep copy of the model."""

    def __init__(self, model: torch.nn.Module, method: str) -> None:
        from captum.attr import LRP as CaptumLRP
        from captum.attr._utils.lrp_rules import EpsilonRule

        if method != "lrp_epsilon_0_1":
            raise ValueError(f"no Captum equivalent of {method!r} here; only 'lrp_epsilon_0_1'")
        self.model = copy.deepcopy(model)
        for module in self.model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.rule = EpsilonRule(epsilon=0.1)
        self.lrp = CaptumLRP(self.model)

    def attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.lrp.attribute(x.detach().requires_grad_(True), target=target)


class _FusedLRP:
    """One of our methods with ``FUSE_ELEMENTWISE`` switched on for the call (restored after it)."""

    def __init__(self, model: torch.nn.Module, method: str) -> None:
        self.attribution = attribution_for(model, method)

    def attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        before, lrp_rules.FUSE_ELEMENTWISE = lrp_rules.FUSE_ELEMENTWISE, True
        try:
            return self.attribution.attribute(x, target=target)
        finally:
            lrp_rules.FUSE_ELEMENTWISE = before


def _attribution(model: torch.nn.Module, method: str, model_name: str = "", **params: object):
    """The attribution object of a row: ours, the raw gradient, ``'fused:<method>'``, or
    ``'zennit:<method>'`` / ``'captum:<method>'``."""
    if method.startswith("fused:"):
        return _FusedLRP(model, method.split(":", 1)[1])
    if method == "raw_autograd":
        return _RawGradient(model)
    if method.startswith("zennit:"):
        return _ZennitLRP(model, model_name, method.split(":", 1)[1])
    if method.startswith("captum:"):
        return _CaptumLRP(model, method.split(":", 1)[1])
    return Gradient(model) if method == "gradient" else attribution_for(model, method, **params)


def _peer_methods(model_name: str, peers: list[str]) -> list[str]:
    """The peer rows run for a model: ``'zennit:<method>'``, ``'captum:<method>'``."""
    rows = []
    for peer in peers:
        if peer == "captum" and model_name not in CAPTUM_MODELS:
            continue
        rows += [f"{peer}:{method}" for method in PEER_METHODS[peer]]
    return rows


def _memory_in_subprocess(name: str, method: str, args: argparse.Namespace) -> int:
    command = [
        sys.executable, os.path.abspath(__file__), "--models", name, "--batch", str(args.batch),
        "--size", str(args.size), "--threads", str(torch.get_num_threads()), "--memory-of", method,
    ]
    if args.random_bn:
        command.append("--random-bn")
    if args.keep_outputs:
        command.append("--keep-outputs")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])


def _memory_child(args: argparse.Namespace) -> None:
    name = args.models[0]
    model, x, target = _setup(name, args.batch, args.size, torch.device("cpu"), not args.random_bn)
    attribution = _attribution(model, args.memory_of, name)
    with _PeakRSS() as rss:
        attribution.attribute(x, target=target)
    print(rss.delta)


def _max_relative_difference(ours: torch.Tensor, peer: torch.Tensor) -> float:
    """max |ours - peer| / max |peer| over the whole batch."""
    ours, peer = ours.detach().double().cpu(), peer.detach().double().cpu()
    scale = peer.abs().max().item()
    return (ours - peer).abs().max().item() / scale if scale > 0 else float((ours - peer).abs().max().item())


_LABELS = {"lrp_epsilon_0_1": "LRP-ε", "lrpsign_epsilon_0_1": "LRP-SIGN-ε", "lrp_alpha_1_beta_0": "αβ(1,0)",
           "lrp_sequential_composite_a": "composite A", "lrp_sequential_composite_b": "composite B"}
_MODEL_LABELS = {"vgg16": "VGG16", "resnet18": "ResNet-18", "resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2",
                 "mobilenet_v3_small": "MobileNetV3-S", "efficientnet_b0": "EfficientNet-B0",
                 "densenet121": "DenseNet-121", "convnext_tiny": "ConvNeXt-T"}


def _peer_cell(times: dict[str, float], raw: float, peer: str, method: str, model_name: str,
               peers: list[str]) -> str:
    key = f"{peer}:{method}"
    if key in times:
        return f"{times[key] * 1e3:.0f} ms ({times[key] / raw:.2f}x)"
    if peer not in peers:
        return "(not run)"
    if peer == "captum" and method in PEER_METHODS["captum"] and model_name not in CAPTUM_MODELS:
        return "n/a"
    return "–"


def _ratio_cell(times: dict[str, float], method: str) -> str:
    key = f"zennit:{method}"
    if key not in times or method not in times:
        return "–"
    ratio = times[method] / times[key]
    return f"{ratio:.2f} ({'met' if ratio <= 0.5 else 'MISSED'})"


def _print_comparison(name: str, times: dict[str, float], peers: list[str]) -> None:
    """The side-by-side table of one model: ms per call, ratio to raw_autograd, ours / zennit."""
    raw = times["raw_autograd"]
    print(f"\n  {name}: side by side, ms per call (ratio to raw_autograd = {raw * 1e3:.0f} ms; "
          f"ours ÷ zennit target <= 0.5)")
    fused = any(key.startswith("fused:") for key in times)
    print(f"  {'method':14s} {'ours':>20s}" + (f" {'ours, fused':>20s}" if fused else "")
          + f" {'zennit':>20s} {'Captum':>20s} {'ours ÷ zennit':>16s}")
    for method in METHODS:
        ours = f"{times[method] * 1e3:.0f} ms ({times[method] / raw:.2f}x)"
        key = f"fused:{method}"
        fused_cell = f" {times[key] * 1e3:.0f} ms ({times[key] / raw:.2f}x)".rjust(21) if fused else ""
        print(f"  {_LABELS[method]:14s} {ours:>20s}{fused_cell} {_peer_cell(times, raw, 'zennit', method, name, peers):>20s} "
              f"{_peer_cell(times, raw, 'captum', method, name, peers):>20s} {_ratio_cell(times, method):>16s}")


def _markdown(results: dict[str, dict[str, float]], peers: list[str]) -> str:
    """The numbers of all models as one Markdown table in the layout of the issue."""
    def ours(t: dict[str, float], m: str) -> str:
        return f"{t[m] * 1e3:.0f} ms ({t[m] / t['raw_autograd']:.2f}x)"

    def peer(name: str, t: dict[str, float], p: str, m: str) -> str:
        return _peer_cell(t, t["raw_autograd"], p, m, name, peers)

    def ratio(t: dict[str, float], m: str) -> str:
        key = f"zennit:{m}"
        return f"{t[m] / t[key]:.2f}" if key in t else "–"

    lines = ["| PyTorch | ours | zennit | Captum | ours ÷ zennit |", "|---|---|---|---|---|"]
    eps, sign, ab, comp_b = ("lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0",
                             "lrp_sequential_composite_b")
    for name, t in results.items():
        label = _MODEL_LABELS.get(name, name)
        if name.startswith("vgg"):
            lines.append(f"| {label} LRP-ε | {ours(t, eps)} | {peer(name, t, 'zennit', eps)} | "
                         f"{peer(name, t, 'captum', eps)} | {ratio(t, eps)} |")
            lines.append(f"| {label} LRP-SIGN-ε | {ours(t, sign)} | – | – | – |")
        else:
            lines.append(f"| {label} LRP-ε / LRP-SIGN-ε | {ours(t, eps)} / {ours(t, sign)} | "
                         f"{peer(name, t, 'zennit', eps)} | {peer(name, t, 'captum', eps)} | {ratio(t, eps)} |")
        lines.append(f"| {label} αβ(1,0) / composite B | {ours(t, ab)} / {ours(t, comp_b)} | "
                     f"{peer(name, t, 'zennit', ab)} / {peer(name, t, 'zennit', comp_b)} | – | "
                     f"{ratio(t, ab)} / {ratio(t, comp_b)} |")
    return "\n".join(lines)


def _check_maps(name: str, model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor,
                maps: dict[str, torch.Tensor], peer_rows: list[str]) -> None:
    """Print max |ours - peer| / max |peer| for every peer row (AlphaBeta: ours in the split bias form)."""
    if not peer_rows:
        return
    has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if has_bn:
        note = "  (batch norms: our rule differs from zennit's merged batch norm, the maps need not agree)"
    else:
        note = "  (no batch norm: expected ~1e-5 or less)"
    print(f"  map agreement, max |ours - peer| / max |peer|{note}")
    split_maps: dict[str, torch.Tensor] = {}
    for row in peer_rows:
        method = row.split(":", 1)[1]
        if method in ALPHA_BETA_METHODS:
            if method not in split_maps:
                split_maps[method] = attribution_for(model, method, alpha_beta_bias="split").attribute(x, target=target)
            ours, form = split_maps[method], ' (ours with alpha_beta_bias="split")'
        else:
            ours, form = maps[method], ""
        print(f"    {row:38s} {_max_relative_difference(ours, maps[row]):10.2e}{form}")


def _versions(peers: list[str]) -> str:
    found = []
    for peer in peers:
        try:
            found.append(f"{peer} {importlib.metadata.version(peer)}")
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"--peers {peer}: the package {peer!r} is not installed (pip install {peer}, "
                             f"or run with --no-peers)")
    return ", ".join(found)


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
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS,
                        help="other libraries to time side by side (default: zennit captum)")
    parser.add_argument("--no-peers", action="store_true", help="time our methods only")
    parser.add_argument("--fused", action="store_true",
                        help="also time every LRP method with FUSE_ELEMENTWISE on (torch.compile'd rules)")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="switch off the rectified denominators (every layer keeps its own output), for A/B")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keep_outputs:
        from signxai_captum.lrp import _engine

        _engine.RECTIFIED_DENOMINATORS = False
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_of:
        _memory_child(args)
        return
    peers = [] if args.no_peers else list(dict.fromkeys(args.peers))
    device = torch.device(args.device)
    versions = _versions(peers)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.size}x{args.size}, median of {args.repeats}"
          + (f"; peers: {versions}" if peers else "; no peers"))
    results: dict[str, dict[str, float]] = {}
    for name in args.models:
        model, x, target = _setup(name, args.batch, args.size, device, not args.random_bn)
        peer_rows = _peer_methods(name, peers)
        fused_rows = [f"fused:{m}" for m in METHODS] if args.fused else []
        methods = ["raw_autograd", "gradient"] + METHODS + fused_rows + peer_rows
        calls = {m: (lambda a=_attribution(model, m, name): a.attribute(x, target=target)) for m in methods}
        print(f"{name}: warm-up", file=sys.stderr, flush=True)  # progress on stderr, the tables on stdout
        maps, first = {}, {}
        for m, call in calls.items():  # warm-up; the maps serve the agreement check
            start = time.perf_counter()
            maps[m] = call()
            first[m] = time.perf_counter() - start
        # round robin over the methods, so that load from other processes spreads over all of them
        times: dict[str, list[float]] = {m: [] for m in methods}
        faults: dict[str, list[int]] = {m: [] for m in methods}
        for round_ in range(args.repeats):
            print(f"{name}: round {round_ + 1} of {args.repeats}", file=sys.stderr, flush=True)
            # each round starts one method later: in one run the method right after the gradients read
            # 0.3 of a raw gradient higher than a method with the same passes (docs/performance.md)
            shift = round_ % len(methods)
            for method in methods[shift:] + methods[:shift]:
                seconds, page_faults = _time_once(calls[method], device)
                times[method].append(seconds)
                faults[method].append(page_faults)
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
        print(f"  {'method':38s} {'time [s]':>9s} {'x raw':>7s} {'peak mem [MiB]':>15s} {'x raw':>7s} "
              f"{'page faults/call':>17s}")
        for method, t, mem in rows:
            print(f"  {method:38s} {t:9.3f} {t / raw_time:7.2f} {mem / 2**20:15.1f} {mem / max(grad_mem, 1):7.2f} "
                  f"{statistics.median(faults[method]):17.0f}")
        for row in fused_rows:
            method = row.split(":", 1)[1]
            steady = statistics.median(times[row])
            print(f"  {row:38s} first call {first[row]:7.2f} s (steady {steady:.3f} s: compiling "
                  f"~{first[row] - steady:.1f} s); max |fused - eager| / max |eager| "
                  f"{_max_relative_difference(maps[row], maps[method]):.1e}")
        _check_maps(name, model, x, target, maps, peer_rows)
        results[name] = {method: t for method, t, _ in rows}
        _print_comparison(name, results[name], peers)
        del calls, maps
    print("\n" + _markdown(results, peers))


if __name__ == "__main__":
    main()
