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


def _funcify_calls(monkeypatch):
    """A list that receives the op of every node whose Numba code is generated."""
    from pytensor.link.numba.dispatch import basic

    calls, real = [], basic.numba_funcify_and_cache_key

    def counting(op, *args, **kwargs):
        calls.append(op)
        return real(op, *args, **kwargs)

    monkeypatch.setattr(basic, "numba_funcify_and_cache_key", counting)
    return calls


def _elementwise_graph():
    """A graph whose one node Numba compiles (a fused elementwise loop), fed by the
    input directly, with a constant no cache holds yet."""
    constant = float(np.random.default_rng().uniform(1, 2))
    x = pt.matrix("x")
    return [x], pt.tanh(x) * constant + x, constant


def test_a_remembered_key_spares_generating_the_code(monkeypatch):
    from blocks.ops import numba_node_linker as linker

    inputs, output, constant = _elementwise_graph()
    x = np.random.default_rng(2).standard_normal((3, 4))
    pytensor.function(inputs, output)(x)  # generates, remembers, compiles, stores
    # A later process: nothing compiled in memory, the keys remembered on disk.
    monkeypatch.setattr(linker, "_node_functions", {})
    calls = _funcify_calls(monkeypatch)
    names, stop = _numba_compilations()
    try:
        function = pytensor.function(inputs, output)
        result = function(x)
    finally:
        stop()
    np.testing.assert_allclose(result, np.tanh(x) * constant + x)
    assert calls == []   # no code generated
    assert names == []   # loaded from the disk cache


def test_a_remembered_key_generates_the_code_when_numba_must_compile(monkeypatch):
    from blocks.ops import numba_node_linker as linker

    inputs, output, constant = _elementwise_graph()
    x = np.random.default_rng(3).standard_normal((3, 8))
    pytensor.function(inputs, output)(x)
    monkeypatch.setattr(linker, "_node_functions", {})
    calls = _funcify_calls(monkeypatch)
    function = pytensor.function(inputs, output)
    assert calls == []
    # A strided view: a signature the disk cache lacks, so Numba compiles it.
    strided = x[:, ::2]
    np.testing.assert_allclose(function(strided), np.tanh(strided) * constant + strided)
    assert calls  # the code was generated, from the function's node


def _linked_nodes(monkeypatch):
    """A list that receives the ``(node, memo)`` of every node the linker compiles."""
    from blocks.ops import numba_node_linker as linker

    linked, real = [], linker.node_function

    def recording(node, memo=None, **kwargs):
        linked.append((node, memo))
        return real(node, memo=memo, **kwargs)

    monkeypatch.setattr(linker, "node_function", recording)
    return linked


def test_a_remembered_key_that_is_not_the_nodes_is_never_compiled_under(monkeypatch):
    from blocks.ops import numba_node_linker as linker

    inputs, output, _ = _elementwise_graph()
    linked = _linked_nodes(monkeypatch)
    pytensor.function(inputs, output)
    ((node, memo),) = linked
    name, key = linker.remembered_key(memo)
    # As if the entry held another node's key, which the disk cache does not hold.
    monkeypatch.setattr(linker, "_node_functions", {})
    monkeypatch.setattr(linker, "remembered_key", lambda digest: (name, "0" * 8 + key))
    entry = linker.node_function(node, memo=memo)
    with pytest.raises(RuntimeError, match="not the remembered"):
        entry(np.ones((2, 2)))


def test_memo_digests_follow_the_op_the_static_shapes_and_the_flags():
    from blocks.ops.numba_node_linker import environment_digest, memo_digest

    x, row = pt.matrix("x"), pt.matrix("row", shape=(1, None))
    environment = environment_digest()
    free, broadcast, other_op = (x + x).owner, (x + row).owner, (x * x).owner
    digests = {memo_digest(node, environment) for node in (free, broadcast, other_op)}
    assert len(digests) == 3
    # Equal nodes of other graphs share theirs.
    assert memo_digest((pt.matrix("y") + pt.matrix("z")).owner, environment) in digests
    with pytensor.config.change_flags(numba__fastmath=not pytensor.config.numba__fastmath):
        assert environment_digest() != environment
    assert environment_digest() == environment


def test_no_key_is_remembered_for_ops_whose_code_generation_rewrites_a_graph():
    # A Scan's code follows its inner graph as rewritten by the registered rewrites,
    # which the memo's digest does not see; a Composite's inner graph is not rewritten.
    from pytensor.scalar.basic import Composite

    from blocks.ops.numba_node_linker import environment_digest, memo_digest

    x = pt.matrix("x")
    total = pytensor.scan(lambda a, s: s * 0.5 + a, sequences=[x],
                          outputs_info=[pt.zeros(5)], return_updates=False)
    scan_node = total.owner
    while type(scan_node.op).__name__ != "Scan":
        scan_node = next(i.owner for i in scan_node.inputs if i.owner is not None)
    environment = environment_digest()
    assert memo_digest(scan_node, environment) is None
    a, b = pytensor.scalar.float64("a"), pytensor.scalar.float64("b")
    fused = pt.elemwise.Elemwise(Composite([a, b], [a * pytensor.scalar.tanh(b)]))
    assert memo_digest(fused(x, x).owner, environment) is not None
