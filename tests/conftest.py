"""Test session set-up.

torch and torchvision are imported before TensorFlow: loading triton (pulled in by torchvision
through torch._dynamo) after TensorFlow crashes the process (see signxai_captum/_triton_guard.py).
TensorFlow 2.21's oneDNN kernels crash the process (double free) on the gradient of some 1x1
stride-2 'same' convolutions (MobileNet/EfficientNet-style models): oneDNN is switched off for the
tests before TensorFlow is imported.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError:  # the torch extra is not installed: torch tests skip themselves
    pass
