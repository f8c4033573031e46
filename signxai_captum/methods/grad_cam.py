"""Grad-CAM, Grad-CAM for time series and guided Grad-CAM (SPEC §3).

Per sample: A = the layer's output (K channels over space/time), α_k = mean over space/time of
∂f_c/∂A_k (unit seed), CAM = ReLU(Σ_k α_k A_k), divided by its max when that is > 0, resized to the
input's spatial size with (bi/tri)linear interpolation and half-pixel centres
(``F.interpolate(..., align_corners=False)``), broadcast over the input channels.

The layer defaults to the last convolution (``nn.Conv1d/2d/3d``, in execution order), taken after
its activation: when the first module that receives the convolution's output is an activation
module (``nn.ReLU``, ...), that module's output is used. For torchvision's VGG16 that is
``features.29`` (the ReLU after ``features.28``), matching Keras' ``block5_conv3``, whose activation
is fused. A layer named by the user follows the same rule when it is a convolution
(``through_activation=False`` takes the module's output literally, as Captum's ``LayerGradCam``).
"""

from __future__ import annotations

import difflib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import SignXAIAttribution
from .relu_backward import NON_RELU_ACTIVATIONS, modified_relu_backward, warn_about_activations

__all__ = ["GradCAM", "GradCAMTimeseries", "GuidedGradCAM", "check_model_layer"]

_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ACTIVATIONS = (nn.ReLU,) + NON_RELU_ACTIVATIONS
_INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}

LayerLike = str | nn.Module | None


def _module_path(model: nn.Module, layer: str | nn.Module) -> str:
    """The path of ``layer`` inside ``model``, checked; a clear error naming close paths otherwise."""
    names = {m: name for name, m in model.named_modules()}
    if isinstance(layer, nn.Module):
        if layer not in names:
            raise ValueError(f"the layer module {type(layer).__name__} is not a submodule of the model")
        return names[layer]
    if not isinstance(layer, str):
        raise TypeError(f"layer must be None, a module path string or an nn.Module, got {type(layer).__name__}")
    paths = [n for n in names.values() if n]
    if layer not in paths:
        close = difflib.get_close_matches(layer, paths, n=3)
        hint = f"; close paths: {', '.join(close)}" if close else ""
        convs = [n for n, m in model.named_modules() if isinstance(m, _CONVOLUTIONS)]
        conv_hint = f"; convolutions of this model: {', '.join(convs[-4:])}" if convs else ""
        raise ValueError(f"layer {layer!r} not found in the model ({type(model).__name__}){hint}{conv_hint}")
    return layer


def check_model_layer(model: nn.Module, path: str, suffix: str) -> str:
    """Check that ``model`` has the convolution ``path`` that the model suffix ``suffix`` names.

    Raises
    ------
    ValueError
        If the module is missing or is not a 2-D convolution, naming what the suffix expects.
    """
    modules = dict(model.named_modules())
    module = modules.get(path)
    if not isinstance(module, nn.Conv2d):
        found = "missing" if module is None else f"a {type(module).__name__}"
        raise ValueError(
            f"the suffix _{suffix} takes its Grad-CAM layer from torchvision's VGG16 layout: module {path!r} "
            f"must be the last nn.Conv2d, but in this {type(model).__name__} it is {found}. Use 'grad_cam' "
            "(default: the last convolution) or pass layer=<module path> for other models"
        )
    return path


def _trace(model: nn.Module, inputs: tuple[torch.Tensor, ...], extra: tuple[Any, ...]) -> list[tuple[str, Any, Any]]:
    """Run one sample through ``model`` and return the leaf module calls (path, first input, output)."""
    calls: list[tuple[str, Any, Any]] = []
    handles = []

    def recorder(path: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            calls.append((path, args[0] if args else None, output))

        return hook

    try:
        for path, module in model.named_modules():
            if not any(True for _ in module.children()):
                handles.append(module.register_forward_hook(recorder(path)))
        with torch.no_grad():
            model(*(x[:1] for x in inputs), *extra)
    finally:
        for handle in handles:
            handle.remove()
    return calls


class GradCAM(SignXAIAttribution):
    """``grad_cam`` (``grad_cam_VGG16ILSVRC``): class activation maps from gradients at a layer.

    CAM = ReLU(Σ_k α_k A_k) with α_k the spatial mean of ∂f_c/∂A_k, divided by its max when that is
    > 0, resized (bilinear; 1-D linear; 3-D trilinear; half-pixel centres) to the input's spatial
    size and broadcast over the input channels: the result has exactly the input's shape.

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped; the model is not modified).
    layer : str, torch.nn.Module or None, default None
        The layer whose output A is used, as a module path (``"features.28"``) or the module.
        None: the last convolution in execution order.
    through_activation : bool, default True
        When the layer is a convolution whose output goes first into an activation module, use the
        activation's output (SPEC: "its output taken after its activation"). False: the module's
        output as it is.

    Examples
    --------
    >>> cam = GradCAM(vgg16).attribute(x, target=243)        # layer features.28 + its ReLU
    """

    def __init__(self, model: nn.Module, layer: LayerLike = None, through_activation: bool = True) -> None:
        super().__init__(model)
        self.layer = None if layer is None else _module_path(self.forward_func, layer)
        self.through_activation = bool(through_activation)
        self._resolved: str | None = None

    # -- the layer -------------------------------------------------------------------------
    def resolved_layer(self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None) -> str:
        """The module path whose output is used for these inputs (found with one traced forward)."""
        if self._resolved is not None:
            return self._resolved
        if self.layer is not None and not self.through_activation:
            self._resolved = self.layer
            return self.layer
        modules = dict(self.forward_func.named_modules())
        if self.layer is not None and not isinstance(modules[self.layer], _CONVOLUTIONS):
            self._resolved = self.layer
            return self.layer
        extra = self._extra(additional_forward_args)
        calls = _trace(self.forward_func, inputs, extra)
        if self.layer is None:
            convs = [i for i, (path, _, _) in enumerate(calls) if isinstance(modules[path], _CONVOLUTIONS)]
            if not convs:
                raise ValueError(
                    f"grad_cam needs a convolution, but {type(self.model).__name__} runs no nn.Conv1d/2d/3d "
                    "module; pass layer=<module path> with a (batch, channels, ...) output"
                )
            index = convs[-1]
        else:
            index = max(i for i, (path, _, _) in enumerate(calls) if path == self.layer) if any(
                path == self.layer for path, _, _ in calls) else None
            if index is None:
                raise ValueError(f"layer {self.layer!r} is not called in the model's forward pass")
        path, _, output = calls[index]
        if self.through_activation:
            while True:
                consumer = next(((i, p, o) for i, (p, a, o) in enumerate(calls) if i > index and a is output), None)
                if consumer is None or not isinstance(modules[consumer[1]], _ACTIVATIONS):
                    break
                index, path, output = consumer
        self._resolved = path
        return path

    @staticmethod
    def _extra(additional_forward_args: Any) -> tuple[Any, ...]:
        if additional_forward_args is None:
            return ()
        return additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)

    # -- the maps --------------------------------------------------------------------------
    def _cams(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised CAMs at the layer's resolution (N, *spatial) and the class indices."""
        path = self.resolved_layer(inputs, additional_forward_args)
        module = self.forward_func.get_submodule(path)
        captured: list[torch.Tensor] = []

        def capture(mod: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"Grad-CAM layer {path!r} must return one tensor, got {type(output).__name__}")
            captured.append(output)
            return output.clone()  # later in-place ops (x += identity) must not change the captured A

        handle = module.register_forward_hook(capture)
        try:
            leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
            output = self._forward(leaves, additional_forward_args)
        finally:
            handle.remove()
        if len(captured) != 1:
            raise ValueError(
                f"Grad-CAM layer {path!r} ({type(module).__name__}) ran {len(captured)} times in one forward pass; "
                "choose a module that is called exactly once"
            )
        (activation,) = captured
        if activation.ndim < 3 or activation.shape[0] != inputs[0].shape[0]:
            raise ValueError(
                f"Grad-CAM layer {path!r} ({type(module).__name__}) gives shape {tuple(activation.shape)}; it needs "
                "a (batch, channels, *space) output, e.g. a convolution"
            )
        targets = self._targets(target, output)
        selected = output.gather(1, targets[:, None]).sum()
        (grad,) = torch.autograd.grad(selected, activation, allow_unused=True)
        if grad is None:
            raise ValueError(f"the model output does not depend on Grad-CAM layer {path!r}")
        space = tuple(range(2, activation.ndim))
        weights = grad.mean(dim=space, keepdim=True)
        cam = torch.relu((weights * activation).sum(dim=1)).detach()
        peak = cam.reshape(cam.shape[0], -1).amax(dim=1).reshape((-1,) + (1,) * (cam.ndim - 1))
        cam = torch.where(peak > 0, cam / torch.where(peak > 0, peak, torch.ones_like(peak)), cam)
        return cam, targets

    @staticmethod
    def _resize(cam: torch.Tensor, x: torch.Tensor, index: int) -> torch.Tensor:
        space = cam.ndim - 1
        if x.ndim != cam.ndim + 1:
            raise ValueError(
                f"input {index} has shape {tuple(x.shape)}, but the Grad-CAM layer has {space} spatial dimension(s): "
                f"the input needs the layout (batch, channels, {', '.join(['...'] * space)})"
            )
        mode = _INTERPOLATION.get(space)
        if mode is None:
            raise ValueError(f"Grad-CAM resizes 1-, 2- or 3-D maps, the layer output has {space} spatial dimensions")
        resized = F.interpolate(cam[:, None].to(x.dtype), size=tuple(x.shape[2:]), mode=mode, align_corners=False)
        return resized.expand(x.shape).contiguous()

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        cam, _ = self._cams(inputs, target, additional_forward_args)
        return tuple(self._resize(cam, x, i) for i, x in enumerate(inputs))


class GradCAMTimeseries(GradCAM):
    """``grad_cam_timeseries``: Grad-CAM for (batch, channels, time) inputs and 1-D convolutions.

    The same computation as :class:`GradCAM` with linear interpolation over time; inputs must be
    3-D (PyTorch's layout of a time series; Keras' (time, channels) samples are transposed).
    """

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        for i, x in enumerate(inputs):
            if x.ndim != 3:
                raise ValueError(
                    f"grad_cam_timeseries takes time series of shape (batch, channels, time); input {i} has shape "
                    f"{tuple(x.shape)}. Use grad_cam for images"
                )
        return super()._attribute(inputs, target, additional_forward_args)


class GuidedGradCAM(SignXAIAttribution):
    """``guided_grad_cam`` (``guided_grad_cam_VGG16ILSVRC``): Grad-CAM ⊙ guided backprop, same target.

    Both maps are computed for the same class per sample (the reference multiplies a class-agnostic
    guided map; we do not). Parameters as for :class:`GradCAM`.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    layer : str, torch.nn.Module or None, default None
        Grad-CAM layer (None: the last convolution, after its activation).
    through_activation : bool, default True
        As for :class:`GradCAM`.
    """

    def __init__(self, model: nn.Module, layer: LayerLike = None, through_activation: bool = True) -> None:
        super().__init__(model)
        warn_about_activations(self.forward_func, "guided_grad_cam", stacklevel=3)
        self.grad_cam = GradCAM(model, layer=layer, through_activation=through_activation)

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        cam, targets = self.grad_cam._cams(inputs, target, additional_forward_args)
        with modified_relu_backward(self.forward_func, "guided"):
            guided, _ = self._gradients(inputs, targets, additional_forward_args)
        return tuple(self.grad_cam._resize(cam, x, i) * g for i, (x, g) in enumerate(zip(inputs, guided)))
