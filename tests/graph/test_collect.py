"""collect_parameters: one shared vector for all the parameters of a graph."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import MLP, Tanh
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, add_role, collect_parameters
from blocks.initialization import IsotropicGaussian
from blocks.roles import COLLECTED, COLLECTOR, WEIGHT, has_roles

RNG = np.random.RandomState(5)


def graph():
    x = pt.matrix("x")
    mlp = MLP([Tanh(), Tanh()], [3, 4, 2], weights_init=IsotropicGaussian(0.5),
              biases_init=IsotropicGaussian(0.5))
    mlp.initialize()
    cost = (mlp.apply(x) ** 2).sum()
    return x, ComputationGraph(cost)


def test_collected_graph_computes_the_same_and_has_one_parameter():
    x, cg = graph()
    parameters = cg.shared_variables
    collected_cg = collect_parameters(cg, parameters)
    (collected,) = collected_cg.shared_variables
    assert collected.name == "collected_parameters" and has_roles(collected, [COLLECTOR])
    np.testing.assert_array_equal(
        collected.get_value(),
        np.concatenate([p.get_value().ravel() for p in parameters]))
    data = RNG.randn(6, 3).astype(pytensor.config.floatX)
    original = pytensor.function([x], cg.outputs[0])(data)
    new = pytensor.function([x], collected_cg.outputs[0])(data)
    np.testing.assert_allclose(new, original, rtol=1e-6)
    pieces = VariableFilter(roles=[COLLECTED])(collected_cg.variables)
    assert {id(piece.tag.replacement_of) for piece in pieces} == {id(p) for p in parameters}
    # The gradient with respect to the vector is the parameters' gradients, flattened.
    gradient = pytensor.function([x], pytensor.grad(collected_cg.outputs[0], collected))(data)
    expected = pytensor.function([x], pytensor.grad(cg.outputs[0], parameters))(data)
    np.testing.assert_allclose(gradient, np.concatenate([g.ravel() for g in expected]),
                               rtol=1e-5)


def test_collect_parameters_errors():
    x, cg = graph()
    with pytest.raises(TypeError, match="must be shared variables"):
        collect_parameters(cg, [x])
    other = pytensor.shared(np.zeros(2, dtype="int64"))
    with pytest.raises(TypeError, match="several dtypes"):
        collect_parameters(cg, cg.shared_variables + [other])


def test_add_role_where_blocks_exports_it():
    from blocks.bricks.base import add_role as from_bricks

    variable = pt.vector("v")
    add_role(variable, WEIGHT)
    assert has_roles(variable, [WEIGHT]) and from_bricks is add_role
