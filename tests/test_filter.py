import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import MLP, Activation, Brick, Linear, Tanh, application
from blocks.bricks.base import ApplicationCall
from blocks.filter import VariableFilter, get_annotation, get_application_call, get_brick
from blocks.graph import ComputationGraph
from blocks.roles import AUXILIARY, BIAS, COST, INPUT, OUTPUT, PARAMETER, WEIGHT, add_role


class WithAuxiliary(Brick):
    @application(inputs=["x"], outputs=["y"])
    def apply(self, x, application_call):
        application_call.add_auxiliary_variable(x.sum(), roles=[COST], name="total")
        return x + 1


@pytest.fixture(scope="module")
def mlp_graph():
    mlp = MLP([Tanh(), None], [3, 4, 2])
    x = pt.matrix("x")
    y = mlp.apply(x)
    return mlp, x, y, ComputationGraph(y).variables


def names(variables):
    return [var.name for var in variables]


def test_get_brick_and_application_call(mlp_graph):
    mlp, x, y, _ = mlp_graph
    linear_0 = mlp.linear_transformations[0]
    call = get_application_call(y)
    assert get_brick(y) is mlp
    assert isinstance(call, ApplicationCall) and call.brick is mlp
    assert call.application is mlp.apply
    # Parameters have a brick but no application call; plain variables have neither.
    assert get_brick(linear_0.W) is linear_0 and get_application_call(linear_0.W) is None
    assert get_brick(x) is None and get_application_call(x) is None
    assert get_brick(pt.vector()) is None
    assert get_annotation(y, ApplicationCall) is call
    assert get_annotation(y, Brick) is mlp
    assert get_annotation(y, Linear) is None


def test_auxiliary_variable_annotations():
    brick = WithAuxiliary()
    y = brick.apply(pt.vector("x"))
    [total] = get_application_call(y).auxiliary_variables
    assert get_application_call(total) is get_application_call(y)
    # As in Blocks, the brick too, so that a filter by brick finds it.
    assert get_brick(total) is brick
    other = WithAuxiliary(name="other")
    other.apply(pt.vector("z"))
    assert VariableFilter(bricks=[brick], name="total")(ComputationGraph(total).variables) == [
        total]
    assert VariableFilter(bricks=[other])(ComputationGraph(total).variables) == []


def test_empty_filter_keeps_everything_once_in_order(mlp_graph):
    *_, variables = mlp_graph
    assert VariableFilter()(variables) == variables
    doubled = variables + variables[::-1]
    assert VariableFilter()(doubled) == variables
    assert VariableFilter()([]) == []


def test_roles(mlp_graph):
    mlp, x, y, variables = mlp_graph
    linears = mlp.linear_transformations
    assert set(VariableFilter(roles=[WEIGHT])(variables)) == {linears[0].W, linears[1].W}
    assert set(VariableFilter(roles=[PARAMETER])(variables)) == {
        p for linear in linears for p in linear.parameters}
    assert set(VariableFilter(roles=[WEIGHT, BIAS])(variables)) == set(
        VariableFilter(roles=[PARAMETER])(variables))
    assert VariableFilter(roles=[WEIGHT, BIAS], each_role=True)(variables) == []
    outputs = VariableFilter(roles=[OUTPUT])(variables)
    assert names(outputs) == ["linear_0_apply_output", "tanh_apply_output",
                              "linear_1_apply_output", "mlp_apply_output"]
    inputs = VariableFilter(roles=[INPUT])(variables)
    assert names(inputs) == ["mlp_apply_args_0", "linear_0_apply_input_", "tanh_apply_input_",
                             "linear_1_apply_input_"]


def test_each_role():
    var = pt.vector()
    add_role(var, OUTPUT)
    add_role(var, COST)
    other = pt.vector()
    add_role(other, OUTPUT)
    assert VariableFilter(roles=[OUTPUT, COST], each_role=True)([var, other]) == [var]
    assert VariableFilter(roles=[OUTPUT, COST])([var, other]) == [var, other]


def test_bricks_by_instance_and_class(mlp_graph):
    mlp, x, y, variables = mlp_graph
    linear_0, linear_1 = mlp.linear_transformations
    from_linear_0 = VariableFilter(bricks=[linear_0])(variables)
    assert set(from_linear_0) >= {linear_0.W, linear_0.b}
    assert all(get_brick(var) is linear_0 for var in from_linear_0)
    assert set(names(from_linear_0)) == {"linear_0_apply_input_", "linear_0_apply_output",
                                         "W", "b"}
    from_linears = VariableFilter(bricks=[Linear])(variables)
    assert {get_brick(var) for var in from_linears} == {linear_0, linear_1}
    # A class matches its subclasses; Brick matches every annotated variable.
    assert {get_brick(var) for var in VariableFilter(bricks=[Activation])(variables)} == {
        mlp.children[1]}
    assert VariableFilter(bricks=[Brick])(variables) == [
        var for var in variables if get_brick(var) is not None]
    # Not hierarchical: the MLP's own variables only, not its children's.
    assert names(VariableFilter(bricks=[mlp])(variables)) == [
        "mlp_apply_args_0", "mlp_apply_output"]
    assert len(VariableFilter(bricks=[linear_1, mlp])(variables)) == 6


def test_names(mlp_graph):
    mlp, x, y, variables = mlp_graph
    linear_0, linear_1 = mlp.linear_transformations
    assert set(VariableFilter(name="W")(variables)) == {linear_0.W, linear_1.W}
    assert names(VariableFilter(name="output")(variables)) == [
        "linear_0_apply_output", "tanh_apply_output", "linear_1_apply_output",
        "mlp_apply_output"]
    assert names(VariableFilter(name_regex="inp")(variables)) == [
        "linear_0_apply_input_", "tanh_apply_input_", "linear_1_apply_input_"]
    # The regular expression is matched at the start of the name.
    assert VariableFilter(name_regex="nput")(variables) == []
    # The PyTensor name of the input 'x' is not its Blocks name.
    assert VariableFilter(name="x")(variables) == []
    assert VariableFilter(theano_name="x")(variables) == [x]
    assert VariableFilter(theano_name="linear_1_apply_output")(variables)[0].tag.name == "output"
    assert names(VariableFilter(theano_name_regex=r"linear_\d_apply_out")(variables)) == [
        "linear_0_apply_output", "linear_1_apply_output"]
    assert VariableFilter(theano_name_regex="apply")(variables) == []


def test_applications(mlp_graph):
    mlp, x, y, variables = mlp_graph
    linear_0, linear_1 = mlp.linear_transformations
    bound = VariableFilter(applications=[linear_1.apply])(variables)
    assert names(bound) == ["linear_1_apply_input_", "linear_1_apply_output"]
    unbound = VariableFilter(applications=[Linear.apply])(variables)
    assert names(unbound) == ["linear_0_apply_input_", "linear_0_apply_output",
                              "linear_1_apply_input_", "linear_1_apply_output"]
    # Tanh inherits its application from Activation.
    assert names(VariableFilter(applications=[Activation.apply])(variables)) == [
        "tanh_apply_input_", "tanh_apply_output"]
    # Parameters come from no application.
    assert VariableFilter(applications=[Linear.apply], roles=[PARAMETER])(variables) == []


def test_application_call_auxiliary_variables():
    brick = WithAuxiliary()
    y = brick.apply(pt.vector("x"))
    variables = ComputationGraph(y).variables
    [total] = VariableFilter(roles=[AUXILIARY])(variables)
    assert total.name == "withauxiliary_apply_total"
    assert VariableFilter(roles=[COST], applications=[brick.apply])(variables) == [total]
    assert VariableFilter(name="total")(variables) == [total]


def test_call_id():
    linear = Linear(2, 2)
    x = pt.matrix("x")
    first = linear.apply(x, call_id="first")
    second = linear.apply(first, call_id="second")
    assert get_application_call(first).metadata["call_id"] == "first"
    variables = ComputationGraph(second).variables
    by_first = VariableFilter(call_id="first")(variables)
    assert names(by_first) == ["linear_apply_input_", "linear_apply_output"]
    assert all(get_application_call(var) is get_application_call(first) for var in by_first)
    assert VariableFilter(call_id="second", roles=[OUTPUT])(variables) == [second]
    assert VariableFilter(call_id="third")(variables) == []
    # Calls without an id match no id.
    third = linear.apply(x)
    assert VariableFilter(call_id="first")([third]) == []


def test_criteria_combine(mlp_graph):
    mlp, x, y, variables = mlp_graph
    linear_1 = mlp.linear_transformations[1]
    assert VariableFilter(roles=[WEIGHT], bricks=[linear_1])(variables) == [linear_1.W]
    assert VariableFilter(roles=[OUTPUT], bricks=[Linear], theano_name_regex="linear_1")(
        variables) == VariableFilter(roles=[OUTPUT], applications=[linear_1.apply])(variables)
    assert VariableFilter(roles=[BIAS], name="W")(variables) == []


def test_invalid_arguments():
    with pytest.raises(TypeError, match="bricks must be bricks or brick classes"):
        VariableFilter(bricks=["linear"])
    with pytest.raises(TypeError, match="bricks must be bricks or brick classes"):
        VariableFilter(bricks=[int])
    with pytest.raises(TypeError, match="applications must be applications"):
        VariableFilter(applications=[Linear])


def test_filtering_a_compiled_value():
    # The filtered variables are those of the graph: they can be evaluated.
    mlp = MLP([Tanh(), None], [3, 4, 2])
    x = pt.matrix("x")
    y = mlp.apply(x)
    for linear in mlp.linear_transformations:
        linear.W.set_value(np.ones(linear.W.get_value().shape))
        linear.b.set_value(np.zeros(linear.b.get_value().shape))
    [hidden] = VariableFilter(applications=[Tanh.apply], roles=[OUTPUT])(
        ComputationGraph(y).variables)
    data = np.arange(3.0).reshape(1, 3)
    value = pytensor.function([x], hidden)(data)
    np.testing.assert_allclose(value, np.tanh(np.full((1, 4), 3.0)))
