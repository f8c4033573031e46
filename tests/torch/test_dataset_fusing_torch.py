"""``signxai_captum.explain_dataset(..., fuse=...)``: fused LRP kernels for long data-set runs (issue 14).

``fuse=None`` (default) leaves :data:`signxai_captum.lrp.rules.FUSE_ELEMENTWISE` as it is and turns it
on for the rest of a run once the run is estimated (from the chunks done so far) to take
``FUSE_AFTER_SECONDS`` or more, for a CPU model where a C++ compiler is found; ``True`` / ``False``
set it for the run. The flag is restored afterwards, also when the run fails. Checked here:

- the decision per chunk (recorded by a stand-in for ``explain`` that reads the flag), for arrays and
  for iterables without a length, with the threshold at 0 and out of reach;
- no switch for a model off the CPU, without a compiler, after a compile failure, or when the caller
  decided (``True`` / ``False`` against the flag's own value);
- the maps of a run that switched on are the eager maps of one :func:`explain` call (a batch-norm
  network, LRP-epsilon and composite B, the fused kernels really compiled).
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import signxai_captum  # noqa: E402
from shared_spec import MethodParameterError  # noqa: E402
from signxai_captum import _explain  # noqa: E402
from signxai_captum.lrp import rules  # noqa: E402


@pytest.fixture
def recorded(monkeypatch):
    """A stand-in for ``explain`` that records the flag per chunk (and computes nothing)."""
    flags: list[bool] = []

    def fake_explain(model, x, method_name, target=None, **params):
        flags.append(rules.FUSE_ELEMENTWISE)
        return np.zeros(np.shape(x), dtype=np.float32)

    monkeypatch.setattr(_explain, "explain", fake_explain)
    monkeypatch.setattr(rules, "FUSE_ELEMENTWISE", False)
    monkeypatch.setattr(rules, "_FUSE_FAILED", [])
    monkeypatch.setattr(_explain, "_has_cpp_compiler", lambda: True)
    return flags


def _model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).eval()


DATA = np.zeros((10, 3, 2, 2), dtype=np.float32)


def test_a_long_run_switches_fusing_on_after_the_first_chunk_and_restores_it(recorded, monkeypatch, caplog):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger=_explain.__name__):
        signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=3, progress=False)
    assert recorded == [False, True, True, True]
    assert rules.FUSE_ELEMENTWISE is False
    messages = [r.getMessage() for r in caplog.records if r.name == _explain.__name__]
    assert len(messages) == 1 and "fused kernels after 3 samples" in messages[0]


def test_a_short_run_stays_eager(recorded, monkeypatch):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 1e9)
    signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=3, progress=False)
    assert recorded == [False] * 4


def _ticking(monkeypatch, step: float = 1.0) -> None:
    """A clock that advances by ``step`` seconds at every reading."""
    ticks = itertools.count()
    monkeypatch.setattr(_explain, "_clock", lambda: step * next(ticks))


def test_the_estimate_uses_the_size_of_the_data_set(recorded, monkeypatch):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 5.0)
    _ticking(monkeypatch)  # each chunk of one sample "takes" 1 s
    signxai_captum.explain_dataset(_model(), DATA[:4], "lrp_epsilon_0_1", batch_size=1, progress=False)
    assert recorded == [False] * 4  # 4 samples: estimated at 4 s after every chunk
    recorded.clear()
    _ticking(monkeypatch)
    signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=1, progress=False)
    assert recorded == [False] + [True] * 9  # 10 samples: estimated at 10 s after the first


def test_an_iterable_without_a_length_switches_on_by_the_time_taken(recorded, monkeypatch):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 3.0)
    _ticking(monkeypatch, 2.0)
    batches = (DATA[i : i + 2] for i in range(0, 8, 2))  # a generator: no length
    signxai_captum.explain_dataset(_model(), batches, "lrp_epsilon_0_1", progress=False)
    assert recorded == [False, False, True, True]  # 2 s after the first chunk (< 3), 4 s after the second
    assert rules.FUSE_ELEMENTWISE is False


@pytest.mark.parametrize("fuse, flag, expected", [(True, False, True), (False, True, False), (None, True, True)])
def test_the_callers_choice_holds_for_the_run(recorded, monkeypatch, fuse, flag, expected):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(rules, "FUSE_ELEMENTWISE", flag)
    signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=5, progress=False, fuse=fuse)
    assert recorded == [expected, expected]
    assert rules.FUSE_ELEMENTWISE is flag


def test_no_switch_without_a_compiler_off_the_cpu_or_after_a_compile_failure(recorded, monkeypatch):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(_explain, "_has_cpp_compiler", lambda: False)
    signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=5, progress=False)
    monkeypatch.setattr(_explain, "_has_cpp_compiler", lambda: True)
    meta = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, device="meta"))
    signxai_captum.explain_dataset(meta, DATA, "lrp_epsilon_0_1", batch_size=5, progress=False)
    monkeypatch.setattr(rules, "_FUSE_FAILED", ["RuntimeError: no compiler"])
    signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", batch_size=5, progress=False)
    assert recorded == [False] * 6


def test_the_flag_is_restored_when_the_run_fails(recorded, monkeypatch):
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 0.0)

    def batches():
        yield DATA[:2]
        yield DATA[2:4]
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        signxai_captum.explain_dataset(_model(), batches(), "lrp_epsilon_0_1", progress=False)
    assert recorded == [False, True]
    assert rules.FUSE_ELEMENTWISE is False
    with pytest.raises(OSError):
        signxai_captum.explain_dataset(_model(), batches(), "lrp_epsilon_0_1", progress=False, fuse=True)
    assert rules.FUSE_ELEMENTWISE is False


@pytest.mark.parametrize("fuse", ["yes", 1, 0.0])
def test_fuse_must_be_a_bool_or_none(fuse):
    with pytest.raises(MethodParameterError, match="fuse must be True, False or None"):
        signxai_captum.explain_dataset(_model(), DATA, "lrp_epsilon_0_1", fuse=fuse)


def test_the_compiler_check_reads_cxx(monkeypatch):
    monkeypatch.setenv("CXX", "my-cxx")
    seen: list[str] = []
    monkeypatch.setattr(_explain.shutil, "which", lambda name: seen.append(name) or None)
    assert _explain._has_cpp_compiler() is False
    assert seen[0] == "my-cxx" and "g++" in seen


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)) + x)


def _bn_model() -> nn.Module:
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), _Block(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3),
    ).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.bias.uniform_(-0.3, 0.3)
    return model


@pytest.mark.parametrize("method", ["lrp_epsilon_0_1", "lrp_sequential_composite_b"])
def test_a_run_that_switched_on_gives_the_eager_maps(monkeypatch, method):
    monkeypatch.setattr(rules, "FUSE_ELEMENTWISE", False)
    monkeypatch.setattr(rules, "_FUSE_FAILED", [])
    monkeypatch.setattr(_explain, "FUSE_AFTER_SECONDS", 0.0)
    model = _bn_model()
    data = np.random.default_rng(6).normal(size=(6, 3, 8, 8)).astype(np.float32)
    flags: list[bool] = []
    real = _explain.explain

    def explain(*args, **kwargs):
        flags.append(rules.FUSE_ELEMENTWISE)
        return real(*args, **kwargs)

    monkeypatch.setattr(_explain, "explain", explain)
    maps = signxai_captum.explain_dataset(model, data, method, target=1, batch_size=3, progress=False)
    eager = real(model, data, method, target=1)
    if _explain._has_cpp_compiler():
        assert flags == [False, True]
    scale = float(np.abs(eager).max())
    assert scale > 0
    np.testing.assert_allclose(maps, eager, rtol=1e-6, atol=1e-7 * scale)
    assert rules.FUSE_ELEMENTWISE is False
