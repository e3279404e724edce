"""Regularization by graph transformation: dropout and additive Gaussian noise."""

import pytensor.tensor as pt

from blocks.config import config
from blocks.roles import DROPOUT, add_role
from blocks.utils.random import RNGStream

__all__ = ["apply_dropout", "apply_noise"]


def _random_stream(seed):
    # The stream's draws advance their generators by themselves (default updates): a
    # transformed graph brings no updates of its own to give to the compiled function.
    return RNGStream(config.default_seed if seed is None else seed)


def apply_dropout(computation_graph, variables, drop_prob, rng=None, seed=None,
                  custom_divisor=None):
    """A new graph in which `variables` are multiplied by random binary masks.

    Each unit is dropped (set to zero) with probability `drop_prob`; the kept units are
    divided by ``1 - drop_prob`` (or by `custom_divisor`), so that the expected value
    of each unit is unchanged. The original graph is left untouched.

    Parameters
    ----------
    computation_graph : ComputationGraph
    variables : list of Variable
        Variables of the graph to apply dropout to.
    drop_prob : float
        Probability of dropping a unit, in ``[0, 1)`` (or 1 with a `custom_divisor`).
    rng : RNGStream, optional
        The random stream to draw the masks from (anything with its ``uniform``
        method); by default a new one seeded with `seed`. A unit is kept where a
        uniform draw in ``[0, 1)`` is below ``1 - drop_prob``: a Bernoulli mask, drawn
        in a form every backend compiles (PyTensor's JAX backend has no binomial).
    seed : int, optional
        Seed of the new random stream; ``blocks.config.default_seed`` by default.
    custom_divisor : float, optional
        Divide the kept units by this instead of ``1 - drop_prob``.

    Returns
    -------
    ComputationGraph
        Each replacement has the DROPOUT role and ``tag.replacement_of`` set to the
        variable it replaces.

    Examples
    --------
    >>> from blocks.graph import ComputationGraph
    >>> x = pytensor.tensor.matrix('x')
    >>> y = 2 * x
    >>> dropped = apply_dropout(ComputationGraph(y), [x], 0.5, seed=1)
    >>> values = dropped.outputs[0].eval({x: np.ones((2, 3))})
    >>> sorted(set(values.ravel().tolist())) in ([0.0, 4.0], [0.0], [4.0])
    True
    """
    if custom_divisor is None and not 0 <= drop_prob < 1:
        raise ValueError(
            f"apply_dropout: argument 'drop_prob': expected a probability in [0, 1) (or "
            f"give custom_divisor), got {drop_prob!r}"
        )
    if custom_divisor is not None and not 0 <= drop_prob <= 1:
        raise ValueError(
            f"apply_dropout: argument 'drop_prob': expected a probability in [0, 1], got "
            f"{drop_prob!r}"
        )
    if rng is None:
        rng = _random_stream(seed)
    divisor = 1 - drop_prob if custom_divisor is None else custom_divisor
    replacements = []
    for variable in variables:
        mask = rng.uniform(size=variable.shape) < 1 - drop_prob
        replacement = (variable * pt.cast(mask, variable.dtype) / divisor).astype(
            variable.dtype)
        add_role(replacement, DROPOUT)
        replacement.tag.replacement_of = variable
        replacements.append((variable, replacement))
    return computation_graph.replace(replacements)


def apply_noise(computation_graph, variables, level, seed=None):
    """A new graph in which Gaussian noise of standard deviation `level` is added to `variables`.

    The original graph is left untouched.

    Parameters
    ----------
    computation_graph : ComputationGraph
    variables : list of Variable
        Variables of the graph to add noise to.
    level : float
        Standard deviation of the noise.
    seed : int, optional
        Seed of the random stream; ``blocks.config.default_seed`` by default.

    Returns
    -------
    ComputationGraph

    Examples
    --------
    >>> from blocks.graph import ComputationGraph
    >>> x = pytensor.tensor.vector('x')
    >>> noisy = apply_noise(ComputationGraph(x.sum()), [x], 0.1, seed=1)
    >>> bool(noisy.outputs[0].eval({x: np.zeros(100)}) != 0)
    True
    """
    if level < 0:
        raise ValueError(f"apply_noise: argument 'level': expected >= 0, got {level!r}")
    rng = _random_stream(seed)
    replacements = [
        (variable, (variable + rng.normal(0, level, size=variable.shape)).astype(
            variable.dtype))
        for variable in variables
    ]
    return computation_graph.replace(replacements)
