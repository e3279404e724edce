"""Smooth activations of modern networks: GELU and SiLU (swish).

The classic ones (:class:`~blocks.bricks.Tanh`, :class:`~blocks.bricks.Rectifier`...)
live in :mod:`blocks.bricks.simple`.
"""

import numpy as np
import pytensor.tensor as pt

from blocks.bricks.base import describe
from blocks.bricks.interfaces import Activation

__all__ = ["GELU", "SiLU"]


class GELU(Activation):
    r"""The Gaussian error linear unit ([HG16]_): :math:`x \Phi(x)`.

    Parameters
    ----------
    approximate : {'none', 'tanh'}, optional
        ``'none'`` (the default) computes the exact form
        :math:`\frac{x}{2} (1 + \mathrm{erf}(x / \sqrt{2}))`; ``'tanh'`` the
        approximation :math:`\frac{x}{2} (1 + \tanh(\sqrt{2 / \pi} (x + 0.044715 x^3)))`
        (as ``torch.nn.GELU(approximate='tanh')``).

    References
    ----------
    .. [HG16] Dan Hendrycks and Kevin Gimpel, *Gaussian error linear units (GELUs)*,
       arXiv 1606.08415 (2016).

    Examples
    --------
    >>> x = pt.vector('x')
    >>> GELU().apply(x).eval({x: [-1., 0., 1.]}).round(4).tolist()
    [-0.1587, 0.0, 0.8413]
    >>> GELU(approximate='tanh').apply(x).eval({x: [1.]}).round(4).tolist()
    [0.8412]
    """

    def __init__(self, approximate="none", **kwargs):
        super().__init__(**kwargs)
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"{describe(self)}: argument 'approximate': expected 'none' or 'tanh', got "
                f"{approximate!r}"
            )
        self.approximate = approximate

    def activation(self, input_):
        half = pt.constant(0.5, dtype=input_.dtype)
        if self.approximate == "tanh":
            inner = np.sqrt(2 / np.pi) * (input_ + 0.044715 * input_ ** 3)
            return half * input_ * (1 + pt.tanh(inner.astype(input_.dtype)))
        return half * input_ * (1 + pt.erf(input_ / np.sqrt(2).astype(input_.dtype)))


class SiLU(Activation):
    r"""The sigmoid linear unit (swish, [EUD17]_): :math:`x \sigma(x)`.

    References
    ----------
    .. [EUD17] Stefan Elfwing, Eiji Uchibe and Kenji Doya, *Sigmoid-weighted linear units
       for neural network function approximation in reinforcement learning*, arXiv
       1702.03118 (2017).

    Examples
    --------
    >>> x = pt.vector('x')
    >>> SiLU().apply(x).eval({x: [0., 1.]}).round(4).tolist()
    [0.0, 0.7311]
    """

    def activation(self, input_):
        return input_ * pt.sigmoid(input_)
