"""What the Numba modules of several op families share: building an op's kernels once,
and calling compiled kernels from a graph through Numba's object mode."""

import zlib

import numba
from pytensor.link.numba.dispatch.basic import get_numba_type, numba_njit

# Imported with the Numba backend: compiled graphs get cache keys stable across processes.
from blocks.ops import numba_order  # noqa: F401

__all__ = ["objmode_function", "once_per_op", "shape_text"]


def once_per_op(funcify):
    """Build an op's kernels once per distinct op (ops with equal properties share them).

    PyTensor asks for the kernels of every node; two convolutions or poolings of the same
    geometry in a graph then compile once instead of twice.
    """
    built = {}

    def funcify_once(op, node=None, **kwargs):
        if op not in built:
            built[op] = funcify(op, node=node, **kwargs)
        return built[op]

    funcify_once.__name__ = funcify.__name__
    funcify_once.__doc__ = funcify.__doc__
    return funcify_once


def objmode_function(run, node, version):
    """A Numba function computing `node` by calling ``run(inputs)`` from object mode, and
    the integer that enters PyTensor's cache key with the op's props.

    The compiled kernels are called from Python (object mode, microseconds per call):
    linking them into each compiled graph would make LLVM optimize them again for every
    graph, at seconds per graph. The key follows the output types and `version`, to bump
    when what `run` takes or returns changes.
    """
    output_types = numba.types.Tuple([get_numba_type(o.type) for o in node.outputs])

    def call(*inputs):
        with numba.objmode(results=output_types):
            results = run(inputs)
        return results

    return numba_njit(call), zlib.crc32(f"{version} {output_types}".encode())


@numba_njit
def shape_text(shape):
    """``(2, 5)``: a shape as Python writes it, for error messages built in Numba code."""
    text = "("
    for i in range(len(shape)):
        if i:
            text += ", "
        text += str(shape[i])
    return text + ("," if len(shape) == 1 else "") + ")"
