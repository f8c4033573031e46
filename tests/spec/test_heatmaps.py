"""The framework-neutral heatmap tools: shared_spec.heatmaps (numbers) and shared_spec.drawing (matplotlib).

Aggregation is checked against hand-computed sums for every mode, layout and the inference rule
(including the tie); colours against the colormap's known values (0 white, +-vmax red/blue,
mirror symmetry); the drawing functions by reading back what they drew (image arrays, norms,
texts, LineCollection arrays and vertices).
"""

import ast
import pathlib
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from shared_spec import drawing  # noqa: E402
from shared_spec.drawing import NAN_NOTE, PER_PANEL_NOTE, ZERO_NOTE  # noqa: E402
from shared_spec.heatmaps import aggregate_channels, heatmap_colors, symmetric_vmax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
WHITE = (1.0, 1.0, 1.0, 1.0)
RED = (1.0, 0.0, 0.0, 1.0)
BLUE = (0.0, 0.0, 1.0, 1.0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return [text.get_text() for text in ax.texts]


# == aggregate_channels ==========================================================================

# one image (1, 2, 3): axis 0 has size 1 and the last axis size 3, both <= 4 -> the tie
TIE = np.array([[[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]]])


def test_aggregate_tie_goes_to_channels_last_by_hand():
    np.testing.assert_array_equal(aggregate_channels(TIE, "sum"), [[2.0, -5.0]])  # 1-2+3, -4+5-6
    np.testing.assert_array_equal(aggregate_channels(TIE, "abs"), [[6.0, 15.0]])  # 1+2+3, 4+5+6
    np.testing.assert_array_equal(aggregate_channels(TIE, "pos"), [[4.0, 5.0]])  # 1+3, 5


def test_aggregate_tie_channels_first_when_told():
    first = aggregate_channels(TIE, "sum", layout="channels_first")  # sum over the size-1 axis 0
    np.testing.assert_array_equal(first, [[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    np.testing.assert_array_equal(aggregate_channels(TIE, "abs", layout="channels_first"), np.abs(TIE[0]))
    np.testing.assert_array_equal(aggregate_channels(TIE, "pos", layout="channels_first"), [[1, 0, 3], [0, 5, 0]])
    np.testing.assert_array_equal(aggregate_channels(TIE, "sum", layout="channels_last"), [[2.0, -5.0]])


def _signed(shape, seed=0):
    return np.random.default_rng(seed).integers(-5, 6, size=shape).astype(np.float64)


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((2, 3, 5, 6), 1),  # NCHW: axis 1 small, last not -> channels first
        ((2, 5, 6, 3), 3),  # NHWC
        ((2, 1, 7, 7), 1),  # gray NCHW
        ((2, 7, 7, 1), 3),  # gray NHWC
        ((1, 3, 4, 3), 3),  # tie -> channels last
        ((3, 5, 6), 0),  # one image CHW
        ((5, 6, 3), 2),  # one image HWC
        ((2, 2, 2), 2),  # tie, one image
    ],
)
def test_aggregate_inference_rule(shape, axis):
    R = _signed(shape)
    channels = [np.take(R, c, axis=axis) for c in range(shape[axis])]
    np.testing.assert_array_equal(aggregate_channels(R), sum(channels))
    np.testing.assert_array_equal(aggregate_channels(R, "abs"), sum(np.abs(c) for c in channels))
    np.testing.assert_array_equal(aggregate_channels(R, "pos"), sum(np.where(c > 0, c, 0.0) for c in channels))
    # the explicit layout / axis agree with the inference
    layout = "channels_first" if axis == len(shape) - 3 else "channels_last"
    np.testing.assert_array_equal(aggregate_channels(R, layout=layout), sum(channels))
    np.testing.assert_array_equal(aggregate_channels(R, channel_axis=axis - len(shape)), sum(channels))


def test_aggregate_tie_4d_channels_first_on_request():
    R = _signed((1, 3, 4, 3), seed=1)
    np.testing.assert_array_equal(aggregate_channels(R, layout="channels_first"), R[:, 0] + R[:, 1] + R[:, 2])
    assert aggregate_channels(R, layout="channels_first").shape == (1, 4, 3)
    assert aggregate_channels(R).shape == (1, 3, 4)


def test_aggregate_2d_unchanged_and_explicit_axis_on_2d():
    R = np.array([[1.0, -2.0], [3.0, 4.0]])
    out = aggregate_channels(R, "abs")  # no channel axis: unchanged (mode does not apply)
    np.testing.assert_array_equal(out, R)
    assert out is not R
    np.testing.assert_array_equal(aggregate_channels(R, layout="channels_first"), R)
    # (T, C) time series: an explicit axis is used as it is
    np.testing.assert_array_equal(aggregate_channels(R, "pos", channel_axis=1), [1.0, 7.0])


def test_aggregate_dtypes_and_input_not_modified():
    R = np.array([[[1, -2]], [[3, 4]]], dtype=np.int32)  # (2, 1, 2)
    out = aggregate_channels(R, "pos")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1.0], [7.0]])
    R32 = TIE.astype(np.float32)
    assert aggregate_channels(R32, "abs").dtype == np.float32
    np.testing.assert_array_equal(R32, TIE)


def test_aggregate_accepts_tensors():
    class FakeTFTensor:  # what the conversion relies on: .numpy()
        def __init__(self, value):
            self._value = value

        def numpy(self):
            return self._value

    np.testing.assert_array_equal(aggregate_channels(FakeTFTensor(TIE)), [[2.0, -5.0]])
    torch = pytest.importorskip("torch")
    R = _signed((2, 3, 5, 6))
    tensor = torch.tensor(R, requires_grad=True)
    np.testing.assert_array_equal(aggregate_channels(tensor, "abs"), np.abs(R).sum(axis=1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "max"}, "unknown mode 'max'"),
        ({"layout": "NCHW"}, "unknown layout 'NCHW'"),
        ({"channel_axis": 4}, "channel_axis=4 is out of range for shape (2, 3, 5, 6)"),
        ({"channel_axis": -5}, "out of range"),
        ({"channel_axis": 1.0}, "must be an int"),
        ({"channel_axis": True}, "must be an int"),
        ({"channel_axis": 1, "layout": "channels_last"}, "not both"),
    ],
)
def test_aggregate_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        aggregate_channels(_signed((2, 3, 5, 6)), **kwargs)


def test_aggregate_cannot_infer():
    with pytest.raises(ValueError, match="neither axis 1 .* nor the last axis .* size <= 4; pass channel_axis"):
        aggregate_channels(np.zeros((2, 5, 6, 7)))
    with pytest.raises(ValueError, match="5-D array .* pass channel_axis"):
        aggregate_channels(np.zeros((1, 2, 3, 4, 5)))
    with pytest.raises(TypeError, match="numeric"):
        aggregate_channels(np.array([["a"]]))
    with pytest.raises(TypeError, match="numeric"):
        aggregate_channels(np.ones((2, 2, 3), dtype=bool))


# == symmetric_vmax / heatmap_colors =============================================================


def test_symmetric_vmax():
    assert symmetric_vmax(np.array([1.0, -3.0, np.nan])) == 3.0
    assert symmetric_vmax(np.zeros((2, 2))) == 1.0
    assert symmetric_vmax(np.full(3, np.nan)) == 1.0
    assert symmetric_vmax(np.array([5.0]), vmax=2) == 2.0
    for bad in (0, -1.0, np.nan, np.inf, "x"):
        with pytest.raises(ValueError, match="vmax must be"):
            symmetric_vmax(np.ones(2), vmax=bad)
    with pytest.raises(ValueError, match="infinite"):
        symmetric_vmax(np.array([1.0, np.inf]))


def test_colors_of_known_values():
    colors = heatmap_colors(np.array([0.0, 2.0, -2.0, 6.0, -6.0]), vmax=2.0)
    assert colors.shape == (5, 4) and colors.dtype == np.float64
    np.testing.assert_array_equal(colors[0], WHITE)  # 0 -> exactly white
    np.testing.assert_array_equal(colors[1], RED)  # +vmax -> the top colour
    np.testing.assert_array_equal(colors[2], BLUE)  # -vmax -> the bottom colour
    np.testing.assert_array_equal(colors[3], RED)  # beyond the scale: clipped
    np.testing.assert_array_equal(colors[4], BLUE)
    # default vmax = max |R| = 4: -2 is half-way to blue
    colors = heatmap_colors(np.array([[4.0, -2.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(colors[0, 0], RED)
    np.testing.assert_array_equal(colors[0, 1], (0.5, 0.5, 1.0, 1.0))
    np.testing.assert_array_equal(colors[1, 0], WHITE)
    np.testing.assert_array_equal(colors[1, 1], (1.0, 0.75, 0.75, 1.0))
    import matplotlib as mpl

    top = mpl.colormaps["seismic"](1.0)
    np.testing.assert_array_equal(heatmap_colors(np.array([3.0]), cmap="seismic")[0], top)


def test_colors_are_mirror_symmetric():
    values = np.random.default_rng(2).uniform(0, 1, size=200)
    positive = heatmap_colors(values, vmax=1.0)
    negative = heatmap_colors(-values, vmax=1.0)
    np.testing.assert_array_equal(negative, positive[:, [2, 1, 0, 3]])  # red <-> blue
    assert np.all(positive[:, 0] == 1.0) and np.all(negative[:, 2] == 1.0)
    # larger |R| -> less white: green decreases monotonically with |R|
    order = np.argsort(values)
    assert np.all(np.diff(positive[order, 1]) <= 0)


def test_colors_of_zero_map_and_bad_cmap():
    np.testing.assert_array_equal(heatmap_colors(np.zeros((2, 3))), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="unknown colormap 'no_such_map'"):
        heatmap_colors(np.ones(2), cmap="no_such_map")
    with pytest.raises(ValueError, match="cmap must be"):
        heatmap_colors(np.ones(2), cmap=3)


# == heatmap / overlay ===========================================================================

MAP = np.array([[1.0, -3.0, 0.0], [2.0, 0.5, -1.0]])


def test_heatmap_array_norm_and_colours():
    image = drawing.heatmap(MAP, title="gradient")
    np.testing.assert_array_equal(np.asarray(image.get_array()), MAP)
    assert (image.norm.vmin, image.norm.vmax) == (-3.0, 3.0)
    np.testing.assert_array_equal(image.cmap(image.norm(MAP)), heatmap_colors(MAP))  # what is painted
    assert image.axes.get_title() == "gradient"
    assert image.colorbar is not None
    assert ZERO_NOTE not in _texts(image.axes)

    _, ax = plt.subplots()
    image = drawing.heatmap(MAP, ax, vmax=10, colorbar=False)
    assert image.axes is ax and (image.norm.vmin, image.norm.vmax) == (-10.0, 10.0)
    assert image.colorbar is None


def test_heatmap_aggregates_3d_and_rejects_4d():
    R = _signed((3, 4, 5))  # (C, H, W): channels first by the rule
    image = drawing.heatmap(R)
    np.testing.assert_array_equal(np.asarray(image.get_array()), R[0] + R[1] + R[2])
    with pytest.raises(ValueError, match=r"heatmap draws a 2-D map .* got shape \(1, 3, 4, 5\)"):
        drawing.heatmap(R[None])
    with pytest.raises(ValueError, match="cannot tell its channel axis"):
        drawing.heatmap(np.zeros((5, 6, 7)))


def test_zero_map_note():
    image = drawing.heatmap(np.zeros((4, 4)))
    assert ZERO_NOTE in _texts(image.axes)
    np.testing.assert_array_equal(image.cmap(image.norm(np.zeros((4, 4)))), np.ones((4, 4, 4)))  # white
    image = drawing.heatmap(np.full((2, 2), np.nan))
    assert NAN_NOTE in _texts(image.axes)
    gray = np.arange(16.0).reshape(4, 4)
    assert ZERO_NOTE in _texts(drawing.overlay(np.zeros((4, 4)), gray).axes)
    assert ZERO_NOTE not in _texts(drawing.overlay(np.eye(4), gray).axes)


def test_overlay_gray_image():
    picture = np.array([[0.0, 255.0, 51.0], [102.0, 204.0, 153.0]])  # any range, rescaled
    drawn = drawing.overlay(MAP, picture, alpha=0.4, vmax=2.0)
    np.testing.assert_array_equal(np.asarray(drawn.get_array()), MAP)
    assert drawn.norm.vmin == -drawn.norm.vmax == -2.0
    assert drawn.get_alpha() == 0.4
    ax = drawn.axes
    assert len(ax.images) == 2 and ax.images[-1] is drawn
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), picture / 255.0)
    assert ax.images[0].get_cmap().name == "gray"


def test_overlay_rgb_single_channel_and_channels_first():
    rgb = np.random.default_rng(3).uniform(-1, 1, size=(2, 3, 3))
    drawn = drawing.overlay(MAP, rgb)
    under = np.asarray(drawn.axes.images[0].get_array())
    np.testing.assert_allclose(under, (rgb - rgb.min()) / (rgb.max() - rgb.min()))
    assert drawn.norm.vmin == -drawn.norm.vmax == -3.0
    # a PyTorch sample (3, H, W) is the same picture
    first = drawing.overlay(MAP, np.moveaxis(rgb, -1, 0))
    np.testing.assert_allclose(np.asarray(first.axes.images[0].get_array()), under)
    single = drawing.overlay(MAP, np.arange(6.0).reshape(2, 3, 1))
    assert np.asarray(single.axes.images[0].get_array()).shape == (2, 3)
    constant = drawing.overlay(MAP, np.full((2, 3), 7.0))
    np.testing.assert_array_equal(np.asarray(constant.axes.images[0].get_array()), np.full((2, 3), 0.5))


def test_overlay_bad_inputs():
    with pytest.raises(ValueError, match=r"the map is 2x3 but the image is 4x4"):
        drawing.overlay(MAP, np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"the map is 2x3 but the image is 2x4"):
        drawing.overlay(MAP, np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"image must be \(H, W\), \(H, W, 1\) or \(H, W, 3\), got shape \(2, 3, 2\)"):
        drawing.overlay(MAP, np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="alpha must be in"):
        drawing.overlay(MAP, np.zeros((2, 3)), alpha=1.5)


# == method_grid =================================================================================


def _grid_data():
    rng = np.random.default_rng(4)
    inputs = rng.uniform(0, 1, size=(2, 6, 6))
    maps = {
        "gradient": rng.normal(size=(2, 6, 6)),
        "lrp_epsilon_0_1": 100 * rng.normal(size=(2, 6, 6)),
        "zero": np.zeros((2, 6, 6)),
    }
    return inputs, maps


def _panel(fig, row, column, columns):
    return fig.axes[row * columns + column]


def _footnote(fig):
    return [text.get_text() for text in fig.texts]


def test_method_grid_per_panel_scale():
    inputs, maps = _grid_data()
    fig = drawing.method_grid(inputs, maps, row_titles=["first", "second"], title="grid")
    methods = list(maps)
    columns = len(methods) + 1
    assert len(fig.axes) == 2 * columns  # no colour bar
    assert _panel(fig, 0, 0, columns).get_title() == "input"
    assert [_panel(fig, 0, c, columns).get_title() for c in range(1, columns)] == methods
    assert [_panel(fig, r, 0, columns).get_ylabel() for r in range(2)] == ["first", "second"]
    for row in range(2):
        for column, method in enumerate(methods, start=1):
            ax = _panel(fig, row, column, columns)
            assert ax.get_label() == f"{method}[{row}]"
            image = ax.images[-1]
            np.testing.assert_array_equal(np.asarray(image.get_array()), maps[method][row])
            own = np.abs(maps[method][row]).max() if method != "zero" else 1.0
            assert image.norm.vmin == -own and image.norm.vmax == own
            assert (ZERO_NOTE in _texts(ax)) == (method == "zero")
    assert PER_PANEL_NOTE in _footnote(fig)
    assert fig.get_suptitle() == "grid"


def test_method_grid_shared_scale():
    inputs, maps = _grid_data()
    fig = drawing.method_grid(inputs, maps, methods=["lrp_epsilon_0_1", "gradient"], scale="shared", overlay=False)
    columns = 3
    overall = max(np.abs(maps["lrp_epsilon_0_1"]).max(), np.abs(maps["gradient"]).max())
    assert len(fig.axes) == 2 * columns + 1  # one colour bar
    assert [_panel(fig, 0, c, columns).get_title() for c in range(1, 3)] == ["lrp_epsilon_0_1", "gradient"]
    norms = []
    for row in range(2):
        for column in (1, 2):
            ax = _panel(fig, row, column, columns)
            assert len(ax.images) == 1  # overlay=False: the map alone
            norms.append((ax.images[0].norm.vmin, ax.images[0].norm.vmax))
    assert norms == [(-overall, overall)] * 4
    assert any("share one scale" in text and f"{overall:.3g}" in text for text in _footnote(fig))
    assert PER_PANEL_NOTE not in _footnote(fig)

    fig = drawing.method_grid(inputs, maps, scale="shared", vmax=0.5)
    assert {ax.images[-1].norm.vmax for ax in fig.axes[:-1] if not ax.get_label().startswith("input")} == {0.5}


def test_method_grid_4d_maps_channels_first_inputs():
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(2, 3, 5, 7))  # a PyTorch batch
    R = rng.normal(size=(2, 3, 5, 7))
    fig = drawing.method_grid(x, {"gradient": R})
    np.testing.assert_array_equal(np.asarray(fig.axes[1].images[-1].get_array()), R.sum(axis=1)[0])
    np.testing.assert_array_equal(np.asarray(fig.axes[3].images[-1].get_array()), R.sum(axis=1)[1])
    under = np.asarray(fig.axes[0].images[0].get_array())
    assert under.shape == (5, 7, 3)


def test_method_grid_bad_inputs():
    inputs, maps = _grid_data()
    with pytest.raises(ValueError, match="unknown scale 'global'"):
        drawing.method_grid(inputs, maps, scale="global")
    with pytest.raises(ValueError, match="vmax sets the one scale of scale='shared'"):
        drawing.method_grid(inputs, maps, vmax=1.0)
    with pytest.raises(ValueError, match=r"no maps for \['smoothgrad'\]"):
        drawing.method_grid(inputs, maps, methods=["smoothgrad"])
    with pytest.raises(ValueError, match=r"3 input\(s\) but maps\['gradient'\] has 2"):
        drawing.method_grid(np.zeros((3, 6, 6)), maps)
    with pytest.raises(ValueError, match=r"1 row title\(s\) for 2 input\(s\)"):
        drawing.method_grid(inputs, maps, row_titles=["a"])
    with pytest.raises(ValueError, match="the map is 6x6 but the image is 4x4"):
        drawing.method_grid(np.zeros((2, 4, 4)), maps)
    with pytest.raises(ValueError, match="differ in size"):
        drawing.method_grid(inputs, {"a": np.ones((2, 6, 6)), "b": np.ones((2, 5, 5))})
    with pytest.raises(ValueError, match="non-empty dict"):
        drawing.method_grid(inputs, {})


# == timeseries_relevance ========================================================================


def test_timeseries_line_colours_follow_relevance():
    T = 50
    t = np.arange(T)
    signal = np.stack([np.sin(t / 5.0), np.cos(t / 7.0)], axis=1)
    relevance = np.stack([np.linspace(-2, 1, T), np.zeros(T)], axis=1)
    fig = drawing.timeseries_relevance(signal, relevance, leads=["I", "II"], fs=100.0, title="ecg")
    assert len(fig.axes) == 3  # two leads + one colour bar
    for channel in range(2):
        ax = fig.axes[channel]
        (line,) = ax.collections
        np.testing.assert_array_equal(line.get_array(), relevance[:, channel])  # one segment per sample
        assert line.norm.vmin == -2.0 and line.norm.vmax == 2.0  # one symmetric scale for all leads
        segments = line.get_segments()
        assert len(segments) == T
        middle = np.array([segment[1] for segment in segments])  # each segment passes through its sample
        np.testing.assert_allclose(middle, np.stack([t / 100.0, signal[:, channel]], axis=1))
        np.testing.assert_allclose(segments[3][0], [(2.5) / 100.0, (signal[2, channel] + signal[3, channel]) / 2])
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["I", "II"]
    assert fig.axes[1].get_xlabel() == "time (s)"
    assert ZERO_NOTE not in _texts(fig.axes[0]) and ZERO_NOTE in _texts(fig.axes[1])
    assert fig.get_suptitle() == "ecg"
    # colours: the most negative sample is blue
    np.testing.assert_array_equal(fig.axes[0].collections[0].to_rgba(relevance[0, 0]), BLUE)


def test_timeseries_1d_and_given_axes():
    signal = np.array([0.0, 1.0, 0.0, -1.0])
    relevance = np.array([0.0, 0.0, 0.0, 0.0])
    fig, ax = plt.subplots()
    out = drawing.timeseries_relevance(signal, relevance, ax=ax, vmax=3.0)
    assert out is fig
    (line,) = ax.collections
    np.testing.assert_array_equal(line.get_array(), relevance)
    assert (line.norm.vmin, line.norm.vmax) == (-3.0, 3.0)
    assert ax.get_xlabel() == "sample"
    assert ZERO_NOTE in _texts(ax)
    np.testing.assert_allclose(line.get_segments()[0], [[0, 0], [0, 0], [0.5, 0.5]])  # clipped at the start


def test_timeseries_bad_inputs():
    with pytest.raises(ValueError, match=r"signal \(10, 2\) and relevance \(2, 10\) must have the same shape"):
        drawing.timeseries_relevance(np.zeros((10, 2)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="T >= 2"):
        drawing.timeseries_relevance(np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match=r"\(T,\) or \(T, C\)"):
        drawing.timeseries_relevance(np.zeros((1, 10, 2)), np.zeros((1, 10, 2)))
    with pytest.raises(ValueError, match=r"3 lead name\(s\) for 2 channel\(s\)"):
        drawing.timeseries_relevance(np.zeros((10, 2)), np.zeros((10, 2)), leads=["I", "II", "III"])
    with pytest.raises(ValueError, match=r"1 axes given for 2 channel\(s\)"):
        drawing.timeseries_relevance(np.zeros((10, 2)), np.zeros((10, 2)), ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="fs"):
        drawing.timeseries_relevance(np.zeros(10), np.zeros(10), fs=0)


# == imports =====================================================================================


def test_shared_spec_does_not_import_matplotlib():
    code = (
        "import sys, shared_spec, shared_spec.heatmaps, shared_spec.drawing; "
        "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if m.startswith('matplotlib'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("package", ["signxai_captum", "signxai_tf"])
def test_visualization_modules_reexport_the_tools(package):
    tree = ast.parse((ROOT / package / "visualization.py").read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert sorted(node.module for node in imports if isinstance(node, ast.ImportFrom)) == [
        "shared_spec.drawing",
        "shared_spec.heatmaps",
    ]
    assert not any(isinstance(node, ast.Import) for node in imports)  # no framework import of its own
    if package == "signxai_captum":  # signxai_tf's would import TensorFlow: the AST check above suffices
        pytest.importorskip("torch")
        import importlib

        from shared_spec import heatmaps

        module = importlib.import_module("signxai_captum.visualization")
        for name in module.__all__:
            source = drawing if name in drawing.__all__ else heatmaps
            assert getattr(module, name) is getattr(source, name)
        assert module.overlay is drawing.overlay and module.aggregate_channels is aggregate_channels
