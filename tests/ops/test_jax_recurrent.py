"""The fused recurrent ops under PyTensor's JAX backend: every output and gradient equals
the Numba kernels' (run under FAST_COMPILE), op by op and brick by brick."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

jax = pytest.importorskip("jax")

from blocks.bricks import Tanh  # noqa: E402
from blocks.bricks.recurrent import (  # noqa: E402
    LSTM,
    Bidirectional,
    GatedRecurrent,
    SimpleRecurrent,
)
from blocks.initialization import IsotropicGaussian  # noqa: E402
from blocks.model import Model  # noqa: E402
from blocks.ops.recurrent.op import KINDS, FusedRecurrent, FusedRecurrentGrad  # noqa: E402
from tests.ops.jax_parity import (  # noqa: E402, F401
    assert_jax_equals_reference,
    assert_runs_in_jax,
    jax_float64,
    jax_program,
    ragged_mask,
)

DIM = 3
#: The width of the recurrent weights, in multiples of the dimension.
_WEIGHT_WIDTHS = {"simple": 1, "lstm": 4, "gru": 1}
# (time, batch, lengths of the examples under a mask): ragged lengths, batch 1, time 1.
SHAPES = [(5, 3, (5, 2, 4)), (4, 1, (3,)), (1, 2, (1, 0))]


def op_values(kind, n_steps, batch, lengths, has_mask, dtype, seed=0):
    """Random inputs of FusedRecurrent(kind), in their order."""
    rng = np.random.default_rng(seed)
    spec = KINDS[kind]

    def normal(*shape):
        return (0.5 * rng.normal(size=shape)).astype(dtype)

    sequences = [normal(n_steps, batch, w * DIM) for w in spec.sequence_widths]
    initial = [normal(batch, DIM) for _ in range(spec.visible)]
    if kind == "lstm":
        weights = [normal(DIM, 4 * DIM), normal(DIM), normal(DIM), normal(DIM)]
    else:
        weights = [normal(DIM, DIM)] + ([normal(DIM, 2 * DIM)] if kind == "gru" else [])
    mask = [ragged_mask(lengths, n_steps, dtype)] if has_mask else []
    return sequences + initial + weights + mask


def op_graph(op, values, seed=1):
    """Symbolic inputs, and every output of `op` followed by the gradients of a cost of its
    visible outputs with respect to every input."""
    inputs = [pt.tensor(dtype=v.dtype, shape=(None,) * v.ndim) for v in values]
    outputs = op(*inputs, return_list=True)
    rng = np.random.default_rng(seed)
    cost = sum((output * rng.normal(size=values[0].shape[:2] + (DIM,)).astype(v.dtype)).sum()
               for output, v in zip(outputs[:op.spec.visible], values))
    return inputs, outputs + pytensor.grad(cost, inputs)


CONFIGURATIONS = [("simple", activation) for activation in ("tanh", "logistic", "identity",
                                                             "rectifier")]
CONFIGURATIONS += [("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("kind, activation", CONFIGURATIONS)
@pytest.mark.parametrize("has_mask, reverse", [(False, False), (True, False), (False, True),
                                               (True, True)])
def test_op_outputs_and_gradients_equal_the_numba_kernels(kind, activation, has_mask,
                                                          reverse):
    op = FusedRecurrent(kind, activation, has_mask, reverse)
    values = op_values(kind, *SHAPES[0], has_mask, "float64")
    inputs, outputs = op_graph(op, values)
    function = assert_jax_equals_reference(inputs, outputs, values, "float64")
    assert_runs_in_jax(function, values, [FusedRecurrent, FusedRecurrentGrad])


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("shape", SHAPES[1:])
def test_op_in_float32_on_batch_1_and_time_1(kind, shape):
    op = FusedRecurrent(kind, "tanh", has_mask=True, reverse=kind == "gru")
    values = op_values(kind, *shape, True, "float32")
    inputs, outputs = op_graph(op, values)
    assert_jax_equals_reference(inputs, outputs, values, "float32")


def test_fully_masked_steps_keep_the_states_and_get_no_gradient():
    op = FusedRecurrent("gru", has_mask=True)
    values = op_values("gru", 3, 2, (0, 3), True, "float64")
    inputs, outputs = op_graph(op, values)
    results = pytensor.function(inputs, outputs, mode="JAX")(*values)
    states, h0 = results[0], values[2]
    np.testing.assert_array_equal(states[:, 0], np.repeat(h0[None, 0], 3, axis=0))
    input_gradients = results[3:5]
    for gradient in input_gradients:
        assert not gradient[:, 0].any()


# Bricks: the values of their outputs, and the gradients of a cost with respect to their
# parameters (the initial states included) and inputs.


def randomized(cost, seed=2):
    """Random values for the parameters of `cost` (the initial states, zeros by default,
    included); returns them in the order of their names."""
    parameters = [p for _, p in sorted(Model(cost).get_parameter_dict().items())]
    rng = np.random.default_rng(seed)
    for parameter in parameters:
        value = parameter.get_value()
        parameter.set_value((0.5 * rng.normal(size=value.shape)).astype(value.dtype))
    return parameters


def brick_case(name, dtype):
    """A brick, its symbolic inputs and its outputs."""
    x = pt.tensor3("x", dtype=dtype)
    mask = pt.matrix("mask", dtype=dtype)
    if name == "simple":
        brick = SimpleRecurrent(dim=DIM, activation=Tanh())
        outputs = [brick.apply(x, mask=mask)]
        widths = [1]
    elif name == "lstm":
        brick = LSTM(dim=DIM)
        outputs = list(brick.apply(x, mask=mask))
        widths = [4]
    elif name == "gru":
        brick = GatedRecurrent(dim=DIM)
        gx = pt.tensor3("gate_inputs", dtype=dtype)
        outputs = [brick.apply(x, gx, mask=mask)]
        widths = [1, 2]
    else:
        brick = Bidirectional(SimpleRecurrent(dim=DIM, activation=Tanh()))
        outputs = [brick.apply(x, mask=mask)]
        widths = [1]
    inputs = [x] + ([gx] if name == "gru" else []) + [mask]
    return brick, inputs, outputs, widths


BRICKS = ["simple", "lstm", "gru", "bidirectional"]
#: Every shape in float64; float32 on the ragged one (the op tests above take float32
#: to batch 1 and time 1): each shape is one more XLA compilation.
BRICK_SHAPES = {"float64": SHAPES, "float32": SHAPES[:1]}


@pytest.mark.parametrize("name", BRICKS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bricks_under_jax_equal_numba(name, dtype):
    # The parameters too are of the dtype under test.
    with pytensor.config.change_flags(floatX=dtype):
        brick, inputs, outputs, widths = brick_case(name, dtype)
        brick.weights_init = IsotropicGaussian(0.5)
        brick.initialize()
    assert all(output.dtype == dtype for output in outputs)
    rng = np.random.default_rng(3)
    weights = rng.normal(size=DIM * (1 + (name == "bidirectional"))).astype(dtype)
    cost = sum((output * weights).sum() for output in outputs)
    parameters = randomized(cost)
    outputs += pytensor.grad(cost, parameters + inputs)
    for n_steps, batch, lengths in BRICK_SHAPES[dtype]:
        values = [(0.5 * rng.normal(size=(n_steps, batch, w * DIM))).astype(dtype)
                  for w in widths] + [ragged_mask(lengths, n_steps, dtype)]
        function = assert_jax_equals_reference(inputs, outputs, values, dtype,
                                               check_dtypes=False)
    assert_runs_in_jax(function, values, [FusedRecurrent, FusedRecurrentGrad])


def test_a_gru_training_step_is_one_program_with_two_loops():
    # What a training step compiles under JAX: one program with two loops, the forward
    # and the backward (no unrolling over time).
    brick = GatedRecurrent(dim=DIM, weights_init=IsotropicGaussian(0.5))
    brick.initialize()
    x, gx = pt.tensor3("x"), pt.tensor3("gx")
    cost = (brick.apply(x, gx) ** 2).sum()
    function = pytensor.function([x, gx], pytensor.grad(cost, randomized(cost)), mode="JAX")
    rng = np.random.default_rng(4)
    values = [rng.normal(size=(6, 2, DIM)), rng.normal(size=(6, 2, 2 * DIM))]
    program = jax_program(function, values)
    assert program.count("scan[") == 2
