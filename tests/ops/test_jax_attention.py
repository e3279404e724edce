"""The fused attention decoder under PyTensor's JAX backend: every output and gradient
equals the Numba kernels' (run under FAST_COMPILE), for the op, the AttentionRecurrent
brick and the SequenceGenerator that uses it."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

jax = pytest.importorskip("jax")

from blocks.ops.attention.op import FusedAttentionGRU, FusedAttentionGRUGrad  # noqa: E402
from tests.ops.jax_parity import (  # noqa: E402, F401
    assert_jax_equals_reference,
    assert_runs_in_jax,
    jax_float64,
    ragged_mask,
)
from tests.ops.test_attention_fused import (  # noqa: E402
    ATTENDED_DIM,
    DIM,
    attention_generator,
    by_name,
    decoder,
    symbolic,
)
from tests.ops.test_attention_fused import op_values as fused_op_values  # noqa: E402

# (time, batch, length of the attended, lengths of the decoded sequences, lengths of the
# attended): ragged lengths, an example with nothing to attend to, batch 1, time 1.
SHAPES = [(5, 3, 6, (5, 2, 4), (0, 6, 3)), (4, 1, 3, (3,), (2,)), (1, 2, 2, (1, 0), (2, 1))]


def op_values(n_steps, batch, length, lengths, attended_lengths, dtype):
    """Random inputs of FusedAttentionGRU, in their order, and the two masks, ragged."""
    values, _, _ = fused_op_values(0, dtype, n_steps, batch, length)
    return values, [ragged_mask(lengths, n_steps, dtype),
                    ragged_mask(attended_lengths, length, dtype)]


def op_graph(op, values, seed=1):
    """Symbolic inputs, every output of `op`, then the gradients of a cost of its visible
    outputs with respect to every input."""
    inputs = [pt.tensor(dtype=v.dtype, shape=(None,) * v.ndim) for v in values]
    outputs = op(*inputs, return_list=True)
    n_steps, batch = values[0].shape[:2]
    length, _, attended_dim = values[5].shape
    rng = np.random.default_rng(seed)
    cost = sum((output * rng.normal(size=(n_steps, batch, width)).astype(output.dtype)).sum()
               for output, width in zip(outputs[:3], (DIM, attended_dim, length)))
    return inputs, outputs + pytensor.grad(cost, inputs)


FLAGS = [(False, False, False), (True, False, True), (False, True, False), (True, True, True)]


@pytest.mark.parametrize("has_mask, has_attended_mask, reverse", FLAGS)
def test_op_outputs_and_gradients_equal_the_numba_kernels(has_mask, has_attended_mask,
                                                          reverse):
    values, masks = op_values(*SHAPES[0], "float64")
    values += [m for m, on in zip(masks, (has_mask, has_attended_mask)) if on]
    inputs, outputs = op_graph(FusedAttentionGRU(has_mask, has_attended_mask, reverse), values)
    function = assert_jax_equals_reference(inputs, outputs, values, "float64")
    assert_runs_in_jax(function, values, [FusedAttentionGRU, FusedAttentionGRUGrad])


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_op_in_float32_on_batch_1_and_time_1(shape):
    values, masks = op_values(*shape, "float32")
    inputs, outputs = op_graph(FusedAttentionGRU(True, True, reverse=True), values + masks)
    assert_jax_equals_reference(inputs, outputs, values + masks, "float32")


def test_nothing_to_attend_to_gives_zero_weights_and_gradients():
    values, masks = op_values(*SHAPES[0], "float64")
    inputs, outputs = op_graph(FusedAttentionGRU(True, True), values + masks)
    results = pytensor.function(inputs, outputs, mode="JAX")(*values + masks)
    weights, attended_gradient = results[2], results[6 + 5]
    assert np.isfinite(np.concatenate([np.ravel(r) for r in results])).all()
    assert not weights[:, 0].any()
    np.testing.assert_allclose(weights[:, 1:].sum(axis=2), 1, rtol=1e-12)
    assert not attended_gradient[:, 0].any()
    # The attended mask selects: masked elements get no weight and no gradient.
    masked = masks[1] == 0
    assert not weights.transpose(0, 2, 1)[:, masked].any()
    assert not attended_gradient[masked].any()


def brick_values(n_steps, batch, length, lengths, attended_lengths, dtype, seed=2):
    rng = np.random.default_rng(seed)
    return {"inputs": rng.normal(size=(n_steps, batch, DIM)).astype(dtype),
            "gate_inputs": rng.normal(size=(n_steps, batch, 2 * DIM)).astype(dtype),
            "attended": rng.normal(size=(length, batch, ATTENDED_DIM)).astype(dtype),
            "mask": ragged_mask(lengths, n_steps, dtype),
            "attended_mask": ragged_mask(attended_lengths, length, dtype)}


@pytest.mark.parametrize("dtype, reverse", [("float64", False), ("float64", True),
                                            ("float32", False)])
def test_attention_recurrent_under_jax_equals_numba(dtype, reverse):
    # The parameters too are of the dtype under test.
    with pytensor.config.change_flags(floatX=dtype):
        brick = decoder(distribute_bias=True, state_bias=True)
    variables = symbolic(brick_values(*SHAPES[0], dtype))
    states, averages, weights = brick.apply(reverse=reverse, **variables)
    assert states.dtype == dtype
    cost = ((states ** 2).sum() + (averages * np.arange(ATTENDED_DIM)).sum()
            + (weights ** 2).sum())
    wrt = by_name(cost) + [variables[name] for name in ("inputs", "gate_inputs", "attended",
                                                        "mask")]
    outputs = [o.astype(dtype) for o in [states, averages, weights]
               + pytensor.grad(cost, wrt)]
    inputs = list(variables.values())
    # Each shape is one more XLA compilation: float32 on the ragged one only.
    for shape in SHAPES if dtype == "float64" else SHAPES[:1]:
        values = list(brick_values(*shape, dtype).values())
        function = assert_jax_equals_reference(inputs, outputs, values, dtype,
                                               check_dtypes=False)
    assert_runs_in_jax(function, values, [FusedAttentionGRU, FusedAttentionGRUGrad])


def test_sequence_generator_transition_under_jax_equals_numba():
    # The AttentionRecurrent that SequenceGenerator builds around its GatedRecurrent. (The
    # generator's cost itself does not compile under JAX: its cross-entropy selects the
    # targets' entries with an arange of a length known at run time only.)
    transition = attention_generator().transition
    variables = symbolic(brick_values(*SHAPES[0], "float64"))
    states, averages, weights = transition.apply(**variables)
    cost = (states ** 2).sum() + averages.sum() + (weights ** 3).sum()
    inputs = list(variables.values())
    outputs = [states, averages, weights] + pytensor.grad(cost, by_name(cost) + inputs[:3])
    values = list(brick_values(*SHAPES[0], "float64").values())
    function = assert_jax_equals_reference(inputs, outputs, values, "float64")
    assert_runs_in_jax(function, values, [FusedAttentionGRU, FusedAttentionGRUGrad])
