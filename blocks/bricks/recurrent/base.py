"""The base of recurrent bricks: :class:`BaseRecurrent` and the :func:`recurrent` decorator.

A recurrent brick implements one step of its transition; :func:`recurrent` turns that
step into an application over whole sequences, built on :func:`pytensor.scan`.
Sequences are time-major: ``(time, batch, ...)``.
"""

import inspect
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, clone_get_equiv
from pytensor.graph.traversal import graph_inputs, truncated_graph_inputs
from pytensor.tensor.subtensor import Subtensor

from blocks.bricks.base import Application, Brick, application, describe
from blocks.config import config
from blocks.initialization import NdarrayInitialization

__all__ = ["BaseRecurrent", "recurrent"]


def _state_shape(batch_size, dim):
    """The shape of a batch of states of dimension `dim` (0: a scalar per example)."""
    if isinstance(dim, (tuple, list)):
        return (batch_size, *dim)
    if dim == 0:
        return (batch_size,)
    return (batch_size, dim)


class BaseRecurrent(Brick):
    """Base class for bricks with a recurrent application method.

    The recurrent application is expected to be called ``apply`` and to be decorated
    with :func:`recurrent`; its ``states`` attribute lists the names of the states.

    Attributes
    ----------
    has_bias : bool
        ``False``: a recurrent transition has no bias of its own.
    """

    has_bias = False

    @application
    def initial_states(self, batch_size, *args, **kwargs):
        """Return the initial states for an application call.

        This default returns zeros of shape ``(batch_size, self.get_dim(state))`` for
        every state in ``self.apply.states``. :class:`SimpleRecurrent`, :class:`LSTM` and
        :class:`GatedRecurrent` override it with trainable initial states initialized
        with zeros.

        Parameters
        ----------
        batch_size : int or scalar variable
            The batch size.
        *args, **kwargs
            The arguments of the application call (sequences, states, contexts).

        Examples
        --------
        >>> class Counter(BaseRecurrent):
        ...     @recurrent(sequences=[], states=['count'], outputs=['count'], contexts=[])
        ...     def apply(self, count):
        ...         return count + 1
        ...     def get_dim(self, name):
        ...         return 2 if name == 'count' else super().get_dim(name)
        >>> Counter().initial_states(3).eval().shape
        (3, 2)
        """
        return [
            pt.zeros(_state_shape(batch_size, self.get_dim(name)), dtype=pytensor.config.floatX)
            for name in self.apply.states
        ]

    @initial_states.property("outputs")
    def initial_states_outputs(self):
        return self.apply.states


def recurrent(*args, **kwargs):
    """Turn a method computing one step of a recurrent network into one over sequences.

    The decorated method describes one step: given the current elements of the input
    sequences, the current states and the contexts, it returns the outputs of the step,
    among which the next states (outputs with the name of a state). The decorator makes
    it an application method (see :func:`~blocks.bricks.base.application`) that loops
    over time with :func:`pytensor.scan`. Used without arguments, the application's
    ``sequences``, ``states``, ``contexts`` and ``outputs`` must be set on the brick's
    bound application before it is called.

    Parameters
    ----------
    sequences : list of str
        The arguments that are elements of input sequences. Sequences are given
        time-major, ``(time, batch, ...)``; a ``mask`` sequence is ``(time, batch)``.
    states : list of str
        The arguments that are states.
    contexts : list of str
        The arguments that stay the same at every step.
    outputs : list of str
        The names of the outputs; those named like a state are the next states.

    Returns
    -------
    recurrent_apply : Application
        The application over sequences. Besides the step's arguments it takes:

        - ``iterate`` (bool, default True): if False, do a single step (the arguments
          are then one step's values);
        - ``reverse`` (bool, default False): process the sequences from the last step
          to the first; the outputs come in processing order (like ``go_backwards`` of
          :func:`pytensor.scan`);
        - ``return_initial_states`` (bool, default False): prepend the initial states
          to the returned states (one extra leading step);
        - ``n_steps`` and ``batch_size``: required when no sequence is given.

        States that are not given are taken from ``brick.initial_states(batch_size,
        ...)``; a state may be given as a variable of shape ``(batch, dim)`` or as an
        :class:`~blocks.initialization.NdarrayInitialization` (one initial vector
        generated with the brick's ``rng`` and repeated over the batch).

        When the loop is a scan, its :class:`~blocks.bricks.base.ApplicationCall` keeps
        the step graph: ``inner_inputs`` (placeholders for the sequences, the previous
        states and the contexts, in that order) and ``inner_outputs`` (one step of the
        application on them). A loop that a brick runs as one fused node (the default
        of ``SimpleRecurrent``, ``LSTM`` and ``GRU``) has no step graph: set
        ``brick.fused = False`` to get a scan.

    Raises
    ------
    KeyError
        When an initial state is neither given nor provided by ``initial_states``.

    Examples
    --------
    A running sum over a sequence of vectors:

    >>> import pytensor.tensor as pt
    >>> class Accumulator(BaseRecurrent):
    ...     @recurrent(sequences=['inputs'], states=['total'], outputs=['total'],
    ...                contexts=[])
    ...     def apply(self, inputs, total):
    ...         return total + inputs
    ...     def get_dim(self, name):
    ...         return 2 if name in ('inputs', 'total') else super().get_dim(name)
    >>> x = pt.tensor3('x')
    >>> totals = Accumulator().apply(x)
    >>> totals.eval({x: np.ones((3, 1, 2), dtype=pytensor.config.floatX)})[:, 0, 0]
    array([1., 2., 3.])
    """
    if args:
        if len(args) != 1 or kwargs or not callable(args[0]):
            raise TypeError(
                "recurrent: use @recurrent or @recurrent(sequences=..., states=..., "
                "contexts=..., outputs=...)"
            )
        return _recurrent_application(args[0], {})
    unknown = set(kwargs) - {"sequences", "states", "contexts", "outputs", "inputs"}
    if unknown:
        raise TypeError(f"recurrent: unexpected arguments {sorted(unknown)}")

    def decorator(step):
        return _recurrent_application(step, kwargs)

    return decorator


def _recurrent_application(step, attributes):
    signature = inspect.signature(step)
    parameters = list(signature.parameters.values())
    step_takes_call = "application_call" in signature.parameters
    positional = [
        p.name for p in parameters[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    has_varargs = any(p.kind == p.VAR_POSITIONAL for p in parameters)

    def recurrent_apply(brick, *args, application_call, **kwargs):
        if step_takes_call:
            kwargs["application_call"] = application_call
        if not kwargs.pop("iterate", True):
            return step(brick, *args, **kwargs)
        kwargs.pop("application_call", None)
        bound = application_call.application
        names = positional if positional or not has_varargs else (
            list(bound.sequences) + list(bound.contexts))
        if len(args) > len(names):
            raise TypeError(
                f"{describe(brick)}: {bound.name}() takes at most {len(names)} positional "
                f"arguments ({', '.join(names)}), got {len(args)}"
            )
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{describe(brick)}: {bound.name}() got two values for {name!r}")
            kwargs[name] = value
        return _iterate(brick, bound, application_call, kwargs)

    # The application machinery names positional inputs after the step's arguments.
    new_parameters = [p for p in parameters if p.name != "application_call"]
    keyword_only = inspect.Parameter("application_call", inspect.Parameter.KEYWORD_ONLY)
    insert_at = next((i for i, p in enumerate(new_parameters) if p.kind == p.VAR_KEYWORD),
                     len(new_parameters))
    new_parameters.insert(insert_at, keyword_only)
    recurrent_apply.__signature__ = signature.replace(parameters=new_parameters)
    recurrent_apply.__name__ = step.__name__
    recurrent_apply.__qualname__ = step.__qualname__
    recurrent_apply.__doc__ = step.__doc__
    recurrent_apply.__module__ = step.__module__
    # Lets tools that look for the source (the doctest line numbers of conftest.py) find
    # the step; __signature__ above still wins for inspect.signature.
    recurrent_apply.__wrapped__ = step

    app = Application(recurrent_apply)
    for name, value in attributes.items():
        setattr(app, name, list(value))
    if "inputs" not in attributes:
        def inputs(brick):
            bound = getattr(brick, app.application_name)
            return list(bound.sequences) + list(bound.states) + list(bound.contexts)
        app.properties["inputs"] = inputs
    return app


def _check_sequences(brick, bound, sequences):
    """Refuse sequences that are not time-major ``(time, batch, ...)``, or a bad mask."""
    reference = None
    for name, sequence in sequences.items():
        where = f"{describe(brick)}: {bound.name}() argument {name!r}"
        if name == "mask" and sequence.ndim != 2:
            raise ValueError(
                f"{where}: the mask must be (time, batch): expected ndim=2, found "
                f"ndim={sequence.ndim} (static shape received: {sequence.type.shape})"
            )
        if sequence.ndim < 2:
            raise ValueError(
                f"{where}: sequences are time-major (time, batch, ...): expected ndim >= 2, "
                f"found ndim={sequence.ndim} (static shape received: {sequence.type.shape})"
            )
        if reference is None:
            reference = (name, sequence.type.shape[:2])
            continue
        for axis, label in enumerate(("time", "batch")):
            known, other = reference[1][axis], sequence.type.shape[axis]
            if known is not None and other is not None and known != other:
                raise ValueError(
                    f"{where}: its {label} length {other} does not match the {label} length "
                    f"{known} of {reference[0]!r} (static shapes: {sequence.type.shape} vs "
                    f"{reference[1]})"
                )


def _brick_rng(brick):
    rng = getattr(brick, "rng", None)
    return rng if rng is not None else np.random.RandomState(config.default_seed)


def _initial_states(brick, bound, batch_size, kwargs):
    """Complete `kwargs` with the initial states: given, generated or from the brick."""
    states = OrderedDict()
    missing = [name for name in bound.states if kwargs.get(name) is None]
    defaults = {}
    if missing:
        call_kwargs = {k: v for k, v in kwargs.items() if v is not None}
        defaults = brick.initial_states(batch_size, return_dict=True, **call_kwargs)
    for name in bound.states:
        value = kwargs.get(name)
        if value is None:
            if name not in defaults:
                raise KeyError(
                    f"no initial state for {name!r} of the brick {brick.name!r} "
                    f"({type(brick).__name__}): give it to {bound.name}() or return it from "
                    f"initial_states"
                )
            value = defaults[name]
        elif isinstance(value, NdarrayInitialization):
            dim = brick.get_dim(name)
            shape = _state_shape(1, dim)
            generated = value.generate(_brick_rng(brick), shape).astype(pytensor.config.floatX)
            value = pt.repeat(pt.as_tensor_variable(generated), batch_size, axis=0)
        states[name] = pt.as_tensor_variable(value)
    return states


def _iterate(brick, bound, application_call, kwargs):
    reverse = kwargs.pop("reverse", False)
    return_initial_states = kwargs.pop("return_initial_states", False)
    n_steps = kwargs.pop("n_steps", None)
    explicit_n_steps = n_steps is not None
    batch_size = kwargs.pop("batch_size", None)
    sequence_names, state_names = list(bound.sequences), list(bound.states)
    context_names, output_names = list(bound.contexts), list(bound.outputs)
    not_output = [name for name in state_names if name not in output_names]
    if not_output:
        raise ValueError(
            f"{describe(brick)}: the states {not_output} of {bound.name}() are not among its "
            f"outputs {output_names}; a recurrent step must return its next states"
        )

    sequences = OrderedDict(
        (name, pt.as_tensor_variable(kwargs.pop(name))) for name in sequence_names
        if kwargs.get(name) is not None)
    for name in sequence_names:
        kwargs.pop(name, None)
    contexts = OrderedDict(
        (name, kwargs.pop(name)) for name in context_names if kwargs.get(name) is not None)
    for name in context_names:
        kwargs.pop(name, None)
    _check_sequences(brick, bound, sequences)

    if sequences:
        first = next(iter(sequences.values()))
        if n_steps is None:
            n_steps = first.shape[0]
        if batch_size is None:
            batch_size = first.shape[1]
    elif n_steps is None or batch_size is None:
        raise ValueError(
            f"{describe(brick)}: {bound.name}() was given no sequence, so it needs n_steps "
            f"and batch_size (got n_steps={n_steps!r}, batch_size={batch_size!r})"
        )

    state_kwargs = {name: kwargs.pop(name) for name in state_names if name in kwargs}
    states = _initial_states(brick, bound, batch_size,
                             {**sequences, **contexts, **state_kwargs, **kwargs})
    others = kwargs  # anything else is passed unchanged to every step

    # A brick may compute the whole loop itself (e.g. with a fused op); None if it can't.
    fused = getattr(brick, "fused_recurrence", None)
    results = None
    if fused is not None and not others and not explicit_n_steps:
        results = fused(bound, sequences, states, contexts, reverse)
    if results is None:
        if reverse:
            sequences = OrderedDict((name, seq[::-1]) for name, seq in sequences.items())
        results = _scan(brick, bound, application_call, sequences, states, contexts, others,
                        n_steps)
    if return_initial_states:
        results = [
            _with_initial(result, states[name]) if name in states else result
            for name, result in zip(output_names, results)
        ]
    return results


def _with_initial(result, initial):
    """The states `result` (time, batch, ...) preceded by the initial state."""
    owner = result.owner
    if owner is not None and isinstance(owner.op, Subtensor):
        # Scan returns buffer[1:], whose buffer starts with the initial state.
        buffer = owner.inputs[0]
        if buffer.owner is not None and type(buffer.owner.op).__name__ == "Scan":
            return buffer
    return pt.concatenate([pt.shape_padleft(initial.astype(result.dtype)), result], axis=0)


def _scan(brick, bound, application_call, sequences, states, contexts, others, n_steps):
    output_names = list(bound.outputs)
    state_order = [name for name in output_names if name in states]
    # The step is built once on placeholders, then cloned into the loop: that tells
    # which outside variables it uses, so they are all given to scan explicitly.
    seq_inner = OrderedDict(
        (name, seq.type.clone(shape=seq.type.shape[1:])(name=f"{name}_t"))
        for name, seq in sequences.items())
    states = OrderedDict((name, states[name]) for name in state_order)
    state_inner = OrderedDict(
        (name, states[name].type(name=f"{name}_tm1")) for name in state_order)
    step_kwargs = {**seq_inner, **state_inner, **contexts, **others}
    outputs = bound(iterate=False, return_list=True, **step_kwargs)
    if len(outputs) != len(output_names):
        raise ValueError(
            f"{describe(brick)}: one step of {bound.name}() returned {len(outputs)} outputs, "
            f"expected {len(output_names)} ({output_names})"
        )
    outputs = [pt.as_tensor_variable(output) for output in outputs]
    # As in Blocks, the call keeps the step graph it was built from: one step applied to
    # placeholders for the sequences, the previous states and the contexts.
    application_call.inner_inputs = (
        list(seq_inner.values()) + list(state_inner.values()) + list(contexts.values()))
    application_call.inner_outputs = list(outputs)
    for name, output in zip(output_names, outputs):
        if name in states:
            outputs[output_names.index(name)] = _match_state(brick, bound, name, output,
                                                             states[name])

    placeholders = list(seq_inner.values()) + list(state_inner.values())
    shared_roots = [v for v in graph_inputs(outputs) if isinstance(v, SharedVariable)]
    rngs = [v for v in shared_roots if getattr(v, "default_update", None) is not None]
    rng_updates = [v.default_update for v in rngs]
    free = [
        v for v in truncated_graph_inputs(outputs + rng_updates, placeholders + rngs)
        if not isinstance(v, Constant) and v not in placeholders and v not in rngs
    ]

    roots = placeholders + rngs + free

    def step_function(*inner):
        # Clone the traced step onto scan's inner variables; outside values (`free`)
        # are kept as they are, so that scan recognises them as its non-sequences.
        memo = dict(zip(placeholders + rngs, inner[:len(placeholders) + len(rngs)]))
        targets = [outputs[output_names.index(name)] for name in state_order] + [
            output for name, output in zip(output_names, outputs) if name not in states
        ] + rng_updates
        equivalents = clone_get_equiv(roots, targets, copy_inputs=False, copy_orphans=False,
                                      memo=memo)
        return [equivalents[target] for target in targets]

    results = pytensor.scan(
        step_function,
        sequences=list(sequences.values()),
        outputs_info=list(states.values()) + rngs + [
            None for name in output_names if name not in states],
        non_sequences=free,
        n_steps=n_steps,
        strict=True,
        return_list=True,
        return_updates=False,
        name=f"{brick.name}_{bound.name}_scan",
        # Without a mode, the Python implementation of scan compiles its step with C
        # whatever the configured mode; under FAST_COMPILE the step should not be compiled.
        mode="FAST_COMPILE" if pytensor.config.mode == "FAST_COMPILE" else None,
    )
    n_states = len(state_order)
    by_name = dict(zip(state_order, results[:n_states]))
    rng_finals = results[n_states:n_states + len(rngs)]
    by_name.update(zip([name for name in output_names if name not in states],
                       results[n_states + len(rngs):]))
    for rng, final in zip(rngs, rng_finals):
        # Advance the random generators by the whole loop when the graph runs.
        rng.default_update = final
        application_call.updates[rng] = final
    return [by_name[name] for name in output_names]


def _match_state(brick, bound, name, output, initial):
    """Check that a next state can follow the previous one in the loop."""
    if output.ndim != initial.ndim:
        raise ValueError(
            f"{describe(brick)}: one step of {bound.name}() returned the state {name!r} with "
            f"ndim={output.ndim}, but its initial value has ndim={initial.ndim}"
        )
    if output.dtype != initial.dtype:
        output = output.astype(initial.dtype)
    # Scan needs the next state to have exactly the type of the initial one: a constant
    # batch size of 1 gives the initial states a static shape the step does not infer.
    return initial.type.filter_variable(output)
