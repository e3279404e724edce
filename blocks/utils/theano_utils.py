"""Helpers on PyTensor variables: shared variables, checks, hooks.

Blocks called this module ``theano_utils``; the name is kept so that its imports work.
"""

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable

__all__ = [
    "shared_floatx", "shared_floatx_zeros", "shared_floatx_nans", "shared_floatx_zeros_matching",
    "shared_like", "is_shared_variable", "is_graph_input", "check_variable",
    "check_theano_variable", "put_hook",
]


def shared_floatx(value, name=None, borrow=False, dtype=None, **kwargs):
    """A shared variable holding `value` cast to `dtype` (``floatX`` by default).

    >>> shared_floatx([1, 2], name='v').get_value().tolist()
    [1.0, 2.0]
    """
    dtype = dtype or pytensor.config.floatX
    return pytensor.shared(np.asarray(value, dtype=dtype), name=name, borrow=borrow, **kwargs)


def shared_floatx_zeros(shape, **kwargs):
    """A ``floatX`` shared variable of zeros of the given shape.

    >>> shared_floatx_zeros((2, 3)).get_value().shape
    (2, 3)
    """
    return shared_floatx(np.zeros(shape), **kwargs)


def shared_floatx_nans(shape, **kwargs):
    """A ``floatX`` shared variable of NaNs: a value that must be initialized before use.

    >>> bool(np.isnan(shared_floatx_nans((2,)).get_value()).all())
    True
    """
    return shared_floatx(np.full(shape, np.nan), **kwargs)


def shared_floatx_zeros_matching(shared_variable, name=None, **kwargs):
    """A ``floatX`` shared variable of zeros with the current shape of `shared_variable`.

    Its static shape stays unknown along every axis, as Blocks' buffers of step rules
    had it.

    >>> w = shared_floatx(np.ones((2, 3)))
    >>> shared_floatx_zeros_matching(w, name='w_buffer').get_value().shape
    (2, 3)
    """
    if not is_shared_variable(shared_variable):
        raise TypeError(f"shared_floatx_zeros_matching: expected a shared variable, got "
                        f"{type(shared_variable).__name__}")
    shape = shared_variable.get_value(borrow=True, return_internal_type=True).shape
    return shared_floatx_zeros(shape, name=name, **kwargs)


def shared_like(variable, name=None, **kwargs):
    """A zero-filled shared variable with the dtype and number of dimensions of `variable`.

    >>> import pytensor.tensor as pt
    >>> s = shared_like(pt.matrix(dtype='int64'), name='s')
    >>> s.ndim, s.dtype
    (2, 'int64')
    """
    variable = pytensor.tensor.as_tensor_variable(variable)
    if name is None and variable.name is not None:
        name = f"shared_{variable.name}"
    return pytensor.shared(
        np.zeros((0,) * variable.ndim, dtype=variable.dtype), name=name, **kwargs
    )


def is_shared_variable(variable):
    """Whether `variable` is a PyTensor shared variable."""
    return isinstance(variable, SharedVariable)


def is_graph_input(variable):
    """Whether `variable` is an input of a graph: computed by no node, and not a constant.

    >>> import pytensor.tensor as pt
    >>> x = pt.vector('x')
    >>> is_graph_input(x), is_graph_input(2 * x), is_graph_input(pt.constant(1.0))
    (True, False, False)
    """
    return (isinstance(variable, Variable) and variable.owner is None
            and not isinstance(variable, (Constant, SharedVariable)))


def check_variable(variable, n_dim=None, dtype_prefix=None, owner="", argument="input"):
    """Raise a clear error unless `variable` is symbolic, of `n_dim` dims and dtype `dtype_prefix*`.

    Parameters
    ----------
    n_dim : int or sequence of int, optional
        The accepted numbers of dimensions.
    dtype_prefix : str, optional
        E.g. ``'float'`` or ``'int'``; the dtype must start with it.
    owner, argument : str
        Who checks and what argument is checked, for the message.
    """
    where = f"{owner}: argument {argument!r}" if owner else f"argument {argument!r}"
    if not isinstance(variable, Variable):
        raise TypeError(f"{where} must be a symbolic variable, got {type(variable).__name__}")
    if n_dim is not None:
        allowed = (n_dim,) if isinstance(n_dim, int) else tuple(n_dim)
        if variable.ndim not in allowed:
            shape = getattr(variable.type, "shape", None)
            raise ValueError(
                f"{where}: expected ndim={' or '.join(map(str, allowed))}, found "
                f"ndim={variable.ndim} (static shape received: {shape})"
            )
    if dtype_prefix is not None and not str(variable.dtype).startswith(dtype_prefix):
        raise TypeError(f"{where}: expected a {dtype_prefix} dtype, found {variable.dtype}")


#: The name Blocks used for :func:`check_variable`.
check_theano_variable = check_variable


class _Hook:
    # A module-level callable rather than a closure, so that graphs holding it pickle.
    def __init__(self, hook_fn, args):
        self.hook_fn = hook_fn
        self.args = args

    def __call__(self, print_op, value):
        self.hook_fn(value, *self.args)


def put_hook(variable, hook_fn, *args):
    """`variable` unchanged, but `hook_fn(value, *args)` runs on its value at every call.

    >>> import pytensor.tensor as pt
    >>> from blocks.utils import print_sum
    >>> x = pt.vector('x')
    >>> f = pytensor.function([x], 2 * put_hook(x, print_sum, 'x'))
    >>> f([1.0, 2.0]).tolist()
    x: 3.0
    [2.0, 4.0]
    """
    return pytensor.printing.Print(global_fn=_Hook(hook_fn, args))(variable)
