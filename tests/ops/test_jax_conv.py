"""Convolutions under JAX equal the Numba mode: the raw ops, conv2d and the bricks.

Outputs and gradients, in float64 (1e-6) and float32 (1e-4), over geometries with a
batch of one, odd sizes, padding, strides and dilation.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import MLP, Rectifier, Softmax
from blocks.bricks.conv import (
    AveragePooling,
    Convolutional,
    ConvolutionalSequence,
    Flattener,
    MaxPooling,
)
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.ops.conv.op import Col2Im, Im2Col, conv2d, conv2d_transpose
from blocks.ops.pool.op import Pool
from tests.ops.jax_parity import assert_jax_matches_numba

pytest.importorskip("jax")

RNG = np.random.default_rng(14)

# kernel_shape, subsample, dilation, padding, image shape
GEOMETRIES = [
    ((3, 3), (1, 1), (1, 1), ((0, 0), (0, 0)), (2, 3, 9, 11)),
    ((3, 2), (2, 1), (1, 2), ((1, 2), (0, 3)), (1, 2, 7, 8)),   # batch 1, uneven padding
    ((2, 3), (3, 2), (2, 1), ((2, 2), (1, 1)), (3, 1, 5, 6)),   # strides over dilation
]


@pytest.mark.parametrize("kernel, stride, dilation, padding, shape, dtype",
                         [g + ("float64",) for g in GEOMETRIES] + [GEOMETRIES[1] + ("float32",)])
def test_im2col(kernel, stride, dilation, padding, shape, dtype):
    x = pt.tensor4("x", dtype=dtype)
    op = Im2Col(kernel, stride, dilation, padding)
    # The gradient of Im2Col is Col2Im: both ops are compared.
    assert_jax_matches_numba([x], [op(x)], [RNG.standard_normal(shape).astype(dtype)],
                             ops_expected=(Im2Col, Col2Im))


@pytest.mark.parametrize("kernel, stride, dilation, padding, shape", GEOMETRIES[1:])
def test_col2im(kernel, stride, dilation, padding, shape):
    op = Im2Col(kernel, stride, dilation, padding)
    rows = shape[1] * kernel[0] * kernel[1]
    out_hw = op.output_hw(*shape[2:])
    columns = pt.matrix("columns")
    images = Col2Im(kernel, stride, dilation, padding)(columns, *shape)
    values = [RNG.standard_normal((rows, shape[0] * out_hw[0] * out_hw[1]))]
    assert_jax_matches_numba([columns], [images], values, ops_expected=(Col2Im, Im2Col))


def test_col2im_with_a_shape_known_only_at_run_time_is_refused():
    columns, rows = pt.matrix("columns"), pt.lscalar("rows")
    images = Col2Im((2, 2))(columns, 1, 1, rows, 3)
    with pytest.raises(NotImplementedError, match="image shape entry 2 is computed at run"):
        pytensor.function([columns, rows], images, mode="JAX")(np.ones((4, 4)), 3)


@pytest.mark.parametrize("groups, unshared, dtype", [
    (1, False, "float64"), (2, False, "float32"), (1, True, "float64")])
def test_conv2d_and_transpose(groups, unshared, dtype):
    x, y = pt.tensor4("x", dtype=dtype), pt.tensor4("y", dtype=dtype)
    channels, n_filters, kernel = 4, 6, (3, 2)
    out_hw = (4, 5)  # of a 7x5 image, stride (2, 1), padding (1, 1) and (0, 1)
    settings = dict(border_mode=(1, (0, 1)), subsample=(2, 1), num_groups=groups,
                    unshared=unshared)
    w_shape = ((n_filters,) + (out_hw if unshared else ()) + (channels // groups,) + kernel)
    w = pt.tensor("w", dtype=dtype, shape=(None,) * len(w_shape))
    conv = conv2d(x, w, filter_shape=w_shape, **settings)
    transposed = conv2d_transpose(y, w, (7, 5), filter_shape=w_shape, **settings)
    values = [RNG.standard_normal(s).astype(dtype)
              for s in ((1, channels, 7, 5), (2, n_filters) + out_hw, w_shape)]
    result = assert_jax_matches_numba([x, y, w], [conv, transposed], values)
    assert result[0].shape == (1, n_filters) + out_hw


def _lenet(num_channels, image_size, pooling):
    seq = ConvolutionalSequence(
        [Convolutional((3, 3), 4, border_mode=(1, 1), step=(1, 2)), Rectifier(), pooling,
         Convolutional((2, 2), 5), Rectifier(), MaxPooling((2, 2), ignore_border=False)],
        num_channels=num_channels, image_size=image_size,
        weights_init=IsotropicGaussian(0.3), biases_init=Constant(0.1))
    seq.initialize()
    mlp = MLP([Rectifier(), None], [int(np.prod(seq.get_dim("output"))), 7, 3],
              weights_init=IsotropicGaussian(0.3), biases_init=Constant(0.1))
    mlp.initialize()
    return seq, mlp


@pytest.mark.parametrize("pooling", [
    lambda: MaxPooling((2, 2)),
    lambda: MaxPooling((3, 2), step=(2, 1), padding=(1, 1)),
    lambda: AveragePooling((2, 3), ignore_border=False),
    lambda: AveragePooling((3, 3), step=(2, 2), padding=(1, 1), include_padding=True),
], ids=["max", "max-padded", "average-border", "average-inc-pad"])
def test_lenet_like_stack(pooling):
    # float32, as models train; batch 1 and odd image sizes.
    x, y = pt.tensor4("x", dtype="float32"), pt.lvector("y")
    with pytensor.config.change_flags(floatX="float32"):
        seq, mlp = _lenet(2, (11, 13), pooling())
    cost = Softmax().categorical_cross_entropy(y, mlp.apply(Flattener().apply(seq.apply(x))))
    parameters = ComputationGraph(cost).parameters
    assert len(parameters) == 8
    gradients = pytensor.grad(cost.mean(), parameters + [x])
    values = [RNG.standard_normal((1, 2, 11, 13)).astype("float32"), np.array([2])]
    assert_jax_matches_numba([x, y], [cost, *gradients], values, wrt=[],
                             ops_expected=(Im2Col, Col2Im, Pool))


def test_convolutional_brick_float64():
    x = pt.tensor4("x")
    conv = Convolutional((3, 3), 3, num_channels=2, border_mode="full", tied_biases=False,
                         image_size=(5, 4), weights_init=IsotropicGaussian(0.5),
                         biases_init=IsotropicGaussian(0.5))
    conv.initialize()
    out = conv.apply(x)
    gradients = pytensor.grad((out ** 2).sum(), conv.parameters + [x])
    assert_jax_matches_numba([x], [out, *gradients], [RNG.standard_normal((3, 2, 5, 4))],
                             wrt=[])
