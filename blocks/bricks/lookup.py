"""Lookup tables: learned vector representations of integers (e.g. word embeddings)."""

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Feedforward, Initializable
from blocks.bricks.simple import as_symbolic, describe
from blocks.bricks.validation import NON_NEGATIVE_INTEGER, POSITIVE_INTEGER
from blocks.ops.checks.op import check_indices
from blocks.roles import WEIGHT

__all__ = ["LookupTable"]


class LookupTable(Initializable, Feedforward):
    """Encapsulates representations of a range of integers.

    This brick can be used to embed integers, e.g. word indices, into a vector space.

    Parameters
    ----------
    length : int
        The size of the lookup table, or in other words, one plus the maximum index for
        which a representation is contained. Required by :meth:`allocate`.
    dim : int
        The dimensionality of representations. Required by :meth:`allocate`.
    indices_ndim : int, optional
        If given, :meth:`apply` accepts only index tensors with this number of
        dimensions; any number by default.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for the initialization parameters; the table
    ``W`` of shape ``(length, dim)`` has the role WEIGHT and is initialized by
    ``weights_init``. The brick has no biases.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> lookup = LookupTable(length=4, dim=2, weights_init=Constant(0))
    >>> lookup.initialize()
    >>> lookup.W.set_value(np.arange(8.).reshape(4, 2))
    >>> indices = pytensor.tensor.lmatrix('indices')
    >>> lookup.apply(indices).eval({indices: [[3, 0]]}).tolist()
    [[[6.0, 7.0], [0.0, 1.0]]]
    """

    argument_checks = {
        "length": POSITIVE_INTEGER,
        "dim": POSITIVE_INTEGER,
        "indices_ndim": NON_NEGATIVE_INTEGER,
    }

    has_bias = False
    has_biases = False
    #: Whether indices in ``[-length, 0)`` read from the end of the table (as NumPy does)
    #: instead of being refused; out-of-range indices are refused either way.
    allow_negative_indices = False

    @lazy(allocation=["length", "dim"])
    def __init__(self, length, dim, indices_ndim=None, **kwargs):
        super().__init__(**kwargs)
        self.length = length
        self.dim = dim
        self.indices_ndim = indices_ndim

    @property
    def W(self):
        return self.parameters[0]

    def _allocate(self):
        self.create_parameter("W", (self.length, self.dim), WEIGHT)

    @application(inputs=["indices"], outputs=["output"])
    def apply(self, indices):
        """Perform lookup.

        Parameters
        ----------
        indices : TensorVariable
            The indices of interest. The dtype must be integer.

        Returns
        -------
        output : TensorVariable
            Representations for the indices of the query. Has :math:`k+1` dimensions,
            where :math:`k` is the number of dimensions of the `indices` parameter. The
            last dimension stands for the representation element.
        """
        indices = as_symbolic(self, "indices", indices)
        where = f"{describe(self)}: argument 'indices'"
        if not str(indices.dtype).startswith(("int", "uint")):
            raise TypeError(f"{where}: expected an integer dtype, found {indices.dtype}")
        if self.indices_ndim is not None and indices.ndim != self.indices_ndim:
            raise ValueError(
                f"{where}: expected ndim={self.indices_ndim}, found ndim={indices.ndim}"
            )
        # Out-of-range indices, and negative ones unless allow_negative_indices, are
        # refused at run time (numpy would read a negative one from the end of the table).
        return self.W[check_indices(indices, self.W.shape[0], describe(self),
                                    self.allow_negative_indices)]

    def get_dim(self, name):
        if name == "output":
            return self.dim
        if name == "indices":
            return 0
        return super().get_dim(name)

    @property
    def input_dim(self):
        return self.length

    @input_dim.setter
    def input_dim(self, value):
        self.length = value

    @property
    def output_dim(self):
        return self.dim

    @output_dim.setter
    def output_dim(self, value):
        self.dim = value
