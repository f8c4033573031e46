"""explain_dataset in both packages: chunks, memory maps, DataLoader / tf.data, progress (docs/datasets.md).

Every check compares the chunked maps with one ``explain`` call on all samples (the values, not
only the shapes), in both frameworks, on a Keras model and its ``keras_to_torch`` twin.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # torch before TensorFlow (tests/conftest.py)
import signxai_captum  # noqa: E402
from shared_spec import MethodNameError, MethodParameterError  # noqa: E402
from shared_spec.datasets import NpyWriter  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
import signxai_tf  # noqa: E402
from signxai_captum.convert import keras_to_torch  # noqa: E402

N = 37  # not a multiple of the chunk sizes below


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    km = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(5),
    ])
    return km, keras_to_torch(km)


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).normal(size=(N, 8, 8, 3)).astype(np.float32)
    return x, np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))), (np.arange(N) * 3) % 5


def same(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert float(np.abs(a - b).max()) <= tol * max(float(np.abs(b).max()), 1e-12)


@pytest.mark.parametrize("method", ["gradient_x_sign", "lrpsign_epsilon_0_1", "integrated_gradients"])
def test_a_memory_map_in_chunks_into_a_npy_file_equals_one_call(models, data, tmp_path, method):
    km, tm = models
    x, xc, _ = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "xc.npy", xc)
    got = signxai_tf.explain_dataset(km, np.load(tmp_path / "x.npy", mmap_mode="r"), method, batch_size=8,
                                     out=tmp_path / "r.npy", progress=False)
    assert isinstance(got, np.memmap) and got.shape == x.shape
    same(got, signxai_tf.explain(km, x, method))
    same(np.load(tmp_path / "r.npy"), got)  # a regular .npy file
    got = signxai_captum.explain_dataset(tm, np.load(tmp_path / "xc.npy", mmap_mode="r"), method, batch_size=10,
                                         out=tmp_path / "rc.npy", progress=False)
    same(got, signxai_captum.explain(tm, xc, method))
    same(np.transpose(got, (0, 2, 3, 1)), signxai_tf.explain(km, x, method), 1e-4)  # and the frameworks agree


def test_targets_per_sample_and_from_labels(models, data):
    km, tm = models
    x, xc, labels = data
    expected = signxai_tf.explain(km, x, "lrp_epsilon_0_1", target=labels)
    same(signxai_tf.explain_dataset(km, x, "lrp_epsilon_0_1", target=labels, batch_size=6, progress=False), expected)
    same(signxai_tf.explain_dataset(km, x, "lrp_epsilon_0_1", target=2, batch_size=6, progress=False),
         signxai_tf.explain(km, x, "lrp_epsilon_0_1", target=2))
    # a tf.data.Dataset of single samples is batched; (x, y) elements give the labels
    dataset = tf.data.Dataset.from_tensor_slices((x, labels))
    same(signxai_tf.explain_dataset(km, dataset, "lrp_epsilon_0_1", target="labels", batch_size=7, progress=False), expected)
    same(signxai_tf.explain_dataset(km, dataset.batch(5), "lrp_epsilon_0_1", target="labels", progress=False), expected)
    # a DataLoader of (x, y) batches and a plain generator of arrays
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(xc), torch.tensor(labels)), batch_size=9
    )
    expected_torch = signxai_captum.explain(tm, xc, "lrp_epsilon_0_1", target=labels)
    same(signxai_captum.explain_dataset(tm, loader, "lrp_epsilon_0_1", target="labels", progress=False), expected_torch)
    batches = (xc[i : i + 4] for i in range(0, N, 4))
    same(signxai_captum.explain_dataset(tm, batches, "lrp_epsilon_0_1", target=labels, progress=False), expected_torch)


def test_smoothgrad_noise_is_drawn_once_for_the_data_set(models, data):
    km, tm = models
    x, xc, _ = data
    # with a seed: the same maps as one call
    same(signxai_tf.explain_dataset(km, x, "smoothgrad", seed=5, samples=4, batch_size=8, progress=False),
         signxai_tf.explain(km, x, "smoothgrad", seed=5, samples=4))
    # without: every chunk sees the same noise, so equal samples in different chunks get equal maps
    twice = np.concatenate([xc[:1], xc[:1]])
    maps = signxai_captum.explain_dataset(tm, twice, "smoothgrad", samples=4, batch_size=1, progress=False)
    np.testing.assert_array_equal(maps[0], maps[1])


def test_progress_bar_on_request_only(models, data, capsys):
    km, _ = models
    x, _, _ = data
    signxai_tf.explain_dataset(km, x[:8], "gradient", batch_size=4, progress=True)
    assert "/8 " in capsys.readouterr().err  # "0/8 [..." at least: the bar was drawn
    signxai_tf.explain_dataset(km, x[:8], "gradient", batch_size=4, progress=False)
    assert "/8 " not in capsys.readouterr().err


def test_npy_writer_of_unknown_length(tmp_path):
    writer = NpyWriter(tmp_path / "w.npy")
    parts = [np.full((n, 2, 3), n, np.float32) for n in (3, 1, 4)]
    for part in parts:
        writer.append(part)
    writer.close()
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), np.concatenate(parts))
    writer = NpyWriter(tmp_path / "bad.npy")
    writer.append(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same sample shape"):
        writer.append(np.zeros((2, 4)))
    writer.close()


def test_clear_errors(models, data):
    km, tm = models
    x, xc, labels = data
    with pytest.raises(MethodParameterError, match="batch_size"):
        signxai_tf.explain_dataset(km, x, "gradient", batch_size=0)
    with pytest.raises(MethodParameterError, match="labels"):
        signxai_tf.explain_dataset(km, x, "gradient", target="labels")
    with pytest.raises(ValueError, match="entries"):
        signxai_captum.explain_dataset(tm, xc, "gradient", target=labels[:-1], progress=False)
    with pytest.raises(TypeError, match="iterable of batches"):
        signxai_captum.explain_dataset(tm, 3.0, "gradient")
    with pytest.raises(ValueError, match="empty"):
        signxai_captum.explain_dataset(tm, iter([]), "gradient")
    with pytest.raises(MethodNameError):
        signxai_captum.explain_dataset(tm, xc, "gradient_x_sing")


def test_lrp_after_tensorflow_is_imported_later_does_not_crash():
    """signxai_captum imported, then TensorFlow, then LRP (torch.fx loads triton lazily): no segfault."""
    code = (
        "import numpy as np, torch, signxai_captum\n"
        "import tensorflow as tf\n"
        "m = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(72, 3))\n"
        "x = np.ones((1, 3, 8, 8), np.float32)\n"
        "print(signxai_captum.explain(m, x, 'lrp_epsilon_0_1').shape)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 3, 8, 8)" in result.stdout
