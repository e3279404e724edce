"""Blocks: bricks for building and training symbolic neural networks on PyTensor."""

__version__ = "0.1.0"

import importlib  # noqa: E402

from blocks.config import config  # noqa: E402
from blocks.import_hooks import after_import  # noqa: E402

# blocks.ops registers our graph rewrites and ops with PyTensor. It is imported as soon
# as PyTensor is, by whatever code imports it, so that importing blocks (or blocks.utils,
# blocks.config) does not import PyTensor, and yet a function compiled from raw PyTensor
# after `import blocks` gets the rewrites.
after_import("pytensor", lambda: importlib.import_module("blocks.ops"))
# Compiling a graph compiled before, in this process or another, then skips PyTensor's
# rewrites (BLOCKS_REWRITE_CACHE=0 turns it off).
after_import("pytensor", lambda: importlib.import_module("blocks.rewrite_cache"))
# Ops with C code in files (DimShuffle...) read those files once per process.
after_import("pytensor.link.c.op",
             lambda: importlib.import_module("blocks.c_code_files").install())
# Variables' creation traces read each line of code once per process.
after_import("pytensor.graph.utils", lambda: importlib.import_module("blocks.traces").install())


def _freeze_imported_objects():
    # Last of the callbacks after PyTensor's import: PyTensor, Numba and our ops are
    # imported; full garbage collections then leave their objects out.
    if config.freeze_imported_objects:
        from blocks.utils.memory import freeze_imported_objects

        freeze_imported_objects()


after_import("pytensor", _freeze_imported_objects)

if config.keep_freed_memory:
    # Large temporaries of compiled steps then reuse memory instead of faulting in fresh
    # pages at every call (see blocks.utils.memory).
    from blocks.utils.memory import keep_freed_memory

    keep_freed_memory()
