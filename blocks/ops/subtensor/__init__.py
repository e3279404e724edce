"""Indexing: a Numba implementation of PyTensor's ``IncSubtensor`` (adding to, or
setting, a slice of an array) that is quick to compile. No op of ours and no JAX module:
PyTensor's JAX backend implements ``IncSubtensor`` already."""
