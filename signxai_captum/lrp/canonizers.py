"""Canonizers: temporary, fully undone rewrites that let LRP see every operation of a model.

A canonizer changes a model for the duration of one explanation and puts it back afterwards, on
every path (exceptions included): use it through :func:`canonized`.

- :class:`DisableInplace` switches ``inplace=True`` activations (torchvision's VGG and ResNet
  use ``nn.ReLU(inplace=True)``) to out-of-place, so each layer's recorded output stays intact.
- :class:`TorchvisionResNet` routes the residual addition ``out += identity`` of torchvision's
  ``BasicBlock`` and ``Bottleneck`` through a :class:`ResidualAdd` module that carries the sum
  rule (docs/semantics.md §4.2), by overriding each block's ``forward`` on the instance.

Unlike zennit's ``MergeBatchNorm`` canonizers, nothing here folds batch norms into kernel layers:
batch norm has its own rule (docs/semantics.md §4.2) so that both packages agree.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Iterator, Sequence

import torch
from torch import nn

__all__ = ["Canonizer", "DisableInplace", "TorchvisionResNet", "ResidualAdd", "canonized", "default_canonizers"]

_MISSING = object()


class ResidualAdd(nn.Module):
    """``a + b`` as a module, so the sum rule can see a residual addition.

    Use it in your own models instead of a bare ``a + b`` in ``forward`` (the converter's
    :class:`signxai_captum.convert.Add` works the same way).
    """

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return a + b


class Canonizer:
    """Base class: :meth:`apply` changes the model, :meth:`restore` undoes exactly that.

    ``apply`` returns extra ``(path, module)`` pairs the canonizer introduced (modules called by
    the rewritten forwards that are not registered children of the model), so rules can be
    attached to them.
    """

    def apply(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """Rewrite ``model`` in place; return the modules it introduced."""
        raise NotImplementedError

    def restore(self) -> None:
        """Undo :meth:`apply`."""
        raise NotImplementedError


class DisableInplace(Canonizer):
    """Make every module with ``inplace=True`` (ReLU, Dropout, ...) out-of-place for the duration."""

    def __init__(self) -> None:
        self._changed: list[nn.Module] = []

    def apply(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        for module in model.modules():
            if getattr(module, "inplace", None) is True:
                module.inplace = False
                self._changed.append(module)
        return []

    def restore(self) -> None:
        for module in self._changed:
            module.inplace = True
        self._changed = []


def _basic_block_forward(add: ResidualAdd):
    def forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(add(out, identity))

    return forward


def _bottleneck_forward(add: ResidualAdd):
    def forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(add(out, identity))

    return forward


class TorchvisionResNet(Canonizer):
    """Route the residual sums of torchvision ResNet blocks through :class:`ResidualAdd` modules.

    The block's computation is unchanged (same modules, same order); only ``out += identity`` becomes
    ``ResidualAdd()(out, identity)``. The added modules appear as ``<block path>.residual_add``.
    Does nothing when torchvision is not imported.
    """

    def __init__(self) -> None:
        self._changed: list[tuple[nn.Module, Any]] = []

    def apply(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        resnet = sys.modules.get("torchvision.models.resnet")
        if resnet is None:
            return []
        extra = []
        for path, module in model.named_modules():
            if type(module) is resnet.BasicBlock:
                make = _basic_block_forward
            elif type(module) is resnet.Bottleneck:
                make = _bottleneck_forward
            else:
                continue
            add = ResidualAdd()
            self._changed.append((module, module.__dict__.get("forward", _MISSING)))
            module.forward = types.MethodType(make(add), module)
            extra.append((f"{path}.residual_add" if path else "residual_add", add))
        return extra

    def restore(self) -> None:
        for module, previous in reversed(self._changed):
            if previous is _MISSING:
                module.__dict__.pop("forward", None)
            else:
                module.forward = previous
        self._changed = []


def default_canonizers() -> list[Canonizer]:
    """The canonizers LRP applies unless told otherwise: fresh :class:`DisableInplace` and
    :class:`TorchvisionResNet` instances."""
    return [DisableInplace(), TorchvisionResNet()]


@contextlib.contextmanager
def canonized(model: nn.Module, canonizers: Sequence[Canonizer]) -> Iterator[list[tuple[str, nn.Module]]]:
    """Apply ``canonizers`` to ``model`` and undo them on exit (also after an exception).

    Yields the extra ``(path, module)`` pairs the canonizers introduced.
    """
    applied: list[Canonizer] = []
    extra: list[tuple[str, nn.Module]] = []
    try:
        for canonizer in canonizers:
            applied.append(canonizer)
            extra.extend(canonizer.apply(model))
        yield extra
    finally:
        for canonizer in reversed(applied):
            canonizer.restore()
