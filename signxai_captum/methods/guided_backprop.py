"""Guided backprop and its input-multiplied variants (SPEC §3).

``guided_backprop``: at every ``nn.ReLU`` the backward signal g becomes 1[z > 0] * max(g, 0);
elsewhere the plain gradient; unit seed at the selected logit. ``guided_backprop_x_input``
multiplies the map by x, ``guided_backprop_x_sign(_mu_<v>)`` by sign_mu(x, v).
"""

from __future__ import annotations

from torch import nn

from .relu_backward import ModifiedReLUAttribution

__all__ = ["GuidedBackprop", "GuidedBackpropXInput", "GuidedBackpropXSign"]


class GuidedBackprop(ModifiedReLUAttribution):
    """``guided_backprop``: the gradient with the backward signal at every ReLU set to 1[z>0]·max(g, 0).

    Only ``nn.ReLU`` modules are treated (``ReLU(inplace=True)`` included); a model with other
    activation modules, or without any ``nn.ReLU``, gets one warning at construction. The backward
    pass starts from 1 at the selected logit (the SIGN-XAI reference multiplies by the logit; we do
    not).

    Parameters
    ----------
    model : torch.nn.Module
        The model (a final softmax is skipped; the model is not modified, its hooks are removed
        after every call).

    Examples
    --------
    >>> attr = GuidedBackprop(model).attribute(x, target=3)
    """

    _mode = "guided"
    _method = "guided_backprop"


class GuidedBackpropXInput(GuidedBackprop):
    """``guided_backprop_x_input``: x * guided backprop."""

    _multiplier = "input"
    _method = "guided_backprop_x_input"

    @property
    def multiplies_by_inputs(self) -> bool:  # noqa: D102
        return True


class GuidedBackpropXSign(GuidedBackprop):
    """``guided_backprop_x_sign`` / ``guided_backprop_x_sign_mu_<v>``: guided backprop * sign_mu(x, mu).

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    mu : float, default 0.0
        Threshold of sign_mu in the model's raw input units (+1 where x >= mu, -1 elsewhere).
    """

    _multiplier = "sign"
    _method = "guided_backprop_x_sign"

    def __init__(self, model: nn.Module, mu: float = 0.0) -> None:
        super().__init__(model)
        self.mu = float(mu)
