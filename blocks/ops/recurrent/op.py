"""Fused recurrent ops: the whole loop of a standard transition as one graph node.

:class:`FusedRecurrent` computes the states of a :class:`SimpleRecurrent`, :class:`LSTM`
or :class:`GatedRecurrent` over a whole sequence; its gradient is
:class:`FusedRecurrentGrad`, an exact hand-derived backward pass whose weight gradients
are one matrix product over all steps. Both run the Numba kernels of
:mod:`blocks.ops.recurrent.kernels`, under the Numba linker and in Python modes
alike. The bricks use them automatically (see :func:`fused_states`); a loop built with
:func:`pytensor.scan` remains for custom transitions and for cases the ops do not cover.
"""

from collections import namedtuple

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast

from blocks.ops.kernel_compile import call, canonical
from blocks.ops.recurrent import kernels

__all__ = ["FusedRecurrent", "FusedRecurrentGrad", "fused_states", "run_kernel",
           "kernel_arguments", "placeholders", "check_inputs", "visible_gradients"]

_Kind = namedtuple("_Kind", [
    "sequences",  # number of sequence inputs (first inputs)
    "parameters",  # number of inputs after them: initial states and weights
    "visible",  # number of outputs that are results, (time, batch, dim)
    "kept",  # widths, in multiples of dim, of the outputs kept for the gradient, which are
    # (time, width, batch)
    "sequence_widths",  # last dimension of each sequence input, in multiples of dim
    "forward", "backward",
    "checked",  # (sequence, state, weights, multiple): positions in the forward inputs of
    # what kernels.check_shapes checks, and the sequence's width in multiples of dim
])

KINDS = {
    "simple": _Kind(1, 2, 1, (1,), (1,), kernels.simple_forward, kernels.simple_backward,
                    ((0, 1, 2, 1),)),
    "lstm": _Kind(1, 6, 2, (4, 1), (4,), kernels.lstm_forward, kernels.lstm_backward,
                  ((0, 1, 3, 4), (0, 2, 3, 4))),
    "gru": _Kind(2, 3, 1, (2, 1), (1, 2), kernels.gru_forward, kernels.gru_backward,
                 ((0, 2, 3, 1), (1, 2, 4, 2))),
}


def kernel_arguments(backward, kind, activation, has_mask, reverse, inputs):
    """The forward (or backward) kernel of `kind` and its arguments, for the inputs of the
    op's node; the arrays :func:`~blocks.ops.kernel_compile.canonical`."""
    spec = KINDS[kind]
    data = [canonical(x) for x in (inputs[:-1] if has_mask else inputs)]
    # A copy: a constant mask is read-only.
    mask = np.array(inputs[-1]) if has_mask else np.empty((0, 0), dtype=data[0].dtype)
    kernel = spec.backward if backward else spec.forward
    return kernel, (mask, has_mask, reverse, kernels.ACTIVATIONS[activation], *data)


def run_kernel(backward, kind, activation, has_mask, reverse, inputs):
    """Run the forward (or backward) kernel of `kind` on the inputs of the op's node."""
    spec = KINDS[kind]
    kernel, arguments = kernel_arguments(backward, kind, activation, has_mask, reverse,
                                         inputs)
    if not backward:
        mask, data = arguments[0], arguments[4:]
        for sequence, state, weights, multiple in spec.checked:
            kernels.check_shapes(mask, has_mask, data[sequence], data[state], data[weights],
                                 multiple)
    results = call(kernel, *arguments)
    n_outputs = (spec.sequences + spec.parameters + has_mask if backward
                 else spec.visible + len(spec.kept))
    return tuple(results[:n_outputs])


def placeholders(node):
    """Empty arrays of the dtypes and ranks of `node`'s inputs: what a kernel's signature
    is built from before the node runs."""
    return [np.empty((0,) * v.type.ndim, dtype=v.type.dtype) for v in node.inputs]


def check_inputs(op, variables, ndims):
    """Refuse inputs of a fused op that are not all of one float dtype, or of other ranks
    than `ndims`."""
    dtypes = {v.dtype for v in variables}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise TypeError(f"{op}: all inputs must have the same float32 or float64 dtype, "
                        f"got {[v.dtype for v in variables]}")
    for variable, ndim in zip(variables, ndims):
        if variable.ndim != ndim:
            raise TypeError(f"{op}: expected ndim={ndim} for {variable}, found "
                            f"ndim={variable.ndim}")


def visible_gradients(op, outputs, output_grads, n_visible):
    """The gradients of the first `n_visible` outputs of a fused op (zeros for those that
    the cost does not depend on); the outputs after them, kept for the backward pass, must
    not be differentiated."""
    if any(not isinstance(grad.type, DisconnectedType) for grad in output_grads[n_visible:]):
        raise NotImplementedError(f"{op}: its outputs after the first {n_visible} are kept "
                                  f"for the gradient and cannot be differentiated")
    return [pt.zeros_like(output) if isinstance(grad.type, DisconnectedType) else grad
            for output, grad in zip(outputs[:n_visible], output_grads[:n_visible])]


class _FusedOp(Op):
    __props__ = ("kind", "activation", "has_mask", "reverse")

    def __init__(self, kind, activation="tanh", has_mask=False, reverse=False):
        if kind not in KINDS:
            raise ValueError(f"{type(self).__name__}: unknown kind {kind!r}; known: "
                             f"{sorted(KINDS)}")
        if activation not in kernels.ACTIVATIONS:
            raise ValueError(f"{type(self).__name__}: unsupported activation {activation!r}; "
                             f"supported: {sorted(kernels.ACTIVATIONS)}")
        self.kind = kind
        self.activation = activation
        self.has_mask = bool(has_mask)
        self.reverse = bool(reverse)

    @property
    def spec(self):
        return KINDS[self.kind]

    _backward = False

    def kernel_requests(self, node):
        """The kernel `node` will call and arguments of its signature (see
        :func:`blocks.ops.kernel_compile.prefetch_graph`)."""
        return [kernel_arguments(self._backward, self.kind, self.activation, self.has_mask,
                                 self.reverse, placeholders(node))]

    def perform(self, node, inputs, output_storage):
        results = run_kernel(self._backward, self.kind, self.activation, self.has_mask,
                             self.reverse, inputs)
        for storage, result in zip(output_storage, results):
            storage[0] = result

    def _check(self, variables, ndims):
        check_inputs(self, variables, ndims)

    def __str__(self):
        flags = [f for f, on in (("mask", self.has_mask), ("reverse", self.reverse)) if on]
        name = f"{self.kind}, {self.activation}" if self.kind == "simple" else self.kind
        return f"{type(self).__name__}{{{', '.join([name] + flags)}}}"


def _parameter_ndims(kind):
    return {"simple": (2, 2), "lstm": (2, 2, 2, 1, 1, 1), "gru": (2, 2, 2)}[kind]


class FusedRecurrent(_FusedOp):
    """The loop of a standard recurrent transition over a whole sequence.

    Parameters
    ----------
    kind : {'simple', 'lstm', 'gru'}
    activation : str
        For ``'simple'``: ``'tanh'``, ``'logistic'``, ``'identity'`` or ``'rectifier'``.
    has_mask : bool
        Whether a mask ``(time, batch)`` is the last input.
    reverse : bool
        Process the steps from the last to the first; outputs in processing order.

    Notes
    -----
    Inputs, all of one float dtype: ``simple``: ``x, h0, W``; ``lstm``: ``x, h0, c0,
    W_state, W_cell_to_in, W_cell_to_forget, W_cell_to_out``; ``gru``: ``x, gate_x, h0,
    state_to_state, state_to_gates``; then the mask if any. The first outputs are the
    states (and the cells for ``lstm``), ``(time, batch, dim)``; the others are kept for
    the gradient, ``(time, features, batch)``.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x, h0, W = pt.tensor3('x'), pt.matrix('h0'), pt.matrix('W')
    >>> states = FusedRecurrent('simple', 'identity')(x, h0, W)[0]
    >>> ones = np.ones((3, 1, 2))
    >>> states.eval({x: ones, h0: np.zeros((1, 2)), W: np.eye(2)})[:, 0, 0]
    array([1., 2., 3.])
    """

    def make_node(self, *inputs):
        spec = self.spec
        inputs = [pt.as_tensor_variable(v) for v in inputs]
        expected = spec.sequences + spec.parameters + self.has_mask
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs, got {len(inputs)}")
        ndims = (3,) * spec.sequences + _parameter_ndims(self.kind) + (2,) * self.has_mask
        self._check(inputs, ndims)
        x = inputs[0]
        n_steps, batch = x.type.shape[:2]
        dim = inputs[spec.sequences].type.shape[1]

        def width(w):
            return None if dim is None else dim * w

        visible = [pt.tensor(dtype=x.dtype, shape=(n_steps, batch, dim))
                   for _ in range(spec.visible)]
        kept = [pt.tensor(dtype=x.dtype, shape=(n_steps, width(w), batch)) for w in spec.kept]
        return Apply(self, inputs, visible + kept)

    def infer_shape(self, fgraph, node, input_shapes):
        spec = self.spec
        n_steps, batch = input_shapes[0][:2]
        dim = input_shapes[spec.sequences][1]
        return ([(n_steps, batch, dim)] * spec.visible
                + [(n_steps, dim * w, batch) for w in spec.kept])

    def pullback(self, inputs, outputs, output_grads):
        spec = self.spec
        grads = visible_gradients(self, outputs, output_grads, spec.visible)
        parameters = inputs[spec.sequences:spec.sequences + spec.parameters]
        mask = inputs[-1:] if self.has_mask else []
        backward = FusedRecurrentGrad(self.kind, self.activation, self.has_mask, self.reverse)
        return backward(*parameters, *outputs, *grads, *mask, return_list=True)


class FusedRecurrentGrad(_FusedOp):
    """The gradient of :class:`FusedRecurrent` with respect to all of its inputs.

    Inputs: the forward op's inputs after the sequences, its outputs, the gradients of its
    visible outputs, then the mask if any. Outputs: the gradients of the forward op's
    inputs, in their order.
    """

    _backward = True

    def make_node(self, *inputs):
        spec = self.spec
        inputs = [pt.as_tensor_variable(v) for v in inputs]
        n_outputs = spec.visible + len(spec.kept)
        expected = spec.parameters + n_outputs + spec.visible + self.has_mask
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs, got {len(inputs)}")
        ndims = (_parameter_ndims(self.kind) + (3,) * (n_outputs + spec.visible)
                 + (2,) * self.has_mask)
        self._check(inputs, ndims)
        dtype = inputs[0].dtype
        n_steps, batch, dim = inputs[spec.parameters].type.shape
        sequences = [
            pt.tensor(dtype=dtype, shape=(n_steps, batch, None if dim is None else dim * w))
            for w in spec.sequence_widths
        ]
        parameters = [v.type() for v in inputs[:spec.parameters]]
        mask = [inputs[-1].type()] if self.has_mask else []
        return Apply(self, inputs, sequences + parameters + mask)

    def infer_shape(self, fgraph, node, input_shapes):
        spec = self.spec
        n_steps, batch, dim = input_shapes[spec.parameters]
        sequences = [(n_steps, batch, dim * w) for w in spec.sequence_widths]
        parameters = list(input_shapes[:spec.parameters])
        mask = [input_shapes[-1]] if self.has_mask else []
        return sequences + parameters + mask

    def pullback(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"{self}: second derivatives through a fused recurrent loop are not implemented; "
            f"set the brick's `fused` attribute to False to build the loop with scan")


def fused_states(kind, sequences, initial_states, parameters, mask=None, reverse=False,
                 activation="tanh"):
    """The visible outputs of a :class:`FusedRecurrent` loop, or None if it cannot run it.

    All inputs are cast to their common float dtype (None is returned when it is not
    float32 or float64).

    Parameters
    ----------
    kind : {'simple', 'lstm', 'gru'}
    sequences : list of TensorVariable
        ``[inputs]``, or ``[inputs, gate_inputs]`` for ``'gru'``; time-major.
    initial_states : list of TensorVariable
        ``[states]``, or ``[states, cells]`` for ``'lstm'``; ``(batch, dim)``.
    parameters : list of TensorVariable
        The weights, in the order of :class:`FusedRecurrent`'s inputs.
    mask : TensorVariable, optional
        ``(time, batch)``.
    """
    variables = [pt.as_tensor_variable(v) for v in [*sequences, *initial_states, *parameters]]
    dtype = upcast(*[v.dtype for v in variables])
    if dtype not in ("float32", "float64"):
        return None
    variables = [v if v.dtype == dtype else v.astype(dtype) for v in variables]
    if mask is not None:
        variables.append(pt.as_tensor_variable(mask).astype(dtype))
    op = FusedRecurrent(kind, activation, has_mask=mask is not None, reverse=reverse)
    return op(*variables, return_list=True)[:KINDS[kind].visible]
