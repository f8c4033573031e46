"""Demo: explain a 1-D CNN that tells normal from wide (ventricular-like) heart beats in a real ECG.

Data
    Five minutes of a real recorded electrocardiogram: MIT-BIH Arrhythmia Database record 208,
    lead MLII, 19:35-24:35, 360 Hz, 11-bit ADC (200 units per mV, zero at 1024), as shipped by
    SciPy <= 1.11 in ``scipy/misc/ecg.dat`` (the file is copied verbatim into
    ``signxai_tools/demo/data/mitdb208_ecg.npz`` by ``scripts/fetch_ecg_data.py``; see
    ``data/LICENSE-ecg-data.txt`` for source, licence and attribution). Record 208 is rich in
    premature ventricular contractions (PVCs), whose QRS complex is much wider than a normal one.

Labels (derived from the signal itself, no annotation file; all arithmetic on integer ADC units,
so the derivation is exact and reproducible)
    1. Baseline: a 201 ms (73 samples) moving median followed by a 603 ms (217 samples) moving
       median of the raw samples; ``xb = raw - baseline``.
    2. R peaks: local maxima of ``|5-sample moving sum of xb|`` above 0.6 mV (600 units), kept
       greedily from the largest down with a 0.25 s refractory period, then moved to the sample
       of largest ``|xb|`` within +-60 ms (22 samples).
    3. Width: the full width at half maximum (FWHM) of the R deflection, i.e. the number of
       contiguous samples around the R peak whose ``xb`` has the peak's sign and at least half
       its magnitude.
    4. Class: ``normal`` (0) if the FWHM is at most 14 samples (38.9 ms), ``wide`` (1) if it is
       at least 22 samples (61.1 ms); beats in between (fusion-like, ambiguous) and beats whose
       window does not fit into the record are left out (label -1).

Model
    Windows of 256 samples (0.71 s) centred on the R peak (sample 128), ``xb`` in mV, Keras
    layout ``(N, 256, 1)``; a small Keras 1-D CNN trained by ``scripts/train_ecg_model.py`` on
    the beats of the first 70 % of the record (``ecg_cnn.npz``: weights, labels, split and
    held-out metrics); the PyTorch twin is :func:`signxai_captum.convert.keras_to_torch` of it.

Neither torch, TensorFlow/Keras nor the explanation back ends are imported when this module is
imported; the functions that need them import them lazily (torch before TensorFlow).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.resources
import io
import logging
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from signxai_tools.demo import FRAMEWORKS, _available_frameworks

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch.nn

__all__ = [
    "CLASS_NAMES",
    "DATA_FILE",
    "DATA_SHA256",
    "ECG_METHODS",
    "FS",
    "WEIGHTS_FILE",
    "WINDOW",
    "Beats",
    "balanced_accuracy",
    "build_keras_ecg_model",
    "build_torch_ecg_model",
    "derive_beats",
    "detect_r_peaks",
    "ecg_figures",
    "explain_beats",
    "held_out_beats",
    "load_ecg_record",
    "load_ecg_weights",
    "make_keras_ecg_model",
    "qrs_half_widths",
    "remove_baseline",
    "run_ecg_demo",
    "select_demo_beats",
    "split_beats",
]

logger = logging.getLogger("signxai_tools.demo.ecg")

#: Methods explained by :func:`explain_beats` / drawn by :func:`run_ecg_demo` by default.
ECG_METHODS: tuple[str, ...] = (
    "gradient_x_sign",
    "lrpsign_epsilon_0_1",
    "lrp_epsilon_0_1",
    "grad_cam_timeseries",
)

#: Class names, index = label.
CLASS_NAMES: tuple[str, ...] = ("normal", "wide")

#: Sampling rate of the record in Hz.
FS = 360
#: ADC units per mV and ADC zero of the record (MIT-BIH record 208, lead MLII).
ADC_GAIN = 200
ADC_ZERO = 1024

#: The record inside the package (a verbatim copy of SciPy 1.11's ``scipy/misc/ecg.dat``).
DATA_FILE = "data/mitdb208_ecg.npz"
#: sha256 of :data:`DATA_FILE` (equal to that of ``scipy/misc/ecg.dat`` in SciPy 1.1 - 1.11).
DATA_SHA256 = "f20ad3365fb9b7f845d0e5c48b6fe67081377ee466c3a220b7f69f35c8958baf"
#: Number of samples of the record.
N_SAMPLES = 108_000

#: The trained model and the derived labels (written by ``scripts/train_ecg_model.py``).
WEIGHTS_FILE = "data/ecg_cnn.npz"

#: Beat window: WINDOW samples, the R peak at index WINDOW // 2.
WINDOW = 256
#: Fraction of the record (by time) whose beats are used for training; the rest is held out.
TRAIN_FRACTION = 0.7

# label derivation, in samples at 360 Hz and ADC units (see the module docstring)
BASELINE_WINDOWS = (73, 217)
DETECT_SUM = 5
DETECT_THRESHOLD = 600  # 0.6 mV * 200 units/mV * 5 samples
REFRACTORY = 90  # 0.25 s
REFINE = 22  # 60 ms
NARROW_MAX = 14  # FWHM <= 38.9 ms: normal
WIDE_MIN = 22  # FWHM >= 61.1 ms: wide

#: Layer names of the CNN, in order; the weight arrays are ``<name>_kernel`` / ``<name>_bias``.
WEIGHT_LAYERS: tuple[str, ...] = ("conv1", "conv2", "conv3", "dense1", "dense2")

_PANEL_SIZE = (3.2, 2.3)
_DPI = 90


# --------------------------------------------------------------------------
# data and labels


def _read_resource(name: str) -> bytes:
    resource = importlib.resources.files("signxai_tools.demo").joinpath(name)
    if not resource.is_file():
        script = "fetch_ecg_data.py" if name == DATA_FILE else "train_ecg_model.py"
        raise FileNotFoundError(
            f"signxai_tools/demo/{name} is missing; regenerate it with `python scripts/{script}`"
        )
    return resource.read_bytes()


def load_ecg_record(check: bool = True) -> np.ndarray:
    """Read the shipped ECG record in raw ADC units.

    Parameters
    ----------
    check : bool, default True
        Verify the file's sha256 against :data:`DATA_SHA256`.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(108000,)``: 5 min at :data:`FS` Hz; mV = (value - 1024) / 200.

    Raises
    ------
    FileNotFoundError
        If the data file is missing.
    ValueError
        If its checksum or content is not the expected one.
    """
    data = _read_resource(DATA_FILE)
    if check:
        digest = hashlib.sha256(data).hexdigest()
        if digest != DATA_SHA256:
            raise ValueError(
                f"{DATA_FILE} has sha256 {digest}, expected {DATA_SHA256}; "
                "regenerate it with `python scripts/fetch_ecg_data.py`"
            )
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        if "ecg" not in npz.files:
            raise ValueError(f"{DATA_FILE} lacks the array 'ecg' (has {npz.files})")
        adc = np.asarray(npz["ecg"]).astype(np.int64)
    if adc.shape != (N_SAMPLES,):
        raise ValueError(f"{DATA_FILE}: expected shape ({N_SAMPLES},), got {adc.shape}")
    return adc


def _moving_median(x: np.ndarray, width: int, chunk: int = 16_384) -> np.ndarray:
    """Centred moving median of odd ``width`` with edge padding (exact for integer input)."""
    if width % 2 != 1:
        raise ValueError(f"width must be odd, got {width}")
    half = width // 2
    padded = np.pad(np.asarray(x, dtype=np.int64), half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    out = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), chunk):
        block = np.sort(windows[start : start + chunk], axis=1)
        out[start : start + chunk] = block[:, half]
    return out


def remove_baseline(adc: np.ndarray) -> np.ndarray:
    """Subtract the baseline (two cascaded moving medians, 201 ms and 603 ms).

    Parameters
    ----------
    adc : numpy.ndarray
        Integer samples ``(T,)`` at 360 Hz.

    Returns
    -------
    numpy.ndarray
        ``int64`` samples ``(T,)``: ``adc - median_217(median_73(adc))``, ADC units.
    """
    adc = np.asarray(adc, dtype=np.int64)
    baseline = adc
    for width in BASELINE_WINDOWS:
        baseline = _moving_median(baseline, width)
    return adc - baseline


def detect_r_peaks(xb: np.ndarray) -> np.ndarray:
    """R-peak sample indices of a baseline-free integer ECG at 360 Hz.

    Local maxima of ``|5-sample moving sum|`` above :data:`DETECT_THRESHOLD` (0.6 mV), kept from
    the largest down if no kept peak is within 0.25 s, then moved to the largest ``|xb|`` within
    +-60 ms (ties: the earliest sample); of two refined peaks closer than 0.25 s the larger one
    stays.

    Parameters
    ----------
    xb : numpy.ndarray
        Integer samples ``(T,)`` (output of :func:`remove_baseline`).

    Returns
    -------
    numpy.ndarray
        Sorted ``int64`` sample indices.
    """
    xb = np.asarray(xb, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(xb)])
    half = DETECT_SUM // 2
    start = np.clip(np.arange(len(xb)) - half, 0, len(xb))
    stop = np.clip(np.arange(len(xb)) + half + 1, 0, len(xb))
    feature = np.abs(csum[stop] - csum[start])
    inner = feature[1:-1]
    candidates = np.flatnonzero(
        (inner > feature[:-2]) & (inner >= feature[2:]) & (inner > DETECT_THRESHOLD)
    ) + 1
    order = candidates[np.argsort(-feature[candidates], kind="stable")]
    kept: list[int] = []
    taken = np.zeros(len(xb), dtype=bool)
    for c in order:
        if not taken[max(0, c - REFRACTORY) : c + REFRACTORY + 1].any():
            kept.append(int(c))
            taken[c] = True
    refined = []
    for c in sorted(kept):
        lo, hi = max(0, c - REFINE), min(len(xb), c + REFINE + 1)
        refined.append(lo + int(np.argmax(np.abs(xb[lo:hi]))))
    peaks: list[int] = []
    for r in sorted(set(refined)):
        if peaks and r - peaks[-1] < REFRACTORY:
            if abs(xb[r]) > abs(xb[peaks[-1]]):
                peaks[-1] = r
            continue
        peaks.append(r)
    return np.asarray(peaks, dtype=np.int64)


def qrs_half_widths(xb: np.ndarray, r_peaks: np.ndarray) -> np.ndarray:
    """Full width at half maximum of the R deflection, in samples.

    Parameters
    ----------
    xb : numpy.ndarray
        Integer baseline-free samples ``(T,)``.
    r_peaks : numpy.ndarray
        R-peak indices.

    Returns
    -------
    numpy.ndarray
        ``int64`` widths: the number of contiguous samples around each R peak whose value has the
        peak's sign and at least half its magnitude (``2 * sign * xb >= |xb[r]|``).
    """
    xb = np.asarray(xb, dtype=np.int64)
    widths = np.zeros(len(r_peaks), dtype=np.int64)
    for k, r in enumerate(np.asarray(r_peaks, dtype=np.int64)):
        peak = int(xb[r])
        sign = 1 if peak >= 0 else -1
        above = 2 * sign * xb >= abs(peak)
        lo = r
        while lo > 0 and above[lo - 1]:
            lo -= 1
        hi = r
        while hi < len(xb) - 1 and above[hi + 1]:
            hi += 1
        widths[k] = hi - lo + 1
    return widths


@dataclasses.dataclass(frozen=True)
class Beats:
    """The beats of the record and their derived labels.

    Attributes
    ----------
    r_peaks : numpy.ndarray
        ``int64`` R-peak sample indices of all detected beats ``(M,)``.
    widths : numpy.ndarray
        ``int64`` FWHM of each R deflection in samples ``(M,)``.
    labels : numpy.ndarray
        ``int64`` ``(M,)``: 0 normal, 1 wide, -1 left out (ambiguous width or window off the
        record).
    windows : numpy.ndarray
        ``float32`` ``(M, WINDOW, 1)`` baseline-free signal in mV around each R peak (zeros for
        windows off the record).
    """

    r_peaks: np.ndarray
    widths: np.ndarray
    labels: np.ndarray
    windows: np.ndarray


def _label(widths: np.ndarray, r_peaks: np.ndarray, n_samples: int) -> np.ndarray:
    labels = np.full(len(widths), -1, dtype=np.int64)
    labels[widths <= NARROW_MAX] = 0
    labels[widths >= WIDE_MIN] = 1
    half = WINDOW // 2
    fits = (r_peaks - half >= 0) & (r_peaks + half <= n_samples)
    labels[~fits] = -1
    return labels


@functools.lru_cache(maxsize=1)
def _derived_beats() -> Beats:
    return derive_beats(load_ecg_record())


def derive_beats(adc: np.ndarray | None = None) -> Beats:
    """Detect the beats of the record, label them and cut their windows (see the module docstring).

    Parameters
    ----------
    adc : numpy.ndarray, optional
        Raw integer samples at 360 Hz; default the shipped record (result cached).

    Returns
    -------
    Beats
        All detected beats with labels and windows.
    """
    if adc is None:
        cached = _derived_beats()
        return Beats(**{f.name: getattr(cached, f.name).copy() for f in dataclasses.fields(Beats)})
    adc = np.asarray(adc)
    if adc.ndim != 1 or not np.issubdtype(adc.dtype, np.integer):
        raise ValueError(f"adc must be a 1-D integer array, got {adc.dtype} {adc.shape}")
    xb = remove_baseline(adc)
    r_peaks = detect_r_peaks(xb)
    widths = qrs_half_widths(xb, r_peaks)
    labels = _label(widths, r_peaks, len(xb))
    half = WINDOW // 2
    windows = np.zeros((len(r_peaks), WINDOW, 1), dtype=np.float32)
    for k, r in enumerate(r_peaks):
        if r - half >= 0 and r + half <= len(xb):
            windows[k, :, 0] = xb[r - half : r + half] / ADC_GAIN
    return Beats(r_peaks=r_peaks, widths=widths, labels=labels, windows=windows)


def split_beats(beats: Beats, n_samples: int = N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the labelled training and held-out beats, split by time.

    Parameters
    ----------
    beats : Beats
        Output of :func:`derive_beats`.
    n_samples : int
        Length of the record.

    Returns
    -------
    train, held_out : numpy.ndarray
        Indices into ``beats`` of the labelled beats whose whole window lies in the first
        :data:`TRAIN_FRACTION` of the record, and of those whose whole window lies after it
        (beats straddling the boundary are in neither).
    """
    boundary = round(TRAIN_FRACTION * n_samples)
    half = WINDOW // 2
    labelled = beats.labels >= 0
    train = np.flatnonzero(labelled & (beats.r_peaks + half <= boundary))
    held_out = np.flatnonzero(labelled & (beats.r_peaks - half >= boundary))
    return train, held_out


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, np.ndarray]:
    """Balanced accuracy (mean per-class recall) and the per-class recalls.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray
        Integer labels ``0..len(CLASS_NAMES)-1``.

    Returns
    -------
    (float, numpy.ndarray)
        The mean recall over the classes present in ``y_true`` and the recall of each class
        (NaN for an absent class).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = np.full(len(CLASS_NAMES), np.nan)
    for c in range(len(CLASS_NAMES)):
        mask = y_true == c
        if mask.any():
            recalls[c] = float(np.mean(y_pred[mask] == c))
    return float(np.nanmean(recalls)), recalls


# --------------------------------------------------------------------------
# models


@functools.lru_cache(maxsize=1)
def _weights_cached() -> dict[str, np.ndarray]:
    data = _read_resource(WEIGHTS_FILE)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        weights = {name: np.array(npz[name]) for name in npz.files}
    required = [f"{layer}_{part}" for layer in WEIGHT_LAYERS for part in ("kernel", "bias")]
    required += ["r_peaks", "labels", "train_index", "held_out_index", "held_out_balanced_accuracy"]
    missing = [name for name in required if name not in weights]
    if missing:
        raise KeyError(
            f"{WEIGHTS_FILE} lacks the arrays {missing}; regenerate it with "
            "`python scripts/train_ecg_model.py`"
        )
    return weights


def load_ecg_weights() -> dict[str, np.ndarray]:
    """Read the shipped CNN weights, derived labels, split and metrics.

    Returns
    -------
    dict of str to numpy.ndarray
        ``<layer>_kernel`` / ``<layer>_bias`` for the layers of :data:`WEIGHT_LAYERS` (Keras
        layout, ``float32``); ``r_peaks``, ``widths``, ``labels`` (as derived by the training
        script); ``train_index``, ``held_out_index``; ``held_out_accuracy``,
        ``held_out_balanced_accuracy``, ``held_out_recall`` (per class), ``held_out_probabilities``
        ``(N, 2)`` of the Keras model on the held-out beats. A copy: callers may modify it.
    """
    return {name: array.copy() for name, array in _weights_cached().items()}


def make_keras_ecg_model() -> Any:
    """Build the (untrained) Keras beat classifier.

    Returns
    -------
    keras.Sequential
        ``(N, 256, 1)`` mV windows -> ``(N, 2)`` logits (normal, wide): ``Conv1D(8, 7)`` ReLU,
        max-pool 2, ``Conv1D(16, 7)`` ReLU, max-pool 2, ``Conv1D(16, 5)`` ReLU, max-pool 2,
        flatten, ``Dense(32)`` ReLU, ``Dense(2)``.
    """
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(WINDOW, 1), name="ecg"),
            keras.layers.Conv1D(8, 7, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling1D(2, name="pool1"),
            keras.layers.Conv1D(16, 7, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling1D(2, name="pool2"),
            keras.layers.Conv1D(16, 5, padding="same", activation="relu", name="conv3"),
            keras.layers.MaxPooling1D(2, name="pool3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(32, activation="relu", name="dense1"),
            keras.layers.Dense(len(CLASS_NAMES), name="dense2"),
        ],
        name="ecg_cnn",
    )


def _keras_env() -> None:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_keras_ecg_model() -> Any:
    """The Keras beat classifier with the shipped weights (logits, no softmax)."""
    _keras_env()
    weights = _weights_cached()
    model = make_keras_ecg_model()
    for layer in WEIGHT_LAYERS:
        model.get_layer(layer).set_weights([weights[f"{layer}_kernel"], weights[f"{layer}_bias"]])
    return model


def build_torch_ecg_model() -> torch.nn.Module:
    """The PyTorch twin of :func:`build_keras_ecg_model` (``keras_to_torch``; input ``(N, 1, 256)``).

    Needs torch and Keras (the twin is converted from the Keras model).
    """
    import torch  # noqa: F401  - torch before TensorFlow

    from signxai_captum.convert import keras_to_torch

    return keras_to_torch(build_keras_ecg_model())


def held_out_beats() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held-out beats (last 30 % of the record) with their derived labels.

    Returns
    -------
    x : numpy.ndarray
        ``float32`` ``(N, 256, 1)`` windows in mV (Keras layout; transpose to ``(N, 1, 256)`` for
        torch).
    y : numpy.ndarray
        ``int64`` labels (0 normal, 1 wide).
    r_peaks : numpy.ndarray
        R-peak sample index of each beat in the record.
    """
    beats = derive_beats()
    _, held_out = split_beats(beats)
    return beats.windows[held_out], beats.labels[held_out], beats.r_peaks[held_out]


# --------------------------------------------------------------------------
# explanations


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def explain_beats(
    x: np.ndarray | None = None,
    frameworks: Sequence[str] = ("torch", "tf"),
    methods: Sequence[str] = ECG_METHODS,
    target: Any = None,
) -> dict[str, dict[str, Any]]:
    """Classify beats and explain them with each method in each available framework.

    Parameters
    ----------
    x : numpy.ndarray, optional
        ``(N, 256, 1)`` windows in mV (Keras layout); default the held-out beats.
    frameworks : sequence of {"torch", "tf"}
        Frameworks to run (unavailable ones are skipped with a logged warning; torch also needs
        Keras, from which its model is converted).
    methods : sequence of str
        Method names (see ``shared_spec.list_methods()``).
    target : optional
        Passed to ``explain``; default None: the predicted class of each beat.

    Returns
    -------
    dict
        framework -> ``{"logits": (N, 2), "probabilities": (N, 2), "predictions": (N,),
        "maps": {method: (N, 256) float64 relevance}}``.

    Raises
    ------
    ValueError
        On an unknown framework, empty ``methods`` or a wrongly shaped ``x``.
    RuntimeError
        If no requested framework is installed.
    """
    frameworks = list(dict.fromkeys(frameworks))
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown or not frameworks:
        raise ValueError(f"frameworks must be a non-empty subset of {FRAMEWORKS}, got {frameworks}")
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("methods must not be empty")
    if x is None:
        x = held_out_beats()[0]
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[1:] != (WINDOW, 1):
        raise ValueError(f"x must have shape (N, {WINDOW}, 1) (Keras layout), got {x.shape}")
    available = _available_frameworks(frameworks)
    if "torch" in available and "tf" not in _available_frameworks(["tf"]):
        available.remove("torch")
        logger.warning("Skipping framework 'torch': its model is converted from Keras, not installed")
    if not available:
        raise RuntimeError(
            f"None of the requested frameworks {frameworks} is installed; install torch and/or "
            "tensorflow + keras"
        )
    if "torch" in available:
        import torch  # torch before TensorFlow
    _keras_env()
    results: dict[str, dict[str, Any]] = {}
    for framework in available:
        if framework == "torch":
            import torch

            from signxai_captum import explain

            model = build_torch_ecg_model()
            batch = np.ascontiguousarray(x.transpose(0, 2, 1))
            with torch.no_grad():
                logits = model(torch.from_numpy(batch)).numpy()
            channel_axis = 1
        else:
            import keras

            from signxai_tf import explain

            model = build_keras_ecg_model()
            batch = x
            logits = keras.ops.convert_to_numpy(model(batch, training=False))
            channel_axis = 2
        maps = {}
        for method in methods:
            relevance = np.asarray(explain(model, batch.copy(), method, target=target))
            if relevance.shape != batch.shape:
                raise ValueError(
                    f"{framework} explain({method!r}) returned shape {relevance.shape}, "
                    f"expected {batch.shape}"
                )
            maps[method] = relevance.sum(axis=channel_axis).astype(np.float64)
        logits = np.asarray(logits, dtype=np.float64)
        results[framework] = {
            "logits": logits,
            "probabilities": _softmax(logits),
            "predictions": np.argmax(logits, axis=1),
            "maps": maps,
        }
        logger.info("%s: explained %d beats with %s", framework, len(x), ", ".join(methods))
    return results


def select_demo_beats(x: np.ndarray, y: np.ndarray, per_class: int = 1) -> np.ndarray:
    """Indices of the ``per_class`` most typical beats of each class (normal first).

    Typical: smallest Euclidean distance of the window to the class's sample-wise median window
    (ties: the earlier beat).

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, 256, 1)`` windows.
    y : numpy.ndarray
        ``(N,)`` labels.
    per_class : int, default 1
        Beats per class (fewer if a class has fewer).

    Returns
    -------
    numpy.ndarray
        ``int64`` indices, class by class, each class in time order.
    """
    chosen: list[int] = []
    for c in range(len(CLASS_NAMES)):
        members = np.flatnonzero(y == c)
        if not members.size:
            continue
        windows = x[members, :, 0].astype(np.float64)
        distance = np.linalg.norm(windows - np.median(windows, axis=0), axis=1)
        best = members[np.argsort(distance, kind="stable")[:per_class]]
        chosen.extend(sorted(best.tolist()))
    return np.asarray(chosen, dtype=np.int64)


def _panel_title(method: str, true: int, pred: int, prob: float) -> str:
    return f"{method}\ntrue {CLASS_NAMES[true]} / pred {CLASS_NAMES[pred]} (p={prob:.2f})"


def ecg_figures(
    x: np.ndarray,
    y: np.ndarray,
    r_peaks: np.ndarray,
    results: dict[str, dict[str, Any]],
    methods: Sequence[str],
) -> dict[str, Any]:
    """One figure per framework: a row per beat, a column per method.

    Every panel is drawn by :func:`shared_spec.drawing.timeseries_relevance` (x axis: seconds from
    the window start, the R peak at 0.356 s; own colour scale per panel, symmetric around 0) and
    titled with the method, the true label, the predicted label and its probability.

    Parameters
    ----------
    x : numpy.ndarray
        ``(N, 256, 1)`` windows in mV.
    y : numpy.ndarray
        ``(N,)`` true labels.
    r_peaks : numpy.ndarray
        ``(N,)`` R-peak sample indices in the record (for the figure title).
    results : dict
        Output of :func:`explain_beats` for ``x``.
    methods : sequence of str
        Methods (columns) to draw; each must be in every ``results[framework]["maps"]``.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        framework -> figure (Agg canvas).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from shared_spec.drawing import timeseries_relevance

    figures = {}
    for framework, result in results.items():
        fig = Figure(
            figsize=(_PANEL_SIZE[0] * len(methods), _PANEL_SIZE[1] * len(y)),
            dpi=_DPI,
            layout="constrained",
        )
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(y), len(methods), squeeze=False)
        for k in range(len(y)):
            pred = int(result["predictions"][k])
            prob = float(result["probabilities"][k, pred])
            for j, method in enumerate(methods):
                timeseries_relevance(
                    x[k, :, 0],
                    result["maps"][method][k],
                    ax=axes[k, j],
                    title=_panel_title(method, int(y[k]), pred, prob),
                    fs=FS,
                    leads=["MLII (mV)"] if j == 0 else None,
                )
                axes[k, j].title.set_fontsize(8)
        fig.suptitle(
            f"{framework}: MIT-BIH record 208 (lead MLII), held-out beats at "
            + ", ".join(f"{r / FS:.1f} s" for r in r_peaks)
        )
        figures[framework] = fig
    return figures


def run_ecg_demo(
    out_dir: str | os.PathLike[str] = ".",
    frameworks: Sequence[str] | str = ("torch", "tf"),
    methods: Sequence[str] | None = None,
    per_class: int = 1,
) -> list[pathlib.Path]:
    """Explain held-out normal and wide beats and write one PNG per framework.

    Parameters
    ----------
    out_dir : str or path-like, default "."
        Directory for ``signxai-ecg-<framework>.png`` (created).
    frameworks : sequence of {"torch", "tf"} or str, default ("torch", "tf")
        Frameworks to run; ``"both"`` means both.
    methods : sequence of str, optional
        Default :data:`ECG_METHODS`.
    per_class : int, default 1
        Held-out beats drawn per class (the most typical ones, see :func:`select_demo_beats`).

    Returns
    -------
    list of pathlib.Path
        The written files, absolute. Each PNG carries the panel titles in its ``Description``
        text chunk.
    """
    if isinstance(frameworks, str):
        frameworks = FRAMEWORKS if frameworks == "both" else (frameworks,)
    methods = list(ECG_METHODS if methods is None else methods)
    if int(per_class) < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    x_all, y_all, r_all = held_out_beats()
    index = select_demo_beats(x_all, y_all, int(per_class))
    x, y, r_peaks = x_all[index], y_all[index], r_all[index]
    results = explain_beats(x, frameworks=frameworks, methods=methods)
    figures = ecg_figures(x, y, r_peaks, results, methods)
    out = pathlib.Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for framework, fig in figures.items():
        path = out / f"signxai-ecg-{framework}.png"
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        fig.savefig(
            path,
            format="png",
            dpi=_DPI,
            metadata={
                "Title": fig.get_suptitle(),
                "Description": "\n\n".join(titles),
            },
        )
        paths.append(path)
        logger.debug("Wrote %s", path)
    return paths
