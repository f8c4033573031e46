"""Grad-CAM, Grad-CAM for time series and guided Grad-CAM (docs/semantics.md §3).

Per sample: A = the layer's output (K channels over space/time), α_k = mean over space/time of
∂f_c/∂A_k (unit seed), CAM = ReLU(Σ_k α_k A_k), divided by its max when that is > 0, resized to the
input's spatial size as the reference does (:func:`resize_cam`: 1-D linear with aligned end points,
as ``np.interp``; 2-D bilinear and 3-D trilinear with half-pixel centres, as ``cv2.resize``),
broadcast over the input channels.

The layer defaults to the last convolution (``nn.Conv1d/2d/3d``, in execution order), taken after
its activation: when the first module that receives the convolution's output is an activation
module (``nn.ReLU``, ...), that module's output is used. For torchvision's VGG16 that is
``features.29`` (the ReLU after ``features.28``), matching Keras' ``block5_conv3``, whose activation
is fused. A layer named by the user follows the same rule when it is a convolution
(``through_activation=False`` takes the module's output literally, as Captum's ``LayerGradCam``).
An activation applied functionally in ``forward`` (``F.relu(self.conv(x))``) cannot be looked
through: the pre-activation map is used and one warning says so.
"""

from __future__ import annotations

import difflib
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shared_spec import model_constants

from .base import SignXAIAttribution
from .relu_backward import NON_RELU_ACTIVATIONS, modified_relu_backward, warn_about_activations

__all__ = ["GradCAM", "GradCAMTimeseries", "GuidedGradCAM", "check_model_layer", "resize_cam"]

_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ACTIVATIONS = (nn.ReLU,) + NON_RELU_ACTIVATIONS
_INTERPOLATION = {2: "bilinear", 3: "trilinear"}

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


def _first_conv2d(module: nn.Module | None) -> str | None:
    """Where the 2-D convolution of ``module`` is: ``""`` (``module`` is one), a child name, or None.

    A child name is returned for an ``nn.Sequential`` whose first child is an ``nn.Conv2d``: the
    converter's form of a Keras convolution with a fused activation, ``Sequential(Conv2d, ReLU)``.
    """
    if isinstance(module, nn.Conv2d):
        return ""
    if isinstance(module, nn.Sequential) and len(module) > 0:
        name, first = next(iter(module.named_children()))
        if isinstance(first, nn.Conv2d):
            return name
    return None


def check_model_layer(model: nn.Module, path: str, suffix: str) -> str:
    """Find the Grad-CAM convolution that the model suffix ``suffix`` names in ``model``.

    The candidates, tried in this order, come from the method table's ``"grad_cam_layer"``:

    1. the torch path (``"features.28"``: torchvision's VGG16 layout), which must be an ``nn.Conv2d``;
    2. the module named after the Keras layer (``"block5_conv3"``) as the last component of its path,
       e.g. ``"layers.block5_conv3"`` of a Keras VGG16 converted with
       :func:`signxai_captum.convert.keras_to_torch`. The converter keeps a convolution with a fused
       activation as ``Sequential(Conv2d, ReLU)``; then the path of that ``Conv2d`` is returned
       (``"layers.block5_conv3.0"``), so that Grad-CAM takes it after its ReLU as for torchvision.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    path : str
        The torch path of the table (``model_constants(suffix)["grad_cam_layer"]["torch"]``).
    suffix : str
        The model suffix (``"VGG16ILSVRC"``), whose Keras layer name is the second candidate.

    Returns
    -------
    str
        The module path of the convolution.

    Raises
    ------
    ValueError
        If no candidate is a 2-D convolution (or several modules carry the Keras name), naming the
        candidates and what was found.
    """
    modules = dict(model.named_modules())
    module = modules.get(path)
    if isinstance(module, nn.Conv2d):
        return path
    found = [f"{path!r} is " + ("missing" if module is None else f"a {type(module).__name__}")]
    keras_name = model_constants(suffix).get("grad_cam_layer", {}).get("tf")
    if keras_name:
        named = [p for p in modules if p.rsplit(".", 1)[-1] == keras_name]
        convs = [(p, _first_conv2d(modules[p])) for p in named]
        convs = [(p, child) for p, child in convs if child is not None]
        if len(convs) == 1:
            (where, child), = convs
            return f"{where}.{child}" if child else where
        if len(convs) > 1:
            found.append(f"several modules are named {keras_name!r}: {', '.join(p for p, _ in convs)}")
        elif named:
            found.append(", ".join(f"{p!r} is a {type(modules[p]).__name__}" for p in named))
        else:
            found.append(f"a module named {keras_name!r} is missing")
    wanted = f"{path!r} (torchvision's VGG16 layout)" + (
        f" or a module named {keras_name!r} (Keras' name, e.g. 'layers.{keras_name}' of a Keras VGG16 converted "
        "with keras_to_torch)" if keras_name else ""
    )
    raise ValueError(
        f"the suffix _{suffix} takes its Grad-CAM layer from VGG16: {wanted} must be an nn.Conv2d, but in this "
        f"{type(model).__name__} {'; '.join(found)}. Use 'grad_cam' (default: the last convolution) or pass "
        "layer=<module path> for other models"
    )


#: Autograd nodes of elementwise activations (the node's class name without ``Backward<k>``).
_FUNCTIONAL_ACTIVATION_NODES = {
    "Relu": "relu", "Threshold": "threshold", "Hardtanh": "relu6 / hardtanh", "Clamp": "clamp",
    "ClampMin": "clamp", "LeakyRelu": "leaky_relu", "Elu": "elu / selu", "Celu": "celu", "Gelu": "gelu",
    "Silu": "silu", "Mish": "mish", "Sigmoid": "sigmoid", "Tanh": "tanh", "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid", "Softplus": "softplus", "LogSigmoid": "logsigmoid", "PreluKernel": "prelu",
    "Prelu": "prelu", "RreluWithNoise": "rrelu",
}


def _user_stacklevel() -> int:
    """The ``stacklevel`` for a warning of the caller that points at the user's code.

    That is the first frame outside signxai_captum and captum, whichever entry point
    (``attribute``, ``explain``, ``GuidedGradCAM``) the call went through.
    """
    import captum

    packages = (sys.modules["signxai_captum"], captum)
    internal = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in packages)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(internal):
        frame, level = frame.f_back, level + 1
    return level


class _Call:
    """One leaf-module call of a traced forward pass."""

    __slots__ = ("path", "input", "output", "node")

    def __init__(self, path: str, first_input: Any, output: Any) -> None:
        self.path = path
        self.input = first_input
        self.output = output
        # the autograd node that made the output, read now: a later in-place op (F.relu_) replaces it
        self.node = output.grad_fn if isinstance(output, torch.Tensor) else None


def _trace(model: nn.Module, inputs: tuple[torch.Tensor, ...], extra: tuple[Any, ...]) -> tuple[list[_Call], Any]:
    """Run one sample through ``model``; the leaf module calls in execution order and the output.

    The pass records the autograd graph (one sample) so that :func:`_functional_activation` can see
    what consumes a module's output.
    """
    calls: list[_Call] = []
    handles = []

    def recorder(path: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            calls.append(_Call(path, args[0] if args else None, output))

        return hook

    try:
        for path, module in model.named_modules():
            if not any(True for _ in module.children()):
                handles.append(module.register_forward_hook(recorder(path)))
        leaves = tuple(
            x[:1].detach().requires_grad_(True) if x.is_floating_point() or x.is_complex() else x[:1] for x in inputs
        )
        with torch.enable_grad():
            output = model(*leaves, *extra)
    finally:
        for handle in handles:
            handle.remove()
    return calls, output


def _functional_activation(output: Any, node: Any) -> str | None:
    """The activation applied outside any module to the tensor made by autograd node ``node``, if any.

    Walks the autograd graph of ``output`` (the model output of a :func:`_trace`) and returns the name
    of an elementwise activation (``"relu"``, ...) among the operations that consume ``node``'s
    tensor directly; None when there is none (or no graph to read).
    """
    if node is None or not isinstance(output, torch.Tensor) or output.grad_fn is None:
        return None
    stack, seen = [output.grad_fn], set()
    while stack:
        current = stack.pop()
        if current is None or current in seen:
            continue
        seen.add(current)
        parents = [parent for parent, _ in current.next_functions if parent is not None]
        if any(parent is node for parent in parents):
            base = type(current).__name__.split("Backward")[0]
            if base in _FUNCTIONAL_ACTIVATION_NODES:
                return _FUNCTIONAL_ACTIVATION_NODES[base]
        stack.extend(parents)
    return None


def resize_cam(cam: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize a batch of CAMs ``(N, *space)`` to ``(N, *size)`` as the SIGN-XAI reference does.

    - 1-D (time series): linear interpolation with aligned end points: output sample t lies at CAM
      position t·(n−1)/(T−1), i.e. ``np.interp(np.linspace(0, n - 1, T), np.arange(n), cam)``.
      n == 1: the constant CAM value. T == 1: the CAM's first value (``linspace(0, n−1, 1)`` is
      ``[0]``). n == T: unchanged.
    - 2-D (images): bilinear with half-pixel centres, source positions clamped at the edges and no
      antialiasing, as ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` (upscaling and
      downscaling) and ``F.interpolate(mode="bilinear", align_corners=False)``.
    - 3-D: trilinear with half-pixel centres (``F.interpolate(mode="trilinear")``).

    Parameters
    ----------
    cam : torch.Tensor
        ``(N, *space)`` with 1 to 3 spatial dimensions.
    size : sequence of int
        The target spatial size, one entry per spatial dimension.

    Returns
    -------
    torch.Tensor
        ``(N, *size)``, ``cam``'s dtype and device.
    """
    size = tuple(int(s) for s in size)
    space = cam.ndim - 1
    if len(size) != space:
        raise ValueError(f"resize_cam: size {size} does not match the CAM's {space} spatial dimension(s)")
    if space == 1:
        return _linear_aligned(cam, size[0])
    mode = _INTERPOLATION.get(space)
    if mode is None:
        raise ValueError(f"Grad-CAM resizes 1-, 2- or 3-D maps, the layer output has {space} spatial dimensions")
    return F.interpolate(cam[:, None], size=size, mode=mode, align_corners=False)[:, 0]


def _linear_aligned(cam: torch.Tensor, length: int) -> torch.Tensor:
    """(N, n) -> (N, length): np.interp over linspace(0, n - 1, length), per row."""
    n = cam.shape[1]
    if n == 1:
        return cam.expand(cam.shape[0], length).clone()
    if length == n:
        return cam.clone()
    positions = np.linspace(0.0, n - 1.0, length)  # float64; the last one is exactly n - 1
    lower = np.clip(np.floor(positions), 0, n - 2).astype(np.int64)
    frac = torch.as_tensor(positions - lower, dtype=cam.dtype, device=cam.device)
    index = torch.as_tensor(lower, device=cam.device)
    return cam[:, index] * (1 - frac) + cam[:, index + 1] * frac


#: Per model (weakly keyed: the cache never keeps a model alive): resolution key -> (layer path,
#: functional-activation warning or None). See :meth:`GradCAM.resolved_layer`.
_RESOLUTIONS: weakref.WeakKeyDictionary[nn.Module, dict[tuple[Any, ...], tuple[str, str | None]]] = (
    weakref.WeakKeyDictionary()
)
_RESOLUTIONS_GUARD = threading.Lock()
#: At most this many resolutions are kept per model (the oldest is dropped first).
_RESOLUTIONS_PER_MODEL = 16


def _resolution_key(
    model: nn.Module,
    forward_func: nn.Module,
    layer: str | None,
    through_activation: bool,
    inputs: tuple[torch.Tensor, ...],
    additional_forward_args: Any,
) -> tuple[Any, ...] | None:
    """What a traced layer resolution depends on, or None when it is not cached.

    The layer request, the module tree that runs (path, type and identity of every module of
    ``model``, and a ``forward`` set on a module instance, so that a replaced, added or patched
    module gives a new key) and each input's per-sample shape, dtype and device. Calls with
    ``additional_forward_args`` are not cached (they may steer the forward pass).
    """
    if additional_forward_args is not None:
        return None
    # a module of the softmax-free view that is not the user's (the view itself, a stripped nested
    # Sequential) is a new object per call: only its path and type count
    own = {id(m) for m in model.modules()} if forward_func is not model else None
    tree = tuple(
        (name, type(m), id(m) if own is None or id(m) in own else None, id(vars(m).get("forward")))
        for name, m in forward_func.named_modules()
    )
    signature = tuple((tuple(x.shape[1:]), x.dtype, str(x.device)) for x in inputs)
    return (layer, through_activation, tree, signature)


def _cached_resolution(model: nn.Module, key: tuple[Any, ...]) -> tuple[str, str | None] | None:
    with _RESOLUTIONS_GUARD:
        entries = _RESOLUTIONS.get(model)
        return None if entries is None else entries.get(key)


def _store_resolution(model: nn.Module, key: tuple[Any, ...], value: tuple[str, str | None]) -> None:
    with _RESOLUTIONS_GUARD:
        try:
            entries = _RESOLUTIONS.setdefault(model, {})
        except TypeError:  # a module that cannot be weakly referenced: not cached
            return
        entries[key] = value
        while len(entries) > _RESOLUTIONS_PER_MODEL:
            del entries[next(iter(entries))]


class GradCAM(SignXAIAttribution):
    """``grad_cam`` (``grad_cam_VGG16ILSVRC``): class activation maps from gradients at a layer.

    CAM = ReLU(Σ_k α_k A_k) with α_k the spatial mean of ∂f_c/∂A_k, divided by its max when that is
    > 0, resized to the input's spatial size by :func:`resize_cam` (2-D: bilinear with half-pixel
    centres; 1-D: linear with aligned end points, as ``np.interp``; 3-D: trilinear) and broadcast
    over the input channels: the result has exactly the input's shape.

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped; the model is not modified).
    layer : str, torch.nn.Module or None, default None
        The layer whose output A is used, as a module path (``"features.28"``) or the module.
        None: the last convolution in execution order.
    through_activation : bool, default True
        When the layer is a convolution whose output goes first into an activation module, use the
        activation's output (docs/semantics.md §3: the output after its activation). An activation applied
        functionally in ``forward`` (``F.relu``) cannot be followed: the convolution's own output is
        used and one ``UserWarning`` (when the layer is resolved) says so. False: the module's
        output as it is, without that warning.

    Examples
    --------
    >>> cam = GradCAM(vgg16).attribute(x, target=243)        # layer features.28 + its ReLU
    """

    needs_layers = "reads the output of one of the model's layers through a hook"

    def __init__(self, model: nn.Module, layer: LayerLike = None, through_activation: bool = True) -> None:
        super().__init__(model)
        self.layer = None if layer is None else _module_path(self.forward_func, layer)
        self.through_activation = bool(through_activation)
        self._resolved: str | None = None

    # -- the layer -------------------------------------------------------------------------
    def resolved_layer(self, inputs: tuple[torch.Tensor, ...], additional_forward_args: Any = None) -> str:
        """The module path whose output is used for these inputs.

        Found with one traced forward pass of one sample the first time; the answer is kept on
        this object and, per model, in a cache keyed by the layer request, the model's module
        tree (paths, types and identities of its modules) and the inputs' per-sample shapes,
        dtypes and devices, so that later attributions of the same unchanged model (e.g. one
        ``explain`` call after another) skip the trace. A changed module tree is traced again.
        The warning about a functional activation is given once per object, also when the
        answer comes from the cache.
        """
        if self._resolved is not None:
            return self._resolved
        if self.layer is not None and not self.through_activation:
            self._resolved = self.layer
            return self.layer
        modules = dict(self.forward_func.named_modules())
        if self.layer is not None and not isinstance(modules[self.layer], _CONVOLUTIONS):
            self._resolved = self.layer
            return self.layer
        key = _resolution_key(
            self.model, self.forward_func, self.layer, self.through_activation, inputs, additional_forward_args
        )
        cached = None if key is None else _cached_resolution(self.model, key)
        if cached is None:
            cached = self._trace_resolution(modules, inputs, additional_forward_args)
            if key is not None:
                _store_resolution(self.model, key, cached)
        path, warning = cached
        if warning is not None:
            warnings.warn(warning, UserWarning, stacklevel=_user_stacklevel())
        self._resolved = path
        return path

    def _trace_resolution(
        self, modules: dict[str, nn.Module], inputs: tuple[torch.Tensor, ...], additional_forward_args: Any
    ) -> tuple[str, str | None]:
        """Resolve the layer with one traced forward: its path and the functional-activation warning (or None)."""
        extra = self._extra(additional_forward_args)
        calls, model_output = _trace(self.forward_func, inputs, extra)
        if self.layer is None:
            convs = [i for i, call in enumerate(calls) if isinstance(modules[call.path], _CONVOLUTIONS)]
            if not convs:
                raise ValueError(
                    f"grad_cam needs a convolution, but {type(self.model).__name__} runs no nn.Conv1d/2d/3d "
                    "module; pass layer=<module path> with a (batch, channels, ...) output"
                )
            index = convs[-1]
        else:
            runs = [i for i, call in enumerate(calls) if call.path == self.layer]
            if not runs:
                raise ValueError(f"layer {self.layer!r} is not called in the model's forward pass")
            index = runs[-1]
        while self.through_activation:
            output = calls[index].output
            consumer = next((i for i, call in enumerate(calls) if i > index and call.input is output), None)
            if consumer is None or not isinstance(modules[calls[consumer].path], _ACTIVATIONS):
                break
            index = consumer
        chosen = calls[index]
        warning = None
        if self.through_activation and isinstance(modules[chosen.path], _CONVOLUTIONS):
            activation = _functional_activation(model_output, chosen.node)
            if activation is not None:
                warning = (
                    f"Grad-CAM layer {chosen.path!r} ({type(modules[chosen.path]).__name__}): its output goes into "
                    f"a functional activation ({activation}, applied in forward or inside a custom module, not an "
                    "activation module such as nn.ReLU), which Grad-CAM cannot look through, so the map is taken "
                    "before the activation, from the convolution's own output. To take it after the activation, "
                    "apply the activation as a module (e.g. nn.ReLU()) or pass layer=<path of a module whose "
                    "output is the activated map>; through_activation=False takes the convolution's output "
                    "without this warning"
                )
        return chosen.path, warning

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

    def attribute_at_layer(
        self, inputs: torch.Tensor | tuple[torch.Tensor, ...], target: Any = None, additional_forward_args: Any = None
    ) -> torch.Tensor:
        """The CAMs at the layer's resolution, before resizing: ``(N, 1, *space)``.

        ReLU(Σ_k α_k A_k) divided by its max per sample (when > 0), exactly as :meth:`attribute`
        computes it before :func:`resize_cam` (the original signxai's ``resize=False``). The
        channel axis of size 1 is kept, as Captum's ``LayerGradCam`` does.

        Parameters
        ----------
        inputs, target, additional_forward_args
            As for :meth:`attribute`.

        Returns
        -------
        torch.Tensor
            ``(N, 1, *space)`` with the layer's spatial size, values in [0, 1].
        """
        inputs_tuple = self._check_inputs(inputs if isinstance(inputs, tuple) else (inputs,))
        with self._explaining():
            cam, _ = self._cams(inputs_tuple, target, additional_forward_args)
        return cam[:, None].detach()

    @staticmethod
    def _resize(cam: torch.Tensor, x: torch.Tensor, index: int) -> torch.Tensor:
        space = cam.ndim - 1
        if x.ndim != cam.ndim + 1:
            raise ValueError(
                f"input {index} has shape {tuple(x.shape)}, but the Grad-CAM layer has {space} spatial dimension(s): "
                f"the input needs the layout (batch, channels, {', '.join(['...'] * space)})"
            )
        resized = resize_cam(cam.to(x.dtype), tuple(x.shape[2:]))
        return resized[:, None].expand(x.shape).contiguous()

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        cam, _ = self._cams(inputs, target, additional_forward_args)
        return tuple(self._resize(cam, x, i) for i, x in enumerate(inputs))


class GradCAMTimeseries(GradCAM):
    """``grad_cam_timeseries``: Grad-CAM for (batch, channels, time) inputs and 1-D convolutions.

    The same computation as :class:`GradCAM`; the CAM of length n is resized to the input length T
    by linear interpolation with aligned end points (output t at CAM position t·(n−1)/(T−1), as
    ``np.interp`` over ``linspace(0, n−1, T)``; n == 1: constant; T == 1: the first CAM value; see
    :func:`resize_cam`). Inputs must be 3-D (PyTorch's layout of a time series; Keras'
    (time, channels) samples are transposed).
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

    needs_layers = "reads a layer's output and changes the backward pass of the model's nn.ReLU modules"

    def __init__(self, model: nn.Module, layer: LayerLike = None, through_activation: bool = True) -> None:
        super().__init__(model)
        warn_about_activations(self.forward_func, "guided_grad_cam", stacklevel=3)
        self.grad_cam = GradCAM(model, layer=layer, through_activation=through_activation)

    def _attribute(
        self, inputs: tuple[torch.Tensor, ...], target: Any, additional_forward_args: Any
    ) -> tuple[torch.Tensor, ...]:
        cam, targets = self.grad_cam._cams(inputs, target, additional_forward_args)
        with modified_relu_backward(self.forward_func, "guided_backprop"):
            guided, _ = self._gradients(inputs, targets, additional_forward_args)
        return tuple(self.grad_cam._resize(cam, x, i) * g for i, (x, g) in enumerate(zip(inputs, guided)))
