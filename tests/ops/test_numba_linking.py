"""Glue functions of a compiled graph skip LLVM's whole-module passes; the graph's
results are unchanged, and a graph's function is compiled once, not wrapped."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

pytestmark = pytest.mark.numba


def _fresh_graph():
    """A graph no cache holds yet: its constant is new in every run."""
    constant = float(np.random.default_rng().uniform(1, 2))
    x, w = pt.matrix("x"), pt.matrix("w")
    return [x, w], pt.tanh(x @ w * constant).sum(axis=0), constant


def test_a_graph_links_its_glue_without_whole_module_passes():
    from blocks.ops import numba_linking

    inputs, output, constant = _fresh_graph()
    before = numba_linking.GLUE_LIBRARIES[0]
    function = pytensor.function(inputs, output)
    x, w = np.random.default_rng(0).standard_normal((2, 4, 3))[:, :, :3]
    result = function(x, w[:3])
    np.testing.assert_allclose(result, np.tanh(x @ w[:3] * constant).sum(axis=0))
    # The graph's function and the wrapper of each cached node, at least.
    assert numba_linking.GLUE_LIBRARIES[0] - before >= 2


def test_only_pass_through_functions_are_glue():
    from pytensor.link.numba.cache import compile_numba_function_src

    from blocks.ops.numba_linking import is_glue

    wrapper = compile_numba_function_src(
        "def elemwise(*args): return jitable_func(*args)", "elemwise",
        {"jitable_func": None}, cache_key="a key")
    kernel = compile_numba_function_src(
        "def elemwise(x): return x + 1", "elemwise", cache_key="another key")
    assert is_glue(wrapper)
    assert not is_glue(kernel)
    assert not is_glue(np.add)
