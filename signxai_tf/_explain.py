"""Method names to computations: :func:`explain`."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from shared_spec import list_methods, parse, translate_legacy
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
