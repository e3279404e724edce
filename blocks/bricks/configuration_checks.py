"""Checks of a brick's configuration, made when it is allocated, with messages that name the
brick and the argument."""

import numbers

from blocks.bricks.base import describe

__all__ = ["check_positive_int"]


def check_positive_int(brick, name):
    """Refuse ``brick.<name>`` unless it is a positive int (bools are refused).

    >>> from blocks.bricks import Identity
    >>> brick = Identity()
    >>> brick.size = 0
    >>> check_positive_int(brick, 'size')
    Traceback (most recent call last):
    ...
    ValueError: Identity 'identity': argument 'size': expected a positive int, got 0
    """
    value = getattr(brick, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"{describe(brick)}: argument {name!r}: expected a positive int, got {value!r}"
        )
