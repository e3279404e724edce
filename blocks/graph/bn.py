"""Graph transformations for batch normalization: training mode and population updates.

A graph built with :class:`~blocks.bricks.BatchNormalization` bricks normalizes with
population statistics (inference mode). :func:`apply_batch_normalization` turns it into
a training graph that normalizes with minibatch statistics (or build the graph inside
:func:`batch_normalization`), and :func:`get_batch_normalization_updates` pairs each
population statistic with its minibatch estimate in that graph, for moving averages.
"""

from collections import OrderedDict
from contextlib import ExitStack, contextmanager

from blocks.roles import BATCH_NORM_DIVISOR, BATCH_NORM_OFFSET, INPUT, OUTPUT, has_roles

__all__ = ["batch_normalization", "apply_batch_normalization",
           "get_batch_normalization_updates"]


def _batch_normalization_bricks(bricks):
    """The BatchNormalization bricks among `bricks` and their descendants, once each."""
    from blocks.bricks.bn import BatchNormalization

    found, stack, seen = [], list(bricks)[::-1], set()
    while stack:
        brick = stack.pop()
        if id(brick) in seen:
            continue
        seen.add(id(brick))
        if isinstance(brick, BatchNormalization):
            found.append(brick)
        stack.extend(reversed(list(brick.children)))
    return found


@contextmanager
def batch_normalization(*bricks):
    """Put every BatchNormalization brick in the hierarchies of `bricks` in training mode.

    Applications inside the ``with`` block normalize with minibatch statistics.

    Parameters
    ----------
    *bricks : Brick
        Bricks whose hierarchies (the bricks and all their descendants) are searched.

    Examples
    --------
    >>> from blocks.bricks import BatchNormalizedMLP, Tanh
    >>> from blocks.initialization import Constant
    >>> mlp = BatchNormalizedMLP([Tanh()], [2, 2], weights_init=Constant(1))
    >>> mlp.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> with batch_normalization(mlp):
    ...     y = mlp.apply(x)
    >>> y.eval({x: [[0., 1.], [2., 1.]]}).round(3).tolist()
    [[-0.762, -0.762], [0.762, 0.762]]
    """
    with ExitStack() as stack:
        for brick in _batch_normalization_bricks(bricks):
            stack.enter_context(brick)
        yield


def _calls_by_role(variables, role):
    """Application calls of BatchNormalization bricks, mapped to their variable of `role`."""
    from blocks.bricks.bn import BatchNormalization
    from blocks.filter import get_application_call

    calls = OrderedDict()
    for variable in variables:
        if not has_roles(variable, [role]):
            continue
        call = get_application_call(variable)
        if call is not None and isinstance(call.brick, BatchNormalization):
            calls.setdefault(call, variable)
    return calls


def apply_batch_normalization(computation_graph):
    """A training graph: every inference-mode batch normalization uses minibatch statistics.

    Each application of a BatchNormalization brick made in inference mode is applied
    again, in training mode, to the same input, and replaces the original in a new
    graph; the original graph is left untouched.

    Parameters
    ----------
    computation_graph : ComputationGraph

    Returns
    -------
    ComputationGraph

    Examples
    --------
    >>> from blocks.bricks import BatchNormalization
    >>> from blocks.graph import ComputationGraph
    >>> bn = BatchNormalization(input_dim=1)
    >>> bn.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> cg = ComputationGraph(bn.apply(x))
    >>> training = apply_batch_normalization(cg)
    >>> training.outputs[0].eval({x: [[1.], [3.]]}).round(3).tolist()
    [[-1.0], [1.0]]
    """
    variables = computation_graph.variables
    inputs = _calls_by_role(variables, INPUT)
    outputs = _calls_by_role(variables, OUTPUT)
    replacements = []
    for call, output in outputs.items():
        if call.metadata.get("training_mode") or call not in inputs:
            continue
        input_ = inputs[call]
        # Undo the copy that the application made of its input.
        original = input_.owner.inputs[0] if input_.owner is not None else input_
        with call.brick:
            replacements.append((output, call.brick.apply(original)))
    return computation_graph.replace(replacements)


def get_batch_normalization_updates(training_graph, allow_duplicates=False):
    """Pairs of population statistics and their minibatch estimates in a training graph.

    Parameters
    ----------
    training_graph : ComputationGraph
        A graph with training-mode batch normalization (see
        :func:`apply_batch_normalization`).
    allow_duplicates : bool, optional
        Accept several training-mode applications of the same brick (each gives its
        pairs). False by default: that is then an error, since the population
        statistics would receive several updates.

    Returns
    -------
    list of (shared variable, Variable)
        ``(population_mean, minibatch mean)`` and, unless the brick is mean-only,
        ``(population_stdev, minibatch stdev)`` for every application, the estimates of
        the shapes of the population variables. A moving-average update is then
        ``[(p, m * p + (1 - m) * e) for p, e in pairs]``.

    Raises
    ------
    ValueError
        If the graph has no training-mode batch normalization, or (unless
        `allow_duplicates`) applies a brick more than once.

    Examples
    --------
    >>> from blocks.bricks import BatchNormalization
    >>> from blocks.graph import ComputationGraph, apply_batch_normalization
    >>> bn = BatchNormalization(input_dim=1)
    >>> bn.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> training = apply_batch_normalization(ComputationGraph(bn.apply(x)))
    >>> [(p.name, e.eval({x: [[1.], [3.]]}).round(3).tolist())
    ...  for p, e in get_batch_normalization_updates(training)]
    [('population_mean', [2.0]), ('population_stdev', [1.0])]
    """
    variables = training_graph.variables
    offsets = _calls_by_role(variables, BATCH_NORM_OFFSET)
    divisors = _calls_by_role(variables, BATCH_NORM_DIVISOR)
    calls = [call for call in _calls_by_role(variables, OUTPUT)
             if call.metadata.get("training_mode")]
    if not calls:
        raise ValueError(
            "get_batch_normalization_updates: the graph has no batch normalization "
            "applied in training mode (see apply_batch_normalization)"
        )
    bricks = [call.brick for call in calls]
    repeated = sorted({brick.name for brick in bricks
                       if sum(other is brick for other in bricks) > 1})
    if repeated and not allow_duplicates:
        raise ValueError(
            f"get_batch_normalization_updates: the batch normalization bricks "
            f"{', '.join(map(repr, repeated))} are applied several times in training mode; "
            f"pass allow_duplicates=True to get one pair per application"
        )
    pairs = []
    for call in calls:
        brick = call.brick
        # The graph's own statistics (they carry the batch axis, kept as 1).
        pairs.append((brick.population_mean, offsets[call][0]))
        if not brick.mean_only:
            pairs.append((brick.population_stdev, divisors[call][0]))
    return pairs
