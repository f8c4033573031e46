"""iNNvestigate's gradient analyzers, each a call of :func:`signxai_tf.explain`.

Seeds (docs/semantics.md §4.4): Gradient, InputTimesGradient, IntegratedGradients and SmoothGrad
start from 1 at the selected output (``explain``'s convention); GuidedBackprop and Deconvnet from
the selected output's value ``f_c(x)``, as iNNvestigate's reverse analyzers do.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from shared_spec import MethodParameterError, check_parameter, parameter_default

from .._explain import explain
from ._base import AnalyzerBase

__all__ = ["Gradient", "InputTimesGradient", "GuidedBackprop", "Deconvnet", "IntegratedGradients", "SmoothGrad"]

#: iNNvestigate 2.x defaults (``IntegratedGradients(steps=64)``, ``SmoothGrad(augment_by_n=64)``,
#: ``GaussianSmoother(noise_scale=1)``)
INNVESTIGATE_IG_STEPS = 64
INNVESTIGATE_AUGMENT_BY_N = 64
INNVESTIGATE_NOISE_SCALE = 1.0

_POSTPROCESS = (None, "abs", "square")
_QUADRATURES = ("reference", "innvestigate")


def _postprocess(value: Any, where: str) -> str | None:
    if value not in _POSTPROCESS:
        raise MethodParameterError(f"{where}: postprocess={value!r}; must be one of {_POSTPROCESS}")
    return value


def _apply_postprocess(g: np.ndarray, postprocess: str | None) -> np.ndarray:
    if postprocess == "abs":
        return np.abs(g)
    if postprocess == "square":
        return np.square(g)
    return g


def _no_postprocess(value: Any, where: str) -> None:
    if value is not None:
        raise MethodParameterError(
            f"{where}: postprocess={value!r} is not offered (iNNvestigate applies it to every gradient before "
            "averaging, which signxai_tf.explain does not compute); only postprocess=None"
        )


class Gradient(AnalyzerBase):
    """The gradient of the selected output (``explain(..., "gradient")``).

    Parameters
    ----------
    model : keras.Model
        A model without final softmax.
    postprocess : {None, "abs", "square"}
        Applied to the gradient (after summing the outputs in mode ``"all"``), as in iNNvestigate.
    neuron_selection_mode : {"max_activation", "index", "all"}
        ``"all"``: the gradient of the sum of the outputs.
    """

    def __init__(self, model: keras.Model, postprocess: str | None = None, neuron_selection_mode: str = "max_activation"):
        super().__init__(model, neuron_selection_mode)
        self._postprocess = _postprocess(postprocess, type(self).__name__)

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        return explain(self._model, x, "gradient", target=target)

    def _finish(self, x: tf.Tensor, total: np.ndarray, call: dict) -> np.ndarray:
        return _apply_postprocess(total, self._postprocess)


class InputTimesGradient(Gradient):
    """Input times gradient (``explain(..., "gradient_x_input")``); ``postprocess`` acts on the gradient, as in iNNvestigate."""

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        if self._postprocess is None:
            return explain(self._model, x, "gradient_x_input", target=target)
        return explain(self._model, x, "gradient", target=target)

    def _finish(self, x: tf.Tensor, total: np.ndarray, call: dict) -> np.ndarray:
        if self._postprocess is None:
            return total
        return x.numpy() * _apply_postprocess(total, self._postprocess)


class _SeededByOutput(AnalyzerBase):
    """Guided backprop / deconvnet started from the selected output value f_c(x), as iNNvestigate does.

    ``explain`` starts from 1. The modified ReLU backward is positively homogeneous in the seed,
    so for ``f_c(x) >= 0`` the map is ``f_c(x)`` times ``explain``'s map; for ``f_c(x) < 0`` it is
    ``|f_c(x)|`` times ``explain``'s map of the negated output (the model followed by
    ``Rescaling(-1)``, i.e. the seed -1), which is what a negative seed gives.
    """

    _method = ""
    _supports_all = False

    def _all_refusal(self) -> str:
        return (
            "the modified ReLU backward is not linear in the seed, so the map of all outputs is not the sum of the "
            "per-output maps, and signxai_tf's engine starts from one output (explain each output with "
            "neuron_selection_mode='index' instead)"
        )

    def __init__(self, model: keras.Model, neuron_selection_mode: str = "max_activation"):
        super().__init__(model, neuron_selection_mode)
        self._negated: keras.Model | None = None

    def _negated_model(self) -> keras.Model:
        if self._negated is None:
            spec = self._model.inputs[0]
            inp = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype)
            out = keras.layers.Rescaling(-1.0, name="negated_output")(self._model(inp))
            self._negated = keras.Model(inp, out, name=f"{self._model.name}_negated")
        return self._negated

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        logits = np.asarray(call["logits"])
        seed = logits[np.arange(len(target)), target]
        shape = (-1,) + (1,) * (len(x.shape) - 1)
        result = explain(self._model, x, self._method, target=target) * seed.reshape(shape)
        negative = seed < 0
        if np.any(negative):
            rows = np.flatnonzero(negative)
            flipped = explain(self._negated_model(), tf.gather(x, rows), self._method, target=target[rows])
            result[rows] = flipped * np.abs(seed[rows]).reshape(shape)
        return result


class GuidedBackprop(_SeededByOutput):
    """Guided backprop (``explain(..., "guided_backprop")``) started from the selected output value.

    ``neuron_selection_mode="all"`` is not offered (see :class:`_SeededByOutput`).
    """

    _method = "guided_backprop"


class Deconvnet(_SeededByOutput):
    """Deconvnet (``explain(..., "deconvnet")``) started from the selected output value."""

    _method = "deconvnet"


class IntegratedGradients(AnalyzerBase):
    """Integrated gradients (``explain(..., "integrated_gradients", steps=..., baseline=...)``).

    Parameters
    ----------
    model : keras.Model
    steps : int, default 64 (iNNvestigate's)
        Number of path points.
    reference_inputs : float or array, default 0
        The baseline: a number (every element), one sample's shape or the batch's shape.
    neuron_selection_mode : {"max_activation", "index", "all"}
        The class is chosen on the input itself (not on the path points), as in iNNvestigate.
    postprocess : None
        Only ``None`` (iNNvestigate post-processes each path gradient before averaging).
    quadrature : {"reference", "innvestigate"}
        ``"reference"`` (default): docs/semantics.md §3, ``alpha_k = k/(steps-1)``, both ends (the
        quadrature of signxai's iNNvestigate copy). ``"innvestigate"``: iNNvestigate 2.x's
        ``alpha_k = k/steps``, ``k = 0..steps-1`` (the input end left out), computed exactly from
        the reference quadrature: ``((steps+1) IG_{steps+1} - IG_1) / steps``.
    batch_size : int
        Path points per forward-backward pass.
    """

    def __init__(
        self,
        model: keras.Model,
        steps: int = INNVESTIGATE_IG_STEPS,
        reference_inputs: Any = 0,
        neuron_selection_mode: str = "max_activation",
        postprocess: str | None = None,
        *,
        quadrature: str = "reference",
        batch_size: int = parameter_default("batch_size"),
    ):
        super().__init__(model, neuron_selection_mode)
        where = type(self).__name__
        self._steps = check_parameter("steps", steps, where)
        self._batch_size = check_parameter("batch_size", batch_size, where)
        _no_postprocess(postprocess, where)
        if quadrature not in _QUADRATURES:
            raise MethodParameterError(f"{where}: quadrature={quadrature!r}; must be one of {_QUADRATURES}")
        self._quadrature = quadrature
        self._reference_inputs = reference_inputs

    def _baseline(self, x: tf.Tensor) -> Any:
        ref = self._reference_inputs
        if isinstance(ref, tf.Tensor):
            ref = ref.numpy()
        if np.ndim(ref) == 0:
            return np.full(tuple(x.shape[1:]), float(ref), dtype=x.dtype.as_numpy_dtype)
        return ref

    def _ig(self, x: tf.Tensor, target: Any, steps: int) -> np.ndarray:
        return explain(
            self._model, x, "integrated_gradients", target=target, steps=steps, baseline=self._baseline(x),
            batch_size=self._batch_size,
        )

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        n = self._steps
        if self._quadrature == "reference":
            return self._ig(x, target, n)
        return ((n + 1) * self._ig(x, target, n + 1) - self._ig(x, target, 1)) / n


class SmoothGrad(AnalyzerBase):
    """SmoothGrad with absolute noise (``explain(..., "smoothgrad", samples=..., noise=..., noise_mode="absolute")``).

    Parameters
    ----------
    model : keras.Model
    augment_by_n : int, default 64 (iNNvestigate's)
        Number of noisy copies.
    noise_scale : float, default 1 (iNNvestigate's GaussianSmoother)
        The noise's standard deviation sigma, in the input's units (not relative to its range).
    neuron_selection_mode : {"max_activation", "index", "all"}
        The class is chosen on the clean input, as in iNNvestigate.
    postprocess : None
        Only ``None``.
    seed : int or None
        Seed of the noise (docs/semantics.md §3); ``None``: fresh noise per call (the same noise for
        every output in mode ``"all"``).
    batch_size : int
        Noisy copies per forward-backward pass.
    """

    def __init__(
        self,
        model: keras.Model,
        augment_by_n: int = INNVESTIGATE_AUGMENT_BY_N,
        noise_scale: float = INNVESTIGATE_NOISE_SCALE,
        neuron_selection_mode: str = "max_activation",
        postprocess: str | None = None,
        *,
        seed: int | None = parameter_default("seed"),
        batch_size: int = parameter_default("batch_size"),
    ):
        super().__init__(model, neuron_selection_mode)
        where = type(self).__name__
        self._samples = check_parameter("samples", augment_by_n, f"{where}(augment_by_n)")
        self._noise = check_parameter("noise", noise_scale, f"{where}(noise_scale)")
        self._seed = check_parameter("seed", seed, where)
        self._batch_size = check_parameter("batch_size", batch_size, where)
        _no_postprocess(postprocess, where)

    def _prepare_call(self, x: tf.Tensor) -> dict:
        seed = self._seed
        if seed is None:  # one draw for all outputs of this call
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        return {"seed": seed}

    def _map(self, x: tf.Tensor, target: Any, call: dict) -> np.ndarray:
        return explain(
            self._model, x, "smoothgrad", target=target, samples=self._samples, noise=self._noise,
            noise_mode="absolute", seed=call["seed"], batch_size=self._batch_size,
        )
