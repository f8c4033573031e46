"""Keep a process that imported TensorFlow first from crashing when torch loads triton.

Measured with tensorflow-cpu 2.21 and torch 2.14.1 (whose regular build installs triton): once
TensorFlow is loaded, loading triton's native library (``import triton``, which torch._dynamo
does, e.g. through ``import torchvision``) kills the process with a segmentation fault. The other
order works. When TensorFlow is already loaded and triton is not, this module makes ``import
triton`` raise ImportError instead, which torch handles (triton is only needed by
``torch.compile`` on GPUs, where it would crash anyway in this process). It runs when
signxai_captum is imported and again at every ``attribute`` call, since TensorFlow may be
imported after signxai_captum and torch.fx (the LRP engine's view of functional operations)
loads triton lazily.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["guard_triton"]

logger = logging.getLogger(__name__)


def guard_triton() -> None:
    """Block ``import triton`` in this process if TensorFlow was imported before it."""
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]  # makes `import triton` raise ImportError
        logger.info("TensorFlow was imported before torch: triton disabled in this process to avoid a crash")
