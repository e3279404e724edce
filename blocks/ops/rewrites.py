"""Graph rewrites that make compiled training steps fast, registered with PyTensor.

Importing :mod:`blocks.ops` (as :mod:`blocks.graph`, which every brick imports, does)
imports this module, which registers the rewrites in PyTensor's rewrite database
(``pytensor.compile.optdb``) under the ``numba`` tag, so they apply to every function
compiled with the Numba linker (PyTensor's default mode) and to no other:

``blocks_inline_softmax`` (before elementwise fusion)
    ``Softmax`` and ``LogSoftmax`` nodes (``OpFromGraph`` nodes, kept so that PyTensor's
    rewrites recognise them) are replaced by their inner graphs once those rewrites have
    run. The Numba backend would otherwise rerun the whole rewrite pipeline on their inner
    graphs at every compilation, a third of a warm compile of an MLP training step.
``blocks_blas`` (before elementwise fusion)
    ``z + alpha * dot(x, y)`` and ``z - alpha * dot(x, y)`` with a scalar ``alpha`` become
    one :class:`~blocks.ops.blas.op.BlasGemm`: an SGD update ``W - lr * dot(h.T, g)`` no
    longer allocates the gradient nor runs an elementwise pass over the weights. Every
    other float matrix product becomes a :class:`~blocks.ops.blas.op.BlasDot`, which hands
    transposed operands to BLAS as flags instead of copying them.
``blocks_canonical_composites`` (after elementwise fusion)
    The outputs of a fused elementwise node (``Composite``) come in an order that
    PyTensor's fusion takes from a set, so it changes from one process to the next, and
    with it the on-disk cache key of the graph (see :mod:`blocks.ops.numba_order`): the
    outputs are put in an order that depends only on what they compute.
PyTensor's ``scan_push_out_add``, made deterministic
    It moves sums of products out of a ``Scan`` as new outputs, in the order in which it
    meets them in the inner graph's node *set*, an order that follows object addresses:
    the ``Scan`` of a gradient then had its outputs in another order about every other
    process, hence another cache key, and a warm process compiled the whole function
    again. :func:`in_graph_order` makes it meet them in the inner graph's topological
    order.
``blocks_blas_inplace`` (with PyTensor's in-place rewrites)
    A ``BlasGemm`` writes into ``z`` wherever the destroy handler allows it (a parameter
    that the function updates, an intermediate result used once).

Exclude one by name or all of them by their common tag ``blocks``, e.g.
``pytensor.function(..., mode=get_default_mode().excluding('blocks'))``.

Examples
--------
>>> import pytensor.tensor as pt
>>> from blocks.ops.blas.op import BlasGemm
>>> W = pytensor.shared(np.ones((3, 2)), name='W')
>>> h, g = pt.matrices('h', 'g')
>>> step = pytensor.function([h, g], [], updates=[(W, W - 0.5 * pt.dot(h.T, g))],
...                          mode='NUMBA')
>>> [node.op for node in step.maker.fgraph.toposort() if isinstance(node.op, BlasGemm)]
[BlasGemm(inplace=True)]
"""

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.compile.mode import optdb
from pytensor.graph.rewriting.basic import copy_stack_trace, in2out, node_rewriter
from pytensor.scan.rewriting.push_out import scan_push_out_add
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import Dot
from pytensor.tensor.rewriting.ofg import inline_ofg_node
from pytensor.tensor.special import LogSoftmax, Softmax
from pytensor.tensor.variable import TensorConstant

from blocks.ops.blas.op import BLAS_DTYPES, BlasDot, BlasGemm, blas_dot, blas_gemm

__all__ = [
    "local_blas_dot", "local_blas_gemm", "local_blas_gemm_inplace",
    "local_canonical_composite_outputs", "local_inline_softmax",
]


def _is_elemwise(node, scalar_op_type):
    return (
        node is not None
        and isinstance(node.op, Elemwise)
        and isinstance(node.op.scalar_op, scalar_op_type)
    )


def _single_client(fgraph, variable):
    return len(fgraph.clients.get(variable, ())) == 1


def _scaled_product(fgraph, variable):
    """``(alpha, x, y)`` if `variable` is ``alpha * dot(x, y)`` (alpha a scalar) used once.

    ``alpha`` is a 0-d variable, or None for 1. The product must have no other client:
    folding it into a gemm would otherwise compute it twice.
    """
    node = variable.owner
    if node is None or not _single_client(fgraph, variable):
        return None
    if isinstance(node.op, Dot | BlasDot):
        return (None, *node.inputs)
    if not _is_elemwise(node, ps.Mul):
        return None
    products = [i for i in node.inputs if i.owner is not None
                and isinstance(i.owner.op, Dot | BlasDot)]
    if len(products) != 1 or not _single_client(fgraph, products[0]):
        return None
    factors = [i for i in node.inputs if i is not products[0]]
    if not all(all(i.type.broadcastable) for i in factors):
        return None
    if all(isinstance(i, TensorConstant) for i in factors):
        value = np.prod([np.asarray(i.data).item() for i in factors])
        alpha = pt.constant(np.asarray(value, dtype=variable.dtype))
    else:
        alpha = pt.mul(*[i.squeeze() for i in factors])
    return (alpha, *products[0].owner.inputs)


def _negate(alpha, dtype):
    if alpha is None:
        return pt.constant(np.asarray(-1, dtype=dtype))
    if isinstance(alpha, TensorConstant):
        return pt.constant(-alpha.data)
    return -alpha


@node_rewriter([Elemwise])
def local_blas_gemm(fgraph, node):
    """``z +/- alpha * dot(x, y)`` -> ``BlasGemm(z, +/-alpha, x, y, 1)`` (or beta -1)."""
    if not (_is_elemwise(node, ps.Add | ps.Sub) and len(node.inputs) == 2):
        return None
    [out] = node.outputs
    if out.dtype not in BLAS_DTYPES or out.ndim != 2:
        return None
    subtract = _is_elemwise(node, ps.Sub)
    for position in (1, 0):
        scaled = _scaled_product(fgraph, node.inputs[position])
        if scaled is None:
            continue
        alpha, x, y = scaled
        z = node.inputs[1 - position]
        product = node.inputs[position]
        if any(v.dtype != out.dtype for v in (z, x, y)):
            continue
        # Neither term may be broadcast against the other: gemm needs equal shapes.
        pattern = out.type.broadcastable
        if z.type.broadcastable != pattern or product.type.broadcastable != pattern:
            continue
        one = pt.constant(np.asarray(1, dtype=out.dtype))
        beta = one
        if alpha is None:
            alpha = one
        if subtract and position == 1:
            alpha = _negate(alpha, out.dtype)
        elif subtract:
            beta = _negate(one, out.dtype)
        new_out = blas_gemm(z, alpha, x, y, beta)
        if not out.type.is_super(new_out.type):
            continue
        copy_stack_trace(out, new_out)
        return [new_out]
    return None


@node_rewriter([Dot])
def local_blas_dot(fgraph, node):
    """``dot(x, y)`` of one float dtype -> ``BlasDot(x, y)`` (no copies of transposes)."""
    x, y = node.inputs
    [out] = node.outputs
    if not (x.dtype == y.dtype == out.dtype and out.dtype in BLAS_DTYPES):
        return None
    new_out = blas_dot(x, y)
    if not out.type.is_super(new_out.type):
        return None
    copy_stack_trace(out, new_out)
    return [new_out]


@node_rewriter([Softmax, LogSoftmax])
def local_inline_softmax(fgraph, node):
    """Replace a ``Softmax``/``LogSoftmax`` node by the graph it stands for.

    PyTensor keeps them as ``OpFromGraph`` nodes so that rewrites recognise them; by now
    those rewrites have run. Left as they are, the Numba backend would run the whole
    rewrite pipeline on their inner graphs at every compilation (a large share of a warm
    compile); inlined, their elementwise parts are fused with their neighbours.
    """
    return inline_ofg_node(node)


def _scalar_digests(composite):
    """A description of each output of `composite` that depends only on its expression
    over the composite's inputs."""
    described = {variable: f"in{index}" for index, variable in enumerate(composite.inputs)}

    def describe(variable):
        if variable not in described:
            owner = variable.owner
            if owner is None:
                described[variable] = f"{variable.type}:{getattr(variable, 'data', None)}"
            else:
                arguments = ",".join(describe(i) for i in owner.inputs)
                described[variable] = (
                    f"{owner.op}[{owner.outputs.index(variable)}]({arguments})")
        return described[variable]

    return [describe(output) for output in composite.outputs]


@node_rewriter([Elemwise])
def local_canonical_composite_outputs(fgraph, node):
    """Put the outputs of a fused elementwise node in the order of their expressions."""
    composite = node.op.scalar_op
    if not isinstance(composite, ps.Composite) or len(node.outputs) < 2 \
            or node.op.inplace_pattern:
        return None
    digests = _scalar_digests(composite)
    order = sorted(range(len(digests)), key=digests.__getitem__)
    if order == list(range(len(order))):
        return None
    reordered = ps.Composite(composite.inputs, [composite.outputs[i] for i in order])
    new_outputs = Elemwise(reordered)(*node.inputs, return_list=True)
    replacement = [None] * len(order)
    for new_position, old_position in enumerate(order):
        replacement[old_position] = new_outputs[new_position]
    for old, new in zip(node.outputs, replacement):
        copy_stack_trace(old, new)
    return replacement


class _NodesInOrder(dict):
    """The set interface of ``FunctionGraph.apply_nodes`` that PyTensor uses, iterated in
    insertion order."""

    def add(self, node):
        self[node] = None

    def remove(self, node):
        del self[node]

    def discard(self, node):
        self.pop(node, None)

    def difference(self, other):
        return set(self).difference(other)


def in_graph_order(scan_rewrite):
    """`scan_rewrite` (a function of ``(fgraph, node)`` for a ``Scan`` node), iterating
    the nodes of the ``Scan``'s inner graph in topological order rather than in the order
    of a set."""

    def rewrite(fgraph, node):
        inner = node.op.fgraph
        inner.apply_nodes = _NodesInOrder.fromkeys(inner.toposort())
        try:
            return scan_rewrite(fgraph, node)
        finally:
            inner.apply_nodes = set(inner.apply_nodes)

    rewrite.__name__ = scan_rewrite.__name__
    rewrite.__doc__ = scan_rewrite.__doc__
    rewrite.in_graph_order = True
    return rewrite


if not getattr(scan_push_out_add.fn, "in_graph_order", False):
    scan_push_out_add.fn = in_graph_order(scan_push_out_add.fn)


@node_rewriter([BlasGemm], inplace=True)
def local_blas_gemm_inplace(fgraph, node):
    """Make a ``BlasGemm`` write into its ``z`` (kept only where the destroy handler agrees)."""
    if node.op.inplace:
        return None
    new_out = BlasGemm(inplace=True)(*node.inputs)
    copy_stack_trace(node.outputs[0], new_out)
    return [new_out]


optdb.register(
    "blocks_inline_softmax",
    in2out(local_inline_softmax, name="blocks_inline_softmax"),
    "numba",
    "blocks",
    position=47.4,  # after canonicalize/stabilize/specialize, before fusion (49)
)
optdb.register(
    "blocks_blas",
    in2out(local_blas_dot, local_blas_gemm, name="blocks_blas"),
    "numba",
    "blocks",
    position=47.5,  # after specialize, before add/mul flattening (48) and fusion (49)
)
optdb.register(
    "blocks_canonical_composites",
    in2out(local_canonical_composite_outputs, name="blocks_canonical_composites"),
    "numba",
    "blocks",
    position=49.4,  # after elementwise fusion (49), before the destroy handler (49.5)
)
optdb.register(
    "blocks_blas_inplace",
    in2out(local_blas_gemm_inplace, name="blocks_blas_inplace"),
    "numba",
    "blocks",
    "inplace",
    position=50.25,  # after the destroy handler (49.5), before elementwise in-place (50.5)
)
