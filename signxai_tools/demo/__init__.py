"""Demo: explain a small CNN on scikit-learn's 8x8 digits with both frameworks.

The package ships the weights of one small convolutional network
(``digits_cnn.npz``, trained by ``scripts/train_digits_model.py``) and builds it
twice: as a Keras 3 model (channels-last) and as a PyTorch ``nn.Sequential``
(channels-first) with identical logits. :func:`run_demo` explains a few test
digits with a list of methods in each available framework and writes one grid
of heatmaps (PNG by default; the format follows the file extension).

Neither torch, TensorFlow/Keras nor the explanation back ends
(``signxai_captum``, ``signxai_tf``) are imported when this module is imported;
they are imported lazily by the functions that need them (torch before
TensorFlow when both run).
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import io
import logging
import os
import pathlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

import shared_spec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch.nn

__all__ = [
    "DEMO_METHODS",
    "FRAMEWORKS",
    "WEIGHTS_FILE",
    "load_digits_data",
    "split_digits",
    "make_keras_digits_model",
    "load_digits_weights",
    "build_keras_digits_model",
    "build_torch_digits_model",
    "resolve_out_path",
    "run_demo",
    "supported_formats",
]

logger = logging.getLogger(__name__)

#: Methods shown by :func:`run_demo` by default, one column each.
DEMO_METHODS: tuple[str, ...] = (
    "gradient",
    "gradient_x_input",
    "gradient_x_sign",
    "gradient_x_sign_mu_0",
    "guided_backprop",
    "deconvnet",
    "integrated_gradients",
    "smoothgrad",
    "grad_cam",
    "lrp_z",
    "lrp_epsilon_0_1",
    "lrpsign_epsilon_0_1",
    "lrp_alpha_1_beta_0",
    "lrp_sequential_composite_a",
    "lrpsign_sequential_composite_a",
)

#: File name written into a directory given as ``out_path``.
DEFAULT_FILE_NAME = "signxai-demo.png"

#: Framework names accepted by :func:`run_demo`.
FRAMEWORKS: tuple[str, ...] = ("torch", "tf")

#: File name of the shipped weights inside this package.
WEIGHTS_FILE = "digits_cnn.npz"

#: Names of the weight arrays in :data:`WEIGHTS_FILE`, in Keras layout.
WEIGHT_NAMES: tuple[str, ...] = (
    "conv1_kernel",
    "conv1_bias",
    "conv2_kernel",
    "conv2_bias",
    "dense1_kernel",
    "dense1_bias",
    "dense2_kernel",
    "dense2_bias",
)

# Split of the digits data set; scripts/train_digits_model.py uses the same.
TEST_SIZE = 0.25
SPLIT_SEED = 0

# Figure layout: every panel is a square of _PANEL_INCHES at _DPI.
_PANEL_INCHES = 1.5
_DPI = 100
_STOCHASTIC = ("smoothgrad", "vargrad")


# --------------------------------------------------------------------------
# data


def _preprocess(images: np.ndarray) -> np.ndarray:
    """Scale raw digit images (0..16) to [-1, 1] and add a channel axis.

    Parameters
    ----------
    images : numpy.ndarray
        Raw images of shape ``(N, 8, 8)`` with values in ``[0, 16]`` (any
        numeric dtype).

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(N, 8, 8, 1)`` (channels-last); the
        background is ``-1``.
    """
    x = np.asarray(images, dtype=np.float32) / 16.0 * 2.0 - 1.0
    return x[..., np.newaxis].astype(np.float32)


def split_digits(
    raw: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load and split scikit-learn's digits the way the demo model was trained.

    Needs scikit-learn (used by the training script and the tests only).

    Parameters
    ----------
    raw : bool, default False
        Return the raw ``uint8`` images ``(N, 8, 8)`` with values ``0..16``
        instead of the preprocessed ones.

    Returns
    -------
    x_train, x_test : numpy.ndarray
        ``float32`` images of shape ``(N, 8, 8, 1)`` in ``[-1, 1]`` (or raw,
        see ``raw``).
    y_train, y_test : numpy.ndarray
        ``int64`` labels ``0..9``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.asarray(digits.images).astype(np.uint8)
    y = np.asarray(digits.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y
    )
    if not raw:
        x_train, x_test = _preprocess(x_train), _preprocess(x_test)
    return x_train, x_test, y_train, y_test


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """Return the test split of the 8x8 digits used by the demo.

    The split is read from the shipped weights file (the training script
    stores it there), so no scikit-learn is needed at run time; it equals the
    test part of :func:`split_digits`.

    Returns
    -------
    x_test : numpy.ndarray
        ``float32`` images of shape ``(N, 8, 8, 1)`` (channels-last), values in
        ``[-1, 1]`` with background ``-1``.
    y_test : numpy.ndarray
        ``int64`` labels of shape ``(N,)``.
    """
    weights = load_digits_weights()
    x_test = _preprocess(weights["test_images"])
    y_test = np.asarray(weights["test_labels"], dtype=np.int64)
    return x_test, y_test


# --------------------------------------------------------------------------
# models


def load_digits_weights() -> dict[str, np.ndarray]:
    """Read the shipped weights of the digits CNN.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays named in :data:`WEIGHT_NAMES` (Keras layout, ``float32``),
        ``test_accuracy`` (a 0-d array) as recorded by the training script, and
        the test split: ``test_images`` (raw ``uint8`` values ``0..16``, shape
        ``(N, 8, 8)``) and ``test_labels`` (``uint8``, shape ``(N,)``).

    Raises
    ------
    FileNotFoundError
        If the weights file is missing from the package.
    """
    resource = importlib.resources.files(__name__).joinpath(WEIGHTS_FILE)
    if not resource.is_file():
        raise FileNotFoundError(
            f"{WEIGHTS_FILE} is missing from {__name__}; regenerate it with "
            "`python scripts/train_digits_model.py`"
        )
    data = resource.read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        weights = {name: np.array(npz[name]) for name in npz.files}
    required = (*WEIGHT_NAMES, "test_accuracy", "test_images", "test_labels")
    missing = [name for name in required if name not in weights]
    if missing:
        raise KeyError(f"{WEIGHTS_FILE} lacks the arrays {missing}")
    return weights


def make_keras_digits_model() -> Any:
    """Build the (untrained) Keras digits CNN.

    Returns
    -------
    keras.Sequential
        Channels-last model ``(N, 8, 8, 1) -> (N, 10)`` logits with the layers
        ``conv1, pool1, conv2, flatten, dense1, dense2``.
    """
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="digits"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="relu", name="dense1"),
            keras.layers.Dense(10, name="dense2"),
        ],
        name="digits_cnn",
    )


def build_keras_digits_model() -> Any:
    """Build the Keras digits CNN with the shipped weights.

    Returns
    -------
    keras.Sequential
        Channels-last model mapping ``(N, 8, 8, 1)`` images in ``[-1, 1]`` to
        ``(N, 10)`` logits (no softmax).
    """
    weights = load_digits_weights()
    model = make_keras_digits_model()
    for layer in ("conv1", "conv2", "dense1", "dense2"):
        model.get_layer(layer).set_weights(
            [weights[f"{layer}_kernel"], weights[f"{layer}_bias"]]
        )
    return model


@functools.lru_cache(maxsize=None)
def _channels_last_flatten_class() -> type:
    """Return the flatten module class (created lazily so torch stays optional)."""
    from torch import nn

    class ChannelsLastFlatten(nn.Flatten):
        """Flatten ``(N, C, H, W)`` in Keras order: permute to NHWC first.

        With this module a Keras ``Flatten -> Dense`` kernel applies to a
        channels-first PyTorch feature map unchanged.
        """

        def __init__(self) -> None:
            super().__init__(start_dim=1)

        def forward(self, x: Any) -> Any:  # noqa: D102
            if x.dim() == 4:
                x = x.permute(0, 2, 3, 1)
            return x.flatten(1)

    return ChannelsLastFlatten


def build_torch_digits_model() -> "torch.nn.Sequential":
    """Build the PyTorch digits CNN with the shipped weights.

    Returns
    -------
    torch.nn.Sequential
        Model in eval mode mapping channels-first ``(N, 1, 8, 8)`` images in
        ``[-1, 1]`` to ``(N, 10)`` logits; it computes the same function as
        :func:`build_keras_digits_model`.
    """
    import torch
    from torch import nn

    weights = load_digits_weights()
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        _channels_last_flatten_class()(),
        nn.Linear(256, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )

    def tensor(array: np.ndarray) -> "torch.Tensor":
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    with torch.no_grad():
        for index, name in ((0, "conv1"), (3, "conv2")):
            # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)
            model[index].weight.copy_(tensor(weights[f"{name}_kernel"].transpose(3, 2, 0, 1)))
            model[index].bias.copy_(tensor(weights[f"{name}_bias"]))
        for index, name in ((6, "dense1"), (8, "dense2")):
            # Keras (in, out) -> torch (out, in)
            model[index].weight.copy_(tensor(weights[f"{name}_kernel"].T))
            model[index].bias.copy_(tensor(weights[f"{name}_bias"]))
    return model.eval()


# --------------------------------------------------------------------------
# demo


def _available_frameworks(frameworks: Iterable[str]) -> list[str]:
    """Keep the requested frameworks whose dependencies are installed."""
    requirements = {"torch": ("torch",), "tf": ("tensorflow", "keras")}
    available = []
    for framework in frameworks:
        missing = [m for m in requirements[framework] if importlib.util.find_spec(m) is None]
        if missing:
            logger.warning(
                "Skipping framework %r: %s not installed", framework, ", ".join(missing)
            )
        else:
            available.append(framework)
    return available


def _select_samples(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Indices of ``n_samples`` test digits, distinct classes first."""
    chosen: list[int] = []
    for label in range(10):
        if len(chosen) == n_samples:
            break
        hits = np.flatnonzero(y == label)
        if hits.size:
            chosen.append(int(hits[0]))
    taken = set(chosen)
    rest = [i for i in range(len(y)) if i not in taken]
    chosen.extend(rest[: n_samples - len(chosen)])
    return np.asarray(chosen, dtype=np.int64)


def _explain_all(
    framework: str, x: np.ndarray, methods: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Predict and explain ``x`` (channels-last) in one framework.

    Returns
    -------
    predictions : numpy.ndarray
        Predicted labels, shape ``(N,)``.
    heatmaps : dict of str to numpy.ndarray
        ``(N, 8, 8)`` heatmaps of the methods that are implemented.
    """
    if framework == "torch":
        import torch

        from signxai_captum import explain

        model = build_torch_digits_model()
        batch = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        with torch.no_grad():
            logits = model(torch.from_numpy(batch)).numpy()
        channel_axis = 1
    else:
        import keras

        from signxai_tf import explain

        model = build_keras_digits_model()
        batch = x
        logits = keras.ops.convert_to_numpy(model(batch, training=False))
        channel_axis = 3

    heatmaps: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    for method in methods:
        try:
            # stochastic methods get a fixed seed: the same noise in both frameworks, run after run
            params = {"seed": 0} if shared_spec.parse(method).family in _STOCHASTIC else {}
            relevance = explain(model, batch.copy(), method, target=None, **params)
        except NotImplementedError as error:
            logger.debug("%s: %s not implemented: %s", framework, method, error)
            skipped.append(method)
            continue
        relevance = np.asarray(relevance)
        if relevance.shape != batch.shape:
            raise ValueError(
                f"{framework} explain({method!r}) returned shape {relevance.shape}, "
                f"expected {batch.shape}"
            )
        heatmaps[method] = relevance.sum(axis=channel_axis).astype(np.float64)
    if skipped:
        logger.info(
            "%s: skipped methods not implemented yet: %s", framework, ", ".join(skipped)
        )
    return np.argmax(logits, axis=1), heatmaps


def _wrap_title(name: str, width: int = 16) -> str:
    """Break a method name at underscores into lines of about ``width`` chars."""
    lines: list[str] = []
    current = ""
    for part in name.split("_"):
        candidate = f"{current}_{part}" if current else part
        if current and len(candidate) > width:
            lines.append(current + "_")
            current = part
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)


def supported_formats() -> dict[str, str]:
    """The figure formats matplotlib can write here: extension -> description.

    Returns
    -------
    dict of str to str
        E.g. ``{"png": "Portable Network Graphics", "pdf": ..., "svg": ...}``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return dict(FigureCanvasAgg.get_supported_filetypes())


def resolve_out_path(out_path: str | os.PathLike[str]) -> tuple[pathlib.Path, str]:
    """Where :func:`run_demo` writes its figure, and in which format.

    Parameters
    ----------
    out_path : str or path-like
        A file name, whose extension chooses the format (``.png``, ``.pdf``, ``.svg``, ... any
        format of :func:`supported_formats`, case-insensitive); without an extension ``.png`` is
        added. An existing directory, or a path ending with a path separator (a directory that is
        created), gets :data:`DEFAULT_FILE_NAME` inside it.

    Returns
    -------
    (pathlib.Path, str)
        The absolute file path and the matplotlib format name (``"png"``, ``"pdf"``, ...).

    Raises
    ------
    ValueError
        If ``out_path`` is empty or its extension is not a format matplotlib can write (the
        message lists the supported extensions).
    """
    text = os.fspath(out_path)
    if not text:
        raise ValueError(f"out_path must name a file or a directory, got {text!r}")
    separators = tuple(sep for sep in (os.sep, os.altsep, "/") if sep)
    path = pathlib.Path(text).expanduser()
    if text.endswith(separators) or path.is_dir():
        path = path / DEFAULT_FILE_NAME
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    extension = path.suffix[1:].lower()
    formats = supported_formats()
    if extension not in formats:
        raise ValueError(
            f"cannot write {str(path)!r}: {path.suffix!r} is not a figure format matplotlib can write; "
            f"use one of the extensions {', '.join('.' + e for e in sorted(formats))} "
            "(the format follows the extension), or a directory"
        )
    return path.resolve(), extension


def run_demo(
    out_path: str | pathlib.Path = "signxai-demo.png",
    n_samples: int = 4,
    frameworks: Sequence[str] | str = ("torch", "tf"),
    methods: Sequence[str] | None = None,
) -> pathlib.Path:
    """Explain a few test digits and write one grid of heatmaps (PNG by default).

    One row per (framework, digit): the first column shows the input digit
    (title: true and predicted label), then one column per method with the
    heatmap in a diverging colour map, symmetric around 0 (scaled by the map's
    maximum absolute value). Methods that raise :class:`NotImplementedError`
    in every framework are left out (logged); a method implemented in only one
    framework shows ``n/a`` in the other framework's rows.

    Parameters
    ----------
    out_path : str or pathlib.Path, default "signxai-demo.png"
        The file to write; its extension chooses the format (``.png``, ``.pdf``, ``.svg``, ...;
        none: ``.png`` is added). An existing directory, or a path ending with a path separator,
        gets ``signxai-demo.png`` inside it (see :func:`resolve_out_path`). Parent directories
        are created.
    n_samples : int, default 4
        Number of test digits (distinct classes first).
    frameworks : sequence of {"torch", "tf"} or str, default ("torch", "tf")
        Frameworks to run; ``"both"`` means both. Frameworks that are not
        installed are skipped with a logged warning.
    methods : sequence of str, optional
        Method names; default :data:`DEMO_METHODS`.

    Returns
    -------
    pathlib.Path
        Absolute path of the written figure.

    Raises
    ------
    ValueError
        On an unknown framework name, an empty method list, ``n_samples < 1`` or an ``out_path``
        extension matplotlib cannot write (checked before anything is computed).
    RuntimeError
        If none of the requested frameworks is installed, or no requested
        method is implemented in any of them.
    """
    if isinstance(frameworks, str):
        frameworks = FRAMEWORKS if frameworks == "both" else (frameworks,)
    frameworks = list(dict.fromkeys(frameworks))
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown or not frameworks:
        raise ValueError(f"frameworks must be a non-empty subset of {FRAMEWORKS}, got {unknown}")
    methods = list(dict.fromkeys(DEMO_METHODS if methods is None else methods))
    if not methods:
        raise ValueError("methods must not be empty")
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    path, figure_format = resolve_out_path(out_path)

    available = _available_frameworks(frameworks)
    if not available:
        raise RuntimeError(
            f"None of the requested frameworks {frameworks} is installed; install "
            "torch (for signxai_captum) and/or tensorflow (for signxai_tf)"
        )

    if "torch" in available:
        import torch  # noqa: F401  - torch before TensorFlow in one process, whatever the row order

    x_test, y_test = load_digits_data()
    if n_samples > len(y_test):
        raise ValueError(f"n_samples must be <= {len(y_test)}, got {n_samples}")
    index = _select_samples(y_test, n_samples)
    x, y = x_test[index], y_test[index]

    results = {fw: _explain_all(fw, x, methods) for fw in available}
    columns = [m for m in methods if any(m in maps for _, maps in results.values())]
    dropped = [m for m in methods if m not in columns]
    if dropped:
        logger.info("Methods left out of the figure (not implemented): %s", ", ".join(dropped))
    if not columns:
        raise RuntimeError(
            f"None of the methods {methods} is implemented in {available}"
        )

    _plot_grid(path, figure_format, x, y, results, columns)
    logger.debug("Wrote %s", path)
    return path


def _plot_grid(
    path: pathlib.Path,
    figure_format: str,
    x: np.ndarray,
    y: np.ndarray,
    results: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
    columns: Sequence[str],
) -> pathlib.Path:
    """Draw the inputs and heatmaps into one figure file at ``path`` with :func:`shared_spec.drawing.method_grid`.

    Rows: (framework, digit), titled with the true and predicted label; every panel scaled to its
    own max |R| (written under it, and said at the bottom); an all-zero map (Grad-CAM of a digit
    whose class evidence is negative at the chosen layer) is drawn white with the note "all
    relevance 0"; a method one framework does not implement is left blank ("no finite relevance").
    """
    import matplotlib.pyplot as plt

    from shared_spec.drawing import method_grid

    images, titles = [], []
    maps: dict[str, list[np.ndarray]] = {m: [] for m in columns}
    for framework, (predictions, heatmaps) in results.items():
        for k in range(len(y)):
            images.append(x[k, :, :, 0])
            titles.append(f"{framework}\ntrue {y[k]} / pred {predictions[k]}")
            for method in columns:
                maps[method].append(heatmaps[method][k] if method in heatmaps else np.full(x.shape[1:3], np.nan))
    figure = method_grid(
        images,
        {m: np.stack(v) for m, v in maps.items()},
        methods=list(columns),
        row_titles=titles,
        overlay=False,
        panel_size=_PANEL_INCHES,
        title="signxai demo: 8x8 digits, relevance of the predicted class (red for, blue against)",
    )
    for ax in figure.axes:
        if ax.get_title() and ax.get_label() != "":
            ax.set_title(_wrap_title(ax.get_title()), fontsize=7)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format=figure_format, dpi=_DPI)
    finally:
        plt.close(figure)
    return path
