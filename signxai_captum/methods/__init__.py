"""Attribution classes, one module per method family."""

from .base import SignXAIAttribution
from .gradient import Gradient, GradientXInput, GradientXSign

__all__ = ["SignXAIAttribution", "Gradient", "GradientXInput", "GradientXSign"]
