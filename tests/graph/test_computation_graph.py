from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Constant

from blocks.bricks import MLP, Brick, Linear, Tanh, application
from blocks.filter import VariableFilter, get_application_call, get_brick
from blocks.graph import ComputationGraph
from blocks.initialization import Constant as ConstantInit
from blocks.initialization import IsotropicGaussian
from blocks.roles import AUXILIARY, COST, INPUT, OUTPUT, PARAMETER, WEIGHT, add_role
from blocks.utils import shared_floatx

floatX = pytensor.config.floatX


class Counter(Brick):
    """Adds one to its input, counts its calls and reports the sum of its input."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = shared_floatx(0, name="calls")

    @application(inputs=["x"], outputs=["y"])
    def apply(self, x, application_call):
        application_call.add_auxiliary_variable(x.sum(), roles=[COST], name="total")
        application_call.updates[self.calls] = self.calls + 1
        return x + 1


def numpy_mlp(mlp, data):
    first, second = mlp.linear_transformations
    hidden = np.tanh(data @ first.W.get_value() + first.b.get_value())
    return hidden @ second.W.get_value() + second.b.get_value()


@pytest.fixture(scope="module")
def mlp_graph():
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(0.5),
              biases_init=ConstantInit(0.1))
    mlp.initialize()
    x = pt.matrix("x")
    y = mlp.apply(x)
    return mlp, x, y, ComputationGraph(y)


def test_outputs_and_inputs(mlp_graph):
    mlp, x, y, cg = mlp_graph
    assert cg.outputs == [y]
    assert cg.inputs == [x]
    assert cg.dict_of_inputs() == OrderedDict([("x", x)])
    z = pt.vector("z")
    two = ComputationGraph([z * 2, y.sum() + z.sum()])
    assert set(two.inputs) == {x, z} and len(two.inputs) == 2
    assert isinstance(ComputationGraph(y.sum()).outputs, list)


def test_outputs_must_be_variables():
    with pytest.raises(TypeError, match="outputs must be symbolic variables, got ndarray"):
        ComputationGraph(np.zeros(2))
    with pytest.raises(TypeError, match="got list"):
        ComputationGraph([pt.vector(), [pt.vector()]])


def test_variables(mlp_graph):
    mlp, x, y, cg = mlp_graph
    variables = cg.variables
    assert len(variables) == len(set(variables))
    assert x in variables and y in variables
    for linear in mlp.linear_transformations:
        assert linear.W in variables and linear.b in variables
    # Topological order: each variable comes after the inputs of the node producing it.
    position = {var: i for i, var in enumerate(variables)}
    for var in variables:
        if var.owner is not None:
            assert all(position[input_] < position[var] for input_ in var.owner.inputs)
    names = [var.name for var in variables if var.name]
    assert names.index("mlp_apply_args_0") < names.index("linear_0_apply_output") \
        < names.index("linear_1_apply_output") < names.index("mlp_apply_output")


def test_shared_variables_and_parameters(mlp_graph):
    mlp, x, y, cg = mlp_graph
    expected = {p for linear in mlp.linear_transformations for p in linear.parameters}
    assert set(cg.parameters) == expected and len(cg.parameters) == 4
    assert set(cg.shared_variables) == expected
    # A shared variable without a parameter role is shared but not a parameter.
    scale = shared_floatx(2.0, name="scale")
    graph = ComputationGraph(scale * y)
    assert scale in graph.shared_variables and scale not in graph.parameters
    add_role(scale, PARAMETER)
    assert scale in ComputationGraph(scale * y).parameters


def test_graph_of_shared_variables_only():
    W = shared_floatx(np.arange(4.0).reshape(2, 2), name="W")
    add_role(W, WEIGHT)
    cg = ComputationGraph((W ** 2).sum())
    assert cg.inputs == [] and cg.parameters == [W]
    [value] = cg.get_function()()
    assert float(value) == 14.0


def test_constants_are_not_inputs():
    x = pt.vector("x")
    cg = ComputationGraph(x + pt.constant(3.0))
    assert cg.inputs == [x]
    assert any(isinstance(var, Constant) for var in cg.variables)
    assert not any(isinstance(var, Constant) for var in cg.intermediary_variables)


def test_intermediary_variables(mlp_graph):
    mlp, x, y, cg = mlp_graph
    intermediary = cg.intermediary_variables
    assert y not in intermediary and x not in intermediary
    assert not set(intermediary) & set(cg.shared_variables)
    assert all(var.owner is not None for var in intermediary)
    assert {var.name for var in intermediary} >= {
        "mlp_apply_args_0", "linear_0_apply_output", "tanh_apply_output"}
    assert len(intermediary) == len(cg.variables) - 1 - 1 - 4 - len(
        [v for v in cg.variables if isinstance(v, Constant)])


def test_auxiliary_variables_and_updates():
    counter = Counter()
    x = pt.vector("x")
    y = counter.apply(x)
    cg = ComputationGraph(y)
    [total] = cg.auxiliary_variables
    assert total.name == "counter_apply_total" and total in cg.variables
    # An auxiliary variable follows the first variable annotated with its call.
    [input_] = VariableFilter(roles=[INPUT])(cg.variables)
    assert cg.variables.index(total) == cg.variables.index(input_) + 1
    assert list(cg.updates.items())[0][0] is counter.calls
    assert VariableFilter(roles=[AUXILIARY])(cg.variables) == [total]
    f = cg.get_function()
    data = np.array([1.0, 2.0], dtype=floatX)
    f(data)
    [out] = f(data)
    np.testing.assert_allclose(out, data + 1)
    assert counter.calls.get_value() == 2.0
    # Auxiliary variables can be compiled like any other.
    [value] = ComputationGraph(total).get_function()(data)
    assert float(value) == 3.0


def test_brick_level_auxiliary_variables_and_updates():
    linear = Linear(2, 2, weights_init=ConstantInit(1), biases_init=ConstantInit(0))
    linear.initialize()
    norm = (linear.W ** 2).sum()
    linear.add_auxiliary_variable(norm, roles=[COST], name="norm")
    counter = shared_floatx(0.0, name="counter")
    linear.updates[counter] = counter + 2
    cg = ComputationGraph(linear.apply(pt.matrix("x")))
    assert norm in cg.auxiliary_variables
    assert cg.updates[counter] is linear.updates[counter]
    cg.get_function()(np.ones((1, 2), dtype=floatX))
    assert counter.get_value() == 2.0


def test_conflicting_updates():
    counter = Counter()
    x = pt.vector("x")
    with pytest.raises(ValueError, match="two updates were collected for the shared variable "
                                         "calls"):
        ComputationGraph(counter.apply(counter.apply(x)))


def test_get_function_and_alias(mlp_graph):
    mlp, x, y, cg = mlp_graph
    assert ComputationGraph.get_theano_function is ComputationGraph.get_function
    data = np.random.RandomState(0).normal(size=(3, 3)).astype(floatX)
    [out] = cg.get_theano_function()(data)
    np.testing.assert_allclose(out, numpy_mlp(mlp, data), rtol=1e-6)


def test_get_function_additional_updates_and_kwargs():
    counter = Counter()
    x = pt.vector("x")
    other = shared_floatx(10.0, name="other")
    cg = ComputationGraph(counter.apply(x))
    f = cg.get_function(additional_updates=[(other, other * 2)], allow_input_downcast=True)
    f(np.array([1, 2], dtype="int64"))
    assert counter.calls.get_value() == 1.0 and other.get_value() == 20.0


@pytest.mark.numba
def test_get_function_numba(mlp_graph):
    mlp, x, y, cg = mlp_graph
    data = np.random.RandomState(1).normal(size=(2, 3)).astype(floatX)
    [out] = cg.get_function()(data)
    np.testing.assert_allclose(out, numpy_mlp(mlp, data), rtol=1e-6)


def test_replace_output():
    x = pt.scalar("x")
    y = x + 1
    cg = ComputationGraph([y])
    doubled = cg.replace([(y, 2 * y)])
    assert doubled.outputs[0].eval({x: 2.0}) == 6.0
    # The original graph is untouched.
    assert cg.outputs == [y] and y.eval({x: 2.0}) == 3.0


def test_replace_input_by_expression_of_itself():
    x = pt.scalar("x")
    cg = ComputationGraph(x ** 2)
    new = cg.replace({x: 2 * x})
    assert new.inputs == [x]
    assert new.outputs[0].eval({x: 3.0}) == 36.0


@pytest.mark.parametrize("replacements", [
    lambda x, y: [(x, 2 * x), (y, x + 1)],
    lambda x, y: [(y, x + 1), (x, 2 * x)],
])
def test_several_replacements_apply_inside_each_other(replacements):
    x = pt.scalar("x")
    y = x ** 2
    cg = ComputationGraph(y + x)
    new = cg.replace(replacements(x, y))
    # Every replacement also applies inside the other replacements: y + x becomes
    # (2x + 1) + 2x.
    assert new.outputs[0].eval({x: 3.0}) == 13.0


def test_replace_keeps_annotations(mlp_graph):
    mlp, x, y, cg = mlp_graph
    [hidden] = VariableFilter(bricks=[Tanh], roles=[OUTPUT])(cg.variables)
    new = cg.replace({hidden: 3 * hidden})
    [new_hidden] = VariableFilter(bricks=[Tanh], roles=[OUTPUT])(new.variables)
    assert new_hidden.name == "tanh_apply_output"
    assert get_brick(new_hidden) is mlp.children[1]
    assert get_application_call(new_hidden) is get_application_call(hidden)
    assert set(new.parameters) == set(cg.parameters)
    data = np.ones((1, 3), dtype=floatX)
    first, second = mlp.linear_transformations
    tripled = 3 * np.tanh(data @ first.W.get_value() + first.b.get_value())
    expected = tripled @ second.W.get_value() + second.b.get_value()
    np.testing.assert_allclose(new.get_function()(data)[0], expected, rtol=1e-6)


def test_replace_errors(mlp_graph):
    mlp, x, y, cg = mlp_graph
    with pytest.raises(ValueError, match="has 2 dimensions but its replacement has 1"):
        cg.replace({x: pt.vector()})
    with pytest.raises(TypeError, match="must map variables to variables"):
        cg.replace({x: np.ones((2, 3))})
    with pytest.raises(TypeError, match="must map variables to variables"):
        cg.replace({"x": x})


def test_get_snapshot(mlp_graph):
    mlp, x, y, cg = mlp_graph
    data = np.random.RandomState(2).normal(size=(2, 3)).astype(floatX)
    snapshot = cg.get_snapshot({"x": data})
    assert isinstance(snapshot, OrderedDict)
    np.testing.assert_allclose(snapshot[x], data)
    np.testing.assert_allclose(snapshot[y], numpy_mlp(mlp, data), rtol=1e-6)
    first = mlp.linear_transformations[0]
    [hidden] = VariableFilter(bricks=[Tanh], roles=[OUTPUT])(cg.variables)
    np.testing.assert_allclose(
        snapshot[hidden], np.tanh(data @ first.W.get_value() + first.b.get_value()), rtol=1e-6)
    np.testing.assert_array_equal(snapshot[first.W], first.W.get_value())
    with pytest.raises(KeyError, match=r"no data for inputs \['x'\]"):
        cg.get_snapshot({"z": data})


def test_has_inputs(mlp_graph):
    mlp, x, y, cg = mlp_graph
    assert cg.has_inputs(y)
    assert not cg.has_inputs(mlp.linear_transformations[0].W * 2)
    assert not cg.has_inputs(pt.vector("unrelated"))


def test_scan_variables():
    linear = Linear(2, 2, name="step", weights_init=ConstantInit(0.5),
                    biases_init=ConstantInit(0.0))
    linear.initialize()
    xs = pt.matrix("xs")
    outputs = pytensor.scan(lambda x: linear.apply(x), sequences=[xs], return_updates=False)
    cg = ComputationGraph(outputs.sum())
    assert cg.inputs == [xs]
    assert linear.W in cg.parameters
    inner = VariableFilter(bricks=[linear], roles=[OUTPUT])(cg.scan_variables)
    assert [var.name for var in inner] == ["step_apply_output"]
    assert not VariableFilter(roles=[OUTPUT])(cg.variables)
    data = np.arange(6.0).reshape(3, 2).astype(floatX)
    [total] = cg.get_function()(data)
    np.testing.assert_allclose(total, (data @ np.full((2, 2), 0.5)).sum())


def test_replace_parameter_by_expression_of_itself():
    linear = Linear(2, 2, weights_init=ConstantInit(1), biases_init=ConstantInit(0.5))
    linear.initialize()
    cg = ComputationGraph(linear.apply(pt.matrix("x")))
    noisy = cg.replace({linear.W: linear.W * 2})
    assert set(noisy.parameters) == {linear.W, linear.b}
    [out] = noisy.get_function()(np.ones((1, 2), dtype=floatX))
    np.testing.assert_allclose(out, [[4.5, 4.5]])


# Blocks fidelity (issue 18): iteration, replace warnings, loops

def test_graph_iterates_over_its_variables():
    x = pt.vector("x")
    cg = ComputationGraph(Counter().apply(x) * 2)
    assert list(cg) == cg.variables
    assert x in list(iter(cg))


def test_replace_warns_as_blocks_did():
    x = pt.scalar("x")
    counter = Counter()
    y = counter.apply(x)
    cg = ComputationGraph(y)
    (total,) = cg.auxiliary_variables
    stranger = pt.scalar("stranger")
    with pytest.warns(UserWarning, match="not a part of the computational graph"):
        same = cg.replace({stranger: 2 * stranger})
    assert same.outputs[0].eval({x: 1.0}) == y.eval({x: 1.0})
    with pytest.warns(UserWarning, match="that is an auxiliary variable"):
        cg.replace({total: 0 * total})


def test_replace_in_topological_order_whatever_the_order_given():
    x = pt.scalar("x")
    y = x + 2
    z = y + 3
    cg = ComputationGraph([z + 5])
    for replacements in ([(z, y * 3), (y, x * 2)], [(y, x * 2), (z, y * 3)]):
        (output,) = cg.replace(replacements).outputs
        assert float(output.eval({x: 3.0})) == 3.0 * 2 * 3 + 5


def test_scans_list_the_loops_of_unfused_recurrences():
    from blocks.bricks.recurrent import LSTM, SimpleRecurrent

    x = pt.tensor3("x")
    fused = SimpleRecurrent(dim=2, activation=Tanh(), weights_init=ConstantInit(0.1))
    assert ComputationGraph(fused.apply(x)).scans == []  # one fused node, no scan
    unfused = SimpleRecurrent(dim=2, activation=Tanh(), weights_init=ConstantInit(0.1),
                              name="unfused")
    unfused.fused = False
    lstm = LSTM(dim=2, weights_init=ConstantInit(0.1))
    lstm.fused = False
    h = unfused.apply(x)
    states, cells = lstm.apply(pt.tensor3("gates"))
    cg = ComputationGraph([h.sum() + states.sum()])
    assert len(cg.scans) == 2
    assert any(v.name == "unfused_apply_states" for v in cg.scan_variables)
    # The call keeps the step graph (Blocks' inner_inputs/inner_outputs).
    call = get_application_call(h)
    x_t, h_tm1 = call.inner_inputs
    (step,) = call.inner_outputs
    unfused.initialize()
    W = unfused.W.get_value()
    x_value = np.ones((1, 2), dtype=floatX)
    h_value = np.full((1, 2), 0.5, dtype=floatX)
    np.testing.assert_allclose(step.eval({x_t: x_value, h_tm1: h_value}),
                               np.tanh(x_value + h_value @ W), rtol=1e-6)
    again = unfused.apply(*call.inner_inputs, iterate=False)
    np.testing.assert_allclose(again.eval({x_t: x_value, h_tm1: h_value}),
                               np.tanh(x_value + h_value @ W), rtol=1e-6)
