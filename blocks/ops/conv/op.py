"""Convolution as im2col plus one matrix product, with exact gradients.

PyTensor 3 has no operator for the convolutions of neural networks, so this module
provides them. :class:`Im2Col` gathers every receptive field of a batch of images into
the columns of a matrix (``(channels * rows * cols of the filter, batch * output
pixels)``); the convolution is then one product of that matrix with the filters,
which runs at BLAS speed. :class:`Col2Im`, the adjoint of :class:`Im2Col`, scatters
columns back into images: it is the gradient of :class:`Im2Col` (and the other way
round), and it also gives the transposed convolution. Both ops have a NumPy
implementation (used by the Python linker, e.g. in ``FAST_COMPILE`` mode) and Numba
kernels registered with PyTensor's Numba backend.

Padding, strides (``subsample``) and dilation are properties of the ops; filter
flipping, groups and unshared (locally connected) filters are expressed in the graph
around them by :func:`conv2d`.
"""

import numbers

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op
from pytensor.tensor.basic import NotScalarConstantError, get_scalar_constant_value

__all__ = [
    "Im2Col", "Col2Im", "conv2d", "conv2d_transpose", "conv_output_shape",
    "normalize_border_mode", "output_length",
]


def _pair(value, what):
    """`value` as a pair of positive ints (an int stands for the same value twice)."""
    if isinstance(value, numbers.Integral):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, numbers.Integral) for v in value):
        raise ValueError(f"{what}: expected an int or a pair of ints, got {value!r}")
    if any(v <= 0 for v in value):
        raise ValueError(f"{what}: expected positive values, got {value!r}")
    return tuple(int(v) for v in value)


def _dilated(kernel, dilation):
    return (kernel - 1) * dilation + 1


def normalize_border_mode(border_mode, kernel_shape, dilation=(1, 1)):
    """The zero padding ``((top, bottom), (left, right))`` that a border mode stands for.

    Parameters
    ----------
    border_mode : str, int or tuple
        ``'valid'``, ``'full'``, ``'half'``, an int (the same padding everywhere), a pair
        of ints (symmetric padding of rows and columns) or a pair whose entries are ints
        or ``(before, after)`` pairs.
    kernel_shape : pair of int
        Rows and columns of the filters.
    dilation : pair of int

    Examples
    --------
    >>> normalize_border_mode('full', (3, 5))
    ((2, 2), (4, 4))
    >>> normalize_border_mode('half', (3, 3), dilation=(2, 1))
    ((2, 2), (1, 1))
    >>> normalize_border_mode((1, (0, 2)), (3, 3))
    ((1, 1), (0, 2))
    """
    effective = [_dilated(k, d) for k, d in zip(kernel_shape, dilation)]
    if isinstance(border_mode, str):
        if border_mode == "valid":
            return ((0, 0), (0, 0))
        if border_mode == "full":
            return tuple((e - 1, e - 1) for e in effective)
        if border_mode == "half":
            return tuple((e // 2, e // 2) for e in effective)
        raise ValueError(
            f"border_mode: expected 'valid', 'full', 'half', an int or a pair, got "
            f"{border_mode!r}"
        )
    if isinstance(border_mode, numbers.Integral):
        border_mode = (border_mode, border_mode)
    if not isinstance(border_mode, (tuple, list)) or len(border_mode) != 2:
        raise ValueError(
            f"border_mode: expected 'valid', 'full', 'half', an int or a pair, got "
            f"{border_mode!r}"
        )
    padding = []
    for entry in border_mode:
        if isinstance(entry, numbers.Integral):
            entry = (entry, entry)
        entry = tuple(entry)
        if len(entry) != 2 or not all(isinstance(p, numbers.Integral) and p >= 0
                                      for p in entry):
            raise ValueError(
                f"border_mode: expected non-negative ints or (before, after) pairs of them, "
                f"got {border_mode!r}"
            )
        padding.append(tuple(int(p) for p in entry))
    return tuple(padding)


def output_length(size, kernel, padding, stride, dilation):
    """Length of one output axis; None if `size` is None, symbolic if `size` is.

    `padding` is the ``(before, after)`` pair.
    """
    if size is None:
        return None
    return (size + padding[0] + padding[1] - _dilated(kernel, dilation)) // stride + 1


def conv_output_shape(image_shape, kernel_shape, border_mode, subsample, filter_dilation=None):
    """The output shape ``(batch, output channels, rows, columns)`` of a convolution.

    Entries of the shapes may be ints, symbolic scalars or None (unknown); an unknown
    entry gives an unknown output entry. `kernel_shape` has 4 entries, or 6 for unshared
    filters ``(output channels, output rows, output columns, input channels, rows,
    columns)``.

    >>> conv_output_shape((8, 3, 28, 28), (20, 3, 5, 5), 'valid', (1, 1))
    (8, 20, 24, 24)
    >>> conv_output_shape((None, 3, 28, 28), (20, 3, 5, 5), 'half', (2, 2))
    (None, 20, 14, 14)
    """
    if len(kernel_shape) not in (4, 6):
        raise ValueError(
            f"kernel_shape: expected 4 entries (or 6 for unshared filters), got "
            f"{len(kernel_shape)}: {kernel_shape!r}"
        )
    kernel = tuple(kernel_shape[-2:])
    dilation = _pair(filter_dilation or (1, 1), "filter_dilation")
    stride = _pair(subsample, "subsample")
    padding = _symbolic_padding(border_mode, kernel, dilation)
    rows, cols = (
        None if k is None or p is None else output_length(size, k, p, s, d)
        for size, k, p, s, d in zip(image_shape[2:], kernel, padding, stride, dilation)
    )
    return (image_shape[0], kernel_shape[0], rows, cols)


def _symbolic_padding(border_mode, kernel, dilation):
    # Padding when the kernel size may be unknown (None) or symbolic: 'full' and 'half'
    # then give an unknown or symbolic padding.
    if all(isinstance(k, numbers.Integral) for k in kernel):
        return normalize_border_mode(border_mode, kernel, dilation)
    if border_mode == "full":
        return tuple(None if k is None else ((k - 1) * d, (k - 1) * d)
                     for k, d in zip(kernel, dilation))
    if border_mode == "half":
        return tuple(None if k is None else (((k - 1) * d + 1) // 2,) * 2
                     for k, d in zip(kernel, dilation))
    return normalize_border_mode(border_mode, (1, 1), dilation)


def _static_int(variable):
    """The value of a constant integer scalar, or None."""
    if isinstance(variable, numbers.Integral):
        return int(variable)
    try:
        return int(get_scalar_constant_value(variable))
    except (NotScalarConstantError, TypeError, ValueError):
        return None


class _PatchOp(Op):
    """Shared configuration of :class:`Im2Col` and :class:`Col2Im`."""

    __props__ = ("kernel_shape", "subsample", "dilation", "padding")

    def __init__(self, kernel_shape, subsample=(1, 1), dilation=(1, 1),
                 padding=((0, 0), (0, 0))):
        self.kernel_shape = _pair(kernel_shape, "kernel_shape")
        self.subsample = _pair(subsample, "subsample")
        self.dilation = _pair(dilation, "dilation")
        self.padding = tuple(tuple(int(p) for p in pair) for pair in padding)

    def output_hw(self, rows, cols):
        """Rows and columns of the output images for input images of the given size."""
        return tuple(
            output_length(size, k, p, s, d)
            for size, k, p, s, d in zip((rows, cols), self.kernel_shape, self.padding,
                                        self.subsample, self.dilation)
        )

    def _window_slices(self, out_hw):
        """For each filter tap (i, j): the slices of the padded image it reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_shape, self.subsample, self.dilation
        oh, ow = out_hw
        for i in range(kh):
            for j in range(kw):
                yield i, j, (slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
                             slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))

    def _padded_shape(self, shape):
        (top, bottom), (left, right) = self.padding
        return shape[:2] + (shape[2] + top + bottom, shape[3] + left + right)

    def _crop(self, shape):
        (top, _), (left, _) = self.padding
        return (slice(None), slice(None), slice(top, top + shape[2]),
                slice(left, left + shape[3]))


class Im2Col(_PatchOp):
    """Gather the receptive fields of images into the columns of a matrix.

    For images ``x`` of shape ``(batch, channels, rows, cols)`` the output has shape
    ``(channels * kh * kw, batch * out_rows * out_cols)``; its row ``(c, i, j)`` and
    column ``(b, y, x)`` hold ``x_padded[b, c, y * sh + i * dh, x * sw + j * dw]``
    (zero padding of ``padding``; ``sh, sw`` the subsample, ``dh, dw`` the dilation).

    >>> import numpy as np
    >>> op = Im2Col((2, 2))
    >>> x = pt.tensor4('x')
    >>> op(x).eval({x: np.arange(9.).reshape(1, 1, 3, 3)}).astype(int).tolist()
    [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
    """

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        if x.ndim != 4:
            raise ValueError(f"Im2Col: expected a 4D input, found ndim={x.ndim}")
        batch, channels, rows, cols = x.type.shape
        out_rows, out_cols = self.output_hw(rows, cols)
        kh, kw = self.kernel_shape
        n_rows = None if channels is None else channels * kh * kw
        n_cols = (None if None in (batch, out_rows, out_cols)
                  else batch * out_rows * out_cols)
        if out_rows is not None and out_rows <= 0 or out_cols is not None and out_cols <= 0:
            raise ValueError(
                f"Im2Col: the (dilated) filter {self.kernel_shape} does not fit in the "
                f"padded input of size {(rows, cols)} with padding {self.padding}"
            )
        return Apply(self, [x], [pt.tensor(dtype=x.dtype, shape=(n_rows, n_cols))])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        out_hw = self.output_hw(*x.shape[2:])
        if min(out_hw) <= 0:
            raise ValueError(
                f"Im2Col: the (dilated) filter {self.kernel_shape} does not fit in the "
                f"padded input of shape {x.shape} with padding {self.padding}"
            )
        batch, channels = x.shape[:2]
        padded = np.zeros(self._padded_shape(x.shape), dtype=x.dtype)
        padded[self._crop(x.shape)] = x
        kh, kw = self.kernel_shape
        columns = np.empty((channels, kh, kw, batch) + tuple(out_hw), dtype=x.dtype)
        for i, j, (rows, cols) in self._window_slices(out_hw):
            columns[:, i, j] = padded[:, :, rows, cols].transpose(1, 0, 2, 3)
        outputs[0][0] = columns.reshape(channels * kh * kw, -1)

    def infer_shape(self, fgraph, node, shapes):
        batch, channels, rows, cols = shapes[0]
        out_rows, out_cols = self.output_hw(rows, cols)
        kh, kw = self.kernel_shape
        return [(channels * kh * kw, batch * out_rows * out_cols)]

    def pullback(self, inputs, outputs, output_grads):
        (x,) = inputs
        col2im = Col2Im(self.kernel_shape, self.subsample, self.dilation, self.padding)
        return [col2im(output_grads[0], *[x.shape[i] for i in range(4)])]


class Col2Im(_PatchOp):
    """Scatter-add columns back into images: the adjoint of :class:`Im2Col`.

    Inputs are the columns and the shape ``(batch, channels, rows, cols)`` of the
    images; every entry of the columns is added to the image pixel it was gathered
    from, and entries gathered from the padding are dropped.

    >>> import numpy as np
    >>> cols = pt.matrix('cols')
    >>> Col2Im((2, 2))(cols, 1, 1, 3, 3).eval({cols: np.ones((4, 4))}).astype(int).tolist()
    [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    """

    def make_node(self, columns, batch, channels, rows, cols):
        columns = pt.as_tensor_variable(columns)
        if columns.ndim != 2:
            raise ValueError(f"Col2Im: expected 2D columns, found ndim={columns.ndim}")
        shape = [pt.as_tensor_variable(s) for s in (batch, channels, rows, cols)]
        for s in shape:
            if s.ndim != 0 or not s.dtype.startswith(("int", "uint")):
                raise TypeError(f"Col2Im: image shape entries must be integer scalars, got {s}")
        shape = [pt.cast(s, "int64") for s in shape]
        static = tuple(_static_int(s) for s in shape)
        return Apply(self, [columns, *shape],
                     [pt.tensor(dtype=columns.dtype, shape=static)])

    def perform(self, node, inputs, outputs):
        columns, *shape = inputs
        shape = tuple(int(s) for s in shape)
        out_hw = self.output_hw(*shape[2:])
        kh, kw = self.kernel_shape
        expected = (shape[1] * kh * kw, shape[0] * out_hw[0] * out_hw[1])
        if columns.shape != expected:
            raise ValueError(
                f"Col2Im: columns of shape {columns.shape} do not match images of shape "
                f"{shape} (expected columns of shape {expected})"
            )
        columns = columns.reshape((shape[1], kh, kw, shape[0]) + tuple(out_hw))
        padded = np.zeros(self._padded_shape(shape), dtype=columns.dtype)
        for i, j, (rows, cols) in self._window_slices(out_hw):
            padded[:, :, rows, cols] += columns[:, i, j].transpose(1, 0, 2, 3)
        outputs[0][0] = np.ascontiguousarray(padded[self._crop(shape)])

    def infer_shape(self, fgraph, node, shapes):
        return [tuple(node.inputs[1:])]

    def connection_pattern(self, node):
        return [[True], [False], [False], [False], [False]]

    def pullback(self, inputs, outputs, output_grads):
        im2col = Im2Col(self.kernel_shape, self.subsample, self.dilation, self.padding)
        return [im2col(output_grads[0])] + [DisconnectedType()() for _ in range(4)]


def _filter_size(filters, filter_shape, unshared):
    """The static (rows, cols) of the filters, from `filter_shape`, the type or the value."""
    ndim = 6 if unshared else 4
    for shape in (filter_shape, filters.type.shape):
        if shape is not None and len(shape) == ndim and all(
                isinstance(s, numbers.Integral) for s in shape[-2:]):
            return tuple(int(s) for s in shape[-2:])
    if hasattr(filters, "get_value"):
        return tuple(filters.get_value(borrow=True).shape[-2:])
    raise ValueError(
        "conv2d: the filter rows and columns must be known when the graph is built: pass "
        "filter_shape (or filters with a static shape)"
    )


def _check_4d(variable, what, ndim=4):
    if variable.ndim != ndim:
        raise ValueError(
            f"conv2d: expected {what} with ndim={ndim}, found ndim={variable.ndim} "
            f"(static shape received: {variable.type.shape})"
        )


def _prepare(input, filters, filter_shape, border_mode, subsample, filter_dilation,
             num_groups, unshared):
    """Common argument checking of :func:`conv2d` and :func:`conv2d_transpose`."""
    input = pt.as_tensor_variable(input)
    filters = filters if isinstance(filters, Variable) else pt.as_tensor_variable(filters)
    _check_4d(input, "input")
    _check_4d(filters, "filters", 6 if unshared else 4)
    kernel = _filter_size(filters, filter_shape, unshared)
    dilation = _pair(filter_dilation, "filter_dilation")
    stride = _pair(subsample, "subsample")
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1:
        raise ValueError(f"conv2d: num_groups must be a positive int, got {num_groups!r}")
    padding = normalize_border_mode(border_mode, kernel, dilation)
    return input, filters, Im2Col(kernel, stride, dilation, padding)


def _flip(filters, filter_flip):
    return filters[..., ::-1, ::-1] if filter_flip else filters


def _check_groups(num_groups, **sizes):
    for what, size in sizes.items():
        if size is not None and size % num_groups:
            raise ValueError(
                f"conv2d: {what} ({size}) is not divisible by num_groups ({num_groups})"
            )


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False, **kwargs):
    """Convolve a batch of multi-channel images with a set of filters.

    Parameters
    ----------
    input : 4D tensor
        Images, ``(batch, input channels, rows, columns)``.
    filters : 4D or 6D tensor
        ``(output channels, input channels / num_groups, filter rows, filter columns)``,
        or for unshared filters ``(output channels, output rows, output columns,
        input channels / num_groups, filter rows, filter columns)``.
    input_shape, filter_shape : tuple, optional
        Known shapes (None for unknown entries); the filter rows and columns must be
        known, from `filter_shape` or from the filters. ``image_shape`` is an alias of
        `input_shape`.
    border_mode : str, int or tuple
        See :func:`normalize_border_mode`.
    subsample : pair of int
        Strides.
    filter_flip : bool
        Flip the filters (a true convolution, the default); ``False`` gives a
        cross-correlation.
    filter_dilation : pair of int
        Spacing between filter taps.
    num_groups : int
        Split the channels into groups convolved separately.
    unshared : bool
        A different filter for every output position (locally connected).
    **kwargs
        Accepted for compatibility and ignored.

    Returns
    -------
    4D tensor ``(batch, output channels, output rows, output columns)``.

    Examples
    --------
    >>> import numpy as np
    >>> x, w = pt.tensor4('x'), pt.tensor4('w')
    >>> y = conv2d(x, w, filter_shape=(1, 1, 2, 2), filter_flip=False)
    >>> y.eval({x: np.arange(9.).reshape(1, 1, 3, 3),
    ...         w: np.ones((1, 1, 2, 2))}).astype(int).tolist()
    [[[[8, 12], [20, 24]]]]
    """
    input, filters, im2col = _prepare(input, filters, filter_shape, border_mode, subsample,
                                      filter_dilation, num_groups, unshared)
    groups = int(num_groups)
    channels, n_filters = input.type.shape[1], filters.type.shape[0]
    _check_groups(groups, **{"input channels": channels, "output channels": n_filters})
    expected = filters.type.shape[-3]
    if channels is not None and expected is not None and channels != expected * groups:
        raise ValueError(
            f"conv2d: the input has {channels} channels but the filters expect "
            f"{expected * groups} ({expected} per group, {groups} group(s))"
        )
    if unshared:
        static_hw = im2col.output_hw(*input.type.shape[2:])
        if None not in static_hw and None not in filters.type.shape[1:3] \
                and tuple(filters.type.shape[1:3]) != static_hw:
            raise ValueError(
                f"conv2d: unshared filters for an output of {filters.type.shape[1:3]} "
                f"pixels, but the output has {static_hw}"
            )
    columns = im2col(input)
    batch = input.shape[0]
    out_rows, out_cols = im2col.output_hw(input.shape[2], input.shape[3])
    filters = _flip(filters, filter_flip)
    n_filters = filters.shape[0]
    if unshared:
        # One product per output position: (pixels, batch, taps) x (pixels, taps, filters).
        taps = columns.reshape((groups, -1, batch, out_rows * out_cols)).dimshuffle(0, 3, 2, 1)
        weights = filters.reshape((groups, n_filters // groups, out_rows * out_cols, -1))
        out = pt.matmul(taps, weights.dimshuffle(0, 2, 3, 1))  # groups, pixels, batch, filt
        out = out.dimshuffle(2, 0, 3, 1)
        return out.reshape((batch, n_filters, out_rows, out_cols))
    if groups == 1:
        out = pt.dot(filters.reshape((n_filters, -1)), columns)
    else:
        weights = filters.reshape((groups, n_filters // groups, -1))
        out = pt.matmul(weights, columns.reshape((groups, -1, columns.shape[1])))
    out = out.reshape((n_filters, batch, out_rows, out_cols))
    return out.dimshuffle(1, 0, 2, 3)


def conv2d_transpose(input, filters, output_size, filter_shape=None, border_mode="valid",
                     subsample=(1, 1), filter_flip=True, filter_dilation=(1, 1), num_groups=1,
                     unshared=False):
    """The transpose (adjoint) of :func:`conv2d` with the same filters.

    `input` has the shape of an output of :func:`conv2d` and the result the shape of its
    input: ``(batch, filters.shape[1] * num_groups) + output_size``. For any ``x`` and
    ``y``, ``sum(conv2d(x, w) * y) == sum(x * conv2d_transpose(y, w, x_size))``.

    Parameters
    ----------
    output_size : pair of int or symbolic scalars
        Rows and columns of the result (the image of the corresponding convolution).

    Examples
    --------
    >>> import numpy as np
    >>> y, w = pt.tensor4('y'), pt.tensor4('w')
    >>> x = conv2d_transpose(y, w, (3, 3), filter_shape=(1, 1, 2, 2))
    >>> x.eval({y: np.ones((1, 1, 2, 2)), w: np.ones((1, 1, 2, 2))}).astype(int).tolist()
    [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    """
    input, filters, im2col = _prepare(input, filters, filter_shape, border_mode, subsample,
                                      filter_dilation, num_groups, unshared)
    groups = int(num_groups)
    n_filters, in_rows, in_cols = input.type.shape[1], *input.type.shape[2:]
    _check_groups(groups, **{"input channels": n_filters})
    if filters.type.shape[0] is not None and n_filters is not None \
            and filters.type.shape[0] != n_filters:
        raise ValueError(
            f"conv2d_transpose: the input has {n_filters} channels but the filters have "
            f"{filters.type.shape[0]} output channels"
        )
    rows, cols = output_size
    static_rows, static_cols = _static_int(rows), _static_int(cols)
    if None not in (static_rows, static_cols, in_rows, in_cols):
        fitted = im2col.output_hw(static_rows, static_cols)
        if fitted != (in_rows, in_cols):
            raise ValueError(
                f"conv2d_transpose: an image of size {(static_rows, static_cols)} convolves "
                f"to size {fitted}, not to the input's {(in_rows, in_cols)}"
            )
    batch = input.shape[0]
    filters = _flip(filters, filter_flip)
    channels = filters.shape[-3] * groups
    n_filters = filters.shape[0]
    pixels = input.shape[2] * input.shape[3]
    if unshared:
        grads = input.reshape((batch, groups, n_filters // groups, pixels))
        grads = grads.dimshuffle(1, 3, 0, 2)  # groups, pixels, batch, filters
        weights = filters.reshape((groups, n_filters // groups, pixels, -1))
        columns = pt.matmul(grads, weights.dimshuffle(0, 2, 1, 3))  # g, pix, batch, taps
        columns = columns.dimshuffle(0, 3, 2, 1).reshape((-1, batch * pixels))
    else:
        grads = input.dimshuffle(1, 0, 2, 3).reshape((n_filters, -1))
        if groups == 1:
            columns = pt.dot(filters.reshape((n_filters, -1)).T, grads)
        else:
            weights = filters.reshape((groups, n_filters // groups, -1))
            columns = pt.matmul(weights.dimshuffle(0, 2, 1),
                                grads.reshape((groups, -1, grads.shape[1])))
            columns = columns.reshape((-1, grads.shape[1]))
    col2im = Col2Im(im2col.kernel_shape, im2col.subsample, im2col.dilation, im2col.padding)
    return col2im(columns, batch, channels, rows, cols)


