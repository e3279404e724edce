"""Run-time checks: indices within a lookup table, the last dimension of an input.

Each op passes its first input through unchanged (a view) and raises, when the graph
runs, an error that names the brick that built the node (``where``), what it expected
and what it found. They catch what a graph cannot know when it is built, e.g. data of
the wrong width fed to a :class:`~blocks.bricks.Linear` whose input is a
``pt.matrix()``, or a word index past the end of a vocabulary.

* :class:`IndexCheck`: integer indices must lie in ``[0, length)``. NumPy (and so
  PyTensor) reads a negative index from the end of the table and refuses an index past
  the end only with "index out of bounds"; a lookup table usually wants neither (where
  it does, e.g. Blocks' ``initial_output=-1`` of a feedback, ``[-length, length)``).
* :class:`LastDimCheck`: the last dimension of a tensor must be a given size.

Examples
--------
>>> import pytensor.tensor as pt
>>> indices = pt.lvector('indices')
>>> checked = check_indices(indices, 5, "LookupTable 'words'")
>>> checked.eval({indices: [0, 4]}).tolist()
[0, 4]
>>> checked.eval({indices: [2, 7]})
Traceback (most recent call last):
    ...
IndexError: LookupTable 'words': index 7 is out of range for a table of length 5 ...
>>> x = pt.matrix('x')
>>> ensure_last_dim(x, 3, "Linear 'linear': input_").eval({x: np.ones((2, 4))})
Traceback (most recent call last):
    ...
ValueError: Linear 'linear': input_: expected the last dimension to be 3, found shape (2, 4)...
"""

import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["IndexCheck", "LastDimCheck", "check_indices", "ensure_last_dim"]


def _is_integer(dtype):
    return dtype.startswith(("int", "uint"))


class _PassThroughCheck(Op):
    """An op whose output is its first input (a view), checked at run time."""

    view_map = {0: [0]}

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def do_constant_folding(self, fgraph, node):
        return False


class IndexCheck(_PassThroughCheck):
    """Pass integer indices through, refusing those out of ``[0, length)`` at run time.

    Parameters
    ----------
    where : str
        Who looks up (e.g. ``"LookupTable 'words'"``), for the error message.
    allow_negative : bool
        Whether indices in ``[-length, 0)`` are accepted (read from the end, as NumPy
        does); False by default.

    Notes
    -----
    Inputs are the indices (any integer tensor) and the length of the table (an integer
    scalar). Under JAX the check is skipped: XLA cannot raise from compiled code, and its
    gathers clamp out-of-range indices.
    """

    __props__ = ("where", "allow_negative")

    def __init__(self, where, allow_negative=False):
        self.where = where
        self.allow_negative = bool(allow_negative)

    def make_node(self, indices, length):
        indices = pt.as_tensor_variable(indices)
        length = pt.as_tensor_variable(length)
        if not (_is_integer(indices.dtype) and _is_integer(length.dtype)):
            raise TypeError(
                f"IndexCheck ({self.where}): expected integer indices and length, found "
                f"{indices.dtype} and {length.dtype}"
            )
        if length.ndim != 0:
            raise TypeError(f"IndexCheck ({self.where}): the length must be a scalar")
        return Apply(self, [indices, pt.cast(length, "int64")], [indices.type()])

    def perform(self, node, inputs, output_storage):
        indices, length = inputs
        length = int(length)
        lowest = -length if self.allow_negative else 0
        bad = (indices < lowest) | (indices >= length)
        if bad.any():
            raise IndexError(
                f"{self.where}: index {indices[bad].flat[0]} is out of range for a table of "
                f"length {length} (indices must lie in [{lowest}, {length}))"
            )
        output_storage[0][0] = indices

    def connection_pattern(self, node):
        return [[False], [False]]

    def pullback(self, inputs, outputs, output_grads):
        return [disconnected_type(), disconnected_type()]


class LastDimCheck(_PassThroughCheck):
    """Pass a tensor through, refusing it at run time unless its last dimension is `size`.

    Parameters
    ----------
    size : int
        The expected last dimension.
    where : str
        Who expects it (e.g. ``"Linear 'linear': argument 'input_'"``), for the message.

    Notes
    -----
    The gradient passes through unchanged. Under JAX, where shapes are static, the
    check happens when the function is traced.
    """

    __props__ = ("size", "where")

    def __init__(self, size, where):
        self.size = int(size)
        self.where = where

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        if x.ndim < 1:
            raise TypeError(f"LastDimCheck ({self.where}): expected ndim >= 1, found 0")
        static = x.type.shape[:-1] + (self.size,)
        return Apply(self, [x], [pt.tensor(dtype=x.dtype, shape=static)])

    def message(self, shape):
        return (f"{self.where}: expected the last dimension to be {self.size}, found shape "
                f"{tuple(shape)}")

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.shape[-1] != self.size:
            raise ValueError(self.message(x.shape))
        output_storage[0][0] = x

    def infer_shape(self, fgraph, node, shapes):
        return [tuple(shapes[0][:-1]) + (self.size,)]

    def pullback(self, inputs, outputs, output_grads):
        return [output_grads[0]]


def check_indices(indices, length, where, allow_negative=False):
    """`indices`, refused at run time where one is out of ``[0, length)`` (or
    ``[-length, length)`` with `allow_negative`; see :class:`IndexCheck`)."""
    return IndexCheck(where, allow_negative)(indices, length)


def ensure_last_dim(x, size, where):
    """`x`, refused at run time unless its last dimension is `size` (see
    :class:`LastDimCheck`); `x` itself where its type already says so."""
    if x.ndim and x.type.shape[-1] == size:
        return x
    return LastDimCheck(size, where)(x)
