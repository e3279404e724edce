"""Convolution, transposed convolution and pooling: ops and bricks against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from scipy.signal import correlate2d

from blocks.bricks import Rectifier
from blocks.bricks.conv import (
    AveragePooling,
    Convolutional,
    ConvolutionalSequence,
    ConvolutionalTranspose,
    Flattener,
    MaxPooling,
    Pooling,
)
from blocks.initialization import Constant, IsotropicGaussian
from blocks.ops.conv.op import (
    Col2Im,
    Im2Col,
    conv2d,
    conv2d_transpose,
    conv_output_shape,
    normalize_border_mode,
)
from blocks.ops.pool.op import Pool
from blocks.roles import BIAS, FILTER, has_roles

RNG = np.random.default_rng(1234)


def randn(*shape):
    return RNG.standard_normal(shape)


# Independent numpy references ---------------------------------------------------------


def ref_conv(x, w, padding, stride=(1, 1), dilation=(1, 1), groups=1, flip=True,
             unshared=False):
    """Convolution by scipy's correlate2d on zero-padded images with dilated filters."""
    if flip:
        w = w[..., ::-1, ::-1]
    (top, bottom), (left, right) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = w.shape[-2:]
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    batch, channels = x.shape[:2]
    n_filters = w.shape[0]
    cg, fg = channels // groups, n_filters // groups
    out_h = (xp.shape[2] - eh) // stride[0] + 1
    out_w = (xp.shape[3] - ew) // stride[1] + 1
    out = np.zeros((batch, n_filters, out_h, out_w))
    if unshared:
        for b in range(batch):
            for f in range(n_filters):
                g = f // fg
                for y in range(out_h):
                    for z in range(out_w):
                        patch = xp[b, g * cg:(g + 1) * cg,
                                   y * stride[0]:y * stride[0] + eh:dilation[0],
                                   z * stride[1]:z * stride[1] + ew:dilation[1]]
                        out[b, f, y, z] = np.sum(patch * w[f, y, z])
        return out
    dilated = np.zeros(w.shape[:2] + (eh, ew))
    dilated[:, :, ::dilation[0], ::dilation[1]] = w
    for b in range(batch):
        for f in range(n_filters):
            g = f // fg
            for c in range(cg):
                full = correlate2d(xp[b, g * cg + c], dilated[f, c], mode="valid")
                out[b, f] += full[::stride[0], ::stride[1]][:out_h, :out_w]
    return out


def ref_pool(x, ws, stride, padding, ignore_border, mode):
    """Pooling by explicit loops over windows, following the definitions directly."""
    def starts(size, w, s, p):
        if ignore_border:
            return [k * s - p for k in range((size + 2 * p - w) // s + 1)]
        # Keep adding windows until one has reached the last pixel.
        result = [0]
        while result[-1] + w < size and result[-1] + s < size:
            result.append(result[-1] + s)
        return result

    rows = starts(x.shape[-2], ws[0], stride[0], padding[0])
    cols = starts(x.shape[-1], ws[1], stride[1], padding[1])
    out = np.zeros(x.shape[:-2] + (len(rows), len(cols)))
    height, width = x.shape[-2:]
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            r0, r1 = max(r, 0), min(r + ws[0], height)
            c0, c1 = max(c, 0), min(c + ws[1], width)
            window = x[..., r0:r1, c0:c1]
            if mode == "max":
                out[..., i, j] = window.max(axis=(-2, -1))
            elif mode == "average_exc_pad":
                out[..., i, j] = window.mean(axis=(-2, -1))
            else:
                inc_r = min(r + ws[0], height + padding[0]) - r
                inc_c = min(c + ws[1], width + padding[1]) - c
                out[..., i, j] = window.sum(axis=(-2, -1)) / (inc_r * inc_c)
    return out


# conv2d ---------------------------------------------------------------------------------

CONV_CASES = [
    # border_mode, subsample, dilation, groups, flip
    ("valid", (1, 1), (1, 1), 1, True),
    ("full", (1, 1), (1, 1), 1, True),
    ("half", (1, 1), (1, 1), 1, False),
    (1, (2, 1), (1, 1), 1, True),
    ((2, 1), (1, 2), (1, 1), 1, True),
    ((1, (0, 2)), (1, 1), (1, 1), 1, True),
    (((2, 0), 1), (2, 2), (1, 1), 1, False),
    ("valid", (1, 1), (2, 1), 1, True),
    ("half", (2, 1), (2, 2), 1, True),
    ("full", (1, 1), (1, 2), 1, False),
    ("valid", (1, 1), (1, 1), 2, True),
    ((1, 2), (2, 1), (2, 1), 2, True),
]


@pytest.fixture(scope="module")
def images():
    return randn(2, 4, 7, 6)


@pytest.mark.parametrize("border_mode, subsample, dilation, groups, flip", CONV_CASES)
def test_conv2d_matches_scipy(images, border_mode, subsample, dilation, groups, flip):
    w = randn(6, 4 // groups, 3, 2)
    x_var, w_var = pt.tensor4("x"), pt.tensor4("w")
    y = conv2d(x_var, w_var, filter_shape=w.shape, border_mode=border_mode,
               subsample=subsample, filter_flip=flip, filter_dilation=dilation,
               num_groups=groups)
    padding = normalize_border_mode(border_mode, (3, 2), dilation)
    expected = ref_conv(images, w, padding, subsample, dilation, groups, flip)
    result = y.eval({x_var: images, w_var: w})
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-10)
    static = conv_output_shape(images.shape, w.shape, border_mode, subsample, dilation)
    assert static == expected.shape


@pytest.mark.parametrize("groups, border_mode, subsample", [
    (1, "valid", (1, 1)), (2, (1, (0, 1)), (2, 1))])
def test_unshared_conv2d_matches_loops(images, groups, border_mode, subsample):
    padding = normalize_border_mode(border_mode, (2, 3))
    out_h = (7 + sum(padding[0]) - 2) // subsample[0] + 1
    out_w = (6 + sum(padding[1]) - 3) // subsample[1] + 1
    w = randn(4, out_h, out_w, 4 // groups, 2, 3)
    x_var, w_var = pt.tensor4("x"), pt.tensor("w", shape=(None,) * 6)
    y = conv2d(x_var, w_var, filter_shape=w.shape, border_mode=border_mode,
               subsample=subsample, num_groups=groups, unshared=True)
    expected = ref_conv(images, w, padding, subsample, groups=groups, unshared=True)
    np.testing.assert_allclose(y.eval({x_var: images, w_var: w}), expected, rtol=1e-10)


def test_filter_size_comes_from_shared_value():
    w = pytensor.shared(randn(2, 1, 2, 2))
    x_var = pt.tensor4("x")
    x = randn(1, 1, 3, 3)
    expected = ref_conv(x, w.get_value(), ((0, 0), (0, 0)))
    np.testing.assert_allclose(conv2d(x_var, w).eval({x_var: x}), expected)


def test_conv_output_shape_unknown_and_unshared():
    assert conv_output_shape((None, 3, None, 9), (5, 3, 3, 3), "full", (1, 2)) == (
        None, 5, None, 6)
    assert conv_output_shape((2, 3, 8, 8), (5, 6, 6, 3, 3, 3), "valid", (1, 1)) == (
        2, 5, 6, 6)
    size = pt.iscalar("size")
    rows = conv_output_shape((1, 1, size, 4), (1, 1, 3, 3), "valid", (1, 1))[2]
    assert rows.eval({size: 10}) == 8


@pytest.mark.parametrize("unshared, groups", [(False, 1), (False, 2), (True, 2)])
def test_conv2d_gradients(unshared, groups):
    x = randn(2, 2, 5, 4)
    kwargs = dict(border_mode=(1, (0, 1)), subsample=(2, 1), filter_dilation=(1, 2),
                  num_groups=groups, unshared=unshared)
    shape = (2, 3, 3, 1, 2, 2) if unshared else (2, 2 // groups, 2, 2)
    w = randn(*shape)
    verify_grad(lambda x_, w_: conv2d(x_, w_, filter_shape=shape, **kwargs),
                [x, w], rng=np.random.default_rng(0))


def test_im2col_col2im_are_adjoint_and_differentiable():
    op_args = ((2, 3), (1, 2), (2, 1), ((1, 0), (2, 1)))
    x = randn(2, 3, 6, 7)
    x_var = pt.tensor4("x")
    columns = Im2Col(*op_args)(x_var).eval({x_var: x})
    assert columns.shape == (3 * 2 * 3, 2 * 5 * 4)
    c = randn(*columns.shape)
    c_var = pt.matrix("c")
    back = Col2Im(*op_args)(c_var, 2, 3, 6, 7).eval({c_var: c})
    np.testing.assert_allclose(np.sum(columns * c), np.sum(x * back))
    verify_grad(lambda c_: Col2Im(*op_args)(c_, 2, 3, 6, 7), [c],
                rng=np.random.default_rng(0))


@pytest.mark.parametrize("border_mode, subsample, dilation, groups, unshared", [
    ("valid", (2, 2), (1, 1), 1, False),
    ("full", (1, 2), (1, 1), 1, False),
    ((1, (2, 0)), (2, 1), (2, 1), 2, False),
    ("half", (1, 1), (1, 1), 1, True),
])
def test_conv2d_transpose_is_adjoint(border_mode, subsample, dilation, groups, unshared):
    x = randn(2, 4, 7, 6)
    padding = normalize_border_mode(border_mode, (3, 2), dilation)
    out_shape = conv_output_shape(x.shape, (2, 4 // groups, 3, 2), border_mode, subsample,
                                  dilation)
    shape = ((2,) + out_shape[2:] + (4 // groups, 3, 2)) if unshared else (2, 4 // groups, 3, 2)
    w = randn(*shape)
    kwargs = dict(filter_shape=shape, border_mode=border_mode, subsample=subsample,
                  filter_dilation=dilation, num_groups=groups, unshared=unshared)
    x_var, y_var = pt.tensor4("x"), pt.tensor4("y")
    w_var = pt.tensor("w", shape=(None,) * len(shape))
    forward = conv2d(x_var, w_var, **kwargs).eval({x_var: x, w_var: w})
    y = randn(*forward.shape)
    back = conv2d_transpose(y_var, w_var, x.shape[2:], **kwargs).eval({y_var: y, w_var: w})
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(forward * y), np.sum(x * back), rtol=1e-10)
    assert padding  # The geometry is the one of the forward convolution.


def test_conv2d_errors():
    x, w = pt.tensor4("x"), pt.tensor4("w")
    with pytest.raises(ValueError, match="filter_shape"):
        conv2d(x, w)
    with pytest.raises(ValueError, match="border_mode"):
        conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode="same")
    with pytest.raises(ValueError, match="border_mode"):
        conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode=(1, -1))
    with pytest.raises(ValueError, match="subsample"):
        conv2d(x, w, filter_shape=(1, 1, 2, 2), subsample=(0, 1))
    with pytest.raises(ValueError, match="num_groups"):
        conv2d(x, w, filter_shape=(1, 1, 2, 2), num_groups=0)
    with pytest.raises(ValueError, match="ndim=4"):
        conv2d(pt.matrix(), w, filter_shape=(1, 1, 2, 2))
    x3 = pt.tensor("x3", shape=(None, 3, 5, 5))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        conv2d(x3, w, filter_shape=(4, 1, 2, 2), num_groups=2)
    with pytest.raises(ValueError, match="filters expect 4"):
        conv2d(x3, pt.tensor("w2", shape=(2, 4, 2, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(pt.tensor("x4", shape=(1, 1, 2, 2)), w, filter_shape=(1, 1, 3, 3))
    with pytest.raises(ValueError, match="convolves to size"):
        conv2d_transpose(pt.tensor("y", shape=(1, 1, 3, 3)), w, (3, 3),
                         filter_shape=(1, 1, 2, 2))
    with pytest.raises(ValueError, match="unshared filters for an output of"):
        conv2d(x3, pt.tensor("w6", shape=(2, 3, 3, 3, 2, 2)), unshared=True)
    col2im = Col2Im((2, 2))(pt.matrix("c"), 1, 1, 3, 3)
    with pytest.raises(ValueError, match="do not match"):
        col2im.eval({col2im.owner.inputs[0]: np.ones((4, 5))})


# pooling ops -----------------------------------------------------------------------------

POOL_CASES = [
    # ws, stride, padding, ignore_border
    ((2, 2), None, (0, 0), True),
    ((2, 2), None, (0, 0), False),
    ((3, 2), (1, 1), (0, 0), False),
    ((3, 3), (2, 1), (0, 0), False),
    ((2, 3), (1, 2), (1, 2), True),
    ((3, 3), (2, 2), (1, 1), True),
]


@pytest.mark.parametrize("mode", ["max", "average_exc_pad", "average_inc_pad"])
@pytest.mark.parametrize("ws, stride, padding, ignore_border", POOL_CASES)
def test_pool_matches_loops(mode, ws, stride, padding, ignore_border):
    x = randn(2, 3, 7, 5)
    x_var = pt.tensor4("x")
    y = Pool(ws, stride, padding, ignore_border, mode)(x_var)
    expected = ref_pool(x, ws, stride or ws, padding, ignore_border, mode)
    result = y.eval({x_var: x})
    assert result.shape == expected.shape
    assert y.type.shape[2:] in ((None, None), expected.shape[2:])
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["max", "average_exc_pad", "average_inc_pad"])
def test_pool_gradients(mode):
    # Distinct values: the maximum is unique in every window.
    x = RNG.permutation(60).reshape(3, 4, 5) / 7.0
    op = Pool((3, 2), (2, 1), (1, 1), True, mode)
    verify_grad(op, [x], rng=np.random.default_rng(0))
    # The gradient is itself differentiable (second order).
    gz = randn(*op(pt.as_tensor(x)).eval().shape)
    verify_grad(lambda gz_: _pool_input_grad(op, x, gz_), [gz],
                rng=np.random.default_rng(0))


def _pool_input_grad(op, x, gz):
    x_var = pt.as_tensor_variable(x)
    return pytensor.grad(pt.sum(op(x_var) * gz), x_var)


def test_max_pool_gradient_goes_to_every_tied_maximum():
    x_var = pt.matrix("x")
    grad = pytensor.grad(Pool((2, 2))(x_var).sum(), x_var)
    assert grad.eval({x_var: np.ones((2, 2))}).tolist() == [[1, 1], [1, 1]]


def test_pool_errors():
    with pytest.raises(ValueError, match="smaller than the pooling size"):
        Pool((2, 2), padding=(2, 0))
    with pytest.raises(ValueError, match="ignore_border=True"):
        Pool((2, 2), padding=(1, 0), ignore_border=False)
    with pytest.raises(ValueError, match="mode"):
        Pool((2, 2), mode="median")
    with pytest.raises(ValueError, match="stride"):
        Pool((2, 2), stride=(0, 1))
    with pytest.raises(ValueError, match="larger than the padded image"):
        Pool((3, 3))(pt.tensor("x", shape=(1, 2, 2)))
    y = Pool((3, 3))(pt.matrix("x"))
    with pytest.raises(ValueError, match="larger than the padded image"):
        y.eval({y.owner.inputs[0]: np.ones((2, 2))})
    with pytest.raises(ValueError, match="ndim >= 2"):
        Pool((2, 2))(pt.vector())


# Numba kernels agree with the NumPy implementations ----------------------------------------


@pytest.mark.numba
def test_numba_kernels_match_python():
    x_var, w_var = pt.tensor4("x"), pt.tensor4("w")
    y = conv2d(x_var, w_var, filter_shape=(3, 2, 3, 2), border_mode=(1, (0, 2)),
               subsample=(2, 1), filter_dilation=(1, 2))
    pooled = Pool((2, 3), (1, 2), (1, 1), True, "max")(y)
    averaged = Pool((2, 2), None, (0, 0), False, "average_exc_pad")(y)
    cost = pt.sum(pooled * pooled) + pt.sum(averaged * averaged)
    outputs = [pooled, averaged] + pytensor.grad(cost, [x_var, w_var])
    x, w = randn(2, 2, 7, 6), randn(3, 2, 3, 2)
    fast = pytensor.function([x_var, w_var], outputs, mode="FAST_COMPILE")(x, w)
    compiled = pytensor.function([x_var, w_var], outputs)(x, w)
    for a, b in zip(fast, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# Bricks ----------------------------------------------------------------------------------


def test_convolutional_tied_and_untied_biases():
    x = randn(2, 3, 6, 5)
    x_var = pt.tensor4("x")
    for tied in (True, False):
        conv = Convolutional((3, 2), 4, 3, image_size=(6, 5), step=(2, 1),
                             border_mode="half", tied_biases=tied,
                             weights_init=IsotropicGaussian(1.0),
                             biases_init=IsotropicGaussian(1.0))
        conv.initialize()
        W, b = conv.parameters
        assert has_roles(W, [FILTER]) and has_roles(b, [BIAS])
        assert W.get_value().shape == (4, 3, 3, 2)
        assert conv.get_dim("output") == (4, 3, 6)  # 'half' with an even filter: one more
        assert b.get_value().shape == ((4,) if tied else (4, 3, 6))
        padding = normalize_border_mode("half", (3, 2))
        bias = b.get_value()[:, None, None] if tied else b.get_value()
        expected = ref_conv(x, W.get_value(), padding, (2, 1)) + bias
        y = conv.apply(x_var)
        assert y.name == "convolutional_apply_output"
        np.testing.assert_allclose(y.eval({x_var: x}), expected, rtol=1e-10)
    assert conv.num_output_channels == 4
    assert conv.get_dim("input_") == (3, 6, 5)
    assert Convolutional.get_output_shape((1, 3, 6, 5), (4, 3, 3, 2), "valid", (1, 1)) == (
        1, 4, 4, 4)


def test_convolutional_without_bias_and_lazy_configuration():
    conv = Convolutional(use_bias=False)
    with pytest.raises(ValueError, match="filter_size, num_filters, num_channels"):
        conv.allocate()
    conv.filter_size, conv.num_filters, conv.num_channels = (2, 2), 1, 1
    conv.weights_init = Constant(1.0)
    conv.initialize()
    assert len(conv.parameters) == 1
    x_var = pt.tensor4("x")
    assert conv.apply(x_var).eval({x_var: np.ones((1, 1, 3, 3))}).sum() == 16


def test_convolutional_errors():
    conv = Convolutional((3, 3), 2, 3, name="conv")
    with pytest.raises(ValueError, match=r"Convolutional 'conv'.*'input_'.*num_channels"):
        conv.apply(pt.tensor("x", shape=(None, 4, 8, 8)))
    with pytest.raises(ValueError, match=r"'conv'.*ndim=4"):
        conv.apply(pt.matrix())
    with pytest.raises(ValueError, match=r"'conv'.*'filter_size'.*larger"):
        conv.apply(pt.tensor("x", shape=(None, 3, 2, 8)))
    with pytest.raises(ValueError, match=r"Convolutional 'conv': step must be a pair of "
                                         r"positive integers, got \(0, 1\)"):
        Convolutional((3, 3), 2, 3, step=(0, 1), name="conv")
    with pytest.raises(ValueError, match=r"'conv': step must be"):
        conv.step = (1, -2)
    # A value changed in place (not set) is caught at allocation.
    conv.filter_size = [3, 3]
    conv.filter_size[1] = 0
    with pytest.raises(ValueError, match=r"'conv': filter_size must be a pair"):
        conv.apply(pt.tensor4())
    conv.filter_size = (3, 3)
    conv = Convolutional((3, 3), 2, 3, border_mode="same", name="conv")
    with pytest.raises(ValueError, match=r"'conv'.*'border_mode'"):
        conv.allocate()
    conv = Convolutional((3, 3), 2, 3, image_size=(2, 2), name="conv")
    with pytest.raises(ValueError, match=r"'conv'.*'filter_size'"):
        conv.get_dim("output")
    conv = Convolutional((3, 3), 2, 3, tied_biases=False, name="conv")
    with pytest.raises(ValueError, match=r"Cannot infer bias size \S+"):
        conv.allocate()
    # A channel count unknown when the graph is built is checked when it runs.
    conv = Convolutional((1, 1), 2, 3, weights_init=Constant(1), biases_init=Constant(0))
    x_var = pt.tensor4("x")
    with pytest.raises(Exception, match="shape"):
        conv.apply(x_var).eval({x_var: np.ones((1, 2, 3, 3))})


def test_convolutional_transpose_sizes_and_adjoint():
    x_var, y_var = pt.tensor4("x"), pt.tensor4("y")
    for border_mode, step, edge in [("valid", (2, 3), (1, 2)), ("full", (1, 2), (0, 1)),
                                    ((1, 0), (2, 2), (0, 0))]:
        conv = Convolutional((3, 2), num_filters=3, num_channels=2, step=step,
                             border_mode=border_mode, use_bias=False,
                             weights_init=IsotropicGaussian(1.0))
        conv.initialize()
        deconv = ConvolutionalTranspose((3, 2), num_filters=2, num_channels=3, step=step,
                                        border_mode=border_mode, use_bias=False,
                                        unused_edge=edge, image_size=(4, 3))
        deconv.allocate()
        deconv.W.set_value(conv.W.get_value())
        padding = normalize_border_mode(border_mode, (3, 2))
        expected = tuple((i - 1) * s + k - sum(p) + u for i, s, k, p, u in
                         zip((4, 3), step, (3, 2), padding, edge))
        assert deconv.original_image_size == expected
        assert deconv.get_dim("output") == (2,) + expected
        y = randn(2, 3, 4, 3)
        back = deconv.apply(y_var).eval({y_var: y})
        assert back.shape == (2, 2) + expected
        x = randn(*back.shape)
        forward = conv.apply(x_var).eval({x_var: x})
        assert forward.shape == y.shape
        np.testing.assert_allclose(np.sum(forward * y), np.sum(x * back), rtol=1e-10)
    # Without image_size nor original_image_size, Blocks refused to guess the output size.
    deconv = ConvolutionalTranspose((3, 3), 1, 1, step=(2, 2), weights_init=Constant(1),
                                    biases_init=Constant(0), name="deconv")
    deconv.initialize()
    with pytest.raises(ValueError, match="'deconv': can't infer original_image_size, no "
                                         "image_size set"):
        deconv.apply(y_var)
    # With one side known, the unknown one follows the input's shape.
    deconv.image_size = (3, None)
    assert deconv.apply(y_var).eval({y_var: np.ones((1, 1, 3, 2))}).shape == (1, 1, 7, 5)


def test_convolutional_transpose_explicit_size_untied_bias_and_errors():
    deconv = ConvolutionalTranspose((3, 3), 1, 2, step=(2, 2), image_size=(2, 2),
                                    original_image_size=(6, 6), tied_biases=False,
                                    weights_init=Constant(1), biases_init=Constant(0.5))
    deconv.initialize()
    assert deconv.b.get_value().shape == (1, 6, 6)
    y_var = pt.tensor4("y")
    out = deconv.apply(y_var).eval({y_var: np.ones((1, 2, 2, 2))})
    # The last row and column are not touched by the forward convolution: bias only.
    assert out[0, 0, 5].tolist() == [0.5] * 6
    bad = ConvolutionalTranspose((3, 3), 1, 2, step=(2, 2), image_size=(2, 2),
                                 unused_edge=(2, 0), name="deconv")
    with pytest.raises(ValueError, match=r"'deconv'.*'unused_edge'"):
        bad.get_dim("output")
    bad = ConvolutionalTranspose((3, 3), 1, 2, step=(2, 2), image_size=(2, 2),
                                 original_image_size=(9, 9), weights_init=Constant(1),
                                 biases_init=Constant(0), name="deconv")
    with pytest.raises(ValueError, match=r"'deconv'.*'original_image_size'"):
        bad.apply(pt.tensor("y", shape=(1, 2, 2, 2)))


def _pool_brick_output(brick, x):
    x_var = pt.tensor4("x")
    return brick.apply(x_var).eval({x_var: x})


def test_pooling_bricks():
    x = randn(2, 3, 7, 5)
    brick = MaxPooling((3, 2), step=(2, 1), input_dim=(3, 7, 5), padding=(1, 1))
    assert brick.get_dim("output") == (3, 4, 6)
    assert brick.num_output_channels == 3
    np.testing.assert_allclose(_pool_brick_output(brick, x),
                               ref_pool(x, (3, 2), (2, 1), (1, 1), True, "max"))
    brick = MaxPooling((2, 2), ignore_border=False)
    np.testing.assert_allclose(_pool_brick_output(brick, x),
                               ref_pool(x, (2, 2), (2, 2), (0, 0), False, "max"))
    for include_padding, mode in ((True, "average_inc_pad"), (False, "average_exc_pad")):
        brick = AveragePooling((2, 3), padding=(1, 1), include_padding=include_padding)
        np.testing.assert_allclose(_pool_brick_output(brick, x),
                                   ref_pool(x, (2, 3), (2, 3), (1, 1), True, mode))
    # Any number of leading axes.
    x_var = pt.tensor3("x")
    out = MaxPooling((2, 2)).apply(x_var).eval({x_var: x[0]})
    np.testing.assert_allclose(out, ref_pool(x[0], (2, 2), (2, 2), (0, 0), True, "max"))
    brick = MaxPooling((2, 2))
    brick.num_channels, brick.image_size = 4, (5, 6)
    assert brick.input_dim == (4, 5, 6) and brick.get_dim("output") == (4, 2, 3)
    assert MaxPooling((2, 2)).get_dim("output") == (None, None, None)


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"MaxPooling 'pool': step must be a pair"):
        MaxPooling((2, 2), step=(0, 2), name="pool")
    with pytest.raises(ValueError, match=r"AveragePooling 'avg'.*'include_padding'"):
        AveragePooling((2, 2), ignore_border=False, include_padding=True, name="avg")
    brick = MaxPooling((3, 3), name="pool")
    with pytest.raises(ValueError, match=r"'pool'.*'pooling_size'.*larger than the padded"):
        brick.apply(pt.tensor("x", shape=(None, 1, 2, 5)))
    brick = MaxPooling((3, 3), padding=(1, 0), input_dim=(1, 1, 1), name="pool")
    with pytest.raises(ValueError, match=r"'pool'.*'pooling_size'"):
        brick.get_dim("output")
    brick = MaxPooling((2, 2), padding=(2, 0), name="pool")
    with pytest.raises(ValueError, match=r"'pool'.*'padding'"):
        brick.apply(pt.tensor4())
    brick = MaxPooling((2, 2), padding=(1, 0), ignore_border=False, name="pool")
    with pytest.raises(ValueError, match=r"'pool'.*'padding'.*ignore_border"):
        brick.apply(pt.tensor4())
    brick = MaxPooling((2, 2), name="pool")
    with pytest.raises(ValueError, match=r"'pool': step must be a pair"):
        brick.step = (1, 0)
    with pytest.raises(ValueError, match=r"'pool'.*ndim"):
        brick.apply(pt.vector())
    assert issubclass(MaxPooling, Pooling)


def test_flattener():
    x_var = pt.tensor4("x")
    x = randn(2, 3, 4, 5)
    np.testing.assert_allclose(Flattener().apply(x_var).eval({x_var: x}), x.reshape(2, -1))
    v = pt.vector("v")
    assert Flattener().apply(v).eval({v: [1.0, 2.0]}).shape == (2, 1)


def test_convolutional_sequence_pushes_configuration():
    conv1 = Convolutional((3, 3), 4, border_mode="full")
    conv2 = Convolutional((2, 2), 5, tied_biases=False)
    pool = MaxPooling((2, 2))
    seq = ConvolutionalSequence([conv1.apply, Rectifier(), pool, conv2], num_channels=2,
                                image_size=(6, 5), batch_size=3,
                                weights_init=Constant(0.1), biases_init=Constant(0.0))
    seq.initialize()
    assert conv1.num_channels == 2 and conv1.image_size == (6, 5)
    assert conv1.border_mode == "full" and conv2.border_mode == "valid"
    assert pool.input_dim == (4, 8, 7) and conv2.num_channels == 4
    assert conv2.image_size == (4, 3) and conv2.b.get_value().shape == (5, 3, 2)
    assert conv1.batch_size == 3 and conv2.batch_size == 3
    assert seq.get_dim("output") == (5, 3, 2) and seq.num_output_channels == 5
    assert seq.get_dim("input_") == (2, 6, 5)
    x_var = pt.tensor4("x")
    assert seq.apply(x_var).eval({x_var: np.ones((3, 2, 6, 5))}).shape == (3, 5, 3, 2)
    # Explicit border_mode and tied_biases are pushed, and they change the sizes.
    conv1, conv2 = Convolutional((3, 3), 4, border_mode="full"), Convolutional((2, 2), 5)
    seq = ConvolutionalSequence([conv1, conv2], num_channels=2, image_size=(6, 5),
                                border_mode="valid", tied_biases=False)
    seq.allocate()
    assert conv1.border_mode == "valid" and conv2.tied_biases is False
    assert seq.get_dim("output") == (5, 3, 2)
    assert conv2.b.get_value().shape == (5, 3, 2)


def test_convolutional_sequence_errors():
    seq = ConvolutionalSequence([Convolutional((2, 2), 2), Flattener()], num_channels=1,
                                name="seq")
    with pytest.raises(ValueError, match=r"'seq'.*flattener.*num_channels"):
        seq.allocate()
    seq = ConvolutionalSequence([Convolutional((2, 2), 2)], name="seq")
    with pytest.raises(ValueError, match="num_channels"):
        seq.allocate()
