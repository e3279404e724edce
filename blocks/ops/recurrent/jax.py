"""The JAX implementations of :class:`~blocks.ops.recurrent.op.FusedRecurrent` and its
gradient, registered with PyTensor's JAX backend when that backend is loaded.

The loops run with :func:`jax.lax.scan` (see :mod:`blocks.ops.recurrent.jax_loop`); the
steps below define the same transitions as the Numba kernels of
:mod:`blocks.ops.recurrent.kernels`, and return the same kept outputs (the gradient op
receives them).
"""

import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.recurrent import jax_loop
from blocks.ops.recurrent.jax_loop import ELEMENTWISE, keep
from blocks.ops.recurrent.op import FusedRecurrent, FusedRecurrentGrad

TANH, LOGISTIC = ELEMENTWISE["tanh"], ELEMENTWISE["logistic"]


def simple_step(activation):
    """h = f(x + h W)."""
    def step(act, weights, carry, inputs, mask):
        (W,), (h,), (x,) = weights, carry, inputs
        new = act("new", activation, x + h @ W)
        h = keep(mask, new, h)
        return (h,), (h,)

    return step


def lstm_step(act, weights, carry, inputs, mask):
    """The LSTM with peepholes; gates ordered input, forget, cells, output."""
    (W, w_in, w_forget, w_out), (h, c), (x,) = weights, carry, inputs
    dim = h.shape[1]
    a = x + h @ W
    i = act("in", LOGISTIC, a[:, :dim] + c * w_in)
    f = act("forget", LOGISTIC, a[:, dim:2 * dim] + c * w_forget)
    candidate = act("candidate", TANH, a[:, 2 * dim:3 * dim])
    new_cells = f * c + i * candidate
    o = act("out", LOGISTIC, a[:, 3 * dim:] + new_cells * w_out)
    new_states = o * act("tanh_cells", TANH, new_cells)
    carry = (keep(mask, new_states, h), keep(mask, new_cells, c))
    return carry, carry


def gru_step(act, weights, carry, inputs, mask):
    """The gated recurrent unit; gate inputs ordered update, reset."""
    (U, Ug), (h,), (x, gx) = weights, carry, inputs
    dim = h.shape[1]
    gates = act("gates", LOGISTIC, gx + h @ Ug)
    update, reset = gates[:, :dim], gates[:, dim:]
    candidate = act("candidates", TANH, x + (h * reset) @ U)
    h = keep(mask, update * candidate + (1 - update) * h, h)
    return (h,), (h,)


# Per kind: the step, and the names of the recorded activations that make up each kept
# output, concatenated along the features.
_STEPS = {
    "simple": (simple_step, (("new",),)),
    "lstm": (lstm_step, (("in", "forget", "candidate", "out"), ("tanh_cells",))),
    "gru": (gru_step, (("gates",), ("candidates",))),
}


def transition_step(op):
    """The step of the transition of `op` (with ``kind`` and ``activation`` attributes),
    and the names of the recorded activations of each of its kept outputs."""
    step, kept = _STEPS[op.kind]
    return (step(ELEMENTWISE[op.activation]) if op.kind == "simple" else step), kept


def _split(op, inputs):
    """The inputs of a fused op without its mask, and the mask (or None)."""
    mask = inputs[-1] if op.has_mask else None
    if op.has_mask:
        inputs = inputs[:-1]
    return inputs, mask


def kept_outputs(kept, values):
    """The kept outputs, feature-major, from the recorded activations."""
    return [jax_loop.to_feature_major(jnp.concatenate([values[name] for name in names],
                                                      axis=2))
            for names in kept]


def recorded_values(kept, outputs):
    """The recorded activations, by name, from the kept outputs."""
    values = {}
    for names, output in zip(kept, outputs):
        output = jax_loop.from_feature_major(output)
        width = output.shape[2] // len(names)
        for k, name in enumerate(names):
            values[name] = output[:, :, k * width:(k + 1) * width]
    return values


@jax_funcify.register(FusedRecurrent)
def jax_funcify_fused_recurrent(op, node=None, **kwargs):
    spec = op.spec
    step, kept = transition_step(op)

    def fused_recurrent(*inputs):
        inputs, mask = _split(op, inputs)
        sequences = tuple(inputs[:spec.sequences])
        initial = tuple(inputs[spec.sequences:spec.sequences + spec.visible])
        weights = tuple(inputs[spec.sequences + spec.visible:])
        visible, values = jax_loop.forward(step, weights, initial, sequences, mask,
                                           op.reverse)
        return (*visible, *kept_outputs(kept, values))

    return fused_recurrent


@jax_funcify.register(FusedRecurrentGrad)
def jax_funcify_fused_recurrent_grad(op, node=None, **kwargs):
    spec = op.spec
    step, kept = transition_step(op)
    n_outputs = spec.visible + len(kept)

    def fused_recurrent_grad(*inputs):
        inputs, mask = _split(op, inputs)
        initial = tuple(inputs[:spec.visible])
        weights = tuple(inputs[spec.visible:spec.parameters])
        outputs = inputs[spec.parameters:spec.parameters + n_outputs]
        visible_grads = tuple(inputs[spec.parameters + n_outputs:])
        visible = tuple(outputs[:spec.visible])
        values = recorded_values(kept, outputs[spec.visible:])
        return jax_loop.op_input_gradients(
            step, weights, initial, visible, values, visible_grads, spec.sequence_widths,
            mask, op.reverse, op.has_mask)

    return fused_recurrent_grad
