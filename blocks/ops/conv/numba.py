"""Numba kernels of :class:`~blocks.ops.conv.op.Im2Col` and ``Col2Im``.

Imported, which registers them with PyTensor's Numba backend, when PyTensor loads that
backend (see :mod:`blocks.ops.backends`).
"""

import numpy as np
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from blocks.ops.conv.op import Col2Im, Im2Col
from blocks.ops.numba_glue import once_per_op, shape_text
from blocks.ops.simd import add_rows, copy_rows, source_version

#: Salt of PyTensor's on-disk cache key for these kernels (see `source_version`).
KERNELS_VERSION = source_version(__file__)


@numba_njit
def _valid_range(offset, stride, size, count):
    """The outputs ``o`` in ``[lo, hi)`` such that ``0 <= o * stride + offset < size``."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - offset <= 0 else (size - 1 - offset) // stride + 1
    lo = min(lo, count)
    hi = min(max(hi, lo), count)
    return lo, hi


def _kernels(op):
    """Numba functions moving pixels between images and columns for the op's geometry.

    Both see the arrays as flat and move one image row segment per (tap, image, output
    row): with stride 1 the segment is contiguous on both sides and moves in vectors (see
    :mod:`blocks.ops.simd`). The gather walks the columns row by row, so they
    are written contiguously; the scatter walks the image planes, so each plane stays in
    cache while its taps add up.
    """
    kh, kw = op.kernel_shape
    sh, sw = op.subsample
    dh, dw = op.dilation
    (top, bottom), (left, right) = op.padding

    @numba_njit
    def out_size(rows, cols):
        return ((rows + top + bottom - (kh - 1) * dh - 1) // sh + 1,
                (cols + left + right - (kw - 1) * dw - 1) // sw + 1)

    # Plain index loops on flat arrays: slicing would create an array view (and reference
    # counting) per image row, which costs more than the handful of pixels it moves. The
    # image side of a row has the stride's step.
    copy_row, add_row = copy_rows(src_step=sw), add_rows(dst_step=sw)

    unpadded = top == bottom == left == right == 0

    @numba_njit(inline="always")
    def tap(r, rows, cols, out_rows, out_cols):
        """Channel, image offset, and the output rows and columns that read the image,
        of row `r` of the columns."""
        c, i, j = r // (kh * kw), r // kw % kh, r % kw
        offset = (i * dh - top) * cols + j * dw - left
        if unpadded:
            # Every tap reads the image only. Constant bounds let LLVM drop the padding
            # code and simplify the row loops: a LeNet Col2Im takes 0.56 ms, not 0.9.
            return c, offset, 0, out_cols, 0, out_rows
        lo, hi = _valid_range(j * dw - left, sw, cols, out_cols)
        y_lo, y_hi = _valid_range(i * dh - top, sh, rows, out_rows)
        return c, offset, lo, hi, y_lo, y_hi

    @numba_njit(boundscheck=False)
    def gather(images, columns):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        source, target = images.reshape(-1), columns.reshape(-1)
        plane, block = rows * cols, out_rows * out_cols
        for r in range(channels * kh * kw):
            c, offset, lo, hi, y_lo, y_hi = tap(r, rows, cols, out_rows, out_cols)
            if lo == 0 and hi == out_cols and y_lo == 0 and y_hi == out_rows:
                # A tap that never reads the padding: a loop of its own, free of the
                # bounds bookkeeping below, runs 1.5x faster.
                for b in range(batch):
                    for y in range(out_rows):
                        copy_row(target, (r * batch + b) * block + y * out_cols, source,
                                 (b * channels + c) * plane + y * sh * cols + offset, out_cols)
                continue
            for b in range(batch):
                start = (r * batch + b) * block
                target[start:start + block] = 0
                for y in range(y_lo, y_hi):
                    copy_row(target, start + y * out_cols + lo, source,
                             (b * channels + c) * plane + y * sh * cols + offset + lo * sw,
                             hi - lo)

    @numba_njit(boundscheck=False)
    def scatter(columns, images):
        # One image plane at a time, all taps: the plane stays in cache while it sums.
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        source, target = columns.reshape(-1), images.reshape(-1)
        block = out_rows * out_cols
        for p in range(channels * batch):
            c, b = p // batch, p % batch
            for r in range(c * kh * kw, (c + 1) * kh * kw):
                _, offset, lo, hi, y_lo, y_hi = tap(r, rows, cols, out_rows, out_cols)
                for y in range(y_lo, y_hi):
                    add_row(target, (b * channels + c) * rows * cols + y * sh * cols + offset
                            + lo * sw, source, (r * batch + b) * block + y * out_cols + lo,
                            hi - lo)

    return out_size, gather, scatter


@register_funcify_default_op_cache_key(Im2Col)
@once_per_op
def _numba_im2col(op, node=None, **kwargs):
    out_size, gather, _ = _kernels(op)
    kh, kw = op.kernel_shape

    @numba_njit
    def im2col(images):
        batch, channels, rows, cols = images.shape
        out_rows, out_cols = out_size(rows, cols)
        if out_rows <= 0 or out_cols <= 0:
            raise ValueError("Im2Col: the (dilated) filter " + shape_text((kh, kw))
                             + " does not fit in the padded input of shape "
                             + shape_text(images.shape))
        columns = np.empty((channels * kh * kw, batch * out_rows * out_cols), images.dtype)
        gather(np.ascontiguousarray(images), columns)
        return columns

    return im2col, KERNELS_VERSION


@register_funcify_default_op_cache_key(Col2Im)
@once_per_op
def _numba_col2im(op, node=None, **kwargs):
    out_size, _, scatter = _kernels(op)
    kh, kw = op.kernel_shape

    @numba_njit
    def col2im(columns, batch, channels, rows, cols):
        # Scalars arrive as 0-d arrays.
        batch, channels, rows, cols = batch.item(), channels.item(), rows.item(), cols.item()
        out_rows, out_cols = out_size(rows, cols)
        if columns.shape[0] != channels * kh * kw \
                or columns.shape[1] != batch * out_rows * out_cols:
            raise ValueError("Col2Im: columns of shape " + shape_text(columns.shape)
                             + " do not match the image shape "
                             + shape_text((batch, channels, rows, cols)))
        images = np.zeros((batch, channels, rows, cols), columns.dtype)
        scatter(np.ascontiguousarray(columns), images)
        return images

    return col2im, KERNELS_VERSION
