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

from shared_spec import check_parameters, noise_scale, parameter_default, standard_normal_noise

from .._multipliers import apply_multiplier
from ._batched import chunked_gradient_moments, chunked_gradient_sum, resolve_batch_targets

__all__ = ["smoothgrad", "vargrad"]


def _noisy_setup(model: keras.Model, x: tf.Tensor, target: Any, where: str, **params: Any):
    """The checked parameters (one check, against the method table), the noisy-row maker and the targets.

    ``make_rows(start, stop)`` returns rows ``x_i + sigma_i * eps_k`` for ``r = i * samples + k``, with
    ``eps = standard_normal_noise(seed, samples, x.shape[1:], channels_first=False)`` and
    ``sigma = noise_scale(x, noise, noise_mode)``.
    """
    values = check_parameters(where, **params)
    samples = values["samples"]
    eps = tf.constant(
        standard_normal_noise(values["seed"], samples, tuple(x.shape[1:]), channels_first=False), dtype=x.dtype
    )
    sigma = tf.constant(noise_scale(x.numpy(), float(values["noise"]), values["noise_mode"]), dtype=x.dtype)
    extra = [1] * (len(x.shape) - 1)

    def make_rows(start: int, stop: int) -> tf.Tensor:
        rows = tf.range(start, stop)
        sample = rows // samples
        scale = tf.reshape(tf.gather(sigma, sample), [-1, *extra])
        return tf.gather(x, sample) + scale * tf.gather(eps, rows % samples)

    return values, make_rows, resolve_batch_targets(model, x, target)


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
    p, make_rows, targets = _noisy_setup(
        model, x, target, "smoothgrad", samples=samples, noise=noise, noise_mode=noise_mode, seed=seed,
        batch_size=batch_size, mu=mu,
    )
    total = chunked_gradient_sum(model, make_rows, targets, p["samples"], p["batch_size"])
    return apply_multiplier(tf.cast(total / p["samples"], x.dtype), x, multiplier, p["mu"])


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
    p, make_rows, targets = _noisy_setup(
        model, x, target, "vargrad", samples=samples, noise=noise, noise_mode=noise_mode, seed=seed,
        batch_size=batch_size, mu=mu,
    )
    _, variance = chunked_gradient_moments(model, make_rows, targets, p["samples"], p["batch_size"])
    return apply_multiplier(tf.cast(variance, x.dtype), x, multiplier, p["mu"])
