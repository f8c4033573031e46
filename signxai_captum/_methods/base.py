"""The common base of every signxai_captum attribution: Captum's contract in one place.

Subclasses implement :meth:`SignXAIAttribution._attribute` on a tuple of input tensors and a
1-D tensor of class indices; this base handles tensor/tuple inputs, Captum's target forms,
``torch.no_grad()`` callers, eval mode, softmax removal and restoring the user's model.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

import numpy as np
import torch
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import nn

from shared_spec import check_finite as shared_check_finite
from shared_spec import resolve_targets

from .._modelstate import evaluation_mode, exclusive
from .._triton_guard import guard_triton
from .._softmax import looks_like_probabilities, remove_softmax

__all__ = ["SignXAIAttribution", "TensorOrTuple", "check_finite"]

TensorOrTuple = torch.Tensor | tuple[torch.Tensor, ...]


class SignXAIAttribution(GradientAttribution):
    """Base class: a Captum ``GradientAttribution`` that explains the model's logits.

    Parameters
    ----------
    model : torch.nn.Module
        The model. A final ``nn.Softmax`` is skipped (see :func:`signxai_captum.remove_softmax`);
        the model itself is never modified.

    Attributes
    ----------
    allow_nonfinite : bool, default False
        Inputs with NaN or infinite values raise a ``ValueError`` (naming how many and the first
        index) before anything is computed, unless this is True. Set it on the instance
        (``attr.allow_nonfinite = True``) or with
        ``signxai_captum.attribution_for(model, name, allow_nonfinite=True)``; it then holds for
        every call, also those made by ``NoiseTunnel`` and ``captum.metrics``.
    """

    allow_nonfinite: bool = False
    #: what the method needs from the model's modules (hooks on its layers, nn.ReLU modules), or
    #: None for methods that need only the forward function and autograd (the gradient family)
    needs_layers: str | None = None

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self.needs_layers is not None and _is_compiled_graph(model):
            raise TypeError(
                f"{type(self).__name__} {self.needs_layers}, but the model is a {type(model).__name__} (TorchScript or "
                "torch.export), whose layers are not modules that can be hooked: explain the original nn.Module, or use "
                "the gradient family (gradient, integrated_gradients, smoothgrad, vargrad and their _x_input / _x_sign "
                "variants), which needs only the forward function"
            )
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
        guard_triton()  # TensorFlow may have been imported since signxai_captum was (torch.fx can load triton)
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
        model's modules, see :func:`signxai_captum._modelstate.exclusive`), so each gives the map a
        sequential call gives and the model's flags are restored by the call that set them.
        """
        with torch.enable_grad(), exclusive(self.forward_func), evaluation_mode(self.forward_func):
            yield

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _forward(
        self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any, module: nn.Module | None = None
    ) -> torch.Tensor:
        """Run the model (or ``module``, a view of it such as LRP's traced graph) on ``inputs``.

        The attribution object is never changed for one call: threads may share it.
        """
        extra = () if additional_forward_args is None else (
            additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)
        )
        try:
            output = (self.forward_func if module is None else module)(*inputs, *extra)
        except (RuntimeError, ValueError, TypeError) as error:
            shapes = ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs)
            hint = layout_hint(self.model, inputs)
            if hint:
                raise ValueError(
                    f"the model could not run on the given input(s) [{shapes}]: {hint} (the model raised: {error})"
                ) from error
            raise ValueError(f"the model could not run on the given input(s) [{shapes}]: {error}") from error
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"the model must return one tensor of shape (batch, classes), got {type(output).__name__}")
        if not self._warned_probabilities and looks_like_probabilities(output):
            self._warned_probabilities = True
            warnings.warn(
                "the model's output looks like probabilities (rows sum to 1) but has no nn.Softmax module at "
                "its end; explanations are computed on this output as it is. Return logits for maps as docs/semantics.md defines them.",
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

    def _check_inputs(self, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        """Check the inputs before anything is computed: tensors, floating, one batch, finite.

        Raises
        ------
        TypeError
            For non-tensors and non-floating tensors.
        ValueError
            For inconsistent batch sizes, an empty batch, and (unless :attr:`allow_nonfinite`)
            NaN or infinite values.
        """
        if not inputs:
            raise ValueError("inputs must be a tensor or a non-empty tuple of tensors")
        for i, x in enumerate(inputs):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"inputs[{i}] must be a torch.Tensor, got {type(x).__name__}")
            if not torch.is_floating_point(x):
                raise TypeError(f"inputs[{i}] must be a floating-point tensor, got {x.dtype}; convert with x.float()")
            if x.ndim < 1 or x.shape[0] != inputs[0].shape[0]:
                raise ValueError("every input must have the batch as dim 0, the same for all inputs")
        names = ["inputs"] if len(inputs) == 1 else [f"inputs[{i}]" for i in range(len(inputs))]
        if inputs[0].shape[0] == 0:
            raise ValueError(
                f"{names[0]} has 0 samples (shape {tuple(inputs[0].shape)}); "
                "pass a batch with at least one sample along dim 0"
            )
        if not self.allow_nonfinite:
            for x, name in zip(inputs, names):
                check_finite(x, name, "or set allow_nonfinite = True on the attribution to explain them anyway")
        return tuple(inputs)


def _is_compiled_graph(model: nn.Module) -> bool:
    """Whether ``model`` is a TorchScript module or a torch.export / FX graph module (no hookable layers)."""
    if isinstance(model, torch.jit.ScriptModule):
        return True
    fx = getattr(torch, "fx", None)
    graph_module = getattr(fx, "GraphModule", None) if fx is not None else None
    if graph_module is None or not isinstance(model, graph_module):
        return False
    # torch.export's module(): the layers became graph nodes, the children only hold parameters
    return not any(
        type(m) is not nn.Module and type(m).__module__.startswith("torch.nn.modules") for m in model.modules() if m is not model
    )


def check_finite(x: torch.Tensor, name: str, opt_in: str, before: torch.Tensor | None = None) -> None:
    """Raise a ``ValueError`` if ``x`` has NaN or infinite values.

    The check is one ``torch.isfinite(x).all()`` on ``x``'s device; only when it fails is the
    message worded, by :func:`shared_spec.check_finite` (the same message as signxai_tf).

    Parameters
    ----------
    x : torch.Tensor
        The tensor to check.
    name : str
        Its name in the message (``"x"``, ``"inputs[1]"``).
    opt_in : str
        How to explain non-finite input anyway, the end of the message.
    before : torch.Tensor, optional
        ``x`` before a dtype conversion: if it is finite where ``x`` is not, the message says that
        the conversion overflowed.

    Raises
    ------
    ValueError
        Naming how many values are non-finite (NaN / inf), of how many, and the first index.
    """
    if bool(torch.isfinite(x).all()):
        return
    shared_check_finite(_numpy(x), name, opt_in, None if before is None else _numpy(before))


def _numpy(x: torch.Tensor) -> np.ndarray:
    """``x`` as a numpy array for a message (bfloat16, which numpy lacks, as float32)."""
    x = x.detach().cpu()
    return (x.float() if x.dtype == torch.bfloat16 else x).numpy()


_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _first_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The first convolution or Linear module of ``model`` (registration order), with its path."""
    for path, module in model.named_modules():
        if isinstance(module, _CONV_TYPES + (nn.Linear,)):
            return path, module
    return None


def layout_hint(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str:
    """Advice when inputs look channels-last or unbatched for the model's first layer, else ``""``.

    Parameters
    ----------
    model : torch.nn.Module
        The model that failed on ``inputs``.
    inputs : tuple of torch.Tensor
        The inputs it failed on.

    Returns
    -------
    str
        E.g. ``"PyTorch models take channels-first input: x has shape (2, 8, 8, 3) but the first
        convolution ('0', Conv2d) expects 3 channels on axis 1; use x.permute(0, 3, 1, 2)"``.
    """
    found = _first_layer(model)
    if found is None:
        return ""
    path, layer = found
    hints = []
    for i, x in enumerate(inputs):
        name = "x" if len(inputs) == 1 else f"inputs[{i}]"
        shape = tuple(x.shape)
        if isinstance(layer, nn.Linear):
            if x.ndim == 1 and shape[0] == layer.in_features:
                hints.append(
                    f"{name} has shape {shape} but the first layer ({path!r}, Linear) takes a batch (batch, "
                    f"{layer.in_features}); for one sample use {name}[None]"
                )
            continue
        channels = layer.in_channels
        rank = len(layer.kernel_size) + 2
        what = f"the first convolution ({path!r}, {type(layer).__name__})"
        if not channels:  # a lazy module before its first call
            continue
        if x.ndim == rank - 1:
            hints.append(
                f"{name} has shape {shape} but {what} takes {rank}-D input (batch, channels, ...): "
                f"the batch axis is missing; for one sample use {name}[None]"
            )
        elif x.ndim == rank and shape[1] != channels and shape[-1] == channels:
            order = ", ".join(map(str, (0, rank - 1, *range(1, rank - 1))))
            hints.append(
                f"PyTorch models take channels-first input: {name} has shape {shape} but {what} expects "
                f"{channels} channel{'s' if channels != 1 else ''} on axis 1; use {name}.permute({order}) "
                f"(numpy: {name}.transpose({order}))"
            )
    return "; ".join(hints)
