"""Select bricks and parameters in a brick hierarchy by path (``/mlp/linear_0.W``).

A path names bricks from the top of a hierarchy down, each brick name preceded by
``/``, and optionally ends with a parameter name preceded by ``.``:

>>> from blocks.bricks import MLP, Tanh
>>> mlp = MLP([Tanh(), Tanh()], [4, 3, 2])
>>> mlp.allocate()
>>> selector = Selector([mlp])
>>> list(selector.select('/mlp/linear_0').get_parameters())
['/mlp/linear_0.W', '/mlp/linear_0.b']
>>> selector.select('/mlp/linear_1.b')
[b]
"""

from collections import OrderedDict

from blocks.bricks.base import Brick

__all__ = ["Path", "Selector"]


class Path:
    """A path in a brick hierarchy: brick names, optionally followed by a parameter name.

    Parameters
    ----------
    nodes : iterable of :class:`Path.BrickName` and :class:`Path.ParameterName`
        Brick names first; at most one parameter name, last.

    Examples
    --------
    >>> path = Path.parse('/mlp/linear_0.W')
    >>> path.nodes
    ('mlp', 'linear_0', 'W')
    >>> [type(node).__name__ for node in path.nodes]
    ['BrickName', 'BrickName', 'ParameterName']
    >>> str(path)
    '/mlp/linear_0.W'
    >>> Path.parse('/mlp') + Path.parse('/linear_0.W') == path
    True
    """

    #: Precedes every brick name.
    separator = "/"
    #: Precedes the parameter name.
    parameter_separator = "."

    class BrickName(str):
        """The name of a brick, as one node of a :class:`Path`."""

        def part(self):
            return Path.separator + self

    class ParameterName(str):
        """The name of a parameter, as the last node of a :class:`Path`."""

        def part(self):
            return Path.parameter_separator + self

    def __init__(self, nodes):
        nodes = tuple(nodes)
        for i, node in enumerate(nodes):
            if not isinstance(node, (Path.BrickName, Path.ParameterName)):
                raise TypeError(
                    f"Path: node {i} must be a Path.BrickName or Path.ParameterName, got "
                    f"{type(node).__name__} {node!r}"
                )
            if isinstance(node, Path.ParameterName) and i != len(nodes) - 1:
                raise ValueError(
                    f"Path: the parameter name {str(node)!r} must be the last node, found "
                    f"at position {i} of {len(nodes)}"
                )
        self.nodes = nodes

    @classmethod
    def parse(cls, string):
        """The path that `string` (such as ``'/mlp/linear_0.W'``) spells.

        Raises
        ------
        ValueError
            If `string` does not start with ``/``, has an empty brick or parameter name,
            or a ``.`` anywhere but before the parameter name at the end.
        """
        if not isinstance(string, str):
            raise TypeError(f"Path.parse: expected a string, got {type(string).__name__}")

        def malformed(reason):
            return ValueError(
                f"malformed path {string!r}: {reason}; expected a form like "
                f"'/brick/child' or '/brick/child.parameter'"
            )

        if not string.startswith(cls.separator):
            raise malformed(f"it must start with {cls.separator!r}")
        parts = string[len(cls.separator):].split(cls.separator)
        *bricks, last = parts
        last, dot, parameter = last.partition(cls.parameter_separator)
        bricks.append(last)
        for brick in bricks:
            if not brick:
                raise malformed("a brick name is empty")
            if cls.parameter_separator in brick:
                raise malformed(
                    f"brick name {brick!r} contains {cls.parameter_separator!r}, which may "
                    f"only precede the parameter name at the end"
                )
        nodes = [cls.BrickName(brick) for brick in bricks]
        if dot:
            if not parameter:
                raise malformed("the parameter name is empty")
            if cls.parameter_separator in parameter:
                raise malformed(f"parameter name {parameter!r} contains "
                                f"{cls.parameter_separator!r}")
            nodes.append(cls.ParameterName(parameter))
        return cls(nodes)

    @property
    def parameter_name(self):
        """The parameter name ending this path, or None."""
        if self.nodes and isinstance(self.nodes[-1], Path.ParameterName):
            return self.nodes[-1]
        return None

    def __add__(self, other):
        if not isinstance(other, Path):
            return NotImplemented
        return Path(self.nodes + other.nodes)

    def __eq__(self, other):
        if not isinstance(other, Path):
            return NotImplemented
        # Node types matter: '/a/b' and '/a.b' have the same names.
        return [(type(node), str(node)) for node in self.nodes] == \
            [(type(node), str(node)) for node in other.nodes]

    def __hash__(self):
        return hash(tuple((type(node).__name__, str(node)) for node in self.nodes))

    def __str__(self):
        return "".join(node.part() for node in self.nodes)

    def __repr__(self):
        return f"Path({str(self)!r})"


def _as_path(path):
    if isinstance(path, str):
        return Path.parse(path)
    if isinstance(path, Path):
        return path
    raise TypeError(f"expected a path as a string or a Path, got {type(path).__name__}")


class Selector:
    """Bricks selected in a hierarchy, from which to select further or get parameters.

    Parameters
    ----------
    bricks : Brick or list of Brick
        The top bricks: paths given to :meth:`select` start with one of their names.

    Attributes
    ----------
    bricks : list of Brick
        The selected bricks.

    Notes
    -----
    The names given by :meth:`get_parameters` are paths from the top bricks of the
    selector on which :meth:`select` was first called, so a selection keeps the names
    of its parameters in the whole hierarchy.
    """

    def __init__(self, bricks):
        if isinstance(bricks, Brick):
            bricks = [bricks]
        bricks = list(bricks)
        for brick in bricks:
            if not isinstance(brick, Brick):
                raise TypeError(f"Selector: expected bricks, got {type(brick).__name__}")
        self.bricks = bricks
        # The path down to each selected brick, its own name excluded.
        self._prefixes = [Path([])] * len(bricks)

    @classmethod
    def _selected(cls, bricks, prefixes):
        selector = cls(bricks)
        selector._prefixes = list(prefixes)
        return selector

    def select(self, path):
        """Select the bricks, or the parameters, that `path` names.

        Parameters
        ----------
        path : str or Path
            E.g. ``'/mlp/linear_0'`` for bricks, ``'/mlp/linear_0.W'`` for parameters.
            The first brick name is matched against the bricks of this selector, the
            following ones against the children of the bricks matched so far.

        Returns
        -------
        Selector or list of shared variables
            A selector of the matched bricks (possibly empty); for a path ending with a
            parameter name, the matched bricks' own parameters of that name.
        """
        path = _as_path(path)
        current = [(None, Path([]))]
        for node in path.nodes:
            if isinstance(node, Path.ParameterName):
                return [
                    parameter for brick, _ in current for parameter in brick.parameters
                    if parameter is not None and parameter.name == node
                ]
            matched = []
            for brick, prefix in current:
                candidates = self._top_candidates() if brick is None else [
                    (child, prefix + Path([Path.BrickName(brick.name)]))
                    for child in brick.children
                ]
                for candidate, candidate_prefix in candidates:
                    if candidate.name == node and not any(
                            candidate is other and candidate_prefix == other_prefix
                            for other, other_prefix in matched):
                        matched.append((candidate, candidate_prefix))
            current = matched
        return Selector._selected(
            [brick for brick, _ in current], [prefix for _, prefix in current]
        )

    def _top_candidates(self):
        return list(zip(self.bricks, self._prefixes))

    def get_parameters(self, parameter_name=None):
        """The parameters of the selected bricks and their descendants, by path.

        Parameters
        ----------
        parameter_name : str or Path.ParameterName, optional
            Only the parameters with this name.

        Returns
        -------
        OrderedDict
            From paths such as ``'/mlp/linear_0.W'`` to the shared variables.

        Raises
        ------
        ValueError
            If two parameters get the same path (siblings with the same name, or a brick
            selected twice), as Blocks refused them.
        """
        if isinstance(parameter_name, Path):
            parameter_name = parameter_name.parameter_name
        result = OrderedDict()

        def collect(brick, prefix):
            path = prefix + Path([Path.BrickName(brick.name)])
            for parameter in brick.parameters:
                if parameter is None:
                    continue
                if parameter_name is not None and parameter.name != parameter_name:
                    continue
                key = str(path + Path([Path.ParameterName(parameter.name)]))
                if key in result:
                    what = ("the same parameter is reached twice" if result[key] is parameter
                            else "two different parameters are")
                    raise ValueError(
                        f"Selector.get_parameters: Name collision encountered while "
                        f"retrieving parameters: {what} at the path {key!r}; give the bricks "
                        f"(or parameters) unique names"
                    )
                result[key] = parameter
            for child in brick.children:
                collect(child, path)

        for brick, prefix in self._top_candidates():
            collect(brick, prefix)
        return result

    def __repr__(self):
        return f"Selector({self.bricks!r})"
