"""The README's examples run as written, on small models, and give the maps they claim."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def _namespace() -> dict:
    import keras

    torch.manual_seed(0)
    torch_model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)
    ).eval()
    keras.utils.set_random_seed(0)
    keras_model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
         keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    rng = np.random.default_rng(0)
    x_nchw = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    return {
        "torch_model": torch_model,
        "keras_model": keras_model,
        "x_nchw": x_nchw,
        "x_nhwc": rng.normal(size=(2, 8, 8, 3)).astype(np.float32),
        "x_tensor": torch.tensor(x_nchw),
    }


def test_every_readme_python_block_runs_and_means_what_it_says():
    import signxai_captum

    blocks = _python_blocks(ROOT / "README.md")
    assert blocks, "the README has no python example"
    for block in blocks:
        namespace = _namespace()
        original_model = namespace["torch_model"]
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
        # the claims in the comments: LRPSign(epsilon=0.1) is "lrpsign_epsilon_0_1", maps have x's shape
        assert namespace["maps"].shape == namespace["x_nhwc"].shape
        expected = signxai_captum.attribution_for(original_model, "lrpsign_epsilon_0_1").attribute(
            namespace["x_tensor"], target=3
        )
        torch.testing.assert_close(namespace["relevance"], expected, rtol=0, atol=0)
        assert namespace["attr"].shape == namespace["x_tensor"].shape
        spec = namespace["shared_spec"].parse("lrpsign_epsilon_0_5_std_x_mu_0_5")
        assert spec.base == "lrpsign_epsilon_std_x"
        # keras_to_torch gives the same logits as the Keras model
        converted = namespace["torch_model"]
        x = namespace["x_nhwc"]
        np.testing.assert_allclose(
            converted(torch.tensor(x.transpose(0, 3, 1, 2))).detach().numpy(),
            np.asarray(namespace["keras_model"](x)), rtol=1e-5, atol=1e-5,
        )
