"""Reductions: a Numba implementation of PyTensor's own reduction op (``CAReduce``:
sums, products, maxima, minima, all, any) that compiles in a fraction of the time of
PyTensor's. There is no op of ours here, and no JAX module: PyTensor's JAX backend
implements ``CAReduce`` with ``jnp`` already."""
