"""Every name of the table on keras.applications VGG16 and ResNet50 (weights=None): finite maps.

The models are small (32×32 inputs, batch 2). Each name is run with ``tf.function``s executed
eagerly, which gives the same numbers (checked below) without tracing one graph per method and
model (tracing ResNet50 128 times would take minutes).
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from shared_spec import list_methods, parse  # noqa: E402
from signxai_tf import explain  # noqa: E402

pytestmark = pytest.mark.slow

NAMES = list_methods(include_deprecated=False)
LRP_NAMES = [n for n in NAMES if parse(n).family == "lrp"]
APPLICATIONS = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}


@functools.lru_cache(maxsize=None)
def application(name: str):
    keras.utils.set_random_seed(0)
    model = APPLICATIONS[name](weights=None, input_shape=(32, 32, 3), classes=10)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32) * 50
    return model, x


@contextlib.contextmanager
def eager_functions():
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(previous)


def test_the_list_is_complete():
    assert len(LRP_NAMES) == 124  # 128 LRP names in the table, 4 of them deprecated spellings


def refused(app: str, name: str) -> bool:
    """Time-series Grad-CAM on images, and VGG16's Grad-CAM layer on ResNet50, must be refused."""
    spec = parse(name)
    return spec.family == "grad_cam_timeseries" or (app == "resnet50" and spec.model == "VGG16ILSVRC" and not spec.is_lrp)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_every_name_gives_finite_maps(app, name):
    model, x = application(app)
    params = {"seed": 0} if parse(name).family in ("smoothgrad", "vargrad") else {}
    with eager_functions(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if refused(app, name):
            with pytest.raises(ValueError):
                explain(model, x, name, target=[1, 7], **params)
            return
        got = explain(model, x, name, target=[1, 7], **params)
    assert got.shape == x.shape and np.isfinite(got).all(), name
    # a Grad-CAM map may be all zero (ReLU of a negative map), every other map may not
    assert np.abs(got).sum() > 0 or "grad_cam" in name, name


@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_eager_and_compiled_runs_agree(app):
    model, x = application(app)
    compiled = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    with eager_functions():
        eager = explain(model, x, "lrpsign_epsilon_0_1", target=[1, 7])
    np.testing.assert_allclose(eager, compiled, rtol=1e-4, atol=1e-5 * np.abs(compiled).max())
