"""A Transformer decoder as the recurrent transition of a sequence generator.

The keys and values of the decoder's self-attention at the positions already decoded
are kept in recurrent states (one cache per layer), so that each step of generation
costs one position's computation, and
:class:`~blocks.bricks.sequence_generators.SequenceGenerator`'s ``cost`` and ``generate``
and :class:`~blocks.search.BeamSearch` (which reorders states along the batch axis) work
on it unchanged.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

from blocks.bricks.base import application, describe, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent
from blocks.bricks.validation import POSITIVE_INTEGER, ArgumentCheck
from blocks.roles import INITIAL_STATE

__all__ = ["TransformerTransition"]


class TransformerTransition(BaseRecurrent, Initializable):
    """A :class:`~blocks.bricks.transformer.TransformerDecoder` decoding one position per
    step, with the self-attention's keys and values cached in its states.

    Its recurrent :meth:`apply` has the sequence ``inputs`` ``(time, batch, dim)`` (in a
    sequence generator, the fork of the feedback of the previous outputs), the contexts
    ``attended`` ``(attended time, batch, dim)`` (e.g. an encoder's output) and
    ``attended_mask`` ``(attended time, batch)``, and the states:

    - ``states`` ``(batch, dim)``: the decoder's output at the last position decoded,
      which a readout reads;
    - ``position`` ``(batch,)``: the number of positions decoded (the same for every
      example);
    - ``key_cache_i`` and ``value_cache_i`` ``(batch, max_length, dim)`` for every layer
      ``i``.

    The initial states are those after decoding position 0, whose input is the learned
    vector ``initial_input`` (role INITIAL_STATE, initialized with zeros): the first
    output of a generator is then predicted from the decoder's output on that start
    input, which attends to the attended. So a step at position ``p`` gives the output of
    the whole decoder on ``[initial_input, inputs_1, ..., inputs_p]`` at its last
    position.

    Over a whole sequence (``apply`` iterated, as in a generator's ``cost``) the positions
    are decoded in parallel, by :meth:`fused_recurrence`; one step at a time (as in
    ``generate`` and beam search) with the caches.

    Parameters
    ----------
    decoder : TransformerDecoder
        The decoder; give it a positional embedding, or it sees no order.
    max_length : int
        The number of positions the caches hold (the start position included):
        generating more steps than ``max_length - 1`` makes the compiled function raise.
        Required by :meth:`allocate`.

    Notes
    -----
    The mask of the generated sequences is not a sequence of this transition: padding
    comes after the valid steps, and a causal decoder's outputs at valid positions do
    not depend on it (the generator zeroes the costs of the padded steps).

    Examples
    --------
    >>> from blocks.bricks.transformer import TransformerDecoder
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> transition = TransformerTransition(
    ...     TransformerDecoder(1, dim=4, num_heads=2, feedforward_dim=8),
    ...     max_length=6, weights_init=IsotropicGaussian(0.3), biases_init=Constant(0))
    >>> transition.initialize()
    >>> transition.apply.states
    ['states', 'position', 'key_cache_0', 'value_cache_0']
    >>> x, attended = pt.tensor3('x'), pt.tensor3('attended')
    >>> states = transition.apply(x, attended=attended)[0]
    >>> states.eval({x: np.ones((3, 2, 4)), attended: np.ones((5, 2, 4))}).shape
    (3, 2, 4)
    """

    argument_checks = {"max_length": ArgumentCheck(
        "an integer >= 2 (the start position and at least one step)",
        POSITIVE_INTEGER.has_type, lambda value: value >= 2)}

    @lazy(allocation=["max_length"])
    def __init__(self, decoder, max_length, **kwargs):
        kwargs["children"] = [decoder] + list(kwargs.get("children") or [])
        super().__init__(**kwargs)
        self.decoder = decoder
        self.max_length = max_length

    @property
    def dim(self):
        return self.decoder.dim

    def _allocate(self):
        self.create_parameter("initial_input", (self.dim,), INITIAL_STATE)

    @property
    def initial_input(self):
        return self.parameters[0]

    def _initialize(self):
        super()._initialize()
        self.initial_input.set_value(np.zeros_like(self.initial_input.get_value()))

    def _projected_dim(self):
        attention = self.decoder.layers[0].self_attention
        if not attention.allocation_config_pushed:
            self.push_allocation_config()
        return attention.num_heads * attention.head_dim

    def get_dim(self, name):
        if name in ("inputs", "states", "attended"):
            return self.dim
        if name in ("position", "attended_mask"):
            return 0
        if name in self.decoder.cache_names:
            return (self.max_length, self._projected_dim())
        return super().get_dim(name)

    @recurrent
    def apply(self, inputs, states, position, attended, attended_mask=None, **caches):
        """Decode one position: `inputs` ``(batch, dim)`` at position `position`."""
        first = pt.cast(position[0], "int64")
        output, *caches = self.decoder.apply_cached(
            inputs[None], first, attended, attended_mask, **caches)
        return [output[0], position + 1] + caches

    @apply.property("sequences")
    def apply_sequences(self):
        return ["inputs"]

    @apply.property("states")
    def apply_states(self):
        return ["states", "position"] + self.decoder.cache_names

    @apply.property("contexts")
    def apply_contexts(self):
        return ["attended", "attended_mask"]

    @apply.property("outputs")
    def apply_outputs(self):
        return self.apply.states

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        """The states after decoding the start input at position 0.

        Needs the ``attended`` (and ``attended_mask`` if any) of the call.
        """
        if kwargs.get("attended") is None:
            raise ValueError(
                f"{describe(self)}: initial_states() needs the context 'attended' (the "
                f"start position attends to it); got {sorted(kwargs)}"
            )
        dtype = pytensor.config.floatX
        caches = {name: pt.zeros((batch_size, *self.get_dim(name)), dtype=dtype)
                  for name in self.decoder.cache_names}
        start = pt.zeros((1, batch_size, self.dim), dtype=dtype) + self.initial_input
        output, *caches = self.decoder.apply_cached(
            start, 0, kwargs["attended"], kwargs.get("attended_mask"), **caches)
        return [output[0], pt.ones((batch_size,), dtype=dtype)] + caches

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.apply.states

    def fused_recurrence(self, bound, sequences, states, contexts, reverse):
        """All the positions of `sequences` decoded at once (called by
        :func:`~blocks.bricks.recurrent.recurrent` for a whole sequence).

        Gives what the steps give: the decoder's outputs, and the positions and caches
        after each step.
        """
        if reverse or bound.application is not self.apply.application or \
                set(sequences) != {"inputs"}:
            return None
        inputs = sequences["inputs"]
        first = pt.cast(states["position"][0], "int64")
        output, *caches = self.decoder.apply_cached(
            inputs, first, contexts["attended"], contexts.get("attended_mask"),
            **{name: states[name] for name in self.decoder.cache_names})
        steps = pt.arange(1, inputs.shape[0] + 1)
        positions = states["position"][None, :] + steps[:, None].astype(inputs.dtype)
        # After step t the caches hold the new keys up to position first + t, and what
        # the initial caches held beyond it.
        written = pt.le(pt.arange(self.max_length)[None, :],
                        (first + steps - 1)[:, None])[:, None, :, None]
        per_step = [pt.switch(written, final[None], states[name][None])
                    for name, final in zip(self.decoder.cache_names, caches)]
        return [output, positions] + per_step
