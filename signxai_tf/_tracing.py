"""Quiet TensorFlow's retracing warning for the compiled functions we build per model."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import tensorflow as tf

__all__ = ["quiet_retracing"]


class _DropRetracingWarning(logging.Filter):
    """Drops "triggered tf.function retracing": TensorFlow counts traces per Python code object,
    so one compiled function per model (or per model and method) looks like retracing to it,
    while each is traced once, as intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet_retracing() -> Iterator[None]:
    """Within the block, TensorFlow's retracing warning is not logged (other messages are)."""
    quiet = _DropRetracingWarning()
    logger = tf.get_logger()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
