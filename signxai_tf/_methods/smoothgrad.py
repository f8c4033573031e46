"""SmoothGrad and VarGrad and their ``_x_input`` / ``_x_sign`` / ``_x_sign_mu`` variants (docs/semantics.md §3).

The noise comes from :func:`shared_spec.standard_normal_noise` (numpy, channels-last draws), so
with the same ``seed`` this package and signxai_captum perturb the same input elements by the
same amounts. Every sample of a batch uses the same standard-normal draws, scaled by its own
sigma: a batch gives the same maps as its samples explained one at a time.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from shared_spec import check_parameter, check_parameters, noise_scale, parameter_default, standard_normal_noise

from .._multipliers import apply_multiplier
from ._batched import chunked_gradient_moments, chunked_gradient_sum, resolve_batch_targets

__all__ = ["smoothgrad", "vargrad", "noisy_inputs_factory"]


def _check(samples: int, noise: float, noise_mode: str, seed: int | None, where: str) -> tuple[int, float, str, int | None]:
    """The noise parameters checked against the method table."""
    values = check_parameters(where, samples=samples, noise=noise, noise_mode=noise_mode, seed=seed)
    return values["samples"], values["noise"], values["noise_mode"], values["seed"]


def noisy_inputs_factory(x: tf.Tensor, samples: int, noise: float, noise_mode: str, seed: int | None):
    """Return ``make_rows(start, stop)``: rows ``x_i + sigma_i * eps_k`` for ``r = i * samples + k``.

    ``eps`` is ``standard_normal_noise(seed, samples, x.shape[1:], channels_first=False)`` and
    ``sigma = noise_scale(x, noise, noise_mode)``.
    """
    samples, noise, noise_mode, seed = _check(samples, noise, noise_mode, seed, "noisy_inputs_factory")
    eps = tf.constant(standard_normal_noise(seed, samples, tuple(x.shape[1:]), channels_first=False), dtype=x.dtype)
    sigma = tf.constant(noise_scale(x.numpy(), float(noise), noise_mode), dtype=x.dtype)
    extra = [1] * (len(x.shape) - 1)

    def make_rows(start: int, stop: int) -> tf.Tensor:
        rows = tf.range(start, stop)
        sample = rows // samples
        scale = tf.reshape(tf.gather(sigma, sample), [-1, *extra])
        return tf.gather(x, sample) + scale * tf.gather(eps, rows % samples)

    return make_rows


def smoothgrad(
    model: keras.Model,
    x: tf.Tensor,
    target: Any = None,
    samples: int = parameter_default("samples"),
    noise: float = parameter_default("noise"),
    noise_mode: str = parameter_default("noise_mode"),
    seed: int | None = parameter_default("seed"),
    batch_size: int = parameter_default("batch_size"),
    multiplier: str | None = None,
    mu: float = parameter_default("mu"),
) -> tf.Tensor:
    """SmoothGrad: the mean gradient of the selected logit over noisy copies of each sample.

    ``mean_k grad f_c(x + sigma * eps_k)``, ``eps_k ~ N(0, 1)``; ``sigma = noise * (max(x_i) -
    min(x_i))`` per sample (``noise_mode="relative"``) or ``sigma = noise`` (``"absolute"``). The
    class ``c`` is chosen on the clean ``x`` (``target=None``: its argmax).

    Parameters
    ----------
    model : keras.Model
        A model returning logits.
    x : tf.Tensor
        A batch.
    target : None, int or sequence of int
        Class per sample.
    samples : int
        Number of noise samples.
    noise : float
        Noise level (>= 0).
    noise_mode : {"relative", "absolute"}
        How ``noise`` becomes sigma.
    seed : int or None
        Seed of the numpy generator; the same seed gives the same noise (and the same noise as
        signxai_captum). ``None``: fresh noise.
    batch_size : int
        Noisy inputs (of any samples) evaluated in one forward-backward pass.
    multiplier : {None, "input", "sign"}
        Multiply the result by ``x`` or by ``sign_mu(x, mu)`` (the clean input).
    mu : float
        Threshold of ``sign_mu``.

    Returns
    -------
    tf.Tensor
        ``x``'s shape and dtype.
    """
    samples, noise, noise_mode, seed = _check(samples, noise, noise_mode, seed, "smoothgrad")
    mu = check_parameter("mu", mu, "smoothgrad")
    batch_size = check_parameter("batch_size", batch_size, "smoothgrad")
    make_rows = noisy_inputs_factory(x, samples, noise, noise_mode, seed)
    targets = resolve_batch_targets(model, x, target)
    total = chunked_gradient_sum(model, make_rows, targets, samples, batch_size)
    return apply_multiplier(tf.cast(total / samples, x.dtype), x, multiplier, mu)


def vargrad(
    model: keras.Model,
    x: tf.Tensor,
    target: Any = None,
    samples: int = parameter_default("samples"),
    noise: float = parameter_default("noise"),
    noise_mode: str = parameter_default("noise_mode"),
    seed: int | None = parameter_default("seed"),
    batch_size: int = parameter_default("batch_size"),
    multiplier: str | None = None,
    mu: float = parameter_default("mu"),
) -> tf.Tensor:
    """VarGrad: the population variance (divisor ``samples``) of the gradients SmoothGrad averages.

    Parameters are those of :func:`smoothgrad`.

    Returns
    -------
    tf.Tensor
        ``x``'s shape and dtype.
    """
    samples, noise, noise_mode, seed = _check(samples, noise, noise_mode, seed, "vargrad")
    mu = check_parameter("mu", mu, "vargrad")
    batch_size = check_parameter("batch_size", batch_size, "vargrad")
    make_rows = noisy_inputs_factory(x, samples, noise, noise_mode, seed)
    targets = resolve_batch_targets(model, x, target)
    _, variance = chunked_gradient_moments(model, make_rows, targets, samples, batch_size)
    return apply_multiplier(tf.cast(variance, x.dtype), x, multiplier, mu)
