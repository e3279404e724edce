"""Blocks: bricks for building and training symbolic neural networks on PyTensor."""

__version__ = "0.1.0"

# The graph rewrites and the backend implementations of our ops are registered by
# blocks.ops, which blocks.graph (imported by every brick, algorithm and evaluator)
# imports: importing blocks itself, or blocks.utils and blocks.config, does not import
# PyTensor.
from blocks.config import config  # noqa: E402

if config.keep_freed_memory:
    # Large temporaries of compiled steps then reuse memory instead of faulting in fresh
    # pages at every call (see blocks.utils.memory).
    from blocks.utils.memory import keep_freed_memory

    keep_freed_memory()
