"""Tests of the brick core: lifecycle, lazy configuration, applications, naming, pickling."""

import pickle
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import (
    MLP,
    Activation,
    Application,
    ApplicationCall,
    BoundApplication,
    Brick,
    FeedforwardSequence,
    Initializable,
    Linear,
    Random,
    Sequence,
    Tanh,
    application,
    lazy,
)
from blocks.bricks.base import NoneAllocation, NoneInitialization
from blocks.filter import get_application_call, get_brick
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import (
    AUXILIARY,
    BIAS,
    COST,
    INPUT,
    OUTPUT,
    PARAMETER,
    WEIGHT,
    has_roles,
)
from blocks.utils.random import RNGStream

floatX = pytensor.config.floatX


class Logged(Brick):
    """A brick recording its lifecycle calls in a shared log."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def _push_allocation_config(self):
        self.log.append(("push_allocation", self.name))

    def _allocate(self):
        self.log.append(("allocate", self.name))
        self.create_parameter("p", (2,), WEIGHT)

    def _push_initialization_config(self):
        self.log.append(("push_initialization", self.name))

    def _initialize(self):
        self.log.append(("initialize", self.name))
        self.parameters[0].set_value(np.ones(2, dtype=floatX))


@pytest.fixture
def not_lazy():
    Brick.lazy = False
    try:
        yield
    finally:
        Brick.lazy = True


def initialized_mlp(name="mlp"):
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(0.5),
              biases_init=Constant(0.1), name=name)
    mlp.initialize()
    return mlp


def mlp_numpy(mlp, x):
    first, second = mlp.linear_transformations
    hidden = np.tanh(x @ first.W.get_value() + first.b.get_value())
    return hidden @ second.W.get_value() + second.b.get_value()


# Lifecycle


def test_lifecycle_flags_and_order():
    log = []
    child = Logged(log, name="child")
    parent = Logged(log, name="parent", children=[child])
    for brick in (parent, child):
        assert not (brick.allocated or brick.initialized or brick.allocation_config_pushed
                    or brick.initialization_config_pushed)
    parent.push_allocation_config()
    assert parent.allocation_config_pushed and child.allocation_config_pushed
    assert not parent.allocated
    parent.allocate()
    assert parent.allocated and child.allocated and not parent.initialized
    assert np.isnan(parent.parameters[0].get_value()).all()
    parent.initialize()
    assert parent.initialized and child.initialized
    assert parent.initialization_config_pushed and child.initialization_config_pushed
    assert log == [
        ("push_allocation", "parent"), ("push_allocation", "child"),
        ("allocate", "child"), ("allocate", "parent"),
        ("push_initialization", "parent"), ("push_initialization", "child"),
        ("initialize", "child"), ("initialize", "parent"),
    ]
    assert parent.parameters[0].get_value().tolist() == [1.0, 1.0]


def test_initialize_allocates_and_pushes_when_needed():
    log = []
    brick = Logged(log)
    brick.initialize()
    assert brick.allocated and brick.allocation_config_pushed and brick.initialized
    assert [entry[0] for entry in log] == [
        "push_allocation", "allocate", "push_initialization", "initialize"]


def test_application_allocates_but_does_not_initialize():
    linear = Linear(2, 3)
    assert not linear.allocated
    linear.apply(pt.matrix())
    assert linear.allocated and not linear.initialized
    assert [p.name for p in linear.parameters] == ["W", "b"]


def test_reallocation_resets_parameters():
    linear = Linear(2, 3, weights_init=Constant(1), biases_init=Constant(2))
    linear.initialize()
    old = list(linear.parameters)
    linear.allocate()
    assert len(linear.parameters) == 2
    assert all(new is not previous for new, previous in zip(linear.parameters, old))
    assert np.isnan(linear.W.get_value()).all()
    # The old shared variables keep their values; changed configuration takes effect.
    assert old[0].get_value().tolist() == [[1.0] * 3] * 2
    linear.use_bias = False
    linear.output_dim = 5
    linear.allocate()
    assert [p.name for p in linear.parameters] == ["W"]
    assert linear.W.get_value().shape == (2, 5)
    assert linear.b is None


def test_parameters_annotated_with_roles():
    linear = Linear(2, 3)
    linear.allocate()
    assert linear.W.tag.roles == [WEIGHT] and linear.b.tag.roles == [BIAS]
    assert has_roles(linear.W, [PARAMETER]) and has_roles(linear.b, [PARAMETER])
    assert get_brick(linear.W) is linear and get_brick(linear.b) is linear
    assert linear.W.dtype == floatX
    # A parameter appended without a parameter role gets PARAMETER.
    extra = pytensor.shared(np.zeros(2), name="extra")
    linear.parameters.append(extra)
    assert extra.tag.roles == [PARAMETER] and get_brick(extra) is linear


def test_initializable_rng_and_seed():
    first = Linear(2, 3, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=3)
    second = Linear(2, 3, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=3)
    first.initialize()
    second.initialize()
    expected = np.random.RandomState(3).normal(0, 0.1, size=(2, 3))
    np.testing.assert_allclose(first.W.get_value(), expected)
    np.testing.assert_array_equal(first.W.get_value(), second.W.get_value())
    assert first.seed == 3
    # Without a seed, bricks draw different seeds.
    assert Linear(2, 3).seed != Linear(2, 3).seed
    with pytest.raises(AttributeError, match="seed cannot be changed"):
        first.seed = 4


# Lazy configuration


def test_lazy_reference_example(capsys):
    class SomeBrick(Brick):
        @lazy(allocation=["a"], initialization=["b"])
        def __init__(self, a, b, c="c", d=None):
            print(a, b, c, d)

    SomeBrick("a")
    SomeBrick(d="d", b="b")
    assert capsys.readouterr().out == "a NoneInitialization c None\nNoneAllocation b c d\n"


def test_lazy_sentinels():
    for sentinel, name in ((NoneAllocation, "NoneAllocation"),
                           (NoneInitialization, "NoneInitialization")):
        assert not sentinel
        assert repr(sentinel) == str(sentinel) == name
        assert pickle.loads(pickle.dumps(sentinel)) is sentinel
    linear = Linear()
    assert linear.input_dim is NoneAllocation and linear.output_dim is NoneAllocation
    assert Linear(4).output_dim is NoneAllocation
    assert Linear(output_dim=4).input_dim is NoneAllocation


def test_lazy_configuration_set_later():
    linear = Linear()
    linear.input_dim = 2
    linear.output_dim = 3
    linear.weights_init = Constant(2)
    linear.biases_init = Constant(-1)
    linear.initialize()
    assert linear.W.get_value().tolist() == [[2.0] * 3] * 2
    assert linear.b.get_value().tolist() == [-1.0] * 3


def test_lazy_unknown_argument():
    with pytest.raises(ValueError, match=r"has no arguments named \['nope'\]"):
        class Bad(Brick):
            @lazy(allocation=["nope"])
            def __init__(self, a):
                pass


def test_missing_allocation_config():
    with pytest.raises(ValueError) as error:
        Linear(output_dim=3).allocate()
    message = str(error.value)
    assert "Linear 'linear'" in message and "input_dim is not set" in message
    assert "output_dim" not in message
    with pytest.raises(ValueError, match="Linear 'linear' .*input_dim, output_dim are not set"):
        Linear().apply(pt.matrix())


def test_missing_initialization_config():
    class Custom(Brick):
        @lazy(initialization=["scale"])
        def __init__(self, scale, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

    brick = Custom(name="custom")
    brick.allocate()
    with pytest.raises(ValueError, match="Custom 'custom' cannot initialize: scale is not set"):
        brick.initialize()
    assert not brick.initialized
    brick.scale = 2
    brick.initialize()
    assert brick.initialized


@pytest.mark.parametrize("missing", ["weights_init", "biases_init"])
def test_missing_initialization_scheme(missing):
    config = {"weights_init": Constant(1), "biases_init": Constant(0)}
    del config[missing]
    linear = Linear(2, 3, name="lin", **config)
    with pytest.raises(ValueError, match=f"Linear 'lin' cannot initialize its parameters: "
                                         f"{missing} is not set"):
        linear.initialize()
    assert not linear.initialized


def test_no_biases_init_needed_without_bias():
    linear = Linear(2, 3, weights_init=Constant(1), use_bias=False)
    linear.initialize()
    assert linear.parameters == [linear.W] and linear.b is None


def test_has_biases_false_refuses_bias_config():
    class NoBias(Initializable):
        has_biases = False

    with pytest.raises(ValueError, match="NoBias 'nobias' has no biases"):
        NoBias(biases_init=Constant(0))
    with pytest.raises(ValueError, match="has no biases"):
        NoBias(use_bias=True)


def test_not_lazy_requires_configuration(not_lazy):
    with pytest.raises(ValueError, match=r"Brick.lazy is False.*output_dim must be given"):
        Linear(2)


def test_not_lazy_initializes_at_construction(not_lazy):
    linear = Linear(2, 3, weights_init=Constant(1), biases_init=Constant(0.5))
    assert linear.allocated and linear.initialized
    assert linear.b.get_value().tolist() == [0.5] * 3


def test_not_lazy_mlp(not_lazy):
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(0.1), biases_init=Constant(0))
    assert mlp.initialized and all(child.initialized for child in mlp.children)
    x = np.arange(6.0).reshape(2, 3)
    expected = np.tanh(x @ np.full((3, 4), 0.1)) @ np.full((4, 2), 0.1)
    xv = pt.matrix("x")
    np.testing.assert_allclose(mlp.apply(xv).eval({xv: x}), expected)


def test_lazy_restored_after_not_lazy():
    assert Brick.lazy is True
    assert Linear().input_dim is NoneAllocation


# Configuration pushing


def test_push_initialization_config_to_children():
    weights, biases = IsotropicGaussian(0.3), Constant(1)
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=weights, biases_init=biases)
    mlp.push_initialization_config()
    for linear in mlp.linear_transformations:
        assert linear.weights_init is weights and linear.biases_init is biases
        assert linear.rng is mlp.rng


def test_reference_mlp_example_override_after_push():
    mlp = MLP(activations=[Tanh(), None], dims=[30, 20, 10],
              weights_init=IsotropicGaussian(), biases_init=Constant(1))
    mlp.push_initialization_config()
    mlp.children[0].weights_init = IsotropicGaussian(0.1)
    mlp.initialize()
    assert mlp.children[0].W.get_value().std() < 0.2
    assert mlp.linear_transformations[1].W.get_value().std() > 0.5
    assert mlp.linear_transformations[1].b.get_value().tolist() == [1.0] * 10


def test_only_explicit_config_is_pushed():
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(1))
    first, second = mlp.linear_transformations
    second.biases_init = Constant(3)
    first.biases_init = Constant(4)
    second.use_bias = False
    mlp.initialize()
    # Not set on the MLP: the children keep their own biases_init and use_bias.
    assert first.b.get_value().tolist() == [4.0] * 4
    assert second.b is None and [p.name for p in second.parameters] == ["W"]


def test_explicit_use_bias_and_biases_init_are_pushed():
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(1), biases_init=Constant(2),
              use_bias=False)
    mlp.linear_transformations[0].use_bias = True
    mlp.allocate()
    assert all(linear.b is None for linear in mlp.linear_transformations)
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(1), biases_init=Constant(2))
    mlp.linear_transformations[1].biases_init = Constant(7)
    mlp.initialize()
    assert mlp.linear_transformations[1].b.get_value().tolist() == [2.0, 2.0]


def test_mlp_pushes_dims():
    mlp = MLP([Tanh(), None, Tanh()], [5, 4, 3, 2])
    mlp.push_allocation_config()
    assert [(t.input_dim, t.output_dim) for t in mlp.linear_transformations] == [
        (5, 4), (4, 3), (3, 2)]
    assert (mlp.input_dim, mlp.output_dim) == (5, 2)


# Applications


def test_application_reference_example():
    class Foo(Brick):
        @application(inputs=["x"], outputs=["y"])
        def apply(self, x):
            return x + 1

        @application
        def other_apply(self, x):
            return x - 1

    foo = Foo()
    assert Foo.apply.inputs == ["x"]
    assert foo.apply.outputs == ["y"]
    assert isinstance(Foo.other_apply, Application)
    assert repr(Foo.other_apply).startswith("<blocks.bricks.base.Application object at")
    assert isinstance(foo.apply, BoundApplication)
    assert foo.apply is foo.apply and foo.apply.brick is foo
    assert foo.apply.name == "apply" and Foo.apply.name == "apply"
    x = pt.vector("x")
    assert foo.apply(x).eval({x: [1.0, 2.0]}).tolist() == [2.0, 3.0]
    assert foo.other_apply(x).eval({x: [1.0, 2.0]}).tolist() == [0.0, 1.0]
    assert foo.other_apply(x).name == "foo_other_apply_output_0"


def test_application_decorator_misuse():
    with pytest.raises(TypeError, match="use @application"):
        application(1, 2)
    with pytest.raises(TypeError, match="use @application"):
        application(lambda self: None, inputs=["x"])


def test_application_attributes_per_brick():
    class Foo(Brick):
        @application(inputs=["x"])
        def apply(self, x):
            return x

    a, b = Foo(), Foo()
    a.apply.inputs = ["z"]
    assert a.apply.inputs == ["z"] and b.apply.inputs == ["x"] and Foo.apply.inputs == ["x"]
    with pytest.raises(AttributeError, match="application 'apply' of Foo 'foo' has no "
                                             "attribute 'outputs'"):
        _ = b.apply.outputs


class Doubler(Brick):
    def __init__(self, names, **kwargs):
        super().__init__(**kwargs)
        self.names = names

    @application
    def apply(self, **kwargs):
        return [2 * kwargs[name] for name in self.names]

    @apply.property("inputs")
    def apply_inputs(self):
        return self.names

    @apply.property("outputs")
    def apply_outputs(self):
        return [f"{name}_doubled" for name in self.names]


def test_application_property():
    doubler = Doubler(["a", "b"])
    assert doubler.apply.inputs == ["a", "b"]
    assert Doubler(["c"]).apply.inputs == ["c"]
    a, b = pt.vector("a"), pt.vector("b")
    out_a, out_b = doubler.apply(a=a, b=b)
    assert (out_a.name, out_b.name) == ("doubler_apply_a_doubled", "doubler_apply_b_doubled")
    assert out_b.eval({b: [1.5]}).tolist() == [3.0]
    with pytest.raises(AttributeError, match="computed by a property"):
        doubler.apply.inputs = ["x"]
    with pytest.raises(TypeError, match="attribute name as a string"):
        Doubler.apply.property(3)


def test_application_delegate():
    class Wrapper(Brick):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Linear(2, 3)
            self.children = [self.inner]

        @application
        def apply(self, input_):
            return self.inner.apply(input_)

        @apply.delegate
        def apply_delegate(self):
            return self.inner.apply

    wrapper = Wrapper()
    assert wrapper.apply.inputs == ["input_"] and wrapper.apply.outputs == ["output"]
    output = wrapper.apply(pt.matrix())
    assert output.name == "wrapper_apply_output"


def test_variable_names_roles_and_annotations():
    linear = Linear(2, 3)
    x = pt.matrix("x")
    y = linear.apply(x)
    assert y.name == "linear_apply_output" and y.tag.name == "output"
    assert y.tag.roles == [OUTPUT]
    call = get_application_call(y)
    assert isinstance(call, ApplicationCall)
    assert y.tag.annotations == [linear, call]
    assert call.brick is linear and call.application is linear.apply
    [input_] = [v for v in ComputationGraph(y).variables if has_roles(v, [INPUT])]
    assert input_.name == "linear_apply_input_" and input_.tag.roles == [INPUT]
    assert input_.tag.annotations == [linear, call]
    # The caller's variable is left untouched.
    assert x.name == "x" and not hasattr(x.tag, "roles")
    # Each call is a new application call.
    assert get_application_call(linear.apply(x)) is not call


def test_varargs_inputs_are_named():
    sequence = Sequence([Tanh()])
    y = sequence.apply(pt.vector("x"))
    inputs = [v for v in ComputationGraph(y).variables if has_roles(v, [INPUT])]
    assert [v.name for v in inputs] == ["sequence_apply_args_0", "tanh_apply_input_"]


def test_return_list_and_dict():
    linear = Linear(2, 3)
    x = pt.matrix()
    as_list = linear.apply(x, return_list=True)
    assert isinstance(as_list, list) and [v.name for v in as_list] == ["linear_apply_output"]
    as_dict = linear.apply(x, return_dict=True)
    assert isinstance(as_dict, OrderedDict) and list(as_dict) == ["output"]
    assert as_dict["output"].name == "linear_apply_output"
    with pytest.raises(ValueError, match="at most one of return_list and return_dict"):
        linear.apply(x, return_list=True, return_dict=True)
    doubler = Doubler(["a", "b"])
    outputs = doubler.apply(a=pt.vector(), b=pt.vector(), return_dict=True)
    assert list(outputs) == ["a_doubled", "b_doubled"]


def test_return_dict_without_declared_outputs():
    class Two(Brick):
        @application
        def apply(self, x):
            return x + 1, x - 1

    outputs = Two().apply(pt.vector(), return_dict=True)
    assert list(outputs) == ["output_0", "output_1"]
    assert [v.name for v in outputs.values()] == ["two_apply_output_0", "two_apply_output_1"]


class Counting(Brick):
    """Doubles its input, counts its calls in an update, and reports the input mean."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = pytensor.shared(np.asarray(0.0, dtype=floatX), name="count")

    @application(inputs=["x"], outputs=["y"])
    def apply(self, x, application_call):
        assert isinstance(application_call, ApplicationCall)
        assert application_call.brick is self
        application_call.metadata["seen"] = True
        application_call.add_auxiliary_variable(x.mean(), roles=[COST], name="mean")
        application_call.add_auxiliary_variable(x.max())
        application_call.updates[self.count] = self.count + 1
        return 2 * x


def test_application_call_auxiliary_variables_and_updates():
    brick = Counting()
    x = pt.vector("x")
    y = brick.apply(x)
    call = get_application_call(y)
    assert call.metadata == {"seen": True}
    mean, maximum = call.auxiliary_variables
    assert mean.name == "counting_apply_mean" and mean.tag.name == "mean"
    assert has_roles(mean, [AUXILIARY, COST], match_all=True)
    assert has_roles(maximum, [AUXILIARY]) and not has_roles(maximum, [COST])
    assert call in mean.tag.annotations
    graph = ComputationGraph(y)
    assert graph.auxiliary_variables == [mean, maximum]
    assert list(graph.updates) == [brick.count]
    f = graph.get_function()
    data = np.array([1.0, 5.0, 3.0], dtype=floatX)
    [out] = f(data)
    f(data)
    np.testing.assert_allclose(out, 2 * data)
    assert brick.count.get_value() == 2.0
    f_aux = pytensor.function([x], [mean, maximum])
    assert [float(v) for v in f_aux(data)] == [3.0, 5.0]


def test_brick_level_auxiliary_variable():
    brick = Counting()
    y = brick.apply(pt.vector())
    extra = pt.constant(1.0) * 2
    brick.add_auxiliary_variable(extra, name="extra")
    assert extra.name == "extra" and brick in extra.tag.annotations
    assert extra in ComputationGraph(y).auxiliary_variables


def test_non_symbolic_input():
    linear = Linear(2, 3, name="lin")
    for value, kind in (([1.0, 2.0], "list"), ("x", "str"), ({"a": 1}, "dict")):
        with pytest.raises(TypeError) as error:
            linear.apply(value)
        message = str(error.value)
        assert "Linear 'lin'" in message and "'input_'" in message and kind in message
    with pytest.raises(TypeError, match="argument 'x' must be a symbolic variable"):
        Counting().apply(x=[1.0])


def test_wrong_last_dimension_and_ndim():
    linear = Linear(3, 2, name="lin")
    with pytest.raises(ValueError) as error:
        linear.apply(pt.tensor(shape=(None, 4)))
    message = str(error.value)
    assert "Linear 'lin'" in message and "'input_'" in message
    assert "expected the last dimension to be 3, found 4" in message
    with pytest.raises(ValueError, match="expected ndim >= 1, found ndim=0"):
        linear.apply(pt.scalar())
    # An unknown static last dimension is accepted.
    assert linear.apply(pt.matrix()).ndim == 2


def test_mlp_dims_that_do_not_fit():
    with pytest.raises(ValueError, match=r"2 numbers for 1 activations; got 3 dims \[2, 3, 4\]"):
        MLP([Tanh()], [2, 3, 4]).allocate()
    mlp = MLP([Tanh(), None])
    mlp.dims = [2, 3]
    with pytest.raises(ValueError, match=r"MLP 'mlp': .*dims must hold .* 3 numbers .* "
                                         r"got 2 dims \[2, 3\]"):
        mlp.allocate()
    assert not mlp.allocation_config_pushed and not mlp.allocated


def test_feedforward_sequence_dims_that_do_not_fit():
    sequence = FeedforwardSequence([Linear(2, 3), Tanh(), Linear(4, 5)])
    with pytest.raises(ValueError, match=r"output_dim of 'linear' \(3\) does not match the "
                                         r"input_dim of 'linear_1' \(4\)"):
        sequence.allocate()
    sequence.children[2].input_dim = 3
    sequence.allocate()
    assert (sequence.input_dim, sequence.output_dim) == (2, 5)


def test_sequence_refuses_non_applications():
    with pytest.raises(TypeError, match="must hold bricks or bound applications"):
        Sequence([lambda x: x])


# Dimensions and names


def test_get_dim_and_get_dims():
    linear = Linear(2, 3, name="lin")
    assert linear.get_dim("input_") == 2 and linear.get_dim("output") == 3
    assert linear.get_dims(["output", "input_"]) == [3, 2]
    with pytest.raises(ValueError, match="Linear 'lin' has no dimension information for 'x'"):
        linear.get_dim("x")
    with pytest.raises(ValueError, match="Tanh 'tanh' is elementwise"):
        Tanh().get_dim("output")
    with pytest.raises(ValueError, match="Brick 'brick' has no dimension information"):
        Brick().get_dims(["a"])


def test_get_hierarchical_name():
    mlp = MLP([Tanh(), Tanh()], [3, 4, 2])
    mlp.allocate()
    linear = mlp.linear_transformations[1]
    assert linear.get_hierarchical_name(linear.W) == "mlp/linear_1.W"
    assert linear.get_hierarchical_name(linear.b, delimiter="-") == "mlp-linear_1.b"
    lone = Linear(2, 2)
    lone.allocate()
    assert lone.get_hierarchical_name(lone.W) == "linear.W"
    assert [b.name for b in linear.get_unique_path()] == ["mlp", "linear_1"]
    Brick(name="other", children=[linear])
    with pytest.raises(ValueError, match="Linear 'linear_1' has several parents "
                                         r"\(mlp, other\)"):
        linear.get_hierarchical_name(linear.W)


def test_default_names_and_unique_child_names():
    assert Linear().name == "linear" and Tanh(name="t").name == "t"
    parent = Brick(children=[Tanh(), Tanh(), Tanh(name="tanh_1"), Tanh()])
    assert [child.name for child in parent.children] == ["tanh", "tanh_1", "tanh_1_1", "tanh_2"]
    parent.children.append(Tanh())
    assert parent.children[-1].name == "tanh_3"
    assert all(child.parents == [parent] for child in parent.children)
    mlp = MLP([Tanh(), Tanh(), None], [2, 2, 2, 2])
    assert [child.name for child in mlp.children] == [
        "linear_0", "tanh", "linear_1", "tanh_1", "linear_2"]
    assert mlp.activations[1].name == "tanh_1"
    with pytest.raises(TypeError, match="children of Brick 'brick' must be bricks, got int"):
        Brick(children=[1])


# print_shapes


def test_print_shapes(capsys):
    linear = Linear(2, 3, weights_init=Constant(1), biases_init=Constant(0))
    linear.initialize()
    linear.print_shapes = True
    x = pt.matrix("x")
    y = linear.apply(x)
    assert y.name == "linear_apply_output" and y.tag.roles == [OUTPUT]
    output = pytensor.function([x], y)(np.ones((4, 2), dtype=floatX))
    np.testing.assert_allclose(output, np.full((4, 3), 2.0))
    printed = capsys.readouterr().out
    assert "linear_apply_input_ shape" in printed and "(4, 2)" in printed
    assert "linear_apply_output shape" in printed and "(4, 3)" in printed
    assert not Brick.print_shapes
    # Printing adds no second variable with the same roles and annotations.
    variables = ComputationGraph(y).variables
    inputs = [v for v in variables if has_roles(v, [INPUT])]
    outputs = [v for v in variables if has_roles(v, [OUTPUT])]
    assert [v.name for v in inputs] == ["linear_apply_input_"]
    assert outputs == [y]
    assert len([v for v in variables if get_application_call(v) is not None]) == 2


# Numbers


def test_linear_and_mlp_against_numpy():
    linear = Linear(3, 2, weights_init=IsotropicGaussian(1.0), biases_init=Constant(0.3))
    linear.initialize()
    x = pt.matrix("x")
    data = np.random.RandomState(0).normal(size=(4, 3)).astype(floatX)
    expected = data @ linear.W.get_value() + linear.b.get_value()
    np.testing.assert_allclose(linear.apply(x).eval({x: data}), expected, rtol=1e-6)
    mlp = initialized_mlp()
    np.testing.assert_allclose(mlp.apply(x).eval({x: data}), mlp_numpy(mlp, data), rtol=1e-6)


def test_mlp_gradient():
    mlp = initialized_mlp()
    data = np.random.RandomState(1).normal(size=(2, 3))
    verify_grad(lambda x: mlp.apply(x), [data], rng=np.random.default_rng(0))


@pytest.mark.numba
def test_mlp_compiled_with_numba():
    mlp = initialized_mlp()
    x = pt.matrix("x")
    f = pytensor.function([x], mlp.apply(x))
    data = np.random.RandomState(2).normal(size=(5, 3)).astype(floatX)
    np.testing.assert_allclose(f(data), mlp_numpy(mlp, data), rtol=1e-6)


# Pickling


def test_pickle_brick_tree_with_values():
    mlp = initialized_mlp()
    clone = pickle.loads(pickle.dumps(mlp))
    assert clone is not mlp and clone.name == "mlp"
    assert [child.name for child in clone.children] == ["linear_0", "tanh", "linear_1"]
    assert clone.linear_transformations[0] is clone.children[0]
    assert all(child.parents == [clone] for child in clone.children)
    assert clone.application_methods[0].brick is clone.children[0]
    assert clone.allocated and clone.initialized
    for original, copy in zip(mlp.linear_transformations, clone.linear_transformations):
        for p_original, p_copy in zip(original.parameters, copy.parameters):
            assert p_copy is not p_original
            np.testing.assert_array_equal(p_copy.get_value(), p_original.get_value())
            assert p_copy.tag.roles == p_original.tag.roles
            assert get_brick(p_copy) is copy
    # The unpickled tree applies and computes the same function.
    x = pt.matrix("x")
    data = np.arange(6.0).reshape(2, 3).astype(floatX)
    y = clone.apply(x)
    assert y.name == "mlp_apply_output" and get_brick(y) is clone
    np.testing.assert_allclose(y.eval({x: data}), mlp_numpy(mlp, data), rtol=1e-6)
    # Changing the copy leaves the original alone.
    clone.linear_transformations[0].W.set_value(np.zeros((3, 4), dtype=floatX))
    assert np.abs(mlp.linear_transformations[0].W.get_value()).sum() > 0


def test_pickle_applications_and_graphs():
    assert pickle.loads(pickle.dumps(Linear.apply)) is Linear.apply
    linear = Linear(2, 3, weights_init=Constant(1), biases_init=Constant(0))
    linear.initialize()
    bound = pickle.loads(pickle.dumps(linear.apply))
    assert isinstance(bound, BoundApplication) and bound.brick is not linear
    assert bound.brick.W.get_value().tolist() == [[1.0] * 3] * 2
    x = pt.matrix("x")
    y = pickle.loads(pickle.dumps(linear.apply(x)))
    assert y.name == "linear_apply_output" and y.tag.roles == [OUTPUT]
    assert isinstance(get_brick(y), Linear)


def test_pickle_keeps_per_brick_application_attributes():
    linear = Linear(2, 3)
    linear.apply.inputs = ["z"]
    linear.apply.custom = 5
    clone = pickle.loads(pickle.dumps(linear))
    assert clone.apply.inputs == ["z"] and clone.apply.custom == 5
    assert clone.apply.brick is clone
    assert Linear(2, 3).apply.inputs == ["input_"]
    # The attributes belong to the clone's bound application, not the original's.
    clone.apply.custom = 6
    assert linear.apply.custom == 5


def test_pickle_application_call_brick():
    brick = Counting()
    y = brick.apply(pt.vector("x"))
    y_copy = pickle.loads(pickle.dumps(y))
    call = get_application_call(y_copy)
    assert call.brick is get_brick(y_copy) and call.metadata == {"seen": True}
    assert [v.name for v in call.auxiliary_variables] == ["counting_apply_mean", None]


# Random


def test_random_theano_seed_and_rng():
    brick = Random(theano_seed=5)
    assert brick.theano_seed == 5
    rng = brick.theano_rng
    assert isinstance(rng, RNGStream) and brick.theano_rng is rng
    with pytest.raises(AttributeError, match="theano_seed cannot be changed once theano_rng"):
        brick.theano_seed = 6
    same = Random(theano_seed=5)
    a = brick.theano_rng.normal(size=(4,)).eval()
    b = same.theano_rng.normal(size=(4,)).eval()
    np.testing.assert_array_equal(a, b)
    other = Random(theano_seed=7).theano_rng.normal(size=(4,)).eval()
    assert not np.allclose(a, other)
    replacement = RNGStream(1)
    brick.theano_rng = replacement
    assert brick.theano_rng is replacement


def test_random_default_seed_drawn():
    first, second = Random(), Random()
    assert isinstance(first.theano_seed, int) and 0 <= first.theano_seed < 2 ** 30
    assert first.theano_seed != second.theano_seed
    assert first.theano_seed == first.theano_seed


# Activations as base class


def test_activation_must_define_activation():
    class Nothing(Activation):
        pass

    with pytest.raises(NotImplementedError, match="Nothing must implement activation"):
        Nothing().apply(pt.vector())


def test_pickle_graph_reaching_bricks_through_parameters_first():
    # A graph whose variables lead to parameters before their bricks: the parameter
    # lists must not run their insertion hook on half-unpickled parameters.
    mlp = MLP([Tanh()], [2, 3], weights_init=Constant(1), biases_init=Constant(0))
    mlp.initialize()
    cost = mlp.apply(pt.matrix("x")).sum()
    holder = {"parameters": list(ComputationGraph(cost).parameters), "cost": cost}
    restored = pickle.loads(pickle.dumps(holder))
    restored_brick = get_brick(restored["parameters"][0])
    assert restored_brick.name.startswith("linear")
    assert [p.name for p in restored_brick.parameters] == ["W", "b"]
    assert np.allclose(restored_brick.parameters[0].get_value(), 1)


class Sampler(Random):
    @application(inputs=["x"], outputs=["y"])
    def apply(self, x):
        return x + self.theano_rng.normal(size=x.shape)


def test_random_brick_pickles_after_sampling():
    sampler = Sampler(theano_seed=3)
    x = pt.vector("x")
    sampler.apply(x)
    restored = pickle.loads(pickle.dumps(sampler))
    assert restored.theano_seed == 3
    first = restored.apply(x).eval({x: np.zeros(4)})
    again = Sampler(theano_seed=3).apply(x).eval({x: np.zeros(4)})
    assert np.allclose(first, again)


# Blocks fidelity (issue 18): Brick API details Blocks code uses

class Recorder(Brick):
    @application(inputs=["x"], outputs=["y", "z"])
    def apply(self, application_call, x, application):
        self.seen = (application_call, application)
        return x + 1, x - 1


def test_application_called_on_a_brick_and_blocks_keywords():
    linear = Linear(input_dim=2, output_dim=3, name="lin")
    x = pt.matrix("x")
    assert Linear.apply(linear, x).name == "lin_apply_output"
    with pytest.raises(TypeError, match="expected a brick as first argument"):
        Linear.apply(x)
    recorder = Recorder()
    as_dict = recorder.apply(x, as_dict=True)
    assert list(as_dict) == ["y", "z"] and as_dict["z"].name == "recorder_apply_z"
    as_list = recorder.apply(x, as_list=True)
    assert [v.name for v in as_list] == ["recorder_apply_y", "recorder_apply_z"]
    with pytest.raises(ValueError, match="at most one of return_list and return_dict"):
        recorder.apply(x, as_list=True, as_dict=True)


def test_application_and_application_call_arguments_are_handed_in():
    recorder = Recorder()
    x = pt.vector("x")
    y, _ = recorder.apply(x)  # positional x despite application_call coming first
    call, application = recorder.seen
    assert get_application_call(y) is call
    assert application is recorder.apply
    assert [v.name for v in ComputationGraph(y).inputs] == ["x"]
    assert float(y.eval({x: [1.0]})[0]) == 2.0


def test_inputs_setter_checks_the_arguments():
    class Foo(Brick):
        @application(inputs=["x"])
        def apply(self, x, y=None):
            return x

        @application
        def open_apply(self, **kwargs):
            return list(kwargs.values())

    Foo.apply.inputs = ["x", "y"]
    assert Foo().apply.inputs == ["x", "y"]
    with pytest.raises(ValueError, match=r"Unexpected inputs \['w'\] for application 'apply'"):
        Foo.apply.inputs = ["w"]
    Foo.open_apply.inputs = ["anything"]  # **kwargs accepts any name
    foo = Foo()
    foo.apply.inputs = ["x"]  # per brick, as in Blocks
    assert foo.apply.inputs == ["x"] and Foo.apply.inputs == ["x", "y"]


def test_allocation_and_initialization_args():
    assert Linear().allocation_args == ["input_dim", "output_dim"]
    assert Linear().initialization_args == []  # Initializable checks weights_init itself
    assert MLP([Tanh()], [2, 3]).allocation_args == ["dims"]


def test_brick_repr_as_blocks_printed_it():
    linear = Linear(name="lin")
    assert "name=lin" in repr(linear)
    assert repr(linear) == f"<blocks.bricks.simple.Linear object at {id(linear):#x}: name=lin>"
    assert str(linear) == repr(linear)


def test_brick_pickled_before_an_attribute_existed_loads_with_its_default():
    from blocks.bricks.conv import MaxPooling

    pool = MaxPooling((2, 2), name="pool")
    del pool.__dict__["padding"]  # as pickled by a version without padding
    del pool.__dict__["ignore_border"]
    loaded = pickle.loads(pickle.dumps(pool))
    assert loaded.padding is None and loaded.ignore_border is True
    x = pt.tensor4("x")
    value = np.arange(16.0).reshape(1, 1, 4, 4)
    out = loaded.apply(x).eval({x: value})
    np.testing.assert_array_equal(out, value.reshape(1, 1, 2, 2, 2, 2).max(axis=(3, 5)))


def test_feedforward_sequence_dims_across_a_maxout_are_left_to_allocation():
    from blocks.bricks import Maxout

    # Maxout halves 6 into 3; only the bricks adjacent through activations are compared.
    sequence = FeedforwardSequence([Linear(2, 6), Maxout(num_pieces=2), Tanh(), Linear(3, 4)])
    sequence.allocate()
    bad = FeedforwardSequence([Linear(2, 6), Maxout(num_pieces=2), Linear(3, 4), Tanh(),
                               Linear(5, 1)])
    with pytest.raises(ValueError, match=r"output_dim of 'linear_1' \(4\) does not match the "
                                         r"input_dim of 'linear_2' \(5\)"):
        bad.allocate()
