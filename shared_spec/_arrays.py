"""Framework tensors as numpy arrays, without importing either framework."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_numpy"]


def to_numpy(value: Any) -> np.ndarray:
    """``value`` as a numpy array: torch tensors through ``detach().cpu()``, TF tensors through
    ``.numpy()``, anything else through ``np.asarray``."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor / EagerTensor
        value = value.numpy()
    return np.asarray(value)
