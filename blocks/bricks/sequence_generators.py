"""Sequence generators: recurrent networks that generate (and score) sequences.

Recurrent networks often generate or model sequences: language modelling, machine
translation, handwriting synthesis... Every generated element is fed back into the
network's state; an attention mechanism may condition the generation on a structured
input such as another sequence.

:class:`SequenceGenerator` builds such a network from three components:

- a core recurrent transition, e.g. :class:`~blocks.bricks.recurrent.LSTM` or
  :class:`~blocks.bricks.recurrent.GatedRecurrent`;
- a readout that produces the sequence elements from the network states and the
  glimpses of the attention mechanism (:class:`Readout`, with an emitter and a feedback
  brick);
- optionally an attention mechanism (see :mod:`blocks.bricks.attention`).

It relies on :class:`BaseSequenceGenerator`, for which an attention is mandatory and part
of the transition (:class:`~blocks.bricks.attention.AttentionRecurrent`); to do without,
:class:`SequenceGenerator` wraps the plain transition in :class:`FakeAttentionRecurrent`.

As in Blocks, the applications of :class:`Readout` (``readout``, ``emit``, ``cost``,
``initial_outputs``), of the emitters and of :class:`LookupFeedback` declare no outputs,
so their outputs get Blocks' default names (``readout_readout_output_0``): Blocks
scripts find them with ``VariableFilter(bricks=[readout], name_regex='output')``.
"""

import pytensor
import pytensor.tensor as pt

from blocks.bricks.attention import AbstractAttentionRecurrent, AttentionRecurrent
from blocks.bricks.base import Brick, application, describe, lazy
from blocks.bricks.cost import smooth_labels
from blocks.bricks.interfaces import Initializable, Random
from blocks.bricks.lookup import LookupTable
from blocks.bricks.parallel import Fork, Merge
from blocks.bricks.recurrent.base import recurrent
from blocks.bricks.simple import Bias, NDimensionalSoftmax
from blocks.bricks.validation import POSITIVE_INTEGER, PROBABILITY_BELOW_ONE, check_argument
from blocks.roles import COST, add_role
from blocks.utils import dict_subset, dict_union

__all__ = [
    "AbstractEmitter", "AbstractFeedback", "AbstractReadout", "Readout", "SoftmaxEmitter",
    "TrivialEmitter", "LookupFeedback", "TrivialFeedback", "FakeAttentionRecurrent",
    "BaseSequenceGenerator", "SequenceGenerator",
]


def _not_implemented(brick, method):
    return NotImplementedError(f"{type(brick).__name__} must implement {method}")


class AbstractEmitter(Brick):
    """The interface for the emitter component of a readout.

    Attributes
    ----------
    readout_dim : int
        The dimension of the readout; given by the :class:`Readout` brick when the
        allocation configuration is pushed.

    Notes
    -----
    The emitter's ``cost`` is applied with inputs of different numbers of dimensions:

    1. in :meth:`BaseSequenceGenerator.cost_matrix` to the whole sequence at once,
       ``(time, batch, ...)``;
    2. in :meth:`BaseSequenceGenerator.generate` to one step, ``(batch, ...)``.
    """

    def emit(self, readouts):
        raise _not_implemented(self, "emit(readouts)")

    def cost(self, readouts, outputs):
        raise _not_implemented(self, "cost(readouts, outputs)")

    def initial_outputs(self, batch_size):
        raise _not_implemented(self, "initial_outputs(batch_size)")


class AbstractFeedback(Brick):
    """The interface for the feedback component of a readout: ``feedback(outputs)``.

    See Also
    --------
    Readout, LookupFeedback, TrivialFeedback
    """

    def feedback(self, outputs):
        raise _not_implemented(self, "feedback(outputs)")


class AbstractReadout(Initializable):
    """The interface for the readout component of a sequence generator.

    The readout is a bridge between the core recurrent network and the output sequence:
    it computes readouts from its sources (:meth:`readout`), emits outputs from them
    (:meth:`emit`), scores outputs (:meth:`cost`), gives the first step's previous output
    (:meth:`initial_outputs`) and feeds outputs back (:meth:`feedback`).

    Parameters
    ----------
    source_names : list of str
        The names of the readout's sources: states, glimpses or contexts of the
        transition, or the feedback (named like the feedback's output, ``'feedback'``).
    readout_dim : int
        The dimension of the readout.

    Attributes
    ----------
    source_dims : list of int
        The dimensions of the sources, pushed by the sequence generator.

    See Also
    --------
    BaseSequenceGenerator : how exactly a readout is used.
    Readout : the typically used readout brick.
    """

    argument_checks = {"readout_dim": POSITIVE_INTEGER}

    @lazy(allocation=["source_names", "readout_dim"])
    def __init__(self, source_names, readout_dim, **kwargs):
        super().__init__(**kwargs)
        self.source_names = source_names
        self.readout_dim = readout_dim
        self.source_dims = None

    def emit(self, readouts):
        """Produce outputs from readouts ``(batch, readout_dim)``."""
        raise _not_implemented(self, "emit(readouts)")

    def cost(self, readouts, outputs):
        """The generation cost of `outputs` given `readouts`.

        `readouts` are ``(..., readout_dim)``; `outputs` have as many or one less
        dimensions, the first ``readouts.ndim - 1`` of them matching the readouts'.
        """
        raise _not_implemented(self, "cost(readouts, outputs)")

    def initial_outputs(self, batch_size):
        """The outputs before the first step, :math:`y_0`."""
        raise _not_implemented(self, "initial_outputs(batch_size)")

    def readout(self, **kwargs):
        """The readouts computed from the sources given by name."""
        raise _not_implemented(self, "readout(**sources)")

    def feedback(self, outputs):
        """The feedback of `outputs` to the transition."""
        raise _not_implemented(self, "feedback(outputs)")

    def get_dim(self, name):
        if name == "readouts":
            return self.readout_dim
        return super().get_dim(name)


class Readout(AbstractReadout):
    """Readout brick with separate emitter and feedback parts.

    Emission, cost and initial outputs are delegated to the `emitter`, feedback to the
    `feedback_brick`, and readouts are computed from the sources by a pipeline: `merge`
    combines the sources into one variable, `post_merge` transforms it.

    Parameters
    ----------
    emitter : AbstractEmitter, optional
        The emitter component; :class:`TrivialEmitter` by default.
    feedback_brick : AbstractFeedback, optional
        The feedback component; :class:`TrivialFeedback` by default.
    merge : Brick, optional
        Takes the sources named in `source_names` as inputs and combines them into one
        output. Cannot be given together with `merge_prototype`.
    merge_prototype : Feedforward, optional
        If `merge` is not given, a :class:`~blocks.bricks.parallel.Merge` applies a copy
        of this transformation to every source and sums; by default a linear
        transformation without bias.
    post_merge : Feedforward, optional
        Applied to the merged sources; :class:`~blocks.bricks.Bias` by default.
    merged_dim : int, optional
        The output dimension of `merge`, the input dimension of `post_merge`; by default
        `readout_dim` (`post_merge` keeps the dimension).
    **kwargs
        Passed to :class:`AbstractReadout` (``source_names``, ``readout_dim``, and the
        initialization configuration).

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> readout = Readout(source_names=['states', 'feedback'], readout_dim=2,
    ...                   weights_init=Constant(1), biases_init=Constant(0.5))
    >>> readout.source_dims = [3, 2]
    >>> readout.initialize()
    >>> states = pytensor.tensor.matrix('states')
    >>> feedback = pytensor.tensor.matrix('feedback')
    >>> readout.readout(states=states, feedback=feedback).eval(
    ...     {states: [[1., 1., 1.]], feedback: [[0., 1.]]}).tolist()
    [[4.5, 4.5]]
    """

    argument_checks = {"merged_dim": POSITIVE_INTEGER}

    def __init__(self, emitter=None, feedback_brick=None, merge=None, merge_prototype=None,
                 post_merge=None, merged_dim=None, **kwargs):
        readout_dim = kwargs.get("readout_dim")
        check_argument(self, "readout_dim", readout_dim)
        source_names = kwargs.get("source_names")
        needs_dim = [name for name, brick in (("emitter", emitter),
                                              ("feedback_brick", feedback_brick),
                                              ("post_merge", post_merge)) if brick is None]
        if needs_dim and readout_dim is None:
            raise ValueError(
                f"Readout: readout_dim must be given at construction to build the default "
                f"{', '.join(needs_dim)}"
            )
        if merge is not None and merge_prototype is not None:
            raise ValueError("Readout: give merge or merge_prototype, not both")
        if merge is None and source_names is None:
            raise ValueError("Readout: source_names must be given to build the default merge")
        if emitter is None:
            emitter = TrivialEmitter(readout_dim)
        if feedback_brick is None:
            feedback_brick = TrivialFeedback(readout_dim)
        if merge is None:
            merge = Merge(input_names=source_names, prototype=merge_prototype)
        if post_merge is None:
            post_merge = Bias(dim=readout_dim)
        super().__init__(**kwargs)
        self.emitter = emitter
        self.feedback_brick = feedback_brick
        self.merge = merge
        self.post_merge = post_merge
        self.merged_dim = merged_dim if merged_dim is not None else readout_dim
        self.children = [emitter, feedback_brick, merge, post_merge] + list(self.children)

    def _push_allocation_config(self):
        if self.source_dims is None:
            raise ValueError(
                f"{describe(self)}: source_dims is not set (the sequence generator pushes "
                f"them; set it when using the readout alone)"
            )
        self.emitter.readout_dim = self.get_dim("readouts")
        self.feedback_brick.output_dim = self.get_dim("outputs")
        self.merge.input_names = list(self.source_names)
        self.merge.input_dims = list(self.source_dims)
        self.merge.output_dim = self.merged_dim
        self.post_merge.input_dim = self.merged_dim
        self.post_merge.output_dim = self.readout_dim
        super()._push_allocation_config()

    @application
    def readout(self, **kwargs):
        """The readouts from the sources: ``post_merge(merge(sources))``."""
        missing = [name for name in self.source_names if name not in kwargs]
        if missing:
            raise ValueError(
                f"{describe(self)}: readout() needs the sources {missing} (its sources: "
                f"{list(self.source_names)}), got {sorted(kwargs)}"
            )
        merged = self.merge.apply(**{name: kwargs[name] for name in self.merge.input_names})
        return self.post_merge.apply(merged)

    @readout.property("inputs")
    def readout_inputs(self):
        return list(self.source_names)

    @application
    def emit(self, readouts):
        return self.emitter.emit(readouts)

    @emit.delegate
    def emit_delegate(self):
        return self.emitter.emit

    @application
    def cost(self, readouts, outputs):
        return self.emitter.cost(readouts, outputs)

    @cost.delegate
    def cost_delegate(self):
        return self.emitter.cost

    @application
    def initial_outputs(self, batch_size):
        return self.emitter.initial_outputs(batch_size)

    @initial_outputs.delegate
    def initial_outputs_delegate(self):
        return self.emitter.initial_outputs

    @application(outputs=["feedback"])
    def feedback(self, outputs):
        return self.feedback_brick.feedback(outputs)

    def get_dim(self, name):
        if name == "outputs":
            return self.emitter.get_dim(name)
        if name == "feedback":
            return self.feedback_brick.get_dim(name)
        return super().get_dim(name)


class TrivialEmitter(AbstractEmitter):
    """An emitter for the trivial case when readouts are outputs.

    Parameters
    ----------
    readout_dim : int
        The dimension of the readout.

    Notes
    -----
    Its :meth:`cost` is always zero.
    """

    argument_checks = {"readout_dim": POSITIVE_INTEGER}

    @lazy(allocation=["readout_dim"])
    def __init__(self, readout_dim, **kwargs):
        super().__init__(**kwargs)
        self.readout_dim = readout_dim

    @application(inputs=["readouts"])
    def emit(self, readouts):
        return readouts

    @application(inputs=["readouts", "outputs"])
    def cost(self, readouts, outputs):
        return pt.zeros_like(readouts[..., 0])

    @application
    def initial_outputs(self, batch_size):
        return pt.zeros((batch_size, self.readout_dim), dtype=pytensor.config.floatX)

    def get_dim(self, name):
        if name == "outputs":
            return self.readout_dim
        return super().get_dim(name)


class SoftmaxEmitter(AbstractEmitter, Initializable, Random):
    """A softmax emitter for the case of integer outputs.

    Interprets readout elements as energies corresponding to their indices: the outputs
    are sampled from the softmax of the readouts (from the brick's seeded symbolic random
    stream ``theano_rng``, so samples are reproducible), and the cost of an output is
    its negative log-probability.

    Parameters
    ----------
    initial_output : int or scalar variable
        The initial output; 0 by default.
    label_smoothing : float, optional
        In [0, 1): :meth:`cost` is the cross-entropy against targets smoothed towards
        the uniform distribution (see :func:`~blocks.bricks.cost.smooth_labels`), for
        training; 0 by default. Beam search ranks by the probabilities, unsmoothed.

    Examples
    --------
    >>> emitter = SoftmaxEmitter(theano_seed=1)
    >>> readouts = pytensor.tensor.matrix('readouts')
    >>> outputs = pytensor.tensor.lvector('outputs')
    >>> costs = emitter.cost(readouts, outputs)
    >>> costs.eval({readouts: [[0., np.log(3.)]], outputs: [1]}).round(4).tolist()
    [0.2877]
    >>> emitter.emit(readouts).eval({readouts: [[0., 50.]]}).tolist()
    [1]
    """

    argument_checks = {"label_smoothing": PROBABILITY_BELOW_ONE}

    def __init__(self, initial_output=0, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_output = initial_output
        self.label_smoothing = label_smoothing
        self.softmax = NDimensionalSoftmax()
        self.children = [self.softmax] + list(self.children)

    @application(inputs=["readouts"])
    def probs(self, readouts):
        """The probabilities of the outputs: the softmax of the readouts on the last axis."""
        return self.softmax.apply(readouts, extra_ndim=readouts.ndim - 2)

    @application(inputs=["readouts"])
    def emit(self, readouts):
        """Sample outputs from the softmax of `readouts` ``(..., readout_dim)``."""
        return self.theano_rng.categorical(self.probs(readouts))

    @application(inputs=["readouts", "outputs"])
    def cost(self, readouts, outputs):
        """The negative log-probabilities of the integer `outputs` given `readouts`."""
        if outputs.ndim != readouts.ndim - 1:
            raise ValueError(
                f"{describe(self)}: cost() argument 'outputs' holds one integer per readout "
                f"vector: expected ndim={readouts.ndim - 1} for readouts of "
                f"ndim={readouts.ndim}, found ndim={outputs.ndim}"
            )
        costs = self.softmax.categorical_cross_entropy(
            outputs, readouts, extra_ndim=readouts.ndim - 2)
        if not self.label_smoothing:
            return costs
        log_probabilities = self.softmax.log_probabilities(
            readouts, extra_ndim=readouts.ndim - 2)
        return smooth_labels(costs, log_probabilities, self.label_smoothing)

    @application
    def initial_outputs(self, batch_size):
        return self.initial_output * pt.ones((batch_size,), dtype="int64")

    def get_dim(self, name):
        if name == "outputs":
            return 0
        return super().get_dim(name)


class TrivialFeedback(AbstractFeedback):
    """A feedback brick for the case when readouts are outputs: the identity.

    Parameters
    ----------
    output_dim : int
        The dimension of the outputs (and of the feedback).
    """

    argument_checks = {"output_dim": POSITIVE_INTEGER}

    @lazy(allocation=["output_dim"])
    def __init__(self, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim

    @application(inputs=["outputs"], outputs=["feedback"])
    def feedback(self, outputs):
        return outputs

    def get_dim(self, name):
        if name == "feedback":
            return self.output_dim
        return super().get_dim(name)


class LookupFeedback(AbstractFeedback, Initializable):
    """A feedback brick for the case when outputs are integers.

    Stores and retrieves distributed representations of the integers with a
    :class:`~blocks.bricks.lookup.LookupTable`.

    Parameters
    ----------
    num_outputs : int
        The number of different outputs (the vocabulary size).
    feedback_dim : int
        The dimension of the representations.

    Examples
    --------
    >>> from blocks.initialization import Constant
    >>> feedback = LookupFeedback(num_outputs=3, feedback_dim=2, weights_init=Constant(1))
    >>> feedback.initialize()
    >>> outputs = pytensor.tensor.lmatrix('outputs')
    >>> feedback.feedback(outputs).eval({outputs: [[0, 2]]}).shape
    (1, 2, 2)
    """

    argument_checks = {
        "num_outputs": POSITIVE_INTEGER,
        "feedback_dim": POSITIVE_INTEGER,
    }

    def __init__(self, num_outputs=None, feedback_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.feedback_dim = feedback_dim
        self.lookup = LookupTable(num_outputs, feedback_dim)
        # Blocks' models start generation from initial_output=-1, the last row.
        self.lookup.allow_negative_indices = True
        self.children = [self.lookup] + list(self.children)

    def _push_allocation_config(self):
        for name in ("num_outputs", "feedback_dim"):
            if getattr(self, name) is None:
                raise ValueError(f"{describe(self)}: {name} is not set")
        self.lookup.length = self.num_outputs
        self.lookup.dim = self.feedback_dim
        super()._push_allocation_config()

    @application(inputs=["outputs"])
    def feedback(self, outputs):
        """The representations of the integer `outputs`, with one more (last) axis."""
        if getattr(self, "output_dim", 0) != 0:
            raise ValueError(
                f"{describe(self)}: the outputs fed back must be integers (output_dim 0), "
                f"but the readout pushed output_dim={self.output_dim}"
            )
        return self.lookup.apply(outputs)

    def get_dim(self, name):
        if name == "feedback":
            return self.feedback_dim
        return super().get_dim(name)


class FakeAttentionRecurrent(AbstractAttentionRecurrent, Initializable):
    """Adds a fake attention interface to a transition.

    :class:`BaseSequenceGenerator` requires its transition to support the
    :class:`~blocks.bricks.attention.AbstractAttentionRecurrent` interface. For cases that
    need no attention (e.g. language modelling), this brick wraps a usual recurrent
    brick: it has no glimpses and passes all states and contexts to the wrapped one.

    Parameters
    ----------
    transition : BaseRecurrent
        The transition to wrap.
    """

    def __init__(self, transition, **kwargs):
        kwargs["children"] = [transition] + list(kwargs.get("children") or [])
        super().__init__(**kwargs)
        self.transition = transition
        self.state_names = list(transition.apply.states)
        self.context_names = list(transition.apply.contexts)
        self.glimpse_names = []

    @application
    def apply(self, *args, **kwargs):
        return self.transition.apply(*args, **kwargs)

    @apply.delegate
    def apply_delegate(self):
        return self.transition.apply

    @application
    def compute_states(self, *args, **kwargs):
        return self.transition.apply(*args, iterate=False, **kwargs)

    @compute_states.delegate
    def compute_states_delegate(self):
        return self.transition.apply

    @compute_states.property("outputs")
    def compute_states_outputs(self):
        return self.state_names

    @application(outputs=[])
    def take_glimpses(self, *args, **kwargs):
        return []

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        return self.transition.initial_states(batch_size, *args, **kwargs)

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.state_names

    def get_dim(self, name):
        return self.transition.get_dim(name)


class BaseSequenceGenerator(Initializable):
    r"""A generic sequence generator.

    Combines a readout and an attention-equipped recurrent transition into a
    context-dependent sequence generator; a third component, `fork`, computes the
    transition's inputs from the feedback of the readout. :meth:`generate` generates
    sequences, :meth:`cost` (and :meth:`cost_matrix`) scores given ones.

    Notation: the states :math:`s_i` are ``transition.compute_states.outputs``; the
    contexts are ``transition.apply.contexts``; the glimpses :math:`g_i` are
    ``transition.take_glimpses.outputs``, computed at every step from the states,
    contexts and previous glimpses; the outputs :math:`y_i` form the output sequence, and
    every output gets a cost :math:`c_i`.

    Algorithm:

    1. Initialization: :math:`y_0 = readout.initial\_outputs(contexts)`,
       :math:`s_0, g_0 = transition.initial\_states(contexts)`, :math:`i = 1`.
       The recurrent bricks of :mod:`blocks.bricks.recurrent` have trainable initial
       states initialized with zeros.
    2. New glimpses: :math:`g_i = transition.take\_glimpses(s_{i-1}, g_{i-1}, contexts)`.
    3. A new output and its cost, from the new glimpses and the old states:
       :math:`f_{i-1} = readout.feedback(y_{i-1})`,
       :math:`r_i = readout.readout(f_{i-1}, s_{i-1}, g_i, contexts)`,
       :math:`y_i = readout.emit(r_i)`, :math:`c_i = readout.cost(r_i, y_i)`.
    4. New states: :math:`f_i = readout.feedback(y_i)`,
       :math:`s_i = transition.compute\_states(s_{i-1}, g_i, fork.apply(f_i), contexts)`,
       :math:`i = i + 1`; back to 2 until the desired length is reached.

    Parameters
    ----------
    readout : AbstractReadout
        The readout component.
    transition : AbstractAttentionRecurrent
        The transition component.
    fork : Brick
        Computes the transition's inputs from the feedback.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters, and
    :class:`SequenceGenerator` for a more user-friendly interface.
    """

    def __init__(self, readout, transition, fork, **kwargs):
        if not isinstance(transition, AbstractAttentionRecurrent):
            raise TypeError(
                f"{type(self).__name__}: the transition must be an AbstractAttentionRecurrent "
                f"(wrap a plain recurrent brick in FakeAttentionRecurrent or use "
                f"SequenceGenerator), got {type(transition).__name__}"
            )
        kwargs["children"] = [readout, fork, transition] + list(kwargs.get("children") or [])
        super().__init__(**kwargs)
        self.readout = readout
        self.transition = transition
        self.fork = fork

    @property
    def _state_names(self):
        return list(self.transition.compute_states.outputs)

    @property
    def _context_names(self):
        return list(self.transition.apply.contexts)

    @property
    def _glimpse_names(self):
        return list(self.transition.take_glimpses.outputs)

    def _push_allocation_config(self):
        # The readout asks the transition for dimensions: configure the transition first.
        self.transition.push_allocation_config()
        transition_sources = self._state_names + self._context_names + self._glimpse_names
        (feedback_name,) = self.readout.feedback.outputs
        unknown = [name for name in self.readout.source_names
                   if name not in transition_sources and name != feedback_name]
        if unknown:
            raise ValueError(
                f"{describe(self)}: nothing provides the readout sources {unknown}; a source "
                f"must be a state {self._state_names}, a glimpse {self._glimpse_names} or a "
                f"context {self._context_names} of the transition, or the feedback "
                f"{feedback_name!r}"
            )
        self.readout.source_dims = [
            self.transition.get_dim(name) if name in transition_sources
            else self.readout.get_dim(name)
            for name in self.readout.source_names]
        # The fork asks the readout for the feedback dimension: configure the readout first.
        self.readout.push_allocation_config()
        self.fork.input_dim = self.readout.get_dim(feedback_name)
        self.fork.output_dims = self.transition.get_dims(self.fork.apply.outputs)
        super()._push_allocation_config()

    @application
    def cost(self, outputs, mask=None, *, application_call, **kwargs):
        """Returns the average cost over the minibatch.

        The cost is computed by averaging the sum of per token costs for each sequence
        over the minibatch.

        Warning: the cost can be problematic when batches consist of sequences of vastly
        different lengths.

        Parameters
        ----------
        outputs : TensorVariable
            The 3(2) dimensional tensor of output sequences; axis 0 is time, axis 1 the
            position in the batch.
        mask : TensorVariable, optional
            The binary matrix ``(time, batch)`` identifying fake outputs.
        **kwargs
            The contexts (and optionally initial states).

        Returns
        -------
        cost : TensorVariable
            The costs summed over time steps, averaged over the minibatch.

        Notes
        -----
        Adds the average cost per sequence element as an AUXILIARY variable named
        ``per_sequence_element``.
        """
        costs = self.cost_matrix(outputs, mask=mask, **kwargs)
        cost = costs.sum(axis=0).mean()
        add_role(cost, COST)
        per_element = costs.sum() / mask.sum() if mask is not None else costs.mean()
        application_call.add_auxiliary_variable(per_element, name="per_sequence_element")
        return cost

    @cost.property("outputs")
    def cost_outputs(self):
        return ["cost"]

    @application
    def cost_matrix(self, outputs, mask=None, *, application_call, **kwargs):
        """The cost of every output: a ``(time, batch)`` matrix, zero where masked.

        Parameters
        ----------
        outputs : TensorVariable
            The output sequences, ``(time, batch, ...)``.
        mask : TensorVariable, optional
            The binary matrix ``(time, batch)`` identifying fake outputs.
        **kwargs
            The contexts (and optionally initial states).

        Notes
        -----
        Adds the states and glimpses used to predict each output (named like them) and
        their last values (``{name}_final_value``, e.g. to start the next batch) as
        auxiliary variables.
        """
        if outputs.ndim < 2:
            raise ValueError(
                f"{describe(self)}: cost_matrix() argument 'outputs' must be (time, batch, "
                f"...): expected ndim >= 2, found ndim={outputs.ndim}"
            )
        if mask is not None and mask.ndim != 2:
            raise ValueError(
                f"{describe(self)}: cost_matrix() argument 'mask' must be (time, batch): "
                f"expected ndim=2, found ndim={mask.ndim}"
            )
        self._check_keywords("cost_matrix", kwargs, self._state_names + self._context_names)
        batch_size = outputs.shape[1]
        states = dict_subset(kwargs, self._state_names, must_have=False)
        contexts = dict_subset(kwargs, self._context_names, must_have=False)
        feedback = self.readout.feedback(outputs)
        inputs = self.fork.apply(feedback, return_dict=True)
        if mask is not None and "mask" in self.transition.apply.sequences:
            inputs["mask"] = mask
        results = self.transition.apply(
            return_initial_states=True, return_dict=True,
            **dict_union(inputs, states, contexts))
        # The last states predict nothing; the initial glimpses are not used: glimpses are
        # computed before the output of a step, states after it.
        states = {name: results[name][:-1] for name in self._state_names}
        glimpses = {name: results[name][1:] for name in self._glimpse_names}
        # The feedback of the previous outputs, y_0 first.
        initial_feedback = self.readout.feedback(self.readout.initial_outputs(batch_size))
        feedback = pt.concatenate([pt.shape_padleft(initial_feedback), feedback[:-1]], axis=0)
        readouts = self.readout.readout(
            feedback=feedback, **dict_subset(dict_union(states, glimpses, contexts),
                                             self.readout.source_names, must_have=False))
        costs = self.readout.cost(readouts, outputs)
        if mask is not None:
            costs = costs * mask
        for name, variable in list(glimpses.items()) + list(states.items()):
            application_call.add_auxiliary_variable(variable.copy(), name=name)
        for name in self._state_names + self._glimpse_names:
            application_call.add_auxiliary_variable(
                results[name][-1].copy(), name=name + "_final_value")
        return costs

    @cost_matrix.property("outputs")
    def cost_matrix_outputs(self):
        return ["costs"]

    def _check_keywords(self, method, kwargs, allowed):
        unknown = [name for name in kwargs if name not in allowed]
        if unknown:
            raise ValueError(
                f"{describe(self)}: {method}() got unknown keyword arguments {unknown}; it "
                f"accepts the states {self._state_names} and the contexts "
                f"{self._context_names} of the transition"
            )

    @recurrent
    def generate(self, outputs, **kwargs):
        """A sequence generation step.

        Parameters
        ----------
        outputs : TensorVariable
            The outputs from the previous step.

        Notes
        -----
        The contexts, previous states and glimpses are expected as keyword arguments.
        Iterated (the default), it takes ``n_steps`` and ``batch_size`` and returns the
        states, the outputs, the glimpses and the costs of every step.
        """
        states = dict_subset(kwargs, self._state_names, pop=True)
        contexts = dict_subset(kwargs, self._context_names, pop=True, must_have=False)
        glimpses = dict_subset(kwargs, self._glimpse_names, pop=True)
        self._check_keywords("generate", kwargs, [])
        next_glimpses = self.transition.take_glimpses(
            return_dict=True, **dict_union(states, glimpses, contexts))
        sources = dict_union(states, next_glimpses, contexts)
        next_readouts = self.readout.readout(
            feedback=self.readout.feedback(outputs),
            **dict_subset(sources, self.readout.source_names, must_have=False))
        next_outputs = self.readout.emit(next_readouts)
        next_costs = self.readout.cost(next_readouts, next_outputs)
        next_feedback = self.readout.feedback(next_outputs)
        next_inputs = self.fork.apply(next_feedback, return_dict=True)
        next_states = self.transition.compute_states(
            return_list=True, **dict_union(next_inputs, states, next_glimpses, contexts))
        return next_states + [next_outputs] + list(next_glimpses.values()) + [next_costs]

    @generate.delegate
    def generate_delegate(self):
        return self.transition.apply

    @generate.property("states")
    def generate_states(self):
        return self._state_names + ["outputs"] + self._glimpse_names

    @generate.property("outputs")
    def generate_outputs(self):
        return self._state_names + ["outputs"] + self._glimpse_names + ["costs"]

    @generate.property("sequences")
    def generate_sequences(self):
        return []

    @generate.property("contexts")
    def generate_contexts(self):
        return self._context_names

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        """The transition's initial states and glimpses, and the readout's initial outputs."""
        state_dict = dict(
            self.transition.initial_states(batch_size, *args, return_dict=True, **kwargs),
            outputs=self.readout.initial_outputs(batch_size))
        return [state_dict[name] for name in self.generate.states]

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.generate.states

    def get_dim(self, name):
        if name in self._state_names + self._context_names + self._glimpse_names:
            return self.transition.get_dim(name)
        if name == "outputs":
            return self.readout.get_dim(name)
        return super().get_dim(name)


class SequenceGenerator(BaseSequenceGenerator):
    """A more user-friendly interface for :class:`BaseSequenceGenerator`.

    Parameters
    ----------
    readout : AbstractReadout
        The readout component for the sequence generator.
    transition : BaseRecurrent
        The recurrent transition; combined with `attention` if that one is given.
    attention : AbstractAttention, optional
        The attention mechanism to add to `transition`.
    add_contexts : bool
        If ``True``, the :class:`~blocks.bricks.attention.AttentionRecurrent` wrapping the
        transition adds contexts for the attended and its mask.
    **kwargs
        Passed to :class:`BaseSequenceGenerator`. Without a ``fork`` keyword, a
        :class:`~blocks.bricks.parallel.Fork` of the feedback to all the transition's
        sequential inputs whose name does not contain "mask" is created.

    Examples
    --------
    A language model over 3 symbols, scored and sampled:

    >>> from blocks.bricks import Tanh
    >>> from blocks.bricks.recurrent import SimpleRecurrent
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> generator = SequenceGenerator(
    ...     Readout(readout_dim=3, source_names=['states', 'feedback'],
    ...             emitter=SoftmaxEmitter(theano_seed=1),
    ...             feedback_brick=LookupFeedback(3, 4)),
    ...     SimpleRecurrent(dim=5, activation=Tanh()),
    ...     weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    >>> generator.initialize()
    >>> outputs = pytensor.tensor.lmatrix('outputs')
    >>> cost = generator.cost(outputs)
    >>> float(cost.eval({outputs: [[0, 1], [2, 2]]})) > 0
    True
    >>> states, samples, costs = generator.generate(n_steps=4, batch_size=2)
    >>> samples.eval().shape
    (4, 2)
    """

    def __init__(self, readout, transition, attention=None, add_contexts=True, **kwargs):
        normal_inputs = [name for name in transition.apply.sequences if "mask" not in name]
        kwargs.setdefault("fork", Fork(normal_inputs))
        if attention is not None:
            transition = AttentionRecurrent(transition, attention, add_contexts=add_contexts,
                                            name="att_trans")
        else:
            transition = FakeAttentionRecurrent(transition, name="with_fake_attention")
        super().__init__(readout, transition, **kwargs)
