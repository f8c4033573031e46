"""docs/methods.md is generated from the method table and must not be stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_methods_doc", ROOT / "scripts" / "generate_methods_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_methods_doc_is_up_to_date():
    expected = _generator().render()
    current = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert current == expected, "docs/methods.md is stale: run python scripts/generate_methods_doc.py"


def test_every_named_method_is_supported_by_both_packages():
    import shared_spec
    import signxai_captum
    import signxai_tf

    names = shared_spec.list_methods(include_deprecated=False)
    assert signxai_captum.supported_methods() == names
    assert signxai_tf.supported_methods() == names
    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert "not implemented yet" not in text
    for name in names:
        assert f"`{name}`" in text


def test_keyword_only_lrp_options_are_documented():
    import shared_spec

    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    pdef = shared_spec.method_table()["parameters"]["alpha_beta_bias"]
    assert f"- `alpha_beta_bias` (str, default `{pdef['default']}`, reference / split; keyword)" in text
    assert "| `sequential_composite_b` | Dense: Epsilon(epsilon), epsilon 0.1 unless given; convolutions: AlphaBeta(2, 1) | `epsilon`, `alpha_beta_bias` |" in text
