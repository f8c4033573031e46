"""Heatmap post-processing shared by both packages: :func:`normalize_heatmap`.

numpy only: torch and TensorFlow tensors are accepted and converted when they are passed (no
framework is imported here). ``signxai_captum.normalize_heatmap`` and
``signxai_tf.normalize_heatmap`` are this function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["normalize_heatmap"]


def _to_numpy(h: Any) -> np.ndarray:
    """``h`` as a numpy array: torch tensors through ``detach().cpu()``, TF tensors through ``.numpy()``."""
    if hasattr(h, "detach") and hasattr(h, "cpu"):  # torch.Tensor, without importing torch
        h = h.detach().cpu().numpy()
    elif hasattr(h, "numpy") and not isinstance(h, np.ndarray):  # tf.Tensor / EagerTensor
        h = h.numpy()
    return np.asarray(h)


def normalize_heatmap(h: Any, per_sample: bool = False) -> np.ndarray:
    """Scale a relevance map into [-1, 1] by its largest absolute value, as the original signxai.

    The original (``signxai.utils.utils.normalize_heatmap``) computes ``H / max(|H|)`` over the
    whole array and turns NaN into 0; it was written for one sample's map. Here, likewise:

    - the whole array is divided by ``max(|h|)`` (``per_sample=True``: each sample along axis 0 by
      its own maximum);
    - a map (or sample) that is zero everywhere comes back as zeros: nothing is divided by zero;
    - NaN entries become 0 (the original's ``nan_to_num``) and do not count for the maximum;
    - signs are kept, so a constant map c != 0 becomes ``sign(c)`` everywhere.

    Parameters
    ----------
    h : numpy.ndarray, torch.Tensor, tf.Tensor or array-like
        A map (any shape), or a batch of maps with ``per_sample=True``. Not modified.
    per_sample : bool, default False
        False: one maximum for the whole array (the original's behaviour). True: axis 0 indexes
        samples and each is scaled by its own maximum (a batch then equals its samples
        normalised one at a time).

    Returns
    -------
    numpy.ndarray
        ``h``'s shape; ``h``'s floating dtype (integer input gives float64). Values in [-1, 1],
        with -1 or +1 reached where ``|h|`` is largest.

    Raises
    ------
    TypeError
        If ``h`` is not numeric.
    ValueError
        If ``h`` contains infinite values (their ratio is undefined), or ``per_sample=True`` and
        ``h`` has no sample axis (a 0-d value).

    Examples
    --------
    >>> normalize_heatmap(np.array([[1.0, -2.0], [0.5, 0.0]]))
    array([[ 0.5 , -1.  ],
           [ 0.25,  0.  ]])
    """
    array = _to_numpy(h)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"normalize_heatmap needs a numeric map, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if np.isinf(array).any():
        count = int(np.isinf(array).sum())
        raise ValueError(
            f"normalize_heatmap: the map has {count} infinite value(s), whose ratio to the maximum is undefined; "
            "replace them first (e.g. np.nan_to_num(h, posinf=..., neginf=...))"
        )
    array = np.where(np.isnan(array), array.dtype.type(0), array)  # a new array: h is not modified
    if per_sample:
        if array.ndim == 0:
            raise ValueError("normalize_heatmap(per_sample=True) needs samples along axis 0, got a 0-d value")
        peak = np.abs(array).reshape(len(array), -1).max(axis=1, initial=0.0).reshape((-1,) + (1,) * (array.ndim - 1))
    else:
        peak = np.abs(array).max(initial=0.0)
    scale = np.where(peak > 0, peak, 1).astype(array.dtype)
    return (array / scale).astype(array.dtype, copy=False)
