"""Simple feed-forward bricks: linear transformations, biases, maxout, activations, softmax."""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable
from pytensor.raise_op import Assert
from pytensor.tensor.special import log_softmax, softmax

from blocks.bricks.base import Brick, application, describe, lazy
from blocks.bricks.interfaces import Activation, Feedforward, Initializable, LinearLike
from blocks.bricks.validation import POSITIVE_INTEGER
from blocks.bricks.wrappers import WithExtraDims
from blocks.ops.checks.op import ensure_last_dim
from blocks.roles import BIAS, WEIGHT
from blocks.utils import check_variable

__all__ = [
    "Linear", "Identity", "Tanh", "Logistic", "Softplus", "Rectifier", "LeakyRectifier",
    "Bias", "Maxout", "LinearMaxout", "Softmax", "NDimensionalSoftmax",
]


def check_last_dim(brick, argument, variable, expected, min_ndim=1):
    """Refuse `variable` if it is not symbolic, has too few dims or the wrong last dimension.

    The last dimension is compared now where both it and `expected` are known. Where only
    `expected` is, the returned variable checks it when the graph runs (see
    :class:`~blocks.ops.checks.op.LastDimCheck`); use it in place of `variable`.
    """
    where = f"{describe(brick)}: argument {argument!r}"
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
    if isinstance(expected, int) and not isinstance(expected, bool):
        return ensure_last_dim(variable, expected, where)
    return variable


def as_symbolic(brick, argument, value):
    """`value` as a symbolic tensor: arrays and numbers are wrapped, anything else refused."""
    if isinstance(value, Variable):
        return value
    if isinstance(value, (np.ndarray, np.generic, int, float)):
        return pt.as_tensor_variable(value)
    raise TypeError(
        f"{describe(brick)}: argument {argument!r} must be a symbolic variable or an array, "
        f"got {type(value).__name__}"
    )


def match_shape(brick, argument, variable, reference_argument, reference, ndim=None):
    """Refuse `variable` unless its first `ndim` sizes (all by default) equal `reference`'s.

    Sizes known statically on both sides are compared now; the others by an assertion
    that raises when the compiled function runs. Returns `variable` (with the assertion).
    """
    ndim = variable.ndim if ndim is None else ndim
    message = (
        f"{describe(brick)}: argument {argument!r} must match {reference_argument!r} along "
        f"its first {ndim} axes"
    )
    if variable.ndim < ndim or reference.ndim < ndim:
        raise ValueError(
            f"{message}; found ndim={variable.ndim} and ndim={reference.ndim}"
        )
    conditions = []
    for axis in range(ndim):
        size, reference_size = variable.type.shape[axis], reference.type.shape[axis]
        if size is not None and reference_size is not None:
            if size != reference_size:
                raise ValueError(
                    f"{message}; found static shapes {variable.type.shape} and "
                    f"{reference.type.shape}"
                )
        else:
            conditions.append(pt.eq(variable.shape[axis], reference.shape[axis]))
    if conditions:
        variable = Assert(message)(variable, *conditions)
    return variable


def check_categorical_targets(brick, y_name, y, x_name, x):
    """Check targets `y` against a matrix `x` of one row of scores per example.

    `y` is either a vector of integer class indices (one per row of `x`) or a matrix of
    one-hot or probability rows of the shape of `x`. Returns both as symbolic tensors,
    `y` carrying a run-time check of the sizes not known statically.
    """
    x = as_symbolic(brick, x_name, x)
    check_variable(x, 2, owner=describe(brick), argument=x_name)
    y = as_symbolic(brick, y_name, y)
    if y.ndim == 1:
        if not str(y.dtype).startswith(("int", "uint")):
            raise TypeError(
                f"{describe(brick)}: argument {y_name!r} is a vector, so it must hold integer "
                f"class indices, found dtype {y.dtype} (give one-hot or probability rows as "
                f"a matrix)"
            )
        return match_shape(brick, y_name, y, x_name, x, ndim=1), x
    if y.ndim == 2:
        return match_shape(brick, y_name, y, x_name, x), x
    raise ValueError(
        f"{describe(brick)}: argument {y_name!r}: expected ndim=1 (integer class indices) or "
        f"ndim=2 (one-hot or probability rows), found ndim={y.ndim}"
    )


def select_classes(matrix, indices):
    """``matrix[i, indices[i]]`` for every row ``i``: the entries of the target classes."""
    return matrix[pt.arange(indices.shape[0]), indices]


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

    argument_checks = {
        "input_dim": POSITIVE_INTEGER,
        "output_dim": POSITIVE_INTEGER,
    }

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
        input_ = check_last_dim(self, "input_", input_, self.input_dim)
        # With leading dimensions, dot reshapes the input to a matrix by a size computed at
        # run time, which PyTensor's JAX backend cannot compile; matmul broadcasts instead.
        output = pt.dot(input_, self.W) if input_.ndim <= 2 else pt.matmul(input_, self.W)
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


class Bias(Feedforward, Initializable):
    """Add a bias (i.e. sum with a vector).

    Parameters
    ----------
    dim : int
        The dimension of the input and output. Required by :meth:`allocate`.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for the initialization parameters; the
    parameter ``b`` of shape ``(dim,)`` (role BIAS) is initialized by ``biases_init``.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> bias = Bias(dim=3, biases_init=Constant(0.5))
    >>> bias.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> bias.apply(x).eval({x: np.ones((1, 3))}).tolist()
    [[1.5, 1.5, 1.5]]
    """

    argument_checks = {"dim": POSITIVE_INTEGER}

    @lazy(allocation=["dim"])
    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim

    def _allocate(self):
        self.create_parameter("b", (self.dim,), BIAS)

    @property
    def b(self):
        return self.parameters[0]

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Add the bias.

        Parameters
        ----------
        input_ : TensorVariable
            The input, of shape ``(..., dim)``.

        Returns
        -------
        output : TensorVariable
            The input plus the bias, of the same shape.
        """
        input_ = check_last_dim(self, "input_", input_, self.dim)
        return input_ + self.b

    def get_dim(self, name):
        if name in ("input_", "output"):
            return self.dim
        return super().get_dim(name)

    @property
    def input_dim(self):
        return self.dim

    @input_dim.setter
    def input_dim(self, value):
        self.dim = value

    output_dim = input_dim


class Maxout(Brick):
    """Maxout pooling: the maximum over groups of ``num_pieces`` consecutive input units.

    Maxout [GWFM13]_ applies a set of linear transformations to a vector and selects for
    each output dimension the result with the highest value; this brick does the
    selection, see :class:`LinearMaxout` for both.

    Parameters
    ----------
    num_pieces : int
        The size of the groups the maximum is taken over. Required by :meth:`allocate`.

    References
    ----------
    .. [GWFM13] Ian J. Goodfellow, David Warde-Farley, Mehdi Mirza, Aaron Courville, and
       Yoshua Bengio, *Maxout networks*, ICML (2013), pp. 1319-1327.

    Examples
    --------
    >>> maxout = Maxout(num_pieces=2)
    >>> x = pytensor.tensor.matrix('x')
    >>> maxout.apply(x).eval({x: [[1., 5., 4., 2.]]}).tolist()
    [[5.0, 4.0]]
    """

    argument_checks = {"num_pieces": POSITIVE_INTEGER}

    @lazy(allocation=["num_pieces"])
    def __init__(self, num_pieces, **kwargs):
        super().__init__(**kwargs)
        self.num_pieces = num_pieces

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Apply the maxout transformation.

        Parameters
        ----------
        input_ : TensorVariable
            The input, of shape ``(..., num_pieces * k)``.

        Returns
        -------
        output : TensorVariable
            The maxima of the groups, of shape ``(..., k)``.
        """
        pieces = self.num_pieces
        if isinstance(pieces, bool) or not isinstance(pieces, (int, np.integer)) or pieces < 1:
            raise ValueError(
                f"{describe(self)}: expected num_pieces to be a positive integer, got {pieces!r}"
            )
        check_last_dim(self, "input_", input_, None)
        last = input_.type.shape[-1]
        message = (f"{describe(self)}: argument 'input_': the last dimension must be a "
                   f"multiple of num_pieces={pieces}")
        if last is not None and last % pieces:
            raise ValueError(f"{message}, found {last}")
        if last is None:
            input_ = Assert(message)(input_, pt.eq(input_.shape[-1] % pieces, 0))
        shape = [input_.shape[i] for i in range(input_.ndim - 1)]
        grouped = input_.reshape(shape + [input_.shape[-1] // pieces, pieces],
                                 ndim=input_.ndim + 1)
        return grouped.max(axis=-1)


class LinearMaxout(Initializable, Feedforward):
    """Maxout pooling following a linear transformation.

    This brick combines a :class:`Linear` brick (output dimension
    ``output_dim * num_pieces``) with a :class:`Maxout` brick.

    Parameters
    ----------
    input_dim : int
        The dimension of the input. Required by :meth:`allocate`.
    output_dim : int
        The dimension of the output. Required by :meth:`allocate`.
    num_pieces : int
        The number of linear functions. Required by :meth:`allocate`.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for the initialization parameters.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> brick = LinearMaxout(input_dim=2, output_dim=3, num_pieces=2,
    ...                      weights_init=Constant(1), biases_init=Constant(0))
    >>> brick.initialize()
    >>> brick.linear.W.get_value().shape
    (2, 6)
    >>> x = pytensor.tensor.matrix('x')
    >>> brick.apply(x).eval({x: [[1., 2.]]}).tolist()
    [[3.0, 3.0, 3.0]]
    """

    argument_checks = {
        "input_dim": POSITIVE_INTEGER,
        "output_dim": POSITIVE_INTEGER,
        "num_pieces": POSITIVE_INTEGER,
    }

    @lazy(allocation=["input_dim", "output_dim", "num_pieces"])
    def __init__(self, input_dim, output_dim, num_pieces, **kwargs):
        self.linear = Linear()
        self.maxout = Maxout()
        kwargs["children"] = list(kwargs.get("children") or []) + [self.linear, self.maxout]
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.num_pieces = num_pieces

    def _push_allocation_config(self):
        self.linear.input_dim = self.input_dim
        self.linear.output_dim = self.output_dim * self.num_pieces
        self.maxout.num_pieces = self.num_pieces
        super()._push_allocation_config()

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Apply the linear transformation followed by maxout.

        Parameters
        ----------
        input_ : TensorVariable
            The input, of shape ``(..., input_dim)``.

        Returns
        -------
        output : TensorVariable
            The output, of shape ``(..., output_dim)``.
        """
        return self.maxout.apply(self.linear.apply(input_))

    def get_dim(self, name):
        if name == "input_":
            return self.input_dim
        if name == "output":
            return self.output_dim
        return super().get_dim(name)


class Softmax(Brick):
    """A softmax brick.

    Works with 2-dimensional inputs only (one distribution per row); for more, see
    :class:`NDimensionalSoftmax`.

    Examples
    --------
    >>> softmax = Softmax()
    >>> x = pytensor.tensor.matrix('x')
    >>> softmax.apply(x).eval({x: [[0., 0.], [0., np.log(3)]]}).tolist()
    [[0.5, 0.5], [0.25, 0.75]]
    >>> y = pytensor.tensor.lvector('y')
    >>> cost = softmax.categorical_cross_entropy(y, x)
    >>> cost.eval({x: [[0., 0.], [0., np.log(3)]], y: [0, 1]}).round(4).tolist()
    [0.6931, 0.2877]
    """

    def _check_input(self, input_):
        input_ = as_symbolic(self, "input_", input_)
        if input_.ndim != 2:
            raise ValueError(
                f"{describe(self)}: argument 'input_': expected ndim=2, found "
                f"ndim={input_.ndim} (for more dimensions use NDimensionalSoftmax and its "
                f"extra_ndim argument)"
            )
        return input_

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Standard softmax.

        Parameters
        ----------
        input_ : Variable
            A matrix, each row contains unnormalized log-probabilities of a distribution.

        Returns
        -------
        output : Variable
            A matrix with probabilities in each row for each distribution from `input_`.
        """
        return softmax(self._check_input(input_), axis=1)

    @application(inputs=["input_"], outputs=["output"])
    def log_probabilities(self, input_):
        """Normalize log-probabilities.

        Converts unnormalized log-probabilities (exponents of which do not sum to one) into
        actual log-probabilities (exponents of which sum to one), with a numerically stable
        log-sum-exp.

        Parameters
        ----------
        input_ : Variable
            A matrix, each row contains unnormalized log-probabilities of a distribution.

        Returns
        -------
        output : Variable
            A matrix with normalized log-probabilities in each row for each distribution
            from `input_`.
        """
        return log_softmax(self._check_input(input_), axis=1)

    @application(inputs=["y", "x"], outputs=["output"])
    def categorical_cross_entropy(self, y, x):
        """Computationally stable cross-entropy for pre-softmax values.

        Parameters
        ----------
        y : TensorVariable
            In the case of a matrix argument, each row represents a probability
            distribution. In the vector case, each element represents a distribution by
            specifying the position of 1 in a 1-hot vector (an integer class index).
        x : TensorVariable
            A matrix, each row contains unnormalized probabilities of a distribution.

        Returns
        -------
        cost : TensorVariable
            A vector of cross-entropies between respective distributions from `y` and `x`.
        """
        y, x = check_categorical_targets(self, "y", y, "x", x)
        log_probabilities = log_softmax(x, axis=1)
        if y.ndim == 1:
            return -select_classes(log_probabilities, y)
        return -(y * log_probabilities).sum(axis=1)


class NDimensionalSoftmax(Softmax):
    """A wrapped brick class.

    This brick was automatically constructed by wrapping :class:`Softmax` with
    :class:`~blocks.bricks.wrappers.WithExtraDims`: every application takes an
    ``extra_ndim`` keyword, the number of leading dimensions to merge with the batch one.

    Examples
    --------
    >>> softmax = NDimensionalSoftmax()
    >>> x = pytensor.tensor.tensor3('x')
    >>> y = pytensor.tensor.lmatrix('y')
    >>> cost = softmax.categorical_cross_entropy(y, x, extra_ndim=1)
    >>> cost.eval({x: np.zeros((2, 3, 4)), y: np.zeros((2, 3), dtype='int64')}).shape
    (2, 3)
    """

    decorators = [WithExtraDims()]
