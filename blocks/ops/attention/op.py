"""The fused attention decoder: a GRU attending to a sequence, the whole loop one node.

:class:`FusedAttentionGRU` computes what
:class:`~blocks.bricks.attention.AttentionRecurrent` computes over a whole sequence when
its transition is a :class:`~blocks.bricks.recurrent.GatedRecurrent` and its attention
the default :class:`~blocks.bricks.attention.SequenceContentAttention`: the states, the
weighted averages and the attention weights. Its gradient is
:class:`FusedAttentionGRUGrad`, an exact hand-derived backward pass. Both run the Numba
kernels of :mod:`blocks.ops.attention.kernels`, under the Numba linker and in Python
modes alike. :class:`~blocks.bricks.attention.AttentionRecurrent` uses them
automatically (see its ``fused`` attribute); the loop built with :func:`pytensor.scan`
remains for every other configuration.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast

from blocks.ops.attention import kernels as attention_kernels
from blocks.ops.recurrent.op import check_inputs, visible_gradients

__all__ = ["FusedAttentionGRU", "FusedAttentionGRUGrad", "fused_attention_states"]

#: The inputs of the forward op, in order (then the mask and the attended mask, if any).
INPUTS = ("inputs", "gate_inputs", "states", "state_to_state", "state_to_gates",
          "attended", "preprocessed_attended", "state_transformation", "energy_weights",
          "distribute_to_inputs", "distribute_to_gates")
_NDIMS = (3, 3, 2, 2, 2, 3, 3, 2, 2, 2, 2)
#: The number of inputs that are not sequences (time, batch, ...): from the initial states.
_NOT_SEQUENCES = len(INPUTS) - 2
#: The outputs: the results (states, weighted averages, weights), then what the gradient
#: needs (gates, candidates, match vectors).
_VISIBLE = 3


def run_attention_kernel(backward, props, inputs):
    has_mask, has_attended_mask, reverse = props
    n_masks = has_mask + has_attended_mask
    data = list(inputs[:len(inputs) - n_masks])
    masks = list(inputs[len(inputs) - n_masks:])
    empty = np.empty((0, 0), dtype=data[0].dtype)
    # Copies: a constant mask is read-only, a type Numba would compile the kernel for again.
    mask = np.array(masks.pop(0)) if has_mask else empty
    attended_mask = np.array(masks.pop(0)) if has_attended_mask else empty
    kernel = (attention_kernels.attention_gru_backward if backward
              else attention_kernels.attention_gru_forward)
    results = kernel(mask, has_mask, attended_mask, has_attended_mask, reverse, *data)
    return tuple(results[:len(INPUTS) + has_mask]) if backward else tuple(results)


class _FusedAttentionOp(Op):
    __props__ = ("has_mask", "has_attended_mask", "reverse")
    _backward = False

    def __init__(self, has_mask=False, has_attended_mask=False, reverse=False):
        self.has_mask = bool(has_mask)
        self.has_attended_mask = bool(has_attended_mask)
        self.reverse = bool(reverse)

    @property
    def _props_tuple(self):
        return self.has_mask, self.has_attended_mask, self.reverse

    def perform(self, node, inputs, output_storage):
        results = run_attention_kernel(self._backward, self._props_tuple, inputs)
        for storage, result in zip(output_storage, results):
            storage[0] = result

    def _inputs(self, inputs, ndims):
        inputs = [pt.as_tensor_variable(v) for v in inputs]
        expected = len(ndims) + self.has_mask + self.has_attended_mask
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs, got {len(inputs)}")
        check_inputs(self, inputs, tuple(ndims) + (2,) * (expected - len(ndims)))
        return inputs

    def __str__(self):
        flags = [flag for flag, on in (("mask", self.has_mask),
                                       ("attended_mask", self.has_attended_mask),
                                       ("reverse", self.reverse)) if on]
        return f"{type(self).__name__}{{{', '.join(flags)}}}"


def _output_shapes(n_steps, batch, dim, length, attended_dim, match_dim):
    def times(n, value):
        return None if value is None else n * value

    return [(n_steps, batch, dim), (n_steps, batch, attended_dim), (n_steps, batch, length),
            (n_steps, times(2, dim), batch), (n_steps, dim, batch),
            (n_steps, length, batch, match_dim)]


class FusedAttentionGRU(_FusedAttentionOp):
    """The loop of a GRU that attends to a sequence, over a whole sequence of inputs.

    Parameters
    ----------
    has_mask : bool
        Whether the decoder's mask ``(time, batch)`` follows the inputs listed below.
    has_attended_mask : bool
        Whether the attended's mask ``(length, batch)`` comes next.
    reverse : bool
        Process the steps from the last to the first; outputs in processing order.

    Notes
    -----
    Inputs, all of one float dtype: ``inputs (time, batch, dim)``, ``gate_inputs (time,
    batch, 2 * dim)``, the initial ``states (batch, dim)``, the GRU's ``state_to_state
    (dim, dim)`` and ``state_to_gates (dim, 2 * dim)``, the ``attended (length, batch,
    attended_dim)``, its preprocessed version ``(length, batch, match_dim)``, the state
    transformation ``(dim, match_dim)``, the energy weights ``(match_dim, 1)`` and the
    weights that distribute the weighted average to the inputs ``(attended_dim, dim)`` and
    to the gate inputs ``(attended_dim, 2 * dim)``; then the masks. Biases of the state
    transformation and of the distribution are added to the preprocessed attended and to
    the inputs before the loop.

    Outputs: the states ``(time, batch, dim)``, the weighted averages ``(time, batch,
    attended_dim)`` and the weights ``(time, batch, length)`` of every step (the glimpses
    are taken from the state before the step), then three outputs kept for the gradient.

    Examples
    --------
    With zero weights the attention averages the attended uniformly, and nothing reaches
    the states:

    >>> import pytensor.tensor as pt
    >>> dim, length, attended_dim, match_dim = 2, 3, 4, 5
    >>> zeros = [np.zeros((4, 1, dim)), np.zeros((4, 1, 2 * dim)), np.zeros((1, dim)),
    ...          np.zeros((dim, dim)), np.zeros((dim, 2 * dim))]
    >>> attended = np.arange(length * attended_dim, dtype=float).reshape(length, 1, -1)
    >>> weights = [np.zeros((length, 1, match_dim)), np.zeros((dim, match_dim)),
    ...            np.zeros((match_dim, 1)), np.zeros((attended_dim, dim)),
    ...            np.zeros((attended_dim, 2 * dim))]
    >>> states, averages, weights = FusedAttentionGRU()(*zeros, attended, *weights)[:3]
    >>> states.eval().shape, averages.eval()[0, 0], weights.eval()[0, 0]
    ((4, 1, 2), array([4., 5., 6., 7.]), array([0.333..., 0.333..., 0.333...]))
    """

    def make_node(self, *inputs):
        inputs = self._inputs(inputs, _NDIMS)
        x, attended, preprocessed = inputs[0], inputs[5], inputs[6]
        n_steps, batch = x.type.shape[:2]
        dim = inputs[2].type.shape[1]
        length, _, attended_dim = attended.type.shape
        match_dim = preprocessed.type.shape[2]
        outputs = [pt.tensor(dtype=x.dtype, shape=shape) for shape in _output_shapes(
            n_steps, batch, dim, length, attended_dim, match_dim)]
        return Apply(self, inputs, outputs)

    def infer_shape(self, fgraph, node, input_shapes):
        n_steps, batch = input_shapes[0][:2]
        dim = input_shapes[2][1]
        length, _, attended_dim = input_shapes[5]
        match_dim = input_shapes[6][2]
        return _output_shapes(n_steps, batch, dim, length, attended_dim, match_dim)

    def pullback(self, inputs, outputs, output_grads):
        grads = visible_gradients(self, outputs, output_grads, _VISIBLE)
        n_masks = self.has_mask + self.has_attended_mask
        parameters = inputs[2:len(inputs) - n_masks]
        masks = inputs[len(inputs) - n_masks:]
        backward = FusedAttentionGRUGrad(*self._props_tuple)
        results = backward(*parameters, *outputs, *grads, *masks, return_list=True)
        # The attended mask only selects elements: its gradient is zero.
        return results + [pt.zeros_like(mask) for mask in masks[self.has_mask:]]


class FusedAttentionGRUGrad(_FusedAttentionOp):
    """The gradient of :class:`FusedAttentionGRU` with respect to its inputs.

    Inputs: the forward op's inputs from the initial states on (not the sequences), its
    six outputs, the gradients of its three visible outputs, then the masks. Outputs: the
    gradients of the forward op's inputs, in their order, the decoder's mask included;
    not the attended mask's, which is zero.
    """

    _backward = True

    def make_node(self, *inputs):
        inputs = self._inputs(inputs, _NDIMS[2:] + (3, 3, 3, 3, 3, 4, 3, 3, 3))
        states = inputs[_NOT_SEQUENCES]
        dtype = states.dtype
        n_steps, batch, dim = states.type.shape
        sequences = [pt.tensor(dtype=dtype, shape=(n_steps, batch, width))
                     for width in (dim, None if dim is None else 2 * dim)]
        parameters = [v.type() for v in inputs[:_NOT_SEQUENCES]]
        mask = [inputs[len(inputs) - self.has_attended_mask - 1].type()] if self.has_mask \
            else []
        return Apply(self, inputs, sequences + parameters + mask)

    def infer_shape(self, fgraph, node, input_shapes):
        n_steps, batch, dim = input_shapes[_NOT_SEQUENCES]
        parameters = list(input_shapes[:_NOT_SEQUENCES])
        mask = ([input_shapes[len(input_shapes) - self.has_attended_mask - 1]]
                if self.has_mask else [])
        return [(n_steps, batch, dim), (n_steps, batch, 2 * dim)] + parameters + mask

    def pullback(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"{self}: second derivatives through the fused attention loop are not "
            f"implemented; set the AttentionRecurrent brick's `fused` attribute to False to "
            f"build the loop with scan")


def fused_attention_states(inputs, gate_inputs, states, parameters, attended,
                           preprocessed_attended, mask=None, attended_mask=None,
                           reverse=False):
    """The states, weighted averages and weights of a :class:`FusedAttentionGRU` loop.

    All inputs are cast to their common float dtype; None is returned when it is not
    float32 or float64.

    Parameters
    ----------
    inputs, gate_inputs : TensorVariable
        ``(time, batch, dim)`` and ``(time, batch, 2 * dim)``.
    states : TensorVariable
        The initial states ``(batch, dim)``.
    parameters : list of TensorVariable
        ``state_to_state, state_to_gates, state_transformation, energy_weights,
        distribute_to_inputs, distribute_to_gates`` (see :class:`FusedAttentionGRU`).
    attended, preprocessed_attended : TensorVariable
        ``(length, batch, attended_dim)`` and ``(length, batch, match_dim)``.
    mask, attended_mask : TensorVariable, optional
        ``(time, batch)`` and ``(length, batch)``.
    """
    U, Ug, W_state, w_energy, W_in, W_gates = parameters
    variables = [pt.as_tensor_variable(v) for v in (
        inputs, gate_inputs, states, U, Ug, attended, preprocessed_attended, W_state,
        w_energy, W_in, W_gates)]
    dtype = upcast(*[v.dtype for v in variables])
    if dtype not in ("float32", "float64"):
        return None
    masks = [pt.as_tensor_variable(m) for m in (mask, attended_mask) if m is not None]
    variables = [v if v.dtype == dtype else v.astype(dtype) for v in variables + masks]
    op = FusedAttentionGRU(has_mask=mask is not None,
                           has_attended_mask=attended_mask is not None, reverse=reverse)
    return op(*variables, return_list=True)[:_VISIBLE]
