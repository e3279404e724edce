"""Helpers that need no PyTensor: argument packing, dictionaries, errors, brick walks.

Everything here is importable without importing PyTensor, so that :mod:`blocks.utils`
stays cheap to import (see :mod:`blocks.utils`).
"""

import contextlib
import sys
from collections import OrderedDict, deque

__all__ = [
    "pack", "unpack", "reraise_as", "dict_subset", "dict_union", "repr_attrs",
    "ipdb_breakpoint", "print_sum", "print_shape", "change_recursion_limit",
    "extract_args", "find_bricks",
]


def pack(arg):
    """`arg` as a list: a list or tuple is converted, anything else wrapped.

    >>> pack(1), pack((1, 2))
    ([1], [1, 2])
    """
    if not isinstance(arg, (list, tuple)):
        arg = [arg]
    return list(arg)


def unpack(arg, singleton=False):
    """The single element of a one-element list or tuple; a longer one as a list.

    Anything that is not a list or tuple is returned unchanged. With
    ``singleton=True``, a sequence of any other length than one raises ``ValueError``.

    >>> unpack([1]), unpack((1, 2)), unpack('ab')
    (1, [1, 2], 'ab')
    """
    if isinstance(arg, (list, tuple)):
        if len(arg) == 1:
            return arg[0]
        if singleton:
            raise ValueError(f"expected a single element, got {len(arg)} (singleton=True): {arg!r}")
        return list(arg)
    return arg


def reraise_as(new_exc):
    """Raise `new_exc` from the exception being handled, keeping its traceback.

    Call it inside an ``except`` block. The message of the new exception is followed by
    the type and message of the original one, which also becomes its ``__cause__``.

    Parameters
    ----------
    new_exc : Exception or str
        The exception to raise; a string makes an exception of the original type with
        that message.

    Examples
    --------
    >>> try:
    ...     {}['weights']
    ... except KeyError:
    ...     reraise_as(ValueError('the checkpoint has no weights'))
    Traceback (most recent call last):
    ...
    ValueError: the checkpoint has no weights
    <BLANKLINE>
    Original exception:
        KeyError: weights
    """
    original_type, original, traceback = sys.exc_info()
    if original is None:
        raise RuntimeError("reraise_as must be called while an exception is handled")
    if isinstance(new_exc, str):
        new_exc = original_type(new_exc)
    message = ", ".join(str(arg) for arg in new_exc.args)
    message += f"\n\nOriginal exception:\n    {original_type.__name__}"
    if original.args:
        # An exception reraised before already carries the whole chain in its message.
        message += ": " + (str(original.args[0]) if getattr(original, "reraised", False)
                           else ", ".join(str(arg) for arg in original.args))
    new_exc.args = (message,) + tuple(new_exc.args[1:])
    new_exc.reraised = True
    raise new_exc.with_traceback(traceback) from original


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


def repr_attrs(instance, *attrs):
    """``<module.Class object at 0x...: attr=value, ...>``: the reprs Blocks printed.

    Values are shown with ``str`` as Blocks did, so a brick reads ``name=linear``.

    >>> class Point:
    ...     x = 1
    >>> repr_attrs(Point(), 'x')  # doctest: +ELLIPSIS
    '<blocks.utils.utils.Point object at 0x...: x=1>'
    """
    values = ", ".join(f"{attr}={getattr(instance, attr, None)}" for attr in attrs)
    return f"<{type(instance).__module__}.{type(instance).__name__} object at {id(instance):#x}" + (
        f": {values}>" if values else ">"
    )


def ipdb_breakpoint(x):
    """Enter the debugger (ipdb if installed, else pdb); a hook for :func:`put_hook`."""
    try:
        import ipdb as debugger
    except ImportError:
        import pdb as debugger
    debugger.set_trace()


def print_sum(x, header=None):
    """Print the sum of `x` after `header`; a hook for :func:`put_hook`.

    >>> print_sum([1, 2, 3])
    print_sum: 6
    """
    print(f"{header or 'print_sum'}:", sum(x) if isinstance(x, (list, tuple)) else x.sum())


def print_shape(x, header=None):
    """Print the shape of the array `x` after `header`; a hook for :func:`put_hook`."""
    print(f"{header or 'print_shape'}:", x.shape)


@contextlib.contextmanager
def change_recursion_limit(limit):
    """Raise the interpreter's recursion limit to at least `limit` inside the block.

    Pickling deep graphs recurses once per node. The previous limit is restored after.

    >>> import sys
    >>> before = sys.getrecursionlimit()
    >>> with change_recursion_limit(before + 1000):
    ...     sys.getrecursionlimit() - before
    1000
    >>> sys.getrecursionlimit() == before
    True
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def extract_args(expected, *args, **kwargs):
    """Route positional and keyword arguments to the names `expected`, as Python would.

    For methods whose signature is only known at run time (``*args, **kwargs``).

    Returns
    -------
    OrderedDict
        Name to value, in the order of `expected`.

    Raises
    ------
    KeyError
        For a keyword that is not expected.
    TypeError
        For a name given both positionally and by keyword.
    ValueError
        For expected names given no value.

    >>> extract_args(['a', 'b', 'c'], 1, c=3, b=2)
    OrderedDict([('a', 1), ('b', 2), ('c', 3)])
    """
    expected = list(expected)
    if len(args) > len(expected):
        raise TypeError(f"expected at most {len(expected)} arguments ({expected}), "
                        f"got {len(args)} positional ones")
    routed = dict(zip(expected, args))
    for name, value in kwargs.items():
        if name not in expected:
            raise KeyError(f"invalid input name: {name!r}; expected one of {expected}")
        if name in routed:
            raise TypeError(f"got multiple values for argument {name!r}")
        routed[name] = value
    missing = [name for name in expected if name not in routed]
    if missing:
        raise ValueError(f"missing values for inputs: {missing}")
    return OrderedDict((name, routed[name]) for name in expected)


def find_bricks(top_bricks, predicate):
    """The bricks under `top_bricks` (included) for which `predicate` is true.

    The hierarchy is walked breadth first; a brick reachable along several paths is
    returned once.

    Parameters
    ----------
    top_bricks : list of Brick
    predicate : callable
        Takes a brick, returns a bool.

    Returns
    -------
    list of Brick

    Examples
    --------
    >>> from blocks.bricks import MLP, Tanh, Linear
    >>> mlp = MLP([Tanh(), Tanh()], [2, 3, 4])
    >>> [brick.name for brick in find_bricks([mlp], lambda b: isinstance(b, Linear))]
    ['linear_0', 'linear_1']
    """
    found = []
    seen = set()
    queue = deque(top_bricks)
    while queue:
        brick = queue.popleft()
        if id(brick) in seen:
            continue
        seen.add(id(brick))
        if predicate(brick):
            found.append(brick)
        queue.extend(brick.children)
    return found
