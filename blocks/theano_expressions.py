"""Expressions often needed when training: norms of several tensors, Hessian-vector products.

Blocks called this module ``theano_expressions``; the name is kept so that its imports
work.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import pushforward

__all__ = ["l2_norm", "hessian_times_vector"]


def l2_norm(tensors, squared=False):
    """The Euclidean norm of all the elements of `tensors` taken together.

    Parameters
    ----------
    tensors : iterable of tensors (or what converts to one)
    squared : bool
        Return the squared norm (no square root).

    Examples
    --------
    >>> float(l2_norm([pt.as_tensor([3.0]), pt.as_tensor([[4.0]])]).eval())
    5.0
    >>> float(l2_norm([np.array([3.0, 4.0])], squared=True).eval())
    25.0
    """
    tensors = [pt.as_tensor_variable(tensor) for tensor in tensors]
    if not tensors:
        return pt.as_tensor_variable(np.asarray(0.0, dtype=pytensor.config.floatX))
    # The norm of the vector of each tensor's norm. Summing the squared norms directly
    # (a chain of additions, or the sum of their stack) is rewritten into one
    # elementwise Add of all the terms, which PyTensor's Python implementation (used
    # under FAST_COMPILE) cannot run past 32 operands: a model of 37 parameters failed.
    norms = pt.stack([pt.sqrt(pt.sqr(tensor).sum()) for tensor in tensors])
    total = pt.sqr(norms).sum()
    return total if squared else pt.sqrt(total)


def hessian_times_vector(gradient, parameter, vector, r_op=False):
    """The product of the Hessian of a cost with `vector`, without forming the Hessian.

    Parameters
    ----------
    gradient : Variable
        The gradient of the cost with respect to `parameter`.
    parameter : Variable
    vector : Variable
        Of the shape of `parameter`.
    r_op : bool
        Compute it as the R-operator (pushforward) of the gradient, in forward mode,
        rather than as the gradient of ``sum(gradient * vector)`` (reverse mode). Which
        is faster depends on the graph.

    Examples
    --------
    >>> x = pt.vector('x')
    >>> cost = (x ** 3).sum()  # Hessian: diag(6 x)
    >>> v = pt.vector('v')
    >>> product = hessian_times_vector(pytensor.grad(cost, x), x, v)
    >>> product.eval({x: [1.0, 2.0], v: [1.0, 1.0]}).tolist()
    [6.0, 12.0]
    """
    if r_op:
        return pushforward(gradient, parameter, vector)
    return pytensor.grad(pt.sum(gradient * vector), parameter)
