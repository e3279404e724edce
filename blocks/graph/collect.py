"""Gather the parameters of a graph into one shared vector."""

import numpy as np
import pytensor

from blocks.roles import COLLECTED, COLLECTOR, add_role
from blocks.utils import is_shared_variable

__all__ = ["collect_parameters"]


def collect_parameters(computation_graph, parameters):
    """A graph in which `parameters` are slices of one shared vector.

    For what needs all the parameters as one vector, such as a full Hessian. The vector
    is named ``collected_parameters`` and has the :data:`~blocks.roles.COLLECTOR` role;
    each parameter is replaced by a reshaped slice of it, with the
    :data:`~blocks.roles.COLLECTED` role and the replaced parameter in
    ``tag.replacement_of``. The vector starts with the parameters' values;
    training the new graph updates the vector, not the old parameters.

    Parameters
    ----------
    computation_graph : ComputationGraph
    parameters : list of SharedVariable
        Of one dtype.

    Returns
    -------
    ComputationGraph

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.graph import ComputationGraph
    >>> from blocks.initialization import Constant
    >>> x = pt.matrix('x')
    >>> mlp = MLP([Tanh(), Tanh()], [3, 4, 2], weights_init=Constant(0.1),
    ...           biases_init=Constant(0))
    >>> mlp.initialize()
    >>> cg = ComputationGraph(mlp.apply(x))
    >>> collected = collect_parameters(cg, cg.shared_variables)
    >>> collected.shared_variables
    [collected_parameters]
    >>> collected.shared_variables[0].get_value().shape
    (26,)
    """
    parameters = list(parameters)
    for parameter in parameters:
        if not is_shared_variable(parameter):
            raise TypeError(f"collect_parameters: parameters must be shared variables; "
                            f"received {parameter!r}")
    values = [parameter.get_value(borrow=True) for parameter in parameters]
    dtypes = sorted({value.dtype.name for value in values})
    if len(dtypes) > 1:
        raise TypeError(f"collect_parameters: the parameters have several dtypes {dtypes}; "
                        f"collect those of one dtype at a time")
    dtype = dtypes[0] if dtypes else pytensor.config.floatX
    collected = pytensor.shared(
        np.concatenate([value.ravel() for value in values]).astype(dtype, copy=False)
        if values else np.zeros(0, dtype=dtype),
        name="collected_parameters")
    add_role(collected, COLLECTOR)
    replacements = {}
    start = 0
    for parameter, value in zip(parameters, values):
        piece = collected[start:start + value.size].reshape(value.shape)
        start += value.size
        # In the tag too, which the copies made by replace() keep.
        piece.replacement_of = piece.tag.replacement_of = parameter
        add_role(piece, COLLECTED)
        replacements[parameter] = piece
    return computation_graph.replace(replacements)
