"""The calls of the original signxai2 PyTorch module (``signxai.torch_signxai``), on signxai_captum.

Code written for signxai2 runs with only its imports changed::

    from signxai_captum.compat import calculate_relevancemap, GradientAnalyzer, NoSoftmaxWrapper

    R = calculate_relevancemap(model, x, "gradient_x_sign")            # x: one sample (C, H, W)
    R = GradientAnalyzer(NoSoftmaxWrapper(model)).analyze(x_batch, target_class=3)

Every call is a thin call into :func:`signxai_captum.explain` with the method names of the table
(docs/migration.md lists each call next to its ``explain`` spelling), so the maps are this
project's: the differences to the original numbers are listed in docs/migration.md.

One sample or a batch
---------------------
As in signxai2, ``x`` may be **one sample without the batch axis** (its map comes back without
one) or a batch (which stays a batch). The two are told apart by the rank the model expects:
the first ``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Conv3d`` (or transposed convolution) or
``nn.Linear`` among ``model.modules()`` expects 3-, 4-, 5- or 2-D input, unless an
``nn.Flatten`` / ``nn.Unflatten`` comes before it. ``x.ndim`` equal to that rank is a batch,
one less is one sample. Where the rank cannot be known (a Flatten first, or ``x.ndim`` fits
neither), one forward pass of ``x[None]`` in eval mode without gradients decides: a
``(1, classes)`` output means ``x`` is one sample; anything else (or an error) means a batch.

Keywords
--------
The parameters of the original signatures (``target_class``, the analyzers' constructor
arguments) are taken as they are. Old keywords in ``**kwargs`` (``noise_level``,
``num_samples``, ``target_layer``, ``layer_name``, ``reference_inputs``, ...) are translated by
:func:`shared_spec.translate_legacy`, with one ``DeprecationWarning`` each naming the new keyword;
new keywords (``noise=``, ``samples=``, ``layer=``, ``seed=``...) are accepted too.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from shared_spec import (
    LEGACY_KEYWORDS,
    MethodParameterError,
    check_parameter,
    lrp_spec,
    parameter_default,
    parse,
    translate_legacy,
)
from shared_spec.heatmaps import normalize_heatmap

from ._explain import explain
from ._methods.grad_cam import GradCAM
from ._modelstate import evaluation_mode, exclusive
from ._multipliers import sign_mu
from ._softmax import remove_softmax

__all__ = [
    "DeepTaylorAnalyzer",
    "GradCAMAnalyzer",
    "GradientAnalyzer",
    "GradientXInputAnalyzer",
    "GradientXSignAnalyzer",
    "GuidedBackpropAnalyzer",
    "IntegratedGradientsAnalyzer",
    "LRPAnalyzer",
    "NoSoftmaxWrapper",
    "SmoothGradAnalyzer",
    "VarGradAnalyzer",
    "calculate_relevancemap",
    "calculate_relevancemaps",
    "calculate_sign_mu",
    "normalize_heatmap",
]

#: signxai2 PyTorch method names that are not names of the table
_METHOD_ALIASES = {"gradients": "gradient", "vanilla_gradients": "gradient", "smooth_gradients": "smoothgrad"}
#: the expected input rank (batch axis included) of the first kernel layer
_RANK_OF_FIRST_LAYER = (
    ((nn.Conv1d, nn.ConvTranspose1d), 3),
    ((nn.Conv2d, nn.ConvTranspose2d), 4),
    ((nn.Conv3d, nn.ConvTranspose3d), 5),
    ((nn.Linear,), 2),
)
#: signxai2's LRPAnalyzer default epsilon (the table has no default epsilon)
_ORIGINAL_LRP_EPSILON = 1e-6
#: LRPAnalyzer rule names -> the table's LRP presets
_LRP_RULES = {
    "epsilon": "epsilon",
    "z": "z",
    "zplus": "z_plus",
    "z_plus": "z_plus",
    "alphabeta": "alpha_beta",
    "alpha_beta": "alpha_beta",
    "gamma": "gamma",
    "flat": "flat",
    "wsquare": "w_square",
    "w_square": "w_square",
    "stdxepsilon": "epsilon_std_x",
    "epsilon_std_x": "epsilon_std_x",
}


# -- one sample or a batch ---------------------------------------------------------------
def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if type(x).__module__.split(".")[0] in ("tensorflow", "keras"):
        raise TypeError("signxai_captum explains PyTorch models; got a TensorFlow tensor (use x.numpy() or signxai_tf)")
    array = np.asarray(x)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"x must be a numeric array or tensor, got dtype {array.dtype}")
    return torch.as_tensor(array)


def _first_layer_rank(model: nn.Module) -> int | None:
    """The input rank the first kernel layer expects, or None when a reshape comes first or there is none."""
    for module in model.modules():
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return None
        for types, rank in _RANK_OF_FIRST_LAYER:
            if isinstance(module, types):
                return rank
    return None


def _probe_is_one_sample(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether the model maps ``x[None]`` to ``(1, classes)`` (eval mode, no gradients, model restored)."""
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    probe = x.detach().to(device=device, dtype=dtype)[None]
    with exclusive(model), evaluation_mode(model), torch.no_grad():
        try:
            out = model(probe)
        except Exception:  # noqa: BLE001 - any failure means x[None] is not an input of the model
            return False
    return isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[0] == 1


def _is_one_sample(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``x`` is one sample without the batch axis (see the module docstring)."""
    if x.ndim == 0:
        raise ValueError("x is a scalar; pass one sample or a batch of samples")
    rank = _first_layer_rank(model)
    if rank is not None and x.ndim == rank:
        return False
    if rank is not None and x.ndim == rank - 1:
        return True
    return _probe_is_one_sample(model, x)


def _layer_path(model: nn.Module, layer: Any) -> Any:
    """A layer given as a module (signxai2's ``target_layer``) as its module path in ``model``."""
    if not isinstance(layer, nn.Module):
        return layer
    for name, module in model.named_modules():
        if module is layer and name:
            return name
    raise ValueError(f"the layer module {type(layer).__name__} is not a submodule of the model")


def _explain_sample_or_batch(
    model: nn.Module, x: Any, method: str, target: Any, params: dict[str, Any], legacy: dict[str, Any] | None = None
) -> np.ndarray:
    """``explain`` on one sample (batch axis added and removed) or on a batch, old keywords translated."""
    method, params, target = translate_legacy(method, {**params, **(legacy or {})}, target)
    if "layer" in params:
        params["layer"] = _layer_path(model, params["layer"])
    tensor = _as_tensor(x)
    if _is_one_sample(model, tensor):
        return explain(model, tensor[None], method, target, **params)[0]
    return explain(model, tensor, method, target, **params)


def _not_overridden(params: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The constructor's ``params`` less those that the call's ``kwargs`` give in any spelling."""
    covered = set()
    for key in kwargs:
        covered.add(LEGACY_KEYWORDS.get(key, key))
        if key in ("noise_scale", "noise_level"):  # they set the noise mode too
            covered.add("noise_mode")
    return {key: value for key, value in params.items() if key not in covered}


# -- calculate_relevancemap(s) -------------------------------------------------------------
def calculate_relevancemap(
    model: nn.Module,
    input_tensor: Any,
    method: str = "gradients",
    target_class: Any = None,
    neuron_selection: Any = None,
    **kwargs: Any,
) -> np.ndarray:
    """signxai2's ``calculate_relevancemap(model, input_tensor, method)``: the map of one sample or a batch.

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final ``nn.Softmax`` is skipped; the model is not modified).
    input_tensor : torch.Tensor or numpy.ndarray
        One sample without the batch axis (e.g. ``(C, H, W)``) or a batch (module docstring).
    method : str, default "gradients"
        A method name of the table (``shared_spec.list_methods()``); ``"gradients"`` and
        ``"vanilla_gradients"`` (signxai2's names) are ``"gradient"``, ``"smooth_gradients"`` is
        ``"smoothgrad"``.
    target_class, neuron_selection : None, int or sequence of int
        The class to explain (one of them; None: the argmax per sample). ``"max_activation"`` is
        the argmax too.
    **kwargs
        Parameters of the method, in this project's spelling (``steps=``, ``noise=``, ``seed=``,
        ``layer=``...) or signxai's (translated with a ``DeprecationWarning``).

    Returns
    -------
    numpy.ndarray
        ``input_tensor``'s shape.

    Raises
    ------
    TypeError
        If ``model`` is a string: this is the PyTorch order ``(model, x, method)``; the TensorFlow
        order ``(method, x, model)`` is ``signxai_tf.calculate_relevancemap``.
    shared_spec.MethodParameterError
        If ``target_class`` and ``neuron_selection`` (or ``target``) are both given.
    """
    if isinstance(model, str):
        raise TypeError(
            "signxai_captum.calculate_relevancemap takes (model, input_tensor, method) as signxai2's PyTorch API; "
            f"got the method name {model!r} first (that is signxai_tf.calculate_relevancemap(method, x, model))"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    target = _target_argument(method, kwargs.pop("target", None), target_class=target_class, neuron_selection=neuron_selection)
    return _explain_sample_or_batch(model, input_tensor, _METHOD_ALIASES.get(method, method), target, {}, kwargs)


def calculate_relevancemaps(model: nn.Module, input_tensors: Any, method: str = "gradients", **kwargs: Any) -> np.ndarray:
    """signxai2's ``calculate_relevancemaps``: one map per sample of a list or batch.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    input_tensors : list, tuple, numpy.ndarray or torch.Tensor
        A list of samples (each explained as :func:`calculate_relevancemap` does, one at a time),
        or a batch (samples along axis 0, explained in one call).
    method : str, default "gradients"
        As :func:`calculate_relevancemap`.
    **kwargs
        As :func:`calculate_relevancemap` (``target_class`` etc.).

    Returns
    -------
    numpy.ndarray
        The maps stacked along axis 0 (signxai2 returned a list for a list input).
    """
    if isinstance(input_tensors, (list, tuple)):
        if not input_tensors:
            raise ValueError("input_tensors is empty; pass at least one sample")
        return np.stack([np.asarray(calculate_relevancemap(model, x, method, **kwargs)) for x in input_tensors])
    return np.asarray(calculate_relevancemap(model, input_tensors, method, **kwargs))


def _target_argument(where: str, target: Any = None, **named: Any) -> Any:
    """The one target among ``target`` and the original's named target parameters (none given: None)."""
    given = {key: value for key, value in {"target": target, **named}.items() if value is not None}
    if len(given) > 1:
        shown = " and ".join(repr(k) for k in given)
        raise MethodParameterError(f"{where}: {shown} are spellings of one parameter; give only one of them")
    value = next(iter(given.values()), None)
    return None if isinstance(value, str) and value == "max_activation" else value


# -- sign and heatmaps ----------------------------------------------------------------------
def calculate_sign_mu(x: Any, mu: float | None = parameter_default("mu")) -> Any:
    """signxai's ``calculate_sign_mu``: +1 where ``x >= mu``, -1 elsewhere, of x's type and dtype.

    Parameters
    ----------
    x : torch.Tensor, numpy.ndarray or array-like
        Any shape. Not modified.
    mu : float or None, default 0.0 (the table's default)
        The threshold, in x's units. None is the original's "mid-point of -1 and 1", i.e. 0.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        A tensor for a tensor (via :func:`signxai_captum.sign_mu`), an array otherwise; x's dtype.
        Unlike the original, every ``mu`` gives this result (its in-place update turned every value
        into +1 for ``mu <= -1``, docs/differences.md).
    """
    mu = check_parameter("mu", parameter_default("mu") if mu is None else mu, "calculate_sign_mu")
    if isinstance(x, torch.Tensor):
        return sign_mu(x, mu)
    if type(x).__module__.split(".")[0] in ("tensorflow", "keras"):
        raise TypeError("signxai_captum.calculate_sign_mu takes torch tensors and numpy arrays; use signxai_tf.calculate_sign_mu")
    array = np.asarray(x)
    return np.where(array >= mu, 1, -1).astype(array.dtype)


# -- NoSoftmaxWrapper -------------------------------------------------------------------------
class NoSoftmaxWrapper(nn.Module):
    """signxai2's ``NoSoftmaxWrapper``: the model without its final softmax, as a module.

    Built on :func:`signxai_captum.remove_softmax`: it shares the model's submodules (nothing is
    copied) and, unlike the original, does not put the model into eval mode (explanations do so
    themselves and restore the flags). Not needed for this project's calls, which skip a final
    softmax anyway; kept so that code wrapping its models runs unchanged.

    Parameters
    ----------
    model : torch.nn.Module
        The model. Submodule paths get the prefix ``"model."``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = remove_softmax(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of ``model`` (the first output when it returns a tuple, as the original)."""
        output = self.model(x)
        return output[0] if isinstance(output, tuple) else output


# -- analyzers --------------------------------------------------------------------------------
class _Analyzer:
    """The analyzer interface of signxai2 (``analyze(input_tensor, target_class=None, **kwargs)``)."""

    #: the table method of the analyzer
    method = "gradient"
    #: whether the method takes signxai2's ``multiply_by_input`` / ``apply_sign`` / ``mu`` keywords
    takes_multipliers = False

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"{type(self).__name__}: model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model

    def _params(self) -> dict[str, Any]:
        """The constructor's settings in this project's spelling."""
        return {}

    def _method(self, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The method name with signxai2's ``multiply_by_input`` / ``apply_sign`` (``mu``) keywords applied."""
        if not self.takes_multipliers:
            return self.method, {}
        by_input = bool(kwargs.pop("multiply_by_input", False))
        by_sign = bool(kwargs.pop("apply_sign", False))
        if by_input and by_sign:
            raise MethodParameterError(
                f"{type(self).__name__}.analyze: multiply_by_input and apply_sign together are not a method of the table; "
                "give one of them"
            )
        if by_sign:
            return f"{self.method}_x_sign", {"mu": kwargs.pop("mu", parameter_default("mu"))}
        if "mu" in kwargs:
            raise MethodParameterError(f"{type(self).__name__}.analyze: mu needs apply_sign=True")
        return (f"{self.method}_x_input" if by_input else self.method), {}

    def analyze(self, input_tensor: Any, target_class: Any = None, **kwargs: Any) -> np.ndarray:
        """The map of one sample (no batch axis) or of a batch, as numpy.

        Parameters
        ----------
        input_tensor : torch.Tensor or numpy.ndarray
            One sample without the batch axis or a batch (see :mod:`signxai_captum.compat`).
        target_class : None, int or sequence of int
            The class per sample (None or ``"max_activation"``: the argmax).
        **kwargs
            Overrides of the constructor's settings, in signxai2's spelling (translated with a
            ``DeprecationWarning``) or this project's; ``seed=`` fixes the noise.

        Returns
        -------
        numpy.ndarray
            ``input_tensor``'s shape.
        """
        kwargs = dict(kwargs)
        where = f"{type(self).__name__}.analyze"
        named = {"target_class": target_class, "neuron_selection": kwargs.pop("neuron_selection", None)}
        target = _target_argument(where, kwargs.pop("target", None), **named)
        method, extra = self._method(kwargs)
        params = _not_overridden({**self._params(), **extra}, kwargs)
        return _explain_sample_or_batch(self.model, input_tensor, method, target, params, kwargs)


class GradientAnalyzer(_Analyzer):
    """signxai2's ``GradientAnalyzer(model)``: ``gradient``."""

    method = "gradient"


class GradientXInputAnalyzer(_Analyzer):
    """signxai2's ``GradientXInputAnalyzer(model)``: ``gradient_x_input``."""

    method = "gradient_x_input"


class GradientXSignAnalyzer(_Analyzer):
    """signxai2's ``GradientXSignAnalyzer(model, mu=0.0)``: ``gradient_x_sign`` with ``mu``.

    sign_mu(x, mu) is +1 where x >= mu (so +1 at x == mu, as the SIGN reference), where the
    original's ``torch.sign(x - mu)`` gave 0 there.
    """

    method = "gradient_x_sign"

    def __init__(self, model: nn.Module, mu: float = parameter_default("mu")) -> None:
        super().__init__(model)
        self.mu = check_parameter("mu", mu, "GradientXSignAnalyzer")

    def _params(self) -> dict[str, Any]:
        return {"mu": self.mu}


class GuidedBackpropAnalyzer(_Analyzer):
    """signxai2's ``GuidedBackpropAnalyzer(model)``: ``guided_backprop``.

    ``analyze(..., multiply_by_input=True)`` is ``guided_backprop_x_input``,
    ``analyze(..., apply_sign=True, mu=m)`` is ``guided_backprop_x_sign_mu_<m>``.
    """

    method = "guided_backprop"
    takes_multipliers = True


class IntegratedGradientsAnalyzer(_Analyzer):
    """signxai2's ``IntegratedGradientsAnalyzer(model, steps=50, baseline_type="zero")``: ``integrated_gradients``.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    steps : int, default: the table's
        Number of path points (this project's quadrature: both end points, docs/semantics.md §3;
        signxai2's PyTorch analyzer used a trapezoid over steps + 1 points).
    baseline_type : {"zero", "black", "white"}, array or tensor, default "zero"
        ``"zero"`` / ``"black"``: zeros (the original's "black" was zeros too); ``"white"``: ones;
        an array or tensor: the baseline itself (an earlier signxai2 took the baseline here).
        The original's random ``"gaussian"`` baseline is refused: pass an array instead.
    """

    method = "integrated_gradients"

    def __init__(self, model: nn.Module, steps: int = parameter_default("steps"), baseline_type: Any = "zero") -> None:
        super().__init__(model)
        self.steps = check_parameter("steps", steps, "IntegratedGradientsAnalyzer")
        if isinstance(baseline_type, str) and baseline_type not in ("zero", "black", "white"):
            raise MethodParameterError(
                f"IntegratedGradientsAnalyzer: baseline_type={baseline_type!r} is not supported; give 'zero', 'black', "
                "'white' or the baseline as an array / tensor (the original's 'gaussian' baseline was random)"
            )
        self.baseline_type = baseline_type

    def _params(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def analyze(self, input_tensor: Any, target_class: Any = None, **kwargs: Any) -> np.ndarray:
        """As :meth:`GradientAnalyzer.analyze`; ``steps=``, ``baseline=`` (or ``reference_inputs=``) override."""
        kwargs = dict(kwargs)
        if "baseline" not in kwargs and "reference_inputs" not in kwargs and self.baseline_type not in ("zero", "black"):
            if isinstance(self.baseline_type, str):  # "white"
                kwargs["baseline"] = torch.ones_like(_as_tensor(input_tensor), dtype=torch.float32)
            else:
                kwargs["baseline"] = self.baseline_type
        return super().analyze(input_tensor, target_class, **kwargs)


class SmoothGradAnalyzer(_Analyzer):
    """signxai2's ``SmoothGradAnalyzer(model, noise_level=0.2, num_samples=50)``: ``smoothgrad``.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    noise_level : float, default: the table's ``noise``
        Relative noise, as the original: sigma = noise_level * (max(x) - min(x)), here per sample
        (the original took max and min over the whole input tensor, the same for one sample).
    num_samples : int, default: the table's ``samples``
        Number of noise samples.
    stdev_spread : None
        Ignored, as in the original (a ``UserWarning`` says so when it is given).

    ``analyze(..., multiply_by_input=True)`` / ``analyze(..., apply_sign=True, mu=m)`` are the
    ``_x_input`` / ``_x_sign_mu_<m>`` variants; ``seed=`` fixes the noise.
    """

    method = "smoothgrad"
    takes_multipliers = True

    def __init__(
        self,
        model: nn.Module,
        noise_level: float = parameter_default("noise"),
        num_samples: int = parameter_default("samples"),
        stdev_spread: Any = None,
    ) -> None:
        super().__init__(model)
        name = type(self).__name__
        self.noise_level = check_parameter("noise", noise_level, name)
        self.num_samples = check_parameter("samples", num_samples, name)
        if stdev_spread is not None:
            warnings.warn(f"{name}: stdev_spread is ignored (as in signxai2); noise_level sets the noise", stacklevel=2)

    def _params(self) -> dict[str, Any]:
        return {"noise": self.noise_level, "noise_mode": "relative", "samples": self.num_samples}


class VarGradAnalyzer(SmoothGradAnalyzer):
    """signxai2's ``VarGradAnalyzer(model, noise_level=0.2, num_samples=50)``: ``vargrad``.

    The variance of the noisy gradients (population variance), as the SIGN-XAI reference; the
    signxai2 PyTorch analyzer returned 100 * sqrt(variance + 1e-12) instead.
    """

    method = "vargrad"

    def __init__(
        self, model: nn.Module, noise_level: float = parameter_default("noise"), num_samples: int = parameter_default("samples")
    ) -> None:
        super().__init__(model, noise_level, num_samples)


class GradCAMAnalyzer(_Analyzer):
    """signxai2's ``GradCAMAnalyzer(model, target_layer=None)``: ``grad_cam``.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    target_layer : torch.nn.Module, str or None
        The layer (module or module path); None: the last convolution. ``analyze(layer_name=...)``
        or ``analyze(target_layer=...)`` override it.

    The map is this project's Grad-CAM: divided by its max, then resized to the input and
    broadcast over the input channels (``input_tensor``'s shape); the original returned
    ``(N, 1, H, W)`` min-max normalised after resizing. ``analyze(resize=False)`` gives the CAM
    at the layer's resolution, ``(N, 1, h, w)`` (one sample: ``(1, h, w)``).
    """

    method = "grad_cam"

    def __init__(self, model: nn.Module, target_layer: Any = None) -> None:
        super().__init__(model)
        self.target_layer = None if target_layer is None else _layer_path(model, target_layer)

    def _params(self) -> dict[str, Any]:
        return {} if self.target_layer is None else {"layer": self.target_layer}

    def analyze(self, input_tensor: Any, target_class: Any = None, **kwargs: Any) -> np.ndarray:
        """As :meth:`GradientAnalyzer.analyze`; ``layer_name=`` / ``target_layer=`` / ``layer=`` choose the layer."""
        kwargs = dict(kwargs)
        resize = kwargs.pop("resize", True)
        if not isinstance(resize, (bool, np.bool_)):
            raise MethodParameterError(f"GradCAMAnalyzer.analyze: resize must be True or False, got {resize!r}")
        if resize:
            return super().analyze(input_tensor, target_class, **kwargs)
        # the CAM at the layer's resolution, (N, 1, *space): GradCAM.attribute_at_layer
        where = "GradCAMAnalyzer.analyze"
        named = {"target_class": target_class, "neuron_selection": kwargs.pop("neuron_selection", None)}
        target = _target_argument(where, kwargs.pop("target", None), **named)
        method, params, target = translate_legacy(self.method, {**_not_overridden(self._params(), kwargs), **kwargs}, target)
        spec = parse(method, **params)
        layer = spec.params.get("layer")
        tensor = _as_tensor(input_tensor)
        one = _is_one_sample(self.model, tensor)
        cam = GradCAM(self.model, layer=_layer_path(self.model, layer) if layer is not None else None).attribute_at_layer(
            tensor[None] if one else tensor, target=target
        )
        out = cam.cpu().numpy()
        return out[0] if one else out


class DeepTaylorAnalyzer(_Analyzer):
    """signxai2's ``DeepTaylorAnalyzer(model, epsilon=1e-6)``: ``deep_taylor`` (docs/semantics.md §4.4).

    signxai2 computed an Epsilon / AlphaBeta(2, 1) composite as a stand-in for DeepTaylor; this class
    computes DeepTaylor itself, so its maps differ from signxai2's (docs/migration.md). ``epsilon`` is
    accepted for signature compatibility and has no effect.
    """

    method = "deep_taylor"

    def __init__(self, model: nn.Module, epsilon: float = 1e-6) -> None:
        super().__init__(model)
        self.epsilon = check_parameter("epsilon", epsilon, "DeepTaylorAnalyzer")


class LRPAnalyzer(_Analyzer):
    """signxai2's ``LRPAnalyzer(model, rule_name="epsilon", epsilon=1e-6, alpha=1.0, beta=0.0)``: LRP with one rule.

    The rule is applied to every layer, as this project's ``lrp_<preset>`` names:

    ====================================  =========================================
    ``rule_name``                         method
    ====================================  =========================================
    ``"epsilon"``                         ``lrp_epsilon_<epsilon>``
    ``"z"``                               ``lrp_z``
    ``"zplus"``, ``"z_plus"``             ``lrp_z_plus``
    ``"alphabeta"``, ``"alpha_beta"``     ``lrp_alpha_<alpha>_beta_<beta>``
    ``"gamma"``                           ``lrp_gamma`` (``gamma=`` in ``rule_kwargs``)
    ``"flat"``, ``"wsquare"``             ``lrp_flat``, ``lrp_w_square``
    ``"stdxepsilon"``                     ``lrp_epsilon_<stdfactor>_std_x``
    ====================================  =========================================

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    rule_name : str, default "epsilon"
        See the table above.
    epsilon : float or None
        The Epsilon rule's epsilon; None: the original's default, 1e-6.
    alpha, beta : float, default 1.0, 0.0
        AlphaBeta's weights (alpha - beta = 1).
    **rule_kwargs
        ``gamma``, ``stdfactor`` (or ``std_factor``), ``input_layer_rule`` (``"SIGN"``, ``"Z"``...,
        the LRP prefix) and any parameter of the resulting method (``mu``, ``low``/``high``,
        ``alpha_beta_bias``, ``initial_relevance``).

    The original's "epsilon" analyzer ran zennit's EpsilonGammaBox composite scaled by 20.86 and its
    "alphabeta" analyzer matched layer names; these are not reproduced (docs/migration.md).
    """

    def __init__(
        self,
        model: nn.Module,
        rule_name: str = "epsilon",
        epsilon: float | None = None,
        alpha: float = 1.0,
        beta: float = 0.0,
        **rule_kwargs: Any,
    ) -> None:
        super().__init__(model)
        if rule_name not in _LRP_RULES:
            raise MethodParameterError(
                f"LRPAnalyzer: unknown rule_name {rule_name!r}; accepted: {', '.join(repr(r) for r in _LRP_RULES)}"
            )
        preset = _LRP_RULES[rule_name]
        kwargs = dict(rule_kwargs)
        alpha, beta = check_parameter("alpha", alpha, "LRPAnalyzer"), check_parameter("beta", beta, "LRPAnalyzer")
        preset_params: dict[str, Any] = {}
        if preset == "epsilon":
            preset_params["epsilon"] = _ORIGINAL_LRP_EPSILON if epsilon is None else epsilon
        elif preset == "alpha_beta":
            preset_params.update(alpha=alpha, beta=beta)
        elif preset == "gamma" and "gamma" in kwargs:
            preset_params["gamma"] = kwargs.pop("gamma")
        elif preset == "epsilon_std_x":
            factors = {key: kwargs.pop(key) for key in ("stdfactor", "std_factor") if key in kwargs}
            if len(factors) != 1:
                raise MethodParameterError(
                    f"LRPAnalyzer(rule_name={rule_name!r}) needs one of stdfactor=<f> or std_factor=<f>, "
                    f"got {sorted(factors) or 'none'}"
                )
            preset_params["std_factor"] = next(iter(factors.values()))
        self.method = lrp_spec("lrp", preset, **preset_params).name
        self.rule_name = rule_name
        self.rule_kwargs = kwargs

    def analyze(self, input_tensor: Any, target_class: Any = None, **kwargs: Any) -> np.ndarray:
        """As :meth:`GradientAnalyzer.analyze`; keywords of the LRP method (``mu=``...) are passed on."""
        return super().analyze(input_tensor, target_class, **{**self.rule_kwargs, **kwargs})
