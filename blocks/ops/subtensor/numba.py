"""A Numba implementation of PyTensor's ``IncSubtensor`` that is quick to compile.

PyTensor's runs ``z[indices] += y``: Numba's broadcasting assignment through a slice,
whose shape checks format their messages in compiled code, seconds of compile for each
such node (gradients of slicing, three of them in an attention encoder-decoder). This
one takes the view ``z[indices]`` (basic indexing), checks ``y``'s shape against it with
one comparison per axis, raising a message written in advance (PyTensor's report of the
failing function adds the shapes of its inputs; see :mod:`blocks.ops.alloc.numba`), and
adds or assigns with one loop nest. As with NumPy, an
axis of ``y`` of length 1 broadcasts.
"""

from hashlib import sha256

import numpy as np
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.link.numba.dispatch.string_codegen import CODE_TOKEN, build_source_code
from pytensor.tensor.subtensor import IncSubtensor

from blocks.ops.loop_source import indices, loop_nest

__all__ = ["inc_subtensor_source"]

#: Enters the cache key: bump when the generated code changes.
_VERSION = 2


def _index_text(entry, names):
    """The source of one entry of an ``IncSubtensor``'s ``idx_list``: an integer is the
    position of an index input, a slice holds such positions or ``None``."""
    if isinstance(entry, slice):
        return "slice({}, {}, {})".format(
            *(_index_text(part, names) for part in (entry.start, entry.stop, entry.step)))
    return "None" if entry is None else names[entry]


def inc_subtensor_source(idx_list, n_indices, view_ndim, y_shape, set_instead_of_inc,
                         inplace):
    """The Python source of ``inc_subtensor(x, y, *indices)``: ``x`` (or a copy of it
    unless `inplace`) with ``y`` added to (or, if `set_instead_of_inc`, assigned to) its
    part selected by `idx_list`, a view of `view_ndim` axes; `y_shape` is ``y``'s static
    shape (``None`` for an axis of unknown length)."""
    names = [f"index{i}" for i in range(n_indices)]
    selection = ", ".join(_index_text(entry, names) for entry in idx_list)
    operator = "=" if set_instead_of_inc else "+="
    code = [f"def inc_subtensor(x, y{''.join(', ' + name for name in names)}):",
            CODE_TOKEN.INDENT, "z = x" if inplace else "z = x.copy()"]
    if view_ndim == 0:
        value = f"y[{', '.join(['0'] * len(y_shape))}]" if y_shape else "y.item()"
        code += [f"z[{selection},] {operator} {value}", "return z"]
        return build_source_code(code)
    code.append(f"view = z[{selection},]")
    offset = view_ndim - len(y_shape)
    index = []
    for axis, length in enumerate(y_shape):
        if length == 1:
            index.append("0")
            continue
        # A step of 0 along an axis of length 1 broadcasts it.
        index.append(f"i{offset + axis} * step{axis}")
        code += [f"step{axis} = 0 if y.shape[{axis}] == 1 else 1",
                 f"if step{axis} and y.shape[{axis}] != view.shape[{offset + axis}]:",
                 CODE_TOKEN.INDENT,
                 "raise ValueError('IncSubtensor: the value does not broadcast to the "
                 "shape of the selected part')",
                 CODE_TOKEN.DEDENT]
    code += loop_nest([f"view.shape[{axis}]" for axis in range(view_ndim)],
                      [f"view[{indices(view_ndim)}] {operator} y[{', '.join(index) or '()'}]"])
    code.append("return z")
    return build_source_code(code)


@register_funcify_and_cache_key(IncSubtensor)
def _funcify_inc_subtensor(op, node, **kwargs):
    x, y, *indices = node.inputs
    source = inc_subtensor_source(op.idx_list, len(indices), node.outputs[0].ndim -
                                  sum(not isinstance(entry, slice) for entry in op.idx_list),
                                  y.type.shape, op.set_instead_of_inc, op.inplace)
    function = compile_numba_function_src(source, "inc_subtensor", {"np": np})
    key = sha256(f"blocks inc_subtensor {_VERSION}\n{source}".encode()).hexdigest()
    return numba_njit(function, boundscheck=False), key
