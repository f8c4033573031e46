"""``signxai explain`` (signxai_tools.explain_cli) and the ``signxai demo --dataset`` dispatch.

Tiny models are built here (Keras Conv2D / Conv1D saved as .keras and .h5; a torch CNN saved with
torch.jit.script / trace and torch.export), inputs are written to tmp_path, and the maps the
command writes are compared with signxai_tf.explain / signxai_captum.explain on inputs
preprocessed by hand.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

from signxai_tools import cli
from signxai_tools.cli import build_parser, main

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
IMAGE_PX = (500, 400)  # (width, height) of an image overlay: 5 x 4 inches at 100 dpi


def _png_size(path: pathlib.Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _predicted(stdout: str) -> dict[str, tuple[int, float]]:
    """label -> (predicted class, probability) from the command's output."""
    found = {}
    for label, cls, prob in re.findall(r"^(\S+): predicted class (\d+) \(probability ([0-9.]+)", stdout, re.MULTILINE):
        found[label] = (int(cls), float(prob))
    return found


def _assert_maps_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6 * scale)


# --------------------------------------------------------------------------
# fixtures: files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_inputs")
    rng = np.random.default_rng(0)
    png_pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(png_pixels).save(root / "cat.png")
    Image.fromarray(rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)).save(root / "dog.jpg", quality=95)
    np.save(root / "batch_nhwc.npy", rng.normal(size=(3, 8, 8, 3)).astype(np.float32))
    np.save(root / "batch_nchw.npy", rng.normal(size=(5, 3, 8, 8)).astype(np.float32))
    np.save(root / "small.npy", rng.normal(size=(5, 5, 3)).astype(np.float32))
    series = np.stack([np.sin(np.arange(20) / 3.0), np.cos(np.arange(20) / 4.0)], axis=1).astype(np.float32)
    with open(root / "ecg.csv", "w", encoding="utf-8") as handle:
        handle.write("time,lead I,lead II\n")
        for t, (a, b) in enumerate(series):
            handle.write(f"t{t},{a:.6f},{b:.6f}\n")
    (root / "broken.png").write_bytes(b"this is not a png")
    (root / "notes.txt").write_text("hello")
    (root / "model.txt").write_text("not a model")
    return types.SimpleNamespace(
        root=root, png=root / "cat.png", png_pixels=png_pixels, jpg=root / "dog.jpg",
        npy_nhwc=root / "batch_nhwc.npy", npy_nchw=root / "batch_nchw.npy", small=root / "small.npy",
        csv=root / "ecg.csv", series=np.array([[float(f"{v:.6f}") for v in row] for row in series], np.float32),
        broken=root / "broken.png", txt=root / "notes.txt", model_txt=root / "model.txt",
    )


# --------------------------------------------------------------------------
# fixtures: models


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("keras_models")
    image = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(5),
        ]
    )
    series = keras.Sequential(
        [
            keras.Input((20, 2)),
            keras.layers.Conv1D(3, 3, activation="relu"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    image.save(root / "image.keras")
    image.save(root / "image.h5")
    series.save(root / "series.keras")
    return types.SimpleNamespace(
        image=image, series=series, keras_file=root / "image.keras", h5_file=root / "image.h5",
        series_file=root / "series.keras",
    )


@pytest.fixture(scope="module")
def torch_models(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("torch_models")
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)
    ).eval()
    example = torch.randn(2, 3, 8, 8)
    with warnings.catch_warnings():  # torch.jit is deprecated (FutureWarning) but still works
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(model).save(str(root / "scripted.pt"))
        torch.jit.trace(model, example).save(str(root / "traced.pth"))
    dynamic = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(dynamic, str(root / "exported.pt2"))
    torch.export.save(torch.export.export(model, (example,)), str(root / "static.pt2"))
    torch.save(model.state_dict(), str(root / "state_dict.pt"))
    return types.SimpleNamespace(
        model=model, scripted=root / "scripted.pt", traced=root / "traced.pth",
        exported=root / "exported.pt2", static=root / "static.pt2", state_dict=root / "state_dict.pt",
    )


def _keras_logits(model, x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


def _torch_logits(model, x):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


# --------------------------------------------------------------------------
# Keras files: the maps equal signxai_tf.explain on inputs preprocessed by hand


def test_keras_images_and_arrays(keras_models, files, tmp_path, capsys):
    import signxai_tf

    out = tmp_path / "out"
    mean, std = np.array([0.5, 0.4, 0.3], np.float32), np.array([0.2, 0.25, 0.3], np.float32)
    argv = [
        "explain", str(keras_models.keras_file), str(files.png), str(files.jpg), str(files.npy_nhwc),
        "-m", "gradient", "--method", "lrp_epsilon_0_1", "--mean", *map(str, mean), "--std", *map(str, std),
        "--out", str(out), "--no-progress",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.err == ""
    # the defaults in effect are printed first
    assert "size 8x8 (the model's input size)" in captured.out and "scale 0-1 (default)" in captured.out
    assert "channels last (the Keras default)" in captured.out

    # by hand: PNG exact pixels; JPG decoded and resized (bilinear) to the model's 8x8
    png = files.png_pixels.astype(np.float32) / 255.0
    with Image.open(files.jpg) as image:
        jpg = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BILINEAR), np.float32) / 255.0
    x = np.stack([(png - mean) / std, (jpg - mean) / std, *np.load(files.npy_nhwc)]).astype(np.float32)
    names = ["cat", "dog", "batch_nhwc_0", "batch_nhwc_1", "batch_nhwc_2"]
    labels = ["cat.png", "dog.jpg", "batch_nhwc.npy[0]", "batch_nhwc.npy[1]", "batch_nhwc.npy[2]"]
    logits = _keras_logits(keras_models.image, x)
    predicted = _predicted(captured.out)
    for i, label in enumerate(labels):
        assert predicted[label][0] == int(np.argmax(logits[i]))
        assert predicted[label][1] == pytest.approx(_softmax(logits[i]).max(), abs=6e-4)
    assert "softmax of the logits" in captured.out
    for method in ("gradient", "lrp_epsilon_0_1"):
        expected = signxai_tf.explain(keras_models.image, x, method, target=list(np.argmax(logits, axis=1)))
        for i, name in enumerate(names):
            _assert_maps_close(np.load(out / f"{name}__{method}.npy"), expected[i])
            assert _png_size(out / f"{name}__{method}.png") == IMAGE_PX
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}__{m}.{e}" for n in names for m in ("gradient", "lrp_epsilon_0_1") for e in ("npy", "png")
    )


def test_keras_h5_scale_bgr_and_target(keras_models, files, tmp_path, capsys):
    import signxai_tf

    out = tmp_path / "h5"
    argv = ["explain", str(keras_models.h5_file), str(files.png), "-m", "gradient_x_sign", "--scale=-1-1",
            "--bgr", "--target", "3", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    x = (files.png_pixels.astype(np.float32) / 255.0 * 2.0 - 1.0)[..., ::-1][None].copy()
    logits = _keras_logits(keras_models.image, x)
    assert _predicted(stdout)["cat.png"][0] == int(np.argmax(logits[0]))
    assert "explaining class 3" in stdout and "BGR order" in stdout and "scale -1-1 (--scale)" in stdout
    expected = signxai_tf.explain(keras_models.image, x, "gradient_x_sign", target=3)
    _assert_maps_close(np.load(out / "cat__gradient_x_sign.npy"), expected[0])


def test_keras_csv_series(keras_models, files, tmp_path, capsys):
    import signxai_tf

    out = tmp_path / "series"
    assert main(["explain", str(keras_models.series_file), str(files.csv), "-m", "lrpsign_epsilon_0_1",
                 "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    x = files.series[None]  # the string "time" column is dropped: (1, 20, 2)
    probs = _keras_logits(keras_models.series, x)
    cls, prob = _predicted(stdout)["ecg.csv"]
    assert cls == int(np.argmax(probs[0])) and prob == pytest.approx(probs[0].max(), abs=6e-4)
    assert "the model's output" in stdout  # a softmax output is taken as probabilities
    expected = signxai_tf.explain(keras_models.series, x, "lrpsign_epsilon_0_1", target=[cls])
    _assert_maps_close(np.load(out / "ecg__lrpsign_epsilon_0_1.npy"), expected[0])
    # two channels: 8 x (1.5 * 2 + 1) inches at 100 dpi
    assert _png_size(out / "ecg__lrpsign_epsilon_0_1.png") == (800, 400)


# --------------------------------------------------------------------------
# PyTorch files: TorchScript and torch.export run the gradient family, equal to the nn.Module's maps


@pytest.mark.parametrize("which", ["scripted", "traced", "exported"])
def test_torch_files_gradient_family(which, torch_models, files, tmp_path, capsys):
    import signxai_captum

    out = tmp_path / which
    path = getattr(torch_models, which)
    size = [] if which == "exported" else ["--size", "8", "8"]  # the export archive knows its input size
    argv = ["explain", str(path), str(files.jpg), str(files.npy_nchw), "-m", "gradient,integrated_gradients",
            *size, "--mean", "0.5", "--std", "0.25", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert ("size 8x8 (the model's input size)" if which == "exported" else "size 8x8 (--size)") in stdout
    assert "channels first (the PyTorch default)" in stdout
    with Image.open(files.jpg) as image:
        jpg = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BILINEAR), np.float32) / 255.0
    x = np.concatenate([((jpg - 0.5) / 0.25).transpose(2, 0, 1)[None], np.load(files.npy_nchw)]).astype(np.float32)
    logits = _torch_logits(torch_models.model, x)
    predicted = _predicted(stdout)
    labels = ["dog.jpg"] + [f"batch_nchw.npy[{i}]" for i in range(5)]
    assert [predicted[label][0] for label in labels] == list(np.argmax(logits, axis=1))
    names = ["dog"] + [f"batch_nchw_{i}" for i in range(5)]
    for method in ("gradient", "integrated_gradients"):
        expected = signxai_captum.explain(torch_models.model, x, method, target=list(np.argmax(logits, axis=1)))
        for i, name in enumerate(names):
            _assert_maps_close(np.load(out / f"{name}__{method}.npy"), expected[i])
        assert _png_size(out / f"dog__{method}.png") == IMAGE_PX


def test_torchscript_image_as_is_without_size(torch_models, files, tmp_path, capsys):
    import signxai_captum

    assert main(["explain", str(torch_models.scripted), str(files.png), "-m", "gradient", "--out",
                 str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert "size as is (each image's own size: the model's input size is unknown" in stdout
    x = (files.png_pixels.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    expected = signxai_captum.explain(torch_models.model, x, "gradient")
    _assert_maps_close(np.load(tmp_path / "cat__gradient.npy"), expected[0])


# --------------------------------------------------------------------------
# errors: one line, the right exit status, no traceback


def _run_error(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("signxai explain: error: "), captured.err
    return status, lines[0]


def _usage_cases(f, k, t):
    return [
        ([str(f.root / "missing.keras"), str(f.png)], "does not exist"),
        ([str(f.model_txt), str(f.png)], "unknown model format"),
        ([str(t.state_dict), str(f.png)], "torch.save() file"),
        ([str(k.keras_file), str(f.root / "missing.png")], "'" + str(f.root / "missing.png") + "' does not exist"),
        ([str(k.keras_file), str(f.txt)], "unknown extension '.txt'"),
        ([str(k.keras_file), str(f.png), "-m", "gradiant"], "Did you mean: gradient"),
        ([str(t.scripted), str(f.png), "-m", "lrp_epsilon_0_1"], "nn.Module with its layers"),
        ([str(t.exported), str(f.png), "-m", "grad_cam"], "torch.export file does not keep"),
        ([str(k.keras_file), str(f.png), "--std", "0"], "--std values must not be 0"),
        ([str(k.keras_file), str(f.png), "--mean", "0.1", "0.2"], "--mean takes 1 or 3 value(s)"),
        ([str(k.keras_file), str(f.png), "--out", str(f.png)], "is a file; give a directory"),
    ]


def _runtime_cases(f, k, t):
    return [
        ([str(k.keras_file), str(f.broken)], "cannot read image"),
        ([str(k.keras_file), str(f.small)], "shape mismatch: 'small.npy' gives a sample of shape (5, 5, 3) but the model takes (N, 8, 8, 3)"),
        ([str(k.keras_file), str(f.csv)], "shape mismatch: 'ecg.csv' is a time series"),
        ([str(k.keras_file), str(f.png), "--grayscale"], "shape mismatch: --grayscale gives 1 channel(s)"),
        ([str(k.keras_file), str(f.png), "--target", "5"], "--target 5 is out of range: the model has 5 output(s) (0..4)"),
        ([str(t.scripted), str(f.png), "--grayscale"], "the model could not run on input of shape (1, 1, 8, 8)"),
        ([str(t.static), str(f.png)], "dynamic_shapes"),
    ]


def test_usage_errors_exit_2(keras_models, torch_models, files, capsys):
    for args, message in _usage_cases(files, keras_models, torch_models):
        if "-m" not in args:
            args = [*args, "-m", "gradient"]
        status, line = _run_error(["explain", *args], capsys)
        assert status == 2 and message in line, (args, line)


def test_runtime_errors_exit_1(keras_models, torch_models, files, capsys):
    for args, message in _runtime_cases(files, keras_models, torch_models):
        status, line = _run_error(["explain", *args, "-m", "gradient"], capsys)
        assert status == 1 and message in line, (args, line)


@pytest.mark.parametrize(
    "argv", [["explain"], ["explain", "m.keras"], ["explain", "m.keras", "a.png"],
             ["explain", "m.keras", "a.png", "-m", "gradient", "--target", "-1"],
             ["explain", "m.keras", "a.png", "-m", "gradient", "--scale", "1-1"],
             ["explain", "m.keras", "a.png", "-m", "gradient", "--size", "8"],
             ["explain", "m.keras", "a.png", "-m", "gradient", "--rgb", "--grayscale"]],
)
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert "signxai explain: error:" in capsys.readouterr().err


def test_scale_parsing():
    from signxai_tools.explain_cli import parse_scale

    assert parse_scale("0-1") == (0.0, 1.0)
    assert parse_scale("0-255") == (0.0, 255.0)
    assert parse_scale("-1-1") == (-1.0, 1.0)
    assert parse_scale("-0.5:0.5") == (-0.5, 0.5)


def test_probabilities():
    from signxai_tools.explain_cli import probabilities

    probs, source = probabilities(np.array([[0.2, 0.8], [1.0, 0.0]]))
    assert source == "the model's output" and np.allclose(probs, [[0.2, 0.8], [1.0, 0.0]])
    logits = np.array([[1.0, 2.0, 0.5]])
    probs, source = probabilities(logits)
    assert source == "softmax of the logits" and np.allclose(probs, _softmax(logits))


# --------------------------------------------------------------------------
# progress bar


def test_progress_bar_only_for_more_than_four_items(torch_models, files, tmp_path, capsys):
    base = ["explain", str(torch_models.scripted), str(files.npy_nchw), "-m", "gradient", "--out", str(tmp_path)]
    assert main(base) == 0  # 5 samples x 1 method
    err = capsys.readouterr().err
    assert "explaining" in err and "5/5" in err
    assert main([*base, "--no-progress"]) == 0
    assert "explaining" not in capsys.readouterr().err
    np.save(tmp_path / "four.npy", np.load(files.npy_nchw)[:4])
    assert main([*base[:2], str(tmp_path / "four.npy"), *base[3:]]) == 0  # 4 items: no bar
    assert "explaining" not in capsys.readouterr().err


# --------------------------------------------------------------------------
# processes: exit status, no traceback, validation before any framework import


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=False)


def test_usage_errors_import_no_framework(keras_models, torch_models, files):
    cases = [
        [str(keras_models.keras_file), str(files.png), "-m", "gradiant"],
        [str(torch_models.scripted), str(files.png), "-m", "lrp_z"],
        [str(keras_models.keras_file), str(files.txt), "-m", "gradient"],
    ]
    code = (
        "import json, sys\n"
        "from signxai_tools.cli import main\n"
        f"statuses = [main(['explain', *args]) for args in {cases!r}]\n"
        "print(json.dumps([statuses, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'tensorflow', 'keras'})]))\n"
    )
    result = _python(code)
    statuses, frameworks = json.loads(result.stdout.strip().splitlines()[-1])
    assert statuses == [2, 2, 2] and frameworks == []
    assert "Traceback" not in result.stderr and result.stderr.count("signxai explain: error:") == 3


def test_command_line_process(torch_models, files, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "signxai_tools.cli", "explain", str(torch_models.scripted), str(files.png),
               "-m", "gradient", "--out", str(tmp_path)]
    ok = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "Traceback" not in ok.stderr and "Warning" not in ok.stderr
    x = (files.png_pixels.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
    cls = int(np.argmax(_torch_logits(torch_models.model, x)))
    assert f"cat.png: predicted class {cls} " in ok.stdout and str(tmp_path) in ok.stdout
    assert (tmp_path / "cat__gradient.npy").is_file()
    bad = subprocess.run([*command, "--target", "9"], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "signxai explain: error: --target 9 is out of range: the model has 5 output(s) (0..4)"


def test_parsing_explain_imports_no_framework():
    result = _python(
        "import json, sys; import signxai_tools.cli as c; "
        "c.build_parser().parse_args(['explain', 'm.keras', 'a.png', '-m', 'gradient']); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'tensorflow', 'keras'})))"
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# --------------------------------------------------------------------------
# signxai demo --dataset: dispatch


@pytest.fixture
def demo_stubs(monkeypatch, tmp_path):
    calls = []

    def runner(dataset):
        def run(out_dir, frameworks=("torch", "tf"), methods=None):
            calls.append((dataset, out_dir, frameworks, methods))
            return [pathlib.Path(out_dir) / f"{dataset}.png"]

        return run

    for dataset in ("photo", "ecg"):
        module = types.ModuleType(f"signxai_tools.demo.{dataset}")
        setattr(module, f"run_{dataset}_demo", runner(dataset))
        monkeypatch.setitem(sys.modules, f"signxai_tools.demo.{dataset}", module)

    def run_demo(out_path, n_samples, frameworks, methods):
        calls.append(("digits", out_path, n_samples, frameworks, methods))
        return pathlib.Path(out_path)

    import signxai_tools.demo

    monkeypatch.setattr(signxai_tools.demo, "run_demo", run_demo)
    return calls


def test_demo_dataset_parsing():
    assert build_parser().parse_args(["demo"]).dataset == "all"
    assert build_parser().parse_args(["demo"]).out is None
    for dataset in ("photo", "ecg", "digits", "all"):
        assert build_parser().parse_args(["demo", "--dataset", dataset]).dataset == dataset
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["demo", "--dataset", "mnist"])
    assert info.value.code == 2


def test_demo_dispatch(demo_stubs, capsys, tmp_path):
    assert main(["demo", "-q"]) == 0  # all = photo + ecg into ./signxai-demo/
    assert demo_stubs == [("photo", pathlib.Path("signxai-demo"), ("torch", "tf"), None),
                          ("ecg", pathlib.Path("signxai-demo"), ("torch", "tf"), None)]
    assert capsys.readouterr().out.splitlines() == [
        f"Wrote heatmaps to {pathlib.Path('signxai-demo') / 'photo.png'}",
        f"Wrote heatmaps to {pathlib.Path('signxai-demo') / 'ecg.png'}",
    ]
    demo_stubs.clear()
    assert main(["demo", "--dataset", "ecg", "--framework", "tf", "--methods", "gradient,lrp_z",
                 "--out", str(tmp_path), "-q"]) == 0
    assert demo_stubs == [("ecg", tmp_path, ("tf",), ["gradient", "lrp_z"])]
    demo_stubs.clear()
    assert main(["demo", "--dataset", "photo", "--framework", "torch", "-q"]) == 0
    assert demo_stubs == [("photo", pathlib.Path("signxai-demo"), ("torch",), None)]
    demo_stubs.clear()
    assert main(["demo", "--dataset", "digits", "--samples", "3", "--methods", "gradient", "-q"]) == 0
    assert demo_stubs == [("digits", cli.DEFAULT_DIGITS_OUT, 3, ("torch", "tf"), ["gradient"])]
    capsys.readouterr()


def test_demo_errors(demo_stubs, monkeypatch, capsys, tmp_path):
    def failing(out_dir, frameworks=("torch", "tf"), methods=None):
        raise RuntimeError("no framework\ninstalled")

    monkeypatch.setattr(sys.modules["signxai_tools.demo.photo"], "run_photo_demo", failing)
    assert main(["demo", "--dataset", "photo", "-q"]) == 1
    assert capsys.readouterr().err.strip() == "signxai demo: error: no framework installed"
    a_file = tmp_path / "x.png"
    a_file.write_text("")
    assert main(["demo", "--dataset", "ecg", "--out", str(a_file), "-q"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert demo_stubs == []
