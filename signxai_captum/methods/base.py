"""The common base of every signxai_captum attribution: Captum's contract in one place.

Subclasses implement :meth:`SignXAIAttribution._attribute` on a tuple of input tensors and a
1-D tensor of class indices; this base handles tensor/tuple inputs, Captum's target forms,
``torch.no_grad()`` callers, eval mode, softmax removal and restoring the user's model.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

import torch
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import nn

from shared_spec import resolve_targets

from ..modelstate import evaluation_mode, exclusive
from ..softmax import looks_like_probabilities, remove_softmax

__all__ = ["SignXAIAttribution", "TensorOrTuple"]

TensorOrTuple = torch.Tensor | tuple[torch.Tensor, ...]


class SignXAIAttribution(GradientAttribution):
    """Base class: a Captum ``GradientAttribution`` that explains the model's logits.

    Parameters
    ----------
    model : torch.nn.Module
        The model. A final ``nn.Softmax`` is skipped (see :func:`signxai_captum.remove_softmax`);
        the model itself is never modified.
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self._warned_probabilities = False
        super().__init__(remove_softmax(model))

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: Any = None,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        """Compute the attribution of the selected logit to each input element.

        Parameters
        ----------
        inputs : torch.Tensor or tuple of torch.Tensor
            A batch (dim 0 is the batch), or a tuple of batches for multi-input models.
        target : None, int, tuple, list of int or 1-D tensor
            ``None``: the argmax of the logits per sample. An int: that class for every sample.
            A list or 1-D tensor of length N: one class per sample.
        additional_forward_args : Any, optional
            Extra positional arguments for the model's forward, after the inputs.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            Attributions with exactly the shapes of ``inputs``, in the same structure.
        """
        is_tuple = isinstance(inputs, tuple)
        inputs_tuple = self._check_inputs(inputs if is_tuple else (inputs,))
        with self._explaining():
            result = self._attribute(inputs_tuple, target, additional_forward_args)
        result = tuple(r.detach() for r in result)
        return result if is_tuple else result[0]

    # -- for subclasses ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _explaining(self) -> Iterator[None]:
        """The state of one explanation: gradients on, the model held by this call, eval mode.

        Explanations of one model from several threads run one after the other (each holds the
        model's modules, see :func:`signxai_captum.modelstate.exclusive`), so each gives the map a
        sequential call gives and the model's flags are restored by the call that set them.
        """
        with torch.enable_grad(), exclusive(self.forward_func), evaluation_mode(self.forward_func):
            yield

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _forward(self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any) -> torch.Tensor:
        extra = () if additional_forward_args is None else (
            additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)
        )
        try:
            output = self.forward_func(*inputs, *extra)
        except (RuntimeError, ValueError, TypeError) as error:
            shapes = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs)
            raise ValueError(f"the model could not run on the given input(s) [{shapes}]: {error}") from error
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"the model must return one tensor of shape (batch, classes), got {type(output).__name__}")
        if not self._warned_probabilities and looks_like_probabilities(output):
            self._warned_probabilities = True
            warnings.warn(
                "the model's output looks like probabilities (rows sum to 1) but has no nn.Softmax module at "
                "its end; explanations are computed on this output as it is. Return logits for SPEC-conforming maps.",
                stacklevel=4,
            )
        return output

    def _gradients(
        self,
        inputs: tuple[torch.Tensor, ...],
        target: Any,
        additional_forward_args: Any,
        forward: Callable[..., torch.Tensor] | None = None,
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Gradient of the selected logit (unit seed) w.r.t. each input; also the class indices."""
        leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
        output = (forward or self._forward)(leaves, additional_forward_args)
        targets = self._targets(target, output)
        selected = output.gather(1, targets[:, None]).sum()
        grads = torch.autograd.grad(selected, leaves, allow_unused=True)
        grads = tuple(torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads))
        return grads, targets

    @staticmethod
    def _targets(target: Any, output: torch.Tensor) -> torch.Tensor:
        indices = resolve_targets(target, output)
        return torch.as_tensor(indices, device=output.device)

    @staticmethod
    def _check_inputs(inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        if not inputs:
            raise ValueError("inputs must be a tensor or a non-empty tuple of tensors")
        for i, x in enumerate(inputs):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"inputs[{i}] must be a torch.Tensor, got {type(x).__name__}")
            if not torch.is_floating_point(x):
                raise TypeError(f"inputs[{i}] must be a floating-point tensor, got {x.dtype}; convert with x.float()")
            if x.ndim < 1 or x.shape[0] != inputs[0].shape[0]:
                raise ValueError("every input must have the batch as dim 0, the same for all inputs")
        return tuple(inputs)
