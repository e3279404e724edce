"""The JAX implementations of :class:`~blocks.ops.attention.op.FusedAttentionGRU` and its
gradient, registered with PyTensor's JAX backend when that backend is loaded.

The loop runs with :func:`jax.lax.scan` (see :mod:`blocks.ops.recurrent.jax_loop`); the
step below is the one of the Numba kernels of :mod:`blocks.ops.attention.kernels`, and the
forward op returns the same kept outputs (the gradient op receives them).
"""

import jax.numpy as jnp
from pytensor.link.jax.dispatch import jax_funcify

from blocks.ops.attention.op import (
    _NOT_SEQUENCES,
    FusedAttentionGRU,
    FusedAttentionGRUGrad,
)
from blocks.ops.recurrent import jax_loop
from blocks.ops.recurrent.jax import gru_transition
from blocks.ops.recurrent.jax_loop import ELEMENTWISE, MaskedSoftmax

_TANH = ELEMENTWISE["tanh"]
#: The outputs after the visible ones, kept for the gradient, by activation name.
_KEPT = ("gates", "candidates", "match")


def attention_gru_step(present):
    """The step of the attention decoder, for the attended mask `present` (length, batch)
    (ones without one)."""
    softmax = MaskedSoftmax(present)

    def step(act, weights, carry, inputs, mask):
        U, Ug, attended, preprocessed, W_state, w_energy, W_in, W_gates = weights
        (h,), (x, gx) = carry, inputs
        # The glimpse, taken from the state before the step.
        match = act("match", _TANH, preprocessed + h @ W_state)
        attention = act("weights", softmax, (match @ w_energy)[:, :, 0])
        averages = jnp.sum(attention[:, :, None] * attended, axis=0)
        h = gru_transition(act, U, Ug, h, x + averages @ W_in, gx + averages @ W_gates, mask)
        return (h,), (h, averages, attention.T)

    return step


def _split(op, inputs):
    """The inputs of a fused attention op without its masks, the decoder's mask (or
    None) and the attended mask (or None)."""
    n_masks = op.has_mask + op.has_attended_mask
    data, masks = inputs[:len(inputs) - n_masks], list(inputs[len(inputs) - n_masks:])
    mask = masks.pop(0) if op.has_mask else None
    attended_mask = masks.pop(0) if op.has_attended_mask else None
    return data, mask, attended_mask


def _step(weights, attended_mask):
    attended = weights[2]
    present = (jnp.ones(attended.shape[:2], attended.dtype) if attended_mask is None
               else attended_mask)
    return attention_gru_step(present)


@jax_funcify.register(FusedAttentionGRU)
def jax_funcify_fused_attention_gru(op, node=None, **kwargs):
    def fused_attention_gru(*inputs):
        data, mask, attended_mask = _split(op, inputs)
        x, gx, h0, *weights = data
        weights = tuple(weights)
        (states, averages, weights_out), values = jax_loop.forward(
            _step(weights, attended_mask), weights, (h0,), (x, gx), mask, op.reverse)
        gates, candidates = (jax_loop.to_feature_major(values[name]) for name in _KEPT[:2])
        return states, averages, weights_out, gates, candidates, values["match"]

    return fused_attention_gru


@jax_funcify.register(FusedAttentionGRUGrad)
def jax_funcify_fused_attention_gru_grad(op, node=None, **kwargs):
    n_outputs = 3 + len(_KEPT)

    def fused_attention_gru_grad(*inputs):
        data, mask, attended_mask = _split(op, inputs)
        h0, *weights = data[:_NOT_SEQUENCES]
        weights = tuple(weights)
        outputs = data[_NOT_SEQUENCES:_NOT_SEQUENCES + n_outputs]
        visible_grads = tuple(data[_NOT_SEQUENCES + n_outputs:])
        states, _, weights_out, gates, candidates, match = outputs
        values = {"weights": jnp.transpose(weights_out, (0, 2, 1)),
                  "gates": jax_loop.from_feature_major(gates),
                  "candidates": jax_loop.from_feature_major(candidates),
                  "match": match}
        dim = h0.shape[1]
        input_grads, (h0_grad,), weight_grads, mask_grads = jax_loop.backward(
            _step(weights, attended_mask), weights, (h0,), (states,), values,
            visible_grads, (dim, 2 * dim), mask, op.reverse)
        return (*input_grads, h0_grad, *weight_grads,
                *([mask_grads] if op.has_mask else []))

    return fused_attention_gru_grad
