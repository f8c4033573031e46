"""One model explained from several threads at once (a web service does this).

Every explanation changes its model for its duration (eval mode, hooks, canonizers); concurrent
calls must not see each other's changes: each thread's maps equal those of sequential calls, and
the model is left exactly as it was (docs/conventions.md, "Threads").
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

import signxai_captum
from signxai_captum import GuidedBackprop, LRPSign

METHODS = [
    "lrp_epsilon_0_1",
    "guided_backprop",
    "gradient",
    "lrpsign_sequential_composite_a",
    "grad_cam",
    "lrp_alpha_1_beta_0",
    "gradient_x_sign",
    "deconvnet",
    "integrated_gradients_steps_4",
]
TARGETS = [0, 3, 1]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.5),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 5),
    )


def _run_threads(n_threads: int, work) -> list[str]:
    barrier = threading.Barrier(n_threads)
    errors: list[str] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except Exception as error:  # noqa: BLE001 - collected and reported by the test
            errors.append(f"thread {i}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread did not finish (deadlock?)"
    return errors


@pytest.mark.parametrize("n_threads", [4, 6])
def test_threads_give_the_sequential_maps(n_threads):
    model = _model()
    model.train()  # the user's model in training mode: every call must still explain in eval mode
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 16, 16)
    expected = {m: signxai_captum.explain(model, x, m, target=TARGETS) for m in METHODS}
    assert model.training and all(m.training for m in model.modules())
    mismatches: list[str] = []

    def work(i: int) -> None:
        for k in range(12):
            method = METHODS[(i + k) % len(METHODS)]
            got = signxai_captum.explain(model, x, method, target=TARGETS)
            scale = np.abs(expected[method]).max()
            if not np.allclose(got, expected[method], atol=1e-6 * max(scale, 1.0), rtol=0):
                mismatches.append(f"{method} in thread {i}, call {k}")

    errors = _run_threads(n_threads, work)
    assert errors == []
    assert mismatches == []
    # the model is as it was: flags, requires_grad, no hooks, in-place ReLU kept
    assert all(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())
    assert model[2].inplace is True


def test_threads_with_captum_classes_and_two_models_sharing_layers():
    """Captum-style objects, one per thread, and a second model built from the same modules."""
    model = _model().eval()
    shared_backbone = nn.Sequential(*list(model.children()))  # the same module objects
    x = torch.randn(2, 3, 16, 16)
    expected_lrp = LRPSign(model, epsilon=0.1).attribute(x, target=2)
    expected_gbp = GuidedBackprop(model).attribute(x, target=2)

    def work(i: int) -> None:
        for _ in range(8):
            if i % 2:
                got = LRPSign(shared_backbone if i % 4 == 1 else model, epsilon=0.1).attribute(x, target=2)
                torch.testing.assert_close(got, expected_lrp, rtol=0, atol=1e-6)
            else:
                got = GuidedBackprop(shared_backbone if i % 4 == 0 else model).attribute(x, target=2)
                torch.testing.assert_close(got, expected_gbp, rtol=0, atol=1e-6)

    assert _run_threads(4, work) == []


def test_one_attribution_object_shared_by_threads():
    """One Captum object used from every thread, each with its own target: maps and deltas stay per call."""
    model = _model().eval()
    x = torch.randn(2, 3, 16, 16)
    lrp = LRPSign(model, epsilon=0.1)
    expected = {t: lrp.attribute(x, target=t, return_convergence_delta=True) for t in range(5)}

    def work(i: int) -> None:
        for k in range(10):
            t = (i + k) % 5
            maps, delta = lrp.attribute(x, target=t, return_convergence_delta=True)
            torch.testing.assert_close(maps, expected[t][0], rtol=0, atol=1e-6)
            torch.testing.assert_close(delta, expected[t][1], rtol=0, atol=1e-5)

    assert _run_threads(4, work) == []


def test_models_without_common_modules_run_in_parallel():
    """The lock is per module: a call on another model does not wait for a running one."""
    from signxai_captum._modelstate import exclusive

    first, second = _model(), _model()
    entered = threading.Event()
    with exclusive(first):
        def other() -> None:
            with exclusive(second):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert entered.wait(timeout=10), "a model without common modules waited for another model's lock"
        thread.join()

        blocked = threading.Event()

        def same() -> None:
            with exclusive(first):
                blocked.set()

        thread = threading.Thread(target=same)
        thread.start()
        assert not blocked.wait(timeout=0.3), "a second call on the same model did not wait"
    thread.join(timeout=10)
    assert blocked.is_set()


def test_an_attribution_object_is_not_changed_during_a_call():
    """Found in CI: LRP swapped ``forward_func`` for its traced view during the forward, so a second
    thread entering ``attribute`` locked the view instead of the model and the nested lock orders
    crossed (deadlock). The object must stay as constructed for the whole call."""
    model = _model().eval()
    lrp = LRPSign(model, epsilon=0.1)
    seen = []
    handle = model[0].register_forward_hook(lambda *_: seen.append(lrp.forward_func is model))
    try:
        lrp.attribute(torch.randn(1, 3, 16, 16), target=0)
    finally:
        handle.remove()
    assert seen == [True]
