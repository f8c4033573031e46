"""Layer-wise relevance propagation for PyTorch (docs/semantics.md §4): the engine behind the LRP attributions.

>>> from signxai_captum.lrp import Composite, relevance_session
>>> from shared_spec import parse
>>> composite = Composite.from_rule_set(parse("lrp_epsilon_0_1").lrp_rules())

Modules (mirroring :mod:`signxai_tf.lrp`): :mod:`._layers` (kernel layers as linear maps),
:mod:`.rules` (the rules), :mod:`.composites` (which rule goes to which module),
:mod:`.canonizers` (temporary, fully undone model rewrites), :mod:`._engine` (the hooks and the
backward pass). Most users want the Captum classes (``signxai_captum.LRPEpsilon``, ...) or
``signxai_captum.explain`` instead.
"""

from .canonizers import Canonizer, ResidualAdd, default_canonizers
from .composites import Composite, UnsupportedLayerError
from ._engine import RelevanceSession, relevance_session
from .rules import Rule, as_rule, rule_from_spec

__all__ = [
    "Canonizer",
    "Composite",
    "UnsupportedLayerError",
    "RelevanceSession",
    "ResidualAdd",
    "Rule",
    "as_rule",
    "default_canonizers",
    "relevance_session",
    "rule_from_spec",
]
