"""Numba kernels of convolution and pooling against the Python implementations.

The geometries reach every path of the kernels: vector rows (image rows of at least a
vector of pixels, float32 and float64) with and without padding, strided rows, pooling
windows that all lie in the image (disjoint, tiling or not, with gaps, overlapping),
pooling with clipped windows, and images of one channel or a batch of one.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.ops.conv.op import Col2Im, Im2Col
from blocks.ops.pool.op import AvgPoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool

pytestmark = pytest.mark.numba

RNG = np.random.default_rng(20)

# kernel_shape, subsample, dilation, padding
PATCHES = [
    ((3, 3), (1, 1), (1, 1), ((0, 0), (0, 0))),   # unpadded: 11 columns = 8 + 3
    ((3, 2), (1, 1), (1, 2), ((1, 2), (3, 1))),   # padding clips rows and columns
    ((3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),   # strided rows
]
IMAGE_SHAPES = [(2, 3, 11, 13), (1, 1, 9, 20)]


def _run_both(inputs, outputs, values):
    python = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(*values)
    compiled = pytensor.function(inputs, outputs, mode="NUMBA")(*values)
    return python, compiled


def _assert_same(python, compiled, names, rtol):
    assert len(python) == len(compiled) == len(names)
    for name, expected, got in zip(names, python, compiled):
        assert got.dtype == expected.dtype, name
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, err_msg=name)


@pytest.mark.parametrize("dtype, patches", [("float32", PATCHES), ("float64", PATCHES[:2])])
def test_im2col_col2im_match_python(dtype, patches):
    images = [pt.tensor4(f"x{i}", dtype=dtype) for i in range(len(IMAGE_SHAPES))]
    values = [RNG.standard_normal(shape).astype(dtype) for shape in IMAGE_SHAPES]
    outputs, names = [], []
    for geometry in patches:
        for x, shape in zip(images, IMAGE_SHAPES):
            im2col, col2im = Im2Col(*geometry), Col2Im(*geometry)
            columns = im2col(x)
            # Columns with a pattern of their own, so that the scatter is not fed the
            # gather's output only.
            outputs += [columns, col2im(columns * 1.5 + 1, *shape)]
            names += [f"im2col {geometry} {shape}", f"col2im {geometry} {shape}"]
    python, compiled = _run_both(images, outputs, values)
    _assert_same(python, compiled, names, rtol=1e-5 if dtype == "float32" else 1e-12)


# ws, stride: windows that all lie in the image (no padding, border ignored); the clipped
# windows are covered by test_conv.py::test_numba_kernels_match_python.
POOLS = [
    ((2, 2), (2, 2)),   # disjoint windows
    ((2, 3), (3, 4)),   # disjoint, with pixels between the windows
    ((3, 3), (1, 2)),   # overlapping windows
]
POOL_SHAPES = [(2, 3, 12, 16), (1, 1, 11, 13)]


def test_pool_ops_match_python():
    # Few distinct values, so that windows often hold their maximum twice.
    inputs = [pt.tensor4(f"x{i}", dtype="float32") for i in range(len(POOL_SHAPES))]
    values = [RNG.integers(0, 4, shape).astype("float32") for shape in POOL_SHAPES]
    outputs, names = [], []
    for ws, stride in POOLS:
        for x, shape in zip(inputs, POOL_SHAPES):
            maxout = Pool(ws, stride)(x)
            outputs += [maxout, MaxPoolGrad(ws, stride)(x, maxout, pt.cos(maxout) + 2),
                        MaxPoolGradGrad(ws, stride)(x, maxout, pt.sin(x))]
            names += [f"{kind} {ws} {stride} {shape}" for kind in ("pool", "grad", "gradgrad")]
    # Averages, and an image of rank 3 (the kernels see it as a batch of one).
    x3 = pt.tensor3("x3", dtype="float32")
    for mode, x in (("average_exc_pad", inputs[0]), ("max", x3)):
        pooled = Pool((3, 3), (1, 2), mode=mode)(x)
        grad = (AvgPoolGrad((3, 3), (1, 2), mode=mode)(x, pt.cos(pooled)) if mode != "max"
                else MaxPoolGrad((3, 3), (1, 2))(x, pooled, pt.cos(pooled)))
        outputs += [pooled, grad]
        names += [f"{mode} pool", f"{mode} grad"]
    inputs.append(x3)
    values.append(RNG.integers(0, 4, (3, 9, 10)).astype("float32"))
    python, compiled = _run_both(inputs, outputs, values)
    _assert_same(python, compiled, names, rtol=1e-6)
