"""The method table and name grammar shared by ``signxai_captum`` and ``signxai_tf``.

No framework is imported here. ``parse("lrpsign_epsilon_0_1")`` turns a method name into a
:class:`MethodSpec`; ``list_methods()`` lists the named methods of the table.
"""

from .errors import MethodNameError, MethodParameterError, SignXAIError, UnsupportedLayerError
from .inputs import check_finite
from .grammar import format_number, lrp_spec, parse, parse_number
from .legacy import LEGACY_KEYWORDS, translate_legacy
from .parameters import check_alpha_beta, check_parameter, check_parameters, parameter_default
from .noise import noise_scale, standard_normal_noise
from .spec import LRPRule, LRPRuleSet, MethodSpec, select_kernel_rule
from .table import list_methods, method_table, model_constants
from .targets import resolve_targets

__all__ = [
    "LEGACY_KEYWORDS",
    "LRPRule",
    "LRPRuleSet",
    "MethodNameError",
    "MethodParameterError",
    "MethodSpec",
    "SignXAIError",
    "UnsupportedLayerError",
    "check_alpha_beta",
    "check_parameter",
    "check_parameters",
    "parameter_default",
    "check_finite",
    "format_number",
    "list_methods",
    "lrp_spec",
    "method_table",
    "model_constants",
    "noise_scale",
    "parse",
    "parse_number",
    "resolve_targets",
    "select_kernel_rule",
    "standard_normal_noise",
    "translate_legacy",
]
