"""Test session set-up.

torch and torchvision are imported before TensorFlow: loading triton (pulled in by torchvision
through torch._dynamo) after TensorFlow crashes the process (see signxai_captum/_triton_guard.py).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError:  # the torch extra is not installed: torch tests skip themselves
    pass
