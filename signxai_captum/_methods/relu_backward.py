"""Modified backward passes through ``nn.ReLU`` modules: guided backprop and deconvnet (docs/semantics.md §3).

:func:`modified_relu_backward` hooks every ``nn.ReLU`` module of a model for the duration of a
``with`` block, so that in the backward pass the signal g arriving at a ReLU with input z becomes

- ``"guided_backprop"`` (guided backprop): 1[z > 0] * max(g, 0);
- ``"deconvnet"``: max(g, 0), without the forward mask.

Every other operation keeps its plain gradient. The hooks are removed on exit, also after an
exception. ``ReLU(inplace=True)`` (torchvision's VGG and ResNet) works: the hooked module runs on a
copy of its input, so the pre-activation stays available.

:func:`modified_relu_family` builds the attribution classes of one mode (the method, ``_x_input``
and ``_x_sign``): :mod:`.guided_backprop` and :mod:`.deconvnet` publish them.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

import torch
from torch import nn

from shared_spec import check_parameter, parameter_default

from .._multipliers import apply_multiplier
from .base import SignXAIAttribution

__all__ = [
    "RELU_MODES",
    "ModifiedReLUAttribution",
    "modified_relu_family",
    "NON_RELU_ACTIVATIONS",
    "modified_relu_backward",
    "other_activations",
    "relu_modules",
    "warn_about_activations",
]

#: The backward modes of :func:`modified_relu_backward`.
RELU_MODES = ("guided_backprop", "deconvnet")

#: Activation modules that are not ``nn.ReLU``: guided backprop / deconvnet leave them unchanged.
NON_RELU_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Softplus, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.LogSigmoid,
    nn.Softsign, nn.Tanhshrink, nn.Threshold, nn.Softshrink, nn.Hardshrink, nn.GLU,
)


class _ModifiedReLU(torch.autograd.Function):
    """Identity on the module's own output relu(z) forward; the guided-backprop or deconvnet signal backward.

    The module's output is handed over in a one-element list (not as a tensor input), so that the
    forward pass computes relu(z) once, in the module. Guided backprop's mask ``1[z > 0]`` is read
    from that output (``relu(z) > 0`` exactly where ``z > 0``), so ``z`` itself need not be kept.
    """

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, output: list, guided: bool) -> torch.Tensor:  # noqa: D102
        ctx.guided = guided
        result = output.pop()
        if guided:
            ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: D102
        if ctx.guided:  # 1[relu(z) > 0] * max(g, 0): one fresh tensor, then in place
            (result,) = ctx.saved_tensors
            return torch.ops.aten.threshold_backward(grad, result, 0.0).clamp_(min=0), None, None
        return grad.clamp(min=0), None, None


def relu_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``nn.ReLU`` modules of ``model`` (name, module), in registration order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]


def other_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Activation modules of ``model`` that are not ``nn.ReLU`` (their gradient stays plain)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, NON_RELU_ACTIVATIONS)]


@contextlib.contextmanager
def modified_relu_backward(model: nn.Module, mode: str) -> Iterator[int]:
    """Within the block, the backward pass through each ``nn.ReLU`` of ``model`` follows ``mode``.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose ReLU modules are hooked (temporarily; nothing else is touched).
    mode : {"guided_backprop", "deconvnet"}
        ``"guided_backprop"``: 1[z > 0] * max(g, 0). ``"deconvnet"``: max(g, 0).

    Yields
    ------
    int
        The number of hooked ReLU modules.
    """
    if mode not in RELU_MODES:
        raise ValueError(f"mode must be one of {RELU_MODES}, got {mode!r}")
    guided = mode == "guided_backprop"
    pre_activations: dict[nn.Module, torch.Tensor] = {}

    def before(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        z = args[0]
        pre_activations[module] = z
        # the module computes relu(z) outside autograd (our function is its backward). An in-place
        # module then overwrites z's values, as it does without hooks (the layer before it keeps no
        # output for its backward, or autograd's version check raises as it would without hooks);
        # a tensor without history (the caller's input) is copied instead
        if getattr(module, "inplace", False) and z.grad_fn is None:
            return (z.detach().clone(),) + tuple(args[1:])
        return (z.detach(),) + tuple(args[1:])

    def after(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        # a module called twice per forward (ResNet's block.relu) stores and consumes one z per call
        z = pre_activations.pop(module)
        return _ModifiedReLU.apply(z, [output], guided)

    handles = []
    try:
        for _, module in relu_modules(model):
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
        yield len(handles) // 2
    finally:
        for handle in handles:
            handle.remove()
        pre_activations.clear()


def warn_about_activations(model: nn.Module, method: str, stacklevel: int = 3) -> None:
    """Warn (once per call) when ``method`` cannot treat every activation of ``model`` as docs/semantics.md §3 says."""
    others = other_activations(model)
    if others:
        listed = ", ".join(f"{name!r} ({type(m).__name__})" for name, m in others[:5])
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        warnings.warn(
            f"{method} modifies the backward pass of nn.ReLU modules only; these activations keep their "
            f"plain gradient: {listed}{more}",
            UserWarning,
            stacklevel=stacklevel,
        )
    elif not relu_modules(model):
        warnings.warn(
            f"{method}: the model has no nn.ReLU module, so the result equals the plain gradient. A ReLU "
            "applied functionally inside forward (F.relu, torch.relu) cannot be hooked; use nn.ReLU modules.",
            UserWarning,
            stacklevel=stacklevel,
        )


class ModifiedReLUAttribution(SignXAIAttribution):
    """Base of :class:`GuidedBackprop` and :class:`Deconvnet`: the gradient with modified ReLUs.

    Subclasses set ``_mode`` (``"guided_backprop"`` or ``"deconvnet"``), ``_method`` (the method name for
    messages) and, for the suffix variants, ``_multiplier`` (``"input"`` or ``"sign"``) and ``mu``.
    The backward pass starts from 1 at the selected logit (unit seed).
    """

    _mode = "guided_backprop"
    _method = "guided_backprop"
    _multiplier: str | None = None
    mu = 0.0
    needs_layers = "changes the backward pass of the model's nn.ReLU modules"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        warn_about_activations(self.forward_func, self._method, stacklevel=4)

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        grads, _ = self._modified_gradients(inputs, target, additional_forward_args)
        return tuple(apply_multiplier(g, x, self._multiplier, self.mu) for g, x in zip(grads, inputs))

    def _modified_gradients(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        with modified_relu_backward(self.forward_func, self._mode):
            return self._gradients(inputs, target, additional_forward_args)


#: Per mode: the class-name stem, the method name, the backward signal at a ReLU, a note on the seed.
_FAMILIES: dict[str, tuple[str, str, str, str]] = {
    "guided_backprop": ("GuidedBackprop", "guided_backprop", "1[z>0]·max(g, 0)",
               " (the SIGN-XAI reference multiplies by the logit; we do not)"),
    "deconvnet": ("Deconvnet", "deconvnet", "max(g, 0)", ""),
}


def modified_relu_family(
    mode: str, module: str
) -> tuple[type[ModifiedReLUAttribution], type[ModifiedReLUAttribution], type[ModifiedReLUAttribution]]:
    """The attribution classes of one ReLU backward mode: the map, x times it, sign_mu(x) times it.

    Parameters
    ----------
    mode : {"guided_backprop", "deconvnet"}
        The backward mode (see :func:`modified_relu_backward`).
    module : str
        The module that publishes the classes (their ``__module__``).

    Returns
    -------
    tuple of three classes
        ``(GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign)`` for ``"guided_backprop"``,
        ``(Deconvnet, DeconvnetXInput, DeconvnetXSign)`` for ``"deconvnet"``; the other two
        subclass the first.
    """
    if mode not in _FAMILIES:
        raise ValueError(f"mode must be one of {RELU_MODES}, got {mode!r}")
    stem, method, signal, note = _FAMILIES[mode]
    label = method.replace("_", " ")

    class Plain(ModifiedReLUAttribution):
        _mode = mode
        _method = method

    class XInput(Plain):
        _multiplier = "input"
        _method = f"{method}_x_input"

        @property
        def multiplies_by_inputs(self) -> bool:  # noqa: D102
            return True

    class XSign(Plain):
        _multiplier = "sign"
        _method = f"{method}_x_sign"

        def __init__(self, model: nn.Module, mu: float = parameter_default("mu")) -> None:
            super().__init__(model)
            self.mu = check_parameter("mu", mu, type(self).__name__)

    docs = {
        Plain: (
            f"""``{method}``: the gradient with the backward signal at every ReLU set to {signal}.

            Only ``nn.ReLU`` modules are treated (``ReLU(inplace=True)`` included); a model with other
            activation modules, or without any ``nn.ReLU``, gets one warning at construction. The backward
            pass starts from 1 at the selected logit{note}.

            Parameters
            ----------
            model : torch.nn.Module
                The model (a final softmax is skipped; the model is not modified, its hooks are removed
                after every call).

            Examples
            --------
            >>> attr = {stem}(model).attribute(x, target=3)
            """
        ),
        XInput: f"``{method}_x_input``: x * {label}.",
        XSign: (
            f"""``{method}_x_sign`` / ``{method}_x_sign_mu_<v>``: {label} * sign_mu(x, mu).

            Parameters
            ----------
            model : torch.nn.Module
                The model.
            mu : float, default 0.0
                Threshold of sign_mu in the model's raw input units (+1 where x >= mu, -1 elsewhere).
            """
        ),
    }
    for cls, suffix in ((Plain, ""), (XInput, "XInput"), (XSign, "XSign")):
        cls.__name__ = cls.__qualname__ = stem + suffix
        cls.__module__ = module
        cls.__doc__ = docs[cls]
    return Plain, XInput, XSign
