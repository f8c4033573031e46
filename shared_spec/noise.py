"""The SmoothGrad/VarGrad noise, drawn with numpy so both packages draw the same (docs/semantics.md §3)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["standard_normal_noise", "noise_scale", "one_seed_for_many_calls"]


def one_seed_for_many_calls(spec: Any) -> dict[str, int]:
    """``{"seed": s}`` for a noisy method without a seed (SmoothGrad, VarGrad), else ``{}``.

    When one explanation is computed in several calls (one per output for ``target="all"``, one
    per chunk of a data set), passing these parameters to every call makes them all draw the same
    noise, as one call would.
    """
    if "seed" in spec.params and spec.params["seed"] is None:
        return {"seed": int(np.random.default_rng().integers(2**31 - 1))}
    return {}


def standard_normal_noise(
    seed: int | None, samples: int, sample_shape: Sequence[int], channels_first: bool
) -> np.ndarray:
    """Draw the standard-normal noise of one explanation, shape ``(samples, *sample_shape)``.

    Every sample of a batch uses the same draws (scaled by its own sigma), so explaining a
    batch equals explaining each sample alone. The draws are made in channels-last order
    (Keras' layout) with ``numpy.random.default_rng(seed).standard_normal``; for
    channels-first inputs (PyTorch's layout, rank >= 2 per sample) the channel axis is then
    moved to the front, so a model and its converted twin see the same noise on the same
    element.

    Parameters
    ----------
    seed : int or None
        Seed of the generator; ``None`` draws fresh noise.
    samples : int
        Number of noise samples.
    sample_shape : sequence of int
        Shape of one input sample (without the batch axis), in the caller's layout.
    channels_first : bool
        Whether ``sample_shape`` is channels-first (``(C, H, W)``, ``(C, T)``).

    Returns
    -------
    numpy.ndarray of float32
    """
    shape = tuple(int(s) for s in sample_shape)
    rng = np.random.default_rng(seed)
    if channels_first and len(shape) >= 2:
        last = shape[1:] + shape[:1]
        draws = rng.standard_normal((samples, *last), dtype=np.float32)
        return np.ascontiguousarray(np.moveaxis(draws, -1, 1))
    return rng.standard_normal((samples, *shape), dtype=np.float32)


def noise_scale(x: np.ndarray, noise: float, noise_mode: str) -> np.ndarray:
    """Sigma per sample: ``noise * (max(x_i) - min(x_i))`` (relative) or ``noise`` (absolute).

    Parameters
    ----------
    x : numpy.ndarray
        The batch, samples along axis 0.
    noise : float
        The noise level.
    noise_mode : {"relative", "absolute"}

    Returns
    -------
    numpy.ndarray of float32, shape (N,)
    """
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if noise_mode == "relative":
        return (noise * (flat.max(axis=1) - flat.min(axis=1))).astype(np.float32)
    if noise_mode == "absolute":
        return np.full(len(x), noise, dtype=np.float32)
    raise ValueError(f"noise_mode must be 'relative' or 'absolute', got {noise_mode!r}")
