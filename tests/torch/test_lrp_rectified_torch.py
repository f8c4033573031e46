"""Rectified denominators (issue 14, peak memory): a layer whose output only feeds a ReLU keeps the
ReLU's output instead of its own.

``_engine.RECTIFIED_DENOMINATORS``: a convolution with a z/epsilon-family rule, or a batch norm with
the batch-norm rule, whose output feeds nothing but a ReLU keeps ``relu(z)`` for its denominator
(``LayerCall.z``), so ``z`` is freed during the forward pass. Where ``z <= 0`` the relevance arriving
is exactly zero once the graph check has confirmed that everything downstream of the ReLU gives a
zero input zero relevance. Checked here:

- whole maps with the path on are the maps with it off, bit for bit, on VGG-like and batch-norm
  ResNet-like models, for every rule family that takes the path, and the path is taken;
- where the confirmation must fail (a later Flat/WSquare/Bounded rule, a sigmoid after the ReLU, the
  layer's output used twice, the ReLU as the model output, a shifting ``x + c``) the layer is not
  rectified and the map is still the same; and forcing the confirmation in those cases does change
  the map (the check is what keeps the maps right);
- the memory claim: after the forward pass the recorded tensors are smaller by exactly the
  rectified layers' outputs.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from signxai_captum import explain  # noqa: E402
from signxai_captum.lrp import _engine  # noqa: E402
from signxai_captum.lrp.rules import Bounded, Epsilon, Flat, WSquare  # noqa: E402
from signxai_captum._methods.lrp import LRP  # noqa: E402


class _Recorder:
    """Captures each session's ``rectified_layers`` and the bytes its calls hold after the forward."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rectified: list[list[str]] = []
        self.held: list[int] = []
        original = _engine.RelevanceSession.check_graph
        recorder = self

        def check_graph(session, output):
            original(session, output)
            recorder.rectified.append(list(session.rectified_layers))
            recorder.held.append(_held_bytes(output))

        monkeypatch.setattr(_engine.RelevanceSession, "check_graph", check_graph)


def _held_bytes(output: torch.Tensor) -> int:
    """Bytes of the distinct storages the LRP calls of the graph keep (inputs, outputs, rectified)."""
    seen, stack, storages = set(), [output.grad_fn], {}
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        state = getattr(node, "state", None)
        if isinstance(state, _engine._NodeState) and state.call is not None:
            call = state.call
            for tensor in (*call.inputs, call.output, call.rectified):
                if tensor is not None:
                    storage = tensor.untyped_storage()
                    storages[storage.data_ptr()] = storage.nbytes()
        stack.extend(parent for parent, _ in node.next_functions)
    return sum(storages.values())


def _maps(monkeypatch, model, x, method, **kwargs):
    """(map with the path, map without it, rectified layers with the path, held bytes on, off)."""
    recorder = _Recorder(monkeypatch)
    monkeypatch.setattr(_engine, "RECTIFIED_DENOMINATORS", True)
    on = torch.as_tensor(explain(model, x, method, target=1, **kwargs))
    monkeypatch.setattr(_engine, "RECTIFIED_DENOMINATORS", False)
    off = torch.as_tensor(explain(model, x, method, target=1, **kwargs))
    assert recorder.rectified[1] == []
    return on, off, recorder.rectified[0], recorder.held[0], recorder.held[1]


def _vgg_like() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),  # torchvision's in-place ReLUs
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 1), nn.ReLU(),  # 1x1: the matrix-product transposes
        nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10), nn.ReLU(), nn.Linear(10, 5),
    ).eval()


class _Block(nn.Module):
    """conv-bn-relu-conv-bn, a residual sum and a ReLU (torchvision's BasicBlock, functional sum)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


def _resnet_like() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), _Block(8), _Block(8),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    ).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


def _input(seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


VGG_METHODS = ["lrp_epsilon_0_1", "lrpsign_epsilon_0_1", "lrp_z", "lrp_epsilon_0_1_std_x", "lrpz_epsilon_0_1"]
# the convolutions that feed a ReLU directly; the last Linear feeds the output, the first one a ReLU but is
# not a convolution (its output is small: it keeps it)
VGG_RECTIFIED = ["0", "2", "5", "7"]


@pytest.mark.parametrize("method", VGG_METHODS)
def test_vgg_like_maps_are_unchanged_and_the_path_is_taken(monkeypatch, method):
    on, off, rectified, held_on, held_off = _maps(monkeypatch, _vgg_like(), _input(), method)
    assert torch.equal(on, off)
    assert float(off.abs().max()) > 0
    # the input layer's rule (SIGN, Z) does not matter: it is the producer's denominator that changes
    assert sorted(rectified) == VGG_RECTIFIED
    # the memory: each rectified convolution's output is no longer held (float32, batch 2); layer 2's
    # ReLU output is the max pooling's input, which only autograd keeps (not counted here): for it
    # the count trades z for relu(z) of the same size
    sizes = {"0": 8 * 16 * 16, "2": 0, "5": 16 * 8 * 8, "7": 16 * 4 * 4}
    assert held_off - held_on == sum(sizes[p] for p in rectified) * 2 * 4


@pytest.mark.parametrize("method", ["lrp_epsilon_0_1", "lrp_alpha_1_beta_0", "lrp_sequential_composite_b",
                                    "lrpsign_epsilon_0_1", "lrp_z"])
def test_batch_norm_networks_maps_are_unchanged_and_the_path_is_taken(monkeypatch, method):
    on, off, rectified, held_on, held_off = _maps(monkeypatch, _resnet_like(), _input(4), method)
    assert torch.equal(on, off)
    assert float(off.abs().max()) > 0
    # the batch norms that feed a ReLU: the stem's and each block's first; the second feeds the sum
    assert {"1", "3.bn1", "4.bn1"} <= set(rectified)
    assert not any(path.endswith("bn2") for path in rectified)
    assert held_off - held_on >= 3 * 2 * 8 * 16 * 16 * 4


def test_float64_maps_are_unchanged(monkeypatch):
    model = _vgg_like().double()
    on, off, rectified, _, _ = _maps(monkeypatch, model, _input().double(), "lrp_epsilon_0_1")
    assert torch.equal(on, off) and rectified


class _ReluThen(nn.Module):
    """conv -> ReLU -> ``tail`` -> a conv and a Linear: which consumers of the ReLU's output are safe."""

    def __init__(self, tail: nn.Module | None = None, twice: bool = False, relu_out: bool = False,
                 shift: bool = False) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.tail = tail if tail is not None else nn.Identity()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 5)
        self.twice, self.relu_out, self.shift = twice, relu_out, shift

    def forward(self, x):
        z = self.conv(x)
        a = self.tail(self.relu(z))
        if self.shift:
            a = a + 0.5
        if self.relu_out:
            return a.flatten(1)
        b = self.conv2(a)
        if self.twice:
            b = b + z  # z has a second consumer
        return self.head(b.flatten(1))


def _small_input() -> torch.Tensor:
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(6))


UNSAFE = [
    # (id, model, LRP options)
    ("flat-after", lambda: _ReluThen(), {"layer_rules": {"conv2": Flat()}}),
    ("w-square-after", lambda: _ReluThen(), {"layer_rules": {"conv2": WSquare()}}),
    ("bounded-after", lambda: _ReluThen(), {"layer_rules": {"conv2": Bounded(-1.0, 1.0)}}),
    ("sigmoid-after", lambda: _ReluThen(nn.Sigmoid()), {}),
    ("output-used-twice", lambda: _ReluThen(twice=True), {}),
    # the seed 1 at an output that is 0 (a logit seed is 0 there)
    ("relu-is-the-output", lambda: _ReluThen(relu_out=True), {"initial_relevance": "one"}),
    ("shift-after", lambda: _ReluThen(shift=True), {}),
]


@pytest.mark.parametrize("make, options", [c[1:] for c in UNSAFE], ids=[c[0] for c in UNSAFE])
def test_unsafe_consumers_keep_the_output(monkeypatch, make, options):
    model, x = make().eval(), _small_input()
    with torch.no_grad():
        output = model(x)
    # a target that is exactly 0 for the first sample where the output is a ReLU's
    target = int(output[0].argmin()) if options.get("initial_relevance") else 1
    assert options.get("initial_relevance") is None or float(output[0, target]) == 0.0
    recorder = _Recorder(monkeypatch)

    def lrp_map(flag: bool, force: bool = False) -> torch.Tensor:
        monkeypatch.setattr(_engine, "RECTIFIED_DENOMINATORS", flag)
        if force:
            monkeypatch.setattr(_engine, "_zero_where_zero", lambda *args: True)
        return _lrp(model, x, target=target, **options)

    off = lrp_map(False)
    on = lrp_map(True)
    assert "conv" not in recorder.rectified[1]
    assert torch.equal(on, off)
    # the check is what keeps this map right: confirming the layer anyway changes it
    forced = lrp_map(True, force=True)
    assert "conv" in recorder.rectified[2]
    assert not torch.allclose(forced, off, rtol=1e-4, atol=1e-6 * float(off.abs().max()))


def _lrp(model: nn.Module, x: torch.Tensor, target: int = 1, **options) -> torch.Tensor:
    return LRP(model, Epsilon(0.1), **options).attribute(x, target=target).detach()


def test_safe_consumers_take_the_path(monkeypatch):
    """Max pooling, a zero-keeping activation, a scaling and a later ReLU: confirmed."""

    class Scale(nn.Module):
        def forward(self, x):
            return x * 2.0

    model = _ReluThen(nn.Sequential(nn.MaxPool2d(1), nn.Tanh(), Scale(), nn.ReLU())).eval()
    recorder = _Recorder(monkeypatch)
    monkeypatch.setattr(_engine, "RECTIFIED_DENOMINATORS", True)
    on = _lrp(model, _small_input())
    monkeypatch.setattr(_engine, "RECTIFIED_DENOMINATORS", False)
    off = _lrp(model, _small_input())
    assert "conv" in recorder.rectified[0]
    assert torch.equal(on, off)


def test_the_model_is_untouched_and_a_second_call_agrees(monkeypatch):
    model = _vgg_like()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = _input()
    first = torch.as_tensor(explain(model, x, "lrp_epsilon_0_1", target=1))
    second = torch.as_tensor(explain(model, x, "lrp_epsilon_0_1", target=1))
    assert torch.equal(first, second)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model[1].inplace is True  # DisableInplace is undone
