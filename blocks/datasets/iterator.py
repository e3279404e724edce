"""Fuel's ``fuel.iterator``: the iterator over one epoch of a stream."""

from blocks.datasets.streams import DataIterator

__all__ = ["DataIterator"]
