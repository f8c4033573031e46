"""Method names to computations: :func:`explain`."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from shared_spec import list_methods, parse, translate_legacy
from shared_spec.datasets import explain_in_chunks
from shared_spec.targets import is_all_outputs, sum_over_outputs

from ._batch import as_batch
from ._methods.dispatch import DISPATCH as _DISPATCH
from ._softmax import remove_softmax

__all__ = ["explain", "supported_methods"]


def supported_methods() -> list[str]:
    """The named methods of ``shared_spec.list_methods()`` that this package computes.

    Returns
    -------
    list of str
        In table order; parametric forms of these families work too.
    """
    return [name for name in list_methods(include_deprecated=False) if parse(name).family in _DISPATCH]


def explain(
    model: keras.Model, x: Any, method_name: str, target: Any = None, *, allow_nonfinite: bool = False, **params: Any
) -> np.ndarray:
    """Explain a Keras 3 model's decision for a batch with a method of the table.

    Parameters
    ----------
    model : keras.Model
        A built model with one input and one output. A final softmax (``Softmax`` layer,
        ``Activation("softmax")`` or ``activation="softmax"``) is skipped through a copy; the
        model itself is not modified.
    x : numpy.ndarray or tf.Tensor
        A batch, samples along axis 0, in the model's layout (channels last). Not modified.
    method_name : str
        A name of ``shared_spec.list_methods()`` or a parametric form, e.g. ``"gradient_x_sign"``.
    target : None, int, sequence of int or "all"
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
    shared_spec.MethodNameError
        For names that do not parse.
    shared_spec.MethodParameterError
        For bad keyword parameters (e.g. z^B bounds with ``low >= high``).
    ValueError
        For x of the wrong shape (with advice when it looks transposed or lacks the batch axis),
        an empty batch or non-finite values (see ``allow_nonfinite``).
    NotImplementedError
        For valid names whose method signxai_tf does not implement yet.
    """
    method_name, params, target = translate_legacy(method_name, params, target)  # the original signxai keywords
    spec = parse(method_name, **params)
    method = _DISPATCH.get(spec.family)
    if method is None:
        raise NotImplementedError(
            f"method {spec.name!r} (family {spec.family!r}) is not implemented in signxai_tf yet; "
            f"implemented families: {', '.join(sorted(_DISPATCH))}"
        )
    logit_model = remove_softmax(model)
    inputs = as_batch(x, logit_model, allow_nonfinite)
    if is_all_outputs(target):
        classes = int(logit_model.outputs[0].shape[-1])
        return sum_over_outputs(
            spec, classes, lambda c, extra: explain(logit_model, inputs, method_name, c, allow_nonfinite=True, **{**params, **extra})
        )
    result = np.asarray(method(logit_model, inputs, target, spec))
    if result.shape != tuple(inputs.shape):
        raise RuntimeError(f"internal error: {spec.name} returned shape {result.shape} for input {tuple(inputs.shape)}")
    return result


def explain_dataset(
    model: keras.Model,
    data: Any,
    method_name: str,
    target: Any = None,
    *,
    batch_size: int = 32,
    out: Any = None,
    progress: bool | None = None,
    **params: Any,
) -> np.ndarray:
    """Explain a whole data set chunk by chunk, with memory bounded by the chunk (docs/datasets.md).

    Parameters
    ----------
    model : keras.Model
        As for :func:`explain`.
    data : numpy.ndarray, numpy.memmap, tf.Tensor, tf.data.Dataset or iterable of batches
        Samples along axis 0 (a memory map larger than memory is read one chunk at a time), a
        ``tf.data.Dataset`` (batched; one that yields single samples is batched by
        ``batch_size``), or any iterable yielding batches or ``(x, y, ...)`` tuples.
    method_name : str
        As for :func:`explain`.
    target : None, int, sequence of int or "labels"
        As for :func:`explain`, for the whole data set (a sequence has one class per sample);
        ``"labels"``: the ``y`` of each ``(x, y)`` batch.
    batch_size : int, default 32
        Chunk size for arrays, tensors and unbatched datasets.
    out : str or os.PathLike, optional
        Write the maps into this ``.npy`` file as they are computed and return it opened as a
        read-only memory map; None: return them in memory.
    progress : bool or None
        None: a tqdm progress bar (on stderr) appears when the run takes longer than 2 s;
        True / False: always / never.
    **params
        As for :func:`explain`.

    Returns
    -------
    numpy.ndarray or numpy.memmap
        The maps of every sample in order: the same as one :func:`explain` call on all samples.
    """
    import tensorflow as tf

    method_name, params, target = translate_legacy(method_name, params, target)
    spec = parse(method_name, **params)
    if isinstance(data, tf.data.Dataset):
        first = data.element_spec[0] if isinstance(data.element_spec, tuple) else data.element_spec
        rank = len(model.inputs[0].shape) if getattr(model, "inputs", None) else None
        if rank is not None and first.shape.rank == rank - 1:
            data = data.batch(int(batch_size))
    return explain_in_chunks(
        lambda x, t, extra: explain(model, x, method_name, t, **{**params, **extra}),
        data, spec, target, batch_size=batch_size, out=out, progress=progress,
    )
