"""Layer-wise relevance propagation for Keras 3 (docs/semantics.md §4) and the modified-ReLU gradients (docs/semantics.md §3).

>>> from signxai_tf.lrp import lrp
>>> from shared_spec import parse
>>> relevance = lrp(model, x, target=None, rules=parse("lrp_epsilon_0_1").lrp_rules())

Modules: :mod:`.graph` (the layer graph; the only module touching private Keras API),
:mod:`.layers` (layer kinds and kernel layers as linear maps), :mod:`.rules` (the kernel-layer
rules), :mod:`.engine` (forward replay and one backward walk).
"""

from .engine import lrp, lrp_plan, modified_relu_gradient
from .rules import RULES

__all__ = ["lrp", "lrp_plan", "modified_relu_gradient", "RULES"]
