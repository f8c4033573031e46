"""docs/gallery.md stays honest: it is the rendering of docs/gallery/gallery.json, every figure it
names exists, and the predictions it states are what the shipped models predict today."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re

import pytest

pytest.importorskip("torch")  # torch before TensorFlow
pytest.importorskip("tensorflow")
pytest.importorskip("skimage")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("generate_gallery", ROOT / "scripts" / "generate_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gallery():
    return _script()


@pytest.fixture(scope="module")
def record(gallery):
    return json.loads(gallery.RECORD.read_text(encoding="utf-8"))


def test_markdown_is_the_rendering_of_the_record(gallery, record):
    assert gallery.MARKDOWN.read_text(encoding="utf-8") == gallery.render(record)


def test_every_figure_named_exists_and_every_file_is_named(gallery, record):
    from PIL import Image

    text = gallery.MARKDOWN.read_text(encoding="utf-8")
    named = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))
    assert named == {figure["file"] for figure in record["figures"].values()}
    on_disk = {f"gallery/{p.name}" for p in gallery.GALLERY_DIR.glob("*.png")}
    assert on_disk == named
    for key, figure in record["figures"].items():
        with Image.open(ROOT / "docs" / figure["file"]) as image:
            assert image.width <= gallery.WIDTH[key] and image.width > 0.5 * gallery.WIDTH[key]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/gallery/" in readme and "docs/gallery.md" in readme


def test_the_predictions_stated_are_the_models(gallery, record):
    assert gallery.photo_predictions() == record["figures"]["photo"]["rows"]
    assert gallery.ecg_predictions() == record["figures"]["ecg"]["rows"]


def test_the_methods_stated_are_the_demos(record):
    from signxai_tools.demo import ecg, photo

    assert record["figures"]["photo"]["methods"] == list(photo.PHOTO_METHODS)
    assert record["figures"]["ecg"]["methods"] == list(ecg.ECG_METHODS)
