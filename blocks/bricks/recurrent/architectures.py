"""The standard recurrent transitions: simple, LSTM and gated recurrent units.

Each brick implements one step; :func:`~blocks.bricks.recurrent.base.recurrent` turns
it into a loop over time-major sequences. All three have trainable initial states,
initialized with zeros and given the ``INITIAL_STATE`` role.
"""

import numpy as np
import pytensor.tensor as pt

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent
from blocks.bricks.simple import Identity, Logistic, Rectifier, Tanh
from blocks.bricks.validation import POSITIVE_INTEGER
from blocks.ops.recurrent.op import fused_states
from blocks.roles import INITIAL_STATE, WEIGHT

__all__ = ["SimpleRecurrent", "LSTM", "GatedRecurrent"]


def _check_step_input(brick, argument, variable, expected_dim):
    """Refuse a one-step input that is not ``(batch, expected_dim)`` (or ``(batch,)``)."""
    where = f"{type(brick).__name__} {brick.name!r}: argument {argument!r}"
    expected_ndim = 1 if expected_dim == 0 else 2
    if variable.ndim != expected_ndim:
        per_step = "(batch,)" if expected_ndim == 1 else "(batch, features)"
        raise ValueError(
            f"{where}: expected ndim={expected_ndim} {per_step} for one step, or "
            f"ndim={expected_ndim + 1} (time, {per_step[1:]} for a sequence; found "
            f"ndim={variable.ndim} per step (static shape per step: {variable.type.shape})"
        )
    last = variable.type.shape[-1]
    if expected_ndim == 2 and last is not None and last != expected_dim:
        raise ValueError(
            f"{where}: expected the last dimension to be {expected_dim}, found {last} "
            f"(static shape per step: {variable.type.shape})"
        )


def _one_step(sequence):
    """A variable of the type of one step of `sequence`."""
    return sequence.type.clone(shape=sequence.type.shape[1:])()


def _masked(mask, new, old):
    """`new` where the mask is 1, `old` where it is 0 (for a mask of shape (batch,))."""
    if mask is None:
        return new
    mask = mask[:, None]
    return mask * new + (1 - mask) * old


class _StandardRecurrent(BaseRecurrent, Initializable):
    """What the three standard transitions share: a dimension, trainable initial states
    and whole loops run by a fused op.

    Subclasses list their initial-state parameters in ``_initial_state_names`` (in the
    order of ``apply.states``) and create them with :meth:`_create_initial_states`.

    Attributes
    ----------
    fused : bool
        True (the default): applying the brick to whole sequences builds one
        :class:`~blocks.ops.recurrent.op.FusedRecurrent` node (fast, exact
        gradients) when it supports the configuration, otherwise a :func:`pytensor.scan`
        loop over the one-step application. Set it to False to always get the scan loop,
        e.g. to find or transform the variables of one step in the graph.
    """

    argument_checks = {"dim": POSITIVE_INTEGER}

    _initial_state_names = ("initial_state",)
    fused = True
    #: The kind of FusedRecurrent loop that computes this transition.
    _fused_kind = None

    def _create_initial_states(self):
        for name in self._initial_state_names:
            parameter = self.create_parameter(name, (self.dim,), INITIAL_STATE)
            parameter.set_value(np.zeros_like(parameter.get_value()))

    def _initial_state_parameters(self):
        by_name = {p.name: p for p in self.parameters}
        return [by_name[name] for name in self._initial_state_names]

    def _initialize(self):
        super()._initialize()
        # Only the initial states that exist: a subclass with its own _allocate may
        # create none (Blocks initialized only the parameters there are).
        for parameter in self.parameters:
            if parameter is not None and parameter.name in self._initial_state_names:
                parameter.set_value(np.zeros_like(parameter.get_value()))

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        """The trainable initial states, repeated over the batch.

        Parameters
        ----------
        batch_size : int or scalar variable
        """
        return [pt.repeat(parameter[None, :], batch_size, axis=0)
                for parameter in self._initial_state_parameters()]

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.apply.states

    def fused_recurrence(self, bound, sequences, states, contexts, reverse):
        """The outputs of the whole loop computed by a fused op, or None if not supported.

        Called by :func:`~blocks.bricks.recurrent.recurrent` with the sequences in time
        order and the initial states.
        """
        if contexts or bound.application is not self.apply.application:
            return None
        activation = self.fused_activation()
        if activation is None:
            return None
        mask = sequences.get("mask")
        inputs = {name: value for name, value in sequences.items() if name != "mask"}
        if any(name not in inputs for name in self._fused_sequences):
            return None
        self.check_sequences(sequences, states)
        return fused_states(
            self._fused_kind, [inputs[name] for name in self._fused_sequences],
            [states[name] for name in self.apply.states], self._fused_parameters(),
            mask=mask, reverse=reverse, activation=activation)

    _fused_sequences = ("inputs",)

    def check_sequences(self, sequences, states):
        """Make the checks of one step on whole sequences (``(time, batch, ...)``, by name,
        the mask among them if any) and the states they start from: for loops that do not
        call the step, such as fused ops."""
        mask = sequences.get("mask")
        self._check_step(None if mask is None else _one_step(mask), states,
                         **{name: _one_step(value) for name, value in sequences.items()
                            if name != "mask"})

    def fused_activation(self):
        """The activation a fused loop runs for this brick's step, or None if none can.

        None when :attr:`fused` is off, when a subclass redefines ``apply`` (its own step
        is then looped with scan) or when the activations are not supported.
        """
        owner = next(c for c in type(self).__mro__ if vars(c).get("_fused_kind"))
        if not self.fused or type(self).apply is not owner.apply:
            return None
        return self._fused_activation()

    def _fused_activation(self):
        if type(self.activation) is Tanh and type(self.gate_activation) is Logistic:
            return "tanh"
        return None

    def _check_step(self, mask, states, **inputs):
        for name, value in inputs.items():
            _check_step_input(self, name, value, self.get_dim(name))
        for name, value in states.items():
            _check_step_input(self, name, value, self.get_dim(name))
        if mask is not None:
            _check_step_input(self, "mask", mask, 0)


class SimpleRecurrent(_StandardRecurrent):
    r"""The traditional recurrent transition.

    The most well-known recurrent transition: a matrix multiplication, optionally
    followed by a nonlinearity: :math:`h_t = f(x_t + h_{t-1} W)`.

    Parameters
    ----------
    dim : int
        The dimension of the hidden state. Required by :meth:`allocate`.
    activation : Brick
        The brick applying the nonlinearity (e.g. :class:`~blocks.bricks.Tanh`).

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters;
    ``weights_init`` initializes :attr:`W`.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import Identity
    >>> rnn = SimpleRecurrent(dim=3, activation=Tanh(), weights_init=Identity())
    >>> rnn.initialize()
    >>> x = pt.tensor3('x')
    >>> h = rnn.apply(x)
    >>> h.name
    'simplerecurrent_apply_states'
    >>> h.eval({x: np.ones((2, 1, 3), dtype=pytensor.config.floatX)}).round(3)
    array([[[0.762, 0.762, 0.762]],
    <BLANKLINE>
           [[0.943, 0.943, 0.943]]]...)
    """

    @lazy(allocation=["dim"])
    def __init__(self, dim, activation, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.activation = activation
        self.children = [activation]

    _fused_kind = "simple"
    _fused_activations = {Tanh: "tanh", Logistic: "logistic", Identity: "identity",
                          Rectifier: "rectifier"}

    @property
    def W(self):
        """The recurrent weight matrix, ``(dim, dim)``."""
        return self.parameters[0]

    def _fused_activation(self):
        return self._fused_activations.get(type(self.activation))

    def _fused_parameters(self):
        return [self.W]

    @property
    def initial_state(self):
        """The trainable initial state, ``(dim,)``."""
        return self.parameters[1]

    def get_dim(self, name):
        if name == "mask":
            return 0
        if name in ("inputs", "states"):
            return self.dim
        return super().get_dim(name)

    def _allocate(self):
        self.create_parameter("W", (self.dim, self.dim), WEIGHT)
        self._create_initial_states()

    @recurrent(sequences=["inputs", "mask"], states=["states"], outputs=["states"],
               contexts=[])
    def apply(self, inputs, states, mask=None):
        """Apply the simple transition.

        Parameters
        ----------
        inputs : TensorVariable
            The 2D inputs, in the shape (batch, features).
        states : TensorVariable
            The 2D states, in the shape (batch, features).
        mask : TensorVariable
            A 1D binary array in the shape (batch,) which is 1 if there is data
            available, 0 if not. Assumed to be 1s only if not given.
        """
        self._check_step(mask, {"states": states}, inputs=inputs)
        next_states = self.activation.apply(inputs + pt.dot(states, self.W))
        return _masked(mask, next_states, states)


class LSTM(_StandardRecurrent):
    r"""Long Short Term Memory.

    Every unit of an LSTM is equipped with input, forget and output gates. This
    implementation follows the architecture of [GSS03]_ and [Grav13]_: it computes as
    much as possible in parallel and expects the last dimension of the input to be four
    times the output dimension.

    Unlike a vanilla LSTM as described in [HS97]_, this model has peephole connections
    from the cells to the gates. The output gates receive information about the cells at
    the current time step, while the other gates only receive information about the
    cells at the previous time step. All 'peephole' weight matrices are diagonal.

    .. math::

        a_t &= x_t + h_{t-1} W_{state} \\
        i_t &= g(a^i_t + c_{t-1} \odot w_{ci}), \quad
        f_t = g(a^f_t + c_{t-1} \odot w_{cf}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot f(a^c_t) \\
        o_t &= g(a^o_t + c_t \odot w_{co}), \quad h_t = o_t \odot f(c_t)

    where :math:`a_t` is split in the order input gate, forget gate, cells, output gate.

    .. [GSS03] Gers, Felix A., Nicol N. Schraudolph, and Jürgen Schmidhuber, *Learning
       precise timing with LSTM recurrent networks*, Journal of Machine Learning Research
       3 (2003), pp. 115-143.
    .. [Grav13] Graves, Alex, *Generating sequences with recurrent neural networks*,
       arXiv preprint arXiv:1308.0850 (2013).
    .. [HS97] Sepp Hochreiter, and Jürgen Schmidhuber, *Long Short-Term Memory*,
       Neural Computation 9(8) (1997), pp. 1735-1780.

    Parameters
    ----------
    dim : int
        The dimension of the hidden state. Required by :meth:`allocate`.
    activation : Brick, optional
        The activation of the cells and outputs; :class:`~blocks.bricks.Tanh` by default.
    gate_activation : Brick, optional
        The activation of the gates; :class:`~blocks.bricks.Logistic` by default.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters;
    ``weights_init`` initializes :attr:`W_state` and the three peephole vectors.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.initialization import Constant
    >>> lstm = LSTM(dim=2, weights_init=Constant(0.1))
    >>> lstm.initialize()
    >>> x = pt.tensor3('x')
    >>> states, cells = lstm.apply(x)
    >>> [p.name for p in lstm.parameters]  # doctest: +NORMALIZE_WHITESPACE
    ['W_state', 'W_cell_to_in', 'W_cell_to_forget', 'W_cell_to_out', 'initial_state',
     'initial_cells']
    >>> states.eval({x: np.ones((3, 1, 8), dtype=pytensor.config.floatX)}).shape
    (3, 1, 2)
    """

    _initial_state_names = ("initial_state", "initial_cells")
    _fused_kind = "lstm"

    @lazy(allocation=["dim"])
    def __init__(self, dim, activation=None, gate_activation=None, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.activation = activation if activation is not None else Tanh()
        self.gate_activation = gate_activation if gate_activation is not None else Logistic()
        self.children = [self.activation, self.gate_activation]

    W_state = property(lambda self: self.parameters[0],
                       doc="The recurrent weights, ``(dim, 4 * dim)``.")
    W_cell_to_in = property(lambda self: self.parameters[1],
                            doc="The input gate's peephole from the previous cells, ``(dim,)``.")
    W_cell_to_forget = property(lambda self: self.parameters[2],
                                doc="The forget gate's peephole from the previous cells.")
    W_cell_to_out = property(lambda self: self.parameters[3],
                             doc="The output gate's peephole from the new cells, ``(dim,)``.")
    initial_state = property(lambda self: self.parameters[4],
                             doc="The trainable initial state, ``(dim,)``.")
    initial_cells = property(lambda self: self.parameters[5],
                             doc="The trainable initial cells, ``(dim,)``.")

    def _fused_parameters(self):
        return [self.W_state, self.W_cell_to_in, self.W_cell_to_forget, self.W_cell_to_out]

    def get_dim(self, name):
        if name == "inputs":
            return self.dim * 4
        if name in ("states", "cells"):
            return self.dim
        if name == "mask":
            return 0
        return super().get_dim(name)

    def _allocate(self):
        self.create_parameter("W_state", (self.dim, 4 * self.dim), WEIGHT)
        for name in ("W_cell_to_in", "W_cell_to_forget", "W_cell_to_out"):
            self.create_parameter(name, (self.dim,), WEIGHT)
        self._create_initial_states()

    @recurrent(sequences=["inputs", "mask"], states=["states", "cells"],
               outputs=["states", "cells"], contexts=[])
    def apply(self, inputs, states, cells, mask=None):
        """Apply the Long Short Term Memory transition.

        Parameters
        ----------
        states : TensorVariable
            The 2 dimensional matrix of current states in the shape (batch_size,
            features). Required for one_step usage.
        cells : TensorVariable
            The 2 dimensional matrix of current cells in the shape (batch_size,
            features). Required for one_step usage.
        inputs : TensorVariable
            The 2 dimensional matrix of inputs in the shape (batch_size, features * 4).
            The inputs need to be four times the dimension of the LSTM brick so that each
            of the four gates receives a different transformation of the input (see
            [Grav13]_, equations 7 to 10). They are split in this order: input gates,
            forget gates, cells and output gates.
        mask : TensorVariable
            A 1D binary array in the shape (batch,) which is 1 if there is data
            available, 0 if not. Assumed to be 1s only if not given.

        Returns
        -------
        states : TensorVariable
            Next states of the network.
        cells : TensorVariable
            Next cell activations of the network.
        """
        self._check_step(mask, {"states": states, "cells": cells}, inputs=inputs)
        dim = self.dim
        activation = pt.dot(states, self.W_state) + inputs

        def part(index):
            return activation[:, index * dim:(index + 1) * dim]

        in_gate = self.gate_activation.apply(part(0) + cells * self.W_cell_to_in)
        forget_gate = self.gate_activation.apply(part(1) + cells * self.W_cell_to_forget)
        next_cells = forget_gate * cells + in_gate * self.activation.apply(part(2))
        out_gate = self.gate_activation.apply(part(3) + next_cells * self.W_cell_to_out)
        next_states = out_gate * self.activation.apply(next_cells)
        return _masked(mask, next_states, states), _masked(mask, next_cells, cells)


class GatedRecurrent(_StandardRecurrent):
    r"""Gated recurrent neural network.

    Gated recurrent neural network (GRNN) as introduced in [CvMG14]_. Every unit of a
    GRNN is equipped with update and reset gates that facilitate better gradient
    propagation.

    .. math::

        u_t, r_t &= g(x^g_t + h_{t-1} W_{gates}) \quad \text{(update first, reset second)} \\
        \tilde h_t &= f(x_t + (r_t \odot h_{t-1}) W_{state}) \\
        h_t &= u_t \odot \tilde h_t + (1 - u_t) \odot h_{t-1}

    .. [CvMG14] Kyunghyun Cho, Bart van Merriënboer, Çağlar Gülçehre, Dzmitry Bahdanau,
       Fethi Bougares, Holger Schwenk, and Yoshua Bengio, *Learning Phrase
       Representations using RNN Encoder-Decoder for Statistical Machine Translation*,
       EMNLP (2014), pp. 1724-1734.

    Parameters
    ----------
    dim : int
        The dimension of the hidden state. Required by :meth:`allocate`.
    activation : Brick, optional
        The activation of the candidate state; :class:`~blocks.bricks.Tanh` by default.
    gate_activation : Brick, optional
        The activation of the gates; :class:`~blocks.bricks.Logistic` by default.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters;
    ``weights_init`` initializes :attr:`state_to_state` and both halves of
    :attr:`state_to_gates`.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.initialization import Orthogonal
    >>> gru = GatedRecurrent(dim=3, weights_init=Orthogonal())
    >>> gru.initialize()
    >>> x, gates = pt.tensor3('x'), pt.tensor3('gates')
    >>> h = gru.apply(inputs=x, gate_inputs=gates)
    >>> h.eval({x: np.ones((4, 2, 3), dtype=pytensor.config.floatX),
    ...         gates: np.zeros((4, 2, 6), dtype=pytensor.config.floatX)}).shape
    (4, 2, 3)
    """

    @lazy(allocation=["dim"])
    def __init__(self, dim, activation=None, gate_activation=None, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.activation = activation if activation is not None else Tanh()
        self.gate_activation = gate_activation if gate_activation is not None else Logistic()
        self.children = [self.activation, self.gate_activation]

    _fused_kind = "gru"
    _fused_sequences = ("inputs", "gate_inputs")

    state_to_state = property(lambda self: self.parameters[0],
                              doc="The recurrent weights of the candidate, ``(dim, dim)``.")
    state_to_gates = property(lambda self: self.parameters[1],
                              doc="The recurrent weights of the gates, ``(dim, 2 * dim)``: "
                                  "update gate, then reset gate.")
    initial_state = property(lambda self: self.parameters[2],
                             doc="The trainable initial state, ``(dim,)``.")

    def get_dim(self, name):
        if name == "mask":
            return 0
        if name in ("inputs", "states"):
            return self.dim
        if name == "gate_inputs":
            return 2 * self.dim
        return super().get_dim(name)

    def _fused_parameters(self):
        return [self.state_to_state, self.state_to_gates]

    def _allocate(self):
        self.create_parameter("state_to_state", (self.dim, self.dim), WEIGHT)
        self.create_parameter("state_to_gates", (self.dim, 2 * self.dim), WEIGHT)
        self._create_initial_states()

    def _initialize(self):
        super()._initialize()
        # Each gate's block gets its own (dim, dim) draw, so that e.g. Orthogonal
        # initializes both blocks as square orthogonal matrices.
        scheme = self._require_scheme("weights_init")
        blocks = [scheme.generate(self.rng, (self.dim, self.dim)) for _ in range(2)]
        self.state_to_gates.set_value(np.hstack(blocks).astype(self.state_to_gates.dtype))

    @recurrent(sequences=["mask", "inputs", "gate_inputs"], states=["states"],
               outputs=["states"], contexts=[])
    def apply(self, inputs, gate_inputs, states, mask=None):
        """Apply the gated recurrent transition.

        Parameters
        ----------
        states : TensorVariable
            The 2 dimensional matrix of current states in the shape (batch_size, dim).
            Required for one_step usage.
        inputs : TensorVariable
            The 2 dimensional matrix of inputs in the shape (batch_size, dim)
        gate_inputs : TensorVariable
            The 2 dimensional matrix of inputs to the gates in the shape (batch_size,
            2 * dim).
        mask : TensorVariable
            A 1D binary array in the shape (batch,) which is 1 if there is data
            available, 0 if not. Assumed to be 1s only if not given.

        Returns
        -------
        output : TensorVariable
            Next states of the network.
        """
        self._check_step(mask, {"states": states}, inputs=inputs, gate_inputs=gate_inputs)
        gate_values = self.gate_activation.apply(pt.dot(states, self.state_to_gates)
                                                 + gate_inputs)
        update_values = gate_values[:, :self.dim]
        reset_values = gate_values[:, self.dim:]
        candidate = self.activation.apply(pt.dot(states * reset_values, self.state_to_state)
                                          + inputs)
        next_states = candidate * update_values + states * (1 - update_values)
        return _masked(mask, next_states, states)
