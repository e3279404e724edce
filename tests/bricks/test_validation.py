"""Configuration checks: wrong dimensions are refused where they are given, naming the brick."""

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blocks.bricks
from blocks.bricks import MLP, Linear, Tanh
from blocks.bricks.attention import SequenceContentAttention
from blocks.bricks.base import Brick, NoneAllocation
from blocks.bricks.bn import BatchNormalization
from blocks.bricks.conv import Convolutional
from blocks.bricks.lookup import LookupTable
from blocks.bricks.parallel import Fork
from blocks.bricks.recurrent import SimpleRecurrent
from blocks.bricks.sequence_generators import Readout, SequenceGenerator, SoftmaxEmitter
from blocks.bricks.transformer import TransformerDecoder


def test_messages_name_brick_argument_and_value():
    with pytest.raises(ValueError) as error:
        Linear(input_dim=-1)
    assert str(error.value) == "Linear 'linear': input_dim must be a positive integer, got -1"
    with pytest.raises(TypeError) as error:
        Linear(input_dim="a", name="first")
    assert str(error.value) == (
        "Linear 'first': input_dim must be a positive integer, got 'a'")
    with pytest.raises(TypeError, match="^MLP: dims must be a list of positive"):
        MLP([Tanh()], dims=[3, "4"])
    with pytest.raises(ValueError, match=r"^MLP: dims must .* got \[3, 0\]"):
        MLP([Tanh()], dims=[3, 0])
    with pytest.raises(ValueError, match="epsilon must be a non-negative number, got -0.1"):
        BatchNormalization(input_dim=3, epsilon=-0.1)


def test_right_values_of_every_integer_type_pass():
    linear = Linear(input_dim=np.int64(3), output_dim=np.uint8(2))
    linear.allocate()
    assert linear.W.get_value().shape == (3, 2)
    assert BatchNormalization(input_dim=(3, 4), epsilon=np.float32(1e-3)).input_dim == (3, 4)
    with pytest.raises(TypeError, match="input_dim must be a positive integer, got True"):
        Linear(input_dim=True)
    with pytest.raises(TypeError, match="got 3.0"):
        Linear(input_dim=3.0)


def test_laziness_is_kept_absent_values_pass():
    linear = Linear()
    assert linear.input_dim is NoneAllocation
    linear.input_dim = None
    mlp = MLP([Tanh(), None], dims=[None, 4, None])
    mlp.input_dim, mlp.output_dim = 2, 3
    mlp.allocate()
    assert [t.W.get_value().shape for t in mlp.linear_transformations] == [(2, 4), (4, 3)]


def test_values_set_later_or_pushed_are_checked():
    linear = Linear(input_dim=2)
    with pytest.raises(ValueError, match="Linear 'linear': output_dim must be a positive"):
        linear.output_dim = -5
    assert linear.output_dim is NoneAllocation
    with pytest.raises(ValueError, match="'fork': output_dims must be a list of positive"):
        Fork(["a", "b"], input_dim=3, name="fork").output_dims = [2, -2]

    # A parent pushing a wrong value: the child refuses it, naming itself.
    class Halving(Brick):
        def __init__(self, dim, **kwargs):
            super().__init__(children=[Linear(name="half")], **kwargs)
            self.dim = dim

        def _push_allocation_config(self):
            self.children[0].input_dim = self.dim
            self.children[0].output_dim = self.dim // 2

    with pytest.raises(ValueError, match="Linear 'half': output_dim must be a positive "
                                         "integer, got 0"):
        Halving(1).allocate()
    # A list edited in place is caught at allocation.
    mlp = MLP([Tanh()], dims=[2, 3])
    mlp.dims[1] = -3
    with pytest.raises(ValueError, match=r"MLP 'mlp': dims must .* got \[2, -3\]"):
        mlp.allocate()


def test_checks_run_before_the_name_is_set():
    # Fork stores input_dim before Brick.__init__ names it: the class still names it.
    with pytest.raises(ValueError, match="^Fork: input_dim must be a positive integer"):
        Fork(["a"], input_dim=0)


# Every brick class, found by walking the package, with the constructor arguments that
# hold dimensions, sizes and the like.

def _brick_classes():
    for module in pkgutil.walk_packages(blocks.bricks.__path__, "blocks.bricks."):
        importlib.import_module(module.name)
    found, stack = [], [Brick]
    while stack:
        cls = stack.pop()
        for subclass in cls.__subclasses__():
            if subclass.__module__.startswith("blocks.") and subclass not in found:
                found.append(subclass)
                stack.append(subclass)
    return sorted(found, key=lambda cls: cls.__qualname__)


DIMENSION_LIKE = re.compile(
    r"dims?$|size$|^num_|length$|pieces$|^top_k$|^step$|^padding$|^epsilon$|edge$")


def _dimension_arguments(cls):
    return [name for name in inspect.signature(cls.__init__).parameters
            if DIMENSION_LIKE.search(name)]


def _required_arguments():
    """Valid values of the arguments that some bricks need at construction."""
    transition = SimpleRecurrent(dim=3, activation=Tanh())
    return {
        "activations": [Tanh()],
        "application_methods": [Tanh()],
        "layers": [Convolutional((2, 2), 2)],
        "activation": Tanh(),
        "input_names": ["a", "b"],
        "output_names": ["a", "b"],
        "target_names": ["a", "b"],
        "source_name": "c",
        "prototype": Linear(),
        "transitions": [SimpleRecurrent(dim=3, activation=Tanh())],
        "readout_dim": 4,
        "source_names": ["states"],
        "transition": transition,
        "num_layers": 1,
        "decoder": TransformerDecoder(1, dim=4, num_heads=2, feedforward_dim=8),
    }


CASES = [(cls, argument) for cls in _brick_classes() for argument in _dimension_arguments(cls)
         if not cls.__name__.startswith("_")]


def test_every_dimension_argument_is_checked():
    assert len(CASES) > 40
    every = [(cls, argument) for cls in _brick_classes()
             for argument in _dimension_arguments(cls)]
    unchecked = [f"{cls.__name__}.{argument}" for cls, argument in every
                 if argument not in cls._argument_checks]
    # Distribute's source_dim and target_dims are stored as input_dim and output_dims,
    # which are checked.
    assert unchecked == ["Distribute.target_dims", "Distribute.source_dim"]


#: Arguments stored (and so named in messages) under another name.
STORED_AS = {"source_dim": "input_dim", "target_dims": "output_dims"}


def _constructor_arguments(cls):
    required = _required_arguments()
    parameters = inspect.signature(cls.__init__).parameters
    arguments = {name: required[name] for name, parameter in parameters.items()
                 if name != "self" and parameter.default is inspect.Parameter.empty
                 and parameter.kind is parameter.POSITIONAL_OR_KEYWORD and name in required}
    if issubclass(cls, SequenceContentAttention):
        arguments.update(state_names=["states"])
    if issubclass(cls, Readout):
        # Readout takes these through **kwargs but needs them to build its children.
        arguments.update(readout_dim=4, source_names=["states"])
    return arguments


# Values wrong for every kind of dimension argument: integers, tuples of integers,
# positive numbers.
NEGATIVE_INTEGERS = st.integers(max_value=-1)
WRONG_VALUES = st.one_of(
    NEGATIVE_INTEGERS,
    st.floats(max_value=-1e-3) | st.just(float("nan")),
    st.text(max_size=4),
    st.booleans(),
    st.lists(NEGATIVE_INTEGERS, min_size=1, max_size=4),
    st.tuples(NEGATIVE_INTEGERS, NEGATIVE_INTEGERS),
    st.tuples(st.text(min_size=1, max_size=2), st.integers(1, 5)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(object),
)


@pytest.mark.parametrize(("cls", "argument"), CASES,
                         ids=[f"{cls.__name__}-{argument}" for cls, argument in CASES])
@settings(max_examples=15, deadline=None)
@given(value=WRONG_VALUES)
def test_wrong_arguments_are_refused_naming_the_class(cls, argument, value):
    kwargs = _constructor_arguments(cls)
    kwargs[argument] = value
    with pytest.raises((ValueError, TypeError)) as error:
        brick = cls(**kwargs)
        # Arguments that only the allocation can check (those the constructor stores in
        # another form) must be refused there.
        brick.allocate()
    message = str(error.value)
    assert cls.__name__ in message and STORED_AS.get(argument, argument) in message, message


def test_the_cases_construct_with_right_values():
    # The harness itself: with no wrong value every case constructs, so the refusals
    # above come from the wrong values.
    for cls in {cls for cls, _ in CASES}:
        if not inspect.isabstract(cls):
            cls(**_constructor_arguments(cls))


def test_sequence_generator_refuses_a_wrong_readout_dim():
    transition = SimpleRecurrent(dim=3, activation=Tanh(), name="transition")
    with pytest.raises(ValueError, match="^Readout: readout_dim must be a positive"):
        Readout(readout_dim=-2, source_names=["states"], emitter=SoftmaxEmitter(),
                name="readout")
    readout = Readout(readout_dim=4, source_names=["states"], name="readout")
    SequenceGenerator(readout, transition)


def test_lookup_table_length_is_checked():
    with pytest.raises(ValueError, match="LookupTable 'lookup': length must be"):
        LookupTable(length=0, dim=2, name="lookup")
    table = LookupTable(length=5, dim=2)
    assert table.apply(pt.lvector()).ndim == 2
