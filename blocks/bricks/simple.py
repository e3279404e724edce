"""Simple feed-forward bricks: the linear transformation and the elementwise activations."""

import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Activation, Feedforward, LinearLike
from blocks.roles import BIAS, WEIGHT

__all__ = [
    "Linear", "Identity", "Tanh", "Logistic", "Softplus", "Rectifier", "LeakyRectifier",
]


def check_last_dim(brick, argument, variable, expected, min_ndim=1):
    """Refuse `variable` if it is not symbolic, has too few dims or the wrong last dimension.

    The last dimension is compared only when both it and `expected` are known.
    """
    where = f"{type(brick).__name__} {brick.name!r}: argument {argument!r}"
    if not isinstance(variable, Variable):
        raise TypeError(f"{where} must be a symbolic variable, got {type(variable).__name__}")
    if variable.ndim < min_ndim:
        raise ValueError(
            f"{where}: expected ndim >= {min_ndim}, found ndim={variable.ndim}"
        )
    static = variable.type.shape[-1]
    if static is not None and isinstance(expected, int) and static != expected:
        raise ValueError(
            f"{where}: expected the last dimension to be {expected}, found {static} "
            f"(full static shape received: {variable.type.shape})"
        )


class Linear(LinearLike, Feedforward):
    r"""A linear transformation with optional bias: :math:`f(x) = x W + b`.

    Parameters
    ----------
    input_dim : int
        The dimension of the input. Required by :meth:`allocate`.
    output_dim : int
        The dimension of the output. Required by :meth:`allocate`.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for the initialization parameters. The
    parameters are ``W`` of shape ``(input_dim, output_dim)`` (role WEIGHT) and, with
    ``use_bias``, ``b`` of shape ``(output_dim,)`` (role BIAS).

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as pt
    >>> from blocks.initialization import Constant
    >>> linear = Linear(input_dim=2, output_dim=3, weights_init=Constant(1),
    ...                 biases_init=Constant(0.5))
    >>> linear.initialize()
    >>> x = pt.matrix('x')
    >>> linear.apply(x).eval({x: np.ones((1, 2))}).tolist()
    [[2.5, 2.5, 2.5]]
    """

    @lazy(allocation=["input_dim", "output_dim"])
    def __init__(self, input_dim, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def _allocate(self):
        self.create_parameter("W", (self.input_dim, self.output_dim), WEIGHT)
        if self.use_bias:
            self.create_parameter("b", (self.output_dim,), BIAS)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Apply the linear transformation.

        Parameters
        ----------
        input_ : TensorVariable
            The input, of shape ``(..., input_dim)``.

        Returns
        -------
        output : TensorVariable
            The transformed input plus optional bias, of shape ``(..., output_dim)``.
        """
        check_last_dim(self, "input_", input_, self.input_dim)
        output = pt.dot(input_, self.W)
        if self.use_bias:
            output = output + self.b
        return output

    def get_dim(self, name):
        if name == "input_":
            return self.input_dim
        if name == "output":
            return self.output_dim
        return super().get_dim(name)


class Identity(Activation):
    """Elementwise application of the identity function."""

    def activation(self, input_):
        return input_


class Tanh(Activation):
    """Elementwise application of the tanh function."""

    def activation(self, input_):
        return pt.tanh(input_)


class Logistic(Activation):
    """Elementwise application of the logistic function :math:`1 / (1 + e^{-x})`."""

    def activation(self, input_):
        return pt.sigmoid(input_)


class Softplus(Activation):
    r"""Elementwise application of the softplus function :math:`\log(1 + e^x)`."""

    def activation(self, input_):
        return pt.softplus(input_)


class Rectifier(Activation):
    """Elementwise application of the rectifier function :math:`\\max(0, x)`."""

    def activation(self, input_):
        return pt.maximum(input_, 0)


class LeakyRectifier(Activation):
    r"""Elementwise application of the leaky rectifier: :math:`x` if :math:`x > 0`, else
    :math:`\text{leak} \cdot x`.

    Parameters
    ----------
    leak : float, optional
        The slope for negative inputs; 0.01 by default.
    """

    def __init__(self, leak=0.01, **kwargs):
        super().__init__(**kwargs)
        self._leak = leak

    def activation(self, input_):
        return pt.switch(pt.gt(input_, 0), input_, self._leak * input_)
