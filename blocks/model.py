"""A model: the computation graph of a cost (or any outputs) with its bricks and parameters."""

from collections import Counter, OrderedDict

import numpy as np

from blocks.filter import get_application_call, get_brick
from blocks.graph import ComputationGraph
from blocks.select import Selector
from blocks.summary import format_summary

__all__ = ["Model"]


class Model(ComputationGraph):
    """A computation graph that knows its top bricks and names its parameters by path.

    Parameters are named by their path in the brick hierarchy (``'/mlp/linear_0.W'``);
    a parameter that no brick owns keeps its own name. These names are what
    :meth:`get_parameter_values` gives and :meth:`set_parameter_values` takes, e.g. to
    save and restore a trained model.

    Parameters
    ----------
    outputs : Variable or list of Variable
        The outputs of the model, usually its cost.

    Raises
    ------
    ValueError
        If two top bricks have the same name, or two parameters get the same name: the
        parameter names would be ambiguous.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import MLP, Tanh
    >>> mlp = MLP([Tanh(), None], [3, 4, 2])
    >>> model = Model(mlp.apply(pt.matrix('x')).sum())
    >>> model.get_top_bricks()  # doctest: +ELLIPSIS
    [<blocks.bricks.sequences.MLP object at 0x...: name=mlp>]
    >>> list(model.get_parameter_dict())
    ['/mlp/linear_0.W', '/mlp/linear_0.b', '/mlp/linear_1.W', '/mlp/linear_1.b']
    >>> values = model.get_parameter_values()
    >>> values['/mlp/linear_1.W'].shape
    (4, 2)
    >>> model.set_parameter_values({'/mlp/linear_1.b': np.ones(2)})
    >>> mlp.linear_transformations[1].b.get_value().tolist()
    [1.0, 1.0]
    """

    def __init__(self, outputs):
        super().__init__(outputs)
        self.top_bricks = self._find_top_bricks()
        counts = Counter(brick.name for brick in self.top_bricks)
        repeated = sorted(name for name, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(
                f"Model: several top bricks are named {', '.join(map(repr, repeated))}; "
                f"parameter names would be ambiguous, so give these bricks unique names "
                f"(the name= argument of their constructors)"
            )
        self._parameter_dict = self._name_parameters()

    def _find_top_bricks(self):
        variables = self.variables + self.scan_variables
        # Bricks in the order of their first application in the graph; the order of
        # shared variables (parameters) in a topological sort is arbitrary.
        applied = [var for var in variables if get_application_call(var) is not None]
        bricks = []
        for var in applied + variables:
            brick = get_brick(var)
            if brick is not None and all(brick is not other for other in bricks):
                bricks.append(brick)
        ids = {id(brick) for brick in bricks}

        def has_ancestor_among_bricks(brick):
            stack, visited = list(brick.parents), set()
            while stack:
                parent = stack.pop()
                if id(parent) in ids:
                    return True
                if id(parent) not in visited:
                    visited.add(id(parent))
                    stack.extend(parent.parents)
            return False

        return [brick for brick in bricks if not has_ancestor_among_bricks(brick)]

    def _name_parameters(self):
        names = {}
        for name, parameter in Selector(self.top_bricks).get_parameters().items():
            names.setdefault(parameter, name)
        order = {parameter: i for i, parameter in enumerate(names)}
        # Brick parameters in the order of the hierarchy, then the others in graph order.
        parameters = sorted(self.parameters, key=lambda p: order.get(p, len(order)))
        result = OrderedDict()
        for parameter in parameters:
            name = names.get(parameter, parameter.name)
            if name is None:
                raise ValueError(
                    f"Model: the parameter {parameter!r} has no name and no brick owns it; "
                    f"name it (pytensor.shared(..., name=...)) so that it can be saved"
                )
            if name in result:
                raise ValueError(
                    f"Model: two different parameters are named {name!r}; give them (or "
                    f"their bricks) unique names"
                )
            result[name] = parameter
        return result

    def get_top_bricks(self):
        """The bricks of the graph that have no ancestor among the graph's bricks.

        Returns
        -------
        list of Brick
            In the order in which they are first applied in the graph (then bricks
            whose parameters only appear in it).
        """
        return list(self.top_bricks)

    def get_parameter_dict(self):
        """The parameters of the model by name.

        Returns
        -------
        OrderedDict
            From names such as ``'/mlp/linear_0.W'`` (or the parameter's own name if no
            brick owns it) to the shared variables: brick parameters in the order of the
            brick hierarchy, then the others.
        """
        return OrderedDict(self._parameter_dict)

    def summary(self, print_fn=print):
        """Print a table of the bricks with their output shapes and parameter counts.

        As Keras' ``model.summary()``: one row per brick of the hierarchy (indented
        under its parent), the shapes of its outputs in this graph (``None`` for axes
        known only when data flows, ``-`` for a brick with no output in the graph), the
        number of values it and its descendants hold, and the totals. See
        :mod:`blocks.summary`.

        Parameters
        ----------
        print_fn : callable, optional
            Called with each line; :func:`print` by default.

        Examples
        --------
        >>> import pytensor.tensor as pt
        >>> from blocks.bricks import MLP, Tanh
        >>> mlp = MLP([Tanh(), None], [3, 4, 2])
        >>> Model(mlp.apply(pt.matrix('x')).sum()).summary()
        Brick (type)         Output shape  Parameters
        =============================================
        mlp (MLP)            (None, 2)             26
          linear_0 (Linear)  (None, 4)             16
          tanh (Tanh)        (None, 4)              0
          linear_1 (Linear)  (None, 2)             10
        =============================================
        Total parameters: 26
        Trainable parameters: 26
        Non-trainable parameters: 0
        """
        for line in format_summary(self):
            print_fn(line)

    def get_parameter_values(self):
        """Copies of the parameter values, by name.

        Returns
        -------
        OrderedDict
            From parameter names to numpy arrays.
        """
        return OrderedDict(
            (name, parameter.get_value(borrow=False))
            for name, parameter in self._parameter_dict.items()
        )

    def set_parameter_values(self, parameter_values):
        """Set the values of some or all parameters.

        Every entry is checked before any value is set, so on error nothing changes.

        Parameters
        ----------
        parameter_values : dict
            From parameter names (as in :meth:`get_parameter_dict`) to arrays of the
            parameters' shapes.

        Raises
        ------
        KeyError
            For names that are not parameters of this model.
        ValueError
            For a value of the wrong shape.
        TypeError
            For a value that cannot be cast safely to the parameter's dtype.
        """
        unknown = [name for name in parameter_values if name not in self._parameter_dict]
        if unknown:
            raise KeyError(
                f"Model.set_parameter_values: unknown parameter names {unknown}; the "
                f"model's parameters are {list(self._parameter_dict)}"
            )
        checked = []
        for name, value in parameter_values.items():
            parameter = self._parameter_dict[name]
            value = np.asarray(value)
            expected = parameter.get_value(borrow=True).shape
            if value.shape != expected:
                raise ValueError(
                    f"Model.set_parameter_values: parameter {name!r} expected shape "
                    f"{expected}, received shape {value.shape}"
                )
            if not np.can_cast(value.dtype, parameter.dtype, casting="same_kind"):
                raise TypeError(
                    f"Model.set_parameter_values: parameter {name!r} has dtype "
                    f"{parameter.dtype}, received a value of dtype {value.dtype}"
                )
            checked.append((parameter, value.astype(parameter.dtype)))
        for parameter, value in checked:
            parameter.set_value(value)
