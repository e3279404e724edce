"""Helpers of Fuel's ``fuel.utils`` that datasets written for Fuel use."""

from blocks.datasets.data_path import find_in_data_path

__all__ = ["do_not_pickle_attributes", "find_in_data_path"]


def _lazy_property(name):
    private = "_" + name

    def get(self):
        if private not in self.__dict__:
            self.load()
        if private not in self.__dict__:
            raise ValueError(f"{type(self).__name__}.load() did not set {name!r}")
        return self.__dict__[private]

    def set_(self, value):
        self.__dict__[private] = value

    return property(get, set_, doc=f"{name}, not pickled: load() sets it again when needed")


def do_not_pickle_attributes(*lazy_properties):
    r"""A class decorator: the attributes named are left out of pickles, and reloaded.

    Each named attribute becomes a property whose value is not pickled; when it is read
    and has no value (after unpickling, or before the first read), the object's
    ``load()`` method is called to set it again. Use it for bulky data that can be
    read back from disk, or for what cannot be pickled at all (open files). A class
    that defines its own ``__getstate__`` keeps it.

    Parameters
    ----------
    \*lazy_properties : str
        The names of the attributes.

    Examples
    --------
    >>> import copy
    >>> @do_not_pickle_attributes('table')
    ... class Squares:
    ...     loads = 0
    ...     def load(self):
    ...         Squares.loads += 1
    ...         self.table = [i ** 2 for i in range(5)]
    >>> squares = Squares()
    >>> squares.table[3], Squares.loads
    (9, 1)
    >>> clone = copy.copy(squares)  # copies, like pickles, leave the table out
    >>> '_table' in clone.__dict__, clone.table[4], Squares.loads
    (False, 16, 2)
    """
    def wrap(cls):
        for name in lazy_properties:
            setattr(cls, name, _lazy_property(name))
        if "__getstate__" not in vars(cls):
            def __getstate__(self):
                return {key: value for key, value in self.__dict__.items()
                        if key.lstrip("_") not in lazy_properties or not key.startswith("_")}

            cls.__getstate__ = __getstate__
        return cls

    return wrap
