"""Beam search over the outputs of a sequence generator."""

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import toposort
from pytensor.tensor.type import TensorType

from blocks import backend
from blocks.bricks.sequence_generators import BaseSequenceGenerator
from blocks.filter import VariableFilter, get_application_call, get_brick
from blocks.graph import ComputationGraph
from blocks.roles import INPUT, OUTPUT, has_roles

__all__ = ["BeamSearch"]


class BeamSearch:
    """Approximate search for the most probable output sequences of a generator.

    Built from the graph of the outputs of a :class:`BaseSequenceGenerator`'s
    :meth:`~BaseSequenceGenerator.generate` call: the inputs of that graph (e.g. a source
    sentence) become the inputs of :meth:`search`; its contexts and initial states are
    computed from them. The beam size is the batch size of the generate call, so give
    the inputs repeated ``beam_size`` times along the batch axis.

    The search keeps, at every step, the `beam_size` lowest-cost continuations of the
    current hypotheses (the cost of an output is its negative log-probability under the
    readout's emitter, which must have a ``probs`` application, like
    :class:`~blocks.bricks.sequence_generators.SoftmaxEmitter`). Finished hypotheses (that
    emitted the end-of-line symbol) are kept, continued with that symbol at no cost.

    A step of the generator also computes things that depend only on the contexts (e.g.
    the preprocessing of the attended by an attention mechanism, a transformation of the
    whole source sequence). They are split off the step: computed once per search, from
    the contexts, and given to the step functions.

    The glimpses of a step (e.g. the attention's weighted average) are needed both for
    the log-probabilities and for the next states. The log-probabilities function returns
    them, and the search gives them, reordered like the states for the hypotheses it
    keeps, to the next-states function, which does not take them again. They equal the
    glimpses taken again from the reordered states only to rounding (BLAS rounds a row of
    a product by its place in the batch), so a search's costs agree with a loop over
    :meth:`compute_logprobs` and :meth:`compute_next_states` to rounding, not bit for bit.

    Its four functions (initial states and contexts; the part of a step that depends only
    on the contexts; log-probabilities and glimpses; next states) are compiled once, on
    the first search, and reused.

    Parameters
    ----------
    samples : TensorVariable
        An output of a ``generate`` call (e.g. the ``outputs``) of a sequence generator.
    mode : str or Mode, optional
        The mode of the four functions (see :mod:`blocks.backend`); by default
        ``blocks.config.mode``, else PyTensor's default. Under JAX a function is compiled
        for each batch size it meets: the beam's, and the source's.

    Attributes
    ----------
    fixed_variables : list of TensorVariable
        Set by :meth:`compile`: the variables of a step's graph computed from the contexts
        alone (and the contexts that the step uses as they are), which a search computes
        once; e.g. the preprocessed attended of an attention mechanism.

    Examples
    --------
    >>> from blocks.bricks import Tanh
    >>> from blocks.bricks.recurrent import SimpleRecurrent
    >>> from blocks.bricks.sequence_generators import (
    ...     SequenceGenerator, Readout, SoftmaxEmitter, LookupFeedback)
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> generator = SequenceGenerator(
    ...     Readout(readout_dim=3, source_names=['states', 'feedback'],
    ...             emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(3, 4)),
    ...     SimpleRecurrent(dim=5, activation=Tanh()),
    ...     weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    >>> generator.initialize()
    >>> beam_size = pytensor.tensor.iscalar('beam_size')
    >>> samples = generator.generate(n_steps=4, batch_size=beam_size)[1]
    >>> search = BeamSearch(samples)
    >>> outputs, costs = search.search({beam_size: 2}, eol_symbol=0, max_length=4)
    >>> len(outputs), bool(costs[0] <= costs[1])
    (2, True)
    """

    def __init__(self, samples, mode=None):
        self.samples = samples
        self.mode = mode
        self.generator = get_brick(samples)
        call = get_application_call(samples)
        if not isinstance(self.generator, BaseSequenceGenerator) or call is None or \
                call.application.name != "generate" or call.brick is not self.generator:
            raise ValueError(
                f"BeamSearch: samples must be an output of the generate() application of a "
                f"sequence generator, got {samples!r} (created by "
                f"{type(self.generator).__name__ if self.generator else 'no brick'})"
            )
        self.generate_call = call
        emitter = getattr(self.generator.readout, "emitter", None)
        if emitter is None or not hasattr(type(emitter), "probs"):
            raise ValueError(
                f"BeamSearch: the readout of {type(self.generator).__name__} "
                f"{self.generator.name!r} must have an emitter with a probs application "
                f"(e.g. SoftmaxEmitter), got {type(emitter).__name__}"
            )
        self.emitter = emitter
        self.cg = ComputationGraph(samples)
        self.inputs = self.cg.inputs
        self.state_names = list(self.generator.generate.states)
        self.contexts = self._outer_variables(self.generator.generate.contexts, INPUT)
        self.context_names = list(self.contexts)
        self.initial_states = self._initial_states()
        self.fixed_variables = None
        self._functions = None

    def _outer_variables(self, names, role, call=None):
        """The variables named `names` with `role` from a call (the generate one) in `cg`."""
        call = call or self.generate_call
        found = OrderedDict()
        for var in self.cg.variables:
            name = getattr(var.tag, "name", None)
            if name in names and name not in found and has_roles(var, [role]) and \
                    call in getattr(var.tag, "annotations", []):
                found[name] = var
        return OrderedDict((name, found[name]) for name in names if name in found)

    def _initial_states(self):
        # States given to generate are its inputs; the others come from initial_states.
        given = self._outer_variables(self.state_names, INPUT)
        computed = VariableFilter(applications=[self.generator.initial_states],
                                  roles=[OUTPUT])(self.cg.variables)
        calls = {id(get_application_call(var)) for var in computed}
        if len(calls) > 1:
            raise ValueError(
                f"BeamSearch: the graph of samples holds {len(calls)} calls of "
                f"{self.generator.name!r}.initial_states; build it from a single generate call"
            )
        by_name = {var.tag.name: var for var in computed}
        states = OrderedDict()
        for name in self.state_names:
            if name in given:
                states[name] = given[name]
            elif name in by_name:
                states[name] = by_name[name]
            else:
                raise ValueError(
                    f"BeamSearch: the initial value of the state {name!r} of "
                    f"{self.generator.name!r}.generate is not in the graph of samples"
                )
        return states

    def compile(self):
        """Compile the four functions of the search (done once, on the first search)."""
        if self._functions is not None:
            return
        outputs_name = "outputs"
        context_inputs = OrderedDict(
            (name, var.type(name=name)) for name, var in self.contexts.items())
        state_inputs = OrderedDict(
            (name, var.type.clone(shape=(None,) * var.ndim)(name=name))
            for name, var in self.initial_states.items())
        step = self.generator.generate(
            iterate=False, return_dict=True, **context_inputs, **state_inputs)
        step_cg = ComputationGraph(list(step.values()))
        probs = VariableFilter(applications=[self.emitter.probs],
                               roles=[OUTPUT])(step_cg.variables)
        emitted = VariableFilter(applications=[self.generator.readout.emit],
                                 roles=[OUTPUT])(step_cg.variables)
        if len(probs) != 1 or len(emitted) != 1:
            raise ValueError(
                f"BeamSearch: one step of {self.generator.name!r}.generate must compute the "
                f"probabilities and emit once, found {len(probs)} and {len(emitted)}"
            )
        chosen = emitted[0].type(name="chosen_outputs")
        glimpses = self._step_glimpses(step_cg)
        # One clone for both functions, so that their fixed parts and glimpses are the
        # same variables.
        logprobs, *rest = clone_replace(
            [-pt.log(probs[0])] + [step[name] for name in self.state_names] + glimpses,
            replace={emitted[0]: chosen})
        next_states, glimpses = rest[:len(self.state_names)], rest[len(self.state_names):]
        next_states[self.state_names.index(outputs_name)] = chosen
        fixed = _fixed_inputs_of_step([logprobs] + next_states,
                                      list(state_inputs.values()) + [chosen])
        fixed_inputs = [var.type(name=var.name or f"fixed_{i}")
                        for i, var in enumerate(fixed)]
        # The batch size of a search is not that of the generate call.
        glimpse_inputs = [var.type.clone(shape=(None,) * var.ndim)(name=var.tag.name)
                          for var in glimpses]
        to_inputs = dict(zip(fixed, fixed_inputs))
        logprobs_and_glimpses = clone_replace([logprobs] + glimpses, replace=to_inputs)
        next_states = clone_replace(
            next_states, replace={**to_inputs, **dict(zip(glimpses, glimpse_inputs))})
        step_inputs = fixed_inputs + list(state_inputs.values())
        self.fixed_variables = fixed
        mode = getattr(self, "mode", None)
        self._functions = (
            backend.function(
                self.inputs,
                list(self.initial_states.values()) + list(self.contexts.values()),
                on_unused_input="ignore", mode=mode),
            backend.function(list(context_inputs.values()), fixed,
                             on_unused_input="ignore", mode=mode),
            backend.function(step_inputs, logprobs_and_glimpses, on_unused_input="ignore",
                             mode=mode),
            backend.function(step_inputs + glimpse_inputs + [chosen], next_states,
                             on_unused_input="ignore", mode=mode),
        )

    def _step_glimpses(self, step_cg):
        """The outputs of the one take_glimpses call of a step, or [] if it has not one.

        With [], the next-states function takes the glimpses again itself: a step (of a
        generator that redefines generate) that takes its glimpses more than once, or not
        at all, cannot be given them as inputs.
        """
        take_glimpses = self.generator.transition.take_glimpses
        found = VariableFilter(applications=[take_glimpses], roles=[OUTPUT])(
            step_cg.variables)
        names = list(take_glimpses.outputs)
        if sorted(var.tag.name for var in found) != sorted(names):
            return []
        return sorted(found, key=lambda var: names.index(var.tag.name))

    def compute_initial_states_and_contexts(self, inputs):
        """The initial states and the contexts (two dicts) for the given input values.

        `inputs` maps the input variables of the graph (or their names) to values.
        """
        values = self._functions[0](*[self._input_value(inputs, var) for var in self.inputs])
        states = OrderedDict(zip(self.initial_states, values[:len(self.initial_states)]))
        contexts = OrderedDict(zip(self.contexts, values[len(self.initial_states):]))
        return states, contexts

    @staticmethod
    def _input_value(inputs, var):
        return inputs[var] if var in inputs else inputs[var.name]

    def compute_logprobs(self, contexts, states):
        """The costs (negative log-probabilities) of every output, ``(beam, vocabulary)``.

        The part of the step that depends only on the contexts is computed anew by every
        call; :meth:`search` computes it once.
        """
        return self._logprobs_and_glimpses(self._fixed_values(contexts), states)[0]

    def compute_next_states(self, contexts, states, outputs):
        """The states after emitting `outputs` from `states`.

        The glimpses of `states` are taken again, by the log-probabilities function;
        :meth:`search` reuses those of its log-probabilities step instead.
        """
        fixed_values = self._fixed_values(contexts)
        _, glimpses = self._logprobs_and_glimpses(fixed_values, states)
        return self._next_states(fixed_values, states, glimpses, outputs)

    def _fixed_values(self, contexts):
        """The values of :attr:`fixed_variables` for the given contexts."""
        return self._functions[1](*[contexts[name] for name in self.contexts])

    def _logprobs_and_glimpses(self, fixed_values, states):
        logprobs, *glimpses = self._functions[2](*fixed_values, *states.values())
        return logprobs, glimpses

    def _next_states(self, fixed_values, states, glimpses, outputs):
        values = self._functions[3](*fixed_values, *states.values(), *glimpses, outputs)
        return OrderedDict(zip(self.state_names, values))

    @staticmethod
    def _smallest(matrix, k, only_first_row=False):
        """The indices (rows, columns) and values of the `k` smallest entries, sorted.

        When there are fewer than `k` entries, the first one is repeated with an infinite
        value: a dead hypothesis that keeps the beam (and the batch) at its size.
        """
        candidates = matrix[:1] if only_first_row else matrix
        flat = candidates.ravel()
        if k < flat.size:
            chosen = np.argpartition(flat, k - 1)[:k]
            chosen = chosen[np.argsort(flat[chosen], kind="stable")]
        else:
            chosen = np.argsort(flat, kind="stable")
        values = flat[chosen]
        if len(chosen) < k:
            padding = k - len(chosen)
            chosen = np.concatenate([chosen, np.repeat(chosen[:1], padding)])
            values = np.concatenate([values, np.full(padding, np.inf, dtype=values.dtype)])
        return np.unravel_index(chosen, candidates.shape), values

    def _check_inputs(self, input_values):
        if not isinstance(input_values, dict):
            raise TypeError(
                f"BeamSearch.search: input_values must be a dict from the input variables "
                f"{self.inputs} to their values, got {type(input_values).__name__}"
            )
        missing = [var for var in self.inputs
                   if var not in input_values and var.name not in input_values]
        if missing:
            raise ValueError(
                f"BeamSearch.search: input_values lacks the inputs {missing} of the graph "
                f"(its inputs: {self.inputs})"
            )

    def search(self, input_values, eol_symbol, max_length, ignore_first_eol=False,
               as_arrays=False):
        """Search for the most probable output sequences.

        Parameters
        ----------
        input_values : dict
            From the input variables of the graph of `samples` (or their names) to their
            values; the batch size they imply is the beam size.
        eol_symbol : int
            The end-of-line symbol, an index into the vocabulary.
        max_length : int
            The maximum length of the outputs.
        ignore_first_eol : bool, optional
            Do not end a hypothesis on an end-of-line symbol emitted at the first step.
        as_arrays : bool, optional
            Return the arrays ``(outputs, masks, costs)`` (``(time, beam)`` each, costs
            per step, the hypotheses sorted by cost) instead of lists. Fewer than
            `beam_size` hypotheses are returned when fewer sequences are possible.

        Returns
        -------
        outputs : list of lists of int
            The output sequences (each ending with `eol_symbol` if it was emitted),
            sorted by increasing cost.
        costs : list of float
            Their costs (negative log-probabilities).
        """
        self._check_inputs(input_values)
        if not isinstance(max_length, (int, np.integer)) or max_length < 1:
            raise ValueError(
                f"BeamSearch.search: max_length must be a positive integer, got {max_length!r}"
            )
        self.compile()
        states, contexts = self.compute_initial_states_and_contexts(input_values)
        vocabulary = self.generator.readout.get_dim("readouts")
        if not (isinstance(eol_symbol, (int, np.integer)) and 0 <= eol_symbol < vocabulary):
            raise ValueError(
                f"BeamSearch.search: eol_symbol must be an index into the vocabulary of "
                f"{vocabulary} outputs (0 to {vocabulary - 1}), got {eol_symbol!r}"
            )
        fixed_values = self._fixed_values(contexts)
        beam_size = len(states["outputs"])
        all_outputs = states["outputs"][None, :]
        all_masks = np.ones_like(all_outputs, dtype=pytensor.config.floatX)
        all_costs = np.zeros_like(all_outputs, dtype=pytensor.config.floatX)
        for i in range(max_length):
            if all_masks[-1].sum() == 0:
                break
            logprobs, glimpses = self._logprobs_and_glimpses(fixed_values, states)
            next_costs = all_costs[-1][:, None] + logprobs * all_masks[-1][:, None]
            # Finished hypotheses may only continue with the end-of-line symbol (at no cost).
            (finished,) = np.where(all_masks[-1] == 0)
            next_costs[finished, :eol_symbol] = np.inf
            next_costs[finished, eol_symbol + 1:] = np.inf
            # At the first step all hypotheses are the same: only the first row counts.
            (rows, outputs), chosen_costs = self._smallest(
                next_costs, beam_size, only_first_row=i == 0)
            states = OrderedDict((name, value[rows]) for name, value in states.items())
            glimpses = [value[rows] for value in glimpses]
            all_outputs = all_outputs[:, rows]
            all_masks = all_masks[:, rows]
            all_costs = all_costs[:, rows]
            states = self._next_states(fixed_values, states, glimpses, outputs.astype(
                states["outputs"].dtype))
            all_outputs = np.vstack([all_outputs, outputs[None, :]])
            all_costs = np.vstack([all_costs, chosen_costs[None, :]])
            mask = outputs != eol_symbol
            if ignore_first_eol and i == 0:
                mask[:] = True
            all_masks = np.vstack([all_masks, mask[None, :]])
        # Dead hypotheses (infinite cost: fewer possible continuations than the beam)
        # are dropped.
        alive = np.isfinite(all_costs[-1])
        all_outputs = all_outputs[1:, alive]
        all_masks = all_masks[:-1, alive]
        all_costs = all_costs[1:, alive] - all_costs[:-1, alive]
        if as_arrays:
            return all_outputs, all_masks, all_costs
        return self.result_to_lists((all_outputs, all_masks, all_costs))

    @staticmethod
    def result_to_lists(result):
        """Arrays ``(outputs, masks, costs)`` as lists of sequences and total costs."""
        outputs, masks, costs = (array.T for array in result)
        sequences = [list(map(int, output[:int(mask.sum())]))
                     for output, mask in zip(outputs, masks)]
        totals = [float(total) for total in costs.sum(axis=1)]
        order = sorted(range(len(totals)), key=totals.__getitem__)
        return [sequences[i] for i in order], [totals[i] for i in order]


def _fixed_inputs_of_step(outputs, varying):
    """The variables computed from the contexts that a step needs.

    Parameters
    ----------
    outputs : list of Variable
        The outputs of the step.
    varying : list of Variable
        The inputs of the step that change from step to step (the states, the chosen
        outputs); its other inputs, the contexts, are fixed for a whole search.

    Returns
    -------
    list of Variable
        The largest computations of the graph of `outputs` from the contexts (and
        the contexts themselves) that depend on none of `varying` and that a computation
        depending on one of them uses. Computed outside the step, they leave the step
        only what must be redone at every step. Computations from constants and shared
        variables alone stay in the step: they are cheap, and PyTensor simplifies the
        step with the constants.
    """
    varying = set(varying)
    from_contexts = set()
    in_step = []
    for node in toposort(outputs):
        # A node with a non-tensor output (a random draw, which must be drawn again at
        # every step, updates its generator) stays in the step: its outputs could not be
        # given to the step as tensors anyway.
        if any(var in varying for var in node.inputs) or not all(
                isinstance(var.type, TensorType) for var in node.outputs):
            varying.update(node.outputs)
            in_step.append(node)
        elif any(var in from_contexts or _is_context(var, varying) for var in node.inputs):
            from_contexts.update(node.outputs)
    fixed = OrderedDict()
    for var in [var for node in in_step for var in node.inputs] + list(outputs):
        if var in from_contexts or _is_context(var, varying):
            fixed[var] = None
    return list(fixed)


def _is_context(var, varying):
    return var.owner is None and var not in varying and \
        not isinstance(var, (Constant, SharedVariable))
