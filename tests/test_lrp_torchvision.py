"""LRP on torchvision VGG16 and ResNet-18/50 (random weights, small inputs): every LRP name of the
method table runs and gives finite maps; identities and conservation hold through the residual
blocks and batch norms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from shared_spec import list_methods, parse
from signxai_captum import LRPEpsilon, LRPZ, explain
from signxai_captum.lrp.canonizers import DisableInplace
from signxai_captum.lrp.composites import LRPLayerError

pytestmark = pytest.mark.slow

LRP_NAMES = [m for m in list_methods() if m.startswith(("lrp", "zblrp", "w2lrp", "flatlrp"))]


def _x(size: int = 32, n: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def vgg16() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.vgg16(weights=None).eval()


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def _run(model, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the four typo'd VGG16ILSVRC suffixes
        maps = explain(model, _x(), name, target=7)
        large_epsilon = parse(name).params.get("epsilon", 0.0) >= 5.0
    assert maps.shape == (1, 3, 32, 32)
    assert np.all(np.isfinite(maps))
    # with a large epsilon through 16 layers of a random network the relevance underflows to 0
    assert large_epsilon or np.any(maps != 0)
    return maps


def test_lrp_name_list_is_complete():
    assert len(LRP_NAMES) >= 128


@pytest.mark.parametrize("name", LRP_NAMES)
def test_every_lrp_name_on_vgg16(vgg16, name):
    _run(vgg16, name)


@pytest.mark.parametrize("name", LRP_NAMES)
def test_every_lrp_name_on_resnet18(resnet18, name):
    _run(resnet18, name)
    assert all("forward" not in m.__dict__ for m in resnet18.modules())


def test_vgg16_identities(vgg16):
    x = _x(n=2)
    for lrp_name, grad_name in (("lrp_z", "gradient_x_input"), ("lrpsign_z", "gradient_x_sign")):
        a, b = explain(vgg16, x, lrp_name, target=[3, 5]), explain(vgg16, x, grad_name, target=[3, 5])
        assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def _zero_biases(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.bias.zero_()
            elif getattr(m, "bias", None) is not None:
                m.bias.zero_()
    return model


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_resnet_conservation_through_residual_blocks(arch):
    """With zero biases (and batch norms without shift) Z and tiny-epsilon relevance sums to f_c(x).

    Without routing the residual sums through the sum rule the relevance would double at each block.
    """
    torch.manual_seed(1)
    model = _zero_biases(getattr(torchvision.models, arch)(weights=None)).double().eval()
    x = _x(n=2).double()
    for attribution in (LRPZ(model), LRPEpsilon(model, 1e-9)):
        maps, delta = attribution.attribute(x, target=[1, 2], return_convergence_delta=True)
        logits = model(x)[[0, 1], [1, 2]].detach()
        assert torch.allclose(maps.sum(dim=(1, 2, 3)), logits, rtol=1e-5)
        assert float(delta.abs().max()) <= 1e-5 * float(logits.abs().max())


def test_resnet_without_its_canonizer_reports_the_functional_add(resnet18):
    with pytest.raises(LRPLayerError, match="Add"):
        LRPZ(resnet18, canonizers=[DisableInplace()]).attribute(_x(), target=0)
    assert all("forward" not in m.__dict__ for m in resnet18.modules())
    assert all(not m._forward_hooks for m in resnet18.modules())
