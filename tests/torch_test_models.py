"""Small PyTorch models shared by several test files (imported as a top-level module, like lrp_reference)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FunctionalReLUNet(nn.Module):
    """conv -> F.relu (no module) -> mean -> linear: a functional activation after the Grad-CAM convolution."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(2, 3, 3)
        self.fc = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.conv(x)).mean(dim=(2, 3)))
