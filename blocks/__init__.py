"""Blocks: bricks for building and training symbolic neural networks on PyTensor."""

__version__ = "0.1.0"

# Registers the graph rewrites and the backend implementations of our ops.
import blocks.ops  # noqa: E402, F401
from blocks.config import config  # noqa: E402

if config.keep_freed_memory:
    # Large temporaries of compiled steps then reuse memory instead of faulting in fresh
    # pages at every call (see blocks.utils.memory).
    from blocks.utils.memory import keep_freed_memory

    keep_freed_memory()
