"""Heatmap tools for explanations from TensorFlow/Keras (channels-last: maps `(N, H, W, C)`).

Framework-neutral (numpy + matplotlib): the same functions as :mod:`shared_spec.heatmaps` and
:mod:`shared_spec.drawing`, re-exported here. matplotlib is imported when a drawing function is
called. docs/visualization.md describes them.

>>> from signxai_tf.visualization import aggregate_channels, overlay, method_grid
"""

from shared_spec.drawing import (
    ZERO_NOTE,
    heatmap,
    method_grid,
    overlay,
    timeseries_relevance,
)
from shared_spec.heatmaps import (
    aggregate_channels,
    heatmap_colors,
    normalize_heatmap,
    symmetric_vmax,
)

__all__ = [
    "ZERO_NOTE",
    "aggregate_channels",
    "heatmap",
    "heatmap_colors",
    "method_grid",
    "normalize_heatmap",
    "overlay",
    "symmetric_vmax",
    "timeseries_relevance",
]
