"""signxai_captum: the gradient family against plain autograd and hand-derived cases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import signxai_captum  # noqa: E402
from shared_spec import MethodNameError  # noqa: E402
from signxai_captum import GradientXSign, explain, remove_softmax  # noqa: E402

METHODS = {
    # name -> function(grad, x) of the defined formula, written out independently
    "gradient": lambda g, x: g,
    "gradient_x_input": lambda g, x: g * x,
    "input_t_gradient": lambda g, x: g * x,
    "gradient_x_sign": lambda g, x: g * np.where(x >= 0, 1.0, -1.0),
    "gradient_x_sign_mu": lambda g, x: g * np.where(x >= 0, 1.0, -1.0),
    "gradient_x_sign_mu_0_5": lambda g, x: g * np.where(x >= 0.5, 1.0, -1.0),
    "gradient_x_sign_mu_neg_0_5": lambda g, x: g * np.where(x >= -0.5, 1.0, -1.0),
}


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4))


def cnn() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 5),
    )


def inputs(shape, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    x.reshape(-1)[::7] = 0.0  # exact zeros: sign(0) = +1
    return x


def autograd_reference(model: nn.Module, x: np.ndarray, targets) -> np.ndarray:
    """One sample at a time, plain autograd on the logit."""
    model.eval()
    out = []
    for i in range(x.shape[0]):
        xi = torch.tensor(x[i : i + 1], requires_grad=True)
        logit = model(xi)[0, int(targets[i])]
        (grad,) = torch.autograd.grad(logit, xi)
        out.append(grad.numpy()[0])
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("builder, shape", [(mlp, (5, 6)), (cnn, (4, 3, 8, 8))])
def test_against_autograd_per_sample(name, builder, shape):
    model = builder()
    x = inputs(shape)
    targets = np.arange(shape[0]) % 4
    expected = METHODS[name](autograd_reference(model, x, targets), x)
    got = explain(model, x, name, target=targets)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_linear_model_hand_derived():
    """f(x) = W x + b: gradient = W[c]; x == 0 and x == mu count as +1."""
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]]))
        model.bias.copy_(torch.tensor([0.1, -0.2]))
    x = np.array([[0.0, -1.0, 2.0], [0.5, 0.4, -3.0]], dtype=np.float32)
    np.testing.assert_array_equal(explain(model, x, "gradient", target=0), [[1, -2, 3], [1, -2, 3]])
    np.testing.assert_array_equal(explain(model, x, "gradient_x_sign", target=1), [[0.5, -0.25, -1], [0.5, 0.25, 1]])
    np.testing.assert_array_equal(explain(model, x, "gradient_x_sign_mu_0_5", target=0), [[-1, 2, 3], [1, 2, -3]])
    np.testing.assert_allclose(explain(model, x, "gradient_x_input", target=0), [[0, 2, 6], [0.5, -0.8, -9]], rtol=1e-6)


@pytest.mark.parametrize("target", [2, [2, 2, 2], (2,), np.array([2, 2, 2]), "tensor"])
def test_target_forms(target):
    model = mlp()
    x = inputs((3, 6))
    if isinstance(target, str):
        target = torch.tensor([2, 2, 2])
    expected = autograd_reference(model, x, [2, 2, 2])
    np.testing.assert_allclose(explain(model, x, "gradient", target=target), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("target, message", [(4, "out of range"), ([0, 1], "batch has 3"), (-1, "out of range"), (1.5, "int")])
def test_bad_targets(target, message):
    with pytest.raises((ValueError, TypeError), match=message):
        explain(mlp(), inputs((3, 6)), "gradient", target=target)


def test_softmax_is_removed_without_touching_the_model():
    logits = mlp()
    with_softmax = nn.Sequential(*logits, nn.Softmax(dim=1))
    x = inputs((3, 6))
    np.testing.assert_allclose(explain(with_softmax, x, "gradient", target=1), explain(logits, x, "gradient", target=1), rtol=1e-6)
    assert isinstance(with_softmax[-1], nn.Softmax) and len(with_softmax) == 6
    stripped = remove_softmax(with_softmax)
    assert not any(isinstance(m, nn.Softmax) for m in stripped.modules())
    assert stripped[0] is with_softmax[0]  # shared, not copied
    assert remove_softmax(logits) is logits


def test_nested_softmax_keeps_names():
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Linear(4, 3)))
    model.add_module("head", nn.Sequential(nn.ReLU(), nn.Softmax(dim=-1)))
    stripped = remove_softmax(model)
    assert [name for name, _ in stripped.named_modules()] == ["", "features", "features.0", "head", "head.0"]


def test_functional_softmax_warns():
    class Probabilities(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3)

        def forward(self, x):
            return torch.softmax(self.linear(x), dim=1)

    with pytest.warns(UserWarning, match="probabilities"):
        explain(Probabilities(), inputs((2, 4)), "gradient")


def test_state_restored_after_an_exception():
    model = mlp()
    model.train()
    with pytest.raises(ValueError, match="could not run"):
        explain(model, inputs((2, 5)), "gradient")  # wrong feature count
    assert model.training


def test_works_under_no_grad_and_with_tensors():
    model = mlp()
    x = inputs((3, 6))
    with torch.no_grad():
        got = explain(model, torch.tensor(x), "gradient_x_sign", target=0)
    np.testing.assert_allclose(got, METHODS["gradient_x_sign"](autograd_reference(model, x, [0, 0, 0]), x), rtol=1e-5)


def test_class_api_matches_explain():
    model = cnn()
    x = inputs((2, 3, 8, 8))
    attr = GradientXSign(model, mu=0.5).attribute(torch.tensor(x), target=[1, 2])
    assert isinstance(attr, torch.Tensor)
    np.testing.assert_array_equal(attr.numpy(), explain(model, x, "gradient_x_sign_mu_0_5", target=[1, 2]))
    assert not GradientXSign(model).multiplies_by_inputs
    assert signxai_captum.GradientXInput(model).multiplies_by_inputs


def test_bad_inputs():
    model = mlp()
    with pytest.raises(ValueError, match="x\\[None\\]"):
        explain(model, np.zeros(6, dtype=np.float32), "gradient")
    with pytest.raises(TypeError, match="numeric"):
        explain(model, np.array([["a"] * 6]), "gradient")
    with pytest.raises(MethodNameError, match="gradient_x_sign"):
        explain(model, inputs((1, 6)), "gradient_x_sing")


def test_importing_signxai_captum_does_not_import_tensorflow():
    code = "import sys, signxai_captum; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_torchvision_after_tensorflow_does_not_crash():
    pytest.importorskip("tensorflow")
    code = "import tensorflow, signxai_captum, torchvision, torch._dynamo; print('alive')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and "alive" in result.stdout, result.stderr[-2000:]


# -- TorchScript and torch.export models -------------------------------------------------------
def _scripted_models():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(72, 3)
    ).eval()
    example = torch.ones(2, 3, 8, 8)
    exported = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    return model, {"script": torch.jit.script(model), "trace": torch.jit.trace(model, example), "export": exported}


@pytest.mark.parametrize("kind", ["script", "trace", "export"])
def test_compiled_models_get_the_gradient_family_and_a_clear_refusal_otherwise(kind):
    """The gradient family needs only the forward function: the same maps as the nn.Module. Methods
    that hook layers or ReLU modules refuse a TorchScript / exported graph (guided backprop used to give
    the plain gradient with only a warning)."""
    from signxai_captum import explain

    model, compiled = _scripted_models()
    graph = compiled[kind]
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    for name in ("gradient", "gradient_x_sign", "integrated_gradients"):
        np.testing.assert_allclose(explain(graph, x, name), explain(model, x, name), rtol=1e-5, atol=1e-7)
    for name in ("guided_backprop", "deconvnet_x_sign", "grad_cam", "guided_grad_cam", "lrp_epsilon_0_1", "deep_taylor"):
        with pytest.raises(TypeError, match="TorchScript or torch.export.*gradient family"):
            explain(graph, x, name)
    assert model.training is False


def test_fx_traced_models_keep_their_layers():
    from signxai_captum import explain

    model, _ = _scripted_models()
    traced = torch.fx.symbolic_trace(model)
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    for name in ("guided_backprop", "lrp_epsilon_0_1"):
        np.testing.assert_allclose(explain(traced, x, name), explain(model, x, name), rtol=1e-6, atol=1e-8)
