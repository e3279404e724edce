"""Normalizations over the feature axis of every example: layer and RMS normalization.

Unlike batch normalization (:mod:`blocks.bricks.bn`) they use no statistics of the batch,
so they behave the same in training and inference and need no population statistics.
"""

import pytensor.tensor as pt

from blocks.bricks.base import Brick, application, lazy
from blocks.bricks.interfaces import RNGMixin
from blocks.bricks.simple import check_last_dim
from blocks.bricks.validation import NON_NEGATIVE_NUMBER, POSITIVE_INTEGER
from blocks.initialization import Constant
from blocks.roles import SCALE, SHIFT

__all__ = ["LayerNormalization", "RMSNormalization"]


class _FeatureNormalization(RNGMixin, Brick):
    """Normalizes the last axis, then multiplies by a learned scale and adds a learned shift.

    Subclasses define :meth:`normalize`. Like
    :class:`~blocks.bricks.BatchNormalization`, these bricks are not
    :class:`~blocks.bricks.Initializable`: their scale starts at one and their shift at
    zero whatever initialization a parent pushes (pass `scale_init` or `shift_init` to
    change that).
    """

    argument_checks = {"dim": POSITIVE_INTEGER, "epsilon": NON_NEGATIVE_NUMBER}

    @lazy(allocation=["dim"])
    def __init__(self, dim, epsilon=1e-5, learn_scale=True, learn_shift=True, scale_init=None,
                 shift_init=None, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.epsilon = epsilon
        self.learn_scale = learn_scale
        self.learn_shift = learn_shift
        self.scale_init = Constant(1) if scale_init is None else scale_init
        self.shift_init = Constant(0) if shift_init is None else shift_init

    def _allocate(self):
        if self.learn_scale:
            self.create_parameter("scale", (self.dim,), SCALE)
        if self.learn_shift:
            self.create_parameter("shift", (self.dim,), SHIFT)

    def _parameter(self, name):
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def scale(self):
        """The learned scale ``(dim,)`` (role SCALE), or None when not learned."""
        return self._parameter("scale")

    @property
    def shift(self):
        """The learned shift ``(dim,)`` (role SHIFT), or None when not learned."""
        return self._parameter("shift")

    def _initialize(self):
        if self.scale is not None:
            self.scale_init.initialize(self.scale, self.rng)
        if self.shift is not None:
            self.shift_init.initialize(self.shift, self.rng)

    def normalize(self, input_):
        raise NotImplementedError(f"{type(self).__name__} must implement normalize(input_)")

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Normalize `input_` ``(..., dim)`` over its last axis, then scale and shift it."""
        check_last_dim(self, "input_", input_, self.dim)
        output = self.normalize(input_)
        if self.scale is not None:
            output = output * self.scale
        if self.shift is not None:
            output = output + self.shift
        return output

    def _epsilon(self, input_):
        return pt.constant(self.epsilon, dtype=input_.dtype)

    def get_dim(self, name):
        if name in ("input_", "output"):
            return self.dim
        return super().get_dim(name)


class LayerNormalization(_FeatureNormalization):
    r"""Layer normalization ([BKH16]_) over the last axis.

    .. math:: y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \gamma + \beta

    with the mean :math:`\mu` and the (biased) variance :math:`\sigma^2` of the last
    axis of each example.

    Parameters
    ----------
    dim : int
        The size of the last axis. Required by :meth:`allocate`.
    epsilon : float, optional
        Added to the variance; 1e-5 by default.
    learn_scale, learn_shift : bool, optional
        Whether to learn the scale :math:`\gamma` (parameter ``scale``, role SCALE) and
        the shift :math:`\beta` (``shift``, role SHIFT, a kind of BIAS); True by default.
    scale_init, shift_init : NdarrayInitialization, optional
        ``Constant(1)`` and ``Constant(0)`` by default.

    References
    ----------
    .. [BKH16] Jimmy Lei Ba, Jamie Ryan Kiros and Geoffrey E. Hinton, *Layer
       normalization*, arXiv 1607.06450 (2016).

    Examples
    --------
    >>> import numpy as np
    >>> norm = LayerNormalization(dim=3, epsilon=0)
    >>> norm.initialize()
    >>> x = pt.matrix('x')
    >>> norm.apply(x).eval({x: [[1., 2., 3.]]}).round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    """

    def normalize(self, input_):
        centered = input_ - input_.mean(axis=-1, keepdims=True)
        variance = pt.sqr(centered).mean(axis=-1, keepdims=True)
        return centered / pt.sqrt(variance + self._epsilon(input_))


class RMSNormalization(_FeatureNormalization):
    r"""Root-mean-square normalization ([ZS19]_) over the last axis.

    .. math:: y = \frac{x}{\sqrt{\overline{x^2} + \epsilon}} \gamma

    Parameters
    ----------
    dim : int
        The size of the last axis. Required by :meth:`allocate`.
    epsilon : float, optional
        Added to the mean square; 1e-5 by default.
    learn_scale : bool, optional
        Whether to learn the scale :math:`\gamma` (``scale``, role SCALE); True by
        default. There is no shift unless ``learn_shift=True`` is given.
    scale_init : NdarrayInitialization, optional
        ``Constant(1)`` by default.

    References
    ----------
    .. [ZS19] Biao Zhang and Rico Sennrich, *Root mean square layer normalization*,
       NeurIPS (2019).

    Examples
    --------
    >>> norm = RMSNormalization(dim=2, epsilon=0)
    >>> norm.initialize()
    >>> x = pt.matrix('x')
    >>> norm.apply(x).eval({x: [[3., 4.]]}).round(4).tolist()
    [[0.8485, 1.1314]]
    """

    argument_checks = {"dim": POSITIVE_INTEGER, "epsilon": NON_NEGATIVE_NUMBER}

    @lazy(allocation=["dim"])
    def __init__(self, dim, epsilon=1e-5, learn_scale=True, learn_shift=False, **kwargs):
        super().__init__(dim, epsilon=epsilon, learn_scale=learn_scale,
                         learn_shift=learn_shift, **kwargs)

    def normalize(self, input_):
        mean_square = pt.sqr(input_).mean(axis=-1, keepdims=True)
        return input_ / pt.sqrt(mean_square + self._epsilon(input_))
