"""BlasDot and BlasGemm under JAX equal the Numba mode; our rewrites stay out of JAX.

The ops have no gradient of their own (the rewrites put them into graphs whose gradients
are already built), so only their outputs are compared.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.ops.blas.op import BlasDot, BlasGemm, blas_dot, blas_gemm
from tests.ops.jax_parity import assert_jax_matches_numba

pytest.importorskip("jax")

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shapes", [((3, 5), (5, 4)), ((1, 7), (7, 1))])
def test_blas_dot(dtype, shapes):
    x, y = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype)
    values = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    # Transposed operands: the layouts the op exists for.
    assert_jax_matches_numba([x, y], [blas_dot(x, y), blas_dot(y.T, x.T)], values, wrt=[],
                             ops_expected=(BlasDot,))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_blas_gemm(dtype):
    z, x, y = (pt.matrix(n, dtype=dtype) for n in "zxy")
    alpha, beta = pt.scalar("alpha", dtype=dtype), pt.scalar("beta", dtype=dtype)
    values = [RNG.standard_normal(s).astype(dtype) for s in ((3, 4), (3, 2), (2, 4))]
    values += [np.asarray(-0.7, dtype), np.asarray(1.3, dtype)]
    assert_jax_matches_numba([z, x, y, alpha, beta], [blas_gemm(z, alpha, x, y, beta)],
                             values, wrt=[], ops_expected=(BlasGemm,))


def test_blas_gemm_does_not_read_z_when_beta_is_zero():
    z, x, y = pt.matrices("z", "x", "y")
    out = blas_gemm(z, 2.0, x, y, 0.0)
    f = pytensor.function([z, x, y], out, mode="JAX")
    ones = np.ones((2, 2))
    np.testing.assert_array_equal(f(np.full((2, 2), np.nan), ones, ones), 4 * ones)


def test_our_rewrites_do_not_run_under_jax():
    # An SGD update and a product of a transpose: the Numba mode rewrites both into our
    # ops, the JAX mode keeps PyTensor's.
    W = pytensor.shared(np.ones((3, 2)), name="W")
    h, g = pt.matrices("h", "g")
    updates = [(W, W - 0.5 * pt.dot(h.T, g))]
    ops = {}
    for mode in ("NUMBA", "JAX"):
        step = pytensor.function([h, g], pt.dot(h, W), updates=updates, mode=mode)
        ops[mode] = {type(node.op) for node in step.maker.fgraph.apply_nodes}
    assert {BlasDot, BlasGemm} <= ops["NUMBA"]
    assert not {BlasDot, BlasGemm} & ops["JAX"]
