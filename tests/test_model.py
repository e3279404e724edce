from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import MLP, Brick, Linear, Tanh, application
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.model import Model
from blocks.roles import PARAMETER, WEIGHT, add_role
from blocks.utils import shared_floatx


def build_mlp(name="mlp"):
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(0.1),
              biases_init=Constant(0.5), name=name)
    mlp.initialize()
    return mlp


def test_model_is_a_computation_graph():
    mlp = build_mlp()
    x = pt.matrix("x")
    model = Model(mlp.apply(x).sum())
    assert isinstance(model, ComputationGraph)
    assert model.inputs == [x]


def test_top_bricks_and_parameter_dict():
    mlp = build_mlp()
    model = Model(mlp.apply(pt.matrix("x")))
    assert model.get_top_bricks() == [mlp]
    parameters = model.get_parameter_dict()
    assert isinstance(parameters, OrderedDict)
    expected = []
    for linear in mlp.linear_transformations:
        expected += [(f"/mlp/{linear.name}.W", linear.W), (f"/mlp/{linear.name}.b", linear.b)]
    assert list(parameters.items()) == expected
    # A copy: changing it does not change the model.
    parameters.clear()
    assert len(model.get_parameter_dict()) == 4


def test_top_bricks_order_and_nesting():
    first, second = Linear(3, 4, name="first"), Linear(4, 2, name="second")
    x = pt.matrix("x")
    model = Model(second.apply(first.apply(x)))
    assert model.get_top_bricks() == [first, second]
    # A child applied on its own next to its parent is not a top brick.
    mlp = build_mlp()
    inner = mlp.linear_transformations[0]
    model = Model([mlp.apply(x), inner.apply(x)])
    assert model.get_top_bricks() == [mlp]


def test_top_brick_deeper_descendant_not_top():
    # The grandchild is applied directly by the top brick, its parent never is.
    leaf = Linear(2, 2, name="leaf")

    class Top(Brick):
        def __init__(self, **kwargs):
            super().__init__(children=[Brick(name="middle", children=[leaf])], **kwargs)

        @application(inputs=["x"], outputs=["y"])
        def apply(self, x):
            return leaf.apply(x)

    top = Top()
    model = Model(top.apply(pt.matrix("x")))
    assert model.get_top_bricks() == [top]
    assert list(model.get_parameter_dict()) == ["/top/middle/leaf.W", "/top/middle/leaf.b"]


def test_parameter_without_brick_keeps_its_name():
    mlp = build_mlp()
    scale = shared_floatx(2.0, name="scale")
    add_role(scale, PARAMETER)
    model = Model(scale * mlp.apply(pt.matrix("x")))
    assert list(model.get_parameter_dict())[-1] == "scale"
    assert model.get_parameter_dict()["scale"] is scale
    assert len(model.get_parameter_dict()) == 5


def test_unnamed_parameter_without_brick():
    anonymous = shared_floatx(np.ones(2))
    add_role(anonymous, WEIGHT)
    x = pt.vector("x")
    with pytest.raises(ValueError, match="has no name and no brick owns it"):
        Model(x * anonymous)


def test_duplicate_top_brick_names():
    a, b = Linear(2, 2, name="same"), Linear(2, 2, name="same")
    x = pt.matrix("x")
    with pytest.raises(ValueError, match="several top bricks are named 'same'"):
        Model(a.apply(x) + b.apply(x))


def test_duplicate_parameter_names():
    mlp = build_mlp()
    W = shared_floatx(np.ones((2, 2)), name="/mlp/linear_0.W")
    add_role(W, WEIGHT)
    with pytest.raises(ValueError, match="two different parameters are named '/mlp/linear_0.W'"):
        Model(pt.dot(mlp.apply(pt.matrix("x")), W))


def test_get_parameter_values_are_copies():
    mlp = build_mlp()
    model = Model(mlp.apply(pt.matrix("x")))
    values = model.get_parameter_values()
    assert list(values) == list(model.get_parameter_dict())
    linear_0 = mlp.linear_transformations[0]
    np.testing.assert_array_equal(values["/mlp/linear_0.W"], linear_0.W.get_value())
    np.testing.assert_array_equal(values["/mlp/linear_0.b"], np.full(4, 0.5))
    values["/mlp/linear_0.b"][:] = 7
    np.testing.assert_array_equal(linear_0.b.get_value(), np.full(4, 0.5))


def test_set_parameter_values_changes_outputs():
    mlp = build_mlp()
    x = pt.matrix("x")
    model = Model(mlp.apply(x))
    f = model.get_function()
    W0, W1 = np.arange(12.0).reshape(3, 4) / 10, -np.arange(8.0).reshape(4, 2) / 10
    b0, b1 = np.linspace(-1, 1, 4), np.array([0.25, -0.25])
    model.set_parameter_values({"/mlp/linear_0.W": W0, "/mlp/linear_0.b": b0,
                                "/mlp/linear_1.W": W1, "/mlp/linear_1.b": b1})
    data = np.array([[1.0, -2.0, 0.5], [0.0, 0.3, 0.1]])
    [output] = f(data)
    np.testing.assert_allclose(output, np.tanh(data @ W0 + b0) @ W1 + b1)
    # A subset of the parameters can be set; values are cast to the parameter dtype.
    model.set_parameter_values({"/mlp/linear_1.b": np.array([1, 2])})
    assert mlp.linear_transformations[1].b.get_value().tolist() == [1.0, 2.0]
    assert mlp.linear_transformations[1].b.get_value().dtype == pytensor.config.floatX


def test_values_round_trip_between_models():
    source, target = build_mlp(), build_mlp()
    target.linear_transformations[0].W.set_value(np.zeros((3, 4)))
    source_model = Model(source.apply(pt.matrix("x")))
    target_model = Model(target.apply(pt.matrix("x")))
    target_model.set_parameter_values(source_model.get_parameter_values())
    for name, value in source_model.get_parameter_values().items():
        np.testing.assert_array_equal(target_model.get_parameter_values()[name], value)


@pytest.fixture
def model_and_values():
    mlp = build_mlp()
    model = Model(mlp.apply(pt.matrix("x")))
    return model, model.get_parameter_values()


def _unchanged(model, before):
    for name, value in model.get_parameter_values().items():
        np.testing.assert_array_equal(value, before[name])


def test_set_unknown_name_changes_nothing(model_and_values):
    model, before = model_and_values
    with pytest.raises(KeyError, match=r"unknown parameter names \['/mlp/linear_9.W'\]"):
        model.set_parameter_values({"/mlp/linear_0.b": np.zeros(4),
                                    "/mlp/linear_9.W": np.zeros((3, 4))})
    _unchanged(model, before)


def test_set_wrong_shape_changes_nothing(model_and_values):
    model, before = model_and_values
    with pytest.raises(ValueError) as error:
        model.set_parameter_values({"/mlp/linear_0.b": np.zeros(4),
                                    "/mlp/linear_1.W": np.zeros((2, 4))})
    message = str(error.value)
    assert "'/mlp/linear_1.W'" in message
    assert "expected shape (4, 2)" in message and "received shape (2, 4)" in message
    _unchanged(model, before)


def test_set_wrong_dtype_changes_nothing(model_and_values):
    model, before = model_and_values
    with pytest.raises(TypeError, match=r"'/mlp/linear_0.b' has dtype float\d+, received a "
                                        r"value of dtype complex128"):
        model.set_parameter_values({"/mlp/linear_0.b": np.zeros(4, dtype=complex)})
    _unchanged(model, before)


def test_brick_seen_only_through_its_parameter():
    linear = Linear(2, 2, name="direct")
    linear.allocate()
    x = pt.vector("x")
    model = Model(pt.dot(x, linear.W))
    assert model.get_top_bricks() == [linear]
    assert list(model.get_parameter_dict()) == ["/direct.W"]


def test_brick_applied_inside_scan():
    linear = Linear(2, 2, name="step", weights_init=Constant(0.5), biases_init=Constant(0))
    linear.initialize()
    xs = pt.matrix("xs")
    outputs = pytensor.scan(lambda x: linear.apply(x), sequences=[xs], return_updates=False)
    model = Model(outputs.sum())
    assert model.get_top_bricks() == [linear]
    assert list(model.get_parameter_dict()) == ["/step.W", "/step.b"]
