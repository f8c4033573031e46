"""Explanation methods on Keras 3 models, one module per method family."""

from .gradient import gradient

__all__ = ["gradient"]
