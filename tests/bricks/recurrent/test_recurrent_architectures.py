"""SimpleRecurrent, LSTM and GatedRecurrent against plain numpy loops, and their gradients."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace
from recurrent_reference import gru_loop, lstm_loop, simple_loop

from blocks.bricks import Identity, Rectifier, Tanh
from blocks.bricks.recurrent import LSTM, GatedRecurrent, SimpleRecurrent
from blocks.initialization import Constant, IsotropicGaussian, Orthogonal
from blocks.roles import INITIAL_STATE, WEIGHT, has_roles

floatX = pytensor.config.floatX
T, B, D = 4, 3, 2


def arrays(seed, *shapes):
    rng = np.random.RandomState(seed)
    return [rng.uniform(-1, 1, size=shape).astype(floatX) for shape in shapes]


MASK = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [0, 0, 1]], dtype=floatX)


def make(kind, dim=D, **kwargs):
    if kind == "simple":
        brick = SimpleRecurrent(dim=dim, activation=Tanh(), **kwargs)
    elif kind == "lstm":
        brick = LSTM(dim=dim, **kwargs)
    else:
        brick = GatedRecurrent(dim=dim, **kwargs)
    brick.weights_init = IsotropicGaussian(0.5)
    brick.initialize()
    # Non-zero initial states, so that using them is checked.
    for parameter in brick.parameters:
        if has_roles(parameter, [INITIAL_STATE]):
            parameter.set_value(arrays(7, (dim,))[0])
    return brick


def values(brick):
    return {p.name: p.get_value() for p in brick.parameters}


def sequence_inputs(kind):
    x = pt.tensor3("x")
    if kind == "gru":
        return {"inputs": x, "gate_inputs": pt.tensor3("gx")}
    return {"inputs": x}


def input_values(kind, seed=0):
    width = {"simple": D, "lstm": 4 * D, "gru": D}[kind]
    data = {"inputs": arrays(seed, (T, B, width))[0]}
    if kind == "gru":
        data["gate_inputs"] = arrays(seed + 1, (T, B, 2 * D))[0]
    return data


def reference(kind, p, data, h0, c0=None, mask=None, reverse=False):
    if kind == "simple":
        return [simple_loop(data["inputs"], h0, p["W"], mask, reverse)]
    if kind == "lstm":
        return list(lstm_loop(data["inputs"], h0, c0, p["W_state"], p["W_cell_to_in"],
                              p["W_cell_to_forget"], p["W_cell_to_out"], mask, reverse))
    return [gru_loop(data["inputs"], data["gate_inputs"], h0, p["state_to_state"],
                     p["state_to_gates"], mask, reverse)]


KINDS = ["simple", "lstm", "gru"]


@pytest.fixture(scope="module", params=[(kind, fused) for kind in KINDS
                                        for fused in (True, False)],
                ids=lambda p: f"{p[0]}-{'fused' if p[1] else 'scan'}")
def case(request):
    """A brick, its symbolic inputs and one function covering the options.

    Fused: the loop is one FusedRecurrent node; scan: a scan over the step.
    """
    kind, fused = request.param
    brick = make(kind)
    brick.fused = fused
    inputs = sequence_inputs(kind)
    mask = pt.matrix("mask")
    h0 = pt.matrix("h0")
    given = {"states": h0}
    if kind == "lstm":
        given["cells"] = pt.matrix("c0")
    plain = brick.apply(**inputs, return_list=True)
    masked_reversed = brick.apply(**inputs, mask=mask, reverse=True, return_list=True)
    with_states = brick.apply(**inputs, **given, mask=mask, return_initial_states=True,
                              return_list=True)
    step = brick.apply(iterate=False, return_list=True, **given,
                       **{name: var[0] for name, var in inputs.items()})
    function = pytensor.function(
        list(inputs.values()) + [mask] + list(given.values()),
        plain + masked_reversed + with_states + step, on_unused_input="ignore")
    ops = {type(node.op).__name__ for node in function.maker.fgraph.apply_nodes}
    assert ("FusedRecurrent" in ops) == fused and ("Scan" in ops) != fused, ops
    return kind, brick, function, len(plain)


def run(case, mask, h0, c0):
    kind, brick, function, n = case
    data = input_values(kind)
    args = list(data.values()) + [mask, h0] + ([c0] if kind == "lstm" else [])
    results = function(*args)
    return [results[i * n:(i + 1) * n] for i in range(4)], data


def test_against_numpy_loops(case):
    kind, brick, _, _ = case
    p = values(brick)
    h0, c0 = arrays(3, (B, D), (B, D))
    (plain, masked_reversed, with_states, step), data = run(case, MASK, h0, c0)
    batch = np.ones((B, 1), dtype=floatX)
    default_h0 = batch * p["initial_state"]
    default_c0 = batch * p.get("initial_cells", p["initial_state"])
    expected = reference(kind, p, data, default_h0, default_c0)
    for actual, wanted in zip(plain, expected):
        np.testing.assert_allclose(actual, wanted, rtol=1e-5, atol=1e-6)
    expected = reference(kind, p, data, default_h0, default_c0, MASK, reverse=True)
    for actual, wanted in zip(masked_reversed, expected):
        np.testing.assert_allclose(actual, wanted, rtol=1e-5, atol=1e-6)
    expected = reference(kind, p, data, h0, c0, MASK)
    initial = [h0, c0]
    for i, (actual, wanted) in enumerate(zip(with_states, expected)):
        assert actual.shape == (T + 1, B, D)
        np.testing.assert_allclose(actual[0], initial[i], rtol=1e-6)
        np.testing.assert_allclose(actual[1:], wanted, rtol=1e-5, atol=1e-6)
    expected = reference(kind, p, {k: v[:1] for k, v in data.items()}, h0, c0)
    for actual, wanted in zip(step, expected):
        np.testing.assert_allclose(actual, wanted[0], rtol=1e-5, atol=1e-6)


def test_masked_steps_keep_previous_state(case):
    h0, c0 = arrays(3, (B, D), (B, D))
    zeros = np.zeros((T, B), dtype=floatX)
    (_, _, with_states, _), _ = run(case, zeros, h0, c0)
    for actual, initial in zip(with_states, [h0, c0]):
        np.testing.assert_allclose(actual, np.broadcast_to(initial, actual.shape), rtol=1e-6)


def _cost(brick, kind, names, shapes, masked, reverse):
    def cost(*variables):
        parameters = dict(zip(names, variables[:len(names)]))
        inputs = dict(zip(shapes, variables[len(names):]))
        mask = pt.as_tensor_variable(MASK[1:3, :2]) if masked else None
        outputs = brick.apply(**inputs, mask=mask, reverse=reverse, return_list=True)
        output = sum((o ** 2).sum() * (i + 1) for i, o in enumerate(outputs))
        return clone_replace(output, {p: parameters[p.name] for p in brick.parameters})
    return cost


@pytest.mark.parametrize("kind", KINDS)
def test_gradients(kind):
    """verify_grad on the fused loop; the scan loop's gradients must be the same."""
    brick = make(kind, dim=2)
    names = [p.name for p in brick.parameters]
    # Two steps of a batch of two keep the finite differences cheap.
    data = {name: value[:2, :2] for name, value in input_values(kind, seed=5).items()}
    shapes = {name: value.shape for name, value in data.items()}
    cost = _cost(brick, kind, names, shapes, masked=True, reverse=True)
    point = [p.get_value() for p in brick.parameters] + list(data.values())
    verify_grad(cost, point, rng=np.random.default_rng(0), eps=1e-6)

    variables = [pt.as_tensor_variable(value).type() for value in point]
    gradients = []
    for fused in (True, False):
        brick.fused = fused
        gradients.append(pytensor.grad(cost(*variables), variables))
    function = pytensor.function(variables, gradients[0] + gradients[1])
    results = function(*point)
    for fused_grad, scan_grad in zip(results[:len(point)], results[len(point):]):
        np.testing.assert_allclose(fused_grad, scan_grad, rtol=1e-9, atol=1e-12)


def test_parameters_and_roles():
    lstm = make("lstm")
    assert [p.name for p in lstm.parameters] == [
        "W_state", "W_cell_to_in", "W_cell_to_forget", "W_cell_to_out", "initial_state",
        "initial_cells"]
    assert lstm.W_state.get_value().shape == (D, 4 * D)
    for p in lstm.parameters[:4]:
        assert has_roles(p, [WEIGHT])
    for p in lstm.parameters[4:]:
        assert has_roles(p, [INITIAL_STATE]) and not has_roles(p, [WEIGHT])
    gru = GatedRecurrent(dim=3, weights_init=Orthogonal())
    gru.initialize()
    assert [p.name for p in gru.parameters] == [
        "state_to_state", "state_to_gates", "initial_state"]
    gates = gru.state_to_gates.get_value()
    for block in (gates[:, :3], gates[:, 3:]):
        np.testing.assert_allclose(block @ block.T, np.eye(3), atol=1e-6)
    np.testing.assert_array_equal(gru.initial_state.get_value(), np.zeros(3))
    rnn = SimpleRecurrent(dim=2, activation=Identity(), weights_init=Constant(3))
    rnn.initialize()
    np.testing.assert_array_equal(rnn.W.get_value(), np.full((2, 2), 3))
    assert rnn.initial_state.name == "initial_state"
    assert has_roles(rnn.initial_state, [INITIAL_STATE])


def test_default_activations_and_dims():
    lstm, gru = LSTM(dim=5), GatedRecurrent(dim=5)
    for brick in (lstm, gru):
        assert isinstance(brick.activation, Tanh)
        assert type(brick.gate_activation).__name__ == "Logistic"
        assert brick.children == [brick.activation, brick.gate_activation]
    assert lstm.get_dims(["inputs", "states", "cells", "mask"]) == [20, 5, 5, 0]
    assert gru.get_dims(["inputs", "gate_inputs", "states", "mask"]) == [5, 10, 5, 0]
    assert SimpleRecurrent(dim=4, activation=Tanh()).get_dims(["inputs", "states"]) == [4, 4]
    assert LSTM.apply.sequences == ["inputs", "mask"]
    assert LSTM.apply.states == ["states", "cells"]
    assert GatedRecurrent.apply.sequences == ["mask", "inputs", "gate_inputs"]
    assert lstm.apply.inputs == ["inputs", "mask", "states", "cells"]
    assert lstm.initial_states.outputs == ["states", "cells"]


def test_custom_activation_and_initial_state_broadcast():
    rnn = SimpleRecurrent(dim=2, activation=Rectifier(), weights_init=Constant(-1))
    rnn.initialize()
    rnn.initial_state.set_value(np.array([1, 2], dtype=floatX))
    x = pt.tensor3("x")
    result = rnn.apply(x).eval({x: np.zeros((1, 3, 2), dtype=floatX)})
    np.testing.assert_allclose(result, np.zeros((1, 3, 2)))
    states = rnn.initial_states(3).eval()
    np.testing.assert_allclose(states, [[1, 2]] * 3)


def test_lstm_rejects_inputs_not_four_times_dim():
    lstm = LSTM(dim=3)
    with pytest.raises(ValueError, match=r"LSTM 'lstm'.*'inputs'.*expected the last dimension "
                                         r"to be 12, found 9"):
        lstm.apply(pt.tensor3("x", shape=(None, None, 9)))


def test_gru_rejects_gate_inputs_of_wrong_width():
    gru = GatedRecurrent(dim=3)
    with pytest.raises(ValueError, match=r"'gate_inputs'.*expected the last dimension to be 6"):
        gru.apply(pt.tensor3("x"), pt.tensor3("g", shape=(None, None, 3)))


def test_wrong_rank_inputs():
    rnn = SimpleRecurrent(dim=3, activation=Tanh())
    with pytest.raises(ValueError, match=r"'inputs'.*expected ndim >= 2.*found ndim=1"):
        rnn.apply(pt.vector("x"))
    with pytest.raises(ValueError, match=r"'inputs'.*expected ndim=2 \(batch, features\) for "
                                         r"one step, or ndim=3.*found ndim=1 per step"):
        rnn.apply(pt.matrix("x"))
    with pytest.raises(ValueError, match=r"'states'.*expected ndim=2"):
        rnn.apply(pt.tensor3("x"), states=pt.tensor3("h0"))


def test_mask_shape_mismatch():
    lstm = LSTM(dim=2)
    x = pt.tensor3("x", shape=(5, 3, 8))
    with pytest.raises(ValueError, match=r"'mask'.*expected ndim=2, found ndim=3"):
        lstm.apply(x, mask=pt.tensor3("m"))
    with pytest.raises(ValueError, match=r"'mask'.*time length 4 does not match the time "
                                         r"length 5 of 'inputs'"):
        lstm.apply(x, mask=pt.matrix("m", shape=(4, 3)))
    with pytest.raises(ValueError, match=r"'mask'.*batch length 2 does not match"):
        lstm.apply(x, mask=pt.matrix("m", shape=(5, 2)))


@pytest.mark.numba
def test_fused_gru_under_numba():
    """The fused op and its gradient compile in a Numba graph and compute what they do in
    Python (checked against scan and numpy elsewhere)."""
    gru = make("gru")
    inputs = sequence_inputs("gru")
    states = gru.apply(**inputs, mask=pt.as_tensor_variable(MASK), reverse=True)
    outputs = [states] + pytensor.grad(states.sum(), [gru.state_to_gates, inputs["inputs"]])
    function = pytensor.function(list(inputs.values()), outputs)
    assert any(type(node.op).__name__ == "FusedRecurrentGrad"
               for node in function.maker.fgraph.apply_nodes)
    data = input_values("gru")
    results = function(*data.values())
    p = values(gru)
    h0 = np.ones((B, 1), dtype=floatX) * p["initial_state"]
    expected = reference("gru", p, data, h0, mask=MASK, reverse=True)
    np.testing.assert_allclose(results[0], expected[0], rtol=1e-6, atol=1e-7)
    python = pytensor.function(list(inputs.values()), outputs, mode="FAST_COMPILE")
    for result, wanted in zip(results, python(*data.values())):
        np.testing.assert_allclose(result, wanted, rtol=1e-12, atol=1e-14)
