"""Guided backprop and its input-multiplied variants (docs/semantics.md §3).

``guided_backprop``: at every ``nn.ReLU`` the backward signal g becomes 1[z > 0] * max(g, 0);
elsewhere the plain gradient; unit seed at the selected logit. ``guided_backprop_x_input``
multiplies the map by x, ``guided_backprop_x_sign(_mu_<v>)`` by sign_mu(x, v). The classes are
those of :func:`.relu_backward.modified_relu_family` for the ``"guided_backprop"`` mode.
"""

from __future__ import annotations

from .relu_backward import modified_relu_family

__all__ = ["GuidedBackprop", "GuidedBackpropXInput", "GuidedBackpropXSign"]

GuidedBackprop, GuidedBackpropXInput, GuidedBackpropXSign = modified_relu_family("guided_backprop", __name__)
