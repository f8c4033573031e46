"""Tests of the digits demo: shipped models, run_demo and the ``signxai`` CLI."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import os
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest

from signxai_tools import demo
from signxai_tools.cli import build_parser, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PANEL_PX = round(demo._PANEL_INCHES * demo._DPI)


def _grid_px(rows: int, columns: int) -> tuple[int, int]:
    """(height, width) of a shared_spec.drawing.method_grid figure (per-panel scale) saved at the demo's dpi."""
    return round((rows * demo._PANEL_INCHES + 0.9) * demo._DPI), columns * PANEL_PX


def _png_size(path) -> tuple[int, int]:
    """(height, width) in pixels of a PNG, read from its IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    return height, width


@pytest.fixture(scope="module")
def test_data():
    return demo.load_digits_data()


@pytest.fixture(scope="module")
def torch_model():
    pytest.importorskip("torch")
    return demo.build_torch_digits_model()


@pytest.fixture(scope="module")
def keras_model():
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    return demo.build_keras_digits_model()


# --------------------------------------------------------------------------
# data and models


def test_test_split(test_data):
    x, y = test_data
    assert x.dtype == np.float32 and x.shape == (450, 8, 8, 1)
    assert y.shape == (450,)
    assert x.min() == -1.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_shipped_split_matches_training_split(test_data):
    pytest.importorskip("sklearn")
    x_train, x_test, _, y_test = demo.split_digits()
    np.testing.assert_array_equal(test_data[0], x_test)
    np.testing.assert_array_equal(test_data[1], y_test)
    assert len(x_train) + len(x_test) == 1797


def test_weights_file():
    weights = demo.load_digits_weights()
    assert set(demo.WEIGHT_NAMES) <= set(weights)
    assert weights["conv1_kernel"].shape == (3, 3, 1, 8)
    assert weights["dense1_kernel"].shape == (256, 32)
    assert weights["dense2_kernel"].shape == (32, 10)
    assert float(weights["test_accuracy"]) >= 0.95


def test_torch_model_accuracy(torch_model, test_data):
    import torch

    x, y = test_data
    with torch.no_grad():
        logits = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    assert logits.shape == (len(y), 10)
    accuracy = np.mean(logits.argmax(axis=1) == y)
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(float(demo.load_digits_weights()["test_accuracy"]), abs=1e-6)


def test_torch_and_keras_logits_match(torch_model, keras_model, test_data):
    import keras
    import torch

    x, _ = test_data
    keras_logits = keras.ops.convert_to_numpy(keras_model(x, training=False))
    with torch.no_grad():
        torch_logits = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    # float32 logits up to ~20: compare with a relative tolerance as well
    np.testing.assert_allclose(torch_logits, keras_logits, rtol=1e-5, atol=1e-5)


def test_torch_flatten_matches_keras_order():
    torch = pytest.importorskip("torch")
    flatten = demo._channels_last_flatten_class()()
    assert isinstance(flatten, torch.nn.Flatten)
    nchw = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    expected = nchw.permute(0, 2, 3, 1).reshape(2, -1)
    assert torch.equal(flatten(nchw), expected)


_FRAMEWORKS = ("torch", "tensorflow", "keras")


def _modules_loaded_by(statements: str) -> set[str]:
    """Framework (and scikit-learn) top-level packages in ``sys.modules`` after running
    ``statements`` in a fresh interpreter."""
    watched = [*_FRAMEWORKS, "sklearn"]
    code = (
        f"import json, sys; {statements}; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({watched!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statements",
    [
        "import signxai_tools",
        "import signxai_tools.cli",
        "import signxai_tools.demo",
        "import signxai_tools.demo.__main__",
        "import signxai_tools.cli as c; c.build_parser().parse_args(['demo'])",
        (
            "import signxai_tools.demo as d; d.load_digits_data(); d.load_digits_weights(); "
            "d.resolve_out_path('x.png')"
        ),
    ],
)
def test_tools_import_is_framework_free(statements):
    assert _modules_loaded_by(statements) == set()


def test_modules_loaded_by_sees_frameworks():
    # the check above can fail: a framework import in the statements shows up
    pytest.importorskip("torch")
    assert _modules_loaded_by("import torch") == {"torch"}


@pytest.mark.parametrize("package", ["signxai_captum", "signxai_tf", "shared_spec"])
def test_framework_packages_do_not_import_the_tools(package):
    root = pathlib.Path(__file__).resolve().parents[2] / package
    importers = []
    for source in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "signxai_tools" for name in names):
                importers.append(f"{source.relative_to(root.parent)}:{node.lineno}")
    assert importers == []
    assert not (root / "cli.py").exists() and not (root / "demo" / "__init__.py").exists()


# --------------------------------------------------------------------------
# run_demo with stand-in explainers (independent of the real methods)


def _stand_in(channel_axis: int, unimplemented: set[str]):
    def explain(model, x, method_name, target=None, **params):
        assert x.shape[channel_axis] == 1
        if method_name in unimplemented:
            raise NotImplementedError(method_name)
        return x * (1.0 + len(method_name))

    return explain


@pytest.fixture
def stand_in_explain(monkeypatch):
    """Replace both public ``explain`` functions by stand-ins for one test."""
    import signxai_captum

    monkeypatch.setattr(
        signxai_captum, "explain", _stand_in(1, {"lrp_z", "smoothgrad"}), raising=False
    )
    try:
        import signxai_tf
    except ImportError:
        signxai_tf = types.ModuleType("signxai_tf")
        monkeypatch.setitem(sys.modules, "signxai_tf", signxai_tf)
    monkeypatch.setattr(signxai_tf, "explain", _stand_in(3, {"lrp_z"}), raising=False)


@pytest.mark.usefixtures("stand_in_explain")
def test_run_demo_grid_with_stand_ins(tmp_path, caplog):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    methods = ["gradient", "lrp_z", "smoothgrad"]
    with caplog.at_level(logging.INFO, logger="signxai_tools"):
        path = demo.run_demo(tmp_path / "sub" / "grid.png", n_samples=3, methods=methods)
    assert path.is_absolute() and path.exists()
    # 2 frameworks x 3 digits rows; input + gradient + smoothgrad (tf only) columns
    assert _png_size(path) == _grid_px(6, 3)
    assert "lrp_z" in caplog.text and "smoothgrad" in caplog.text


@pytest.mark.usefixtures("stand_in_explain")
def test_run_demo_skips_missing_framework(tmp_path, monkeypatch, caplog):
    pytest.importorskip("torch")
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "tensorflow":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with caplog.at_level(logging.WARNING, logger="signxai_tools"):
        path = demo.run_demo(tmp_path / "torch.png", n_samples=2, methods=["gradient"])
    assert _png_size(path) == _grid_px(2, 2)
    assert "Skipping framework 'tf'" in caplog.text
    with pytest.raises(RuntimeError, match="frameworks"):
        demo.run_demo(tmp_path / "none.png", frameworks=("tf",), methods=["gradient"])


def test_run_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        demo.run_demo(tmp_path / "x.png", frameworks=("jax",))
    with pytest.raises(ValueError):
        demo.run_demo(tmp_path / "x.png", n_samples=0)
    with pytest.raises(ValueError):
        demo.run_demo(tmp_path / "x.png", methods=[])


def test_select_samples_distinct_classes(test_data):
    _, y = test_data
    assert list(y[demo._select_samples(y, 10)]) == list(range(10))
    index = demo._select_samples(y, 12)
    assert len(set(index.tolist())) == 12


# --------------------------------------------------------------------------
# run_demo with the real explainers


def _real_explainers():
    """The public explain functions, or skip while they are not there yet."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    signxai_captum = pytest.importorskip("signxai_captum")
    signxai_tf = pytest.importorskip("signxai_tf")
    try:
        return signxai_captum.explain, signxai_tf.explain
    except AttributeError:
        pytest.skip("signxai_captum.explain / signxai_tf.explain not available yet")


def test_run_demo_real(tmp_path):
    _real_explainers()
    n_samples = 2
    path = demo.run_demo(tmp_path / "demo.png", n_samples=n_samples)
    height, width = _png_size(path)
    assert height == _grid_px(2 * n_samples, 1)[0]
    assert width % PANEL_PX == 0 and 2 <= width // PANEL_PX <= 1 + len(demo.DEMO_METHODS)


@pytest.mark.parametrize(
    "method", ["gradient", "gradient_x_sign", "lrp_epsilon_0_1", "lrpsign_epsilon_0_1"]
)
def test_real_explanations_agree_across_frameworks(method, torch_model, keras_model, test_data):
    torch_explain, tf_explain = _real_explainers()
    x = test_data[0][:8]
    try:
        r_torch = torch_explain(torch_model, x.transpose(0, 3, 1, 2).copy(), method)
        r_tf = tf_explain(keras_model, x.copy(), method)
    except NotImplementedError:
        pytest.skip(f"{method} not implemented yet")
    r_torch = np.asarray(r_torch).transpose(0, 2, 3, 1)
    r_tf = np.asarray(r_tf)
    assert r_tf.shape == x.shape
    scale = float(np.abs(r_tf).max()) or 1.0
    np.testing.assert_allclose(r_torch, r_tf, rtol=1e-4, atol=1e-5 * scale)


# --------------------------------------------------------------------------
# CLI


def test_cli_parses_demo_arguments():
    args = build_parser().parse_args(
        ["demo", "--out", "a.png", "--samples", "3", "--framework", "tf",
         "--methods", "gradient, lrp_z"]
    )
    assert args.command == "demo"
    assert args.out == "a.png" and args.samples == 3 and args.framework == "tf"
    assert args.methods == ["gradient", "lrp_z"]
    defaults = build_parser().parse_args(["demo"])
    assert defaults.samples == 4 and defaults.framework == "both" and defaults.methods is None


@pytest.mark.parametrize(
    "argv", [[], ["demo", "--samples", "0"], ["demo", "--framework", "jax"],
             ["demo", "--methods", ","], ["nonsense"]]
)
def test_cli_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2


def test_cli_main_calls_run_demo(monkeypatch, capsys, tmp_path):
    calls = {}

    def fake_run_demo(out_path, n_samples, frameworks, methods):
        calls.update(out_path=out_path, n_samples=n_samples, frameworks=frameworks,
                     methods=methods)
        return tmp_path / "out.png"

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    assert main(["demo", "--dataset", "digits", "--samples", "2", "--framework", "torch", "-q"]) == 0
    assert calls == dict(out_path="signxai-demo.png", n_samples=2, frameworks=("torch",),
                         methods=None)
    assert capsys.readouterr().out.strip() == f"Wrote heatmaps to {tmp_path / 'out.png'}"

    def failing_run_demo(**kwargs):
        raise RuntimeError("no framework")

    monkeypatch.setattr(demo, "run_demo", failing_run_demo)
    assert main(["demo", "--dataset", "digits", "-q"]) == 1
    assert "no framework" in capsys.readouterr().err


@pytest.mark.parametrize("quiet, level", [(True, logging.WARNING), (False, logging.INFO)])
def test_cli_shows_the_tools_and_both_packages_logs(monkeypatch, tmp_path, quiet, level):
    names = ("signxai_tools", "signxai_captum", "signxai_tf")
    saved = {name: logging.getLogger(name).level for name in names}
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: tmp_path / "out.png")
    try:
        assert main(["demo", "--dataset", "digits", *(["-q"] if quiet else [])]) == 0
        assert [logging.getLogger(name).level for name in names] == [level] * 3
        # the demo's own logger is below signxai_tools, so its records follow that level
        assert logging.getLogger(demo.__name__).getEffectiveLevel() == level
    finally:
        for name, saved_level in saved.items():
            logging.getLogger(name).setLevel(saved_level)  # setLevel also clears the level caches


# --------------------------------------------------------------------------
# --out: directories and formats


def test_resolve_out_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    default = demo.DEFAULT_FILE_NAME
    assert demo.resolve_out_path(tmp_path) == (tmp_path / default, "png")
    assert demo.resolve_out_path(str(tmp_path)) == (tmp_path / default, "png")
    assert demo.resolve_out_path("existing") == (tmp_path / "existing" / default, "png")
    assert demo.resolve_out_path("new/") == (tmp_path / "new" / default, "png")
    assert demo.resolve_out_path("new" + os.sep + "deeper" + os.sep) == (tmp_path / "new" / "deeper" / default, "png")
    assert demo.resolve_out_path("grid.pdf") == (tmp_path / "grid.pdf", "pdf")
    assert demo.resolve_out_path("grid.SVG") == (tmp_path / "grid.SVG", "svg")
    assert demo.resolve_out_path("grid.jpg") == (tmp_path / "grid.jpg", "jpg")
    assert demo.resolve_out_path("grid") == (tmp_path / "grid.png", "png")
    assert not (tmp_path / "new").exists()  # resolving creates nothing


@pytest.mark.parametrize("out", ["x.xyz", "grid.pn", "archive.tar", "dir/x.docx"])
def test_resolve_out_path_refuses_unknown_extensions(out):
    with pytest.raises(ValueError) as info:
        demo.resolve_out_path(out)
    message = str(info.value)
    assert repr(pathlib.PurePath(out).suffix) in message
    assert ".png" in message and ".pdf" in message and ".svg" in message
    with pytest.raises(ValueError):
        demo.resolve_out_path("")


def test_supported_formats_are_matplotlibs():
    from matplotlib.figure import Figure

    assert demo.supported_formats() == Figure().canvas.get_supported_filetypes()


@pytest.mark.usefixtures("stand_in_explain")
@pytest.mark.parametrize(
    "name, signature", [("grid.pdf", b"%PDF"), ("grid.svg", b"<?xml"), ("grid.PNG", PNG_SIGNATURE)]
)
def test_run_demo_format_follows_extension(tmp_path, name, signature):
    pytest.importorskip("torch")
    path = demo.run_demo(tmp_path / name, n_samples=1, frameworks=("torch",), methods=["gradient"])
    assert path == tmp_path / name
    assert path.read_bytes().startswith(signature)


@pytest.mark.usefixtures("stand_in_explain")
def test_run_demo_writes_into_a_directory(tmp_path):
    pytest.importorskip("torch")
    path = demo.run_demo(tmp_path, n_samples=1, frameworks=("torch",), methods=["gradient"])
    assert path == tmp_path / demo.DEFAULT_FILE_NAME
    assert _png_size(path) == _grid_px(1, 2)
    path = demo.run_demo(f"{tmp_path / 'made'}{os.sep}", n_samples=1, frameworks=("torch",), methods=["gradient"])
    assert path == tmp_path / "made" / demo.DEFAULT_FILE_NAME and path.is_file()


def test_run_demo_refuses_unknown_extension_before_computing(tmp_path, monkeypatch):
    def no_explanations(*args, **kwargs):
        raise AssertionError("explained before checking out_path")

    monkeypatch.setattr(demo, "_explain_all", no_explanations)
    with pytest.raises(ValueError, match=r"'\.xyz'.*\.png"):
        demo.run_demo(tmp_path / "x.xyz", n_samples=1, methods=["gradient"])
    assert not list(tmp_path.iterdir())


@pytest.mark.usefixtures("stand_in_explain")
def test_cli_out_directory_and_bad_extension(tmp_path, capsys):
    pytest.importorskip("torch")
    argv = ["demo", "--dataset", "digits", "--samples", "1", "--framework", "torch", "--methods", "gradient", "-q"]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    written = tmp_path / demo.DEFAULT_FILE_NAME
    assert capsys.readouterr().out.strip() == f"Wrote heatmaps to {written}"
    assert written.read_bytes().startswith(PNG_SIGNATURE)
    assert main(argv + ["--out", str(tmp_path / "x.xyz")]) == 1
    err = capsys.readouterr().err
    assert "'.xyz'" in err and ".pdf" in err and ".svg" in err
    assert not (tmp_path / "x.xyz").exists()
