"""The fused element-wise kernels of the PyTorch LRP rules (``rules.FUSE_ELEMENTWISE``, issue 14).

With fusing on, the epsilon quotient, the 0/0-safe quotient, AlphaBeta's combination of its
transposed products, the batch-norm rule and the sum rule run as kernels compiled by ``torch.compile``. These tests check that

- each kernel (AlphaBeta's final combination too) gives the values of the rule's literal formula
  (written here with ``torch.where`` signs, exact zeros and broadcast addends included) and the
  eager arithmetic's values also at ``-0.0``;
- whole maps on a batch-norm ResNet (epsilon, SIGN, AlphaBeta, composite B, std-x epsilon) equal
  the eager maps, which the rule and reference tests check against literal implementations;
- a compiler failure falls back to the eager values with one ``RuntimeWarning`` and fusing stays
  off, while a mistake in the arguments still raises its own error and leaves fusing on;
- the switch is off by default and ``SIGNXAI_TORCH_FUSE=1`` turns it on.

Compiling costs seconds (about 20 s on a machine's first call), so the cases share few shapes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from signxai_captum import explain  # noqa: E402
from signxai_captum.lrp import rules  # noqa: E402


@pytest.fixture
def fusing(monkeypatch: pytest.MonkeyPatch):
    """Fusing on for the test; the failure record is reset before and after."""
    monkeypatch.setattr(rules, "FUSE_ELEMENTWISE", True)
    monkeypatch.setattr(rules, "_FUSE_FAILED", [])


def _assert_same(fused: torch.Tensor, eager: torch.Tensor) -> None:
    assert fused.shape == eager.shape and fused.dtype == eager.dtype
    scale = eager.abs().max().item() or 1.0
    np.testing.assert_allclose(fused.numpy(), eager.numpy(), rtol=1e-6, atol=1e-7 * scale)


def _activations(shape: tuple[int, ...], seed: int, negative_zeros: bool = True) -> torch.Tensor:
    """Normal values with exact zeros (and negative zeros) mixed in."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    x.view(-1)[::7] = 0.0
    if negative_zeros:
        x.view(-1)[3::11] = -0.0
    return x


def _s(v: torch.Tensor) -> torch.Tensor:
    """s(v) = +1 for v >= 0, -1 otherwise (docs/semantics.md §4.1)."""
    return torch.where(v >= 0, 1.0, -1.0)


def _literal_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, 0 where den == 0."""
    return torch.where(den == 0, 0.0, num / torch.where(den == 0, 1.0, den))


def test_fused_kernels_give_the_literal_formulas(fusing: None) -> None:
    shape = (2, 3, 5, 6)
    # no -0.0 here: the kernels' s(-0.0) = -1 differs from the formula's +1 only where the rules
    # multiply by a zero afterwards (see rules._stabilise); the eager comparison below covers -0.0
    r, z, a, b = (_activations(shape, seed, negative_zeros=False) for seed in range(4))
    eps = 0.25
    _assert_same(rules._safe_div(r, z.clone()), _literal_div(r, z))
    _assert_same(rules._safe_div(r, z.clone(), into_den=True), _literal_div(r, z))
    _assert_same(rules._epsilon_quotient(r, z, torch.tensor(eps)), r / (z + eps * _s(z)))
    mean, beta = torch.randn(1, 3, 1, 1), torch.randn(1, 3, 1, 1)
    y = 1.7 * (a - mean) + beta
    stab = 1e-7
    literal_bn = r * (a / ((a - mean) + stab * _s(a - mean))) * ((y - beta) / (y + stab * _s(y)))
    _assert_same(rules._batch_norm_relevance(a, y, mean, beta, r, torch.tensor(stab)), literal_bn)
    bias = torch.randn(1, 3, 1, 1)  # a broadcast addend: its relevance is summed back to its shape
    for terms in [(a,), (a, b), (a, b, z), (a, bias)]:
        total = sum(torch.broadcast_to(t, shape) for t in terms)
        got = rules._sum_relevance(r, *terms)
        assert len(got) == len(terms)
        for g, t in zip(got, terms):
            full = torch.broadcast_to(t, shape) * _literal_div(r, total)
            expected = full.sum(dim=(0, 2, 3), keepdim=True) if t.shape != shape else full
            _assert_same(g, expected)
    x_pos, x_neg = a.clamp(min=0), a.clamp(max=0)
    products = [_activations(shape, seed) for seed in range(10, 14)]  # act+, act-, inh+, inh-
    for alpha, beta_, signed in [(2.0, 1.0, True), (2.0, 1.0, False), (1.0, 0.0, True)]:
        p = [t.clone() for t in products]  # the kernel writes into them
        args = (p[0], p[1] if signed else None, p[2] if beta_ else None, p[3] if beta_ and signed else None)
        act = products[0] * x_pos + (products[1] * x_neg if signed else 0.0)
        inh = products[2] * x_pos + (products[3] * x_neg if signed else 0.0)
        expected = alpha * act - beta_ * inh
        _assert_same(rules._alpha_beta_relevance(alpha, beta_, x_pos, x_neg if signed else None, *args), expected)
    assert not rules._FUSE_FAILED  # everything compiled


def test_fused_kernels_give_the_eager_values_at_negative_zeros(fusing: None) -> None:
    shape = (2, 3, 5, 6)
    r, z, a = (_activations(shape, seed) for seed in range(3))
    assert bool((torch.signbit(z) & (z == 0)).any())
    _assert_same(rules._epsilon_quotient(r, z, torch.tensor(0.25)), rules._epsilon_quotient.eager(r, z, torch.tensor(0.25)))
    mean, beta = torch.randn(1, 3, 1, 1), torch.randn(1, 3, 1, 1)
    args = (a, z, mean, beta, r, torch.tensor(1e-7))
    _assert_same(rules._batch_norm_relevance(*args), rules._batch_norm_relevance.eager(*args))
    assert not rules._FUSE_FAILED


def _batch_norm_resnet() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=5).eval()
    for module in model.modules():  # statistics away from (0, 1), as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.2, 0.2)
    return model


@pytest.mark.parametrize(
    "method",
    ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_b",
     "lrp_epsilon_0_1_std_x", "lrp_z"],
)
def test_fused_maps_equal_the_eager_maps_on_a_batch_norm_resnet(fusing: None, method: str) -> None:
    model = _batch_norm_resnet()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(rules, "FUSE_ELEMENTWISE", False)
        eager = torch.as_tensor(explain(model, x, method, target=[1, 3]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback: the kernels compiled
        fused = torch.as_tensor(explain(model, x, method, target=[1, 3]))
    assert eager.abs().max() > 0
    _assert_same(fused, eager)
    assert not rules._FUSE_FAILED


def test_a_compiler_failure_falls_back_to_the_eager_values_once(fusing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(*args: object, **kwargs: object):
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(torch, "compile", broken_compile)
    kernel = rules.fused(lambda num, den: torch.div(num, den))  # a fresh kernel: nothing compiled yet
    num, den = torch.randn(4, 3), torch.rand(4, 3) + 0.5
    with pytest.warns(RuntimeWarning, match="could not be compiled.*no C\\+\\+ compiler found"):
        out = kernel(num, den)
    torch.testing.assert_close(out, num / den, rtol=0, atol=0)
    assert rules._FUSE_FAILED and "second line" not in rules._FUSE_FAILED[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given up: no second warning, eager from now on
        torch.testing.assert_close(kernel(num, den), num / den, rtol=0, atol=0)


def test_a_mistake_in_the_arguments_raises_its_own_error_and_keeps_fusing(fusing: None) -> None:
    with pytest.raises(RuntimeError, match="size of tensor"):
        rules._epsilon_quotient(torch.ones(2, 3), torch.ones(2, 4), torch.tensor(0.1))
    assert not rules._FUSE_FAILED


def test_fusing_is_off_by_default_and_the_environment_turns_it_on() -> None:
    code = "from signxai_captum.lrp import rules; print(rules.FUSE_ELEMENTWISE)"
    results = {}
    for value in (None, "1", "0", "on"):
        env = {k: v for k, v in os.environ.items() if k != "SIGNXAI_TORCH_FUSE"}
        if value is not None:
            env["SIGNXAI_TORCH_FUSE"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        results[value] = out.stdout.strip().splitlines()[-1]
    assert results == {None: "False", "1": "True", "0": "False", "on": "True"}


def test_variants_beyond_the_recompile_limit_run_eagerly_and_keep_fusing(
    fusing: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rules, "_RECOMPILE_LIMIT", 1)
    kernel = rules.fused(lambda num, den: torch.div(num, den).mul_(2.0))
    # the rules raise dynamo's limit to theirs for the call, never lower it: 1 here too
    with caplog.at_level("WARNING", logger="torch._dynamo"), torch._dynamo.config.patch(recompile_limit=1):
        for shape in [(3, 4), (2, 3, 4), (2, 2, 3, 4)]:  # one compiled variant, the other ranks eager
            num, den = torch.randn(shape), torch.rand(shape) + 0.5
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                torch.testing.assert_close(kernel(num, den), num / den * 2.0, rtol=1e-6, atol=0)
    assert any("recompile_limit" in record.getMessage() for record in caplog.records)  # the limit was hit
    assert not rules._FUSE_FAILED


def test_inside_a_dispatch_mode_the_eager_arithmetic_runs_and_fusing_stays_on(fusing: None) -> None:
    from torch.utils._python_dispatch import TorchDispatchMode

    class CountOps(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    r, z = _activations((2, 3, 4, 4), 0), _activations((2, 3, 4, 4), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with CountOps() as mode:
            out = rules._epsilon_quotient(r, z, torch.tensor(0.1))
    assert any("copysign" in op for op in mode.ops)  # the eager ops ran under the mode
    _assert_same(out, rules._epsilon_quotient.eager(r, z, torch.tensor(0.1)))
    assert not rules._FUSE_FAILED


@pytest.mark.parametrize("method", ["lrp_alpha_1_beta_0", "lrp_sequential_composite_b"])
def test_fused_alpha_beta_on_signed_inputs_equals_eager_on_mobilenet_v2(fusing: None, method: str) -> None:
    """Linear bottlenecks feed the expansion convolutions signed inputs: AlphaBeta's a- terms."""
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=4).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(rules, "FUSE_ELEMENTWISE", False)
        eager = torch.as_tensor(explain(model, x, method, target=[0, 2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fused = torch.as_tensor(explain(model, x, method, target=[0, 2]))
    assert eager.abs().max() > 0
    _assert_same(fused, eager)


def test_fused_calls_from_threads_leave_dynamos_recompile_limit_as_it_was(fusing: None) -> None:
    import threading

    import torch._dynamo.config as dynamo_config

    before = dynamo_config.recompile_limit
    r, z = _activations((2, 3, 4, 4), 0), _activations((2, 3, 4, 4), 1)
    expected = rules._epsilon_quotient.eager(r, z, torch.tensor(0.1))
    results: list[torch.Tensor] = []

    def work() -> None:
        for _ in range(20):
            results.append(rules._epsilon_quotient(r, z, torch.tensor(0.1)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dynamo_config.recompile_limit == before
    assert len(results) == 80
    for got in results:
        _assert_same(got, expected)
