"""Versioned stamps of the on-disk Numba caches (blocks.ops.numba_cache)."""

import os
import subprocess
import sys

import pytensor
import pytest
from numba.core.caching import CacheImpl, IndexDataCacheFile

from blocks.ops import numba_cache
from blocks.ops.recurrent import kernels


def test_version_follows_the_sources_and_the_libraries(tmp_path, monkeypatch):
    source = tmp_path / "kernels.py"
    source.write_text("x = 1\n")
    monkeypatch.setattr(numba_cache, "OPS", tmp_path)
    monkeypatch.setattr(numba_cache, "SOURCES", [source])
    first = numba_cache._version()
    assert numba_cache._version() == first
    source.write_text("x = 2\n")
    second = numba_cache._version()
    assert second != first
    monkeypatch.setattr(pytensor, "__version__", "0.0.0-other")
    assert numba_cache._version() != second


def test_every_source_with_compiled_code_is_hashed():
    names = {path.relative_to(numba_cache.OPS).as_posix() for path in numba_cache.SOURCES}
    assert {"numba_glue.py", "simd.py", "recurrent/kernels.py", "attention/kernels.py",
            "recurrent/numba.py", "blas/numba.py", "conv/op.py"} <= names


def test_versioned_locators_come_first_and_stamp_our_kernels():
    numba_cache.register()
    numba_cache.register()  # idempotent
    classes = CacheImpl._locator_classes
    assert classes[:len(numba_cache.LOCATORS)] == numba_cache.LOCATORS
    assert len(set(classes)) == len(classes)
    locator = kernels.simple_forward._cache._impl.locator
    assert isinstance(locator, tuple(numba_cache.LOCATORS))
    assert locator.get_source_stamp()[1] == numba_cache.VERSION


def test_other_functions_keep_numba_own_locators():
    def outside():
        pass

    outside.__module__ = "somewhere.else"
    for locator in numba_cache.LOCATORS[1:]:
        assert locator.from_function(outside, __file__) is None


def test_an_entry_stamped_by_another_version_is_not_loaded(tmp_path):
    # What Numba does with the stamp: an index written under another one reads as empty.
    written = IndexDataCacheFile(str(tmp_path), "f", "other-version")
    written.save("key", "compiled code")
    assert IndexDataCacheFile(str(tmp_path), "f", "other-version").load("key") == \
        "compiled code"
    assert IndexDataCacheFile(str(tmp_path), "f", numba_cache.VERSION).load("key") is None


def _two_branches():
    import pytensor.tensor as pt
    from pytensor.graph.fg import FunctionGraph

    x, y = pt.vectors("x", "y")
    a, b, c = pt.exp(x), pt.log(y), pt.tanh(x + y)
    return FunctionGraph([x, y], [a * b + c, a - c], clone=False)


def test_canonical_order_does_not_depend_on_the_graph_own_order():
    from blocks.ops.numba_order import canonical_order

    fgraph = _two_branches()
    order = canonical_order(fgraph)
    assert sorted(map(id, order)) == sorted(map(id, fgraph.toposort()))
    position = {node: index for index, node in enumerate(order)}
    for node in order:
        assert all(position[i.owner] < position[node] for i in node.inputs if i.owner)
    # Another valid order of the same graph (Kahn's, last ready first) gives the same one.
    remaining = list(fgraph.toposort())
    other = []
    while remaining:
        node = next(n for n in reversed(remaining) if all(
            i.owner is None or i.owner in other for i in n.inputs))
        remaining.remove(node)
        other.append(node)
    assert other != list(fgraph.toposort())
    fgraph.toposort = lambda: list(other)
    assert canonical_order(fgraph) == order
    # And a graph built again from scratch gets the same order, node for node.
    assert [str(n.op) for n in canonical_order(_two_branches())] == [str(n.op) for n in order]


def test_canonical_order_of_a_graph_with_identical_nodes():
    import pytensor.tensor as pt
    from pytensor.graph.fg import FunctionGraph

    from blocks.ops.numba_order import canonical_order

    x = pt.vector("x")
    # Unmerged copies of one computation: equal digests, made ready by one node at once.
    y = pt.exp(x)
    outputs = [pt.tanh(y) for _ in range(3)] + [pt.exp(x) * 2 for _ in range(3)]
    fgraph = FunctionGraph([x], outputs, clone=False)
    order = canonical_order(fgraph)
    assert len(order) == len(fgraph.apply_nodes)
    position = {node: index for index, node in enumerate(order)}
    for node in order:
        assert all(position[i.owner] < position[node] for i in node.inputs if i.owner)


@pytest.mark.parametrize("flags, expected", [("", "False"),
                                              ("numba__fastmath=True", "True")])
def test_pytensor_fast_math_is_off_unless_the_user_set_it(flags, expected):
    """Code loaded from the caches computes what code compiled in the process does only
    without fast-math flags (blocks.ops.numba_cache.exact_arithmetic)."""

    code = "import blocks.graph, pytensor; print(pytensor.config.numba__fastmath)"
    environment = dict(os.environ, PYTENSOR_FLAGS=flags)
    done = subprocess.run([sys.executable, "-c", code], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == expected
