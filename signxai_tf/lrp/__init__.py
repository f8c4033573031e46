"""Layer-wise relevance propagation for Keras 3 (docs/semantics.md §4) and the modified-ReLU gradients (docs/semantics.md §3).

>>> from signxai_tf.lrp import lrp
>>> from shared_spec import parse
>>> relevance = lrp(model, x, target=None, rules=parse("lrp_epsilon_0_1").lrp_rules())

Modules: :mod:`._graph` (the layer graph; the only module touching private Keras API),
:mod:`._layers` (layer kinds and kernel layers as linear maps), :mod:`._rules` (the kernel-layer
rules), :mod:`._engine` (forward replay and one backward walk).
"""

from ._engine import deep_taylor, lrp, lrp_plan, modified_relu_gradient
from ._rules import RULES

__all__ = ["deep_taylor", "lrp", "lrp_plan", "modified_relu_gradient", "RULES"]
