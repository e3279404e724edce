"""A Numba implementation of PyTensor's ``Alloc`` that is quick to compile.

PyTensor's fills the new array with ``res[...] = value``: Numba's broadcasting
assignment, whose shape checks format their messages in compiled code. That pulls
Numba's string functions into the function, about a second of compile for each ``Alloc``
of a graph (eight of them in the gradient of an attention encoder-decoder). This one
checks the shapes with one comparison per axis, raises a message written in advance
(PyTensor's report of the failing function adds the shapes of its inputs), and fills the
array with one loop nest. (A message holding run-time values, raised as an exception
with arguments, is lost when the code comes from Numba's cache: Numba then raises
"Error creating Python tuple from runtime exception arguments".)
"""

from hashlib import sha256

import numpy as np
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.link.numba.dispatch.string_codegen import CODE_TOKEN, build_source_code
from pytensor.tensor.basic import Alloc

from blocks.ops.loop_source import indices, loop_nest

__all__ = ["alloc_source"]

#: Enters the cache key: bump when the generated code changes.
_VERSION = 2


def alloc_source(value_shape, ndim, dtype):
    """The Python source of ``alloc(value, *shape)``: an array of the `ndim` scalars
    ``shape`` (0-d arrays), of `dtype`, filled with ``value``, whose static shape is
    `value_shape` (``None`` for an axis of unknown length). The value's axes are the last
    ones of the result; its axes of static length 1 are broadcast."""
    offset = ndim - len(value_shape)
    sizes = [f"size{axis}" for axis in range(ndim)]
    code = [f"def alloc(value, {', '.join(sizes)}):", CODE_TOKEN.INDENT]
    code += [f"{size} = {size}.item()" for size in sizes]
    code.append(f"shape = ({', '.join(sizes)},)")
    index = []
    for axis, length in enumerate(value_shape):
        if length == 1:
            index.append("0")
            continue
        index.append(f"i{offset + axis}")
        code += [f"if value.shape[{axis}] != size{offset + axis}:", CODE_TOKEN.INDENT,
                 "raise ValueError('Alloc: the value does not fill an array of the "
                 "requested shape (a value of length 1 along an axis broadcasts only if "
                 "its type says so)')", CODE_TOKEN.DEDENT]
    code.append(f"result = np.empty(shape, dtype=np.{dtype})")
    target = f"result[{indices(ndim)}]" if ndim else "result[()]"
    code += loop_nest(sizes, [f"{target} = value[{', '.join(index) or '()'}]"])
    code.append("return result")
    return build_source_code(code)


@register_funcify_and_cache_key(Alloc)
def _funcify_alloc(op, node, **kwargs):
    value = node.inputs[0]
    source = alloc_source(value.type.shape, node.outputs[0].ndim, node.outputs[0].type.dtype)
    alloc = compile_numba_function_src(source, "alloc", {"np": np})
    key = sha256(f"blocks alloc {_VERSION}\n{source}".encode()).hexdigest()
    return numba_njit(alloc, boundscheck=False), key
