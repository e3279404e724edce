"""Blocks: bricks for building and training symbolic neural networks on PyTensor."""

__version__ = "0.1.0"
