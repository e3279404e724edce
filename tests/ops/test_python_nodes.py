"""Nodes the Numba linker runs with NumPy: which ones, and that they compute what the
compiled nodes compute (in place where the node says so)."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.elemwise import Elemwise

from blocks.ops.python_nodes import python_node_function, runs_in_python


def _node(output):
    return output.owner


def test_glue_and_single_ufuncs_run_in_python_fused_loops_and_reductions_do_not():
    x, y = pt.matrix("x"), pt.matrix("y")
    assert runs_in_python(_node(x.reshape((-1,))))
    assert runs_in_python(_node(x.T))
    assert runs_in_python(_node(x[1:]))
    assert runs_in_python(_node(pt.concatenate([x, y])))
    assert runs_in_python(_node(x + y))
    assert runs_in_python(_node(pt.cast(x, "int32")))
    assert runs_in_python(_node(x.sum(axis=0)))
    assert not runs_in_python(_node(pt.all(x > 0, axis=0)))
    # Two ufuncs in one node: the scalar op is a Composite, compiled.
    fused = pytensor.function([x, y], pt.exp(x) * y, mode="NUMBA").maker.fgraph
    (elemwise,) = [node for node in fused.apply_nodes if hasattr(node.op, "scalar_op")]
    assert not runs_in_python(elemwise)


def test_a_ufunc_node_writes_into_the_input_it_overwrites():
    from pytensor.scalar.basic import add
    from pytensor.tensor.elemwise import Elemwise

    x, y = pt.matrix("x"), pt.matrix("y")
    node = Elemwise(add, inplace_pattern={0: 0})(x, y).owner
    x_value, y_value = np.ones((2, 3)), np.arange(6.0).reshape(2, 3)
    result = python_node_function(node)(x_value, y_value)
    assert result is x_value
    np.testing.assert_array_equal(x_value, 1 + np.arange(6.0).reshape(2, 3))


def test_a_ufunc_node_gives_its_own_dtype_and_arrays_for_scalars():
    i, j = pt.lvector("i"), pt.lvector("j")
    node = (i / j).owner
    result = python_node_function(node)(np.array([1, 3]), np.array([2, 2]))
    assert result.dtype == node.outputs[0].type.dtype
    np.testing.assert_array_equal(result, [0.5, 1.5])
    a, b = pt.dscalar("a"), pt.dscalar("b")
    result = python_node_function((a + b).owner)(np.array(1.0), np.array(2.0))
    assert isinstance(result, np.ndarray) and result.shape == () and result == 3.0


def test_a_ufunc_node_refuses_what_its_types_do_not_allow_to_broadcast():
    x, y = pt.matrix("x"), pt.matrix("y")
    run = python_node_function((x + y).owner)
    with pytest.raises(ValueError, match="[Rr]untime broadcasting"):
        run(np.ones((2, 3)), np.ones((1, 3)))


def test_a_node_of_several_outputs_gives_a_tuple():
    x = pt.vector("x")
    node = pt.split(x, splits_size=[2, 3], n_splits=2)[0].owner
    first, second = python_node_function(node)(np.arange(5.0), np.array(0), np.array([2, 3]))
    np.testing.assert_array_equal(first, [0, 1])
    np.testing.assert_array_equal(second, [2, 3, 4])


@pytest.mark.numba
def test_a_graph_of_glue_and_indexing_computes_what_numpy_does():
    rng = np.random.default_rng(0)
    x, table = pt.matrix("x"), pt.matrix("table")
    indices = pt.lvector("indices")
    rows = table[indices]
    stacked = pt.concatenate([x.T, rows[:, :3].reshape((3, -1))], axis=1)
    gradient = pytensor.grad((pt.tanh(stacked) ** 2).sum(), [x, table])
    function = pytensor.function([x, table, indices], [stacked, *gradient], mode="NUMBA")
    assert any(runs_in_python(node) for node in function.maker.fgraph.apply_nodes)
    x_value, table_value = rng.standard_normal((4, 3)), rng.standard_normal((5, 6))
    index_value = np.array([4, 0, 4])
    got = function(x_value, table_value, index_value)
    expected = pytensor.function([x, table, indices], [stacked, *gradient],
                                 mode="FAST_COMPILE")(x_value, table_value, index_value)
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value, reference, rtol=1e-12)
    # The repeated index's rows receive both of their gradients.
    manual = np.concatenate([x_value.T, table_value[index_value][:, :3].reshape(3, -1)], 1)
    np.testing.assert_allclose(got[0], manual)


@pytest.mark.numba
def test_numpy_errors_name_the_op_that_failed():
    x, y = pt.matrix("x"), pt.vector("y")
    function = pytensor.function([x, y], pt.inc_subtensor(x[:, 1:], y), mode="NUMBA")
    assert all(runs_in_python(node) for node in function.maker.fgraph.apply_nodes)
    np.testing.assert_allclose(function(np.zeros((2, 3)), np.ones(2)), [[0, 1, 1], [0, 1, 1]])
    with pytest.raises(ValueError, match=r"^IncSubtensor.*: .*broadcast"):
        function(np.zeros((2, 3)), np.ones(3))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_reductions_match_numpy_and_keep_their_dtypes(dtype):
    from pytensor.tensor.math import Min

    x = pt.tensor3("x", dtype=dtype)
    value = np.random.default_rng(1).uniform(1, 2, (3, 4, 5)).astype(dtype)
    value = np.ascontiguousarray(value.transpose(2, 0, 1)).transpose(1, 2, 0)  # strided
    cases = [(pt.sum(x, axis=(0, 2)), np.sum(value, axis=(0, 2))),
             (pt.prod(x, axis=1), np.prod(value, axis=1)),
             (pt.max(x), np.max(value)), (Min(axis=(0,))(x), np.min(value, axis=0))]
    for output, expected in cases:
        result = python_node_function(output.owner)(value)
        assert isinstance(result, np.ndarray) and result.dtype == output.dtype
        np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_elementwise_nodes_of_one_element_run_in_python():
    i, j = pt.lscalar("i"), pt.lscalar("j")
    fused = pytensor.function([i, j], pt.switch(pt.lt(i, j), i // 2, j * 3 - i),
                              mode="NUMBA").maker.fgraph
    (node,) = [node for node in fused.apply_nodes if isinstance(node.op, Elemwise)]
    assert runs_in_python(node)
    run = python_node_function(node)
    for a, b in ((np.array(-7), np.array(2)), (np.array(5), np.array(1))):
        expected = a // 2 if a < b else b * 3 - a
        result = run(a, b)
        assert result == expected and result.dtype == np.int64 and result.shape == ()
    x = pt.matrix("x")
    (loop,) = pytensor.function([x], pt.exp(x) * 2, mode="NUMBA").maker.fgraph.apply_nodes
    assert not runs_in_python(loop)
    row = pt.tensor("row", shape=(1, 1))
    assert runs_in_python(pt.exp(row).owner)


def test_a_node_of_one_element_and_many_outputs():
    from pytensor.scalar.basic import Composite, int64

    scalars = [int64(f"i{k}") for k in range(20)]
    # 60 operands: more than a NumPy ufunc (PyTensor's perform) takes.
    composite = Composite(scalars, [s * 2 + 1 for s in scalars] + [s - 3 for s in scalars])
    inputs = [pt.lscalar(f"i{k}") for k in range(20)]
    node = Elemwise(composite)(*inputs)[0].owner
    assert len(node.inputs) + len(node.outputs) > 32 and runs_in_python(node)
    results = python_node_function(node)(*(np.array(k) for k in range(20)))
    assert len(results) == 40
    assert [int(r) for r in results] == [2 * k + 1 for k in range(20)] + [k - 3 for k in
                                                                            range(20)]
    assert all(r.dtype == np.int64 and r.shape == () for r in results)
