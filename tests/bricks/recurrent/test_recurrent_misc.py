"""Bidirectional and RecurrentStack against numpy loops; naming, configuration and errors."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace
from recurrent_reference import lstm_loop, simple_loop

from blocks.bricks import Linear, Tanh
from blocks.bricks.recurrent import (
    LSTM,
    RECURRENTSTACK_SEPARATOR,
    Bidirectional,
    GatedRecurrent,
    RecurrentStack,
    SimpleRecurrent,
)
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import WEIGHT

floatX = pytensor.config.floatX


def array(seed, *shape):
    return np.random.RandomState(seed).uniform(-1, 1, size=shape).astype(floatX)


MASK = np.array([[1, 1], [1, 1], [0, 1]], dtype=floatX)


def test_bidirectional_against_numpy():
    birnn = Bidirectional(SimpleRecurrent(dim=3, activation=Tanh()),
                          weights_init=IsotropicGaussian(0.5))
    birnn.initialize()
    forward, backward = birnn.children
    assert (forward.name, backward.name) == ("forward", "backward")
    assert forward.W is not backward.W
    assert not np.allclose(forward.W.get_value(), backward.W.get_value())
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    h = birnn.apply(x, mask=mask)
    assert h.name == "bidirectional_apply_states"
    xv = array(0, 3, 2, 3)
    result = h.eval({x: xv, mask: MASK})
    zeros = np.zeros((2, 3), dtype=floatX)
    expected_forward = simple_loop(xv, zeros, forward.W.get_value(), MASK)
    expected_backward = simple_loop(xv, zeros, backward.W.get_value(), MASK, reverse=True)
    np.testing.assert_allclose(result[..., :3], expected_forward, rtol=1e-6)
    np.testing.assert_allclose(result[..., 3:], expected_backward[::-1], rtol=1e-6)
    assert birnn.get_dim("states") == 6
    assert birnn.get_dim("inputs") == 3
    assert birnn.apply.sequences == ["inputs", "mask"]
    assert birnn.apply.outputs == ["states"]


def test_bidirectional_lstm_outputs_both_states_and_cells():
    bilstm = Bidirectional(LSTM(dim=2), weights_init=Constant(0.1))
    bilstm.initialize()
    x = pt.tensor3("x")
    states, cells = bilstm.apply(x)
    assert (states.name, cells.name) == ("bidirectional_apply_states",
                                         "bidirectional_apply_cells")
    assert bilstm.get_dim("cells") == 4
    assert states.eval({x: array(1, 3, 2, 8)}).shape == (3, 2, 4)


def test_bidirectional_refuses_bad_configuration():
    with pytest.raises(TypeError, match="prototype must be a recurrent brick"):
        Bidirectional(Linear(input_dim=2, output_dim=2))
    with pytest.raises(ValueError, match="no biases"):
        Bidirectional(LSTM(dim=2), biases_init=Constant(0))
    with pytest.raises(ValueError, match="'reverse' cannot be given"):
        Bidirectional(LSTM(dim=2)).apply(pt.tensor3("x"), reverse=True)


def make_stack(**kwargs):
    stack = RecurrentStack(
        [SimpleRecurrent(dim=3, activation=Tanh()), LSTM(dim=2),
         GatedRecurrent(dim=2)],
        weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.5), **kwargs)
    stack.initialize()
    return stack


def test_stack_names_and_configuration():
    stack = make_stack()
    assert RECURRENTSTACK_SEPARATOR == "#"
    assert [t.name for t in stack.transitions] == [
        "simplerecurrent#0", "lstm#1", "gatedrecurrent#2"]
    assert stack.apply.sequences == ["inputs", "mask"]
    assert stack.apply.states == ["states", "states#1", "cells#1", "states#2"]
    assert stack.apply.outputs == stack.apply.states
    assert stack.apply.contexts == []
    assert stack.low_memory_apply.states == stack.apply.states
    assert stack.initial_states.outputs == stack.apply.states
    assert [fork.name for fork in stack.forks] == ["fork_1", "fork_2"]
    assert stack.forks[0].output_names == ["inputs"]
    assert stack.forks[1].output_names == ["inputs", "gate_inputs"]
    assert (stack.forks[0].input_dim, stack.forks[0].output_dims) == (3, [8])
    assert (stack.forks[1].input_dim, stack.forks[1].output_dims) == (2, [2, 4])
    # Without skip connections the forks carry the bias.
    assert all(linear.use_bias for fork in stack.forks for linear in fork.children)
    assert stack.get_dims(["inputs", "states#1", "cells#1", "gate_inputs#2", "mask"]) == [
        3, 2, 2, 4, 0]
    assert RecurrentStack.split_suffix("states#12") == ("states", 12)
    assert RecurrentStack.split_suffix("states") == ("states", 0)
    assert RecurrentStack.suffix("mask", 3) == "mask"

    skip = make_stack(skip_connections=True)
    assert skip.apply.sequences == [
        "inputs", "inputs#1", "inputs#2", "gate_inputs#2", "mask"]
    assert not any(linear.use_bias for fork in skip.forks for linear in fork.children)


def simple_stack(skip_connections=False):
    stack = RecurrentStack([SimpleRecurrent(dim=3, activation=Tanh()),
                            SimpleRecurrent(dim=2, activation=Tanh())],
                           skip_connections=skip_connections,
                           weights_init=IsotropicGaussian(0.5),
                           biases_init=IsotropicGaussian(0.5))
    stack.initialize()
    return stack


def stack_reference(stack, xv, mask, extra=None):
    bottom, top = stack.transitions
    linear = stack.forks[0].children[0]
    h_bottom = simple_loop(xv, np.zeros((xv.shape[1], 3)), bottom.W.get_value(), mask)
    upper_inputs = h_bottom @ linear.W.get_value()
    if linear.use_bias:
        upper_inputs = upper_inputs + linear.b.get_value()
    if extra is not None:
        upper_inputs = upper_inputs + extra
    h_top = simple_loop(upper_inputs, np.zeros((xv.shape[1], 2)), top.W.get_value(), mask)
    return h_bottom, h_top


@pytest.mark.parametrize("low_memory", [False, True])
def test_stack_against_numpy(low_memory):
    stack = simple_stack()
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    outputs = stack.apply(x, mask=mask, low_memory=low_memory)
    assert [o.name for o in outputs] == ["recurrentstack_apply_states",
                                         "recurrentstack_apply_states#1"]
    xv = array(2, 3, 2, 3)
    results = pytensor.function([x, mask], outputs)(xv, MASK)
    for result, expected in zip(results, stack_reference(stack, xv, MASK)):
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-7)


def test_stack_with_skip_connections_initial_states_and_gradients():
    stack = simple_stack(skip_connections=True)
    x, extra = pt.tensor3("x"), pt.tensor3("extra")
    outputs = stack.apply(inputs=x, **{"inputs#1": extra}, return_initial_states=True)
    xv, ev = array(3, 3, 2, 3), array(4, 3, 2, 2)
    results = pytensor.function([x, extra], outputs)(xv, ev)
    expected = stack_reference(stack, xv, None, extra=ev)
    for result, wanted in zip(results, expected):
        np.testing.assert_allclose(result[0], 0)
        np.testing.assert_allclose(result[1:], wanted, rtol=1e-6, atol=1e-7)

    weights = [t.W for t in stack.transitions] + stack.forks[0].children[0].parameters

    def cost(*variables):
        bottom, top = stack.apply(inputs=variables[-1], low_memory=True)
        return clone_replace((top ** 2).sum() + bottom.sum(),
                             dict(zip(weights, variables[:-1])))

    verify_grad(cost, [w.get_value() for w in weights] + [xv[:2]],
                rng=np.random.default_rng(1), eps=1e-6)


def test_stack_of_lstms_low_memory_matches_layer_by_layer():
    stack = RecurrentStack([LSTM(dim=2), LSTM(dim=2)], weights_init=IsotropicGaussian(0.5),
                           biases_init=Constant(0.1))
    stack.initialize()
    x = pt.tensor3("x")
    layerwise = stack.apply(x)
    together = stack.apply(x, low_memory=True)
    xv = array(5, 3, 2, 8)
    function = pytensor.function([x], layerwise + together)
    results = function(xv)
    for a, b in zip(results[:4], results[4:]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    bottom = stack.transitions[0]
    zeros = np.zeros((2, 2), dtype=floatX)
    h, c = lstm_loop(xv, zeros, zeros, *[p.get_value() for p in bottom.parameters[:4]])
    np.testing.assert_allclose(results[0], h, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[1], c, rtol=1e-6, atol=1e-7)


def test_stack_errors():
    stack = simple_stack()
    with pytest.raises(NotImplementedError, match="reverse=True is not implemented"):
        stack.apply(pt.tensor3("x"), reverse=True)
    with pytest.raises(ValueError, match="no 'hidden' among the states"):
        RecurrentStack([SimpleRecurrent(dim=2, activation=Tanh())], states_name="hidden")
    with pytest.raises(TypeError, match="transitions must be recurrent bricks"):
        RecurrentStack([Linear()])
    with pytest.raises(ValueError, match="at least one transition"):
        RecurrentStack([])


def test_recurrent_stack_of_bidirectional_layers_as_in_blocks():
    layers = [Bidirectional(SimpleRecurrent(dim=3, activation=Tanh()), name=f"bidir_{i}")
              for i in range(2)]
    stack = RecurrentStack(layers, weights_init=IsotropicGaussian(0.5),
                           biases_init=Constant(0))
    stack.initialize()
    assert stack.get_dim("states") == stack.get_dim("states#1") == 6
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    bottom, top = stack.apply(x, mask=mask)
    xv = array(1, 3, 2, 3)
    values = pytensor.function([x, mask], [bottom, top])(xv, MASK)
    zeros = np.zeros((2, 3), dtype=floatX)
    # Each layer in numpy: forward and (time-reversed) backward halves; the upper layer
    # takes the lower one's states through the fork (a Linear with a bias).
    inputs = xv
    for layer, value in zip(layers, values):
        forward, backward = layer.children
        expected = np.concatenate([
            simple_loop(inputs, zeros, forward.W.get_value(), MASK),
            simple_loop(inputs, zeros, backward.W.get_value(), MASK, reverse=True)[::-1]],
            axis=-1)
        np.testing.assert_allclose(value, expected, rtol=1e-5)
        if layer is layers[0]:
            fork = stack.forks[0].children[0]
            inputs = value @ fork.W.get_value() + fork.b.get_value()
    with pytest.raises(NotImplementedError, match="Bidirectional layers"):
        stack.apply(x, low_memory=True)


def test_subclass_whose_allocate_creates_no_initial_state_initializes():
    class NoInitialState(SimpleRecurrent):
        def _allocate(self):
            self.create_parameter("W", (self.dim, self.dim), WEIGHT)

        def initial_states(self, batch_size, *args, **kwargs):
            return pt.zeros((batch_size, self.dim))

    brick = NoInitialState(dim=2, activation=Tanh(), weights_init=Constant(0.5))
    brick.initialize()
    assert [p.name for p in brick.parameters] == ["W"]
    np.testing.assert_array_equal(brick.W.get_value(), np.full((2, 2), 0.5))
