"""Device-agnostic checks of the PyTorch hot paths (issue 14): no host round trips that grow with
the work, and the static sign knowledge of the LRP engine gives the maps of the value check.

A host synchronisation is an ``aten::_local_scalar_dense`` call (``bool(t)``, ``float(t)``,
``t.item()``); on a GPU each one stalls the pipeline. They are counted with a dispatch mode, which
works on every device, so these tests run on the CPU in CI and on every CUDA device when there is one.
"""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import signxai_captum
from signxai_captum.lrp import _engine
from signxai_captum.lrp.rules import AlphaBeta, AlphaBetaX

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class _HostSyncs(TorchDispatchMode):
    """Counts the operations that read a tensor value on the host."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.devices: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ == "_local_scalar_dense":
            self.count += 1
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                self.devices[value.device.type] += 1
        return out


def _cnn(depth: int, activation: type[nn.Module] = nn.ReLU) -> nn.Module:
    torch.manual_seed(depth)
    layers: list[nn.Module] = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), activation()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), activation()]
    layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 16), activation(), nn.Linear(16, 5)]
    model = nn.Sequential(*layers).eval()
    with torch.no_grad():  # batch-norm statistics away from (0, 1) so that the rule does something
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return model


def _syncs(model: nn.Module, x: torch.Tensor, name: str, **params) -> tuple[int, collections.Counter]:
    with _HostSyncs() as mode:
        signxai_captum.explain(model, x, name, target=[1, 2], **params)
    return mode.count, mode.devices


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0",
                                  "lrp_sequential_composite_b", "gradient", "grad_cam"])
def test_host_synchronisations_do_not_grow_with_depth(device, name):
    """LRP after ReLUs reads no value on the host per layer: a 3-layer and a 9-layer network
    synchronise equally often, and every tensor stays on the model's device."""
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)).to(device)
    shallow, shallow_devices = _syncs(_cnn(3).to(device), x, name)
    deep, deep_devices = _syncs(_cnn(9).to(device), x, name)
    assert deep == shallow, f"{name}: {shallow} host reads with 3 layers, {deep} with 9"
    assert set(shallow_devices) | set(deep_devices) == {device}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, key", [("integrated_gradients", "steps"), ("smoothgrad", "samples")])
def test_host_synchronisations_do_not_grow_with_steps(device, name, key):
    model = _cnn(3).to(device)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)).to(device)
    few, _ = _syncs(model, x, name, **{key: 4})
    many, devices = _syncs(model, x, name, **{key: 16})
    assert few == many and set(devices) == {device}


def _alpha_beta_calls(monkeypatch, model, x, name):
    """(path, nonnegative_input) of every AlphaBeta/AlphaBetaX call, and the map."""
    seen: list[tuple[str, bool]] = []
    for cls in (AlphaBeta, AlphaBetaX):
        original = cls.relevance

        def spy(self, call, relevance, _original=original):
            seen.append((call.path, call.nonnegative_input))
            return _original(self, call, relevance)

        monkeypatch.setattr(cls, "relevance", spy)
    result = signxai_captum.explain(model, x, name, target=[1, 2, 3])
    monkeypatch.undo()
    return seen, result


@pytest.mark.parametrize("name", ["lrp_alpha_1_beta_0", "lrp_alpha_2_beta_1", "lrp_sequential_composite_b"])
def test_static_sign_knowledge_gives_the_maps_of_the_value_check(monkeypatch, name):
    """Layers fed by a ReLU (through max pooling and flattening) skip the look at their input's
    values; the maps are bit-identical to those of the value check on every layer."""
    model = _cnn(4)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    seen, fast = _alpha_beta_calls(monkeypatch, model, x, name)
    flags = dict(seen)
    # layers after a ReLU (conv 3, 6, 9 after BN+ReLU; the Linear layers after MaxPool+Flatten and a ReLU)
    assert flags.get("3") is True and flags.get("9") is True
    if name != "lrp_sequential_composite_b":  # there the Linear layers have the epsilon rule
        assert flags["14"] is True and flags["16"] is True
    assert flags.get("0", False) is False  # the model input can be negative
    monkeypatch.setattr(_engine, "_is_nonnegative", lambda tensor: False)
    checked = signxai_captum.explain(model, x, name, target=[1, 2, 3])
    monkeypatch.undo()
    assert (fast == checked).all()


@pytest.mark.parametrize("activation", [nn.LeakyReLU, nn.Tanh, nn.Identity])
def test_inputs_that_can_be_negative_are_not_marked(monkeypatch, activation):
    """After activations with negative outputs (and after a batch norm) the rule looks at the values."""
    model = _cnn(3, activation)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    seen, _ = _alpha_beta_calls(monkeypatch, model, x, "lrp_alpha_2_beta_1")
    assert seen and not any(flag for _, flag in seen)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("name", ["lrp_epsilon_0_1", "lrp_alpha_1_beta_0", "gradient", "integrated_gradients"])
def test_cuda_maps_equal_cpu_maps(name):
    model = _cnn(3)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    cpu = signxai_captum.explain(model, x, name, target=[1, 2])
    gpu = signxai_captum.explain(model.cuda(), x.cuda(), name, target=[1, 2])
    scale = float(abs(cpu).max())
    assert abs(gpu - cpu).max() <= 1e-4 * scale
