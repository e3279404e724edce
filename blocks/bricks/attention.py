"""Attention mechanisms, and recurrent transitions equipped with them.

An attention mechanism decides to what part of a big structured input to pay attention.
It is typically used by a recurrent network. Terminology used throughout this module:

- the *network* uses the attention mechanism and has *states* (several, e.g. for LSTM);
- the *attended* is the big structured input, e.g. a sequence of annotations of shape
  ``(time, batch, attended_dim)``, possibly with an *attended mask* ``(time, batch)``;
- the *glimpses* are the information the mechanism extracts from the attended given the
  states, e.g. attention weights and the weighted average of the attended.

The attention mechanism of [BCB]_ is :class:`SequenceContentAttention`;
:class:`AttentionRecurrent` combines an attention mechanism with a recurrent transition.

.. [BCB] Dzmitry Bahdanau, Kyunghyun Cho and Yoshua Bengio. Neural Machine Translation by
   Jointly Learning to Align and Translate.
"""

import pytensor
import pytensor.tensor as pt

from blocks.bricks.base import Brick, application, describe, lazy
from blocks.bricks.interfaces import Feedforward, Initializable
from blocks.bricks.parallel import Distribute, Parallel
from blocks.bricks.recurrent.architectures import LSTM, GatedRecurrent, SimpleRecurrent
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent
from blocks.bricks.sequences import Sequence
from blocks.bricks.simple import Linear, Tanh
from blocks.bricks.validation import POSITIVE_INTEGER, POSITIVE_INTEGERS
from blocks.ops.attention.op import fused_attention_states
from blocks.utils import check_variable, dict_subset, dict_union, pack

__all__ = [
    "AbstractAttention", "AbstractAttentionRecurrent", "AttentionRecurrent",
    "GenericSequenceAttention", "SequenceContentAttention", "ShallowEnergyComputer",
]

#: The transitions that AttentionRecurrent's fused loop computes.
_FUSED_TRANSITIONS = (SimpleRecurrent, LSTM, GatedRecurrent)


def _check_ndim(brick, argument, variable, ndim, meaning):
    check_variable(variable, ndim, owner=f"{describe(brick)} ({meaning})", argument=argument)


class AbstractAttention(Brick):
    """The common interface for attention bricks.

    Its inputs are the states of the network and the attended; from them it produces
    glimpses. The work is split in two stages:

    1. :meth:`preprocess` does the computation that does not involve the states (it can
       be done once, before a loop); its result is the *preprocessed attended*;
    2. :meth:`take_glimpses` does the rest.

    When the mechanism is applied sequentially, glimpses of the previous step may be
    needed (e.g. the previous focus position): :meth:`take_glimpses` then lists them
    among both its inputs and outputs, and :meth:`initial_glimpses` gives their initial
    values.

    Parameters
    ----------
    state_names : list of str
        The names of the network states the mechanism looks at.
    state_dims : list of int
        Their dimensions. Required by :meth:`allocate`; given at construction or pushed by
        a parent such as :class:`AttentionRecurrent`.
    attended_dim : int
        The dimension of the attended. Required by :meth:`allocate`.

    Notes
    -----
    Only a single attended is supported; :meth:`preprocess` and :meth:`initial_glimpses`
    receive no mask.
    """

    argument_checks = {
        "state_dims": POSITIVE_INTEGERS,
        "attended_dim": POSITIVE_INTEGER,
    }

    @lazy(allocation=["state_names", "state_dims", "attended_dim"])
    def __init__(self, state_names, state_dims, attended_dim, **kwargs):
        super().__init__(**kwargs)
        self.state_names = state_names
        self.state_dims = state_dims
        self.attended_dim = attended_dim

    @application(inputs=["attended"], outputs=["preprocessed_attended"])
    def preprocess(self, attended):
        """Perform the preprocessing of the attended (stage 1); by default the identity.

        Parameters
        ----------
        attended : TensorVariable
            The attended.

        Returns
        -------
        preprocessed_attended : TensorVariable
        """
        return attended

    def take_glimpses(self, attended, preprocessed_attended=None, attended_mask=None,
                      **kwargs):
        """Extract glimpses from the attended given the current states (stage 2).

        Subclasses implement it as an application declaring its inputs and outputs: the
        attended first, the preprocessed attended second; glimpses carried over from the
        previous step are both inputs and outputs. When `preprocessed_attended` is not
        given, :meth:`preprocess` is called.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement take_glimpses as an application"
        )

    def initial_glimpses(self, batch_size, attended):
        """Return sensible initial values for carried over glimpses.

        Parameters
        ----------
        batch_size : int or scalar variable
        attended : TensorVariable

        Returns
        -------
        initial_glimpses : list of TensorVariable
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement initial_glimpses"
        )

    def get_dim(self, name):
        if self.state_names and name in self.state_names:
            if not self.state_dims:
                raise ValueError(
                    f"{describe(self)}: the dimension of state {name!r} is not known yet "
                    f"(state_dims is not set)"
                )
            return self.state_dims[list(self.state_names).index(name)]
        if name in ("attended", "preprocessed_attended"):
            return self.attended_dim
        if name == "attended_mask":
            return 0
        return super().get_dim(name)


class GenericSequenceAttention(AbstractAttention):
    """Logic common to attention mechanisms over a sequence ``(time, batch, dim)``.

    Energies (one number per sequence element) become weights by a masked softmax over
    time (:meth:`compute_weights`); the weights average the attended
    (:meth:`compute_weighted_averages`).

    Examples
    --------
    >>> attention = GenericSequenceAttention(state_names=['states'], state_dims=[1],
    ...                                      attended_dim=2)
    >>> energies = pytensor.tensor.matrix('energies')
    >>> mask = pytensor.tensor.matrix('mask')
    >>> weights = attention.compute_weights(energies, mask)
    >>> weights.eval({energies: [[0.], [0.], [5.]], mask: [[1.], [1.], [0.]]})[:, 0]
    array([0.5, 0.5, 0. ])
    """

    @application(inputs=["energies", "attended_mask"])
    def compute_weights(self, energies, attended_mask):
        """Compute weights from energies in softmax-like fashion.

        Masked positions get exactly zero weight; a batch column that is masked entirely
        gets zero weights everywhere.

        Parameters
        ----------
        energies : TensorVariable
            The energies, ``(time, batch)``. Must be of the same shape as the mask.
        attended_mask : TensorVariable or None
            The mask for the attended, ``(time, batch)``; 0 marks padding.

        Returns
        -------
        weights : TensorVariable
            Summing to 1 (over time) non-negative weights of the shape of `energies`.
        """
        if attended_mask is None:
            shifted = energies - energies.max(axis=0, keepdims=True)
            unnormalized = pt.exp(shifted)
            return unnormalized / unnormalized.sum(axis=0, keepdims=True)
        _check_ndim(self, "attended_mask", attended_mask, energies.ndim, "a 0/1 mask")
        present = pt.gt(attended_mask, 0)
        # Padding gets the smallest energy of its column, so that the shift is the largest
        # energy actually present and no exponential overflows; it is then zeroed exactly.
        energies = pt.switch(present, energies, energies.min(axis=0, keepdims=True))
        shifted = energies - energies.max(axis=0, keepdims=True)
        unnormalized = pt.switch(present, pt.exp(shifted), 0)
        total = unnormalized.sum(axis=0, keepdims=True)
        return unnormalized / pt.switch(pt.eq(total, 0), 1, total)

    @application(inputs=["weights", "attended"])
    def compute_weighted_averages(self, weights, attended):
        """Compute weighted averages of the attended sequence vectors.

        Parameters
        ----------
        weights : TensorVariable
            The weights, of the attended's shape without the last dimension.
        attended : TensorVariable
            The attended; the index in the sequence is the first dimension.

        Returns
        -------
        weighted_averages : TensorVariable
            The attended's shape with the first dimension dropped.
        """
        return (pt.shape_padright(weights) * attended).sum(axis=0)


class SequenceContentAttention(GenericSequenceAttention, Initializable):
    r"""Attention mechanism that looks for relevant content in a sequence ([BCB]_).

    1. The states and the sequence are transformed independently;
    2. the transformed states are added to every transformed sequence element to obtain
       match vectors;
    3. a match vector is transformed into a single number, its energy;
    4. the energies are normalized in softmax-like fashion over time (masked elements get
       zero weight): these are the attention weights;
    5. the weighted average of the sequence elements is computed.

    The glimpses are the weighted averages of step 5 (``weighted_averages``,
    ``(batch, attended_dim)``) and the weights of step 4 (``weights``, ``(batch,
    time)``).

    Parameters
    ----------
    state_names : list of str
        The names of the network states.
    attended_dim : int
        The dimension of the sequence elements.
    match_dim : int
        The dimension of the match vector.
    state_transformer : Feedforward, optional
        A prototype for the state transformations (one copy per state); by default a
        linear transformation without bias.
    attended_transformer : Feedforward, optional
        The transformation applied to the sequence; by default an affine one.
    energy_computer : Feedforward, optional
        Computes the energy from the match vector; by default
        :class:`ShallowEnergyComputer` (:math:`\tanh` then a weighted sum).
    state_dims : list of int, optional
        The dimensions of the states; usually pushed by :class:`AttentionRecurrent`.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters.

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> attention = SequenceContentAttention(
    ...     state_names=['states'], state_dims=[3], attended_dim=4, match_dim=5,
    ...     weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> attention.initialize()
    >>> attended = pytensor.tensor.tensor3('attended')
    >>> states = pytensor.tensor.matrix('states')
    >>> glimpse, weights = attention.take_glimpses(attended, states=states)
    >>> values = {attended: np.ones((6, 2, 4)), states: np.ones((2, 3))}
    >>> glimpse.eval(values).shape, weights.eval(values).shape
    ((2, 4), (2, 6))
    """

    argument_checks = {"match_dim": POSITIVE_INTEGER}

    @lazy(allocation=["match_dim"])
    def __init__(self, match_dim, state_transformer=None, attended_transformer=None,
                 energy_computer=None, **kwargs):
        super().__init__(**kwargs)
        if not self.state_names:
            raise ValueError(
                f"{describe(self)}: state_names must be given at construction (the state "
                f"transformers are built from them)"
            )
        self.match_dim = match_dim
        self.state_transformers = Parallel(
            input_names=self.state_names,
            prototype=state_transformer if state_transformer is not None
            else Linear(use_bias=False),
            name="state_trans")
        self.attended_transformer = (attended_transformer if attended_transformer is not None
                                     else Linear(name="preprocess"))
        self.energy_computer = (energy_computer if energy_computer is not None
                                else ShallowEnergyComputer(name="energy_comp"))
        self.children = [self.state_transformers, self.attended_transformer,
                         self.energy_computer]

    def _push_allocation_config(self):
        self.state_transformers.input_dims = list(self.state_dims)
        self.state_transformers.output_dims = [self.match_dim for _ in self.state_names]
        self.attended_transformer.input_dim = self.attended_dim
        self.attended_transformer.output_dim = self.match_dim
        self.energy_computer.input_dim = self.match_dim
        self.energy_computer.output_dim = 1
        super()._push_allocation_config()

    def _check_attended(self, attended, preprocessed_attended=None, attended_mask=None):
        _check_ndim(self, "attended", attended, 3, "a sequence (time, batch, attended_dim)")
        if preprocessed_attended is not None:
            _check_ndim(self, "preprocessed_attended", preprocessed_attended, 3,
                        "a sequence (time, batch, match_dim)")
        if attended_mask is not None:
            _check_ndim(self, "attended_mask", attended_mask, 2, "a mask (time, batch)")

    @application
    def compute_energies(self, attended, preprocessed_attended, states):
        """The energies ``(time, batch)`` of the sequence elements given the states.

        Parameters
        ----------
        attended : TensorVariable
            The sequence ``(time, batch, attended_dim)``.
        preprocessed_attended : TensorVariable or None
            Its transformation ``(time, batch, match_dim)``; computed when ``None``.
        states : dict
            The states of the network by name, each ``(batch, dim)``.
        """
        if preprocessed_attended is None:
            preprocessed_attended = self.preprocess(attended)
        transformed_states = self.state_transformers.apply(
            return_list=True, **dict_subset(states, self.state_names))
        match_vectors = preprocessed_attended
        for transformed in transformed_states:
            match_vectors = match_vectors + transformed
        energies = self.energy_computer.apply(match_vectors)
        return energies[..., 0]

    @application(outputs=["weighted_averages", "weights"])
    def take_glimpses(self, attended, preprocessed_attended=None, attended_mask=None,
                      **states):
        """Compute attention weights and produce glimpses.

        Parameters
        ----------
        attended : TensorVariable
            The sequence, time is the first dimension: ``(time, batch, attended_dim)``.
        preprocessed_attended : TensorVariable, optional
            The preprocessed sequence. If ``None``, it is computed by :meth:`preprocess`.
        attended_mask : TensorVariable, optional
            A 0/1 mask ``(time, batch)``; 0 means that the element is padding.
        **states
            The states of the network, each ``(batch, dim)``.

        Returns
        -------
        weighted_averages : TensorVariable
            Linear combinations of sequence elements with the attention weights,
            ``(batch, attended_dim)``.
        weights : TensorVariable
            The attention weights, ``(batch, time)``.
        """
        self._check_attended(attended, preprocessed_attended, attended_mask)
        missing = [name for name in self.state_names if name not in states]
        if missing:
            raise ValueError(
                f"{describe(self)}: take_glimpses() needs the states {missing} (it attends "
                f"from {list(self.state_names)}), got {sorted(states)}"
            )
        energies = self.compute_energies(attended, preprocessed_attended, states)
        weights = self.compute_weights(energies, attended_mask)
        weighted_averages = self.compute_weighted_averages(weights, attended)
        return weighted_averages, weights.T

    @take_glimpses.property("inputs")
    def take_glimpses_inputs(self):
        return ["attended", "preprocessed_attended", "attended_mask"] + list(self.state_names)

    @application(outputs=["weighted_averages", "weights"])
    def initial_glimpses(self, batch_size, attended):
        """Zeros: ``(batch, attended_dim)`` averages and ``(batch, time)`` weights."""
        dtype = pytensor.config.floatX
        return [pt.zeros((batch_size, self.attended_dim), dtype=dtype),
                pt.zeros((batch_size, attended.shape[0]), dtype=dtype)]

    @application(inputs=["attended"], outputs=["preprocessed_attended"])
    def preprocess(self, attended):
        """Preprocess the sequence for computing attention weights.

        Parameters
        ----------
        attended : TensorVariable
            The attended sequence, time is the first dimension.
        """
        self._check_attended(attended)
        return self.attended_transformer.apply(attended)

    def get_dim(self, name):
        if name in ("weighted_averages", "attended"):
            return self.attended_dim
        if name == "weights":
            return 0
        if name == "preprocessed_attended":
            return self.match_dim
        return super().get_dim(name)


class ShallowEnergyComputer(Sequence, Initializable, Feedforward):
    """A simple energy computer: first tanh, then a weighted sum.

    Parameters
    ----------
    use_bias : bool, optional
        Whether a bias is added to the energies; ``False`` by default. It does not change
        anything when softmax normalization produces the attention weights, but might be
        useful e.g. with a spherical softmax.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> computer = ShallowEnergyComputer(input_dim=2, output_dim=1,
    ...                                  weights_init=Constant(1))
    >>> computer.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> computer.apply(x).eval({x: [[0., 100.]]}).tolist()
    [[1.0]]
    """

    argument_checks = {"input_dim": POSITIVE_INTEGER, "output_dim": POSITIVE_INTEGER}

    def __init__(self, input_dim=None, output_dim=None, **kwargs):
        kwargs.setdefault("use_bias", False)
        super().__init__([Tanh().apply, Linear().apply], **kwargs)
        if input_dim is not None:
            self.input_dim = input_dim
        if output_dim is not None:
            self.output_dim = output_dim

    @property
    def _linear(self):
        return self.children[1]

    @property
    def input_dim(self):
        return self._linear.input_dim

    @input_dim.setter
    def input_dim(self, value):
        self._linear.input_dim = value

    @property
    def output_dim(self):
        return self._linear.output_dim

    @output_dim.setter
    def output_dim(self, value):
        self._linear.output_dim = value


class AbstractAttentionRecurrent(BaseRecurrent):
    """The interface for attention-equipped recurrent transitions.

    The transition of such a network has two steps: (1) glimpses are taken by the
    attention mechanism (:meth:`take_glimpses`), (2) the next states are computed from
    the current states and the glimpses (:meth:`compute_states`). Besides the do-it-all
    recurrent ``apply``, both steps are available separately, as sequence generators need.
    """

    def take_glimpses(self, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} must implement take_glimpses as an application"
        )

    def compute_states(self, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} must implement compute_states as an application"
        )


def transition_arguments(transition):
    """The names a recurrent transition's one-step ``apply`` accepts."""
    apply = transition.apply
    return list(apply.sequences) + list(apply.states) + list(apply.contexts)


class AttentionRecurrent(AbstractAttentionRecurrent, Initializable):
    """Combines an attention mechanism and a recurrent transition.

    Two contexts are added to the transition: the attended and its mask (or, with
    ``add_contexts=False``, two existing contexts of the transition are used). At every
    step the attention mechanism takes glimpses from the current states; a ``distribute``
    brick adds the information from the glimpses to the input sequences of the
    transition, which then computes the next states. Glimpses become states of the new
    transition, so that mechanisms that need the previous glimpses get them.

    Parameters
    ----------
    transition : BaseRecurrent
        The recurrent transition.
    attention : AbstractAttention
        The attention mechanism. Its ``state_names`` must be states of the transition.
    distribute : Brick, optional
        Distributes the glimpses across the input sequences of the transition. By default
        a :class:`~blocks.bricks.parallel.Distribute` of the first glimpse over the
        sequences whose name does not contain "mask".
    add_contexts : bool, optional
        If ``True`` (default), new contexts for the attended and its mask are added;
        otherwise the first two contexts of the transition are used.
    attended_name : str, optional
        The name of the attended context; "attended" or the first context of the
        transition by default, depending on `add_contexts`.
    attended_mask_name : str, optional
        The name of the mask of the attended; "attended_mask" or the second context of
        the transition by default.

    Attributes
    ----------
    fused : bool
        True (the default): when the transition is a
        :class:`~blocks.bricks.recurrent.SimpleRecurrent` (with a tanh, logistic,
        identity or rectifier activation), an :class:`~blocks.bricks.recurrent.LSTM` or
        a :class:`~blocks.bricks.recurrent.GatedRecurrent` (with their default
        activations), with its ``fused`` attribute on, the attention a
        :class:`SequenceContentAttention` attending from the ``states`` with its default
        energy computer and linear state transformer, and the distribute brick the
        default one, :meth:`apply` over whole sequences builds one
        :class:`~blocks.ops.attention.op.FusedAttentionSimple`,
        :class:`~blocks.ops.attention.op.FusedAttentionLSTM` or
        :class:`~blocks.ops.attention.op.FusedAttentionGRU` node (fast, exact
        gradients) instead of a :func:`pytensor.scan` loop over :meth:`do_apply`'s step.
        Set it to False to always get the scan loop, e.g. to find or transform the
        variables of one step in the graph.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters. All the
    states of the wrapped transition become mandatory; sequences and contexts keep being
    as optional as they were.

    Examples
    --------
    >>> from blocks.bricks.recurrent import SimpleRecurrent
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> transition = SimpleRecurrent(dim=3, activation=Tanh())
    >>> attention = SequenceContentAttention(state_names=['states'], attended_dim=4,
    ...                                      match_dim=5)
    >>> recurrent = AttentionRecurrent(transition, attention,
    ...                                weights_init=IsotropicGaussian(0.1),
    ...                                biases_init=Constant(0))
    >>> recurrent.initialize()
    >>> inputs = pytensor.tensor.tensor3('inputs')
    >>> attended = pytensor.tensor.tensor3('attended')
    >>> states, averages, weights = recurrent.apply(inputs=inputs, attended=attended)
    >>> values = {inputs: np.ones((5, 2, 3)), attended: np.ones((7, 2, 4))}
    >>> states.eval(values).shape, averages.eval(values).shape, weights.eval(values).shape
    ((5, 2, 3), (5, 2, 4), (5, 2, 7))
    """

    fused = True

    def __init__(self, transition, attention, distribute=None, add_contexts=True,
                 attended_name=None, attended_mask_name=None, **kwargs):
        self._sequence_names = list(transition.apply.sequences)
        self._state_names = list(transition.apply.states)
        self._context_names = list(transition.apply.contexts)
        if add_contexts:
            attended_name = attended_name or "attended"
            attended_mask_name = attended_mask_name or "attended_mask"
            self._context_names += [attended_name, attended_mask_name]
        else:
            if len(self._context_names) < 2 and not (attended_name and attended_mask_name):
                raise ValueError(
                    f"AttentionRecurrent: add_contexts=False uses two contexts of the "
                    f"transition {describe(transition)} for the attended and its mask, but "
                    f"it has only {self._context_names}"
                )
            attended_name = attended_name or self._context_names[0]
            attended_mask_name = attended_mask_name or self._context_names[1]
        unknown = [name for name in (attention.state_names or [])
                   if name not in self._state_names]
        if unknown:
            raise ValueError(
                f"AttentionRecurrent: the attention {describe(attention)} attends from the "
                f"states {unknown}, unknown to the transition {describe(transition)} (its "
                f"states: {self._state_names})"
            )
        if distribute is None:
            targets = [name for name in self._sequence_names if "mask" not in name]
            distribute = Distribute(targets, attention.take_glimpses.outputs[0])
        kwargs["children"] = [transition, attention, distribute] + list(
            kwargs.get("children") or [])
        super().__init__(**kwargs)
        self.transition = transition
        self.attention = attention
        self.distribute = distribute
        self.add_contexts = add_contexts
        self.attended_name = attended_name
        self.attended_mask_name = attended_mask_name
        self.preprocessed_attended_name = "preprocessed_" + attended_name
        self._glimpse_names = list(attention.take_glimpses.outputs)
        # The glimpses fed back to the attention are those it lists among its inputs.
        self.previous_glimpses_needed = [
            name for name in self._glimpse_names if name in attention.take_glimpses.inputs]

    def _push_allocation_config(self):
        self.attention.state_dims = self.transition.get_dims(self.attention.state_names)
        self.attention.attended_dim = self.get_dim(self.attended_name)
        self.distribute.source_dim = self.attention.get_dim(self.distribute.source_name)
        self.distribute.target_dims = self.transition.get_dims(self.distribute.target_names)
        super()._push_allocation_config()

    @application
    def take_glimpses(self, **kwargs):
        """Compute glimpses with the attention mechanism.

        A thin wrapper over ``self.attention.take_glimpses`` that chooses and renames the
        necessary arguments.

        Parameters
        ----------
        **kwargs
            Must contain the attended, previous step states and glimpses. Can optionally
            contain the attended mask and the preprocessed attended.

        Returns
        -------
        glimpses : list of TensorVariable
            Current step glimpses.
        """
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True, must_have=False)
        needed = dict_subset(glimpses, self.previous_glimpses_needed)
        return self.attention.take_glimpses(
            kwargs.pop(self.attended_name),
            kwargs.pop(self.preprocessed_attended_name, None),
            kwargs.pop(self.attended_mask_name, None),
            return_list=True,
            **dict_union(dict_subset(states, self.attention.state_names), needed))

    @take_glimpses.property("outputs")
    def take_glimpses_outputs(self):
        return self._glimpse_names

    @application
    def compute_states(self, **kwargs):
        """Compute current states when glimpses have already been computed.

        The distribute brick adds the glimpses to the sequential inputs of the wrapped
        transition, which then makes one step. Keyword arguments the transition knows
        (e.g. its own contexts) are passed on to it.

        Parameters
        ----------
        **kwargs
            Everything ``self.transition`` needs and the current glimpses.

        Returns
        -------
        current_states : list of TensorVariable
            Current states computed by ``self.transition``.
        """
        sequences = dict_subset(kwargs, self._sequence_names, pop=True, must_have=False)
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        distributed = dict_union(sequences, glimpses)
        sequences.update(self.distribute.apply(
            return_dict=True, **dict_subset(distributed, self.distribute.apply.inputs)))
        known = transition_arguments(self.transition)
        rest = {name: value for name, value in kwargs.items() if name in known}
        return self.transition.apply(iterate=False, return_list=True,
                                     **dict_union(sequences, states, rest))

    @compute_states.property("outputs")
    def compute_states_outputs(self):
        return self._state_names

    @recurrent
    def do_apply(self, **kwargs):
        """Process a sequence attending the attended context at every step.

        Besides the transition's arguments this needs the preprocessed attended, computed
        by the attention's ``preprocess``; :meth:`apply` does that.

        Parameters
        ----------
        **kwargs
            Current inputs, previous step states, contexts, the preprocessed attended and
            previous step glimpses.

        Returns
        -------
        outputs : list of TensorVariable
            The current step states and glimpses.
        """
        attended = kwargs[self.attended_name]
        preprocessed_attended = kwargs.pop(self.preprocessed_attended_name)
        attended_mask = kwargs.get(self.attended_mask_name)
        sequences = dict_subset(kwargs, self._sequence_names, pop=True, must_have=False)
        states = dict_subset(kwargs, self._state_names, pop=True)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        current_glimpses = self.take_glimpses(
            return_dict=True,
            **dict_union(states, glimpses, {
                self.attended_name: attended,
                self.attended_mask_name: attended_mask,
                self.preprocessed_attended_name: preprocessed_attended}))
        current_states = self.compute_states(
            return_list=True, **dict_union(sequences, states, current_glimpses, kwargs))
        return current_states + list(current_glimpses.values())

    def fused_recurrence(self, bound, sequences, states, contexts, reverse):
        """The outputs of :meth:`do_apply` over whole sequences computed by one fused
        attention node (see :mod:`blocks.ops.attention.op`), or None when the
        configuration is not one it computes (see :attr:`fused`).

        Called by :func:`~blocks.bricks.recurrent.recurrent` with the sequences in time
        order, the initial states and the contexts.
        """
        parameters = self._fused_parameters(bound)
        if parameters is None:
            return None
        transition = self.transition
        glimpse_weights, state_bias, distribution = parameters
        known = {self.attended_name, self.attended_mask_name, self.preprocessed_attended_name}
        attended = contexts.get(self.attended_name)
        preprocessed = contexts.get(self.preprocessed_attended_name)
        names = transition._fused_sequences
        if (attended is None or preprocessed is None or set(contexts) - known
                or not set(names) <= set(sequences)):
            return None
        attended_mask = contexts.get(self.attended_mask_name)
        mask = sequences.get("mask")
        initial_states = {name: states[name] for name in self._state_names}
        # The checks the step would make.
        self.attention._check_attended(attended, preprocessed, attended_mask)
        transition.check_sequences(sequences, initial_states)
        # Biases are the same at every step: they join the loop's inputs outside it.
        loop_sequences = [sequences[name] if distribution[name][1] is None
                          else sequences[name] + distribution[name][1] for name in names]
        if state_bias is not None:
            preprocessed = preprocessed + state_bias
        results = fused_attention_states(
            transition._fused_kind, loop_sequences, list(initial_states.values()),
            transition._fused_parameters(), attended, preprocessed, glimpse_weights,
            [distribution[name][0] for name in names], mask=mask,
            attended_mask=attended_mask, reverse=reverse,
            activation=transition.fused_activation())
        if results is None:
            return None
        by_name = dict(zip(self._state_names + self._glimpse_names, results))
        return [by_name[name] for name in bound.outputs]

    def _fused_parameters(self, bound):
        """The parameters of the fused loop: the state transformation and the energy
        weights, the state transformation's bias, and the distribution's weight and bias
        by target (biases None when absent); or None if it cannot compute this brick's
        step."""
        transition, attention, distribute = self.transition, self.attention, self.distribute
        # A subclass that redefines a part of the step gets the scan loop over its step.
        redefined = [name for name in ("do_apply", "take_glimpses", "compute_states")
                     if getattr(type(self), name) is not getattr(AttentionRecurrent, name)]
        if (not self.fused or redefined or bound.application is not AttentionRecurrent.do_apply
                or not isinstance(transition, _FUSED_TRANSITIONS)
                or transition.fused_activation() is None
                or type(attention) is not SequenceContentAttention
                or list(attention.state_names) != ["states"]
                or self._glimpse_names != ["weighted_averages", "weights"]
                or type(distribute) is not Distribute
                or distribute.source_name != "weighted_averages"
                or sorted(distribute.target_names) != sorted(transition._fused_sequences)):
            return None
        (state_transformer,) = attention.state_transformers.children
        energy = attention.energy_computer
        if (type(state_transformer) is not Linear or type(energy) is not ShallowEnergyComputer
                or [type(child) for child in energy.children] != [Tanh, Linear]
                or energy.children[1].use_bias
                or any(type(child) is not Linear for child in distribute.children)):
            return None

        def weight_and_bias(linear):
            return linear.W, (linear.b if linear.use_bias else None)

        state_transformation, state_bias = weight_and_bias(state_transformer)
        return ([state_transformation, energy.children[1].W], state_bias,
                {name: weight_and_bias(child)
                 for name, child in zip(distribute.target_names, distribute.children)})

    @do_apply.property("sequences")
    def do_apply_sequences(self):
        return self._sequence_names

    @do_apply.property("contexts")
    def do_apply_contexts(self):
        return self._context_names + [self.preprocessed_attended_name]

    @do_apply.property("states")
    def do_apply_states(self):
        return self._state_names + self._glimpse_names

    @do_apply.property("outputs")
    def do_apply_outputs(self):
        return self._state_names + self._glimpse_names

    @application
    def apply(self, **kwargs):
        """Preprocess the attended, then run :meth:`do_apply` over the sequences."""
        if kwargs.get(self.attended_name) is None:
            raise ValueError(
                f"{describe(self)}: apply() needs the attended {self.attended_name!r}"
            )
        preprocessed_attended = self.attention.preprocess(kwargs[self.attended_name])
        return self.do_apply(**dict_union(
            kwargs, {self.preprocessed_attended_name: preprocessed_attended}))

    @apply.delegate
    def apply_delegate(self):
        return self.do_apply

    @apply.property("contexts")
    def apply_contexts(self):
        return self._context_names

    @apply.property("inputs")
    def apply_inputs(self):
        return self._sequence_names + self.do_apply.states + self._context_names

    @application
    def initial_states(self, batch_size, **kwargs):
        """The transition's initial states followed by the attention's initial glimpses.

        As in Blocks, all keyword arguments (the attended sequence and its mask among
        them) are handed to the transition's ``initial_states``, so that a transition
        can compute its initial state from the attended sequence.
        """
        return (pack(self.transition.initial_states(batch_size, return_list=True, **kwargs))
                + pack(self.attention.initial_glimpses(
                    batch_size, kwargs[self.attended_name], return_list=True)))

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.do_apply.states

    def get_dim(self, name):
        if name in self._glimpse_names:
            return self.attention.get_dim(name)
        if name == self.preprocessed_attended_name:
            (original_name,) = self.attention.preprocess.outputs
            return self.attention.get_dim(original_name)
        if self.add_contexts:
            if name == self.attended_name:
                return self.attention.get_dim(self.attention.take_glimpses.inputs[0])
            if name == self.attended_mask_name:
                return 0
        return self.transition.get_dim(name)
