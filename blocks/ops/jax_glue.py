"""Helpers shared by the JAX implementations of our ops (imported with JAX only).

Windows of images (filter taps, pooling windows) are read with strided slices and
written back with interior-padded pads: XLA fuses both with their neighbours, where
gathers and scatters would each be a separate loop.
"""

import jax.numpy as jnp
from jax import lax

__all__ = ["strided_read", "strided_place"]


def strided_read(x, starts, strides, counts):
    """``x[..., r0 + y * sh, c0 + x * sw]`` for ``y, x < counts``: a strided slice of the
    last two axes.

    >>> import numpy as np
    >>> strided_read(jnp.arange(16).reshape(4, 4), (1, 0), (2, 3), (2, 2)).tolist()
    [[4, 7], [12, 15]]
    """
    lead = tuple(x.shape[:-2])
    stops = tuple(s + (n - 1) * st + 1 for s, n, st in zip(starts, counts, strides))
    return lax.slice(x, (0,) * len(lead) + tuple(starts), lead + stops,
                     (1,) * len(lead) + tuple(strides))


def strided_place(values, starts, strides, extent):
    """`values` (last two axes) written every `strides` pixels from `starts` into zeros of
    `extent` pixels: the adjoint of :func:`strided_read`.

    >>> strided_place(jnp.ones((2, 2), int), (1, 0), (2, 3), (4, 4)).tolist()
    [[0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 1]]
    """
    config = [(0, 0, 0)] * (values.ndim - 2)
    for start, stride, size, total in zip(starts, strides, values.shape[-2:], extent):
        config.append((start, total - start - ((size - 1) * stride + 1), stride - 1))
    return lax.pad(values, jnp.zeros((), values.dtype), config)
