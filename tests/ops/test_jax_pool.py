"""Pooling under JAX equals the Numba mode: every op, its gradients, and ties.

Inputs take few distinct values, so that most windows have several maxima: the gradient
of each goes to every input equal to it, in both backends.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks import backend
from blocks.ops.pool.op import AvgPoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool
from tests.ops.jax_parity import assert_jax_matches_numba

pytest.importorskip("jax")

RNG = np.random.default_rng(15)

# ws, stride, padding, ignore_border
GEOMETRIES = [
    ((2, 2), None, (0, 0), True),       # disjoint windows
    ((3, 2), (2, 1), (1, 1), True),     # overlapping, padded
    ((3, 3), (2, 2), (0, 0), False),    # clipped at the border
    ((2, 3), (3, 1), (0, 0), False),    # gaps between windows, clipped
]
MODES = ["max", "average_inc_pad", "average_exc_pad"]


def _ties(shape, dtype):
    return RNG.integers(0, 3, shape).astype(dtype)


def _cases():
    for ws, stride, padding, ignore_border in GEOMETRIES:
        for mode in MODES:
            if mode == "average_inc_pad" and not ignore_border:
                continue
            yield ws, stride, padding, ignore_border, mode


@pytest.mark.parametrize("ws, stride, padding, ignore_border, mode", list(_cases()))
def test_pool_and_gradient(ws, stride, padding, ignore_border, mode):
    x = pt.tensor4("x")
    op = Pool(ws, stride, padding, ignore_border, mode)
    gradient_op = MaxPoolGrad if mode == "max" else AvgPoolGrad
    assert_jax_matches_numba([x], [op(x)], [_ties((2, 3, 7, 9), "float64")],
                             ops_expected=(Pool, gradient_op))


@pytest.mark.parametrize("shape, dtype", [((1, 1, 5, 6), "float32"), ((4, 5, 7), "float64")])
def test_batch_of_one_and_other_ranks(shape, dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    outputs = [Pool((2, 2), (1, 2), (1, 0), True, mode)(x) for mode in MODES]
    assert_jax_matches_numba([x], outputs, [_ties(shape, dtype)])


@pytest.mark.parametrize("ws, stride, padding, ignore_border", GEOMETRIES[1:3])
def test_gradient_of_the_max_pooling_gradient(ws, stride, padding, ignore_border):
    # Differentiating MaxPoolGrad in its output gradient gives MaxPoolGradGrad, and
    # differentiating that gives MaxPoolGrad again.
    x, gz = pt.tensor4("x"), pt.tensor4("gz")
    props = dict(ws=ws, stride=stride, padding=padding, ignore_border=ignore_border)
    maxout = Pool(**props)(x)
    gx = MaxPoolGrad(**props)(x, maxout, gz)
    ggz = MaxPoolGradGrad(**props)(x, maxout, gx)
    xv = _ties((2, 2, 8, 7), "float64")
    out_shape = Pool(**props).output_hw(8, 7)
    assert_jax_matches_numba([x, gz], [gx, ggz], [xv, RNG.standard_normal((2, 2) + out_shape)],
                             wrt=[gz], ops_expected=(MaxPoolGrad, MaxPoolGradGrad))


def test_ties_reach_every_maximum():
    # One window, four equal maxima: each receives the whole gradient (Numba's rule).
    x = pt.matrix("x")
    gradient = pytensor.grad(Pool((2, 2))(x).sum(), x)
    f = backend.function([x], gradient, mode="JAX")
    np.testing.assert_array_equal(f(np.ones((2, 2))), np.ones((2, 2)))
