"""Max and average pooling over the last two axes, with exact gradients.

:class:`Pool` computes the pooling; :class:`MaxPoolGrad`, :class:`AvgPoolGrad` and
:class:`MaxPoolGradGrad` its gradient and the gradient of that, so that the ops can be
differentiated any number of times. Every op has a NumPy implementation (Python
linker) and Numba kernels registered with PyTensor's Numba backend.

Windows start every ``stride`` pixels from ``-padding``. A window is clipped to the
padded image; the padding never wins a maximum and counts in an average only in mode
``'average_inc_pad'``. With ``ignore_border=False`` the last windows may reach past
the image and are clipped to it (then padding must be zero). As in Theano, the
gradient of a maximum goes to every input equal to it.
"""

import numbers

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = [
    "Pool", "MaxPoolGrad", "AvgPoolGrad", "MaxPoolGradGrad", "pool_2d", "pool_output_length",
    "MODES",
]

#: The pooling modes.
MODES = ("max", "average_inc_pad", "average_exc_pad")


def pool_output_length(size, pool, stride, padding, ignore_border):
    """Number of windows along an axis of `size` pixels (None if `size` is None).

    `size` may be symbolic.

    >>> pool_output_length(5, 2, 2, 0, True), pool_output_length(5, 2, 2, 0, False)
    (2, 3)
    >>> pool_output_length(5, 3, 1, 1, True)
    5
    """
    if size is None:
        return None
    padded = size + 2 * padding
    if ignore_border:
        return (padded - pool) // stride + 1
    if stride >= pool:
        return (padded - 1) // stride + 1
    last_start = (padded - 1 - pool + stride) // stride
    if isinstance(last_start, numbers.Integral):
        return max(0, last_start) + 1
    return pt.maximum(0, last_start) + 1


class _PoolBase(Op):
    """The geometry shared by the pooling ops."""

    __props__ = ("ws", "stride", "padding", "ignore_border", "mode")

    def __init__(self, ws, stride=None, padding=(0, 0), ignore_border=True, mode="max"):
        self.ws = tuple(int(w) for w in ws)
        self.stride = self.ws if stride is None else tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)
        self.ignore_border = bool(ignore_border)
        self.mode = mode
        if mode not in MODES:
            raise ValueError(f"pooling mode: expected one of {MODES}, got {mode!r}")
        for what, value, low in (("ws", self.ws, 1), ("stride", self.stride, 1),
                                 ("padding", self.padding, 0)):
            if len(value) != 2 or min(value) < low:
                raise ValueError(
                    f"pooling {what}: expected two ints >= {low}, got {value!r}"
                )
        if any(p >= w for p, w in zip(self.padding, self.ws)):
            raise ValueError(
                f"pooling padding {self.padding} must be smaller than the pooling size "
                f"{self.ws}"
            )
        if any(self.padding) and not self.ignore_border:
            raise ValueError("pooling with padding requires ignore_border=True")

    def output_hw(self, rows, cols):
        return tuple(
            pool_output_length(size, w, s, p, self.ignore_border)
            for size, w, s, p in zip((rows, cols), self.ws, self.stride, self.padding)
        )

    def _check_input(self, x):
        x = pt.as_tensor_variable(x)
        if x.ndim < 2:
            raise ValueError(
                f"{type(self).__name__}: expected ndim >= 2, found ndim={x.ndim}"
            )
        return x

    def _check_fits(self, shape):
        out_hw = self.output_hw(*shape[-2:])
        if None not in out_hw and min(out_hw) <= 0:
            raise ValueError(
                f"{type(self).__name__}: the pooling region {self.ws} is larger than the "
                f"padded image ({shape[-2:]} with padding {self.padding})"
            )
        return out_hw

    def _extended(self, x, fill):
        """`x` placed in an array covering every window, the rest set to `fill`."""
        out_hw = self.output_hw(*x.shape[-2:])
        extent = [(o - 1) * s + w for o, s, w in zip(out_hw, self.stride, self.ws)]
        extent = [max(e, size + 2 * p)
                  for e, size, p in zip(extent, x.shape[-2:], self.padding)]
        ext = np.full(x.shape[:-2] + tuple(extent), fill, dtype=x.dtype)
        ext[self._inside(x.shape)] = x
        return ext, out_hw

    def _inside(self, shape):
        (ph, pw), (h, w) = self.padding, shape[-2:]
        return (Ellipsis, slice(ph, ph + h), slice(pw, pw + w))

    def _taps(self, out_hw):
        (wh, ww), (sh, sw), (oh, ow) = self.ws, self.stride, out_hw
        for i in range(wh):
            for j in range(ww):
                yield (Ellipsis, slice(i, i + (oh - 1) * sh + 1, sh),
                       slice(j, j + (ow - 1) * sw + 1, sw))

    def _counts(self, shape):
        """The divisor of every window of an average."""
        rows, cols = shape[-2:]
        ext, out_hw = self._extended(np.ones((rows, cols)), 0.0)
        if self.mode == "average_inc_pad":
            ext[: rows + 2 * self.padding[0], : cols + 2 * self.padding[1]] = 1.0
        return sum(ext[tap] for tap in self._taps(out_hw))

    def _pool_numpy(self, x):
        if self.mode == "max":
            fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            ext, out_hw = self._extended(x, fill)
            taps = [ext[tap] for tap in self._taps(out_hw)]
            return np.maximum.reduce(taps)
        ext, out_hw = self._extended(x, 0)
        total = sum(ext[tap] for tap in self._taps(out_hw))
        return (total / self._counts(x.shape)).astype(x.dtype)

    def _max_masks(self, x, maxout):
        """Per tap: the extended-array slice and where the input equals the maximum."""
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        ext, out_hw = self._extended(x, fill)
        for tap in self._taps(out_hw):
            yield tap, ext[tap] == maxout

    def _output_type(self, x):
        rows, cols = self._check_fits(x.type.shape)
        return pt.tensor(dtype=x.dtype, shape=x.type.shape[:-2] + (rows, cols))

    def _infer_pooled(self, shape):
        return tuple(shape[:-2]) + self.output_hw(*shape[-2:])


class Pool(_PoolBase):
    """Pool the last two axes of a tensor of ``ndim >= 2``.

    Parameters
    ----------
    ws : pair of int
        Window rows and columns.
    stride : pair of int, optional
        Distance between windows; `ws` by default.
    padding : pair of int
        Zero padding of the top and bottom rows, and of the left and right columns;
        smaller than `ws`.
    ignore_border : bool
        Drop the windows that reach past the (padded) image, rather than clip them.
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}

    >>> import numpy as np
    >>> x = pt.matrix('x')
    >>> Pool((2, 2))(x).eval({x: np.arange(16.).reshape(4, 4)}).tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """

    def make_node(self, x):
        x = self._check_input(x)
        return Apply(self, [x], [self._output_type(x)])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        self._check_fits(x.shape)
        outputs[0][0] = self._pool_numpy(x)

    def infer_shape(self, fgraph, node, shapes):
        return [self._infer_pooled(shapes[0])]

    def pullback(self, inputs, outputs, output_grads):
        (x,), (out,), (gz,) = inputs, outputs, output_grads
        if self.mode == "max":
            return [MaxPoolGrad(**self._props_dict())(x, out, gz)]
        return [AvgPoolGrad(**self._props_dict())(x, gz)]


class MaxPoolGrad(_PoolBase):
    """Gradient of max pooling: ``(x, maxout, gz) -> gx``.

    Each window passes its output gradient to every input equal to its maximum.
    """

    def make_node(self, x, maxout, gz):
        x = self._check_input(x)
        maxout, gz = pt.as_tensor_variable(maxout), pt.as_tensor_variable(gz)
        return Apply(self, [x, maxout, gz], [x.type()])

    def perform(self, node, inputs, outputs):
        x, maxout, gz = inputs
        ext, out_hw = self._extended(np.zeros_like(x), 0)
        for tap, mask in self._max_masks(x, maxout):
            ext[tap] += mask * gz
        outputs[0][0] = np.ascontiguousarray(ext[self._inside(x.shape)])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, output_grads):
        x, maxout, _ = inputs
        return [pt.zeros_like(x), pt.zeros_like(maxout),
                MaxPoolGradGrad(**self._props_dict())(x, maxout, output_grads[0])]


class MaxPoolGradGrad(_PoolBase):
    """The adjoint of :class:`MaxPoolGrad` in its last input: ``(x, maxout, ggx) -> ggz``.

    Each window sums ``ggx`` over the inputs equal to its maximum.
    """

    def make_node(self, x, maxout, ggx):
        x = self._check_input(x)
        maxout, ggx = pt.as_tensor_variable(maxout), pt.as_tensor_variable(ggx)
        return Apply(self, [x, maxout, ggx], [maxout.type()])

    def perform(self, node, inputs, outputs):
        x, maxout, ggx = inputs
        ggx_ext, _ = self._extended(ggx, 0)
        total = np.zeros_like(maxout)
        for tap, mask in self._max_masks(x, maxout):
            total += mask * ggx_ext[tap]
        outputs[0][0] = total

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1]]

    def pullback(self, inputs, outputs, output_grads):
        x, maxout, _ = inputs
        return [pt.zeros_like(x), pt.zeros_like(maxout),
                MaxPoolGrad(**self._props_dict())(x, maxout, output_grads[0])]


class AvgPoolGrad(_PoolBase):
    """Gradient of average pooling: ``(x, gz) -> gx`` (only the shape of `x` is used)."""

    def make_node(self, x, gz):
        x = self._check_input(x)
        return Apply(self, [x, pt.as_tensor_variable(gz)], [x.type()])

    def perform(self, node, inputs, outputs):
        x, gz = inputs
        ext, out_hw = self._extended(np.zeros_like(x), 0)
        share = gz / self._counts(x.shape)
        for tap in self._taps(out_hw):
            ext[tap] += share
        outputs[0][0] = np.ascontiguousarray(ext[self._inside(x.shape)])

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def connection_pattern(self, node):
        return [[False], [True]]

    def pullback(self, inputs, outputs, output_grads):
        from pytensor.gradient import DisconnectedType
        return [DisconnectedType()(), Pool(**self._props_dict())(output_grads[0])]


def pool_2d(input, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
    """Pool the last two axes of `input` (Theano's ``pool_2d`` signature).

    >>> import numpy as np
    >>> x = pt.matrix('x')
    >>> pool_2d(x, (2, 2), mode='average_exc_pad').eval(
    ...     {x: np.arange(16.).reshape(4, 4)}).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    return Pool(ws, stride, pad, ignore_border, mode)(input)


