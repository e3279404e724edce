"""Wrappers that rewrite the application methods of a brick class.

A wrapper is listed in the ``decorators`` attribute of a brick class; when the class is
created, every application it inherits is handed to the wrapper's :meth:`~BrickWrapper.wrap`,
which writes replacements into a namespace that is then installed on the class.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from blocks.bricks.base import Application

__all__ = ["BrickWrapper", "WithExtraDims"]


def derived_application(wrapped, function):
    """A new :class:`Application` running `function` with the declared attributes of `wrapped`.

    The new application keeps the argument names (so its variables are named like the
    wrapped application's), the declared attributes (``inputs``, ``outputs``...), the
    properties and the delegate of `wrapped`.
    """
    function.__name__ = wrapped.application_name
    application = Application(function)
    own = set(vars(application))
    for key, value in vars(wrapped).items():
        if key not in own:
            setattr(application, key, value)
    application.properties = dict(wrapped.properties)
    application.delegate_function = wrapped.delegate_function
    application._argument_names = list(wrapped._argument_names)
    application._varargs_name = wrapped._varargs_name
    return application


class BrickWrapper:
    """Base class of the wrappers that extend the application methods of brick classes.

    Sometimes a brick should handle inputs it was not written for, e.g. inputs with more
    dimensions. A wrapper rewrites every application method of a brick class with extra
    logic around the original call. It is applied by listing it in the ``decorators``
    attribute of a new brick class, which then gets the wrapped versions of all the
    applications it inherits:

    >>> from blocks.bricks.base import Brick
    >>> class WrappedBrick(Brick):
    ...     decorators = [WithExtraDims()]

    Subclasses implement :meth:`wrap`.
    """

    def __call__(self, brick_class):
        """Wrap the applications `brick_class` inherits and install the results on it."""
        inherited = {}
        for base in brick_class.__mro__[1:]:
            for name, value in vars(base).items():
                if isinstance(value, Application) and name not in inherited:
                    inherited[name] = value
        namespace = {}
        for name, application in inherited.items():
            if name not in vars(brick_class):
                self.wrap(application, namespace)
        for name, value in namespace.items():
            setattr(brick_class, name, value)
            if hasattr(value, "__set_name__"):
                value.__set_name__(brick_class, name)
        return brick_class

    def wrap(self, wrapped, namespace):
        """Wrap an application of the base brick.

        Overridden by subclasses to write the replacement(s) into `namespace`.

        Parameters
        ----------
        wrapped : Application
            The application to be wrapped.
        namespace : dict
            The namespace of the class being created: names to new attributes.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement wrap()")


def _where(brick, application_name, argument):
    return (f"{type(brick).__name__} {brick.name!r}: {application_name}() argument "
            f"{argument!r}")


class WithExtraDims(BrickWrapper):
    """Wraps a brick's applications to handle inputs with extra leading dimensions.

    A brick can often be reused on data with more dimensions than it was written for, e.g.
    :meth:`~blocks.bricks.Softmax.categorical_cross_entropy` on temporal data, where a
    'time' axis is prepended to both its inputs.

    Every wrapped application takes a keyword ``extra_ndim`` (0 by default): the first
    ``extra_ndim`` dimensions of every input are merged with the first non-extra one
    before the original application runs, and its outputs are reshaped back so that they
    start with the extra dimensions followed by the first non-extra one. All inputs and
    outputs are assumed to have the same number of extra dimensions, of the same sizes.
    The number of extra dimensions is not guessed: it must be given.

    Examples
    --------
    >>> from blocks.bricks import NDimensionalSoftmax
    >>> softmax = NDimensionalSoftmax()
    >>> x = pytensor.tensor.tensor3('x')
    >>> y = softmax.apply(x, extra_ndim=1)
    >>> y.ndim
    3
    >>> y.eval({x: np.zeros((2, 3, 4))})[1, 2].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """

    def wrap(self, wrapped, namespace):
        def apply(brick, *args, extra_ndim=0, **kwargs):
            if isinstance(extra_ndim, bool) or not isinstance(extra_ndim, (int, np.integer)) \
                    or extra_ndim < 0:
                raise ValueError(
                    f"{type(brick).__name__} {brick.name!r}: {wrapped.application_name}() "
                    f"expected extra_ndim to be a non-negative integer, got {extra_ndim!r}"
                )
            inner = wrapped.__get__(brick, type(brick))
            if extra_ndim == 0:
                return inner(*args, return_list=True, **kwargs)
            names = [
                wrapped._argument_names[i] if i < len(wrapped._argument_names)
                else f"{wrapped._varargs_name}_{i - len(wrapped._argument_names)}"
                for i in range(len(args))
            ]
            leading = []

            def merge(name, value):
                if isinstance(value, np.ndarray):
                    value = pt.as_tensor_variable(value)
                if not isinstance(value, Variable):
                    return value
                if value.ndim < extra_ndim + 1:
                    raise ValueError(
                        f"{_where(brick, wrapped.application_name, name)}: with "
                        f"extra_ndim={extra_ndim} expected ndim >= {extra_ndim + 1}, found "
                        f"ndim={value.ndim}"
                    )
                if not leading:
                    leading.extend(value.shape[i] for i in range(extra_ndim + 1))
                rest = [value.shape[i] for i in range(extra_ndim + 1, value.ndim)]
                merged = pt.prod(value.shape[:extra_ndim + 1])
                return value.reshape([merged] + rest, ndim=value.ndim - extra_ndim)

            args = [merge(name, value) for name, value in zip(names, args)]
            kwargs = {name: merge(name, value) for name, value in kwargs.items()}
            outputs = inner(*args, return_list=True, **kwargs)
            if not leading:
                raise ValueError(
                    f"{type(brick).__name__} {brick.name!r}: {wrapped.application_name}() "
                    f"was given extra_ndim={extra_ndim} but no symbolic input to take the "
                    f"extra dimensions from"
                )
            return [
                output.reshape(
                    leading + [output.shape[i] for i in range(1, output.ndim)],
                    ndim=output.ndim + extra_ndim)
                if isinstance(output, Variable) and output.ndim >= 1 else output
                for output in outputs
            ]

        owner = wrapped.owner_class.__name__ if wrapped.owner_class else "the base brick"
        apply.__doc__ = (
            "Wraps the application method with reshapes.\n\n"
            "Parameters\n----------\n"
            "extra_ndim : int, optional\n"
            "    The number of extra dimensions. Default is zero.\n\n"
            "See Also\n--------\n"
            f"{owner}.{wrapped.application_name} : "
            "For documentation of the wrapped application method.\n"
        )
        namespace[wrapped.application_name] = derived_application(wrapped, apply)
