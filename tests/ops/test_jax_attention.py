"""The fused attention decoders under PyTensor's JAX backend: every output and gradient
equals the Numba kernels' (run under FAST_COMPILE), for the ops (GRU, simple and LSTM
transitions), the AttentionRecurrent brick and the SequenceGenerator that uses them."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

jax = pytest.importorskip("jax")

from blocks.ops.attention.op import OP_TYPES, FusedAttentionSimple, visible_outputs  # noqa: E402
from tests.ops.jax_parity import (  # noqa: E402, F401
    assert_jax_equals_reference,
    assert_runs_in_jax,
    jax_float64,
    ragged_mask,
)
from tests.ops.test_attention_fused import (  # noqa: E402
    ATTENDED_DIM,
    DIM,
    INPUT_DIMS,
    KINDS,
    OPS,
    attention_generator,
    by_name,
    decoder,
    symbolic,
    visible_cost,
)
from tests.ops.test_attention_fused import op_values as fused_op_values  # noqa: E402

# (time, batch, length of the attended, lengths of the decoded sequences, lengths of the
# attended): ragged lengths, an example with nothing to attend to, batch 1, time 1.
SHAPES = [(5, 3, 6, (5, 2, 4), (0, 6, 3)), (4, 1, 3, (3,), (2,)), (1, 2, 2, (1, 0), (2, 1))]


def op_values(n_steps, batch, length, lengths, attended_lengths, dtype, kind="gru"):
    """Random inputs of the fused op of `kind`, in their order, and the two masks, ragged."""
    values, _, _ = fused_op_values(0, dtype, n_steps, batch, length, kind=kind)
    return values, [ragged_mask(lengths, n_steps, dtype),
                    ragged_mask(attended_lengths, length, dtype)]


def op_graph(op, values, seed=1):
    """Symbolic inputs, every output of `op`, then the gradients of a cost of its visible
    outputs with respect to every input."""
    inputs = [pt.tensor(dtype=v.dtype, shape=(None,) * v.ndim) for v in values]
    outputs = op(*inputs, return_list=True)
    n_steps, batch = values[0].shape[:2]
    length, _, attended_dim = values[OPS[op.kind][1]].shape
    rng = np.random.default_rng(seed)
    widths = (DIM,) * op.spec.states + (attended_dim, length)
    cost = sum((output * rng.normal(size=(n_steps, batch, width)).astype(output.dtype)).sum()
               for output, width in zip(outputs, widths))
    return inputs, outputs + pytensor.grad(cost, inputs)


FLAGS = [(False, False, False), (True, False, True), (False, True, False), (True, True, True)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("has_mask, has_attended_mask, reverse", FLAGS)
def test_op_outputs_and_gradients_equal_the_numba_kernels(kind, has_mask, has_attended_mask,
                                                          reverse):
    values, masks = op_values(*SHAPES[0], "float64", kind=kind)
    values += [m for m, on in zip(masks, (has_mask, has_attended_mask)) if on]
    op = OPS[kind][0](has_mask, has_attended_mask, reverse)
    inputs, outputs = op_graph(op, values)
    function = assert_jax_equals_reference(inputs, outputs, values, "float64")
    assert_runs_in_jax(function, values, OP_TYPES[kind])


@pytest.mark.parametrize("activation", ["logistic", "identity", "rectifier"])
def test_simple_op_activations_equal_the_numba_kernels(activation):
    values, masks = op_values(*SHAPES[0], "float64", kind="simple")
    inputs, outputs = op_graph(FusedAttentionSimple(activation, True, True), values + masks)
    assert_jax_equals_reference(inputs, outputs, values + masks, "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES[1:])
def test_op_in_float32_on_batch_1_and_time_1(kind, shape):
    values, masks = op_values(*shape, "float32", kind=kind)
    inputs, outputs = op_graph(OPS[kind][0](True, True, True), values + masks)
    assert_jax_equals_reference(inputs, outputs, values + masks, "float32")


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_to_attend_to_gives_zero_weights_and_gradients(kind):
    values, masks = op_values(*SHAPES[0], "float64", kind=kind)
    op, attended, n_outputs = OPS[kind]
    inputs, outputs = op_graph(op(True, True), values + masks)
    results = pytensor.function(inputs, outputs, mode="JAX")(*values + masks)
    weights = results[visible_outputs(op(True, True).spec) - 1]
    attended_gradient = results[n_outputs + attended]
    assert np.isfinite(np.concatenate([np.ravel(r) for r in results])).all()
    assert not weights[:, 0].any()
    np.testing.assert_allclose(weights[:, 1:].sum(axis=2), 1, rtol=1e-12)
    assert not attended_gradient[:, 0].any()
    # The attended mask selects: masked elements get no weight and no gradient.
    masked = masks[1] == 0
    assert not weights.transpose(0, 2, 1)[:, masked].any()
    assert not attended_gradient[masked].any()


def brick_values(n_steps, batch, length, lengths, attended_lengths, dtype, seed=2,
                 kind="gru"):
    rng = np.random.default_rng(seed)
    values = {"inputs": rng.normal(size=(n_steps, batch, INPUT_DIMS[kind])).astype(dtype),
              "gate_inputs": rng.normal(size=(n_steps, batch, 2 * DIM)).astype(dtype),
              "attended": rng.normal(size=(length, batch, ATTENDED_DIM)).astype(dtype),
              "mask": ragged_mask(lengths, n_steps, dtype),
              "attended_mask": ragged_mask(attended_lengths, length, dtype)}
    if kind != "gru":
        del values["gate_inputs"]
    return values


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype, reverse", [("float64", False), ("float64", True),
                                            ("float32", False)])
def test_attention_recurrent_under_jax_equals_numba(kind, dtype, reverse):
    # The parameters too are of the dtype under test.
    with pytensor.config.change_flags(floatX=dtype):
        brick = decoder(kind, distribute_bias=True, state_bias=True)
    variables = symbolic(brick_values(*SHAPES[0], dtype, kind=kind))
    visible = brick.apply(reverse=reverse, return_list=True, **variables)
    assert visible[0].dtype == dtype
    cost = visible_cost(visible)
    wrt = by_name(cost) + [variables[name] for name in ("inputs", "gate_inputs", "attended",
                                                        "mask") if name in variables]
    outputs = [o.astype(dtype) for o in visible + pytensor.grad(cost, wrt)]
    inputs = list(variables.values())
    # Each shape is one more XLA compilation: float32 on the ragged one only.
    for shape in SHAPES if dtype == "float64" else SHAPES[:1]:
        values = list(brick_values(*shape, dtype, kind=kind).values())
        function = assert_jax_equals_reference(inputs, outputs, values, dtype,
                                               check_dtypes=False)
    assert_runs_in_jax(function, values, OP_TYPES[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_generator_transition_under_jax_equals_numba(kind):
    # The AttentionRecurrent that SequenceGenerator builds around its transition. (The
    # generator's cost itself does not compile under JAX: its cross-entropy selects the
    # targets' entries with an arange of a length known at run time only.)
    transition = attention_generator(kind).transition
    variables = symbolic(brick_values(*SHAPES[0], "float64", kind=kind))
    visible = transition.apply(return_list=True, **variables)
    cost = visible_cost(visible) + (visible[-1] ** 3).sum()
    inputs = list(variables.values())
    wrt = by_name(cost) + [variables[name] for name in ("inputs", "gate_inputs", "attended")
                           if name in variables]
    outputs = visible + pytensor.grad(cost, wrt)
    values = list(brick_values(*SHAPES[0], "float64", kind=kind).values())
    function = assert_jax_equals_reference(inputs, outputs, values, "float64")
    assert_runs_in_jax(function, values, OP_TYPES[kind])
