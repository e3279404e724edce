"""Positional embeddings added to time-major sequences: sinusoidal and learned."""

import numpy as np
import pytensor.tensor as pt
from pytensor.raise_op import Assert

from blocks.bricks.base import Brick, application, describe, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.transformer.attention import check_time_major
from blocks.bricks.validation import POSITIVE_INTEGER
from blocks.roles import WEIGHT

__all__ = ["SinusoidalPositionalEmbedding", "LearnedPositionalEmbedding"]


class _PositionalEmbedding(Brick):
    """Adds an embedding of each step's position to a sequence ``(time, batch, dim)``."""

    def embeddings(self, first, length):
        """The embeddings ``(length, dim)`` of the positions ``first, first + 1, ...``."""
        raise NotImplementedError(f"{type(self).__name__} must implement embeddings()")

    @application(inputs=["inputs", "offset"], outputs=["output"])
    def apply(self, inputs, offset=0):
        """Add the embeddings of the positions ``offset, offset + 1, ...`` to `inputs`.

        Parameters
        ----------
        inputs : TensorVariable
            ``(time, batch, dim)``.
        offset : int or integer scalar variable, optional
            The position of the first step (e.g. of a step of a cached decoder); 0 by
            default.
        """
        check_time_major(self, "inputs", inputs, self.dim)
        offset = pt.as_tensor_variable(offset)
        if offset.ndim != 0 or not offset.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"{describe(self)}: argument 'offset': expected an integer scalar, found "
                f"ndim={offset.ndim} and dtype {offset.dtype}"
            )
        embeddings = self.embeddings(offset, inputs.shape[0])
        return inputs + embeddings.astype(inputs.dtype)[:, None, :]

    def get_dim(self, name):
        if name in ("inputs", "output"):
            return self.dim
        return super().get_dim(name)


class SinusoidalPositionalEmbedding(_PositionalEmbedding):
    r"""Adds fixed sinusoids of the positions ([VSP17]_); no parameters.

    .. math:: PE(p, 2i) = \sin(p / b^{2i / d}), \quad PE(p, 2i + 1) = \cos(p / b^{2i / d})

    Parameters
    ----------
    dim : int
        The dimension :math:`d` of the sequence elements. Required by :meth:`allocate`.
    base : float, optional
        The base :math:`b` of the wavelengths; 10000 by default.

    Examples
    --------
    >>> embedding = SinusoidalPositionalEmbedding(dim=4)
    >>> x = pt.tensor3('x')
    >>> embedding.apply(x, offset=1).eval({x: np.zeros((1, 1, 4))}).round(4).tolist()
    [[[0.8415, 0.5403, 0.01, 1.0]]]
    """

    argument_checks = {"dim": POSITIVE_INTEGER}

    @lazy(allocation=["dim"])
    def __init__(self, dim, base=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.base = base

    def embeddings(self, first, length):
        pairs = np.arange(self.dim) // 2
        frequencies = pt.constant(self.base ** (-2.0 * pairs / self.dim))
        angles = (first + pt.arange(length))[:, None] * frequencies[None, :]
        even = pt.constant(np.arange(self.dim) % 2 == 0)
        return pt.switch(even[None, :], pt.sin(angles), pt.cos(angles))


class LearnedPositionalEmbedding(_PositionalEmbedding, Initializable):
    """Adds a learned vector per position, up to `max_length` positions.

    Parameters
    ----------
    max_length : int
        The number of positions. Required by :meth:`allocate`.
    dim : int
        The dimension of the sequence elements. Required by :meth:`allocate`.

    Notes
    -----
    The parameter ``W`` ``(max_length, dim)`` has the WEIGHT role and is initialized by
    ``weights_init``. A sequence reaching beyond `max_length` makes the compiled function
    raise.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> embedding = LearnedPositionalEmbedding(max_length=5, dim=2,
    ...                                        weights_init=Constant(1))
    >>> embedding.initialize()
    >>> x = pt.tensor3('x')
    >>> embedding.apply(x).eval({x: np.zeros((3, 1, 2))})[:, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """

    has_biases = False

    argument_checks = {"max_length": POSITIVE_INTEGER, "dim": POSITIVE_INTEGER}

    @lazy(allocation=["max_length", "dim"])
    def __init__(self, max_length, dim, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.dim = dim

    def _allocate(self):
        self.create_parameter("W", (self.max_length, self.dim), WEIGHT)

    @property
    def W(self):
        return self.parameters[0]

    def embeddings(self, first, length):
        end = first + length
        message = (f"{describe(self)}: argument 'inputs': the positions must stay below "
                   f"max_length={self.max_length}")
        end = Assert(message)(end, pt.le(end, self.max_length))
        return self.W[first:end]
