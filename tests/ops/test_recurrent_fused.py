"""The fused recurrent ops: when the bricks use them, their errors and their kernels."""

import numba
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import Rectifier, Softplus, Tanh
from blocks.bricks.recurrent import LSTM, GatedRecurrent, SimpleRecurrent, recurrent
from blocks.initialization import IsotropicGaussian
from blocks.ops.recurrent import kernels
from blocks.ops.recurrent.op import FusedRecurrent, FusedRecurrentGrad
from tests.bricks.recurrent.recurrent_reference import lstm_loop
from tests.graph_helpers import op_names

floatX = pytensor.config.floatX


def initialized(brick):
    brick.weights_init = IsotropicGaussian(0.5)
    brick.initialize()
    return brick


class PlainLSTM(LSTM):
    """An LSTM whose step is redefined (here: without peepholes)."""

    @recurrent(sequences=["inputs", "mask"], states=["states", "cells"],
               outputs=["states", "cells"], contexts=[])
    def apply(self, inputs, states, cells, mask=None):
        a = pt.dot(states, self.W_state) + inputs
        d = self.dim
        i, f = pt.sigmoid(a[:, :d]), pt.sigmoid(a[:, d:2 * d])
        next_cells = f * cells + i * pt.tanh(a[:, 2 * d:3 * d])
        return pt.sigmoid(a[:, 3 * d:]) * pt.tanh(next_cells), next_cells


def test_bricks_use_the_fused_op_when_they_can():
    x = pt.tensor3("x")
    assert "FusedRecurrent" in op_names(LSTM(dim=2).apply(x))
    assert "FusedRecurrent" in op_names(GatedRecurrent(dim=2).apply(x, x))
    for activation in (Tanh(), Rectifier()):
        assert "FusedRecurrent" in op_names(SimpleRecurrent(dim=2, activation=activation)
                                            .apply(x))
    # Otherwise the loop is a scan over the step.
    unfused = LSTM(dim=2)
    unfused.fused = False
    cases = [
        unfused.apply(x),
        LSTM(dim=2, activation=Rectifier()).apply(x),
        SimpleRecurrent(dim=2, activation=Softplus()).apply(x),
        PlainLSTM(dim=2).apply(x),
        LSTM(dim=2).apply(x, n_steps=2),
    ]
    for outputs in cases:
        names = op_names(outputs)
        assert "Scan" in names and "FusedRecurrent" not in names


def test_redefined_step_is_respected():
    brick = initialized(PlainLSTM(dim=2))
    x = pt.tensor3("x")
    xv = np.random.RandomState(0).uniform(-1, 1, (3, 2, 8)).astype(floatX)
    W = brick.W_state.get_value()
    zeros = np.zeros(3, dtype=floatX)[:2]
    expected, _ = lstm_loop(xv, np.zeros((2, 2)), np.zeros((2, 2)), W, zeros, zeros, zeros)
    np.testing.assert_allclose(brick.apply(x)[0].eval({x: xv}), expected, rtol=1e-6)


def test_gradient_of_cells_only():
    brick = initialized(LSTM(dim=2))
    x = pt.tensor3("x")
    xv = np.random.RandomState(1).uniform(-1, 1, (3, 2, 8)).astype(floatX)
    grads = []
    for fused in (True, False):
        brick.fused = fused
        _, cells = brick.apply(x)
        grads.append(pytensor.grad(cells.sum(), [x, brick.W_state, brick.initial_cells]))
    results = pytensor.function([x], grads[0] + grads[1])(xv)
    for fused_grad, scan_grad in zip(results[:3], results[3:]):
        np.testing.assert_allclose(fused_grad, scan_grad, rtol=1e-9, atol=1e-12)


def test_runtime_shape_errors():
    lstm = initialized(LSTM(dim=2))
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    function = pytensor.function([x, mask], lstm.apply(x, mask=mask))
    with pytest.raises(ValueError,
                       match=r"inputs of shape \(3, 2, 6\) do not fit the brick's dim 2"):
        function(np.zeros((3, 2, 6), dtype=floatX), np.ones((3, 2), dtype=floatX))
    with pytest.raises(ValueError, match="mask must be \\(time, batch\\)"):
        function(np.zeros((3, 2, 8), dtype=floatX), np.ones((3, 1), dtype=floatX))


def test_second_derivatives_are_refused():
    gru = initialized(GatedRecurrent(dim=2))
    x = pt.tensor3("x")
    gradient = pytensor.grad(gru.apply(x, x[:, :, [0, 1, 0, 1]]).sum(), x)
    with pytest.raises(NotImplementedError, match="second derivatives.*fused"):
        pytensor.grad(gradient.sum(), x)


def test_op_validation():
    with pytest.raises(ValueError, match="unknown kind 'rnn'"):
        FusedRecurrent("rnn")
    with pytest.raises(ValueError, match="unsupported activation 'softplus'"):
        FusedRecurrent("simple", "softplus")
    x, h0, W = pt.tensor3("x"), pt.matrix("h0"), pt.matrix("W")
    with pytest.raises(TypeError, match="expected 3 inputs, got 2"):
        FusedRecurrent("simple")(x, h0)
    with pytest.raises(TypeError, match="same float32 or float64 dtype"):
        FusedRecurrent("simple")(x, h0, W.astype("float32" if floatX == "float64"
                                                  else "float64"))
    with pytest.raises(TypeError, match="expected ndim=2"):
        FusedRecurrent("simple")(x, h0, pt.tensor3("W"))
    assert str(FusedRecurrentGrad("gru", has_mask=True, reverse=True)) == (
        "FusedRecurrentGrad{gru, mask, reverse}")
    assert str(FusedRecurrent("simple", "identity")) == "FusedRecurrent{simple, identity}"


def test_float32_activations_are_accurate():
    """The float32 kernels use a rational tanh; the logistic function goes through it."""
    # The helpers are not callable from Python: a compiled function calls them.
    tanh_of = numba.njit(lambda out, a: kernels._tanh_of(out, a))
    sigmoid_sum = numba.njit(lambda out, a: kernels._sigmoid_sum(out, a))
    x = np.linspace(-20, 20, 4001).astype("float32")
    out = np.empty_like(x)
    tanh_of(out, x)
    np.testing.assert_allclose(out, np.tanh(x.astype("float64")), rtol=0, atol=5e-7)
    gates = np.zeros_like(x)
    sigmoid_sum(gates, x)
    np.testing.assert_allclose(gates, 1 / (1 + np.exp(-x.astype("float64"))), rtol=0,
                               atol=5e-7)
    assert np.all(np.abs(out) <= 1) and np.all((gates >= 0) & (gates <= 1))


@pytest.mark.parametrize("brick", [SimpleRecurrent(dim=2, activation=Tanh()), LSTM(dim=2),
                                   GatedRecurrent(dim=2)], ids=lambda b: b.name)
def test_weight_gradients_summed_over_several_chunks(brick):
    """A batch of 130 makes the backward pass sum the weight gradients three steps at a
    time: seven steps are two full chunks and one partial."""
    initialized(brick)
    rng = np.random.RandomState(2)
    width = brick.get_dim("inputs")
    data = {"inputs": rng.uniform(-1, 1, (7, 130, width)).astype(floatX)}
    if isinstance(brick, GatedRecurrent):
        data["gate_inputs"] = rng.uniform(-1, 1, (7, 130, 4)).astype(floatX)
    mask = (rng.uniform(size=(7, 130)) > 0.2).astype(floatX)
    inputs = {name: pt.tensor3(name) for name in data}
    weights = [p for p in brick.parameters if p.ndim == 2]
    grads = []
    for fused in (True, False):
        brick.fused = fused
        states = brick.apply(**inputs, mask=pt.as_tensor_variable(mask), reverse=True,
                             return_list=True)[0]
        grads.append(pytensor.grad((states ** 2).sum(), weights + list(inputs.values())))
    results = pytensor.function(list(inputs.values()), grads[0] + grads[1])(*data.values())
    half = len(results) // 2
    for fused_grad, scan_grad in zip(results[:half], results[half:]):
        np.testing.assert_allclose(fused_grad, scan_grad, rtol=1e-9, atol=1e-12)
