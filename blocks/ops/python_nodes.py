"""Nodes the Numba linker runs with NumPy instead of compiling them.

Most nodes of a training step move no data of their own or hand their work to one NumPy
or BLAS call: shapes, reshapes and transpositions (views), indexing, concatenation and
splitting, allocation, run-time checks, matrix products, elementwise operations of a
single ufunc, sums, products, maxima and minima; others compute a single element (the
arithmetic of shapes). Compiled by Numba, each costs a fraction of a second to a second
and a half of a cold compile (the attention encoder-decoder's step has about 400 of
them: more than half of its cold compile) and gains nothing at run time: the compiled
function runs the same kind of loop NumPy runs, and the Python call that
:mod:`blocks.ops.numba_node_linker` makes for every node is paid either way. The linker
runs such nodes with NumPy (elements one by one: with Python) and compiles the others,
fused elementwise loops over arrays.

Most of these nodes run their op's reference implementation (``perform``), which
PyTensor's Python linker and its test suite exercise; so do our fused recurrent and
attention loops, whose ``perform`` calls their compiled kernels (a compiled node would
call them through Numba's object mode, a wrapper to compile for each). Elementwise
nodes of one ufunc and reductions get a function of their own: PyTensor's ``perform``
computes an in-place node's result into a new array and copies it into the input, and
copies a reduction's input before reducing it.
"""

import numpy as np
from pytensor.raise_op import CheckAndRaise
from pytensor.scalar.basic import Cast, Composite
from pytensor.tensor.basic import (
    Alloc,
    AllocEmpty,
    ARange,
    Join,
    MakeVector,
    ScalarFromTensor,
    Split,
    TensorFromScalar,
)
from pytensor.tensor.blas import BatchedDot
from pytensor.tensor.elemwise import DimShuffle, Elemwise
from pytensor.tensor.math import Max, Min, Prod, Sum
from pytensor.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from pytensor.tensor.subtensor import (
    AdvancedIncSubtensor,
    AdvancedIncSubtensor1,
    AdvancedSubtensor,
    AdvancedSubtensor1,
    IncSubtensor,
    Subtensor,
)

from blocks.ops.attention.op import OP_TYPES as ATTENTION_OP_TYPES
from blocks.ops.blas.op import BlasDot, BlasGemm
from blocks.ops.checks.op import IndexCheck, LastDimCheck
from blocks.ops.recurrent.op import FusedRecurrent, FusedRecurrentGrad

__all__ = ["ENABLED", "PERFORMED_OPS", "python_node_function", "runs_in_python"]

#: Ops whose nodes run their ``perform``: views and shapes, indexing, allocation,
#: joining and splitting, checks, matrix products (one BLAS call each), and our fused
#: loops, whose ``perform`` calls their compiled kernels.
PERFORMED_OPS = (
    Shape, Shape_i, SpecifyShape, Reshape, DimShuffle, TensorFromScalar, ScalarFromTensor,
    MakeVector, Alloc, AllocEmpty, ARange, Join, Split,
    Subtensor, IncSubtensor, AdvancedSubtensor1, AdvancedIncSubtensor1,
    AdvancedSubtensor, AdvancedIncSubtensor,
    CheckAndRaise, IndexCheck, LastDimCheck, BatchedDot, BlasDot, BlasGemm,
    FusedRecurrent, FusedRecurrentGrad,
    *(op_type for op_types in ATTENTION_OP_TYPES.values() for op_type in op_types),
)


def _ufunc_of(node):
    """The NumPy ufunc computing an elementwise `node` alone, or None."""
    op = node.op
    spec = getattr(op, "nfunc_spec", None)
    if (not isinstance(op, Elemwise) or isinstance(op.scalar_op, Composite) or spec is None
            or len(node.outputs) != 1 or spec[1] != len(node.inputs) or spec[2] != 1
            or not spec[0].isidentifier()):
        return None
    ufunc = getattr(np, spec[0], None)
    return ufunc if isinstance(ufunc, np.ufunc) else None


#: Whether the linker runs some nodes with NumPy. Off, it compiles every node, as it
#: compiles the inner graphs of a ``Scan`` (the tests of our Numba implementations of
#: PyTensor's ops turn it off).
ENABLED = True


def _reduction_of(node):
    """The NumPy ufunc whose ``reduce`` computes a sum, product, maximum or minimum
    `node`, or None."""
    op = node.op
    if type(op) not in (Sum, Prod, Max, Min):
        return None
    spec = getattr(op.scalar_op, "nfunc_spec", None)
    ufunc = getattr(np, spec[0], None) if spec else None
    return ufunc if isinstance(ufunc, np.ufunc) else None


def _of_one_element(node):
    """Whether `node` is elementwise with outputs of one element by their types: the
    arithmetic of shapes and of scalar hyperparameters, which PyTensor fuses into
    scalar loops of their own."""
    return isinstance(node.op, Elemwise) and all(
        None not in output.type.shape and int(np.prod(output.type.shape)) == 1
        for output in node.outputs)


def _builder(node):
    """The function below that builds `node`'s Python function, or None where the node
    is compiled."""
    op = node.op
    if isinstance(op, PERFORMED_OPS):
        return _perform_function
    if isinstance(op, Elemwise):
        if isinstance(op.scalar_op, Cast) and not op.inplace_pattern:
            return _cast_function
        if _ufunc_of(node) is not None:
            return _ufunc_function
        if _of_one_element(node):
            return _element_function
    if _reduction_of(node) is not None:
        return _reduce_function
    return None


def runs_in_python(node):
    """Whether the Numba linker runs `node` with NumPy rather than compiling it."""
    return ENABLED and _builder(node) is not None


def python_node_function(node):
    """A function computing `node` (one of :func:`runs_in_python`'s) from its inputs,
    returning its output, or a tuple of its outputs when it has several."""
    return _builder(node)(node)


def _reduce_function(node):
    ufunc = _reduction_of(node)
    op = node.op
    out_dtype = np.dtype(node.outputs[0].type.dtype)
    acc_dtype = np.dtype(getattr(op, "acc_dtype", None) or out_dtype)
    axis = op.axis

    def run(x):
        # PyTensor's perform copies the input first; the reduction alone does not.
        return np.asarray(ufunc.reduce(x, axis=axis, dtype=acc_dtype), dtype=out_dtype)

    return run


def _cast_function(node):
    dtype = np.dtype(node.outputs[0].type.dtype)
    return lambda x: x.astype(dtype)


def _ufunc_function(node):
    ufunc = _ufunc_of(node)
    op = node.op
    dtype = np.dtype(node.outputs[0].type.dtype)
    overwritten = op.inplace_pattern.get(0)
    if overwritten is not None and node.inputs[overwritten].type.dtype != dtype:
        overwritten = None
    check = op._check_runtime_broadcast

    def run(*inputs):
        check(node, inputs)
        if overwritten is not None:
            return ufunc(*inputs, out=inputs[overwritten])
        # A ufunc of 0-d arrays gives a NumPy scalar; and a dtype NumPy would promote
        # otherwise (an integer true division) is cast to the node's.
        return np.asarray(ufunc(*inputs), dtype=dtype)

    return run


def _element_function(node):
    # The scalar op's Python implementation on the elements: PyTensor's ``perform``
    # builds a NumPy ufunc of it, which takes at most 32 inputs and outputs (a fused
    # node of shape arithmetic may have a hundred).
    impl = node.op.scalar_op.impl
    outputs = [(np.dtype(output.type.dtype), output.type.shape) for output in node.outputs]

    def run(*inputs):
        results = impl(*(x.flat[0] for x in inputs))
        if len(outputs) == 1:
            dtype, shape = outputs[0]
            return np.asarray(results, dtype=dtype).reshape(shape)
        return tuple(np.asarray(result, dtype=dtype).reshape(shape)
                     for result, (dtype, shape) in zip(results, outputs))

    return run


def _perform_function(node):
    op = node.op
    op.prepare_node(node, None, None, "py")
    n_outputs = len(node.outputs)
    # Our ops' messages name the brick; PyTensor's ops leave theirs to NumPy, whose
    # messages do not say which op failed.
    name = type(op).__name__ if type(op).__module__.startswith("pytensor.") else None

    def perform(inputs, cells):
        try:
            op.perform(node, inputs, cells)
        except (ValueError, IndexError) as error:
            if name is None or type(error) not in (ValueError, IndexError):
                raise
            raise type(error)(f"{name}: {error}") from error

    if n_outputs == 1:
        def run(*inputs):
            # A new cell at every call: the previous output may still be in use.
            cell = [None]
            perform(inputs, [cell])
            return cell[0]
        return run

    def run_several(*inputs):
        cells = [[None] for _ in range(n_outputs)]
        perform(inputs, cells)
        return tuple(cell[0] for cell in cells)

    return run_several
