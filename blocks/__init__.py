"""Blocks: bricks for building and training symbolic neural networks on PyTensor."""

__version__ = "0.1.0"

# Registers the library's graph rewrites with PyTensor (BLAS products and updates).
import blocks.graph.rewrites  # noqa: E402, F401
