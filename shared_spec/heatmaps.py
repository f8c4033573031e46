"""Heatmap post-processing shared by both packages.

- :func:`normalize_heatmap`: scale a map into [-1, 1] (``signxai_captum.normalize_heatmap`` and
  ``signxai_tf.normalize_heatmap`` are this function);
- :func:`aggregate_channels`: reduce the channel axis of an explanation (``"sum"``, ``"abs"``,
  ``"pos"``), channels-first (PyTorch) or channels-last (Keras) alike;
- :func:`symmetric_vmax`: the colour-scale limit of a map (``max |R|``, checked);
- :func:`heatmap_colors`: the RGBA colours :mod:`shared_spec.drawing` paints for the values of a
  map (red positive, blue negative, white zero, symmetric scale).

numpy only at import: torch and TensorFlow tensors are accepted and converted when they are
passed (no framework is imported here); matplotlib is imported by :func:`heatmap_colors` only,
when it is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import to_numpy as _to_numpy

__all__ = ["aggregate_channels", "heatmap_colors", "normalize_heatmap", "symmetric_vmax"]

#: Number of colours of the default diverging colormap. Odd, so that the middle entry (value 0)
#: is exactly white and entry ``i`` mirrors entry ``N - 1 - i`` (colour(-v) = mirrored colour(v)).
DIVERGING_COLORS = 257

_MODES = ("sum", "abs", "pos")
_LAYOUTS = ("auto", "channels_first", "channels_last")
_MAX_CHANNELS = 4  # an axis of this size or less can be a channel axis (gray, RGB, RGBA)


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


def _numeric(h: Any, function: str) -> np.ndarray:
    """``h`` as a floating numpy array (integers become float64); non-numeric input raises TypeError."""
    array = _to_numpy(h)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{function} needs a numeric array, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _infer_channel_axis(shape: tuple[int, ...], layout: str) -> int | None:
    """The channel axis of a 3-D image or a 4-D batch (see :func:`aggregate_channels`); None for 2-D."""
    ndim = len(shape)
    if ndim == 2:
        return None
    if ndim not in (3, 4):
        raise ValueError(
            f"aggregate_channels cannot infer the channel axis of a {ndim}-D array of shape {shape}: "
            "it infers it for a 3-D image (a, b, c) or a 4-D batch (N, a, b, c) only; pass channel_axis=<int>"
        )
    first = ndim - 3  # 0 for one image, 1 for a batch
    last = ndim - 1
    if layout == "channels_first":
        return first
    if layout == "channels_last":
        return last
    first_fits = shape[first] <= _MAX_CHANNELS
    last_fits = shape[last] <= _MAX_CHANNELS
    if last_fits:  # channels last, also in the tie (both axes small): Keras layout unless told otherwise
        return last
    if first_fits:
        return first
    raise ValueError(
        f"aggregate_channels cannot infer the channel axis of shape {shape}: neither axis {first} "
        f"(channels first) nor the last axis (channels last) has size <= {_MAX_CHANNELS}; "
        'pass channel_axis=<int> or layout="channels_first"/"channels_last"'
    )


def aggregate_channels(
    R: Any,
    mode: str = "sum",
    channel_axis: int | None = None,
    *,
    layout: str = "auto",
) -> np.ndarray:
    """Reduce the channel axis of an explanation to one map per image.

    Parameters
    ----------
    R : numpy.ndarray, torch.Tensor, tf.Tensor or array-like
        The explanation: a batch ``(N, C, H, W)`` / ``(N, H, W, C)``, one image ``(C, H, W)`` /
        ``(H, W, C)``, or a 2-D map ``(H, W)`` (no channel axis: returned unchanged, as float).
        Not modified.
    mode : {"sum", "abs", "pos"}, default "sum"
        ``"sum"``: sum over the channels (signs kept, positive and negative evidence may cancel);
        ``"abs"``: sum of ``|R|`` (amount of relevance, no sign); ``"pos"``: sum of
        ``max(R, 0)`` (positive evidence only).
    channel_axis : int, optional
        The channel axis (negative values count from the end). Given, it is used as it is, for
        any number of dimensions (also a 2-D array, e.g. ``(T, C)`` time series). Not together
        with ``layout``.
    layout : {"auto", "channels_first", "channels_last"}, default "auto"
        Used when ``channel_axis`` is None, for 3-D and 4-D input. ``"channels_first"``: axis 1
        of a batch (axis 0 of one image), PyTorch's layout; ``"channels_last"``: the last axis,
        Keras' layout; ``"auto"``: inferred by the rule below.

    Returns
    -------
    numpy.ndarray
        ``R`` without the channel axis, ``R``'s floating dtype (integer input gives float64).

    Notes
    -----
    The inference rule (``channel_axis=None, layout="auto"``): a 4-D array ``(N, a, b, c)`` has
    channels last (axis 3) if ``c <= 4``; otherwise channels first (axis 1) if ``a <= 4``;
    otherwise it is an error. When both ``a`` and ``c`` are <= 4 (e.g. a 3x3 picture with 3
    channels, or a 4x4 map with 1 channel) the tie goes to channels last; pass
    ``layout="channels_first"`` for a PyTorch batch of such tiny images. A 3-D array
    ``(a, b, c)`` is one image and follows the same rule with axes 0 and 2. A 2-D array has no
    channel axis and comes back unchanged. Time series batches (``(N, T, C)`` from Keras,
    ``(N, C, T)`` from PyTorch) are 3-D and would be read as one image: pass ``channel_axis``.

    Raises
    ------
    TypeError
        If ``R`` is not numeric.
    ValueError
        For an unknown ``mode`` or ``layout``, a ``channel_axis`` out of range or not an int,
        both ``channel_axis`` and a non-auto ``layout``, or a shape whose channel axis cannot be
        inferred.

    Examples
    --------
    >>> R = np.array([[[1.0, -2.0], [3.0, 0.5]]])          # (1, 2, 2): one image, channels last
    >>> aggregate_channels(R, "sum")
    array([[-1. ,  3.5]])
    >>> aggregate_channels(R, "abs", channel_axis=0)
    array([[1. , 2. ],
           [3. , 0.5]])
    """
    if mode not in _MODES:
        raise ValueError(f"aggregate_channels: unknown mode {mode!r}; choose one of {', '.join(map(repr, _MODES))}")
    if layout not in _LAYOUTS:
        raise ValueError(
            f"aggregate_channels: unknown layout {layout!r}; choose one of {', '.join(map(repr, _LAYOUTS))}"
        )
    array = _numeric(R, "aggregate_channels")
    if channel_axis is not None:
        if layout != "auto":
            raise ValueError(
                f"aggregate_channels: give channel_axis ({channel_axis!r}) or layout ({layout!r}), not both"
            )
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
            raise ValueError(f"aggregate_channels: channel_axis must be an int or None, got {channel_axis!r}")
        if not -array.ndim <= channel_axis < array.ndim:
            raise ValueError(
                f"aggregate_channels: channel_axis={channel_axis} is out of range for shape {array.shape} "
                f"(valid: {-array.ndim} .. {array.ndim - 1})"
            )
        axis: int | None = int(channel_axis) % array.ndim
    else:
        axis = _infer_channel_axis(array.shape, layout)
    if axis is None:
        return array.copy()
    if mode == "abs":
        array = np.abs(array)
    elif mode == "pos":
        array = np.maximum(array, array.dtype.type(0))
    return array.sum(axis=axis)


def symmetric_vmax(R: Any, vmax: float | None = None) -> float:
    """The limit of the symmetric colour scale ``[-vmax, vmax]`` for a map.

    Parameters
    ----------
    R : array-like
        The map (any shape). NaN entries are ignored.
    vmax : float, optional
        Given: checked (finite and > 0) and returned. None: ``max |R|``; a map that is zero
        everywhere (or has no finite value) gives 1.0, so that it is drawn white.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``vmax`` is not a finite positive number, or ``vmax`` is None and ``R`` has infinite
        values.
    """
    if vmax is not None:
        try:
            value = float(vmax)
        except (TypeError, ValueError):
            raise ValueError(f"vmax must be a positive number, got {vmax!r}") from None
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"vmax must be a finite number > 0 (the scale is [-vmax, vmax]), got {vmax!r}")
        return value
    array = _numeric(R, "symmetric_vmax")
    if np.isinf(array).any():
        raise ValueError(
            f"the map has {int(np.isinf(array).sum())} infinite value(s), so max |R| is not a usable colour "
            "scale; replace them (np.nan_to_num) or pass vmax="
        )
    peak = float(np.nanmax(np.abs(array), initial=0.0)) if array.size else 0.0
    return peak if peak > 0 else 1.0


def _colormap(cmap: Any = None) -> Any:
    """The matplotlib colormap: None -> the default blue-white-red map; a name or a Colormap."""
    import matplotlib
    from matplotlib.colors import Colormap, ListedColormap

    if cmap is None:
        t = np.linspace(-1.0, 1.0, DIVERGING_COLORS)
        neg = np.minimum(t, 0.0)  # -1 .. 0
        pos = np.maximum(t, 0.0)  # 0 .. 1
        table = np.stack([1.0 + neg, 1.0 - np.abs(t), 1.0 - pos, np.ones_like(t)], axis=1)
        return ListedColormap(table, name="signxai_bwr")
    if isinstance(cmap, Colormap):
        return cmap
    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError:
            raise ValueError(
                f"unknown colormap {cmap!r}; pass a matplotlib colormap name (e.g. 'bwr', 'seismic') or a Colormap"
            ) from None
    raise ValueError(f"cmap must be None, a matplotlib colormap name or a Colormap, got {type(cmap).__name__}")


def heatmap_colors(R: Any, vmax: float | None = None, cmap: Any = None) -> np.ndarray:
    """The RGBA colours the drawing functions paint for the values of ``R``.

    The scale is symmetric around 0: ``-vmax`` maps to the bottom of the colormap, 0 to its
    middle, ``+vmax`` to its top; values beyond ``+-vmax`` get the end colours. The default
    colormap (``cmap=None``) is blue-white-red with :data:`DIVERGING_COLORS` entries: 0 is exactly
    white ``(1, 1, 1, 1)``, ``+vmax`` red ``(1, 0, 0, 1)``, ``-vmax`` blue ``(0, 0, 1, 1)``, and
    the colour of ``-v`` is the colour of ``v`` with red and blue swapped. NaN entries get the
    colormap's "bad" colour (transparent).

    Parameters
    ----------
    R : array-like
        Relevance values, any shape.
    vmax : float, optional
        The scale limit; default ``max |R|`` (:func:`symmetric_vmax`; an all-zero map is white).
    cmap : str or matplotlib.colors.Colormap, optional
        Another colormap (a diverging one: ``"bwr"``, ``"seismic"``, ``"coolwarm"``).

    Returns
    -------
    numpy.ndarray
        Float array of shape ``R.shape + (4,)``, values in [0, 1].
    """
    from matplotlib.colors import Normalize

    array = _numeric(R, "heatmap_colors")
    limit = symmetric_vmax(array, vmax)
    norm = Normalize(vmin=-limit, vmax=limit)
    return np.asarray(_colormap(cmap)(norm(array)), dtype=np.float64)
