"""Containers that let a subclass act on what is inserted into them or removed from them."""

from collections.abc import MutableSequence

__all__ = ["AnnotatingList"]


class AnnotatingList(MutableSequence):
    """A list calling :meth:`_setitem` before storing an item, :meth:`_delitem` before removing one.

    Subclasses override the two hooks, e.g. to annotate the variables put into the list
    with their owner. It compares equal to a list with the same items.

    Parameters
    ----------
    items : iterable, optional
        The initial items, each inserted through :meth:`_setitem`.

    Examples
    --------
    >>> class Logged(AnnotatingList):
    ...     def _setitem(self, key, value):
    ...         print('set', key, value)
    ...     def _delitem(self, key):
    ...         print('del', key)
    >>> items = Logged([1])
    set 0 1
    >>> items.append(2)
    set 1 2
    >>> del items[0]
    del 0
    >>> items
    [2]
    """

    def __init__(self, items=None):
        self._items = []
        for item in items or []:
            self.append(item)

    def _setitem(self, key, value):
        """Called with the index (or slice) and the value before a value is stored."""

    def _delitem(self, key):
        """Called with the index (or slice) before an item is removed."""

    def __getitem__(self, key):
        return self._items[key]

    def __setitem__(self, key, value):
        self._setitem(key, value)
        self._items[key] = value

    def __delitem__(self, key):
        self._delitem(key)
        del self._items[key]

    def __len__(self):
        return len(self._items)

    def insert(self, key, value):
        # An index past the end appends, as for a list: the hook sees where it lands.
        self._setitem(min(key, len(self._items)) if key >= 0 else key, value)
        self._items.insert(key, value)

    def __eq__(self, other):
        if isinstance(other, AnnotatingList):
            other = other._items
        return self._items == other

    __hash__ = None

    def __repr__(self):
        return repr(self._items)
