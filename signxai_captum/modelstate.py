"""Leave the user's model exactly as it was: training flags and ``requires_grad`` restored."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

__all__ = ["evaluation_mode"]


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for an explanation and restore every flag afterwards.

    Explanations are computed in inference mode (batch norm uses its running statistics,
    dropout is off), so a sample's map does not depend on the rest of the batch. On exit,
    also after an exception, each submodule's ``training`` flag and each parameter's
    ``requires_grad`` are put back.
    """
    training = [(m, m.training) for m in model.modules()]
    requires_grad = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        yield model
    finally:
        for module, flag in training:
            module.training = flag
        for param, flag in requires_grad:
            if param.requires_grad != flag:
                param.requires_grad_(flag)
