"""The JAX implementations of the fused attention ops of :mod:`blocks.ops.attention.op`
and their gradients, registered with PyTensor's JAX backend when that backend is loaded.

The loop runs with :func:`jax.lax.scan` (see :mod:`blocks.ops.recurrent.jax_loop`): each
step takes the glimpse below, then makes the transition's step of
:mod:`blocks.ops.recurrent.jax`; these are the steps of the Numba kernels of
:mod:`blocks.ops.attention.kernels`, and the forward ops return the same kept outputs
(the gradient ops receive them).
"""

import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.attention.op import OP_TYPES, visible_outputs
from blocks.ops.recurrent import jax_loop
from blocks.ops.recurrent.jax import kept_outputs, recorded_values, transition_step
from blocks.ops.recurrent.jax_loop import ELEMENTWISE, MaskedSoftmax

_TANH = ELEMENTWISE["tanh"]


def attention_step(present, transition, n_transition_weights):
    """The step of the attention decoder, for the attended mask `present` (length, batch)
    (ones without one), around the step `transition` of a recurrent transition whose
    weights are the first `n_transition_weights` weights. The glimpse is taken from the
    first carried state; the visible outputs are the carried states, the averages and
    the weights."""
    softmax = MaskedSoftmax(present)

    def step(act, weights, carry, inputs, mask):
        attended, preprocessed, W_state, w_energy = weights[
            n_transition_weights:n_transition_weights + 4]
        distribution = weights[n_transition_weights + 4:]
        # The glimpse, taken from the state before the step.
        match = act("match", _TANH, preprocessed + carry[0] @ W_state)
        attention = act("weights", softmax, (match @ w_energy)[:, :, 0])
        averages = jnp.sum(attention[:, :, None] * attended, axis=0)
        inputs = tuple(x + averages @ W for x, W in zip(inputs, distribution))
        carry, _ = transition(act, weights[:n_transition_weights], carry, inputs, mask)
        return carry, (*carry, averages, attention.T)

    return step


def _split(op, inputs):
    """The inputs of a fused attention op without its masks, the decoder's mask (or
    None) and the attended mask (or None)."""
    n_masks = op.has_mask + op.has_attended_mask
    data, masks = inputs[:len(inputs) - n_masks], list(inputs[len(inputs) - n_masks:])
    mask = masks.pop(0) if op.has_mask else None
    attended_mask = masks.pop(0) if op.has_attended_mask else None
    return data, mask, attended_mask


def _step(op, weights, attended_mask):
    """The step of `op`'s loop, and the names of the recorded activations of each output
    of its transition kept for the gradient."""
    n_transition_weights = len(op.spec.weight_ndims)
    attended = weights[n_transition_weights]
    present = (jnp.ones(attended.shape[:2], attended.dtype) if attended_mask is None
               else attended_mask)
    transition, kept = transition_step(op)
    return attention_step(present, transition, n_transition_weights), kept


def jax_funcify_fused_attention(op, node=None, **kwargs):
    n_sequences, n_states = len(op.spec.sequence_widths), op.spec.states

    def fused_attention(*inputs):
        data, mask, attended_mask = _split(op, inputs)
        sequences = tuple(data[:n_sequences])
        initial = tuple(data[n_sequences:n_sequences + n_states])
        weights = tuple(data[n_sequences + n_states:])
        step, kept = _step(op, weights, attended_mask)
        visible, values = jax_loop.forward(step, weights, initial, sequences, mask,
                                           op.reverse)
        return (*visible, *kept_outputs(kept, values), values["match"])

    return fused_attention


def jax_funcify_fused_attention_grad(op, node=None, **kwargs):
    spec = op.spec
    n_parameters = spec.states + len(spec.weight_ndims) + 4 + len(spec.sequence_widths)
    n_outputs = visible_outputs(spec) + len(spec.kept) + 1

    def fused_attention_grad(*inputs):
        data, mask, attended_mask = _split(op, inputs)
        initial = tuple(data[:spec.states])
        weights = tuple(data[spec.states:n_parameters])
        outputs = data[n_parameters:n_parameters + n_outputs]
        carried, weights_out = tuple(outputs[:spec.states]), outputs[spec.states + 1]
        kept_values, match = outputs[spec.states + 2:-1], outputs[-1]
        visible_grads = tuple(data[n_parameters + n_outputs:])
        step, kept = _step(op, weights, attended_mask)
        values = recorded_values(kept, kept_values)
        values.update(weights=jnp.transpose(weights_out, (0, 2, 1)), match=match)
        return jax_loop.op_input_gradients(
            step, weights, initial, carried, values, visible_grads, spec.sequence_widths,
            mask, op.reverse, op.has_mask)

    return fused_attention_grad


for _forward, _backward in OP_TYPES.values():
    jax_funcify.register(_forward)(jax_funcify_fused_attention)
    jax_funcify.register(_backward)(jax_funcify_fused_attention_grad)
