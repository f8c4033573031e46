"""Method names to attributions: :func:`attribution_for` and :func:`explain`."""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from shared_spec import MethodParameterError, MethodSpec, list_methods, parse, translate_legacy
from shared_spec.datasets import explain_in_chunks
from shared_spec.targets import is_all_outputs, sum_over_outputs

from ._methods.dispatch import DISPATCH as _DISPATCH
from ._methods.base import SignXAIAttribution
from ._methods.base import check_finite

__all__ = ["attribution_for", "explain", "explain_dataset", "supported_methods"]

_log = logging.getLogger(__name__)

#: ``explain_dataset(..., fuse=None)``: a run whose eager time is estimated at this many seconds or
#: more (from the chunks done so far) compiles the LRP rules' fused kernels for the rest of the run.
#: The compile costs ~10-20 s in a process (less with inductor's disk cache warm) and a fused chunk
#: ~12 % less on ResNet-50 (measured: docs/performance.md, *Fused kernels in data-set runs*): runs
#: of about two minutes break even, longer ones gain
FUSE_AFTER_SECONDS = 120.0
_clock = time.perf_counter


def supported_methods() -> list[str]:
    """The named methods of ``shared_spec.list_methods()`` that this package computes.

    Returns
    -------
    list of str
        In table order; parametric forms of these families work too.
    """
    return [name for name in list_methods(include_deprecated=False) if parse(name).family in _DISPATCH]


def attribution_for(
    model: nn.Module, method_name: str | MethodSpec, *, allow_nonfinite: bool = False, **params: Any
) -> SignXAIAttribution:
    """Return the configured Captum attribution for a method name of the table.

    Parameters
    ----------
    model : torch.nn.Module
        The model to explain.
    method_name : str or shared_spec.MethodSpec
        Any name of ``shared_spec.list_methods()`` or a parametric form (docs/semantics.md §2).
    allow_nonfinite : bool, default False
        Sets the attribution's ``allow_nonfinite``: by default inputs with NaN or infinite values
        raise a ``ValueError`` in ``attribute``; True explains them anyway.
    **params
        Keyword overrides of the name's parameters (e.g. ``mu=0.5``).

    Returns
    -------
    SignXAIAttribution
        Call ``.attribute(inputs, target=...)`` on it.

    Raises
    ------
    shared_spec.MethodNameError
        For names that do not parse.
    NotImplementedError
        For valid names whose method signxai_captum does not implement yet.
    """
    spec = method_name if isinstance(method_name, MethodSpec) else parse(method_name, **params)
    factory = _DISPATCH.get(spec.family)
    if factory is None:
        raise NotImplementedError(
            f"method {spec.name!r} (family {spec.family!r}) is not implemented in signxai_captum yet; "
            f"implemented families: {', '.join(sorted(_DISPATCH))}"
        )
    attribution = factory(model, spec)
    attribution.allow_nonfinite = bool(allow_nonfinite)
    return attribution


def _as_batch(x: Any, model: nn.Module, allow_nonfinite: bool = False) -> torch.Tensor:
    """A copy of ``x`` as a floating tensor on the model's device (the caller's array is untouched).

    Raises
    ------
    TypeError
        If ``x`` is not numeric.
    ValueError
        If ``x`` is not a batch (fewer than 2 dimensions), has 0 samples, or (unless
        ``allow_nonfinite``) has NaN or infinite values in the model's dtype.
    """
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    if isinstance(x, torch.Tensor):
        tensor = x.detach().clone()
    else:
        array = np.asarray(x)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"x must be a numeric array or tensor, got dtype {array.dtype}")
        tensor = torch.tensor(array)
    if tensor.ndim < 2:
        raise ValueError(
            f"x must be a batch with the samples along axis 0, got shape {tuple(tensor.shape)}; "
            "for one sample use x[None]"
        )
    if tensor.shape[0] == 0:
        raise ValueError(
            f"x has 0 samples (shape {tuple(tensor.shape)}); pass a batch with at least one sample along axis 0"
        )
    converted = tensor.to(device=device, dtype=dtype)
    if not allow_nonfinite:
        check_finite(converted, "x", "or pass allow_nonfinite=True to explain them anyway", before=tensor)
    return converted


def _all_outputs(
    model: nn.Module, attribution: Any, inputs: torch.Tensor, method_name: str, params: dict[str, Any]
) -> np.ndarray:
    """``target="all"``: the sum of the maps of every output (:func:`shared_spec.targets.sum_over_outputs`)."""
    with attribution._explaining(), torch.no_grad():
        classes = int(attribution._forward((inputs,), None).shape[-1])
    spec = parse(method_name, **params)
    return sum_over_outputs(
        spec, classes, lambda c, extra: explain(model, inputs, method_name, c, allow_nonfinite=True, **{**params, **extra})
    )


def explain(
    model: nn.Module, x: Any, method_name: str, target: Any = None, *, allow_nonfinite: bool = False, **params: Any
) -> np.ndarray:
    """Explain a PyTorch model's decision for a batch with a method of the table.

    Parameters
    ----------
    model : torch.nn.Module
        The model; it returns logits (a final ``nn.Softmax`` module is skipped). It is not
        modified: training flags and ``requires_grad`` are restored.
    x : numpy.ndarray or torch.Tensor
        A batch, samples along axis 0, in the model's layout (channels first). Not modified.
    method_name : str
        A name of ``shared_spec.list_methods()`` or a parametric form, e.g. ``"gradient_x_sign"``,
        ``"gradient_x_sign_mu_neg_0_5"``.
    target : None, int, sequence of int, 1-D tensor or "all"
        ``None``: the argmax of the logits per sample; an int: that class for all samples;
        a sequence of length N: one class per sample; ``"all"``: the sum of the maps of every
        output (iNNvestigate's ``neuron_selection_mode="all"``), for the methods whose map is
        linear in the seed (one pass per output; docs/semantics.md §1).
    allow_nonfinite : bool, default False
        By default NaN or infinite values in ``x`` (after conversion to the model's dtype) raise a
        ``ValueError`` naming how many there are and the index of the first, before anything is
        computed. True explains such input anyway (the maps are then usually NaN).
    **params
        Keyword overrides of the parameters written in the name. The keywords of the original
        signxai (``neuron_selection``, ``noise_scale``, ...) are understood, with one
        ``DeprecationWarning`` each (``shared_spec.translate_legacy``, docs/migration.md).

    Returns
    -------
    numpy.ndarray
        One map per sample, exactly ``x``'s shape.

    Raises
    ------
    ValueError
        For an empty batch, non-finite values (see ``allow_nonfinite``), or input the model cannot
        run on (with advice when ``x`` looks channels-last or lacks the batch axis).
    shared_spec.MethodNameError, shared_spec.MethodParameterError
        For names that do not parse and bad keyword parameters.
    """
    method_name, params, target = translate_legacy(method_name, params, target)  # the original signxai keywords
    attribution = attribution_for(model, method_name, **params)
    inputs = _as_batch(x, model, allow_nonfinite)
    if is_all_outputs(target):
        return _all_outputs(model, attribution, inputs, method_name, params)
    attribution.allow_nonfinite = True  # x was checked above: attribute() need not check it again
    result = attribution.attribute(inputs, target=target)
    out = result.detach().cpu().numpy()
    if out.shape != tuple(inputs.shape):  # every method must return x's shape
        raise RuntimeError(f"internal error: {method_name} returned shape {out.shape} for input {tuple(inputs.shape)}")
    return out


def explain_dataset(
    model: nn.Module,
    data: Any,
    method_name: str,
    target: Any = None,
    *,
    batch_size: int = 32,
    out: Any = None,
    progress: bool | None = None,
    fuse: bool | None = None,
    **params: Any,
) -> np.ndarray:
    """Explain a whole data set chunk by chunk, with memory bounded by the chunk (docs/datasets.md).

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`explain`.
    data : numpy.ndarray, numpy.memmap, torch.Tensor or iterable of batches
        Samples along axis 0 (a memory map larger than memory is read one chunk at a time), or a
        ``torch.utils.data.DataLoader`` / any iterable yielding batches or ``(x, y, ...)`` tuples.
    method_name : str
        As for :func:`explain`.
    target : None, int, sequence of int or "labels"
        As for :func:`explain`, for the whole data set (a sequence has one class per sample);
        ``"labels"``: the ``y`` of each ``(x, y)`` batch.
    batch_size : int, default 32
        Chunk size for arrays and tensors (a DataLoader's batches are taken as they come).
    out : str or os.PathLike, optional
        Write the maps into this ``.npy`` file as they are computed and return it opened as a
        read-only memory map; None: return them in memory.
    progress : bool or None
        None: a tqdm progress bar (on stderr) appears when the run takes longer than 2 s;
        True / False: always / never.
    fuse : bool or None
        Whether the LRP rules run their fused kernels
        (:data:`signxai_captum.lrp.rules.FUSE_ELEMENTWISE`, docs/performance.md) for this run: the
        same maps bit for bit, faster per chunk, after a one-time compile. None (default): as the
        flag is set, and switched on for the rest of the run once the run is estimated to take
        :data:`FUSE_AFTER_SECONDS` or more (a model on the CPU, a C++ compiler on the ``PATH``);
        True / False: on / off for the run. The flag is process-wide and is restored afterwards.
        Methods outside the LRP engine are not affected.
    **params
        As for :func:`explain`.

    Returns
    -------
    numpy.ndarray or numpy.memmap
        The maps of every sample in order: the same as one :func:`explain` call on all samples.
    """
    if fuse is not None and not isinstance(fuse, bool):
        raise MethodParameterError(f"fuse must be True, False or None, got {fuse!r}")
    method_name, params, target = translate_legacy(method_name, params, target)
    spec = parse(method_name, **params)
    fusing = _FuseLongRuns(model, fuse)
    try:
        return explain_in_chunks(
            lambda x, t, extra: explain(model, x, method_name, t, **{**params, **extra}),
            data, spec, target, batch_size=batch_size, out=out, progress=progress, after_chunk=fusing,
        )
    finally:
        fusing.restore()


def _has_cpp_compiler() -> bool:
    """Whether a C++ compiler for inductor's CPU kernels is on the ``PATH`` (``$CXX`` first)."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    return any(shutil.which(name) for name in (*names, "g++", "c++", "clang++"))


class _FuseLongRuns:
    """The ``fuse`` policy of :func:`explain_dataset`: sets the flag for the run, switches it on once
    a run (``fuse=None``) is estimated to be long, and restores it (:meth:`restore`)."""

    def __init__(self, model: nn.Module, fuse: bool | None) -> None:
        from .lrp import rules

        self._rules = rules
        self._previous = rules.FUSE_ELEMENTWISE
        self._start = _clock()
        if fuse is not None:
            rules.FUSE_ELEMENTWISE = fuse
        tensors = [*model.parameters(), *model.buffers()]
        self._auto = (
            fuse is None and not rules.FUSE_ELEMENTWISE and not rules._FUSE_FAILED
            and all(t.device.type == "cpu" for t in tensors) and _has_cpp_compiler()
        )

    def __call__(self, done: int, total: int | None) -> None:
        if not self._auto or done <= 0:
            return
        elapsed = _clock() - self._start
        estimate = elapsed if total is None else elapsed * max(total, done) / done
        if estimate >= FUSE_AFTER_SECONDS:
            self._auto = False
            self._rules.FUSE_ELEMENTWISE = True
            _log.info(
                "explain_dataset: the run is estimated at %.0f s; the LRP rules use their fused kernels after %d "
                "samples, for the rest of it (fuse=False keeps the eager arithmetic)", estimate, done,
            )

    def restore(self) -> None:
        self._rules.FUSE_ELEMENTWISE = self._previous
