"""Registration of our ops' backend implementations, when PyTensor loads a backend.

PyTensor's linkers find an op's implementation through a dispatcher of the backend's
dispatch package (``numba_funcify``, ``jax_funcify``). Importing those packages imports
Numba or JAX (0.4 s and 1.4 s here), so the library does not import them itself: with
:func:`blocks.import_hooks.after_import` it waits for the dispatch package to be
imported — which every compilation for that backend does first — and then imports the
module of each op family that registers with it.
"""

import importlib
import importlib.util

from blocks.import_hooks import after_import

__all__ = ["BACKEND_MODULES", "FAMILIES", "register_backend_modules"]

#: The op families, each a subpackage of :mod:`blocks.ops`.
FAMILIES = ("blas", "conv", "pool", "recurrent", "attention", "checks", "reduce", "alloc",
            "subtensor")

#: For each PyTensor dispatch package: the name of our module in each family that
#: registers with it.
BACKEND_MODULES = {
    "pytensor.link.numba.dispatch": "numba",
    "pytensor.link.jax.dispatch": "jax",
}


def _import_backend(dispatch_package):
    suffix = BACKEND_MODULES[dispatch_package]
    for family in FAMILIES:
        name = f"blocks.ops.{family}.{suffix}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def register_backend_modules():
    """Register our implementations with every backend loaded now or later."""
    for dispatch_package in BACKEND_MODULES:
        after_import(dispatch_package,
                     lambda package=dispatch_package: _import_backend(package))
