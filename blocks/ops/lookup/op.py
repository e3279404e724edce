"""The check that indices lie in a lookup table: ``0 <= index < length``.

NumPy (and so PyTensor) reads a negative index from the end of the table and refuses an
index past the end only with "index out of bounds"; a lookup table wants neither. The op
passes its indices through unchanged, and refuses at run time any index out of range,
naming the brick, the index and the length of the table.

Examples
--------
>>> import numpy as np
>>> import pytensor.tensor as pt
>>> indices = pt.lvector('indices')
>>> checked = check_indices(indices, 5, "LookupTable 'words'")
>>> checked.eval({indices: [0, 4]}).tolist()
[0, 4]
>>> checked.eval({indices: [2, 7]})
Traceback (most recent call last):
    ...
IndexError: LookupTable 'words': index 7 is out of range for a table of length 5 ...
"""

import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["IndexCheck", "check_indices", "index_error_message"]


def index_error_message(where, index, length):
    """The words of the error for `index` out of a table of `length` rows."""
    return (f"{where}: index {index} is out of range for a table of length {length} "
            f"(indices must lie in [0, {length}))")


class IndexCheck(Op):
    """Pass integer indices through, refusing those out of ``[0, length)`` at run time.

    Parameters
    ----------
    where : str
        Who looks up (e.g. ``"LookupTable 'words'"``), for the error message.

    Notes
    -----
    Inputs are the indices (any integer tensor) and the length of the table (an integer
    scalar); the output is the indices, a view. Under JAX the check is skipped: XLA
    cannot raise from compiled code, and its gathers clamp out-of-range indices.
    """

    __props__ = ("where",)
    view_map = {0: [0]}

    def __init__(self, where):
        self.where = where

    def make_node(self, indices, length):
        indices = pt.as_tensor_variable(indices)
        length = pt.as_tensor_variable(length)
        if not all(dtype.startswith(("int", "uint")) for dtype in (indices.dtype, length.dtype)):
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
        bad = (indices < 0) | (indices >= length)
        if bad.any():
            raise IndexError(index_error_message(self.where, indices[bad].flat[0], length))
        output_storage[0][0] = indices

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def connection_pattern(self, node):
        return [[False], [False]]

    def pullback(self, inputs, outputs, output_grads):
        return [disconnected_type(), disconnected_type()]

    def do_constant_folding(self, fgraph, node):
        return False


def check_indices(indices, length, where):
    """`indices`, refused at run time where one is out of ``[0, length)`` (see
    :class:`IndexCheck`)."""
    return IndexCheck(where)(indices, length)
