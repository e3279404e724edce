"""JAX implementations of :class:`~blocks.ops.conv.op.Im2Col` and ``Col2Im``.

Imported, which registers them with PyTensor's JAX backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`).

Both ops are expressed with XLA's strided slices and pads, no gathers or scatters:
:func:`im2col` cuts one strided slice of the padded images per filter tap, and
:func:`col2im` places each tap's columns back with an interior-padded ``lax.pad`` (the
stride's gaps filled with zeros) and sums the taps, which XLA fuses into one pass. Shapes
are static under ``jax.jit``, so the geometry is resolved while tracing.

Under JAX a convolution stays ``Im2Col`` plus one matrix product (see the measurements
in ``benchmarks/README.md``, section "JAX").
"""

import operator

import jax.numpy as jnp
import numpy as np
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.conv.op import Col2Im, Im2Col
from blocks.ops.jax_glue import strided_place, strided_read

__all__ = ["im2col", "col2im"]


def _tap_starts(op):
    """For each filter tap (i, j), in the columns' row order: its first padded pixel."""
    (kh, kw), (dh, dw) = op.kernel_shape, op.dilation
    return [(i * dh, j * dw) for i in range(kh) for j in range(kw)]


def _out_hw(op, rows, cols):
    out_hw = op.output_hw(rows, cols)
    if min(out_hw) <= 0:
        raise ValueError(
            f"{type(op).__name__}: the (dilated) filter {op.kernel_shape} does not fit in "
            f"images of {rows}x{cols} pixels with padding {op.padding}"
        )
    return out_hw


def im2col(op, x):
    """The columns ``(channels * kh * kw, batch * out_rows * out_cols)`` of images `x`."""
    batch, channels, rows, cols = x.shape
    oh, ow = _out_hw(op, rows, cols)
    padded = jnp.pad(x, ((0, 0), (0, 0)) + op.padding)
    taps = [strided_read(padded, start, op.subsample, (oh, ow)) for start in _tap_starts(op)]
    # (taps, batch, channels, oh, ow) -> (channels, taps, batch, oh, ow)
    stacked = jnp.stack(taps).transpose(2, 0, 1, 3, 4)
    return stacked.reshape(channels * len(taps), batch * oh * ow)


def col2im(op, columns, shape):
    """Images of ``shape`` ``(batch, channels, rows, cols)``: every entry of `columns`
    added to the pixel :func:`im2col` gathers it from; entries from the padding dropped."""
    batch, channels, rows, cols = shape
    out_hw = _out_hw(op, rows, cols)
    taps = _tap_starts(op)
    expected = (channels * len(taps), batch * out_hw[0] * out_hw[1])
    if tuple(columns.shape) != expected:
        raise ValueError(
            f"Col2Im: columns of shape {tuple(columns.shape)} do not match images of shape "
            f"{tuple(shape)} (expected columns of shape {expected})"
        )
    (top, bottom), (left, right) = op.padding
    extent = (rows + top + bottom, cols + left + right)
    per_tap = columns.reshape((channels, len(taps), batch) + out_hw)
    padded = sum(
        strided_place(per_tap[:, t], start, op.subsample, extent)
        for t, start in enumerate(taps)
    )
    return padded[:, :, top:top + rows, left:left + cols].transpose(1, 0, 2, 3)


def _concrete_shape(node, values):
    """The image shape of a ``Col2Im`` node as ints: from the output's static type where it
    is known, else from the values, which must not depend on the function's inputs."""
    shape = []
    for axis, (static, value) in enumerate(zip(node.outputs[0].type.shape, values)):
        if static is not None:
            shape.append(static)
            continue
        try:
            shape.append(operator.index(np.asarray(value).item()))
        except Exception as error:  # a tracer raises one of several JAX errors
            raise NotImplementedError(
                f"Col2Im under JAX: the image shape entry {axis} is computed at run time "
                f"from the inputs; JAX needs it when the function is compiled. Give the "
                f"image size as constants (e.g. conv2d_transpose's output_size) or as the "
                f"shape of a variable."
            ) from error
    return tuple(shape)


@jax_funcify.register(Im2Col)
def jax_funcify_Im2Col(op, **kwargs):
    def im2col_jax(x):
        return im2col(op, x)

    return im2col_jax


@jax_funcify.register(Col2Im)
def jax_funcify_Col2Im(op, node, **kwargs):
    def col2im_jax(columns, *shape):
        return col2im(op, columns, _concrete_shape(node, shape))

    return col2im_jax
