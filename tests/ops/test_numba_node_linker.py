"""How the Numba backend links a graph: each node compiled alone and run from Python,
equal nodes shared between functions; results unchanged."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.fg import FunctionGraph

pytestmark = pytest.mark.numba


def _fresh_graph():
    """A graph no cache holds yet: its constant is new in every run."""
    constant = float(np.random.default_rng().uniform(1, 2))
    x, w = pt.matrix("x"), pt.matrix("w")
    return [x, w], pt.tanh(x @ w * constant).sum(axis=0), constant


def _numba_compilations():
    from numba.core import event

    names = []

    class Listener(event.Listener):
        def on_start(self, event):
            names.append(event.data["dispatcher"].py_func.__name__)

        def on_end(self, event):
            pass

    listener = Listener()
    event.register("numba:compile", listener)
    return names, lambda: event.unregister("numba:compile", listener)


def test_a_graph_runs_node_by_node():
    inputs, output, constant = _fresh_graph()
    function = pytensor.function(inputs, output)
    x, w = np.random.default_rng(0).standard_normal((2, 4, 3))
    np.testing.assert_allclose(function(x, w[:3]), np.tanh(x @ w[:3] * constant).sum(axis=0))
    # The graph runs from a Python function, not a compiled one.
    assert type(function.vm.jit_fn).__name__ == "function"


def test_functions_sharing_nodes_compile_them_once():
    inputs, output, constant = _fresh_graph()
    first = pytensor.function(inputs, output)
    x, w = np.random.default_rng(1).standard_normal((2, 3, 3))
    first(x, w)
    names, stop = _numba_compilations()
    try:
        second = pytensor.function(inputs, [output, 2 * output])
        results = second(x, w)
    finally:
        stop()
    np.testing.assert_allclose(results[1], 2 * np.tanh(x @ w * constant).sum(axis=0))
    # At most the new node (the doubling; none if another process cached it) is
    # compiled; the shared ones are reused, and no function for the whole graph.
    assert len(names) < 10, names
    assert "numba_funcified_fgraph" not in names


def test_graph_source_frees_intermediate_results_after_their_last_use():
    from blocks.ops.numba_node_linker import graph_source

    x = pt.vector("x")
    doubled = x * 2
    parts = pt.split(doubled + 1, [1, 2], n_splits=2)
    fgraph = FunctionGraph([x], [parts[0], parts[1].sum()], clone=False)
    order = fgraph.toposort()
    source, constants = graph_source(fgraph, order)
    assert source.startswith("def graph(v0):")
    assert "del " in source
    assert source.splitlines()[-1].strip().startswith("return (")
    # Two outputs of the split are unpacked from one call.
    assert any(line.count("=") == 1 and "," in line.split("=")[0] for line in source.splitlines())
    assert all(isinstance(c.data, np.ndarray) for c in constants)


def test_nodes_of_equal_ops_and_other_static_shapes_get_other_keys():
    from blocks.ops.numba_node_linker import node_digest

    x, row = pt.matrix("x"), pt.matrix("row", shape=(1, None))
    free, broadcast = (x + x).owner, (x + row).owner
    assert free.op == broadcast.op
    assert node_digest(free) != node_digest(broadcast)
    two, three = ((x * pt.constant(np.full((1, 1), value))).owner for value in (2.0, 3.0))
    assert node_digest(two) != node_digest(three)
