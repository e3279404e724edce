"""blocks.theano_expressions: l2_norm and hessian_times_vector against numpy."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.theano_expressions import hessian_times_vector, l2_norm

RNG = np.random.RandomState(3)


def test_l2_norm_against_numpy():
    arrays = [RNG.randn(3, 4), RNG.randn(5), np.array(2.0)]
    variables = [pt.matrix("a"), pt.vector("b"), pt.scalar("c")]
    norm = pytensor.function(variables, l2_norm(variables))(*arrays)
    squared = pytensor.function(variables, l2_norm(variables, squared=True))(*arrays)
    expected = np.sqrt(sum((array ** 2).sum() for array in arrays))
    np.testing.assert_allclose(norm, expected)
    np.testing.assert_allclose(squared, expected ** 2)
    # Plain arrays are converted; no tensor at all gives 0.
    np.testing.assert_allclose(l2_norm(arrays).eval(), expected)
    assert float(l2_norm([]).eval()) == 0.0


def test_l2_norm_gradient():
    pytensor.gradient.verify_grad(lambda a, b: l2_norm([a, b]),
                                  [RNG.randn(2, 3), RNG.randn(4)], rng=RNG)


@pytest.mark.parametrize("r_op", [False, True])
def test_hessian_times_vector_against_numpy(r_op):
    # cost = sum(tanh(A w)): Hessian = A^T diag(-2 tanh(A w) (1 - tanh^2(A w))) A.
    a_value = RNG.randn(5, 3)
    w_value, v_value = RNG.randn(3), RNG.randn(3)
    w, v = pt.vector("w"), pt.vector("v")
    cost = pt.tanh(pt.dot(pt.constant(a_value), w)).sum()
    product = hessian_times_vector(pytensor.grad(cost, w), w, v, r_op=r_op)
    result = pytensor.function([w, v], product)(w_value, v_value)
    t = np.tanh(a_value @ w_value)
    hessian = a_value.T @ np.diag(-2 * t * (1 - t ** 2)) @ a_value
    np.testing.assert_allclose(result, hessian @ v_value, rtol=1e-6, atol=1e-8)
