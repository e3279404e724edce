"""Allocation: a Numba implementation of PyTensor's ``Alloc`` (an array of a given shape
filled with a broadcast value) that is quick to compile. No op of ours and no JAX module:
PyTensor's JAX backend implements ``Alloc`` already."""
