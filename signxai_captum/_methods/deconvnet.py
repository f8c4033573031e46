"""Deconvnet and its input-multiplied variants (docs/semantics.md §3).

``deconvnet``: at every ``nn.ReLU`` the backward signal g becomes max(g, 0) (no forward mask);
elsewhere the plain gradient; unit seed at the selected logit. ``deconvnet_x_input``
multiplies the map by x, ``deconvnet_x_sign(_mu_<v>)`` by sign_mu(x, v). The classes are those of
:func:`.relu_backward.modified_relu_family` for the ``"deconvnet"`` mode.
"""

from __future__ import annotations

from .relu_backward import modified_relu_family

__all__ = ["Deconvnet", "DeconvnetXInput", "DeconvnetXSign"]

Deconvnet, DeconvnetXInput, DeconvnetXSign = modified_relu_family("deconvnet", __name__)
