"""Run code right after a module is first imported, wherever that import happens.

The library registers things with PyTensor (graph rewrites, our ops' implementations for
each backend) without importing PyTensor, Numba or JAX itself before they are needed:
:func:`after_import` runs a callback at once if the module is already imported, and
otherwise as soon as any code imports it, through a finder on :data:`sys.meta_path` that
wraps the module's own loader. Only the standard library is imported here.
"""

import importlib.abc
import sys

__all__ = ["after_import"]

_callbacks = {}


class _RunAfterLoad(importlib.abc.Loader):
    """Runs a module's own loader, then the callbacks waiting for that module."""

    def __init__(self, loader, name):
        self.loader = loader
        self.name = name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        for callback in _callbacks.pop(self.name, []):
            callback()


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds the awaited modules with the other finders and wraps their loaders."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RunAfterLoad(spec.loader, fullname)
                return spec
        return None


_finder = _AfterImportFinder()


def after_import(name, callback):
    """Call ``callback()`` once module `name` is imported: now if it already is.

    >>> import json
    >>> after_import('json', lambda: print('json is there'))
    json is there
    """
    if name in sys.modules:
        callback()
        return
    _callbacks.setdefault(name, []).append(callback)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
