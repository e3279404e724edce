"""Small helpers used throughout the library, under the names Blocks user code calls."""

from collections import OrderedDict

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

from blocks.utils.random import RNGStream

__all__ = [
    "RNGStream", "shared_floatx", "shared_floatx_zeros", "shared_floatx_nans", "shared_like",
    "is_shared_variable", "pack", "unpack", "dict_union", "dict_subset",
    "check_variable", "check_theano_variable", "repr_attrs",
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


def pack(arg):
    """`arg` as a list: a list or tuple is converted, anything else wrapped.

    >>> pack(1), pack((1, 2))
    ([1], [1, 2])
    """
    if not isinstance(arg, (list, tuple)):
        arg = [arg]
    return list(arg)


def unpack(arg, singleton=False):
    """The single element of a one-element list or tuple, anything else unchanged.

    With ``singleton=True``, a sequence of any other length raises ``ValueError``.

    >>> unpack([1]), unpack([1, 2])
    (1, [1, 2])
    """
    if isinstance(arg, (list, tuple)):
        if len(arg) == 1:
            return arg[0]
        if singleton:
            raise ValueError(f"expected a single element, got {len(arg)}: {arg!r}")
    return arg


def dict_union(*dicts, **kwargs):
    """Merge dictionaries into an ``OrderedDict``; a key present twice raises ``ValueError``.

    >>> dict_union({'a': 1}, b=2)
    OrderedDict([('a', 1), ('b', 2)])
    """
    result = OrderedDict()
    for dict_ in list(dicts) + [kwargs]:
        duplicates = set(result) & set(dict_)
        if duplicates:
            raise ValueError(f"dict_union: keys present in several dictionaries: {duplicates}")
        result.update(dict_)
    return result


def dict_subset(dict_, keys, pop=False, must_have=True):
    """The items of `dict_` under `keys`, in the order of `keys`, as an ``OrderedDict``.

    Parameters
    ----------
    pop : bool
        Remove the items from `dict_`.
    must_have : bool
        Raise ``KeyError`` for a missing key; otherwise missing keys are skipped.

    >>> dict_subset({'a': 1, 'b': 2, 'c': 3}, ['c', 'a'])
    OrderedDict([('c', 3), ('a', 1)])
    """
    result = OrderedDict()
    for key in keys:
        if key not in dict_:
            if must_have:
                raise KeyError(f"dict_subset: required key {key!r} is missing")
            continue
        result[key] = dict_.pop(key) if pop else dict_[key]
    return result


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


def repr_attrs(instance, *attrs):
    """``<Class object at 0x... (attr=value, ...)>``, for readable ``__repr__`` methods."""
    values = ", ".join(f"{attr}={getattr(instance, attr, None)!r}" for attr in attrs)
    return f"<{type(instance).__module__}.{type(instance).__name__} object at {id(instance):#x}" + (
        f": {values}>" if values else ">"
    )
