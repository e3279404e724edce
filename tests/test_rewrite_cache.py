"""The disk cache of rewritten graphs: keys, hits across processes, safety."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.io import In, Out
from pytensor.compile.mode import Mode, get_mode
from pytensor.link.vm import VMLinker

from blocks import rewrite_cache
from blocks.rewrite_cache import counters, graph_key

ROOT = Path(__file__).resolve().parents[1]

#: Rewrites as in the default mode, run by Python thunks: quick to compile, and with
#: in-place ops in the rewritten graphs.
FAST_RUN_PY = Mode(linker=VMLinker(use_cloop=False, c_thunks=False), optimizer="fast_run")

# A child process builds the models anew (other variable ids and auto-names), compiles
# them and prints what the cache did, the compiled graphs and the results.
CHILD = r"""
import json, re, sys
import numpy as np
import blocks, pytensor, pytensor.tensor as pt
from pytensor.compile.io import In
from pytensor.compile.mode import Mode, get_mode
from pytensor.link.vm import VMLinker
from blocks.rewrite_cache import counters

mode = (get_mode(None) if sys.argv[1] == "default" else
        Mode(linker=VMLinker(use_cloop=False, c_thunks=False), optimizer="fast_run"))
rng = np.random.default_rng(3)
floatX = pytensor.config.floatX
x, y = pt.matrix("x"), pt.ivector("y")
W1 = pytensor.shared(rng.normal(size=(5, 4)).astype(floatX), name="W1")
b1 = pytensor.shared(np.zeros(4, floatX), name="b1")
W2 = pytensor.shared(rng.normal(size=(4, 3)).astype(floatX), name="W2")
probabilities = pt.special.softmax(pt.tanh(x @ W1 + b1) @ W2, axis=-1)
cost = -pt.log(probabilities[pt.arange(y.shape[0]), y]).mean()
parameters = [W1, b1, W2]
updates = [(p, p - 0.1 * g) for p, g in zip(parameters, pytensor.grad(cost, parameters))]
step = pytensor.function([x, y], cost, updates=updates, mode=mode)
# Rewritten in place of its mutable input.
v = pt.vector("v")
inplace = pytensor.function([In(v, mutable=True)], pt.exp(v) * 2 + 1, mode=mode)
total = pytensor.scan(lambda a, s: s * 0.5 + a, sequences=[x],
                      outputs_info=[pt.zeros(5)], return_updates=False)[-1]
functions = [step, inplace, pytensor.function([x], total, mode=mode)]
inputs = rng.normal(size=(6, 5)).astype(floatX)
labels = np.array([0, 1, 2, 0, 1, 2], "int32")
costs = [float(step(inputs, labels)) for _ in range(3)]
vector = np.linspace(-1, 1, 7).astype(floatX)
results = {
    "counters": dict(counters),
    # Without the nodes' positions in the order of execution, which PyTensor's rewrites
    # leave different from process to process (they iterate over sets of variables).
    "graphs": [re.sub(r"(\[id \w+\]) \d+$", r"\1", pytensor.dprint(f, file="str"),
                      flags=re.M) for f in functions],
    "costs": costs, "parameters": [p.get_value().tolist() for p in parameters],
    "inplace": inplace(vector).tolist(), "vector_after": vector.tolist(),
    "extra": [f(inputs).tolist() for f in functions[2:]],
}
print("RESULTS", json.dumps(results))
"""


def structure(function):
    """`function`'s compiled graph, without its nodes' positions in the order of
    execution."""
    return re.sub(r"(\[id \w+\]) \d+$", r"\1", pytensor.dprint(function, file="str"),
                  flags=re.M)


def run_child(cache, mode_name, environment=None, wait=True):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}",
               NUMBA_CACHE_DIR=str(Path(cache) / "numba"), **(environment or {}))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.Popen([sys.executable, "-c", CHILD, mode_name], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return read_child(process) if wait else process


def read_child(process):
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    line = next(line for line in stdout.splitlines() if line.startswith("RESULTS "))
    return json.loads(line.split(" ", 1)[1])


def assert_same_results(first, second):
    for key in ("graphs", "costs", "parameters", "inplace", "vector_after", "extra"):
        assert first[key] == second[key], key


@pytest.mark.numba
def test_a_second_process_loads_the_rewritten_graphs_and_computes_the_same(tmp_path):
    first = run_child(tmp_path, "default")
    second = run_child(tmp_path, "default")
    # Three functions, and the inner graph of the Scan, rewritten when Numba converts it.
    assert first["counters"] == {"misses": 4, "stored": 4}
    assert second["counters"] == {"hits": 4}
    # Same compiled graphs (BlasGemm and Elemwise in place included), same results,
    # updates and the destroyed input included.
    assert "inplace" in "".join(first["graphs"]).lower()
    assert_same_results(first, second)
    untouched = np.linspace(-1, 1, 7).astype(pytensor.config.floatX).tolist()
    assert first["vector_after"] != untouched
    assert len(list((tmp_path).glob("**/blocks_rewritten/*.pkl"))) == 4


def test_two_processes_compiling_at_once_both_succeed_and_a_third_hits(tmp_path):
    processes = [run_child(tmp_path, "python", wait=False) for _ in range(2)]
    first, second = [read_child(process) for process in processes]
    assert_same_results(first, second)
    third = run_child(tmp_path, "python")
    # Three functions, the Scan's inner function (compiled through a function maker in
    # this mode) and the functions PyTensor compiles while it rewrites; the processes
    # started together may have loaded some of each other's.
    for result in (first, second):
        assert set(result["counters"]) <= {"misses", "stored", "hits"}
        compiled = result["counters"].get("hits", 0) + result["counters"]["misses"]
        assert compiled >= 4
    assert third["counters"] == {"hits": compiled}
    assert_same_results(first, third)
    assert not list(tmp_path.glob("**/blocks_rewritten/*.tmp"))


def test_the_environment_variable_turns_the_cache_off(tmp_path):
    result = run_child(tmp_path, "python", {"BLOCKS_REWRITE_CACHE": "0"})
    assert set(result["counters"]) == {"off"}
    assert not list(tmp_path.glob("**/blocks_rewritten/*"))


def mlp_graph(names=("x", "W", "b"), dtype="float64", shape=(None, 3), scale=2.0):
    x = pt.tensor(names[0], dtype=dtype, shape=shape)
    W = pytensor.shared(np.ones((3, 2), dtype), name=names[1])
    b = pytensor.shared(np.zeros(2, dtype), name=names[2])
    cost = (pt.tanh(x @ W + b) * scale).sum()
    updates = [(W, W - np.asarray(0.1, dtype) * pytensor.grad(cost, W))]
    return x, W, b, cost, updates


class KeySeen(Exception):
    pass


def key(inputs, outputs, mode="FAST_RUN", updates=()):
    """The key PyTensor's function maker would give this graph and mode."""
    seen = {}

    def prepare(inputs, outputs, additional_outputs, fgraph, mode, profile):
        seen["key"] = graph_key(fgraph, inputs, outputs, additional_outputs, mode)
        raise KeySeen

    maker = rewrite_cache.maker.FunctionMaker
    original = maker.__dict__["prepare_fgraph"]
    maker.prepare_fgraph = staticmethod(prepare)
    try:
        with pytest.raises(KeySeen):
            pytensor.function(inputs, outputs, mode=mode, updates=list(updates))
    finally:
        maker.prepare_fgraph = original
    return seen["key"]


def test_the_key_ignores_names_and_ids_and_follows_what_changes_the_rewrites():
    x, W, b, cost, updates = mlp_graph()
    reference = key([x], cost, updates=updates)
    assert reference is not None
    x2, *_, cost2, updates2 = mlp_graph(names=("input", "weights", "biases"))
    assert key([x2], cost2, updates=updates2) == reference

    def variant(**options):
        x, W, b, cost, updates = mlp_graph(**options)
        return key([x], cost, updates=updates)

    changed = [
        key([x], cost),  # no update
        variant(scale=3.0),  # a constant's value
        variant(dtype="float32"),
        variant(shape=(4, 3)),  # a static shape
        key([In(x, mutable=True)], cost, updates=updates),
        key([In(x, borrow=True)], cost, updates=updates),
        key([x], Out(cost, borrow=True), updates=updates),
        key([x], cost, get_mode("FAST_RUN").excluding("fusion"), updates),
        key([x], cost, get_mode("FAST_RUN").including("local_remove_all_assert"), updates),
        key([x], cost, "FAST_COMPILE", updates),
    ]
    assert None not in changed
    assert len(set(changed + [reference])) == len(changed) + 1
    with pytensor.config.change_flags(tensor__insert_inplace_optimizer_validate_nb=2):
        assert key([x], cost, updates=updates) != reference


def test_the_key_of_fused_ops_follows_their_inner_graph_not_the_process_counters():
    # A Composite's inner graph is digested by structure (its pickle names variables by
    # counters of the process), and an Elemwise's inplace_pattern by its items (its
    # pickle holds its hash once computed).
    from pytensor.scalar.basic import Composite
    from pytensor.tensor.elemwise import Elemwise

    def fused(scale):
        a, b = pytensor.scalar.float64("a"), pytensor.scalar.float64("b")
        return Elemwise(Composite([a, b], [a * pytensor.scalar.tanh(b) * scale]))

    def graph_of(op):
        x, y = pt.vector("x"), pt.vector("y")
        return pytensor.graph.FunctionGraph([x, y], [op(x, y)])

    first = graph_key(graph_of(fused(2.0)))
    op = fused(2.0)
    hash(op), hash(op.inplace_pattern)
    assert graph_key(graph_of(op)) == first
    assert graph_key(graph_of(fused(3.0))) != first
    assert rewrite_cache._op_digest(op) == rewrite_cache._op_digest(fused(2.0))


def test_a_graph_without_a_key_is_rewritten_without_the_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(rewrite_cache, "cache_directory", lambda: str(tmp_path))

    class Unpicklable(pytensor.graph.op.Op):
        # No __props__, and a local class: neither described nor pickled.
        def make_node(self, x):
            return pytensor.graph.basic.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            outputs[0][0] = inputs[0] + 1

    x = pt.vector("x")
    before = counters["uncacheable"]
    function = pytensor.function([x], Unpicklable()(x) * 2, mode=FAST_RUN_PY)
    assert counters["uncacheable"] == before + 1
    np.testing.assert_allclose(function(np.zeros(2)), [2, 2])
    assert not list(tmp_path.iterdir())


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setattr(rewrite_cache, "cache_directory", lambda: str(tmp_path))
    counters.clear()
    return tmp_path


def compile_twice(mode=FAST_RUN_PY):
    """A function compiled twice from graphs built anew; both compiled functions."""
    functions = []
    for _ in range(2):
        x, W, b, cost, updates = mlp_graph()
        functions.append((pytensor.function([x], cost, updates=updates, mode=mode), W))
    return functions


def test_a_hit_in_process_gives_the_same_graph_and_results(cache):
    (first, W1), (second, W2) = compile_twice()
    assert counters == {"misses": 1, "stored": 1, "hits": 1}
    assert structure(first) == structure(second)
    data = np.arange(6.0).reshape(2, 3) / 6
    for _ in range(2):
        np.testing.assert_array_equal(first(data), second(data))
    np.testing.assert_array_equal(W1.get_value(), W2.get_value())
    assert not np.array_equal(W1.get_value(), np.ones((3, 2)))


def test_fast_compile_graphs_are_cached_too(cache):
    (first, _), (second, _) = compile_twice(mode="FAST_COMPILE")
    assert counters == {"misses": 1, "stored": 1, "hits": 1}
    assert structure(first) == structure(second)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_entry_is_discarded_rewritten_and_stored_again(cache, damage):
    compile_twice()
    (entry,) = cache.glob("*.pkl")
    data = entry.read_bytes()
    entry.write_bytes({"garbage": b"not a pickle" * 10, "truncated": data[:len(data) // 2],
                       "empty": b""}[damage])
    counters.clear()
    (first, W1), (second, W2) = compile_twice()
    assert counters == {"discarded": 1, "misses": 1, "stored": 1, "hits": 1}
    assert entry.read_bytes() == data
    data_in = np.ones((2, 3))
    np.testing.assert_array_equal(first(data_in), second(data_in))


def test_a_stored_graph_that_would_destroy_a_protected_input_is_refused(cache):
    def compile_(mutable):
        v = pt.vector("v")
        return pytensor.function([In(v, mutable=mutable)], pt.exp(v) * 2 + 1,
                                 mode=FAST_RUN_PY)

    compile_(True)
    (inplace_entry,) = cache.glob("*.pkl")
    compile_(False)
    (kept_entry,) = set(cache.glob("*.pkl")) - {inplace_entry}
    # The entry of the mutable input's graph, found under the other graph's key.
    kept_entry.write_bytes(inplace_entry.read_bytes())
    counters.clear()
    function = compile_(False)
    assert counters["discarded"] == 1 and counters["hits"] == 0
    vector = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(function(vector), np.exp(vector) * 2 + 1)
    np.testing.assert_array_equal(vector, np.linspace(-1, 1, 5))


def test_blocks_config_turns_the_cache_off(cache):
    rewrite_cache.config.rewrite_cache = False
    try:
        compile_twice()
    finally:
        del rewrite_cache.config.rewrite_cache
    assert counters == {"off": 2}
    assert not list(cache.iterdir())


def test_a_graph_deeper_than_pickles_recursion_limit_is_stored_and_loaded(cache):
    functions = []
    for _ in range(2):
        x = pt.vector("x")
        y = x
        for _ in range(1500):
            y = pt.sin(y)
        functions.append(pytensor.function([x], y, mode="FAST_COMPILE"))
    assert counters == {"misses": 1, "stored": 1, "hits": 1}
    data = np.linspace(0, 1, 3)
    expected = data
    for _ in range(1500):
        expected = np.sin(expected)
    np.testing.assert_allclose(functions[1](data), expected)
    np.testing.assert_array_equal(functions[0](data), functions[1](data))
