"""Glue functions, which only call another compiled function, skip LLVM's whole-module
passes.

PyTensor's Numba backend compiles each node to a function and wraps it in a second one
that its disk cache can key (``def op(*args): return jitable_func(*args)``). Numba links
the code of every function a function calls into the caller's module and runs LLVM's
whole-module optimization over the result, so each node's code went through LLVM's
optimizer once more in its wrapper, and again in every function calling the wrapper.

What a wrapper links in is already optimized in the node's own module, and its own code
still goes through the per-function passes: what the whole-module passes could add is
only inlining the node into a function that does nothing else, which saves no work. So
a library whose function is glue skips them; every other function keeps them, our kernels
and the loop of a ``Scan`` among them.
"""

from numba.core import codegen, event
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

__all__ = ["GLUE_LIBRARIES", "is_glue"]

#: How many libraries skipped the whole-module passes in this process (tests read it).
GLUE_LIBRARIES = [0]


def is_glue(py_func):
    """Whether `py_func`, compiled by Numba, only passes its arguments on to compiled
    code: a cache wrapper around a node's function."""
    source = getattr(py_func, "__source__", "")
    return py_func in CACHED_SRC_FUNCTIONS and source.rstrip().endswith(
        "return jitable_func(*args)")


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


event.register("numba:compile", _compiling)
codegen.CPUCodeLibrary._optimize_final_module = _optimize_unless_glue
