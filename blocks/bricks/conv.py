"""Convolutional bricks: convolution, its transpose, pooling, flattening, and sequences.

Images are 4D tensors ``(batch, channels, rows, columns)``. The convolution itself is
:func:`blocks.ops.conv.op.conv2d` (im2col plus one matrix product, with exact
gradients) and the pooling :class:`blocks.ops.pool.op.Pool`.
"""


import pytensor.tensor as pt

from blocks.bricks.base import Brick, NoneAllocation, application, describe, lazy
from blocks.bricks.interfaces import Activation, Feedforward, Initializable, LinearLike
from blocks.bricks.sequences import Sequence
from blocks.bricks.validation import (
    IMAGE_SHAPE,
    PAIR_OF_NON_NEGATIVE_INTEGERS,
    PAIR_OF_POSITIVE_INTEGERS,
    PAIR_OF_SIZES,
    POSITIVE_INTEGER,
    check_argument,
)
from blocks.ops.conv.op import (
    conv2d,
    conv2d_transpose,
    conv_output_shape,
    normalize_border_mode,
)
from blocks.ops.pool.op import Pool
from blocks.roles import BIAS, FILTER
from blocks.utils import check_variable

__all__ = [
    "Convolutional", "ConvolutionalTranspose", "ConvolutionalSequence", "Flattener",
    "Pooling", "MaxPooling", "AveragePooling",
]



def _pair(brick, argument):
    """The attribute `argument` of `brick`, a pair, as a tuple of ints (None where unknown).

    The attribute is checked by the brick's ``argument_checks`` (it may have changed in
    place since it was set); one that is not set at all is refused here.
    """
    value = getattr(brick, argument)
    check_argument(brick, argument, value)
    if value is None or value is NoneAllocation:
        raise ValueError(f"{describe(brick)}: {argument} is not set")
    return tuple(None if v is None else int(v) for v in value)


def _check_images(brick, input_, channels, image_size, argument="input_"):
    """Refuse an input that is not 4D or whose channels or size contradict the brick's.

    Returns the input with the known sizes specified in its type (checked at run time
    when they were unknown when the graph was built).
    """
    check_variable(input_, 4, owner=describe(brick), argument=argument)
    static = input_.type.shape
    expected = (None, channels) + tuple(image_size)
    for axis, (found, wanted) in enumerate(zip(static, expected)):
        if found is not None and wanted is not None and found != wanted:
            what = "channels (num_channels)" if axis == 1 else "rows and columns (image_size)"
            raise ValueError(
                f"{describe(brick)}: argument {argument!r}: expected {expected[1:]} for "
                f"{what} after the batch axis, found shape {static[1:]}"
            )
    if any(w is not None for w in expected):
        input_ = pt.specify_shape(input_, tuple(
            w if w is not None else f for w, f in zip(expected, static)))
    return input_


class Convolutional(LinearLike):
    """Performs a 2D convolution.

    Parameters
    ----------
    filter_size : tuple
        The height and width of the filter (also called kernels).
    num_filters : int
        Number of filters per channel.
    num_channels : int
        Number of input channels in the image. For the first layer this is normally 1
        for grayscale images and 3 for color (RGB) images. For subsequent layers this is
        equal to the number of filters output by the previous convolutional layer. The
        filters are pooled over the channels.
    batch_size : int, optional
        Number of examples per batch. If given, the batch axis of the input is checked.
    image_size : tuple, optional
        The height and width of the input (image or feature map). If given, it is
        checked and needed for untied biases.
    step : tuple, optional
        The step (or stride) with which to slide the filters over the image. Defaults
        to (1, 1).
    border_mode : {'valid', 'full', 'half'}, int or tuple, optional
        The border mode to use, see :func:`scipy.signal.convolve2d` and
        :meth:`conv2d_impl` for the others. Defaults to 'valid'.
    tied_biases : bool
        Setting this to ``False`` will untie the biases, yielding a separate bias for
        every location at which the filter is applied. If ``True``, it indicates that
        the biases of every filter in this layer should be shared amongst all
        applications of that filter. Defaults to ``True``.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for the initialization parameters. The
    parameters are ``W`` of shape ``(num_filters, num_channels) + filter_size`` (role
    FILTER) and ``b`` of shape ``(num_filters,)`` with tied biases, ``(num_filters,
    rows, columns)`` of the output otherwise (role BIAS).

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> conv = Convolutional((2, 2), num_filters=3, num_channels=1, image_size=(4, 4),
    ...                      weights_init=Constant(1.), biases_init=Constant(0.))
    >>> conv.initialize()
    >>> conv.get_dim('output')
    (3, 3, 3)
    >>> x = pytensor.tensor.tensor4('x')
    >>> y = conv.apply(x)
    >>> y.name
    'convolutional_apply_output'
    >>> y.eval({x: np.ones((1, 1, 4, 4))})[0, 0].tolist()
    [[4.0, 4.0, 4.0], [4.0, 4.0, 4.0], [4.0, 4.0, 4.0]]
    """

    argument_checks = {
        "filter_size": PAIR_OF_POSITIVE_INTEGERS,
        "num_filters": POSITIVE_INTEGER,
        "num_channels": POSITIVE_INTEGER,
        "batch_size": POSITIVE_INTEGER,
        "image_size": PAIR_OF_SIZES,
        "step": PAIR_OF_POSITIVE_INTEGERS,
    }

    @lazy(allocation=["filter_size", "num_filters", "num_channels"])
    def __init__(self, filter_size, num_filters, num_channels, batch_size=None,
                 image_size=(None, None), step=(1, 1), border_mode="valid", tied_biases=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.filter_size = filter_size
        self.num_filters = num_filters
        self.num_channels = num_channels
        self.batch_size = batch_size
        self.image_size = image_size
        self.step = step
        self.border_mode = border_mode
        self.tied_biases = tied_biases

    # Static helpers, as Blocks exposed them.
    conv2d_impl = staticmethod(conv2d)
    get_output_shape = staticmethod(conv_output_shape)

    @property
    def num_output_channels(self):
        return self.num_filters

    def _filter_shape(self):
        return (self.num_filters, self.num_channels) + tuple(self.filter_size)

    def _geometry(self):
        """Check and return ``(filter_size, step, image_size, padding)``."""
        filter_size = _pair(self, "filter_size")
        step = _pair(self, "step")
        image_size = (None, None) if self.image_size is None else _pair(self, "image_size")
        try:
            padding = normalize_border_mode(self.border_mode, filter_size)
        except ValueError as error:
            raise ValueError(f"{describe(self)}: argument 'border_mode': {error}") from None
        return filter_size, step, image_size, padding

    def _check_fits(self, image_size):
        filter_size, _, _, padding = self._geometry()
        for size, k, pad in zip(image_size, filter_size, padding):
            if size is not None and size + sum(pad) < k:
                raise ValueError(
                    f"{describe(self)}: argument 'filter_size': the filter {filter_size} is "
                    f"larger than the input images {tuple(image_size)} padded by "
                    f"{padding} (border_mode={self.border_mode!r})"
                )

    def _allocate(self):
        self._geometry()
        self.create_parameter("W", self._filter_shape(), FILTER)
        if self.use_bias:
            if self.tied_biases:
                self.create_parameter("b", (self.num_filters,), BIAS)
            else:
                output = self.get_dim("output")
                if None in output:
                    raise ValueError(
                        f"{describe(self)}: Cannot infer bias size without image_size "
                        f"specified (got image_size={self.image_size!r}). Untied biases "
                        f"(tied_biases=False) need the image size; if you use variable "
                        f"image_size, you should use tied_biases=True."
                    )
                self.create_parameter("b", output, BIAS)

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Perform the convolution.

        Parameters
        ----------
        input_ : TensorVariable
            A 4D tensor with the axes representing batch size, number of channels,
            image height, and image width.

        Returns
        -------
        output : TensorVariable
            A 4D tensor of filtered images (feature maps) with dimensions representing
            batch size, number of filters, feature map height, and feature map width.
            The height and width of the feature map depend on the border mode. For
            'valid' it is ``image_size - filter_size + 1`` while for 'full' it is
            ``image_size + filter_size - 1``.
        """
        _, step, image_size, _ = self._geometry()
        input_ = _check_images(self, input_, self.num_channels, image_size)
        self._check_fits(input_.type.shape[2:])
        output = self.conv2d_impl(
            input_, self.W,
            input_shape=(self.batch_size, self.num_channels) + image_size,
            subsample=step, border_mode=self.border_mode,
            filter_shape=self._filter_shape(),
        )
        if self.use_bias:
            if self.tied_biases:
                output = output + self.b.dimshuffle("x", 0, "x", "x")
            else:
                output = output + self.b.dimshuffle("x", 0, 1, 2)
        return output

    def get_dim(self, name):
        if name == "input_":
            return (self.num_channels,) + tuple(self.image_size)
        if name == "output":
            filter_size, step, image_size, _ = self._geometry()
            self._check_fits(image_size)
            shape = self.get_output_shape(
                (self.batch_size, self.num_channels) + image_size, self._filter_shape(),
                self.border_mode, step)
            return shape[1:]
        return super().get_dim(name)


class ConvolutionalTranspose(Convolutional):
    """Performs the transpose of a 2D convolution.

    Parameters
    ----------
    num_filters : int
        Number of filters at the output of the transposed convolution, i.e. the number
        of channels in the corresponding convolution.
    num_channels : int
        Number of channels at the input of the transposed convolution, i.e. the number
        of output filters in the corresponding convolution.
    step : tuple, optional
        The step (or stride) of the corresponding convolution. Defaults to (1, 1).
    image_size : tuple, optional
        Image size of the input to the transposed convolution, i.e. the output of the
        corresponding convolution. Needed to infer ``original_image_size`` when the
        graph is built; without it the output size is computed from the input's shape.
    unused_edge : tuple, optional
        Tuple of pixels added to the inferred height and width of the output image,
        whose values would be ignored in the corresponding forward convolution. Must be
        such that ``0 <= unused_edge[i] < step[i]`` (a larger edge would give the
        forward convolution another output pixel). Ignored if ``original_image_size``
        is specified in the constructor or manually set as an attribute.
    original_image_size : tuple, optional
        The height and width of the image that forms the output of the transpose
        operation, which is the input of the original (nontransposed) convolution. By
        default, this is inferred from image_size to be the size that has each pixel
        of the original image touched by at least one filter application in the
        original convolution.

    Notes
    -----
    See :class:`Convolutional` for the other parameters. The filters ``W`` have the
    shape of those of the corresponding convolution, ``(num_channels, num_filters) +
    filter_size``, and the transposed convolution is its adjoint: for the same ``W``,
    ``sum(conv(x) * y) == sum(x * transpose(y))``.

    By default, original_image_size is inferred from image_size as being the minimum
    size of image that could have produced this output. Let ``hanging[i] =
    original_image_size[i] - image_size[i] * step[i]``. Any value of ``hanging[i]``
    greater than ``filter_size[i] - step[i]`` will result in border pixels that are
    ignored by the original convolution. With this brick, any original_image_size such
    that ``filter_size[i] - step[i] < hanging[i] < filter_size[i]`` for all ``i`` can
    be validly specified. However, no value will be output by the transposed
    convolution itself for these extra hanging border pixels, and they will be
    determined entirely by the bias.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> deconv = ConvolutionalTranspose((3, 3), num_filters=1, num_channels=2,
    ...                                 step=(2, 2), image_size=(2, 2),
    ...                                 weights_init=Constant(1.), biases_init=Constant(0.))
    >>> deconv.original_image_size
    (5, 5)
    >>> deconv.initialize()
    >>> y = pytensor.tensor.tensor4('y')
    >>> deconv.apply(y).eval({y: np.ones((1, 2, 2, 2))})[0, 0, 2].tolist()
    [4.0, 4.0, 8.0, 4.0, 4.0]
    """

    argument_checks = {
        "original_image_size": PAIR_OF_SIZES,
        "unused_edge": PAIR_OF_NON_NEGATIVE_INTEGERS,
    }

    @lazy(allocation=["filter_size", "num_filters", "num_channels"])
    def __init__(self, filter_size, num_filters, num_channels, original_image_size=None,
                 unused_edge=(0, 0), **kwargs):
        super().__init__(filter_size, num_filters, num_channels, **kwargs)
        self.original_image_size = original_image_size
        self.unused_edge = unused_edge

    @property
    def original_image_size(self):
        if self._original_image_size is not None:
            return tuple(self._original_image_size)
        if self.image_size is None or all(size is None for size in self.image_size):
            raise ValueError(
                f"{describe(self)}: can't infer original_image_size, no image_size set "
                f"(give image_size, the size of the images this brick is applied to, or "
                f"original_image_size)")
        filter_size, step, image_size, padding = self._geometry()
        edge = _pair(self, "unused_edge")
        if any(u >= s for u, s in zip(edge, step)):
            raise ValueError(
                f"{describe(self)}: argument 'unused_edge': expected 0 <= unused_edge[i] < "
                f"step[i], got unused_edge={edge} with step={step}"
            )
        return tuple(
            None if size is None else (size - 1) * s + k - sum(pad) + u
            for size, s, k, pad, u in zip(image_size, step, filter_size, padding, edge)
        )

    @original_image_size.setter
    def original_image_size(self, value):
        self._original_image_size = value

    def _filter_shape(self):
        return (self.num_channels, self.num_filters) + tuple(self.filter_size)

    def _check_fits(self, image_size):
        pass  # Any image size is valid for the transpose.

    def conv2d_impl(self, input_, W, input_shape, subsample, border_mode, filter_shape):
        """The transpose of :func:`~blocks.ops.conv.op.conv2d` with filters `W`.

        The output has ``num_filters`` channels and ``original_image_size`` rows and
        columns (computed from the input's shape where ``image_size`` is unknown).
        """
        padding = normalize_border_mode(border_mode, filter_shape[-2:])
        edge = _pair(self, "unused_edge")
        output_size = [
            (input_.shape[2 + axis] - 1) * s + k - sum(pad) + u if known is None else known
            for axis, (known, s, k, pad, u) in enumerate(zip(
                self.original_image_size, subsample, filter_shape[-2:], padding, edge))
        ]
        try:
            return conv2d_transpose(input_, W, output_size, filter_shape=filter_shape,
                                    border_mode=border_mode, subsample=subsample)
        except ValueError as error:
            raise ValueError(f"{describe(self)}: argument 'original_image_size': {error}") \
                from None

    def get_dim(self, name):
        if name == "output":
            return (self.num_filters,) + self.original_image_size
        return super().get_dim(name)


class Pooling(Initializable, Feedforward):
    """Base Brick for pooling operations.

    This should generally not be instantiated directly; see :class:`MaxPooling` and
    :class:`AveragePooling`.

    Parameters
    ----------
    pooling_size : tuple
        The height and width of the pooling region.
    step : tuple, optional
        The distance between pooling regions; ``pooling_size`` by default.
    input_dim : tuple, optional
        The shape ``(channels, rows, columns)`` of an input example.
    padding : tuple, optional
        Zero padding of rows (top and bottom) and columns (left and right).
    ignore_border : bool, optional
        Drop partial pooling regions at the borders. True by default.
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
    """

    argument_checks = {
        "pooling_size": PAIR_OF_POSITIVE_INTEGERS,
        "step": PAIR_OF_POSITIVE_INTEGERS,
        "input_dim": IMAGE_SHAPE,
        "padding": PAIR_OF_NON_NEGATIVE_INTEGERS,
    }

    has_biases = False

    @lazy(allocation=["pooling_size"])
    def __init__(self, pooling_size, step=None, input_dim=None, padding=None,
                 ignore_border=True, mode="max", **kwargs):
        super().__init__(**kwargs)
        self.pooling_size = pooling_size
        self.step = step
        self.input_dim = input_dim
        self.padding = padding
        self.ignore_border = ignore_border
        self.mode = mode

    @property
    def input_dim(self):
        return self._input_dim

    @input_dim.setter
    def input_dim(self, value):
        self._input_dim = (None, None, None) if value is None else tuple(value)

    @property
    def image_size(self):
        return self.input_dim[-2:]

    @image_size.setter
    def image_size(self, value):
        self.input_dim = self.input_dim[:-2] + tuple(value)

    @property
    def num_channels(self):
        return self.input_dim[0]

    @num_channels.setter
    def num_channels(self, value):
        self.input_dim = (value,) + self.input_dim[1:]

    @property
    def num_output_channels(self):
        return self.num_channels

    def _op(self):
        """The pooling op for this configuration, refusing a bad configuration."""
        size = _pair(self, "pooling_size")
        step = size if self.step is None else _pair(self, "step")
        padding = (0, 0) if self.padding is None else _pair(self, "padding")
        if any(p >= s for p, s in zip(padding, size)):
            raise ValueError(f"{describe(self)}: argument 'padding': expected padding smaller "
                             f"than pooling_size {size}, got {padding}")
        if any(padding) and not self.ignore_border:
            raise ValueError(f"{describe(self)}: argument 'padding': padding {padding} "
                             f"requires ignore_border=True")
        return Pool(size, step, padding, self.ignore_border, self.mode)

    def _output_size(self, image_size):
        op = self._op()
        out = op.output_hw(*image_size)
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"{describe(self)}: argument 'pooling_size': the pooling region {op.ws} is "
                f"larger than the padded image ({tuple(image_size)} with padding "
                f"{op.padding})"
            )
        return out

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        """Apply the pooling (subsampling) transformation.

        Parameters
        ----------
        input_ : TensorVariable
            A tensor with dimension greater or equal to 2. The last two dimensions will
            be downsampled. For example, with images this means that the last two
            dimensions should represent the height and width of your image.

        Returns
        -------
        output : TensorVariable
            A tensor with the same number of dimensions as `input_`, but with the last
            two dimensions downsampled.
        """
        check_variable(input_, range(2, 33), owner=describe(self), argument="input_")
        self._output_size(input_.type.shape[-2:])
        self._output_size(self.image_size)
        return self._op()(input_)

    def get_dim(self, name):
        if name == "input_":
            return self.input_dim
        if name == "output":
            return self.input_dim[:-2] + self._output_size(self.image_size)
        return super().get_dim(name)


class MaxPooling(Pooling):
    """Max pooling layer.

    Parameters
    ----------
    pooling_size : tuple
        The height and width of the pooling region i.e. this is the factor by which
        your input's last two dimensions will be downscaled.
    step : tuple, optional
        The vertical and horizontal shift (stride) between pooling regions. By default
        this is equal to `pooling_size`. Setting this to a lower number results in
        overlapping pooling regions.
    input_dim : tuple, optional
        A tuple of integers representing the shape of the input. The last two
        dimensions will be used to calculate the output dimension.
    padding : tuple, optional
        A tuple of integers representing the vertical and horizontal zero-padding to be
        applied to each of the top and bottom (vertical) and left and right (horizontal)
        edges. For example, an argument of (4, 3) will apply 4 pixels of padding to the
        top edge, 4 pixels of padding to the bottom edge, and 3 pixels each for the left
        and right edge. By default, no padding is performed. Padding never wins a
        maximum, and must be smaller than `pooling_size`.
    ignore_border : bool, optional
        Whether or not to do partial downsampling based on borders where the extent of
        the pooling region reaches beyond the edge of the image. If True, a (5, 5) image
        with (2, 2) pooling regions and (2, 2) step will be downsampled to shape (2, 2),
        otherwise it will be downsampled to (3, 3). True by default. Padding requires
        True.

    Examples
    --------
    >>> pool = MaxPooling((2, 2), input_dim=(1, 5, 5), ignore_border=False)
    >>> pool.get_dim('output')
    (1, 3, 3)
    >>> x = pytensor.tensor.tensor4('x')
    >>> pool.apply(x).eval({x: np.arange(25.).reshape(1, 1, 5, 5)})[0, 0].tolist()
    [[6.0, 8.0, 9.0], [16.0, 18.0, 19.0], [21.0, 23.0, 24.0]]
    """

    @lazy(allocation=["pooling_size"])
    def __init__(self, pooling_size, step=None, input_dim=None, padding=None,
                 ignore_border=True, **kwargs):
        super().__init__(pooling_size, step=step, input_dim=input_dim, padding=padding,
                         ignore_border=ignore_border, mode="max", **kwargs)


class AveragePooling(Pooling):
    """Average pooling layer.

    Parameters
    ----------
    include_padding : bool, optional
        When calculating an average, include zeros that are the result of zero padding
        added by the padding argument. A value of True is only accepted if
        ignore_border is also True. False by default.

    Notes
    -----
    For documentation on the remainder of the arguments to this class, see
    :class:`MaxPooling`.

    Examples
    --------
    >>> pool = AveragePooling((2, 2), padding=(1, 1), include_padding=True)
    >>> x = pytensor.tensor.matrix('x')
    >>> pool.apply(x).eval({x: np.ones((2, 2))}).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """

    @lazy(allocation=["pooling_size"])
    def __init__(self, pooling_size, step=None, input_dim=None, padding=None,
                 ignore_border=True, include_padding=False, **kwargs):
        if include_padding and not ignore_border:
            raise ValueError(
                f"AveragePooling {kwargs.get('name', 'averagepooling')!r}: argument "
                f"'include_padding': True is only accepted with ignore_border=True"
            )
        self.include_padding = include_padding
        mode = "average_inc_pad" if include_padding else "average_exc_pad"
        super().__init__(pooling_size, step=step, input_dim=input_dim, padding=padding,
                         ignore_border=ignore_border, mode=mode, **kwargs)


class Flattener(Brick):
    """Flattens the input.

    It may be used to pass multidimensional objects like images or feature maps of
    convolutional bricks into bricks which allow only two dimensional input (batch,
    features) like MLP.

    >>> x = pytensor.tensor.tensor4('x')
    >>> Flattener().apply(x).eval({x: np.ones((2, 3, 4, 5))}).shape
    (2, 60)
    """

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        check_variable(input_, range(1, 33), owner=describe(self), argument="input_")
        return pt.flatten(input_, ndim=2) if input_.ndim > 1 else input_.dimshuffle(0, "x")


class ConvolutionalSequence(Sequence, Initializable, Feedforward):
    """A sequence of convolutional (or pooling) operations.

    Parameters
    ----------
    layers : list
        List of convolutional bricks (i.e. :class:`Convolutional`,
        :class:`ConvolutionalTranspose`, :class:`Pooling` or batch normalization
        bricks), or application methods from such bricks. :class:`Activation` bricks
        that operate elementwise can also be included.
    num_channels : int
        Number of input channels in the image. For the first layer this is normally 1
        for grayscale images and 3 for color (RGB) images. For subsequent layers this is
        equal to the number of filters output by the previous convolutional layer.
    batch_size : int, optional
        Number of images in batch, pushed to the layers that take it.
    image_size : tuple, optional
        Height and width of the input (image/featuremap).
    border_mode : 'valid', 'full' or None, optional
        The border mode to use, see :func:`scipy.signal.convolve2d` for details. Unlike
        with :class:`Convolutional`, this defaults to None, in which case no default
        value is pushed down to child bricks at allocation time. Child bricks will in
        this case need to rely on either a default border mode (usually valid) or one
        provided at construction and/or after construction (but before allocation).
    tied_biases : bool, optional
        Same meaning as in :class:`Convolutional`. Defaults to ``None``, in which case
        no value is pushed to child :class:`Convolutional` bricks.

    Notes
    -----
    The passed convolutional operators should be 'lazy' constructed, that is, without
    specifying the batch_size, num_channels and image_size. The main feature of
    :class:`ConvolutionalSequence` is that it will set the input dimensions of a layer
    to the output dimensions of the previous layer by the
    :meth:`~blocks.bricks.Brick.push_allocation_config` method.

    The push behaviour of `tied_biases` mirrors that of `use_bias` or any
    initialization configuration: only an explicitly specified value is pushed down the
    hierarchy. `border_mode` also has this behaviour. The reason the `border_mode`
    parameter behaves the way it does is that pushing a single default `border_mode`
    makes it very difficult to have child bricks with different border modes.
    Normally, such things would be overridden after `push_allocation_config()`, but
    this is a particular hassle as the border mode affects the allocation parameters
    of every subsequent child brick in the sequence. Thus, only an explicitly specified
    border mode will be pushed down the hierarchy.

    Examples
    --------
    >>> from blocks.bricks import Rectifier
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> seq = ConvolutionalSequence(
    ...     [Convolutional((5, 5), 4), Rectifier(), MaxPooling((2, 2)),
    ...      Convolutional((3, 3), 6, border_mode='half')],
    ...     num_channels=1, image_size=(28, 28),
    ...     weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> seq.initialize()
    >>> seq.get_dim('output')
    (6, 12, 12)
    >>> x = pytensor.tensor.tensor4('x')
    >>> seq.apply(x).eval({x: np.ones((2, 1, 28, 28))}).shape
    (2, 6, 12, 12)
    """

    argument_checks = {
        "num_channels": POSITIVE_INTEGER,
        "batch_size": POSITIVE_INTEGER,
        "image_size": PAIR_OF_SIZES,
    }

    @lazy(allocation=["num_channels"])
    def __init__(self, layers, num_channels, batch_size=None, image_size=(None, None),
                 border_mode=None, tied_biases=None, **kwargs):
        self.layers = [layer if isinstance(layer, Brick) else layer.brick for layer in layers]
        super().__init__(application_methods=layers, **kwargs)
        self.num_channels = num_channels
        self.batch_size = batch_size
        self.image_size = image_size
        self.border_mode = border_mode
        self.tied_biases = tied_biases

    def _push_allocation_config(self):
        super()._push_allocation_config()
        num_channels = self.num_channels
        image_size = tuple(self.image_size)
        for layer in self.layers:
            if isinstance(layer, Activation):
                continue  # Elementwise: sizes pass through.
            if isinstance(layer, Convolutional):
                if self.border_mode is not None:
                    layer.border_mode = self.border_mode
                if self.tied_biases is not None:
                    layer.tied_biases = self.tied_biases
            if hasattr(layer, "batch_size"):
                layer.batch_size = self.batch_size
            if not (hasattr(layer, "num_channels") and hasattr(layer, "image_size")):
                raise ValueError(
                    f"{describe(self)}: layer {type(layer).__name__} {layer.name!r} has no "
                    f"num_channels and image_size to configure (expected convolutional, "
                    f"pooling, batch normalization or elementwise activation bricks)"
                )
            layer.num_channels = num_channels
            layer.image_size = image_size
            layer.push_allocation_config()
            output = layer.get_dim("output")
            image_size = tuple(output[1:])
            num_channels = layer.num_output_channels

    def _last_layer_with_dims(self):
        for layer in reversed(self.layers):
            if not isinstance(layer, Activation):
                return layer
        return None

    @property
    def num_output_channels(self):
        layer = self._last_layer_with_dims()
        return self.num_channels if layer is None else layer.num_output_channels

    def get_dim(self, name):
        if name == "input_":
            return (self.num_channels,) + tuple(self.image_size)
        if name == "output":
            layer = self._last_layer_with_dims()
            return self.get_dim("input_") if layer is None else layer.get_dim("output")
        return super().get_dim(name)
