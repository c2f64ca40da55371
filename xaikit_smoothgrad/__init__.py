"""The SmoothGrad explainer, a plugin registered through the ``xaikit`` entry-point group."""

import xaikit

from .explainer import SmoothGrad

__all__ = ["SmoothGrad"]


@xaikit.hookimpl
def register_explainers(register):
    register(SmoothGrad())
