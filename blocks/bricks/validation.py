"""Checks of brick configuration: dimensions, sizes and the like, refused with a sentence.

A brick class declares what its arguments must be in ``argument_checks``, a dict from
attribute names to :class:`ArgumentCheck` objects. :class:`~blocks.bricks.Brick` runs the
check whenever the attribute is set (at construction, by the user, or when a parent
pushes configuration) and again at allocation, so that a wrong value is refused where it
was given, with the brick, the argument and what was expected::

    Linear 'linear': input_dim must be a positive integer, got -1

A value that is not given yet (``None``, :data:`~blocks.bricks.base.NoneAllocation`,
:data:`~blocks.bricks.base.NoneInitialization`) always passes: lazy configuration stays
lazy, and a missing value is reported by allocation itself.

A wrong type raises ``TypeError``, a value of the right type out of range ``ValueError``.

Examples
--------
>>> from blocks.bricks import Linear
>>> Linear(input_dim=-1)
Traceback (most recent call last):
    ...
ValueError: Linear 'linear': input_dim must be a positive integer, got -1
>>> Linear(output_dim='a')
Traceback (most recent call last):
    ...
TypeError: Linear 'linear': output_dim must be a positive integer, got 'a'
"""

import numbers
from collections.abc import Sequence as SequenceABC

import numpy as np

__all__ = [
    "ArgumentCheck", "SequenceCheck", "check_argument", "check_arguments", "describe_maybe_unnamed",
    "POSITIVE_INTEGER", "NON_NEGATIVE_INTEGER", "NON_NEGATIVE_NUMBER", "PROBABILITY_BELOW_ONE",
    "BOOLEAN", "POSITIVE_INTEGERS",
    "PAIR_OF_POSITIVE_INTEGERS", "PAIR_OF_NON_NEGATIVE_INTEGERS", "PAIR_OF_SIZES",
    "SHAPE", "IMAGE_SHAPE",
]


def _absent(value):
    """Whether `value` stands for configuration that is not given yet."""
    # Imported here: the brick core imports this module.
    from blocks.bricks.base import NoneAllocation, NoneInitialization
    return value is None or value is NoneAllocation or value is NoneInitialization


def describe_maybe_unnamed(brick):
    """``Type 'name'``, or ``Type`` for a brick whose constructor has not named it yet."""
    name = brick.__dict__.get("name")
    return f"{type(brick).__name__} {name!r}" if name is not None else type(brick).__name__


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_boolean(value):
    return isinstance(value, (bool, np.bool_))


class ArgumentCheck:
    """What a single-valued argument must be.

    Parameters
    ----------
    expected : str
        The noun phrase for messages: ``input_dim must be {expected}, got ...``.
    has_type : callable
        ``has_type(value)`` is False for a value of the wrong type (a ``TypeError``).
    in_range : callable, optional
        ``in_range(value)`` is False for a value of the right type that is not
        acceptable (a ``ValueError``).

    Examples
    --------
    >>> POSITIVE_INTEGER.problem(3) is None
    True
    >>> POSITIVE_INTEGER.problem(0), POSITIVE_INTEGER.problem(2.0)
    (<class 'ValueError'>, <class 'TypeError'>)
    """

    def __init__(self, expected, has_type, in_range=None):
        self.expected = expected
        self.has_type = has_type
        self.in_range = in_range

    def problem(self, value):
        """``None`` if `value` is acceptable, else the exception class to raise."""
        if _absent(value):
            return None
        if not self.has_type(value):
            return TypeError
        if self.in_range is not None and not self.in_range(value):
            return ValueError
        return None

    def __call__(self, brick, name, value):
        """Raise a ``TypeError`` or ``ValueError`` naming `brick` and `name` if `value` is wrong.

        `brick` may also be the name of a function, for the arguments of functions.
        """
        problem = self.problem(value)
        if problem is not None:
            owner = brick if isinstance(brick, str) else describe_maybe_unnamed(brick)
            raise problem(f"{owner}: {name} must be {self.expected}, got {value!r}")


class SequenceCheck(ArgumentCheck):
    """What a list- or tuple-valued argument must be: its length and each element.

    Parameters
    ----------
    expected : str
        The noun phrase for messages.
    element : ArgumentCheck
        The check of every element; elements not given yet (``None``) pass.
    length : int, optional
        The exact length required.
    min_length : int, optional
        The least length required.
    single : bool
        Whether a single element (not in a sequence) is acceptable too.

    Examples
    --------
    >>> PAIR_OF_POSITIVE_INTEGERS.problem((2, 3)) is None
    True
    >>> PAIR_OF_POSITIVE_INTEGERS.problem((2, 3, 4)), PAIR_OF_POSITIVE_INTEGERS.problem('ab')
    (<class 'ValueError'>, <class 'TypeError'>)
    """

    def __init__(self, expected, element, length=None, min_length=None, single=False):
        super().__init__(expected, None)
        self.element = element
        self.length = length
        self.min_length = min_length
        self.single = single

    def problem(self, value):
        if _absent(value):
            return None
        is_sequence = (isinstance(value, (SequenceABC, np.ndarray))
                       and not isinstance(value, (str, bytes)))
        if not is_sequence:
            if self.single:
                return self.element.problem(value)
            return TypeError
        problems = {self.element.problem(element) for element in value}
        if TypeError in problems:
            return TypeError
        if ValueError in problems:
            return ValueError
        if self.length is not None and len(value) != self.length:
            return ValueError
        if self.min_length is not None and len(value) < self.min_length:
            return ValueError
        return None


def check_argument(brick, name, value):
    """Check `value` for the argument `name` of `brick`, before the brick stores it.

    For constructors that use an argument before storing it.
    """
    type(brick)._argument_checks[name](brick, name, value)


def check_arguments(brick):
    """Check every attribute of `brick` named in its ``argument_checks`` (as allocation does).

    It catches values that changed without being set, e.g. a list of dims edited in place.
    """
    for name in type(brick)._argument_checks:
        try:
            value = getattr(brick, name, None)
        except ValueError:
            # A computed attribute that cannot be computed yet says so itself when used.
            continue
        check_argument(brick, name, value)


POSITIVE_INTEGER = ArgumentCheck("a positive integer", _is_integer, lambda value: value > 0)
NON_NEGATIVE_INTEGER = ArgumentCheck(
    "a non-negative integer", _is_integer, lambda value: value >= 0)
NON_NEGATIVE_NUMBER = ArgumentCheck(
    "a non-negative number", _is_real, lambda value: value >= 0)
#: Dropout rates: 1 would drop everything.
PROBABILITY_BELOW_ONE = ArgumentCheck(
    "a probability in [0, 1)", _is_real, lambda value: 0 <= value < 1)
BOOLEAN = ArgumentCheck("True or False", _is_boolean)
POSITIVE_INTEGERS = SequenceCheck("a list of positive integers", POSITIVE_INTEGER)
PAIR_OF_POSITIVE_INTEGERS = SequenceCheck(
    "a pair of positive integers", POSITIVE_INTEGER, length=2)
PAIR_OF_NON_NEGATIVE_INTEGERS = SequenceCheck(
    "a pair of non-negative integers", NON_NEGATIVE_INTEGER, length=2)
#: Image sizes: rows and columns, each a positive integer or None (not known).
PAIR_OF_SIZES = SequenceCheck(
    "a pair of positive integers (or None where not known)", POSITIVE_INTEGER, length=2)
#: The shape of images: channels, rows and columns (None where not known).
IMAGE_SHAPE = SequenceCheck(
    "a tuple (channels, rows, columns) of positive integers", POSITIVE_INTEGER, length=3)
#: The shape of one example: a positive integer or a tuple of them (None where not known).
SHAPE = SequenceCheck(
    "a positive integer or a tuple of positive integers", POSITIVE_INTEGER, single=True)

