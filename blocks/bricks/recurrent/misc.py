"""Helper bricks for recurrent networks: :class:`Bidirectional` and :class:`RecurrentStack`."""

import copy

import pytensor.tensor as pt

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.parallel import Fork
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent
from blocks.bricks.simple import Linear

__all__ = ["Bidirectional", "RecurrentStack", "RECURRENTSTACK_SEPARATOR"]

#: Separates a name from the level of the layer it belongs to in a :class:`RecurrentStack`
#: (``states#1`` is the ``states`` of the second layer).
RECURRENTSTACK_SEPARATOR = "#"


class Bidirectional(Initializable):
    """Bidirectional network.

    A bidirectional network is a combination of forward and backward recurrent networks
    which process inputs in different order. Its outputs are the outputs of both,
    concatenated on the last axis; the backward outputs are put back in time order.

    Parameters
    ----------
    prototype : instance of :class:`~blocks.bricks.recurrent.BaseRecurrent`
        A prototype brick from which the forward and backward bricks are cloned.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import Tanh
    >>> from blocks.bricks.recurrent import SimpleRecurrent
    >>> from blocks.initialization import Identity
    >>> birnn = Bidirectional(SimpleRecurrent(dim=2, activation=Tanh()),
    ...                       weights_init=Identity())
    >>> birnn.initialize()
    >>> [child.name for child in birnn.children]
    ['forward', 'backward']
    >>> x = pt.tensor3('x')
    >>> h = birnn.apply(x)
    >>> h.name
    'bidirectional_apply_states'
    >>> birnn.get_dim('states')
    4
    >>> h.eval({x: np.ones((3, 1, 2), dtype=pytensor.config.floatX)})[:, 0].round(2)
    array([[0.76, 0.76, 0.96, 0.96],
           [0.94, 0.94, 0.94, 0.94],
           [0.96, 0.96, 0.76, 0.76]])
    """

    has_bias = False
    has_biases = False

    @lazy()
    def __init__(self, prototype, **kwargs):
        if not isinstance(prototype, BaseRecurrent):
            raise TypeError(
                f"Bidirectional: prototype must be a recurrent brick (BaseRecurrent), got "
                f"{type(prototype).__name__}"
            )
        directions = []
        for name in ("forward", "backward"):
            clone = copy.deepcopy(prototype)
            clone.name = name
            directions.append(clone)
        kwargs["children"] = list(kwargs.get("children") or []) + directions
        super().__init__(**kwargs)
        self.prototype = prototype

    @property
    def forward(self):
        return self.children[0]

    @property
    def backward(self):
        return self.children[1]

    @application
    def apply(self, *args, **kwargs):
        """Applies forward and backward networks and concatenates outputs."""
        if "reverse" in kwargs:
            raise ValueError(
                f"Bidirectional {self.name!r}: apply() runs both directions; 'reverse' "
                f"cannot be given"
            )
        forward = self.forward.apply(*args, return_list=True, **kwargs)
        backward = [
            output[::-1]
            for output in self.backward.apply(*args, reverse=True, return_list=True, **kwargs)
        ]
        widths = [self.forward.get_dim(name) for name in self.forward.apply.outputs]
        return [pt.concatenate([_of_width(f, width), _of_width(b, width)], axis=-1)
                for f, b, width in zip(forward, backward, widths)]

    @apply.delegate
    def apply_delegate(self):
        return self.forward.apply

    def get_dim(self, name):
        if name in self.apply.outputs:
            return self.forward.get_dim(name) * 2
        return self.forward.get_dim(name)


def _of_width(output, width):
    """The output with its last dimension known to be `width`: the gradient of the
    concatenation then splits it at points known at compile time, which PyTensor's JAX
    backend requires."""
    if not isinstance(width, int) or output.type.shape[-1] == width:
        return output
    return pt.specify_shape(output, (None,) * (output.ndim - 1) + (width,))


class RecurrentStack(BaseRecurrent, Initializable):
    """Stack of recurrent networks.

    Builds a stack of recurrent layers from a list of
    :class:`~blocks.bricks.recurrent.BaseRecurrent` transitions, each with an ``apply``
    made by :func:`~blocks.bricks.recurrent.recurrent`.

    The attributes of this brick's ``apply`` (``sequences``, ``states``, ``contexts``,
    ``outputs``) are those of the transitions, renamed to avoid conflicts: the names of
    the bottom layer are used as is, and the names of layer ``n`` (counting from 0 at the
    bottom) get the suffix ``#n`` (:data:`RECURRENTSTACK_SEPARATOR`), e.g. ``states#1``.
    Contexts are merged into one list of unique names without suffix: layers with the
    same context name receive the same value. A ``mask`` sequence is shared by all layers,
    without suffix, and comes last among the sequences.

    Each layer above the bottom receives, for each of its sequences (except ``mask``), a
    transformation (a :class:`~blocks.bricks.parallel.Fork`) of the ``states_name`` output
    of the layer below. With ``skip_connections`` the sequences of all layers are also
    sequences of the stack (``inputs#1``...) and are added to the forked states; without
    it only the bottom layer's sequences are exposed.

    Parameters
    ----------
    transitions : list of BaseRecurrent or Bidirectional
        The recurrent transitions, bottom first. The suffix ``#<level>`` is added to their
        names.
    fork_prototype : Feedforward, optional
        The transformation applied to the states of a layer to feed the next one. By
        default a :class:`~blocks.bricks.Linear`, with a bias when `skip_connections` is
        False and without when it is True (then the external inputs are expected to carry
        their own bias). A prototype you give is used as is.
    states_name : str, optional
        The name of the state (in ``states`` and ``outputs`` of every transition) that
        feeds the next layer; ``'states'`` by default.
    skip_connections : bool, optional
        Whether the sequences of all layers are sequences of the stack. False by default.

    Notes
    -----
    See :class:`~blocks.bricks.recurrent.BaseRecurrent` and
    :class:`~blocks.bricks.Initializable` for more initialization parameters.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import Tanh
    >>> from blocks.bricks.recurrent import SimpleRecurrent
    >>> from blocks.initialization import Constant
    >>> stack = RecurrentStack([SimpleRecurrent(dim=3, activation=Tanh()),
    ...                         SimpleRecurrent(dim=2, activation=Tanh())],
    ...                        weights_init=Constant(0.1), biases_init=Constant(0))
    >>> stack.initialize()
    >>> stack.apply.sequences, stack.apply.states
    (['inputs', 'mask'], ['states', 'states#1'])
    >>> [transition.name for transition in stack.transitions]
    ['simplerecurrent#0', 'simplerecurrent#1']
    >>> x = pt.tensor3('x')
    >>> bottom, top = stack.apply(x)
    >>> top.eval({x: np.ones((4, 5, 3), dtype=pytensor.config.floatX)}).shape
    (4, 5, 2)
    """

    @lazy()
    def __init__(self, transitions, fork_prototype=None, states_name="states",
                 skip_connections=False, **kwargs):
        transitions = list(transitions)
        if not transitions:
            raise ValueError("RecurrentStack: give at least one transition")
        for transition in transitions:
            if not isinstance(transition, (BaseRecurrent, Bidirectional)):
                raise TypeError(
                    f"RecurrentStack: transitions must be recurrent bricks (BaseRecurrent "
                    f"or Bidirectional), got {type(transition).__name__}"
                )
        super().__init__(**kwargs)
        self.states_name = states_name
        self.skip_connections = skip_connections
        for level, transition in enumerate(transitions):
            transition.name += RECURRENTSTACK_SEPARATOR + str(level)
            for attribute in ("states", "outputs"):
                if states_name not in getattr(transition.apply, attribute):
                    raise ValueError(
                        f"RecurrentStack: the transition {transition.name!r} has no "
                        f"{states_name!r} among the {attribute} of its apply "
                        f"({getattr(transition.apply, attribute)}); set states_name"
                    )
        self.transitions = transitions
        if fork_prototype is None:
            # Without external inputs to the upper layers, their forks need the bias.
            fork_prototype = Linear(use_bias=not skip_connections)
        self.forks = [
            Fork(self.normal_inputs(level), name=f"fork_{level}", prototype=fork_prototype)
            for level in range(1, len(transitions))
        ]
        self.children = self.transitions + self.forks

    # Naming

    @staticmethod
    def suffix(name, level):
        """`name` of layer `level`: with ``#level`` unless bottom layer or ``mask``."""
        if name == "mask" or level == 0:
            return name
        return f"{name}{RECURRENTSTACK_SEPARATOR}{level}"

    @classmethod
    def suffixes(cls, names, level):
        return [cls.suffix(name, level) for name in names]

    @staticmethod
    def split_suffix(name):
        """``(name, level)`` from a suffixed name: ``'states#1'`` -> ``('states', 1)``."""
        base, separator, level = name.rpartition(RECURRENTSTACK_SEPARATOR)
        if not separator or not level.isdigit():
            return name, 0
        return base, int(level)

    def normal_inputs(self, level):
        """The sequences of layer `level` that receive the forked states (all but mask)."""
        return [name for name in self.transitions[level].apply.sequences if name != "mask"]

    def _collect(self, attribute, levels):
        names = []
        for level in levels:
            for name in self.suffixes(getattr(self.transitions[level].apply, attribute),
                                      level):
                if name not in names:
                    names.append(name)
        return names

    def _sequences(self):
        levels = range(len(self.transitions)) if self.skip_connections else [0]
        names = self._collect("sequences", levels)
        # The mask has a default value (None), so it comes after the other sequences.
        if "mask" in names:
            names.remove("mask")
            names.append("mask")
        return names

    def _states(self):
        return self._collect("states", range(len(self.transitions)))

    def _outputs(self):
        return self._collect("outputs", range(len(self.transitions)))

    def _contexts(self):
        names = []
        for transition in self.transitions:
            names.extend(name for name in transition.apply.contexts if name not in names)
        return names

    # Configuration

    def _push_allocation_config(self):
        # The forks' dims come from the transitions, which must be configured first.
        for transition in self.transitions:
            transition.push_allocation_config()
        for level, fork in enumerate(self.forks):
            fork.input_dim = self.transitions[level].get_dim(self.states_name)
            fork.output_dims = self.transitions[level + 1].get_dims(fork.output_names)
        super()._push_allocation_config()

    def get_dim(self, name):
        for transition in self.transitions:
            if name in transition.apply.contexts:
                return transition.get_dim(name)
        base, level = self.split_suffix(name)
        if level >= len(self.transitions):
            return super().get_dim(name)
        return self.transitions[level].get_dim(base)

    # Application

    def do_apply(self, *args, **kwargs):
        """Apply the stack of transitions.

        This is the undecorated implementation of :meth:`apply`: with ``iterate=True``
        (the default) every transition iterates over the whole sequences in turn, one
        layer after another; with ``iterate=False`` it does one step of every layer, as
        :meth:`low_memory_apply` does inside its loop.

        Parameters
        ----------
        *args : TensorVariable, optional
            Positional arguments in the order of ``self.apply.sequences`` followed by
            ``self.apply.contexts``.
        **kwargs
            The sequences, states and contexts by name, and the arguments of the
            :func:`~blocks.bricks.recurrent.recurrent` applications (``iterate``,
            ``return_initial_states``, ``n_steps``, ``batch_size``).
        """
        names = self._sequences() + self._contexts()
        if len(args) > len(names):
            raise TypeError(
                f"RecurrentStack {self.name!r}: takes at most {len(names)} positional "
                f"arguments ({names}), got {len(args)}"
            )
        kwargs.update(zip(names, args))
        if kwargs.get("reverse", False):
            raise NotImplementedError(
                f"RecurrentStack {self.name!r}: reverse=True is not implemented; reverse the "
                f"sequences yourself (x[::-1]) and the outputs back"
            )
        kwargs.pop("reverse", None)
        layer_arguments = set(self._sequences() + self._states() + self._contexts())
        control = {k: v for k, v in kwargs.items() if k not in layer_arguments}

        results = []
        last_states = None
        for level, transition in enumerate(self.transitions):
            layer_kwargs = {}
            inputs = self.normal_inputs(level)
            if level == 0 or self.skip_connections:
                for name in inputs:
                    layer_kwargs[name] = kwargs.get(self.suffix(name, level))
            if "mask" in transition.apply.sequences:
                layer_kwargs["mask"] = kwargs.get("mask")
            for name in transition.apply.states:
                layer_kwargs[name] = kwargs.get(self.suffix(name, level))
            for name in transition.apply.contexts:
                layer_kwargs[name] = kwargs.get(name)
            if level > 0:
                forked = self.forks[level - 1].apply(last_states, return_list=True)
                for name, value in zip(inputs, forked):
                    given = layer_kwargs.get(name)
                    layer_kwargs[name] = value if given is None else given + value
            layer_kwargs.update(control)
            result = transition.apply(return_list=True, **layer_kwargs)
            results.extend(result)
            last_states = result[transition.apply.outputs.index(self.states_name)]
            if kwargs.get("return_initial_states", False):
                last_states = last_states[1:]
        return results

    @recurrent
    def low_memory_apply(self, *args, **kwargs):
        """Apply the stack with one loop over time that runs every layer at each step.

        Not for stacks with :class:`Bidirectional` layers, whose backward half needs the
        whole sequence (``NotImplementedError``).
        """
        # The decorator iterates; do_apply computes one step of every layer.
        kwargs["iterate"] = False
        return self.do_apply(*args, **kwargs)

    @low_memory_apply.property("sequences")
    def _apply_sequences(self):
        return self._sequences()

    @low_memory_apply.property("states")
    def _apply_states(self):
        return self._states()

    @low_memory_apply.property("contexts")
    def _apply_contexts(self):
        return self._contexts()

    @low_memory_apply.property("outputs")
    def _apply_outputs(self):
        return self._outputs()

    @application
    def apply(self, *args, **kwargs):
        """Apply the stack of transitions.

        Parameters
        ----------
        low_memory : bool, optional
            Use the slow, but also memory efficient, implementation of this code: one
            loop over time running all layers (:meth:`low_memory_apply`) instead of one
            loop per layer.
        *args : TensorVariable, optional
            Positional arguments in the order in which they appear in
            ``self.apply.sequences`` followed by ``self.apply.contexts``.
        **kwargs : TensorVariable
            Named arguments defined in ``self.apply.sequences``, ``self.apply.states`` or
            ``self.apply.contexts``, and the arguments of
            :func:`~blocks.bricks.recurrent.recurrent` such as ``iterate`` and
            ``return_initial_states``; ``reverse`` is not implemented.

        Returns
        -------
        outputs : (list of) TensorVariable
            The outputs of all transitions as defined in ``self.apply.outputs``.
        """
        if kwargs.pop("low_memory", False):
            bidirectional = [t.name for t in self.transitions if isinstance(t, Bidirectional)]
            if bidirectional:
                raise NotImplementedError(
                    f"RecurrentStack {self.name!r}: low_memory=True runs all layers in one "
                    f"loop over time, which the Bidirectional layers {bidirectional} cannot "
                    f"do; use the default apply")
            return self.low_memory_apply(*args, **kwargs)
        return self.do_apply(*args, **kwargs)

    @apply.delegate
    def _apply_delegate(self):
        # apply has the attributes (sequences, states...) of low_memory_apply.
        return self.low_memory_apply

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        """The initial states of all layers, in the order of ``self.apply.states``."""
        results = []
        for transition in self.transitions:
            results += transition.initial_states(batch_size, *args, return_list=True,
                                                 **kwargs)
        return results

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self._states()

