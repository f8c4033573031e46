"""Drawing relevance maps with matplotlib, for the output of both packages.

- :func:`heatmap`: one map on its own;
- :func:`overlay`: a map drawn over the input image (gray or RGB);
- :func:`method_grid`: a figure of inputs (rows) x methods (columns);
- :func:`timeseries_relevance`: a signal (ECG leads, ...) drawn as a line coloured by relevance.

The colour convention is the one of :func:`shared_spec.heatmaps.heatmap_colors`: red positive,
blue negative, white zero, on a scale symmetric around 0 (``[-vmax, vmax]``, ``vmax = max |R|``
unless given). A map that is zero everywhere is drawn white with the note ``"all relevance 0"``
on its panel, so that an empty panel is never left unexplained.

matplotlib is imported when a function is called, not when this module is imported, and
``shared_spec`` itself does not import this module. Nothing calls ``plt.show()``: every function
returns the matplotlib object it made (works with the Agg backend, in scripts and notebooks).
``signxai_captum.visualization`` and ``signxai_tf.visualization`` re-export these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._arrays import to_numpy as _to_numpy
from .heatmaps import _colormap, _numeric, aggregate_channels, symmetric_vmax

__all__ = ["ZERO_NOTE", "heatmap", "method_grid", "overlay", "timeseries_relevance"]

#: The note written on a panel whose relevance is zero everywhere.
ZERO_NOTE = "all relevance 0"
#: The note written on a panel whose relevance has no finite value (all NaN).
NAN_NOTE = "no finite relevance"
#: The footnote of :func:`method_grid` with ``scale="per_panel"``.
PER_PANEL_NOTE = "each panel scaled to its own max |R|"
_SCALES = ("per_panel", "shared")


# -- helpers -----------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _norm(limit: float) -> Any:
    from matplotlib.colors import Normalize

    return Normalize(vmin=-limit, vmax=limit)


def _map_2d(R: Any, function: str) -> np.ndarray:
    """A 2-D map; a 3-D map with a channel axis is summed over its channels first."""
    array = _numeric(R, function)
    if array.ndim == 3:
        try:
            array = aggregate_channels(array, "sum")
        except ValueError as error:
            raise ValueError(
                f"{function}: got a 3-D map of shape {array.shape} and cannot tell its channel axis ({error}); "
                "pass a 2-D map, e.g. shared_spec.heatmaps.aggregate_channels(R, channel_axis=...)"
            ) from None
    if array.ndim != 2:
        raise ValueError(
            f"{function} draws a 2-D map (H, W) (or a 3-D one with a channel axis), got shape {array.shape}; "
            "for a batch, draw one sample (R[i]) or use method_grid"
        )
    return array


def _note_if_empty(ax: Any, values: np.ndarray) -> Any:
    """Write ZERO_NOTE (or NAN_NOTE) on ``ax`` when ``values`` has no non-zero finite entry."""
    finite = values[np.isfinite(values)]
    if finite.size and np.any(finite != 0):
        return None
    return ax.text(
        0.5,
        0.5,
        ZERO_NOTE if finite.size else NAN_NOTE,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize="small",
        color="black",
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.5", "alpha": 0.9},
        zorder=10,
    )


def _new_axes(ax: Any) -> Any:
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _bare(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _display_image(image: Any, shape: tuple[int, int] | None, function: str) -> np.ndarray:
    """``image`` as (H, W) or (H, W, 3) floats in [0, 1] (min-max rescaled).

    A channels-first (1, H, W) / (3, H, W) image is accepted when ``shape`` (the map's) says so
    unambiguously (its last two axes match the map and its first two do not).
    """
    array = _numeric(image, function)
    if (
        shape is not None
        and array.ndim == 3
        and array.shape[0] in (1, 3)
        and array.shape[1:] == tuple(shape)
        and array.shape[:2] != tuple(shape)
    ):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        hint = ""
        if array.ndim == 3 and array.shape[0] in (1, 3):
            hint = "; for a channels-first image pass np.moveaxis(image, 0, -1)"
        raise ValueError(
            f"{function}: the image must be (H, W), (H, W, 1) or (H, W, 3), got shape {array.shape}{hint}"
        )
    finite = array[np.isfinite(array)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high > low:
        array = (array - low) / (high - low)
    else:  # a constant image: middle gray
        array = np.full_like(array, 0.5)
    return np.clip(np.nan_to_num(array, nan=0.5), 0.0, 1.0)


def _show_image(ax: Any, image: np.ndarray) -> Any:
    if image.ndim == 2:
        return ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    return ax.imshow(image, interpolation="nearest")


def _check_alpha(alpha: float) -> float:
    value = float(alpha)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (0: image only, 1: map only), got {alpha!r}")
    return value


# -- single panels -----------------------------------------------------------------------------


def heatmap(
    R: Any,
    ax: Any = None,
    *,
    vmax: float | None = None,
    colorbar: bool = True,
    title: str | None = None,
    cmap: Any = None,
) -> Any:
    """Draw one relevance map.

    Parameters
    ----------
    R : array-like (H, W)
        The map. A 3-D map with a channel axis (``(C, H, W)`` or ``(H, W, C)``) is summed over its
        channels first (:func:`~shared_spec.heatmaps.aggregate_channels`, ``mode="sum"``, the
        inference rule documented there); aggregate it yourself for ``"abs"``/``"pos"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.
    vmax : float, optional
        The colour scale is ``[-vmax, vmax]``; default ``max |R|``.
    colorbar : bool, default True
        Add a colour bar next to the axes.
    title : str, optional
        The axes title.
    cmap : str or Colormap, optional
        Default blue-white-red (see :func:`~shared_spec.heatmaps.heatmap_colors`).

    Returns
    -------
    matplotlib.image.AxesImage
        ``get_array()`` is the map, ``norm.vmin == -norm.vmax``. A zero map gets the text
        ``"all relevance 0"`` on its axes.
    """
    array = _map_2d(R, "heatmap")
    limit = symmetric_vmax(array, vmax)
    ax = _new_axes(ax)
    image = ax.imshow(array, cmap=_colormap(cmap), norm=_norm(limit), interpolation="nearest")
    _bare(ax)
    _note_if_empty(ax, array)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="relevance")
    return image


def overlay(
    R: Any,
    image: Any,
    ax: Any = None,
    *,
    alpha: float = 0.6,
    vmax: float | None = None,
    colorbar: bool = True,
    title: str | None = None,
    cmap: Any = None,
) -> Any:
    """Draw a relevance map over the input image.

    The image is drawn first (gray for ``(H, W)`` / ``(H, W, 1)``, colour for ``(H, W, 3)``),
    min-max rescaled to [0, 1] whatever its range (a constant image is middle gray); the map is
    drawn over it with opacity ``alpha``. A channels-first image (``(3, H, W)`` or ``(1, H, W)``,
    a PyTorch sample) is accepted when its last two axes match the map's shape.

    Parameters
    ----------
    R : array-like (H, W)
        The map (a 3-D map with a channel axis is summed over it, as in :func:`heatmap`).
    image : array-like
        The input, same height and width as the map.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.
    alpha : float, default 0.6
        Opacity of the map, in [0, 1].
    vmax, colorbar, title, cmap
        As in :func:`heatmap`.

    Returns
    -------
    matplotlib.image.AxesImage
        The map's image (the input image is ``ax.images[0]``).

    Raises
    ------
    ValueError
        If the map's height and width differ from the image's, the image is not (H, W),
        (H, W, 1) or (H, W, 3), or ``alpha`` is outside [0, 1].
    """
    array = _map_2d(R, "overlay")
    alpha = _check_alpha(alpha)
    picture = _display_image(image, array.shape, "overlay")
    if picture.shape[:2] != array.shape:
        raise ValueError(
            f"overlay: the map is {array.shape[0]}x{array.shape[1]} but the image is "
            f"{picture.shape[0]}x{picture.shape[1]} (shape {np.shape(_to_numpy(image))}); the map must cover the image "
            "pixel for pixel (explain returns maps of the input's size; resize yours first)"
        )
    limit = symmetric_vmax(array, vmax)
    ax = _new_axes(ax)
    _show_image(ax, picture)
    drawn = ax.imshow(array, cmap=_colormap(cmap), norm=_norm(limit), alpha=alpha, interpolation="nearest")
    _bare(ax)
    _note_if_empty(ax, array)
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(drawn, ax=ax, label="relevance")
    return drawn


_overlay_panel = overlay  # method_grid's keyword `overlay` shadows the function there


# -- figures -----------------------------------------------------------------------------------


def _batch_of_maps(method: str, maps: Any, count: int) -> np.ndarray:
    array = _numeric(maps, f"method_grid (maps[{method!r}])")
    if array.ndim == 4:
        array = aggregate_channels(array, "sum")
    elif array.ndim == 2 and count == 1:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(
            f"method_grid: maps[{method!r}] must be (N, H, W) (or (N, C, H, W) / (N, H, W, C), summed over "
            f"the channels), got shape {np.shape(array)}"
        )
    if len(array) != count:
        raise ValueError(f"method_grid: {count} input(s) but maps[{method!r}] has {len(array)} map(s)")
    return array


def method_grid(
    inputs: Any,
    maps: Mapping[str, Any],
    *,
    methods: Sequence[str] | None = None,
    row_titles: Sequence[str] | None = None,
    scale: str = "per_panel",
    title: str | None = None,
    overlay: bool = True,
    vmax: float | None = None,
    alpha: float = 0.6,
    cmap: Any = None,
    panel_size: float = 2.2,
) -> Any:
    """A figure of explanations: one row per input, one column per method.

    The first column shows the inputs themselves (titled ``"input"``), each further column one
    method (titled with its name). The figure says how the panels are scaled, at its bottom:

    - ``scale="per_panel"``: each panel has its own ``vmax = max |R|`` of that panel (its value
      written under the panel); footnote ``"each panel scaled to its own max |R|"``. Colours can
      then not be compared between panels, only within one.
    - ``scale="shared"``: one ``vmax`` for the whole figure (``max |R|`` over all maps, or the
      ``vmax`` given), one colour bar; footnote ``"all panels share one scale: |R| <= ..."``.
      Colours compare across panels; a method with small values looks pale.

    Parameters
    ----------
    inputs : array-like or sequence of arrays
        N images, each (H, W), (H, W, 1), (H, W, 3) or channels-first (1 | 3, H, W) (see
        :func:`overlay`); an array (N, H, W), (N, H, W, C) or (N, C, H, W) works too.
    maps : mapping of str to array-like
        Method name -> the maps of the N inputs, (N, H, W); 4-D maps with a channel axis are
        summed over it (:func:`~shared_spec.heatmaps.aggregate_channels`).
    methods : sequence of str, optional
        Which methods, in which order; default all of ``maps`` in its order.
    row_titles : sequence of str, optional
        One label per input, written left of each row.
    scale : {"per_panel", "shared"}, default "per_panel"
    title : str, optional
        The figure title.
    overlay : bool, default True
        Draw the maps over the inputs (:func:`overlay`); False: maps alone (:func:`heatmap`).
    vmax : float, optional
        The shared scale limit (``scale="shared"`` only).
    alpha, cmap
        As in :func:`overlay`.
    panel_size : float, default 2.2
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[r * (len(methods) + 1) + c]`` is the panel of row ``r``, column ``c`` (column 0:
        the input; each panel's label, ``Axes.get_label()``, is ``"input[r]"`` or
        ``"<method>[r]"``); the map image of a method panel is its ``images[-1]``. With
        ``scale="shared"`` the colour bar's axes come last.

    Raises
    ------
    ValueError
        For an unknown ``scale``, a method not in ``maps``, a map count or size that does not
        match the inputs, ``vmax`` with ``scale="per_panel"``, or a wrong number of row titles.
    """
    if scale not in _SCALES:
        raise ValueError(f"method_grid: unknown scale {scale!r}; choose 'per_panel' or 'shared'")
    if vmax is not None and scale != "shared":
        raise ValueError("method_grid: vmax sets the one scale of scale='shared'; with scale='per_panel' leave it None")
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError("method_grid: maps must be a non-empty dict of method name -> (N, H, W) maps")
    methods = list(maps) if methods is None else list(methods)
    missing = [method for method in methods if method not in maps]
    if missing or not methods:
        raise ValueError(f"method_grid: no maps for {missing or 'any method'}; maps has {list(maps)}")
    if isinstance(inputs, np.ndarray) or hasattr(inputs, "shape"):
        images = list(_numeric(inputs, "method_grid (inputs)"))
    else:
        images = [_numeric(image, "method_grid (inputs)") for image in inputs]
    count = len(images)
    if count == 0:
        raise ValueError("method_grid: no inputs")
    batches = {method: _batch_of_maps(method, maps[method], count) for method in methods}
    sizes = {method: batch.shape[1:] for method, batch in batches.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"method_grid: the methods' maps differ in size: {sizes}")
    if row_titles is not None:
        row_titles = list(row_titles)
        if len(row_titles) != count:
            raise ValueError(f"method_grid: {len(row_titles)} row title(s) for {count} input(s)")
    shared = 1.0
    if scale == "shared":
        shared = symmetric_vmax(np.stack([batches[m] for m in methods]) if vmax is None else None, vmax)
    alpha = _check_alpha(alpha)

    plt = _pyplot()
    columns = len(methods) + 1
    figure, axes = plt.subplots(
        count,
        columns,
        figsize=(panel_size * columns + (0.8 if scale == "shared" else 0.0), panel_size * count + 0.9),
        squeeze=False,
        layout="constrained",
    )
    drawn = None
    for row in range(count):
        shape = batches[methods[0]][row].shape
        picture = _display_image(images[row], shape, "method_grid")
        ax = axes[row, 0]
        _show_image(ax, picture)
        _bare(ax)
        ax.set_label(f"input[{row}]")
        if row == 0:
            ax.set_title("input")
        if row_titles is not None:
            ax.set_ylabel(str(row_titles[row]))
        for column, method in enumerate(methods, start=1):
            ax = axes[row, column]
            ax.set_label(f"{method}[{row}]")
            panel = batches[method][row]
            limit = shared if scale == "shared" else symmetric_vmax(panel)
            if overlay:
                drawn = _overlay_panel(panel, images[row], ax, alpha=alpha, vmax=limit, colorbar=False, cmap=cmap)
            else:
                drawn = heatmap(panel, ax, vmax=limit, colorbar=False, cmap=cmap)
            if row == 0:
                ax.set_title(method, fontsize="medium")
            if scale == "per_panel":
                ax.set_xlabel(f"max |R| = {limit:.3g}", fontsize="x-small")
    if scale == "shared":
        figure.colorbar(drawn, ax=axes[:, 1:].ravel().tolist(), label="relevance", shrink=0.9)
        figure.supxlabel(f"all panels share one scale: |R| <= {shared:.3g}", fontsize="small")
    else:
        figure.supxlabel(PER_PANEL_NOTE, fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return figure


def timeseries_relevance(
    signal: Any,
    relevance: Any,
    *,
    leads: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
    fs: float | None = None,
    vmax: float | None = None,
    cmap: Any = None,
    linewidth: float = 3.0,
) -> Any:
    """Draw a signal as a line coloured by its relevance, one subplot per channel (lead).

    Sample ``t`` of a lead colours the stretch of the line from halfway to the previous sample to
    halfway to the next one: the ``LineCollection`` of a subplot has one segment per sample and
    its ``get_array()`` is the relevance of that lead. All leads share one symmetric scale
    ``[-vmax, vmax]`` (default ``max |relevance|`` over all leads) and one colour bar. The signal
    is also drawn as a thin dark gray line over the coloured one, so that its shape shows where the
    relevance is near 0 (white). A lead whose relevance is zero everywhere gets the note ``"all relevance 0"``.

    Parameters
    ----------
    signal : array-like (T,) or (T, C)
        Time along axis 0 (a Keras sample ``x[i]``; for a PyTorch sample ``(C, T)`` pass
        ``x[i].T``). At least 2 samples.
    relevance : array-like
        Same shape as ``signal``.
    leads : sequence of str, optional
        The channel names (C of them), written as the subplots' y labels.
    ax : matplotlib.axes.Axes or sequence of C Axes, optional
        Where to draw; default a new figure with C subplots sharing the time axis.
    title : str, optional
        The figure title (on the first subplot when ``ax`` is given).
    fs : float, optional
        Sampling rate in Hz: the x axis in seconds; default in samples.
    vmax : float, optional
        The scale limit.
    cmap : str or Colormap, optional
        As in :func:`heatmap`.
    linewidth : float, default 3.0
        Width of the coloured line.

    Returns
    -------
    matplotlib.figure.Figure
        Subplot ``c`` is ``fig.axes[c]``, its coloured line ``fig.axes[c].collections[0]``; the
        colour bar's axes come last.

    Raises
    ------
    ValueError
        If the shapes differ or are not (T,) / (T, C), T < 2, the number of lead names or axes is
        not C, or ``fs`` is not positive.
    """
    from matplotlib.collections import LineCollection

    values = _numeric(signal, "timeseries_relevance (signal)")
    scores = _numeric(relevance, "timeseries_relevance (relevance)")
    if values.shape != scores.shape:
        raise ValueError(
            f"timeseries_relevance: signal {values.shape} and relevance {scores.shape} must have the same shape"
        )
    if values.ndim == 1:
        values, scores = values[:, None], scores[:, None]
    if values.ndim != 2 or len(values) < 2:
        raise ValueError(
            f"timeseries_relevance: the signal must be (T,) or (T, C) with T >= 2 samples, got shape {values.shape} "
            "(a batch: pass one sample; PyTorch's (C, T): pass .T)"
        )
    steps, channels = values.shape
    if leads is not None:
        leads = [str(name) for name in leads]
        if len(leads) != channels:
            raise ValueError(f"timeseries_relevance: {len(leads)} lead name(s) for {channels} channel(s)")
    if fs is not None and not (np.isfinite(float(fs)) and float(fs) > 0):
        raise ValueError(f"timeseries_relevance: fs (sampling rate, Hz) must be > 0, got {fs!r}")
    limit = symmetric_vmax(scores, vmax)

    plt = _pyplot()
    if ax is None:
        figure, axes = plt.subplots(
            channels, 1, sharex=True, squeeze=False, figsize=(10.0, 1.3 * channels + 1.0), layout="constrained"
        )
        axes = list(axes[:, 0])
    else:
        axes = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != channels:
            raise ValueError(f"timeseries_relevance: {len(axes)} axes given for {channels} channel(s)")
        figure = axes[0].figure

    time = np.arange(steps, dtype=np.float64) / (float(fs) if fs is not None else 1.0)
    mid_time = np.concatenate([time[:1], (time[:-1] + time[1:]) / 2, time[-1:]])
    norm = _norm(limit)
    colormap = _colormap(cmap)
    line = None
    for channel, axis in enumerate(axes):
        y = values[:, channel]
        mid_y = np.concatenate([y[:1], (y[:-1] + y[1:]) / 2, y[-1:]])
        # segment t: (t - 1/2) -> t -> (t + 1/2), clipped at both ends
        segments = np.stack(
            [
                np.stack([mid_time[:-1], mid_y[:-1]], axis=1),
                np.stack([time, y], axis=1),
                np.stack([mid_time[1:], mid_y[1:]], axis=1),
            ],
            axis=1,
        )
        line = LineCollection(segments, cmap=colormap, norm=norm, linewidths=linewidth, zorder=1)
        axis.plot(time, y, color="0.3", linewidth=0.6, zorder=2)
        line.set_array(scores[:, channel])
        axis.add_collection(line)
        axis.autoscale_view()
        if leads is not None:
            axis.set_ylabel(leads[channel])
        _note_if_empty(axis, scores[:, channel])
    axes[-1].set_xlabel("time (s)" if fs is not None else "sample")
    figure.colorbar(line, ax=axes, label="relevance")
    if title is not None:
        if ax is None:
            figure.suptitle(title)
        else:
            axes[0].set_title(title)
    return figure
