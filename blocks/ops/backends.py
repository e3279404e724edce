"""Registration of our ops' backend implementations, when PyTensor loads a backend.

PyTensor's linkers find an op's implementation through a dispatcher of the backend's
dispatch package (``numba_funcify``, ``jax_funcify``). Importing those packages imports
Numba or JAX (0.4 s and 1.4 s here), so the library does not import them itself: a
finder on :data:`sys.meta_path` waits for the dispatch package to be imported — which
every compilation for that backend does first — and then imports our modules that
register with it. A dispatch package imported before :mod:`blocks` is handled at once.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["BACKEND_MODULES", "FAMILIES", "register_backend_modules"]

#: The op families, each a subpackage of :mod:`blocks.ops`.
FAMILIES = ("blas", "conv", "pool", "recurrent", "attention")

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


class _RegisterAfterLoad(importlib.abc.Loader):
    """Runs a dispatch package's own loader, then imports our backend modules."""

    def __init__(self, loader, dispatch_package):
        self.loader = loader
        self.dispatch_package = dispatch_package

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _import_backend(self.dispatch_package)


class _DispatchFinder(importlib.abc.MetaPathFinder):
    """Finds the dispatch packages with the other finders and wraps their loaders."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in BACKEND_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                spec.loader = _RegisterAfterLoad(spec.loader, fullname)
                return spec
        return None


_finder = _DispatchFinder()


def register_backend_modules():
    """Register our implementations with every backend loaded now and every one loaded
    later (idempotent)."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for dispatch_package in BACKEND_MODULES:
        if dispatch_package in sys.modules:
            _import_backend(dispatch_package)
