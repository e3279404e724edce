"""Loops over time in JAX, forward and backward, for the fused recurrent and attention ops.

A fused op's loop is described once, by a *step*: a function ``step(act, weights, carry,
inputs, mask)`` of one step's carried states, one step's slices of the sequences and of
the mask (or None), that returns the new carried states and the step's visible outputs,
calling ``act(name, activation, pre_activation)`` for each of its nonlinearities.

- :func:`forward` runs the step with :func:`jax.lax.scan`, ``act`` applying the
  activations and recording their values, which the op returns for its gradient.
- :func:`backward` computes the gradients exactly from those recorded values, without the
  sequences (the gradient ops do not receive them): it runs the step again, step by step
  from the last, with :class:`KnownActivations`, which return the recorded values and
  have the derivative that those values determine, and takes the step's vector-Jacobian
  product with :func:`jax.vjp`. The sequences enter every step only by being added to a
  pre-activation, so their value does not matter there: zeros stand in for them.

All arrays of a step are ``(batch, features)``, sequences ``(time, batch, features)``;
``reverse`` processes the steps from the last to the first and returns the outputs in
processing order, like the Numba kernels.
"""

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["ELEMENTWISE", "Elementwise", "MaskedSoftmax", "RecordedActivations",
           "KnownActivations", "keep", "forward", "backward", "to_feature_major",
           "from_feature_major"]


class Elementwise:
    """An elementwise activation, with its derivative as a function of its output."""

    def __init__(self, function, derivative):
        self.function = function
        self.derivative = derivative

    def __call__(self, a):
        return self.function(a)

    def tangent(self, y, direction):
        """The derivative at the output `y` applied to the change `direction` of the
        input."""
        return self.derivative(y) * direction


def _rectify(a):
    return jnp.maximum(a, jnp.zeros_like(a))


#: The elementwise activations of the fused ops, by the names the ops use.
ELEMENTWISE = {
    "tanh": Elementwise(jnp.tanh, lambda y: 1 - y * y),
    "logistic": Elementwise(jax.nn.sigmoid, lambda y: y * (1 - y)),
    "identity": Elementwise(lambda a: a, jnp.ones_like),
    "rectifier": Elementwise(_rectify, lambda y: (y > 0).astype(y.dtype)),
}


class MaskedSoftmax:
    """The softmax over the first axis of the elements where `present` is positive: zero
    elsewhere, and zero everywhere for a column with no present element (not NaN).

    Examples
    --------
    >>> present = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    >>> MaskedSoftmax(present)(jnp.zeros((3, 2))).tolist()
    [[0.5, 0.0], [0.5, 0.0], [0.0, 0.0]]
    """

    def __init__(self, present):
        self.present = present

    def __call__(self, energies):
        kept = self.present > 0
        largest = jnp.max(jnp.where(kept, energies, -jnp.inf), axis=0)
        # A column with no present element has no largest energy; any finite shift does.
        largest = jnp.where(jnp.isfinite(largest), largest, jnp.zeros_like(largest))
        exponentials = jnp.where(kept, jnp.exp(energies - largest), 0)
        total = jnp.sum(exponentials, axis=0)
        some = total > 0
        return jnp.where(some, exponentials / jnp.where(some, total, 1), 0)

    def tangent(self, y, direction):
        return y * (direction - jnp.sum(y * direction, axis=0))


class RecordedActivations:
    """Applies the activations, and records their outputs by name."""

    def __init__(self):
        self.values = {}

    def __call__(self, name, activation, pre_activation):
        value = activation(pre_activation)
        self.values[name] = value
        return value


class KnownActivations:
    """Returns the recorded outputs of the activations, with the derivatives these outputs
    determine: ``y + f'(y) (a - a)``, where the difference is exactly zero in value and
    the identity in derivative.

    Examples
    --------
    The value is the recorded one, whatever the pre-activation; the derivative is tanh's
    at that value:

    >>> act = KnownActivations({"h": jnp.float32(0.5)})
    >>> float(act("h", ELEMENTWISE["tanh"], jnp.float32(0.0)))
    0.5
    >>> float(jax.grad(lambda a: act("h", ELEMENTWISE["tanh"], a))(jnp.float32(0.0)))
    0.75
    """

    def __init__(self, values):
        self.values = values

    def __call__(self, name, activation, pre_activation):
        value = self.values[name]
        change = pre_activation - lax.stop_gradient(pre_activation)
        return value + activation.tangent(value, change)


def keep(mask, new, old):
    """The new values where the mask (one value per example) is 1, the old ones where it is
    0; the new values without a mask."""
    if mask is None:
        return new
    m = mask[:, None]
    return m * new + (1 - m) * old


def _in_processing_order(sequences, reverse):
    return jax.tree_util.tree_map(lambda s: s[::-1] if reverse else s, sequences)


def forward(step, weights, initial, sequences, mask, reverse):
    """Run `step` over the sequences.

    Returns the visible outputs and the recorded activations of every step, each stacked
    over time, in processing order.
    """
    def body(carry, slices):
        inputs, m = slices
        act = RecordedActivations()
        carry, visible = step(act, weights, carry, inputs, m)
        return carry, (visible, act.values)

    slices = _in_processing_order((sequences, mask), reverse)
    _, (visible, values) = lax.scan(body, initial, slices)
    return visible, values


def backward(step, weights, initial, carried, values, visible_grads, widths, mask, reverse):
    """The gradients of the loop run by :func:`forward`.

    Parameters
    ----------
    step, weights, initial, mask, reverse
        As given to :func:`forward`.
    carried
        The carried states after every step (time, batch, dim), in processing order.
    values
        The recorded activations of every step, as :func:`forward` returns them.
    visible_grads
        The gradients of the visible outputs of every step, in processing order.
    widths
        The last dimension of each sequence.

    Returns
    -------
    The gradients of the sequences (in their time order), of the initial carried states,
    of the weights and of the mask (None without a mask).
    """
    previous = jax.tree_util.tree_map(
        lambda first, after: jnp.concatenate([first[None], after])[:-1], initial, carried)
    first = jax.tree_util.tree_leaves(initial)[0]
    stand_ins = tuple(jnp.zeros((first.shape[0], width), first.dtype) for width in widths)
    masks = _in_processing_order(mask, reverse)

    def body(grads, slices):
        carry_grads, weight_grads = grads
        carry, step_values, step_visible_grads, m = slices

        def known_step(carry, inputs, weights, m):
            return step(KnownActivations(step_values), weights, carry, inputs, m)

        _, pullback = jax.vjp(known_step, carry, stand_ins, weights, m)
        carry_grads, input_grads, step_weight_grads, mask_grad = pullback(
            (carry_grads, step_visible_grads))
        weight_grads = jax.tree_util.tree_map(jnp.add, weight_grads, step_weight_grads)
        return (carry_grads, weight_grads), (input_grads, mask_grad)

    zeros = (jax.tree_util.tree_map(jnp.zeros_like, initial),
             jax.tree_util.tree_map(jnp.zeros_like, weights))
    (initial_grads, weight_grads), (input_grads, mask_grads) = lax.scan(
        body, zeros, (previous, values, visible_grads, masks), reverse=True)
    input_grads, mask_grads = _in_processing_order((input_grads, mask_grads), reverse)
    return input_grads, initial_grads, weight_grads, mask_grads


def op_input_gradients(step, weights, initial, carried, values, visible_grads,
                       sequence_widths, mask, reverse, has_mask):
    """:func:`backward`'s gradients as a fused op's gradient returns them: sequences,
    initial states, weights, then the mask's where the op has one; `sequence_widths` are
    the sequences' last dimensions in multiples of the state dimension."""
    dim = jax.tree_util.tree_leaves(initial)[0].shape[1]
    input_grads, initial_grads, weight_grads, mask_grads = backward(
        step, weights, initial, carried, values, visible_grads,
        [width * dim for width in sequence_widths], mask, reverse)
    return (*input_grads, *initial_grads, *weight_grads,
            *([mask_grads] if has_mask else []))


def to_feature_major(sequence):
    """(time, batch, features) -> (time, features, batch), the layout of the kept outputs."""
    return jnp.swapaxes(sequence, 1, 2)


from_feature_major = to_feature_major
