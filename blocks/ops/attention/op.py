"""The fused attention decoder: a recurrent transition attending to a sequence, the whole
loop one node.

:class:`FusedAttentionSimple`, :class:`FusedAttentionLSTM` and :class:`FusedAttentionGRU`
compute what :class:`~blocks.bricks.attention.AttentionRecurrent` computes over a whole
sequence when its transition is a :class:`~blocks.bricks.recurrent.SimpleRecurrent`, an
:class:`~blocks.bricks.recurrent.LSTM` or a
:class:`~blocks.bricks.recurrent.GatedRecurrent` and its attention the default
:class:`~blocks.bricks.attention.SequenceContentAttention`: the states (and the LSTM's
cells), the weighted averages and the attention weights. Their gradients
(:class:`FusedAttentionSimpleGrad`, :class:`FusedAttentionLSTMGrad`,
:class:`FusedAttentionGRUGrad`) are exact hand-derived backward passes. All run the Numba
kernels of :mod:`blocks.ops.attention.kernels`, under the Numba linker and in Python
modes alike. :class:`~blocks.bricks.attention.AttentionRecurrent` uses them
automatically (see its ``fused`` attribute); the loop built with :func:`pytensor.scan`
remains for every other configuration.

Inputs of a forward op, all of one float dtype, in this order: the transition's
sequences (``inputs (time, batch, dim)``, ``(time, batch, 4 * dim)`` for the LSTM, then
for the GRU ``gate_inputs (time, batch, 2 * dim)``), the initial ``states (batch, dim)``
(and the LSTM's initial ``cells (batch, dim)``), the transition's weights (the simple
transition's ``state_to_state (dim, dim)``; the LSTM's ``W_state (dim, 4 * dim)`` and
its peepholes ``W_cell_to_in, W_cell_to_forget, W_cell_to_out (dim,)``; the GRU's
``state_to_state (dim, dim)`` and ``state_to_gates (dim, 2 * dim)``), the ``attended
(length, batch, attended_dim)``, its preprocessed version ``(length, batch,
match_dim)``, the state transformation ``(dim, match_dim)``, the energy weights
``(match_dim, 1)``, and the weights that distribute the weighted average to each
sequence (``(attended_dim, width of the sequence)``); then the decoder's mask ``(time,
batch)`` and the attended mask ``(length, batch)``, if the op has them. Biases of the
state transformation and of the distribution are added to the preprocessed attended and
to the sequences before the loop.

Outputs: the states (and cells) ``(time, batch, dim)``, the weighted averages ``(time,
batch, attended_dim)`` and the weights ``(time, batch, length)`` of every step (the
glimpses are taken from the states before the step), then outputs kept for the
gradient: the transition's values ``(time, features, batch)`` (the simple transition's
new states before the mask; the LSTM's gates and tanh of its cells; the GRU's gates and
candidates) and the match vectors ``(time, length, batch, match_dim)``.
"""

from collections import namedtuple

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast

from blocks.ops.attention import kernels as attention_kernels
from blocks.ops.kernel_compile import call, canonical
from blocks.ops.recurrent.kernels import ACTIVATIONS
from blocks.ops.recurrent.op import check_inputs, placeholders, visible_gradients

__all__ = ["FusedAttentionGRU", "FusedAttentionGRUGrad", "FusedAttentionSimple",
           "FusedAttentionSimpleGrad", "FusedAttentionLSTM", "FusedAttentionLSTMGrad",
           "fused_attention_states"]

_Kind = namedtuple("_Kind", [
    "sequence_widths",  # the last dimension of each sequence input, in multiples of dim
    "states",  # the number of carried states, (batch, dim) each: states (and cells)
    "weight_ndims",  # the ranks of the transition's weights
    "kept",  # widths, in multiples of dim, of the transition's outputs kept for the
    # gradient, which are (time, width, batch)
    "forward", "backward",
])

KINDS = {
    "simple": _Kind((1,), 1, (2,), (1,), attention_kernels.attention_simple_forward,
                    attention_kernels.attention_simple_backward),
    "gru": _Kind((1, 2), 1, (2, 2), (2, 1), attention_kernels.attention_gru_forward,
                 attention_kernels.attention_gru_backward),
    "lstm": _Kind((4,), 2, (2, 1, 1, 1), (4, 1), attention_kernels.attention_lstm_forward,
                  attention_kernels.attention_lstm_backward),
}

#: The inputs of the glimpse: attended, preprocessed attended, state transformation,
#: energy weights.
_GLIMPSE_NDIMS = (3, 3, 2, 2)


def visible_outputs(spec):
    """The number of visible outputs: the carried states, weighted averages, weights."""
    return spec.states + 2


def _input_ndims(spec):
    """The ranks of a forward op's inputs before the masks."""
    n_sequences = len(spec.sequence_widths)
    return ((3,) * n_sequences + (2,) * spec.states + spec.weight_ndims + _GLIMPSE_NDIMS
            + (2,) * n_sequences)


def _attended_index(spec):
    """The position of the attended among a forward op's inputs."""
    return len(spec.sequence_widths) + spec.states + len(spec.weight_ndims)


def attention_kernel_arguments(backward, kind, activation, has_mask, has_attended_mask,
                               reverse, inputs):
    """The forward (or backward) kernel of `kind` and its arguments, for the inputs of the
    op's node; the arrays :func:`~blocks.ops.kernel_compile.canonical`."""
    spec = KINDS[kind]
    n_masks = has_mask + has_attended_mask
    data = [canonical(x) for x in inputs[:len(inputs) - n_masks]]
    masks = list(inputs[len(inputs) - n_masks:])
    empty = np.empty((0, 0), dtype=data[0].dtype)
    # Copies: a constant mask is read-only.
    mask = np.array(masks.pop(0)) if has_mask else empty
    attended_mask = np.array(masks.pop(0)) if has_attended_mask else empty
    kernel = spec.backward if backward else spec.forward
    return kernel, (mask, has_mask, attended_mask, has_attended_mask, reverse,
                    ACTIVATIONS[activation], *data)


def run_attention_kernel(backward, kind, activation, has_mask, has_attended_mask, reverse,
                         inputs):
    """Run the forward (or backward) kernel of `kind` on the inputs of the op's node."""
    spec = KINDS[kind]
    kernel, arguments = attention_kernel_arguments(backward, kind, activation, has_mask,
                                                   has_attended_mask, reverse, inputs)
    results = call(kernel, *arguments)
    n_inputs = len(_input_ndims(spec))
    return tuple(results[:n_inputs + has_mask]) if backward else tuple(results)


class _FusedAttentionOp(Op):
    __props__ = ("has_mask", "has_attended_mask", "reverse")
    #: The transition: a key of KINDS.
    kind = None
    activation = "tanh"
    _backward = False

    def __init__(self, has_mask=False, has_attended_mask=False, reverse=False):
        self.has_mask = bool(has_mask)
        self.has_attended_mask = bool(has_attended_mask)
        self.reverse = bool(reverse)

    @property
    def spec(self):
        return KINDS[self.kind]

    @property
    def run_arguments(self):
        """The arguments of :func:`run_attention_kernel` before the inputs."""
        return (self._backward, self.kind, self.activation, self.has_mask,
                self.has_attended_mask, self.reverse)

    def kernel_requests(self, node):
        """The kernel `node` will call and arguments of its signature (see
        :func:`blocks.ops.kernel_compile.prefetch_graph`)."""
        return [attention_kernel_arguments(*self.run_arguments, placeholders(node))]

    def perform(self, node, inputs, output_storage):
        results = run_attention_kernel(*self.run_arguments, inputs)
        for storage, result in zip(output_storage, results):
            storage[0] = result

    def _inputs(self, inputs, ndims):
        inputs = [pt.as_tensor_variable(v) for v in inputs]
        expected = len(ndims) + self.has_mask + self.has_attended_mask
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs, got {len(inputs)}")
        check_inputs(self, inputs, tuple(ndims) + (2,) * (expected - len(ndims)))
        return inputs

    def _masks(self, inputs):
        n_masks = self.has_mask + self.has_attended_mask
        return inputs[len(inputs) - n_masks:]

    def __str__(self):
        flags = [flag for flag, on in (("mask", self.has_mask),
                                       ("attended_mask", self.has_attended_mask),
                                       ("reverse", self.reverse)) if on]
        if "activation" in self.__props__:
            flags.insert(0, self.activation)
        return f"{type(self).__name__}{{{', '.join(flags)}}}"


class _WithActivation(_FusedAttentionOp):
    """The simple transition's ops: the activation is a property."""

    __props__ = ("activation", "has_mask", "has_attended_mask", "reverse")
    kind = "simple"
    # PyTensor defines a __str__ for every class that lists __props__.
    __str__ = _FusedAttentionOp.__str__

    def __init__(self, activation="tanh", has_mask=False, has_attended_mask=False,
                 reverse=False):
        if activation not in ACTIVATIONS:
            raise ValueError(f"{type(self).__name__}: unsupported activation {activation!r}; "
                             f"supported: {sorted(ACTIVATIONS)}")
        self.activation = activation
        super().__init__(has_mask, has_attended_mask, reverse)


def _output_shapes(spec, n_steps, batch, dim, length, attended_dim, match_dim):
    def times(n, value):
        return None if value is None else n * value

    return ([(n_steps, batch, dim)] * spec.states
            + [(n_steps, batch, attended_dim), (n_steps, batch, length)]
            + [(n_steps, times(width, dim), batch) for width in spec.kept]
            + [(n_steps, length, batch, match_dim)])


def _dimensions(spec, shapes):
    """(time, batch, dim, length, attended_dim, match_dim) from the shapes of a forward
    op's inputs."""
    n_steps, batch = shapes[0][:2]
    dim = shapes[len(spec.sequence_widths)][1]
    attended = _attended_index(spec)
    length, _, attended_dim = shapes[attended]
    return n_steps, batch, dim, length, attended_dim, shapes[attended + 1][2]


class _FusedAttentionGradOp(_FusedAttentionOp):
    """Inputs: the forward op's inputs from the initial states on (not the sequences), its
    outputs, the gradients of its three visible outputs, then the masks. Outputs: the
    gradients of the forward op's inputs, in their order, the decoder's mask included;
    not the attended mask's, which is zero."""

    _backward = True

    def _n_parameters(self):
        return len(_input_ndims(self.spec)) - len(self.spec.sequence_widths)

    def make_node(self, *inputs):
        spec = self.spec
        parameter_ndims = _input_ndims(spec)[len(spec.sequence_widths):]
        visible = visible_outputs(spec)
        output_ndims = (3,) * (visible + len(spec.kept)) + (4,)
        inputs = self._inputs(inputs, parameter_ndims + output_ndims + (3,) * visible)
        n_parameters = len(parameter_ndims)
        states = inputs[n_parameters]
        n_steps, batch, dim = states.type.shape
        sequences = [pt.tensor(dtype=states.dtype,
                               shape=(n_steps, batch, None if dim is None else width * dim))
                     for width in spec.sequence_widths]
        parameters = [v.type() for v in inputs[:n_parameters]]
        mask = [self._masks(inputs)[0].type()] if self.has_mask else []
        return Apply(self, inputs, sequences + parameters + mask)

    def infer_shape(self, fgraph, node, input_shapes):
        n_parameters = self._n_parameters()
        n_steps, batch, dim = input_shapes[n_parameters]
        sequences = [(n_steps, batch, width * dim) for width in self.spec.sequence_widths]
        mask = [self._masks(input_shapes)[0]] if self.has_mask else []
        return sequences + list(input_shapes[:n_parameters]) + mask

    def pullback(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"{self}: second derivatives through the fused attention loop are not "
            f"implemented; set the AttentionRecurrent brick's `fused` attribute to False to "
            f"build the loop with scan")


class _FusedAttentionForwardOp(_FusedAttentionOp):
    #: The op of the gradient.
    gradient_type = None

    def make_node(self, *inputs):
        spec = self.spec
        inputs = self._inputs(inputs, _input_ndims(spec))
        shapes = _output_shapes(spec, *_dimensions(spec, [v.type.shape for v in inputs]))
        outputs = [pt.tensor(dtype=inputs[0].dtype, shape=shape) for shape in shapes]
        return Apply(self, inputs, outputs)

    def infer_shape(self, fgraph, node, input_shapes):
        return _output_shapes(self.spec, *_dimensions(self.spec, input_shapes))

    def pullback(self, inputs, outputs, output_grads):
        grads = visible_gradients(self, outputs, output_grads, visible_outputs(self.spec))
        masks = self._masks(inputs)
        parameters = inputs[len(self.spec.sequence_widths):len(inputs) - len(masks)]
        backward = self.gradient_type(*[getattr(self, name) for name in self.__props__])
        results = backward(*parameters, *outputs, *grads, *masks, return_list=True)
        # The attended mask only selects elements: its gradient is zero.
        return results + [pt.zeros_like(mask) for mask in masks[self.has_mask:]]


class FusedAttentionGRUGrad(_FusedAttentionGradOp):
    """The gradient of :class:`FusedAttentionGRU` with respect to its inputs (see
    :mod:`blocks.ops.attention.op`)."""

    kind = "gru"


class FusedAttentionLSTMGrad(_FusedAttentionGradOp):
    """The gradient of :class:`FusedAttentionLSTM` with respect to its inputs (see
    :mod:`blocks.ops.attention.op`)."""

    kind = "lstm"


class FusedAttentionSimpleGrad(_WithActivation, _FusedAttentionGradOp):
    """The gradient of :class:`FusedAttentionSimple` with respect to its inputs (see
    :mod:`blocks.ops.attention.op`)."""


class FusedAttentionGRU(_FusedAttentionForwardOp):
    """The loop of a GRU that attends to a sequence, over a whole sequence of inputs.

    Parameters
    ----------
    has_mask : bool
        Whether the decoder's mask ``(time, batch)`` follows the inputs.
    has_attended_mask : bool
        Whether the attended's mask ``(length, batch)`` comes next.
    reverse : bool
        Process the steps from the last to the first; outputs in processing order.

    Notes
    -----
    Inputs: ``inputs, gate_inputs, states, state_to_state, state_to_gates, attended,
    preprocessed_attended, state_transformation, energy_weights, distribute_to_inputs,
    distribute_to_gates``, then the masks; outputs: ``states, weighted_averages,
    weights``, then the gates, the candidates and the match vectors, kept for the
    gradient. Shapes: see :mod:`blocks.ops.attention.op`.

    Examples
    --------
    With zero weights the attention averages the attended uniformly, and nothing reaches
    the states:

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

    kind = "gru"
    gradient_type = FusedAttentionGRUGrad


class FusedAttentionSimple(_WithActivation, _FusedAttentionForwardOp):
    """The loop of a simple recurrent transition that attends to a sequence:
    ``h_t = f(x_t + averages_t @ distribute_to_inputs + h_{t-1} @ state_to_state)``, the
    glimpse ``averages_t`` taken from ``h_{t-1}``.

    Parameters
    ----------
    activation : str
        ``f``: ``'tanh'``, ``'logistic'``, ``'identity'`` or ``'rectifier'``.
    has_mask, has_attended_mask, reverse : bool
        As for :class:`FusedAttentionGRU`.

    Notes
    -----
    Inputs: ``inputs, states, state_to_state, attended, preprocessed_attended,
    state_transformation, energy_weights, distribute_to_inputs``, then the masks;
    outputs: ``states, weighted_averages, weights``, then the new states before the mask
    and the match vectors, kept for the gradient. Shapes: see
    :mod:`blocks.ops.attention.op`.

    Examples
    --------
    With the identity, zero inputs and zero recurrent weights, a state is the weighted
    average of the attended, here uniform, distributed by the identity:

    >>> dim, length, match_dim = 2, 3, 4
    >>> attended = np.arange(length * dim, dtype=float).reshape(length, 1, dim)
    >>> zeros = [np.zeros((2, 1, dim)), np.zeros((1, dim)), np.zeros((dim, dim))]
    >>> glimpse = [np.zeros((length, 1, match_dim)), np.zeros((dim, match_dim)),
    ...            np.zeros((match_dim, 1))]
    >>> op = FusedAttentionSimple('identity')
    >>> states, averages, weights = op(*zeros, attended, *glimpse, np.eye(dim))[:3]
    >>> states.eval()[:, 0]
    array([[2., 3.],
           [2., 3.]])
    """

    gradient_type = FusedAttentionSimpleGrad


class FusedAttentionLSTM(_FusedAttentionForwardOp):
    """The loop of an LSTM (with peepholes) that attends to a sequence from its states.

    Parameters
    ----------
    has_mask, has_attended_mask, reverse : bool
        As for :class:`FusedAttentionGRU`.

    Notes
    -----
    Inputs: ``inputs, states, cells, W_state, W_cell_to_in, W_cell_to_forget,
    W_cell_to_out, attended, preprocessed_attended, state_transformation,
    energy_weights, distribute_to_inputs``, then the masks; outputs: ``states, cells,
    weighted_averages, weights``, then the gates, tanh of the cells and the match
    vectors, kept for the gradient. Shapes: see :mod:`blocks.ops.attention.op`.

    Examples
    --------
    With zero weights and inputs, every gate is one half and the cells stay zero:

    >>> dim, length, match_dim = 2, 3, 4
    >>> attended = np.ones((length, 1, 5))
    >>> zeros = [np.zeros((2, 1, 4 * dim)), np.zeros((1, dim)), np.zeros((1, dim)),
    ...          np.zeros((dim, 4 * dim))] + [np.zeros(dim)] * 3
    >>> glimpse = [np.zeros((length, 1, match_dim)), np.zeros((dim, match_dim)),
    ...            np.zeros((match_dim, 1)), np.zeros((5, 4 * dim))]
    >>> states, cells, averages, weights = FusedAttentionLSTM()(*zeros, attended,
    ...                                                         *glimpse)[:4]
    >>> cells.eval()[:, 0], averages.eval()[0, 0]
    (array([[0., 0.],
           [0., 0.]]), array([1., 1., 1., 1., 1.]))
    """

    kind = "lstm"
    gradient_type = FusedAttentionLSTMGrad


#: The forward and gradient ops of each kind.
OP_TYPES = {"simple": (FusedAttentionSimple, FusedAttentionSimpleGrad),
            "lstm": (FusedAttentionLSTM, FusedAttentionLSTMGrad),
            "gru": (FusedAttentionGRU, FusedAttentionGRUGrad)}


def fused_attention_states(kind, sequences, states, transition_weights, attended,
                           preprocessed_attended, glimpse_weights, distribution_weights,
                           mask=None, attended_mask=None, reverse=False, activation="tanh"):
    """The states (and cells), weighted averages and weights of a fused attention loop.

    All inputs are cast to their common float dtype; None is returned when it is not
    float32 or float64.

    Parameters
    ----------
    kind : {'simple', 'lstm', 'gru'}
    sequences : list of TensorVariable
        ``[inputs]``, or ``[inputs, gate_inputs]`` for ``'gru'``; time-major.
    states : list of TensorVariable
        The initial states ``(batch, dim)``, and cells for ``'lstm'``.
    transition_weights : list of TensorVariable
        The transition's weights, in the order of the op's inputs.
    attended, preprocessed_attended : TensorVariable
        ``(length, batch, attended_dim)`` and ``(length, batch, match_dim)``.
    glimpse_weights : list of TensorVariable
        The state transformation ``(dim, match_dim)`` and the energy weights
        ``(match_dim, 1)``.
    distribution_weights : list of TensorVariable
        The weights that distribute the weighted averages to each sequence.
    mask, attended_mask : TensorVariable, optional
        ``(time, batch)`` and ``(length, batch)``.
    activation : str
        The simple transition's activation (see :class:`FusedAttentionSimple`).
    """
    variables = [pt.as_tensor_variable(v) for v in (
        *sequences, *states, *transition_weights, attended, preprocessed_attended,
        *glimpse_weights, *distribution_weights)]
    dtype = upcast(*[v.dtype for v in variables])
    if dtype not in ("float32", "float64"):
        return None
    masks = [pt.as_tensor_variable(m) for m in (mask, attended_mask) if m is not None]
    variables = [v if v.dtype == dtype else v.astype(dtype) for v in variables + masks]
    flags = {"has_mask": mask is not None, "has_attended_mask": attended_mask is not None,
             "reverse": reverse}
    if kind == "simple":
        flags["activation"] = activation
    op = OP_TYPES[kind][0](**flags)
    return op(*variables, return_list=True)[:visible_outputs(op.spec)]
