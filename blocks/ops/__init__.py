"""The library's own PyTensor Ops, one subpackage per family, under the bricks.

Layers, from the top::

    blocks.bricks    bricks build graphs from PyTensor's ops and ours
    blocks.ops       our Ops: recurrent, attention, conv, pool, blas, checks; rewrites.py;
                     quick-to-compile Numba code for PyTensor's reduce, alloc, subtensor;
                     numba_node_linker.py (a graph's nodes run from Python)
                     each family: op.py     (make_node, grad, infer_shape, perform)
                                  numba.py  (Numba implementation, registered)
                                  jax.py    (JAX implementation, registered)
    PyTensor         graphs, rewrites, and the backends that compile them (Numba, JAX)

Bricks import ops, never the other way round; an op module never imports its backend
modules. Importing :mod:`blocks.graph` (as every brick, algorithm and evaluator does)
imports this package, which registers the rewrites and arranges for every family's
backend module to be imported as soon as PyTensor loads that backend (see
:mod:`blocks.ops.backends`), so neither Numba nor JAX is imported before a function is
compiled for it. ``import blocks`` alone imports neither this package nor PyTensor.
"""

# First: the kernels of the op families choose their cache locator when defined.
from blocks.ops import numba_cache  # isort: skip

numba_cache.register()

from blocks.ops import numba_node_linker, rewrites  # noqa: E402, F401
from blocks.ops.backends import register_backend_modules  # noqa: E402

register_backend_modules()
