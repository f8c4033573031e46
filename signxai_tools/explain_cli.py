"""``signxai explain``: explain a saved model's decisions on image, array and CSV files.

::

    signxai explain MODEL INPUT... --method NAME [--method NAME ...] [--target N] [--out DIR]

MODEL
    A Keras model file (``.keras``, ``.h5`` / ``.hdf5``; loaded with
    ``keras.models.load_model(path, compile=False)``) or a standalone PyTorch file: TorchScript
    (``torch.jit.script(model).save(path)`` / ``torch.jit.trace``; ``.pt``, ``.pth``, ...) or a
    ``torch.export`` archive (``.pt2``). The format is read from the file's contents (a TorchScript
    zip holds ``code/``, a ``torch.export`` archive ``archive_format``), the extension only has to
    agree with it.
INPUT
    Image files (``.png``, ``.jpg``, ...; read with Pillow), ``.npy`` arrays (one sample, or a
    batch with the samples along axis 0, in the model's layout, used as they are) and CSV time
    series (numeric columns are channels, rows are time steps, a header row is allowed; used as
    they are).

For every input and method a PNG (the map over the image, or the series coloured by its
relevance) and the raw map (``.npy``, the model's layout, the sample's shape) are written to
``--out DIR`` as ``<input stem>__<method>.png`` / ``.npy``.

What works with which model file (measured with torch 2.14)
    Keras files: every method. TorchScript and ``torch.export`` files keep the computation but
    not the ``nn.Module`` layers (``nn.Conv2d``, ``nn.ReLU``, ...) that LRP, Grad-CAM, guided
    backprop and deconvnet attach their rules and hooks to (a ScriptModule refuses hooks; an
    exported program's ``.module()`` is one flat graph), so with these files only the gradient
    family runs: ``gradient``, ``integrated_gradients``, ``smoothgrad`` and ``vargrad`` and their
    ``_x_input`` / ``_x_sign`` variants; they give the same maps as on the original module.
    Other methods are refused before anything is loaded. A ``torch.export`` archive must have a
    dynamic batch axis (the methods run batches of their own size).

Validation (files, names, options) happens before any framework is imported; every mistake
ends with one line ``signxai explain: error: ...`` and exit status 2 (usage: wrong arguments,
missing files, unknown formats or method names) or 1 (the files could not be read or the model
could not run on them), never a traceback.

This module imports no framework at import time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import logging
import os
import pathlib
import re
import sys
import warnings
import zipfile
from typing import Any, Iterator, Sequence

import numpy as np

__all__ = [
    "DEFAULT_OUT",
    "GRAPH_ONLY_FAMILIES",
    "ExplainCLIError",
    "add_explain_parser",
    "positive_int",
    "run_explain",
]

#: Directory the files are written to by default.
DEFAULT_OUT = "signxai-explain"

#: Method families that need no nn.Module layers (they run on TorchScript / torch.export files).
GRAPH_ONLY_FAMILIES: frozenset[str] = frozenset({"gradient", "integrated_gradients", "smoothgrad", "vargrad"})

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
ARRAY_SUFFIXES = (".npy",)
SERIES_SUFFIXES = (".csv",)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
EXPORT_SUFFIXES = (".pt2",)
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ptl", ".jit", ".torchscript", ".zip")

#: More input x method pairs than this show a progress bar.
PROGRESS_THRESHOLD = 4

#: Size (inches) and resolution of the image overlays: 500 x 400 pixels.
IMAGE_FIGSIZE = (5.0, 4.0)
DPI = 100
#: Width of a time-series figure and height per channel (plus SERIES_EXTRA_INCHES), in inches.
SERIES_WIDTH = 8.0
SERIES_INCHES_PER_CHANNEL = 1.5
SERIES_EXTRA_INCHES = 1.0

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_PROG = "signxai explain"
_GRAPH_KINDS = ("torchscript", "export")
_KIND_NAMES = {"keras": "Keras", "torchscript": "TorchScript", "export": "torch.export"}
_FRAMEWORK_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "torch")


class ExplainCLIError(Exception):
    """A mistake reported as ``signxai explain: error: <message>`` with exit ``status``."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _usage(message: str) -> ExplainCLIError:
    return ExplainCLIError(message, 2)


def _runtime(message: str) -> ExplainCLIError:
    return ExplainCLIError(message, 1)


# --------------------------------------------------------------------------
# argument parsing


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """Parse an integer >= 1 (an argparse ``type``)."""
    value = _nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)"
_SCALE = re.compile(rf"^\s*({_NUMBER})\s*(?:-|:|,|\.\.)\s*({_NUMBER})\s*$")


def parse_scale(text: str) -> tuple[float, float]:
    """Parse a pixel scale ``"LOW-HIGH"`` (``"0-1"``, ``"0-255"``, ``"-1-1"``; also ``LOW:HIGH``).

    Pixel values 0..255 are mapped linearly onto ``[LOW, HIGH]``.
    """
    match = _SCALE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH such as 0-1, 0-255 or -1-1, got {text!r}")
    low, high = float(match.group(1)), float(match.group(2))
    if low == high:
        raise argparse.ArgumentTypeError(f"LOW and HIGH must differ, got {text!r}")
    return low, high


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def add_explain_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``explain`` subcommand to ``subparsers`` (of ``argparse``) and return its parser."""
    parser = subparsers.add_parser(
        "explain",
        help="explain your own model (Keras, TorchScript, torch.export) on image, .npy or CSV files",
        description="Explain a saved model's decision on image files, .npy arrays or CSV time series "
        "with one or more methods; write one PNG and one .npy map per input and method.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "models: .keras/.h5/.hdf5 (Keras, every method); TorchScript (.pt, .pth, ...) and\n"
            "torch.export (.pt2, with a dynamic batch axis): the gradient family only (gradient,\n"
            "integrated_gradients, smoothgrad, vargrad and their _x_input/_x_sign variants).\n"
            "inputs: images (preprocessed as the options say), .npy (one sample or a batch, in the\n"
            "model's layout, used as is), CSV (columns = channels, rows = time, used as is).\n"
            "examples:\n"
            "  signxai explain model.keras cat.png dog.jpg -m gradient_x_sign -m lrp_epsilon_0_1\n"
            "  signxai explain net.pt2 cat.png --size 224 224 --mean 0.485 0.456 0.406 \\\n"
            "      --std 0.229 0.224 0.225 -m gradient -m integrated_gradients\n"
            "  signxai explain ecg.keras record.csv -m lrpsign_epsilon_0_1 --target 1"
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="the model file")
    parser.add_argument("inputs", metavar="INPUT", nargs="+", help="image, .npy or .csv files")
    parser.add_argument(
        "-m", "--method", dest="methods", action="append", required=True, metavar="NAME",
        help="method name (repeat, or separate with commas), e.g. gradient_x_sign, lrp_epsilon_0_1",
    )
    parser.add_argument(
        "--target", type=_nonnegative_int, default=None, metavar="N",
        help="output (class) index to explain for every input (default: the predicted class of each)",
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help="directory to write to (default: ./%(default)s/)",
    )
    pre = parser.add_argument_group("image preprocessing (image files only)")
    pre.add_argument(
        "--size", type=positive_int, nargs=2, default=None, metavar=("H", "W"),
        help="resize to H x W pixels (default: the model's input size when the file tells it, "
        "else the image's own size)",
    )
    pre.add_argument(
        "--scale", type=parse_scale, default=None, metavar="LOW-HIGH",
        help="map pixel values 0..255 onto [LOW, HIGH]: 0-1 (default), 0-255, -1-1 (a negative LOW "
        "needs the = form: --scale=-1-1)",
    )
    pre.add_argument(
        "--mean", type=_float, nargs="+", default=None, metavar="M",
        help="subtract per channel (one value, or one per channel) after scaling",
    )
    pre.add_argument(
        "--std", type=_float, nargs="+", default=None, metavar="S",
        help="divide per channel (one value, or one per channel) after subtracting the mean",
    )
    pre.add_argument("--bgr", action="store_true", help="feed the colour channels in BGR order")
    color = pre.add_mutually_exclusive_group()
    color.add_argument(
        "--grayscale", dest="color", action="store_const", const="gray",
        help="one channel (default: follow the model's channel count)",
    )
    color.add_argument("--rgb", dest="color", action="store_const", const="rgb", help="three channels")
    layout = pre.add_mutually_exclusive_group()
    layout.add_argument(
        "--channels-first", dest="layout", action="store_const", const="first",
        help="the model takes (N, C, H, W) (default for PyTorch files)",
    )
    layout.add_argument(
        "--channels-last", dest="layout", action="store_const", const="last",
        help="the model takes (N, H, W, C) (default for Keras files)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.set_defaults(color=None, layout=None)
    return parser


# --------------------------------------------------------------------------
# validation without frameworks


def _one_line(text: Any, limit: int = 600) -> str:
    """``text`` (an error) on one line, without embedded tracebacks, at most ``limit`` characters.

    TorchScript errors carry the script's traceback with the actual error on the last line;
    torch.fx / export errors append "While executing ... Original traceback" sections.
    """
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if any("Traceback of TorchScript" in line for line in lines):
        lines = lines[-1:]
    else:
        for index, line in enumerate(lines):
            if "traceback" in line.lower() or line.startswith("While executing"):
                lines = lines[:index]
                break
    joined = " ".join(" ".join(lines).split())
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def _check_file(path: pathlib.Path, what: str) -> None:
    if not path.exists():
        raise _usage(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise _usage(f"{what} {str(path)!r} is not a file")
    if not os.access(path, os.R_OK):
        raise _usage(f"{what} {str(path)!r} is not readable")


def detect_model_kind(path: pathlib.Path) -> str:
    """Tell the model file's format from its contents and extension, importing no framework.

    Returns
    -------
    str
        ``"keras"``, ``"torchscript"`` or ``"export"``.

    Raises
    ------
    ExplainCLIError
        For a file of no supported format, with what it looks like and how to save a model
        that works.
    """
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(8)
    is_hdf5 = head.startswith(_HDF5_SIGNATURE)
    names: list[str] = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            raise _usage(f"model file {str(path)!r} is a damaged zip archive: {error}") from None
    base = {name.rsplit("/", 1)[-1] for name in names}
    saving = (
        "save a Keras model with model.save('model.keras'), a PyTorch model with "
        "torch.jit.script(model).save('model.pt') or "
        "torch.export.save(torch.export.export(model, (x,)), 'model.pt2')"
    )
    if suffix == ".keras":
        if not names or "config.json" not in base:
            raise _usage(f"model file {str(path)!r} is not a Keras archive (a .keras file is a zip with config.json)")
        return "keras"
    if suffix in (".h5", ".hdf5"):
        if not is_hdf5:
            raise _usage(f"model file {str(path)!r} is not an HDF5 file (a Keras .h5 model is)")
        return "keras"
    if names:
        if "archive_format" in base or any("/models/" in name or name.startswith("models/") for name in names):
            kind = "export"
        elif any("/code/" in name or name.startswith("code/") for name in names) or "constants.pkl" in base:
            kind = "torchscript"
        elif "config.json" in base and any(name.endswith(".weights.h5") for name in base):
            raise _usage(f"model file {str(path)!r} looks like a Keras archive: name it *.keras")
        elif "data.pkl" in base:
            raise _usage(
                f"model file {str(path)!r} is a torch.save() file (a state_dict or a pickled module), not a "
                f"standalone model: {saving}"
            )
        else:
            raise _usage(f"unknown model format of {str(path)!r} (a zip archive of no known kind): {saving}")
        if suffix and suffix not in (*EXPORT_SUFFIXES, *TORCHSCRIPT_SUFFIXES):
            raise _usage(
                f"model file {str(path)!r} holds a {_KIND_NAMES[kind]} model but has the extension {suffix!r}; "
                f"use {'.pt2' if kind == 'export' else '.pt'}"
            )
        return kind
    if is_hdf5:
        raise _usage(f"model file {str(path)!r} is an HDF5 file: name it *.h5 if it is a Keras model")
    raise _usage(
        f"unknown model format of {str(path)!r}: expected a Keras file ({', '.join(KERAS_SUFFIXES)}), "
        f"TorchScript ({', '.join(TORCHSCRIPT_SUFFIXES)}) or torch.export ({', '.join(EXPORT_SUFFIXES)}); {saving}"
    )


@dataclasses.dataclass(frozen=True)
class _Method:
    name: str  # as given (used in file names)
    family: str


def _parse_methods(texts: Sequence[str], kind: str) -> list[_Method]:
    import shared_spec

    names: list[str] = []
    for text in texts:
        for name in text.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    if not names:
        raise _usage("no method name given (e.g. --method gradient_x_sign)")
    methods = []
    for name in names:
        try:
            spec = shared_spec.parse(name)
        except ValueError as error:  # MethodNameError, MethodParameterError
            raise _usage(_one_line(error)) from None
        if kind in _GRAPH_KINDS and spec.family not in GRAPH_ONLY_FAMILIES:
            raise _usage(
                f"method {name!r} ({spec.family}) needs the model's nn.Module with its layers (nn.Conv2d, "
                f"nn.Linear, nn.ReLU, ...), which a {_KIND_NAMES[kind]} file does not keep: use the gradient family "
                "(gradient, gradient_x_input, gradient_x_sign, integrated_gradients, smoothgrad, vargrad and "
                "their variants), explain the nn.Module from Python with signxai_captum.explain, or save "
                "the model with Keras"
            )
        methods.append(_Method(name, spec.family))
    return methods


@dataclasses.dataclass
class _Input:
    path: pathlib.Path
    kind: str  # "image", "array" or "series"
    data: Any  # PIL image, numpy array, or (array (T, C), column names)


def _read_image(path: pathlib.Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise _runtime(f"cannot read image {str(path)!r}: {_one_line(error)}") from None


def _read_array(path: pathlib.Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _runtime(f"cannot read {str(path)!r} as a .npy array: {_one_line(error)}") from None
    if not isinstance(array, np.ndarray):
        raise _runtime(f"{str(path)!r} holds several arrays (.npz); give one .npy array")
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise _runtime(f"{str(path)!r} holds a {array.dtype} array; a numeric array is needed")
    if array.ndim == 0 or array.size == 0:
        raise _runtime(f"{str(path)!r} holds an array of shape {array.shape}; one sample or a batch is needed")
    return array.astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: pathlib.Path) -> tuple[np.ndarray, list[str] | None]:
    """A CSV time series as ``(T, C)`` float32 (numeric columns) and the column names (or None)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle, dialect) if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise _runtime(f"cannot read {str(path)!r} as CSV: {_one_line(error)}") from None
    if not rows:
        raise _runtime(f"{str(path)!r} is empty; a time series needs rows (time) and columns (channels)")
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = rows[0], rows[1:]
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise _runtime(f"{str(path)!r}: the rows have different numbers of cells ({sorted(widths)})")
    if len(rows) < 2:
        raise _runtime(f"{str(path)!r} has {len(rows)} data row(s); a time series needs at least 2")
    width = widths.pop()
    numeric = [c for c in range(width) if all(_is_number(row[c]) for row in rows)]
    if not numeric:
        raise _runtime(f"{str(path)!r} has no numeric column")
    values = np.array([[float(row[c]) for c in numeric] for row in rows], dtype=np.float32)
    names = None
    if header is not None and len(header) == width:
        names = [header[c] or f"channel {i}" for i, c in enumerate(numeric)]
    return values, names


def _read_inputs(paths: Sequence[str]) -> list[_Input]:
    items = []
    for text in paths:
        path = pathlib.Path(text)
        _check_file(path, "input file")
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            items.append(_Input(path, "image", None))
        elif suffix in ARRAY_SUFFIXES:
            items.append(_Input(path, "array", None))
        elif suffix in SERIES_SUFFIXES:
            items.append(_Input(path, "series", None))
        else:
            raise _usage(
                f"input file {str(path)!r} has an unknown extension {suffix!r}: expected an image "
                f"({', '.join(IMAGE_SUFFIXES)}), a .npy array or a .csv time series"
            )
    for item in items:  # all names first (usage errors), then the contents
        if item.kind == "image":
            item.data = _read_image(item.path)
        elif item.kind == "array":
            item.data = _read_array(item.path)
        else:
            item.data = _read_csv(item.path)
    return items


# --------------------------------------------------------------------------
# models


@dataclasses.dataclass
class _Model:
    kind: str
    framework: str  # "tf" or "torch"
    model: Any
    layout: str  # "first" or "last"
    input_shape: tuple[int | None, ...] | None  # without the batch axis; None: unknown
    layout_source: str

    def describe(self) -> str:
        shape = "unknown" if self.input_shape is None else "(N, " + ", ".join("?" if d is None else str(d) for d in self.input_shape) + ")"
        return f"{_KIND_NAMES[self.kind]} model, input {shape}"


@contextlib.contextmanager
def quiet_frameworks() -> Iterator[None]:
    """Keep the frameworks' start-up logs and warnings out of the command's output.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` and ``TF_ENABLE_ONEDNN_OPTS=0`` (unless set; oneDNN also
    prints a start-up line once per TensorFlow library), raises the framework loggers to ERROR
    and ignores the warnings issued from TensorFlow, Keras, absl and torch modules while the
    block runs (the warning filters are restored afterwards).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    for name in _FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(tensorflow|keras|absl|torch|h5py)(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit.*deprecated")
        yield


def _keras_shape(model: Any) -> tuple[int | None, ...] | None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        raise _runtime(f"the Keras model has {len(inputs or [])} inputs; signxai explain needs a model with one input")
    shape = tuple(inputs[0].shape)[1:]
    return tuple(None if d is None else int(d) for d in shape)


def _load_keras(path: pathlib.Path, layout: str | None) -> _Model:
    try:
        import keras
    except ImportError as error:
        raise _runtime(f"loading {str(path)!r} needs Keras 3 and TensorFlow: pip install 'signxai-captum[tf]' ({error})") from None
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - any loader failure is reported in one line
        raise _runtime(f"cannot load the Keras model {str(path)!r}: {_error_text(error)}") from None
    if len(getattr(model, "outputs", None) or [None]) != 1:
        raise _runtime("the Keras model has several outputs; signxai explain needs a model with one output")
    return _Model(
        "keras", "tf", model, layout or "last", _keras_shape(model),
        "--channels-" + layout if layout else "the Keras default",
    )



def _graph_only(module: Any) -> Any:
    """Wrap an exported program's module so that ``explain`` may call ``eval()`` on the wrapper.

    ``torch.export``'s ``ExportedProgram.module()`` refuses ``eval()`` / ``train()``; the wrapper
    keeps it out of its module tree (so they are not passed on) and only calls it.
    """
    from torch import nn

    class GraphOnlyModule(nn.Module):
        """Calls a graph module that is not registered as a submodule."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            object.__setattr__(self, "inner", inner)

        def forward(self, x: Any) -> Any:  # noqa: D102
            return self.inner(x)

    return GraphOnlyModule(module)


def _export_input_shape(program: Any, path: pathlib.Path) -> tuple[int | None, ...]:
    user_inputs = list(program.graph_signature.user_inputs)
    if len(user_inputs) != 1:
        raise _runtime(f"the exported program {str(path)!r} takes {len(user_inputs)} inputs; signxai explain needs one")
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name == user_inputs[0]:
            value = node.meta.get("val")
            if value is None or not hasattr(value, "shape"):
                break
            return tuple(int(d) if isinstance(d, int) else None for d in value.shape)
    raise _runtime(f"cannot find the input of the exported program {str(path)!r}")


def _load_torch(path: pathlib.Path, kind: str, layout: str | None) -> _Model:
    try:
        import torch
    except ImportError as error:
        raise _runtime(f"loading {str(path)!r} needs PyTorch: pip install 'signxai-captum[torch]' ({error})") from None
    source = "--channels-" + layout if layout else "the PyTorch default"
    if kind == "torchscript":
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:  # noqa: BLE001
            raise _runtime(f"cannot load {str(path)!r} with torch.jit.load: {_error_text(error)}") from None
        return _Model(kind, "torch", module, layout or "first", None, source)
    try:
        program = torch.export.load(str(path))
    except Exception as error:  # noqa: BLE001
        raise _runtime(f"cannot load {str(path)!r} with torch.export.load: {_error_text(error)}") from None
    shape = _export_input_shape(program, path)
    if not shape or shape[0] is not None:
        raise _runtime(
            f"the exported program {str(path)!r} takes a fixed batch of {shape[0] if shape else '?'} (torch.export "
            "specialised the batch axis), but the methods run batches of their own size; re-export it with a "
            "dynamic batch and an example batch of 2 or more: torch.export.export(model, (x,), "
            "dynamic_shapes=({0: torch.export.Dim('batch')},))"
        )
    return _Model(kind, "torch", _graph_only(program.module()), layout or "first", shape[1:], source)


def _load_model(path: pathlib.Path, kind: str, layout: str | None) -> _Model:
    if kind == "keras":
        return _load_keras(path, layout)
    return _load_torch(path, kind, layout)


# --------------------------------------------------------------------------
# preprocessing


@dataclasses.dataclass
class _Sample:
    name: str  # file stem of the outputs
    label: str  # how the sample is named in messages
    kind: str  # "image", "series" or "other"
    x: np.ndarray  # one sample, in the model's layout
    display: np.ndarray | None  # the image (H, W) / (H, W, 3) or the series (T,) / (T, C)
    leads: list[str] | None = None


@dataclasses.dataclass
class _ImageSettings:
    size: tuple[int, int] | None
    size_source: str
    scale: tuple[float, float]
    scale_source: str
    gray: bool
    color_source: str
    mean: np.ndarray
    std: np.ndarray
    bgr: bool


def _format_number(value: float) -> str:
    return f"{value:g}"


def _shape_text(shape: Sequence[int | None]) -> str:
    return "(N, " + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _image_settings(args: argparse.Namespace, model: _Model, first_image: str) -> _ImageSettings:
    shape = model.input_shape
    channels = height = width = None
    if shape is not None:
        if len(shape) != 3:
            raise _runtime(
                f"the model takes input {_shape_text(shape)}, not images (N, H, W, C) / (N, C, H, W): "
                f"image file {first_image!r} cannot be fed to it"
            )
        if model.layout == "last":
            height, width, channels = shape
        else:
            channels, height, width = shape
    if args.color is not None:
        gray = args.color == "gray"
        color_source = "--grayscale" if gray else "--rgb"
    elif channels in (1, 3):
        gray = channels == 1
        color_source = f"the model takes {channels} channel{'s' if channels == 3 else ''}"
    elif channels is None:
        gray = False
        color_source = "the model's channel count is unknown; --grayscale gives one channel"
    else:
        raise _runtime(
            f"the model takes {channels} channels (input {_shape_text(shape)}, channels {model.layout}: "
            f"{model.layout_source}); image files give 1 (--grayscale) or 3 (--rgb): give the input as a .npy array"
        )
    if channels is not None and channels != (1 if gray else 3):
        raise _runtime(
            f"shape mismatch: {color_source} gives {1 if gray else 3} channel(s) but the model takes {channels} "
            f"(input {_shape_text(shape)})"
        )
    if args.size is not None:
        size, size_source = (args.size[0], args.size[1]), "--size"
    elif height is not None and width is not None:
        size, size_source = (height, width), "the model's input size"
    else:
        size = None
        size_source = (
            "each image's own size: the model's input size is unknown; --size H W resizes"
            if shape is None
            else "each image's own size: the model takes any size; --size H W resizes"
        )
    count = 1 if gray else 3

    def per_channel(values: list[float] | None, default: float, option: str) -> np.ndarray:
        if values is None:
            return np.full(count, default, dtype=np.float32)
        if len(values) not in (1, count):
            raise _usage(f"{option} takes 1 or {count} value(s) for {count}-channel images, got {len(values)}")
        return np.broadcast_to(np.asarray(values, dtype=np.float32), (count,)).copy()

    mean = per_channel(args.mean, 0.0, "--mean")
    std = per_channel(args.std, 1.0, "--std")
    scale = args.scale if args.scale is not None else (0.0, 1.0)
    return _ImageSettings(
        size, size_source, scale, "--scale" if args.scale is not None else "default", gray, color_source,
        mean, std, bool(args.bgr),
    )


def describe_settings(settings: _ImageSettings, model: _Model) -> str:
    """One line: the image preprocessing in effect and where each setting comes from."""
    size = "as is" if settings.size is None else f"{settings.size[0]}x{settings.size[1]}"
    low, high = settings.scale

    def values(array: np.ndarray) -> str:
        return " ".join(_format_number(float(v)) for v in array)

    return (
        f"image preprocessing: size {size} ({settings.size_source}); "
        f"scale {_format_number(low)}-{_format_number(high)} ({settings.scale_source}); "
        f"mean {values(settings.mean)}; std {values(settings.std)}; "
        f"{'grayscale' if settings.gray else 'RGB'} ({settings.color_source})"
        f"{'; BGR order' if settings.bgr and not settings.gray else ''}; "
        f"channels {model.layout} ({model.layout_source})"
    )


def preprocess_image(image: Any, settings: _ImageSettings, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """One image file as a model input and as the picture to draw on.

    Steps: to grayscale or RGB (Pillow ``convert``), resize (bilinear, Pillow), pixels 0..255 onto
    ``[LOW, HIGH]``, BGR order if asked, ``(x - mean) / std`` per channel, channels first if
    the model wants it.

    Returns
    -------
    x : numpy.ndarray
        ``float32`` ``(H, W, C)`` or ``(C, H, W)``.
    display : numpy.ndarray
        The resized picture in [0, 1], ``(H, W)`` or ``(H, W, 3)`` (RGB).
    """
    from PIL import Image

    picture = image.convert("L" if settings.gray else "RGB")
    if settings.size is not None:
        height, width = settings.size
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(picture, dtype=np.float32)
    display = pixels / np.float32(255.0)
    low, high = settings.scale
    x = np.float32(low) + np.float32(high - low) * display
    if settings.gray:
        x = x[..., np.newaxis]
    elif settings.bgr:
        x = x[..., ::-1]
    x = (x - settings.mean) / settings.std
    if layout == "first":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=np.float32), display


def _check_sample_shape(sample_shape: tuple[int, ...], model: _Model, label: str, hint: str = "") -> None:
    shape = model.input_shape
    if shape is None:
        return
    if len(sample_shape) != len(shape) or any(m is not None and m != s for m, s in zip(shape, sample_shape)):
        raise _runtime(
            f"shape mismatch: {label} gives a sample of shape {tuple(sample_shape)} but the model takes "
            f"{_shape_text(shape)}{hint}"
        )


def _display_of_array(sample: np.ndarray, layout: str) -> tuple[str, np.ndarray | None]:
    """How a sample from a .npy file is drawn: ("image", picture) / ("series", (T, C)) / ("other", None)."""
    if sample.ndim == 3:
        picture = sample.transpose(1, 2, 0) if layout == "first" else sample
        if picture.shape[-1] == 1:
            picture = picture[..., 0]
        elif picture.shape[-1] != 3:
            picture = picture.mean(axis=-1)
        return "image", picture
    if sample.ndim == 2:
        return "series", (sample.T if layout == "first" else sample)
    if sample.ndim == 1:
        return "series", sample
    return "other", None


def _output_names(items: Sequence[_Input]) -> list[str]:
    stems = [item.path.stem for item in items]
    names = []
    for item, stem in zip(items, stems):
        name = stem if stems.count(stem) == 1 else item.path.name.replace(".", "_")
        base, k = name, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    return names


def _prepare(items: Sequence[_Input], model: _Model, args: argparse.Namespace) -> tuple[list[_Sample], list[str]]:
    """The samples of all inputs (model layout) and the lines that describe what was done."""
    notes: list[str] = []
    samples: list[_Sample] = []
    images = [item for item in items if item.kind == "image"]
    settings = None
    if images:
        settings = _image_settings(args, model, str(images[0].path))
        notes.append(describe_settings(settings, model))
    if any(item.kind != "image" for item in items):
        notes.append(
            f".npy and CSV inputs are used as they are (no scaling), in the model's layout (channels {model.layout}, "
            f"{model.layout_source})"
        )
    image_hint = " (--size H W, --grayscale / --rgb and --channels-first / --channels-last change the image's shape)"
    for item, name in zip(items, _output_names(items)):
        label = item.path.name
        if item.kind == "image":
            assert settings is not None
            x, display = preprocess_image(item.data, settings, model.layout)
            _check_sample_shape(x.shape, model, f"image {label!r}", image_hint)
            samples.append(_Sample(name, label, "image", x, display))
        elif item.kind == "series":
            values, leads = item.data
            x = _series_input(values, model, label)
            samples.append(_Sample(name, label, "series", x, values if values.shape[1] > 1 else values[:, 0], leads))
        else:
            array = item.data
            shape = model.input_shape
            if shape is not None:
                if array.ndim == len(shape):
                    batch = array[np.newaxis]
                elif array.ndim == len(shape) + 1:
                    batch = array
                else:
                    raise _runtime(
                        f"shape mismatch: {label!r} holds an array of shape {array.shape} but the model takes "
                        f"{_shape_text(shape)}: give one sample {tuple('?' if d is None else d for d in shape)} or a batch"
                    )
            else:
                batch = array if array.ndim >= 4 else array[np.newaxis]
            width = len(str(len(batch) - 1))
            for i, sample in enumerate(batch):
                sample_label = label if len(batch) == 1 else f"{label}[{i}]"
                _check_sample_shape(sample.shape, model, repr(sample_label))
                kind, display = _display_of_array(sample, model.layout)
                sample_name = name if len(batch) == 1 else f"{name}_{i:0{width}d}"
                samples.append(_Sample(sample_name, sample_label, kind, np.ascontiguousarray(sample), display))
    return samples, notes


def _series_input(values: np.ndarray, model: _Model, label: str) -> np.ndarray:
    """A CSV series ``(T, C)`` in the model's layout."""
    steps, channels = values.shape
    shape = model.input_shape
    if shape is not None and len(shape) == 1:
        if channels != 1:
            raise _runtime(
                f"shape mismatch: {label!r} has {channels} numeric columns but the model takes {_shape_text(shape)} "
                "(one channel)"
            )
        x = values[:, 0]
    elif shape is not None and len(shape) != 2:
        raise _runtime(
            f"shape mismatch: {label!r} is a time series ({steps} steps x {channels} channels) but the model takes "
            f"{_shape_text(shape)}"
        )
    else:
        x = values.T if model.layout == "first" else values
    _check_sample_shape(
        x.shape, model, f"{label!r} ({steps} rows x {channels} numeric columns)",
        " (rows are time steps, numeric columns channels)",
    )
    return np.ascontiguousarray(x, dtype=np.float32)


# --------------------------------------------------------------------------
# running


def _groups(samples: Sequence[_Sample]) -> list[list[int]]:
    """Indices of the samples, grouped by shape (one batch each), in order of appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, sample in enumerate(samples):
        groups.setdefault(sample.x.shape, []).append(index)
    return list(groups.values())


def _forward(model: _Model, x: np.ndarray) -> np.ndarray:
    if model.framework == "tf":
        import keras

        out = model.model(x, training=False)
        if isinstance(out, (list, tuple, dict)):
            raise ValueError("the model returns several outputs; one is needed")
        return np.asarray(keras.ops.convert_to_numpy(out))
    import torch

    with torch.no_grad():
        out = model.model(torch.from_numpy(x))
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model returns {type(out).__name__}, not one tensor")
    return out.detach().cpu().numpy()


def _error_text(error: BaseException) -> str:
    """``TypeName: message`` on one line (the type name once)."""
    text = _one_line(error)
    name = type(error).__name__
    return text if text.startswith(name + ":") else f"{name}: {text}"


def _labels(samples: Sequence[_Sample], indices: Sequence[int]) -> str:
    labels = [samples[i].label for i in indices]
    return ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")


def probabilities(out: np.ndarray) -> tuple[np.ndarray, str]:
    """The class probabilities of outputs ``(N, K)`` and where they come from.

    Rows in [0, 1] that sum to 1 are probabilities already ("the model's output"); otherwise
    they are logits and go through a softmax ("softmax of the logits").
    """
    out = np.asarray(out, dtype=np.float64)
    if np.all(out >= 0) and np.all(out <= 1) and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        return out, "the model's output"
    shifted = out - out.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True), "softmax of the logits"


def _explain(model: _Model, x: np.ndarray, method: str, targets: list[int]) -> np.ndarray:
    if model.framework == "tf":
        import signxai_tf

        return np.asarray(signxai_tf.explain(model.model, x, method, target=targets))
    import signxai_captum

    return np.asarray(signxai_captum.explain(model.model, x, method, target=targets))


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, file=sys.stderr, desc="explaining", unit="map", leave=True)


# --------------------------------------------------------------------------
# writing


def _title(sample: _Sample, method: str, target: int) -> str:
    return f"{sample.label}: {method}, class {target}"


def write_outputs(sample: _Sample, method: str, relevance: np.ndarray, target: int, out_dir: pathlib.Path,
                  layout: str) -> list[pathlib.Path]:
    """Write the raw map (``.npy``) and its picture (``.png``, not for samples of more than 3 axes)."""
    from matplotlib.figure import Figure

    from shared_spec.drawing import overlay, timeseries_relevance
    from shared_spec.heatmaps import aggregate_channels

    stem = out_dir / f"{sample.name}__{method}"
    npy = stem.with_name(stem.name + ".npy")
    np.save(npy, relevance)
    written = [npy]
    png = stem.with_name(stem.name + ".png")
    if sample.kind == "image":
        channel_axis = 0 if layout == "first" else -1
        heat = aggregate_channels(relevance, "sum", channel_axis=channel_axis)
        figure = Figure(figsize=IMAGE_FIGSIZE, dpi=DPI)
        overlay(heat, sample.display, figure.add_subplot(), title=_title(sample, method, target))
    elif sample.kind == "series":
        assert sample.display is not None
        scores = relevance.T if (layout == "first" and relevance.ndim == 2) else relevance
        channels = 1 if scores.ndim == 1 else scores.shape[1]
        figure = Figure(
            figsize=(SERIES_WIDTH, SERIES_INCHES_PER_CHANNEL * channels + SERIES_EXTRA_INCHES), dpi=DPI
        )
        axes = figure.subplots(channels, 1, sharex=True, squeeze=False)[:, 0]
        timeseries_relevance(sample.display, scores, leads=sample.leads, ax=list(axes),
                             title=_title(sample, method, target))
    else:
        return written
    figure.savefig(png, dpi=DPI)
    written.append(png)
    return written


# --------------------------------------------------------------------------
# the command


def _run(args: argparse.Namespace) -> int:
    model_path = pathlib.Path(args.model)
    _check_file(model_path, "model file")
    kind = detect_model_kind(model_path)
    methods = _parse_methods(args.methods, kind)
    out_dir = pathlib.Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise _usage(f"--out {str(out_dir)!r} is a file; give a directory")
    if args.std is not None and any(value == 0 for value in args.std):
        raise _usage("--std values must not be 0")
    items = _read_inputs(args.inputs)

    with quiet_frameworks():
        model = _load_model(model_path, kind, args.layout)
        print(f"{model_path}: {model.describe()}")
        samples, notes = _prepare(items, model, args)
        for line in notes:
            print(line)

        groups = _groups(samples)
        targets: list[int] = [0] * len(samples)
        for indices in groups:
            x = np.stack([samples[i].x for i in indices])
            try:
                out = _forward(model, x)
            except Exception as error:  # noqa: BLE001 - the model's own error, in one line
                raise _runtime(
                    f"the model could not run on input of shape {x.shape} (from {_labels(samples, indices)}): "
                    f"{_error_text(error)}"
                ) from None
            if out.ndim != 2 or out.shape[0] != len(indices):
                raise _runtime(f"the model returns shape {out.shape}; signxai explain needs (N, classes)")
            n_classes = out.shape[1]
            if args.target is not None and args.target >= n_classes:
                raise _runtime(
                    f"--target {args.target} is out of range: the model has {n_classes} output(s) "
                    f"(0..{n_classes - 1})"
                )
            probs, source = probabilities(out)
            for row, index in enumerate(indices):
                predicted = int(np.argmax(out[row]))
                targets[index] = predicted if args.target is None else args.target
                if n_classes == 1:
                    line = f"{samples[index].label}: output 0 = {float(out[row, 0]):.4g}"
                else:
                    line = (
                        f"{samples[index].label}: predicted class {predicted} "
                        f"(probability {probs[row, predicted]:.3f}, {source})"
                    )
                if args.target is not None:
                    line += f"; explaining class {args.target} (probability {probs[row, args.target]:.3f})"
                print(line)

        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _runtime(f"cannot create --out {str(out_dir)!r}: {_one_line(error)}") from None
        total = len(samples) * len(methods)
        written: list[pathlib.Path] = []
        with _progress(total, total > PROGRESS_THRESHOLD and not args.no_progress) as bar:
            for method in methods:
                for indices in groups:
                    x = np.stack([samples[i].x for i in indices])
                    try:
                        maps = _explain(model, x, method.name, [targets[i] for i in indices])
                    except Exception as error:  # noqa: BLE001
                        raise _runtime(
                            f"{method.name} failed on {_labels(samples, indices)}: {_error_text(error)}"
                        ) from None
                    for row, index in enumerate(indices):
                        try:
                            written += write_outputs(samples[index], method.name, maps[row], targets[index],
                                                     out_dir, model.layout)
                        except OSError as error:
                            raise _runtime(f"cannot write to {str(out_dir)!r}: {_one_line(error)}") from None
                    bar.update(len(indices))
    n_png = sum(path.suffix == ".png" for path in written)
    n_npy = len(written) - n_png
    print(
        f"Wrote {n_png} picture(s) (.png) and {n_npy} map(s) (.npy) to {out_dir.resolve()}: "
        "<input>__<method>.png / .npy"
    )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    """Run ``signxai explain`` with parsed arguments; print one error line on failure.

    Returns
    -------
    int
        0 on success, 2 for usage errors (arguments, missing files, unknown formats or method
        names), 1 when the files could not be read or the model could not run on them, 130 if
        interrupted.
    """
    try:
        return _run(args)
    except ExplainCLIError as error:
        print(f"{_PROG}: error: {_one_line(error)}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - anything not foreseen: one line, no traceback
        print(f"{_PROG}: error: {_error_text(error)}", file=sys.stderr)
        return 1
