"""The BLAS rewrites: which graphs they change, which they leave, and the values."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode, get_mode
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import Dot
from pytensor.tensor.special import LogSoftmax, Softmax

import blocks.ops  # noqa: F401  (registers the rewrites)
from blocks.ops.blas.op import BlasDot, BlasGemm

# The Numba mode's rewrites with Python implementations: checks graphs without compiling.
NUMBA_REWRITES = Mode(linker="py", optimizer=get_mode("NUMBA")._optimizer)

rng = np.random.default_rng(3)
H = rng.standard_normal((4, 3))
G = rng.standard_normal((4, 2))
W0 = rng.standard_normal((3, 2))


def _ops(fn):
    return [node.op for node in fn.maker.fgraph.toposort()]


def _gemms(fn):
    return [op for op in _ops(fn) if isinstance(op, BlasGemm)]


def _count(fn, op_type):
    return sum(isinstance(op, op_type) for op in _ops(fn))


@pytest.mark.parametrize("learning_rate", [0.5, "shared"])
def test_sgd_update_becomes_inplace_gemm(learning_rate):
    W = pytensor.shared(W0.copy(), name="W")
    lr = pytensor.shared(0.5, name="lr") if learning_rate == "shared" else learning_rate
    h, g = pt.matrices("h", "g")
    fn = pytensor.function([h, g], [], updates=[(W, W - lr * pt.dot(h.T, g))],
                           mode=NUMBA_REWRITES)
    assert [op.inplace for op in _gemms(fn)] == [True]
    assert _count(fn, Dot) == 0 and _count(fn, Elemwise) <= 1   # at most -lr
    fn(H, G)
    np.testing.assert_allclose(W.get_value(), W0 - 0.5 * H.T @ G)


@pytest.mark.parametrize("expression, reference", [
    (lambda z, x, y: z + pt.dot(x, y), lambda z, x, y: z + x @ y),
    (lambda z, x, y: pt.dot(x, y) * 2.0 + z, lambda z, x, y: 2 * x @ y + z),
    (lambda z, x, y: pt.dot(x, y) - z, lambda z, x, y: x @ y - z),
    (lambda z, x, y: z - 3.0 * pt.dot(x, y) * 0.5, lambda z, x, y: z - 1.5 * x @ y),
])
def test_gemm_patterns(expression, reference):
    z, x, y = pt.matrices("z", "x", "y")
    fn = pytensor.function([z, x, y], expression(z, x, y), mode=NUMBA_REWRITES)
    # z is an input the caller keeps: never overwritten.
    assert [op.inplace for op in _gemms(fn)] == [False]
    Z = rng.standard_normal((4, 2))
    np.testing.assert_allclose(fn(Z, H, W0), reference(Z, H, W0))


def test_update_reading_its_own_weights_stays_out_of_place():
    """``W - lr * dot(W.T, W)``: overwriting W while BLAS reads it would be wrong."""
    start = rng.standard_normal((3, 3))
    W = pytensor.shared(start.copy(), name="W")
    fn = pytensor.function([], [], updates=[(W, W - 0.1 * pt.dot(W.T, W))],
                           mode=NUMBA_REWRITES)
    assert [op.inplace for op in _gemms(fn)] == [False]
    fn()
    np.testing.assert_allclose(W.get_value(), start - 0.1 * start.T @ start)


def test_products_become_blas_dot():
    x, w = pt.matrices("x", "w")
    fn = pytensor.function([x, w], [pt.dot(x, w), pt.dot(x.T, x)], mode=NUMBA_REWRITES)
    assert _count(fn, BlasDot) == 2 and _count(fn, Dot) == 0
    out, gram = fn(H, W0)
    np.testing.assert_allclose(out, H @ W0)
    np.testing.assert_allclose(gram, H.T @ H)


def test_product_used_twice_is_not_folded():
    z, x, y = pt.matrices("z", "x", "y")
    product = pt.dot(x, y)
    fn = pytensor.function([z, x, y], [z - product, product.sum()], mode=NUMBA_REWRITES)
    assert _gemms(fn) == [] and _count(fn, BlasDot) == 1


def test_broadcast_terms_are_not_folded():
    row = pt.row("row")
    x, y = pt.matrices("x", "y")
    fn = pytensor.function([row, x, y], row + pt.dot(x, y), mode=NUMBA_REWRITES)
    assert _gemms(fn) == []
    np.testing.assert_allclose(fn(G[:1], H, W0), G[:1] + H @ W0)
    z, column_scale = pt.matrix("z"), pt.col("column_scale")
    fn = pytensor.function([z, column_scale, x, y], z - column_scale * pt.dot(x, y),
                           mode=NUMBA_REWRITES)
    assert _gemms(fn) == []
    scale = np.arange(4.0)[:, None]
    np.testing.assert_allclose(fn(G, scale, H, W0), G - scale * (H @ W0))


def test_other_dtypes_keep_dot():
    i, j = pt.lmatrices("i", "j")
    x32 = pt.matrix("x32", dtype="float32")
    x64 = pt.matrix("x64", dtype="float64")
    fn = pytensor.function([i, j, x32, x64], [pt.dot(i, j), pt.dot(x32, x64)],
                           mode=NUMBA_REWRITES)
    assert _count(fn, BlasDot) == 0 and _count(fn, Dot) == 2


def test_softmax_ops_are_inlined():
    x = pt.matrix("x")
    outputs = [pt.special.softmax(x, axis=1), pt.special.log_softmax(x, axis=1)]
    fn = pytensor.function([x], outputs, mode=NUMBA_REWRITES)
    assert _count(fn, Softmax | LogSoftmax) == 0
    shifted = H - H.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probabilities, log_probabilities = fn(H)
    np.testing.assert_allclose(probabilities, np.exp(log_p))
    np.testing.assert_allclose(log_probabilities, log_p)
    # Huge logits stay finite: the inlined graph is the stabilised one.
    assert np.isfinite(fn(np.array([[1e4, 0.0, -1e4]]))[1]).all()
    kept = pytensor.function([x], outputs[0], mode="FAST_COMPILE")
    assert _count(kept, Softmax) == 1


def test_not_in_fast_compile():
    x, w = pt.matrices("x", "w")
    fn = pytensor.function([x, w], pt.dot(x, w), mode="FAST_COMPILE")
    assert _count(fn, BlasDot) == 0


@pytest.mark.parametrize("name", ["blocks_blas", "blocks"])
def test_excluded_by_name_or_tag(name):
    x, w = pt.matrices("x", "w")
    fn = pytensor.function([x, w], [pt.dot(x, w), pt.special.softmax(x, axis=1)],
                           mode=NUMBA_REWRITES.excluding(name))
    assert _count(fn, BlasDot) == 0
    assert _count(fn, Softmax) == (1 if name == "blocks" else 0)


@pytest.mark.numba
def test_sgd_step_numba_matches_python():
    """A float32 least-squares SGD step compiled with Numba, against the Python mode:
    ``W -= lr * x.T @ (x @ W - t)`` runs as two gemms, the update in place."""
    data_rng = np.random.default_rng(0)
    start = data_rng.standard_normal((6, 3)).astype("float32")
    X = data_rng.standard_normal((8, 6)).astype("float32")
    T = data_rng.standard_normal((8, 3)).astype("float32")
    x = pt.matrix("x", dtype="float32")
    t = pt.matrix("t", dtype="float32")

    def step(mode):
        W = pytensor.shared(start.copy(), name="W")
        cost = ((pt.dot(x, W) - t) ** 2).sum() / 2
        update = W - np.float32(0.01) * pytensor.grad(cost, W)
        return pytensor.function([x, t], cost, updates=[(W, update)], mode=mode), W

    fast, fast_W = step("NUMBA")
    slow, slow_W = step("FAST_COMPILE")
    # x @ W - t: gemm with beta = -1 into a copy of t (an input); the update: in place.
    assert sorted(op.inplace for op in _gemms(fast)) == [False, True]
    assert _count(fast, Dot) == 0
    for _ in range(3):
        np.testing.assert_allclose(fast(X, T), slow(X, T), rtol=1e-5)
    np.testing.assert_allclose(fast_W.get_value(), slow_W.get_value(), rtol=1e-5, atol=1e-6)


def test_fused_outputs_come_in_the_order_of_their_expressions():
    import pytensor.scalar as ps
    from pytensor.graph.fg import FunctionGraph

    from blocks.ops.rewrites import local_canonical_composite_outputs

    x, y = ps.float64("x"), ps.float64("y")
    expressions = [ps.exp(x) * y, ps.log(x) + y, ps.tanh(x)]
    orders = []
    for permutation in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        a, b = pt.vectors("a", "b")
        composite = ps.Composite([x, y], [expressions[i] for i in permutation])
        outputs = Elemwise(composite)(a, b, return_list=True)
        fgraph = FunctionGraph([a, b], outputs, clone=False)
        node = outputs[0].owner
        replacement = local_canonical_composite_outputs.transform(fgraph, node)
        if replacement is None:  # already in the canonical order
            replacement = outputs
        fgraph.replace_all(list(zip(outputs, replacement)))
        [fused] = fgraph.apply_nodes
        orders.append([str(o) for o in fused.op.scalar_op.outputs])
        # Every output still computes its own expression.
        values = np.array([0.5, 2.0]), np.array([1.5, -1.0])
        computed = pytensor.function([a, b], fgraph.outputs, mode="FAST_COMPILE")(*values)
        expected = [np.exp(values[0]) * values[1], np.log(values[0]) + values[1],
                    np.tanh(values[0])]
        for value, index in zip(computed, permutation):
            np.testing.assert_allclose(value, expected[index])
    assert orders[0] == orders[1] == orders[2]


def test_scan_push_out_add_meets_inner_nodes_in_topological_order():
    from pytensor.graph.fg import FunctionGraph
    from pytensor.scan.rewriting.push_out import scan_push_out_add

    from blocks.ops.rewrites import in_graph_order

    assert scan_push_out_add.fn.in_graph_order  # PyTensor's rewrite is the wrapped one
    xs = pt.tensor3("xs")
    W = pt.matrix("W")
    total = pytensor.scan(lambda x, acc: acc + pt.dot(x, W), sequences=[xs],
                          outputs_info=[pt.zeros((3, 3))], return_updates=False)
    fgraph = FunctionGraph([xs, W], [total[-1]], clone=False)
    [scan_node] = [n for n in fgraph.toposort() if hasattr(n.op, "fgraph")]
    seen = []

    def record(fgraph, node):
        seen.append(list(node.op.fgraph.apply_nodes))
        node.op.fgraph.apply_nodes.add(seen[-1][0])  # the set interface still works
        return None

    assert in_graph_order(record)(fgraph, scan_node) is None
    assert seen == [list(scan_node.op.fgraph.toposort())]
    assert type(scan_node.op.fgraph.apply_nodes) is set
