"""Tests of the photograph demo (signxai_tools.demo.photo): fer's facial-expression CNN on
scikit-image's photographs, explained with the PyTorch twin and the Keras original.

Measured on this model and these four faces (astronaut + LFW #1, #22, #51), torch vs Keras
(float32): logits differ by at most 6.7e-6 (absolute; the logits span -10.4 .. 9.2); per face,
max |R_torch - R_tf| / max |R_tf| is 3e-7 (gradient, gradient_x_sign), 7e-7 (grad_cam), 2e-4
(integrated_gradients), 6e-5 (lrp_epsilon_0_1), 5e-4 (lrpsign_epsilon_0_1) and 2.0e-3..2.1e-3
(lrp_alpha_1_beta_0, the sequential composites). The tests allow 1e-2 of max |R|.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("skimage")

from signxai_tools.demo import photo

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
MAP_RTOL = 1e-2  # of max |R| of the Keras map
LOGIT_ATOL = 1e-4

# Regions of the 64x64 crops (rows, then columns), drawn on the faces by hand: the mouth box
# covers the lips and teeth of the astronaut and of LFW #51's open mouth.
CENTRE = (slice(16, 48), slice(16, 48))
BORDER_WIDTH = 8
MOUTH = {"astronaut": (slice(36, 52), slice(16, 48)), "lfw #51": (slice(38, 56), slice(16, 44))}
EYES_22 = (slice(16, 30), slice(8, 56))
MOUTH_22 = (slice(36, 54), slice(16, 48))


def _needs(*modules: str) -> None:
    for module in modules:
        pytest.importorskip(module)


@pytest.fixture(scope="module")
def models():
    _needs("torch", "tensorflow", "keras")
    import torch  # noqa: F401  - torch before TensorFlow

    keras_model = photo.load_keras_emotion_model()
    return keras_model, photo.load_torch_emotion_model(keras_model)


@pytest.fixture(scope="module")
def photos():
    return photo.load_photos()


@pytest.fixture(scope="module")
def explained(models):
    return photo.explain_photos(("torch", "tf"), photo.PHOTO_METHODS)


# -- (1) the shipped file ----------------------------------------------------------------------


def test_shipped_model_sha256_and_licence():
    with photo.model_path() as path:
        assert path.stat().st_size == 872_856
        assert photo.file_sha256(path) == photo.MODEL_SHA256
    licence = (REPO_ROOT / "signxai_tools" / "demo" / "data" / "LICENSE-emotion-model.txt").read_text()
    for needle in (photo.MODEL_SHA256, "MIT License", "Copyright (c) 2018 Justin Shenk",
                   "https://github.com/JustinShenk/fer", f"version {photo.FER_VERSION}"):
        assert needle in licence
    # the fetch script's --check agrees (and runs without fer, torch or TensorFlow)
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "fetch_emotion_model.py"), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert photo.MODEL_SHA256 in done.stdout


def test_sha256_mismatch_is_refused(tmp_path, monkeypatch):
    _needs("keras")
    import contextlib

    wrong = tmp_path / photo.MODEL_FILE
    wrong.write_bytes(b"not the model")

    @contextlib.contextmanager
    def fake_path():
        yield wrong

    monkeypatch.setattr(photo, "model_path", fake_path)
    with pytest.raises(ValueError, match="sha256"):
        photo.load_keras_emotion_model()


# -- the photographs ---------------------------------------------------------------------------


def test_photos_are_fer_preprocessed_faces(photos):
    names, faces = photos
    assert names == ["astronaut", "lfw #1", "lfw #22", "lfw #51"]
    assert faces.shape == (4, 64, 64)
    assert 0.0 <= faces.min() and faces.max() <= 255.0
    x = photo.preprocess_faces(faces)
    assert x.shape == (4, 64, 64, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], (faces / 255.0 - 0.5) * 2.0, atol=1e-6)
    # the LBP cascade finds Eileen Collins' face (she is at rows ~70-170, columns ~170-270 of 512)
    face, box = photo.astronaut_face(return_box=True)
    np.testing.assert_array_equal(face, faces[0])
    assert 80 <= box["width"] <= 120 and box["width"] == box["height"]
    assert 100 <= box["r"] + box["height"] / 2 <= 140
    assert 200 <= box["c"] + box["width"] / 2 <= 240
    with pytest.raises(ValueError, match="0..99"):
        photo.lfw_faces([150])


# -- (2) predictions ---------------------------------------------------------------------------


def test_predictions_are_probabilities_and_twins_agree(models, photos):
    import keras
    import torch

    keras_model, torch_model = models
    x = photo.preprocess_faces(photos[1])
    with _quiet():
        probs_keras = np.asarray(keras.ops.convert_to_numpy(keras_model(x, training=False)), dtype=np.float64)
    assert probs_keras.shape == (4, len(photo.EMOTIONS))
    assert np.all(probs_keras >= 0) and np.all(probs_keras <= 1)
    np.testing.assert_allclose(probs_keras.sum(axis=1), 1.0, atol=1e-5)

    logits_tf, p_tf = photo.predict_emotions("tf", keras_model, x)
    logits_torch, p_torch = photo.predict_emotions("torch", torch_model, x)
    np.testing.assert_allclose(p_tf, probs_keras, atol=1e-5)  # softmax(logits) is the model's output
    np.testing.assert_allclose(p_torch, p_tf, atol=1e-5)
    np.testing.assert_allclose(logits_torch, logits_tf, atol=LOGIT_ATOL, rtol=0)
    assert np.ptp(logits_tf, axis=1).min() > 1.0  # real logits, not a flat output
    with torch.no_grad():  # the twin with its softmax gives the Keras probabilities
        probs_torch = torch_model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    np.testing.assert_allclose(probs_torch, probs_keras, atol=1e-5)

    # what the model says about these faces (a smile is "happy", the open mouth "surprise")
    labels = [photo.EMOTIONS[k] for k in p_tf.argmax(axis=1)]
    assert labels == ["happy", "happy", "angry", "surprise"]
    assert p_tf[0, photo.EMOTIONS.index("happy")] > 0.99
    assert p_tf[3, photo.EMOTIONS.index("surprise")] > 0.4


class _quiet:
    """Silence Keras' note on this HDF5 model's input structure."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# -- (3) both frameworks give the same maps ----------------------------------------------------


def test_explain_photos_result(explained):
    assert explained.names == ["astronaut", "lfw #1", "lfw #22", "lfw #51"]
    assert set(explained.maps) == {"torch", "tf"}
    for framework in ("torch", "tf"):
        assert list(explained.maps[framework]) == list(photo.PHOTO_METHODS)
        assert [e for e, _ in explained.predictions[framework]] == ["happy", "happy", "angry", "surprise"]
        for (emotion, p), row in zip(explained.predictions[framework], explained.probabilities[framework]):
            assert p == pytest.approx(row.max()) and emotion == photo.EMOTIONS[int(row.argmax())]
        for method, maps in explained.maps[framework].items():
            assert maps.shape == (4, 64, 64), method
            assert np.all(np.isfinite(maps)) and np.abs(maps).max() > 0, method
    assert explained.faces.min() >= 0 and explained.faces.max() <= 1


@pytest.mark.parametrize("method", photo.PHOTO_METHODS)
def test_maps_agree_between_frameworks(explained, method):
    tf_maps, torch_maps = explained.maps["tf"][method], explained.maps["torch"][method]
    for i, name in enumerate(explained.names):
        scale = np.abs(tf_maps[i]).max()
        error = np.abs(torch_maps[i] - tf_maps[i]).max() / scale
        assert error <= MAP_RTOL, f"{method} on {name}: max |torch - tf| = {error:.2e} of max |R|"


# -- (4) the maps are about the face -----------------------------------------------------------


def _border_mask(width: int = BORDER_WIDTH) -> np.ndarray:
    mask = np.zeros((64, 64), dtype=bool)
    mask[:width], mask[-width:], mask[:, :width], mask[:, -width:] = True, True, True, True
    return mask


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_relevance_lies_on_the_face(explained, framework):
    """Per pixel, the central face region (eyes, nose, mouth) holds more |R| than the border.

    Comparing means per pixel is comparing the sums over regions of equal area. Measured
    (astronaut): gradient_x_sign 3.6x, lrp_epsilon_0_1 6.5x; over all four faces at least
    3.1x (gradient_x_sign) and 1.9x (lrp_epsilon_0_1).
    """
    border = _border_mask()
    maps = explained.maps[framework]
    for method, astronaut_min, all_min in (("gradient_x_sign", 2.5, 2.0), ("lrp_epsilon_0_1", 4.0, 1.4)):
        ratios = []
        for i in range(4):
            r = np.abs(maps[method][i])
            ratios.append(r[CENTRE].mean() / r[border].mean())
        assert ratios[0] > astronaut_min, (method, ratios)
        assert min(ratios) > all_min, (method, ratios)


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_lrp_points_at_mouth_and_eyes(explained, framework):
    """LRP finds the features that go with the predicted emotion.

    Measured: lrp_epsilon_0_1 puts 40 % of sum |R| of the smiling astronaut in the mouth box
    (12 % of the image); lrp_alpha_1_beta_0 66 % of LFW #51's "surprise" in its open mouth
    (12 %); for the "angry" LFW #22 lrp_epsilon_0_1 has 45 % in the eye band (16 %) and 25 % in
    the mouth box (14 %).
    """
    maps = explained.maps[framework]
    names = explained.names

    def share(method: str, name: str, region) -> tuple[float, float]:
        r = np.abs(maps[method][names.index(name)])
        area = np.zeros((64, 64), dtype=bool)
        area[region] = True
        return float(r[area].sum() / r.sum()), float(area.mean())

    got, area = share("lrp_epsilon_0_1", "astronaut", MOUTH["astronaut"])
    assert got > 2.5 * area, (got, area)
    got, area = share("lrp_alpha_1_beta_0", "lfw #51", MOUTH["lfw #51"])
    assert got > 4.0 * area, (got, area)
    eyes, eyes_area = share("lrp_epsilon_0_1", "lfw #22", EYES_22)
    mouth, mouth_area = share("lrp_epsilon_0_1", "lfw #22", MOUTH_22)
    assert eyes > 2.0 * eyes_area and eyes / eyes_area > 1.5 * mouth / mouth_area, (eyes, mouth)


def test_composite_a_equals_alpha_beta_on_this_model(explained):
    """No Dense layer: sequential composite A uses alpha1-beta0 everywhere (documented)."""
    for framework in ("torch", "tf"):
        a = explained.maps[framework]["lrp_sequential_composite_a"]
        b = explained.maps[framework]["lrp_alpha_1_beta_0"]
        np.testing.assert_allclose(a, b, atol=1e-6 * np.abs(b).max())


# -- (5) the figure ----------------------------------------------------------------------------


def test_run_photo_demo_writes_titled_png(tmp_path, models, monkeypatch):
    import matplotlib.image

    import shared_spec.drawing

    figures = []
    original = shared_spec.drawing.method_grid

    def recording_grid(*args, **kwargs):
        figure = original(*args, **kwargs)
        figures.append(figure)
        return figure

    monkeypatch.setattr(shared_spec.drawing, "method_grid", recording_grid)
    methods = ("gradient", "lrp_epsilon_0_1")
    paths = photo.run_photo_demo(tmp_path / "out", frameworks=("torch", "tf"), methods=methods)
    assert paths == [(tmp_path / "out" / photo.FIGURE_FILE).resolve()]
    path = paths[0]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 50_000 < path.stat().st_size < 5_000_000

    pixels = matplotlib.image.imread(path)
    rows, columns = 8, 1 + len(methods)  # 4 photos x 2 frameworks; input + methods
    panel = photo._PANEL_INCHES * photo._DPI
    assert pixels.shape[0] == pytest.approx(rows * panel + 0.9 * photo._DPI, abs=3)
    assert pixels.shape[1] == pytest.approx(columns * panel, abs=3)
    assert pixels[..., :3].std() > 0.1  # faces and maps, not a blank page

    (figure,) = figures
    assert "facial-expression" in figure.get_suptitle() and "Justin Shenk" in figure.get_suptitle()
    inputs = [ax for ax in figure.axes if ax.get_label().startswith("input[")]
    labels = [ax.get_ylabel() for ax in inputs]
    expected = [
        f"{name} ({fw})\n{emotion} p={p:.2f}"
        for name, emotion, p in (("astronaut", "happy", 1.0), ("lfw #1", "happy", 0.99),
                                 ("lfw #22", "angry", 0.73), ("lfw #51", "surprise", 0.54))
        for fw in ("torch", "tf")
    ]
    assert labels == expected
    titles = [ax.get_title() for ax in figure.axes if ax.get_label() in ("gradient[0]", "lrp_epsilon_0_1[0]")]
    assert titles == ["gradient", "lrp_epsilon_0_1"]


def test_run_photo_demo_rejects_bad_arguments(tmp_path):
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"")
    with pytest.raises(ValueError, match="directory"):
        photo.run_photo_demo(a_file)
    with pytest.raises(ValueError, match="frameworks"):
        photo.explain_photos(("jax",))
    with pytest.raises(ValueError, match="methods"):
        photo.explain_photos(("tf",), methods=())


# -- (6) the oneDNN workaround -----------------------------------------------------------------

# TensorFlow 2.21's oneDNN kernel for the input gradient of a 1x1, stride-2, 'SAME' convolution
# crashes the process (double free / segfault); the emotion model has such convolutions.
REPRODUCER = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 60, 60, 8)).astype(np.float32)
    k = rng.standard_normal((1, 1, 8, 8)).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.conv2d(xt, tf.constant(k), strides=2, padding="SAME")
        loss = tf.reduce_sum(y * y)
    g = tape.gradient(loss, xt).numpy()
    # d/dx sum(y^2): 2 y k^T at the sampled (even) positions, 0 elsewhere
    y_np = np.einsum("nhwc,cd->nhwd", x[:, ::2, ::2], k[0, 0])
    expected = np.zeros_like(x)
    expected[:, ::2, ::2] = 2.0 * np.einsum("nhwd,cd->nhwc", y_np, k[0, 0])
    print("MAXERR", float(np.abs(g - expected).max() / np.abs(expected).max()))
    """
)


def _run_reproducer(onednn: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return subprocess.run(
        [sys.executable, "-c", REPRODUCER], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_onednn_off_computes_the_gradient():
    _needs("tensorflow")
    done = _run_reproducer("0")
    assert done.returncode == 0, done.stderr[-2000:]
    error = float(done.stdout.split("MAXERR")[1])
    assert error < 1e-5


def test_onednn_on_crashes_without_the_workaround():
    """Records whether the crash the workaround avoids reproduces on this machine."""
    _needs("tensorflow")
    try:
        done = _run_reproducer(None)
    except subprocess.TimeoutExpired:
        # heap corruption is undefined behaviour: besides SIGSEGV/SIGABRT it has been seen (once, in
        # CI) to leave the process hanging; either way the gradient never completes without the workaround
        return
    if done.returncode == 0:
        pytest.xfail(
            "TF's oneDNN gradient of the 1x1 stride-2 'SAME' convolution did not crash here "
            "(other TF version / CPU); TF_ENABLE_ONEDNN_OPTS=0 is then merely harmless"
        )
    # killed by a signal (SIGSEGV / SIGABRT from the double free), not a Python error
    assert done.returncode < 0 or done.returncode >= 128, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("preset", [None, "1", "0"])
def test_module_sets_onednn_only_when_unset(preset):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
    if preset is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = preset
    code = (
        "import os, sys; import signxai_tools.demo.photo; "
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['TF_CPP_MIN_LOG_LEVEL']); "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'skimage', 'signxai_captum', "
        "'signxai_tf', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first == f"{'0' if preset is None else preset} 2"
    assert second == "[]"  # importing the module imports no framework, no scikit-image
