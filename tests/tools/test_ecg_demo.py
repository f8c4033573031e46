"""Tests of the ECG demo (signxai_tools.demo.ecg): shipped data, derived labels, model, maps, figures.

The numbers asserted below were measured on the shipped files (see docs/ecg.md) and are asserted
with a margin.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import subprocess
import sys
import zlib

import numpy as np
import pytest

from signxai_tools.demo import ecg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HALF = ecg.WINDOW // 2
QRS = 22  # +-22 samples (61 ms) around the R peak: the 44-sample "QRS window"


def _png_text(path) -> dict[str, str]:
    """The tEXt / zTXt / iTXt chunks of a PNG as a dict."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, {}
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = zlib.decompress(value[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, value = rest.partition(b"\0")  # translated keyword
            chunks[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
        pos += 12 + length
    return chunks


def _mass(relevance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|relevance| mass per beat: total, QRS window (centre), larger of the two edge windows."""
    r = np.abs(relevance)
    total = r.sum(axis=1)
    centre = r[:, HALF - QRS : HALF + QRS].sum(axis=1)
    edge = np.maximum(r[:, : 2 * QRS].sum(axis=1), r[:, -2 * QRS :].sum(axis=1))
    return total, centre, edge


@pytest.fixture(scope="module")
def beats():
    return ecg.derive_beats()


@pytest.fixture(scope="module")
def shipped():
    return ecg.load_ecg_weights()


@pytest.fixture(scope="module")
def held_out():
    return ecg.held_out_beats()


@pytest.fixture(scope="module")
def keras_model():
    pytest.importorskip("torch")  # torch before TensorFlow in this process
    pytest.importorskip("tensorflow")
    return ecg.build_keras_ecg_model()


@pytest.fixture(scope="module")
def explained(held_out, keras_model):
    """All held-out beats explained with ECG_METHODS in both frameworks (a few seconds)."""
    return ecg.explain_beats(held_out[0], frameworks=("torch", "tf"), methods=ecg.ECG_METHODS)


# --------------------------------------------------------------------------
# data and labels


def test_module_import_is_light():
    code = (
        "import sys; import signxai_tools.demo.ecg; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_record_sha256_and_content():
    data = importlib.resources.files("signxai_tools.demo").joinpath(ecg.DATA_FILE).read_bytes()
    assert len(data) == 119_035
    assert hashlib.sha256(data).hexdigest() == ecg.DATA_SHA256
    adc = ecg.load_ecg_record()
    assert adc.shape == (108_000,) and adc.dtype == np.int64
    # scipy.misc.electrocardiogram(): (adc - 1024) / 200, documented mean -0.16510875 and std 0.5992474
    mv = (adc - ecg.ADC_ZERO) / ecg.ADC_GAIN
    np.testing.assert_allclose([mv.mean(), mv.std()], [-0.16510875, 0.5992473991177294], rtol=1e-6)
    np.testing.assert_allclose(mv[:3], [-0.245, -0.215, -0.185])


def test_licence_file_has_attribution():
    text = importlib.resources.files("signxai_tools.demo").joinpath("data/LICENSE-ecg-data.txt").read_text()
    for needle in ("ODC-By", "10.13026/C2F305", "Moody GB, Mark RG", "Goldberger AL", "BSD 3-Clause", ecg.DATA_SHA256):
        assert needle in text


def test_label_derivation_reproduces_shipped_labels(beats, shipped):
    np.testing.assert_array_equal(beats.r_peaks, shipped["r_peaks"])
    np.testing.assert_array_equal(beats.widths, shipped["widths"])
    np.testing.assert_array_equal(beats.labels, shipped["labels"])
    train, held = ecg.split_beats(beats)
    np.testing.assert_array_equal(train, shipped["train_index"])
    np.testing.assert_array_equal(held, shipped["held_out_index"])
    # the counts measured when the model was trained
    assert len(beats.r_peaks) == 499
    assert np.bincount(beats.labels + 1).tolist() == [21, 385, 93]  # left out, normal, wide
    assert np.bincount(beats.labels[train]).tolist() == [287, 53]
    assert np.bincount(beats.labels[held]).tolist() == [98, 40]


def test_label_rule(beats):
    widths, labels = beats.widths, beats.labels
    assert np.all(widths[labels == 0] <= ecg.NARROW_MAX)
    assert np.all(widths[labels == 1] >= ecg.WIDE_MIN)
    # wide beats: the R deflection at half height lasts >= 61 ms; normal ones <= 39 ms
    assert np.median(widths[labels == 1]) * 1000 / ecg.FS > 80.0
    assert np.median(widths[labels == 0]) * 1000 / ecg.FS < 25.0
    # the windows are the baseline-free signal in mV, centred on the R peak
    k = np.flatnonzero(labels >= 0)
    centre = np.abs(beats.windows[k, HALF, 0])
    assert np.all(centre >= np.abs(beats.windows[k, HALF - ecg.REFINE : HALF + ecg.REFINE, 0]).max(axis=1) - 1e-6)
    # R peaks are physiological: RR between 0.28 s and 6 s (a flat-line gap at 210 s)
    rr = np.diff(beats.r_peaks) / ecg.FS
    assert rr.min() > 0.25 and np.median(rr) == pytest.approx(0.569, abs=0.01)


def test_split_is_by_time(beats):
    train, held = ecg.split_beats(beats)
    boundary = 0.7 * ecg.N_SAMPLES
    assert beats.r_peaks[train].max() + HALF <= boundary <= beats.r_peaks[held].min() - HALF


def test_detector_on_a_synthetic_series():
    # two narrow spikes and one wide bump on a flat line: found, widths measured exactly
    xb = np.zeros(2000, dtype=np.int64)
    xb[300] = 500
    xb[299] = xb[301] = 100
    xb[800:841] = 250  # 41 samples at 1.25 mV
    xb[1500:1503] = -400
    peaks = ecg.detect_r_peaks(xb)
    assert peaks.tolist() == [300, 800, 1500]
    assert ecg.qrs_half_widths(xb, peaks).tolist() == [1, 41, 3]


# --------------------------------------------------------------------------
# model


def test_held_out_balanced_accuracy(keras_model, held_out, shipped):
    import keras

    x, y, _ = held_out
    logits = keras.ops.convert_to_numpy(keras_model(x, training=False))
    pred = np.argmax(logits, axis=1)
    balanced, recalls = ecg.balanced_accuracy(y, pred)
    # measured by scripts/train_ecg_model.py: accuracy 1.0, recall 1.0 / 1.0 (98 normal, 40 wide)
    assert balanced >= 0.97
    assert recalls.min() >= 0.95
    assert balanced == pytest.approx(float(shipped["held_out_balanced_accuracy"]), abs=1e-6)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(prob, shipped["held_out_probabilities"], atol=1e-5)


def test_torch_twin_logits_equal_keras(keras_model, held_out):
    import keras
    import torch

    x = held_out[0]
    twin = ecg.build_torch_ecg_model()
    with torch.no_grad():
        torch_logits = twin(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))).numpy()
    keras_logits = keras.ops.convert_to_numpy(keras_model(x, training=False))
    # measured: max |difference| 1.9e-6 for logits up to 17
    np.testing.assert_allclose(torch_logits, keras_logits, rtol=1e-5, atol=2e-5)


# --------------------------------------------------------------------------
# explanations


def test_maps_agree_across_frameworks(explained, held_out):
    y = held_out[1]
    torch_res, tf_res = explained["torch"], explained["tf"]
    np.testing.assert_array_equal(torch_res["predictions"], tf_res["predictions"])
    np.testing.assert_array_equal(tf_res["predictions"], y)
    for method in ecg.ECG_METHODS:
        a, b = torch_res["maps"][method], tf_res["maps"][method]
        assert a.shape == b.shape == (len(y), ecg.WINDOW)
        scale = np.abs(b).max(axis=1, keepdims=True)
        assert np.all(scale > 0) or method == "grad_cam_timeseries"
        # measured: max |torch - tf| / max|map| of the beat <= 3.6e-7 for all four methods
        relative = np.abs(a - b) / np.maximum(scale, 1e-30)
        assert relative.max() < 1e-4, method


@pytest.mark.parametrize(
    ("method", "min_mean_centre", "min_median_ratio", "min_ratio"),
    [
        # measured on the 40 held-out wide beats (both frameworks): centre share 0.396 / 0.539,
        # centre / edge median 3.33 / 6.01, minimum 1.02 / 2.26
        ("gradient_x_sign", 0.30, 2.5, 0.9),
        ("lrpsign_epsilon_0_1", 0.45, 4.0, 1.5),
        # measured 0.870 / 35.5 / 14.6
        ("lrp_epsilon_0_1", 0.75, 20.0, 8.0),
    ],
)
def test_wide_beats_relevance_sits_in_the_qrs(explained, held_out, method, min_mean_centre, min_median_ratio, min_ratio):
    y = held_out[1]
    wide = y == 1
    for framework, result in explained.items():
        total, centre, edge = _mass(result["maps"][method][wide])
        share = centre / total
        ratio = centre / edge
        # the QRS window is 44 of 256 samples (17 %) but holds far more of the |relevance|
        assert share.mean() >= min_mean_centre, (framework, share.mean())
        assert np.median(ratio) >= min_median_ratio, (framework, np.median(ratio))
        assert ratio.min() >= min_ratio, (framework, ratio.min())


@pytest.mark.parametrize(
    ("method", "min_flanks"),
    # measured (40 wide beats): flank share 0.303 / 0.426 / 0.582, apex negative in 40 of 40
    [("gradient_x_sign", 0.2), ("lrpsign_epsilon_0_1", 0.3), ("lrp_epsilon_0_1", 0.45)],
)
def test_wide_beats_evidence_is_the_broad_flanks(explained, held_out, method, min_flanks):
    y = held_out[1]
    maps = explained["torch"]["maps"][method][y == 1]
    total = np.abs(maps).sum(axis=1)
    apex = maps[:, HALF - 4 : HALF + 5].sum(axis=1)  # +-11 ms around the R peak
    flanks = maps[:, HALF - QRS : HALF - 4].sum(axis=1) + maps[:, HALF + 5 : HALF + QRS + 1].sum(axis=1)
    assert (flanks / total).mean() >= min_flanks
    assert np.mean(apex < 0) >= 0.9


def test_sign_methods_concentrate_more_on_wide_qrs_than_on_normal(explained, held_out):
    y = held_out[1]
    for method in ("gradient_x_sign", "lrpsign_epsilon_0_1"):
        total, centre, _ = _mass(explained["tf"]["maps"][method])
        share = centre / total
        # measured: wide 0.396 / 0.539, normal 0.207 / 0.228
        assert share[y == 1].mean() > share[y == 0].mean() + 0.12, method


def test_grad_cam_of_wide_beats_points_after_the_qrs(explained, held_out):
    y = held_out[1]
    cam = explained["tf"]["maps"]["grad_cam_timeseries"]
    assert cam.min() >= 0.0
    total, centre, _ = _mass(cam[y == 1])
    late = cam[y == 1][:, HALF + 15 : HALF + 108].sum(axis=1)  # +42 ms .. +300 ms: ST segment and T wave
    # measured: centre share 0.000, ST-T share 0.954 (min 0.583)
    assert (centre / total).max() <= 0.05
    assert (late / total).mean() >= 0.85
    # normal beats: Grad-CAM on the QRS (measured centre share 0.407, minimum 0.300)
    total_n, centre_n, _ = _mass(cam[y == 0])
    assert (centre_n / total_n).min() >= 0.2


# --------------------------------------------------------------------------
# figures


def test_run_ecg_demo_writes_titled_pngs(tmp_path, held_out, keras_model):
    paths = ecg.run_ecg_demo(tmp_path, frameworks=("torch", "tf"))
    assert [p.name for p in paths] == ["signxai-ecg-torch.png", "signxai-ecg-tf.png"]
    x, y, r = held_out
    index = ecg.select_demo_beats(x, y)
    assert y[index].tolist() == [0, 1]
    for path in paths:
        assert path.is_file() and path.stat().st_size > 20_000
        text = _png_text(path)
        titles = text["Description"].split("\n\n")
        assert len(titles) == 2 * len(ecg.ECG_METHODS)
        for method in ecg.ECG_METHODS:
            assert f"{method}\ntrue normal / pred normal (p=1.00)" in titles
            assert f"{method}\ntrue wide / pred wide (p=1.00)" in titles
        assert f"{r[index[0]] / ecg.FS:.1f} s" in text["Title"]


def test_figure_panels_carry_the_maps(held_out, keras_model):
    x, y, r = held_out
    index = ecg.select_demo_beats(x, y, per_class=1)
    results = ecg.explain_beats(x[index], frameworks=("tf",), methods=("lrp_epsilon_0_1",))
    figures = ecg.ecg_figures(x[index], y[index], r[index], results, ["lrp_epsilon_0_1"])
    fig = figures["tf"]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2
    for k, ax in enumerate(panels):
        line = ax.collections[0]
        np.testing.assert_allclose(line.get_array(), results["tf"]["maps"]["lrp_epsilon_0_1"][k])
        assert ax.get_title().startswith("lrp_epsilon_0_1\ntrue " + ecg.CLASS_NAMES[y[index][k]])
        assert ax.get_ylabel() == "MLII (mV)"
