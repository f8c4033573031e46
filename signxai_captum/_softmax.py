"""Explain logits, not probabilities: strip a model's final softmax without modifying it."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["remove_softmax", "ends_with_softmax"]


def _strip(module: nn.Module) -> nn.Module | None:
    """Return a softmax-free view of ``module`` sharing its submodules, or None if no final softmax."""
    if isinstance(module, nn.Softmax):
        return nn.Identity()
    without = getattr(module, "without_output_softmax", None)
    if callable(without):  # converted Keras graphs (signxai_captum.convert) know their output layer
        return without()
    if isinstance(module, nn.Sequential) and len(module) > 0:
        children = list(module.named_children())
        last_name, last = children[-1]
        if isinstance(last, nn.Softmax):
            return nn.Sequential(OrderedDict(children[:-1]))
        inner = _strip(last)
        if inner is not None:
            return nn.Sequential(OrderedDict(children[:-1] + [(last_name, inner)]))
    return None


def ends_with_softmax(model: nn.Module) -> bool:
    """Whether the model's last layer is an ``nn.Softmax`` module (looking into nested Sequentials)."""
    return _strip(model) is not None


def remove_softmax(model: nn.Module) -> nn.Module:
    """Return a model that computes the logits of ``model``, leaving ``model`` untouched.

    A final ``nn.Softmax`` (the last child of an ``nn.Sequential``, looking into nested
    Sequentials, or the output layer of a model converted with
    :func:`signxai_captum.convert.keras_to_torch`) is dropped. The returned model shares
    the original's submodules and parameters (nothing is copied, nothing is modified), and
    keeps the children's names, so layer paths such as ``"features.28"`` stay valid.

    A softmax applied functionally inside ``forward`` (``torch.softmax(...)``) cannot be seen
    from outside; write it as a module or return logits from such a model.

    Parameters
    ----------
    model : torch.nn.Module
        The model to explain.

    Returns
    -------
    torch.nn.Module
        ``model`` itself when it does not end with a softmax, otherwise a softmax-free view.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    stripped = _strip(model)
    if stripped is None:
        return model
    stripped.train(model.training)
    return stripped


def looks_like_probabilities(output: torch.Tensor) -> bool:
    """Heuristic: rows that are non-negative and sum to 1 (a functional softmax we cannot strip)."""
    if output.ndim != 2 or output.shape[1] < 2:
        return False
    out = output.detach()
    return bool(torch.all(out >= 0) and torch.allclose(out.sum(dim=1), torch.ones_like(out[:, 0]), atol=1e-5))
