"""How a graph's Numba code is linked: each node's code optimized once, not four times.

PyTensor's Numba backend compiles each node to a function, wraps it in a second one that
its disk cache can key (``def op(*args): return jitable_func(*args)``), calls every
wrapper from one function for the whole graph, and wraps that function once more for the
cache. Numba links the code of every function a function calls into the caller's
module and runs LLVM's whole-module optimization over the result, so a node's code went
through LLVM's optimizer four times and was turned into machine code four times. A cold
compile of the attention encoder-decoder spent half its time optimizing those glue
functions (``benchmarks/compile.py``'s profile, issue 20).

Two changes, both to functions that only pass arguments on:

- The graph's function is compiled once: :func:`NumbaLinker.fgraph_convert` no longer
  wraps it, and :func:`NumbaLinker.jit_compile` stores it in PyTensor's cache under the
  graph's own key (suffixed, so that no entry written by plain PyTensor is read back).
- The wrappers and the graph's function skip LLVM's whole-module passes. What they link
  in is already optimized in the node's own module, and their own code is still run
  through the per-function passes; what is lost is only inlining a node into the glue
  that calls it, which saves no work.

Every other function keeps the whole-module passes, our kernels and the loop of a
``Scan`` among them.
"""

import weakref

from numba.core import codegen, event
from pytensor import config
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit
from pytensor.link.numba.linker import NumbaLinker

__all__ = ["GLUE_LIBRARIES", "is_glue"]

#: Enters the graph functions' cache keys.
_KEY_SUFFIX = "blocks-linking-1"

#: Python functions compiled by Numba that only call another compiled function.
_graph_functions = weakref.WeakSet()

#: How many libraries skipped the whole-module passes in this process (tests read it).
GLUE_LIBRARIES = [0]


def is_glue(py_func):
    """Whether `py_func`, compiled by Numba, only passes its arguments on to compiled
    code: one of PyTensor's cache wrappers around a node, or a graph's function."""
    if py_func in _graph_functions:
        return True
    source = getattr(py_func, "__source__", "")
    return py_func in CACHED_SRC_FUNCTIONS and source.rstrip().endswith(
        "return jitable_func(*args)")


def _fgraph_convert(self, fgraph, **kwargs):
    return numba_funcify_and_cache_key(fgraph, **kwargs)


def _jit_compile(self, fn_and_cache_key):
    function, cache_key = fn_and_cache_key
    py_func = function.py_func
    if cache_key is not None:
        # PyTensor writes the graph's source to a temporary file, whose random name Numba
        # puts in the cache entry's name: defined again from a string, the function gets
        # the same entry in every process, which PyTensor's locator finds by the key.
        py_func = compile_numba_function_src(
            py_func.__source__, py_func.__name__, py_func.__globals__,
            cache_key=f"{cache_key}_fastmath{int(config.numba__fastmath)}_{_KEY_SUFFIX}")
    _graph_functions.add(py_func)
    return numba_njit(py_func, final_function=True, cache=cache_key is not None)


class _Compiling(event.Listener):
    """Keeps the stack of functions Numba is compiling: a library is finalized while its
    function is on top."""

    def __init__(self):
        self.stack = []

    def on_start(self, event):
        self.stack.append(event.data["dispatcher"].py_func)

    def on_end(self, event):
        self.stack.pop()


_compiling = _Compiling()
_optimize_final_module = codegen.CPUCodeLibrary._optimize_final_module


def _optimize_unless_glue(library):
    if _compiling.stack and is_glue(_compiling.stack[-1]):
        GLUE_LIBRARIES[0] += 1
        return
    _optimize_final_module(library)


NumbaLinker.fgraph_convert = _fgraph_convert
NumbaLinker.jit_compile = _jit_compile
event.register("numba:compile", _compiling)
codegen.CPUCodeLibrary._optimize_final_module = _optimize_unless_glue
