"""The brick core: bricks, application methods, application calls and lazy configuration.

A :class:`Brick` owns parameters and builds parts of a graph through its application
methods (decorated with :func:`application`). Configuration arrives at construction or
later (see :func:`lazy`), parents push configuration down to their children, and
parameters are allocated and initialized on demand.
"""

import inspect
import logging
from collections import OrderedDict
from functools import wraps

import numpy as np
import pytensor
from pytensor.graph.basic import Variable

from blocks.bricks.validation import check_arguments
from blocks.graph.annotations import Annotation, add_annotation
from blocks.roles import INPUT, OUTPUT, PARAMETER, ParameterRole, add_role
from blocks.utils import pack, repr_attrs, shared_floatx_nans, unpack

__all__ = [
    "Application", "ApplicationCall", "BoundApplication", "Brick", "application", "describe",
    "lazy", "NoneAllocation", "NoneInitialization", "Parameters", "Children",
]

logger = logging.getLogger(__name__)


class _LazyNone:
    """A sentinel for configuration that has not been given yet; it is falsy."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name

    __str__ = __repr__

    def __bool__(self):
        return False

    def __reduce__(self):
        return self._name


#: Stands for allocation configuration that was not given yet.
NoneAllocation = _LazyNone("NoneAllocation")
#: Stands for initialization configuration that was not given yet.
NoneInitialization = _LazyNone("NoneInitialization")


def describe(brick):
    """``Type 'name'``: how error messages name a brick."""
    return f"{type(brick).__name__} {brick.name!r}"


def _variable_name(brick_name, application_name, name):
    return f"{brick_name}_{application_name}_{name}"


class Application:
    """An application method of a brick class: the descriptor :func:`application` creates.

    Accessed on a class (``Linear.apply``) it is this object; accessed on a brick
    (``linear.apply``) it is a :class:`BoundApplication`. Calling it copies and annotates
    inputs and outputs (see :meth:`apply`).

    Attributes are declared by passing them to :func:`application` (``inputs``,
    ``outputs``...), computed per brick with :meth:`property`, or looked up on another
    application with :meth:`delegate`.

    Notes
    -----
    The wrapped function is deliberately not copied with :func:`functools.wraps`: the
    function's qualified name would then point at this object and pickling would fail.
    """

    def __init__(self, application_function):
        self.__doc__ = application_function.__doc__
        # Without it the object claims this module, so doctest (which skips class
        # attributes from other modules) never collects the examples of application
        # methods defined elsewhere.
        self.__module__ = application_function.__module__
        self.application_function = application_function
        self.application_name = application_function.__name__
        self.delegate_function = None
        self.properties = {}
        self.owner_class = None
        signature = inspect.signature(application_function)
        parameters = list(signature.parameters.values())[1:]
        # ``application_call`` and ``application`` are handed in by the call itself, so
        # the caller's positional arguments name the other arguments.
        self._argument_names = [
            p.name for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in ("application_call", "application")
        ]
        self._varargs_name = next(
            (p.name for p in parameters if p.kind == p.VAR_POSITIONAL), None
        )
        positional = [p.name for p in parameters
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # Where the handed-in arguments sit among the positional ones (None: keyword).
        self._handed_in = [
            (positional.index(name) if name in positional else None, name)
            for name in ("application_call", "application") if name in signature.parameters
        ]
        self._takes_any_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)

    @property
    def name(self):
        return self.application_name

    def __set_name__(self, owner, name):
        if self.owner_class is None:
            self.owner_class = owner

    def __get__(self, instance, owner):
        if instance is None:
            return self
        bound = instance.__dict__.setdefault("_bound_applications", {})
        key = id(self)
        if key not in bound:
            bound[key] = BoundApplication(self, instance)
        return bound[key]

    def __reduce__(self):
        return (getattr, (self.owner_class, self.application_name))

    def __call__(self, brick, *args, **kwargs):
        """``Linear.apply(linear, x)``: the same as ``linear.apply(x)``."""
        if not isinstance(brick, Brick):
            raise TypeError(
                f"application {self.application_name!r} called on the class: expected a "
                f"brick as first argument, got {type(brick).__name__}"
            )
        return self.__get__(brick, type(brick))(*args, **kwargs)

    @property
    def inputs(self):
        """The declared inputs; setting them checks they are arguments of the method."""
        try:
            return self.__dict__["inputs"]
        except KeyError:
            raise AttributeError(
                f"application {self.application_name!r} declares no inputs") from None

    @inputs.setter
    def inputs(self, inputs):
        self.__dict__["inputs"] = self._checked_inputs(inputs)

    def _checked_inputs(self, inputs):
        if self._takes_any_keyword:
            return inputs
        known = self._argument_names + [self._varargs_name]
        unexpected = [name for name in inputs if name not in known]
        if unexpected:
            raise ValueError(
                f"Unexpected inputs {unexpected} for application {self.application_name!r}: "
                f"its arguments are {self._argument_names}"
            )
        return inputs

    def property(self, name):
        """Decorate a method computing attribute `name` of this application per brick.

        >>> class Doubler(Brick):
        ...     def __init__(self, names, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.names = names
        ...     @application
        ...     def apply(self, **kwargs):
        ...         return [2 * kwargs[name] for name in self.names]
        ...     @apply.property('inputs')
        ...     def apply_inputs(self):
        ...         return self.names
        >>> Doubler(['a', 'b']).apply.inputs
        ['a', 'b']
        """
        if not isinstance(name, str):
            raise TypeError(
                f"Application.property of {self.application_name!r}: expected the "
                f"attribute name as a string, got {name!r}"
            )

        def decorator(function):
            self.properties[name] = function
            return function

        return decorator

    def delegate(self, function):
        """Decorate a method returning the application whose attributes this one shares."""
        self.delegate_function = function
        return function

    def _symbolic_input(self, brick, declared, name, value):
        """Check a declared input; numeric arrays become constants, other objects are refused."""
        if value is None or isinstance(value, Variable) or name not in declared:
            return value
        if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
            return pytensor.tensor.as_tensor_variable(value)
        from blocks.initialization import NdarrayInitialization
        if isinstance(value, NdarrayInitialization):
            return value
        raise TypeError(
            f"{describe(brick)}: {self.application_name}() "
            f"argument {name!r} must be a symbolic variable (e.g. "
            f"pytensor.tensor.matrix()) or an array, got {type(value).__name__}"
        )

    def apply(self, bound_application, *args, **kwargs):
        """Run the application: allocate if needed, copy, name, tag and annotate variables.

        Every symbolic input and output is replaced by a copy named
        ``{brick}_{application}_{argument}`` that carries the INPUT or OUTPUT role and is
        annotated with the brick and the :class:`ApplicationCall`.

        Keyword arguments ``return_list`` and ``return_dict`` (or Blocks' names for them,
        ``as_list`` and ``as_dict``) change the return value to a list of outputs or an
        ordered dict from output names to outputs. A keyword
        argument ``call_id`` is stored in the call's ``metadata['call_id']``, so that the
        variables of one call can be told apart from those of another call of the same
        application (see :class:`~blocks.filter.VariableFilter`).
        """
        brick = bound_application.brick
        return_list = any([kwargs.pop("return_list", False), kwargs.pop("as_list", False)])
        return_dict = any([kwargs.pop("return_dict", False), kwargs.pop("as_dict", False)])
        call_id = kwargs.pop("call_id", None)
        if return_list and return_dict:
            raise ValueError(
                f"{describe(brick)}: {self.application_name}() takes at most one of "
                f"return_list and return_dict (as_list and as_dict in Blocks)")

        if not brick.allocated:
            brick.allocate()

        call = ApplicationCall(bound_application)
        if call_id is not None:
            call.metadata["call_id"] = call_id
        handed_in = {"application_call": call, "application": bound_application}

        def copy_and_tag(variable, role, name):
            copy = variable.copy()
            copy.name = _variable_name(brick.name, self.application_name, name)
            add_annotation(copy, brick)
            add_annotation(copy, call)
            copy.tag.name = name
            add_role(copy, role)
            return copy

        args = list(args)
        names = [
            self._argument_names[i] if i < len(self._argument_names)
            else f"{self._varargs_name}_{i - len(self._argument_names)}"
            for i in range(len(args))
        ]
        try:
            declared = list(bound_application.inputs)
        except AttributeError:
            declared = []
        args = [self._symbolic_input(brick, declared, name, value)
                for name, value in zip(names, args)]
        kwargs = {name: self._symbolic_input(brick, declared, name, value)
                  for name, value in kwargs.items()}
        for i, (name, value) in enumerate(zip(names, args)):
            if isinstance(value, Variable):
                args[i] = copy_and_tag(value, INPUT, name)
        for name, value in kwargs.items():
            if isinstance(value, Variable):
                kwargs[name] = copy_and_tag(value, INPUT, name)

        if brick.print_shapes:
            args = [_print_shape(v, f"{v.name} shape") if isinstance(v, Variable) else v
                    for v in args]

        # As in Blocks, the call and the bound application take their place among the
        # positional arguments when the caller's arguments reach it.
        for index, name in sorted(self._handed_in, key=lambda item: (item[0] is None, item[0])):
            if index is not None and index <= len(args):
                args.insert(index, handed_in[name])
            else:
                kwargs[name] = handed_in[name]

        Application.call_stack.append(brick)
        try:
            outputs = self.application_function(brick, *args, **kwargs)
        finally:
            Application.call_stack.pop()

        outputs = pack(outputs)
        try:
            output_names = list(bound_application.outputs)
        except AttributeError:
            output_names = []
        # Outputs beyond the declared ones are named by position.
        output_names = output_names[:len(outputs)] + [
            f"output_{i}" for i in range(len(output_names), len(outputs))]
        for i, output in enumerate(outputs):
            if isinstance(output, Variable):
                name = output_names[i]
                outputs[i] = copy_and_tag(output, OUTPUT, name)
                if brick.print_shapes:
                    outputs[i] = _print_shape(outputs[i], f"{outputs[i].name} shape")
        if return_list:
            return outputs
        if return_dict:
            return OrderedDict(zip(output_names, outputs))
        return unpack(outputs)

    #: The bricks whose applications are currently running, innermost last.
    call_stack = []


def _print_shape(variable, message):
    printed = pytensor.printing.Print(message, attrs=("shape",))(variable)
    # The printed variable takes the place of `variable` (name, roles, annotations), so
    # that a graph holds each variable of the call once.
    printed.name, variable.name = variable.name, None
    printed.tag, variable.tag = variable.tag, printed.tag
    return printed


class BoundApplication:
    """An application method bound to a brick: ``linear.apply``.

    Calling it runs :meth:`Application.apply`. Attribute look-up goes to the
    application's properties (computed for this brick), then to attributes set on this
    bound application, then to the application's own attributes, then to the delegate.
    """

    def __init__(self, application, brick):
        self.__dict__["application"] = application
        self.__dict__["brick"] = brick
        self.__dict__["_attributes"] = {}

    @property
    def name(self):
        return self.application.application_name

    def __getattr__(self, name):
        if name in ("application", "brick", "_attributes") or name.startswith("__"):
            raise AttributeError(name)
        application = self.application
        if name in application.properties:
            return application.properties[name](self.brick)
        if name in self._attributes:
            return self._attributes[name]
        if name in application.__dict__:
            return application.__dict__[name]
        if application.delegate_function is not None:
            return getattr(application.delegate_function(self.brick), name)
        raise AttributeError(
            f"application {application.application_name!r} of {type(self.brick).__name__} "
            f"{self.brick.name!r} has no attribute {name!r}"
        )

    def __setattr__(self, name, value):
        if name in self.application.properties:
            raise AttributeError(
                f"{name!r} of application {self.name!r} is computed by a property and "
                f"cannot be set"
            )
        self._attributes[name] = value

    def __call__(self, *args, **kwargs):
        return self.application.apply(self, *args, **kwargs)

    def __reduce__(self):
        return (getattr, (self.brick, self.application.application_name))

    def __repr__(self):
        return f"<BoundApplication {self.name} of {type(self.brick).__name__} {self.brick.name!r}>"


class ApplicationCall(Annotation):
    """One call of an application method.

    It annotates the variables of the call, and collects the call's auxiliary variables
    and updates. An application method that takes an ``application_call`` argument
    receives it.

    Attributes
    ----------
    application : BoundApplication
    brick : Brick
    metadata : dict
        Free-form information about the call.
    """

    def __init__(self, application):
        super().__init__()
        self.application = application
        self.metadata = {}

    @property
    def brick(self):
        return self.application.brick

    def add_auxiliary_variable(self, variable, roles=None, name=None):
        """Add an auxiliary variable named ``{brick}_{application}_{name}``, annotated with
        the brick too (``VariableFilter(bricks=...)`` finds it, as in Blocks)."""
        add_annotation(variable, self.brick)
        if name is not None:
            full_name = _variable_name(self.brick.name, self.application.name, name)
            super().add_auxiliary_variable(variable, roles, name)
            variable.name = full_name
            variable.tag.name = name
        else:
            super().add_auxiliary_variable(variable, roles)


def application(*args, **kwargs):
    r"""Decorator for methods that apply a brick to inputs.

    Use it bare (``@application``) or with attributes to attach to the application
    (``@application(inputs=['x'], outputs=['y'])``).

    Notes
    -----
    The method is replaced by an :class:`Application`; it is not wrapped with
    :func:`functools.wraps`, which would make bricks impossible to pickle.

    Examples
    --------
    >>> class Foo(Brick):
    ...     @application(inputs=['x'], outputs=['y'])
    ...     def apply(self, x):
    ...         return x + 1
    ...     @application
    ...     def other_apply(self, x):
    ...         return x - 1
    >>> foo = Foo()
    >>> Foo.apply.inputs
    ['x']
    >>> foo.apply.outputs
    ['y']
    >>> Foo.other_apply # doctest: +ELLIPSIS
    <blocks.bricks.base.Application object at ...>
    """
    if args:
        if len(args) != 1 or kwargs or not callable(args[0]):
            raise TypeError(
                "application: use @application or @application(attribute=value, ...)"
            )
        return Application(args[0])

    def decorator(function):
        app = Application(function)
        for name, value in kwargs.items():
            setattr(app, name, value)
        return app

    return decorator


#: The bricks whose lazy ``__init__`` is running, outermost first.
_under_construction = []


def lazy(allocation=None, initialization=None):
    """Make the ``__init__`` of a brick accept its configuration later.

    The arguments named in `allocation` and `initialization` that are not given are
    set to :data:`NoneAllocation` and :data:`NoneInitialization`; the brick is expected
    to store them as attributes of the same names, which can then be set at any time
    before :meth:`Brick.allocate` (respectively :meth:`Brick.initialize`). Allocating or
    initializing while one of them is still missing raises a ``ValueError`` that names
    the brick and the attribute.

    Parameters
    ----------
    allocation : list of str, optional
        Arguments needed before allocation.
    initialization : list of str, optional
        Arguments needed before initialization.

    Examples
    --------
    >>> class SomeBrick(Brick):
    ...     @lazy(allocation=['a'], initialization=['b'])
    ...     def __init__(self, a, b, c='c', d=None):
    ...         print(a, b, c, d)
    >>> brick = SomeBrick('a')
    a NoneInitialization c None
    >>> brick = SomeBrick(d='d', b='b')
    NoneAllocation b c d
    """
    allocation = list(allocation or [])
    initialization = list(initialization or [])

    def decorator(init):
        signature = inspect.signature(init)
        positional = [
            p.name for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        unknown = [name for name in allocation + initialization if name not in positional]
        if unknown:
            raise ValueError(f"lazy: {init.__qualname__} has no arguments named {unknown}")

        @wraps(init)
        def lazy_init(self, *args, **kwargs):
            given = set(positional[:len(args)]) | set(kwargs)
            for names, sentinel in ((allocation, NoneAllocation),
                                    (initialization, NoneInitialization)):
                for name in names:
                    if name not in given:
                        kwargs[name] = sentinel
            # Bricks created inside another brick's constructor (an MLP's layers) get
            # their configuration pushed by that brick, so only the outermost brick must
            # be fully configured, and it initializes the whole tree.
            outermost = all(brick is self for brick in _under_construction)
            if not self.lazy and outermost:
                missing = [name for name in allocation + initialization if name not in given]
                if missing:
                    raise ValueError(
                        f"{type(self).__name__}: lazy initialization is off (Brick.lazy is "
                        f"False), so {', '.join(missing)} must be given to the constructor"
                    )
            _under_construction.append(self)
            try:
                init(self, *args, **kwargs)
            finally:
                _under_construction.pop()
            if not _under_construction and not self.lazy:
                self.initialize()

        lazy_init._lazy_allocation = allocation
        lazy_init._lazy_initialization = initialization
        return lazy_init

    return decorator


class _AnnotatingList(list):
    """A list that calls a hook on every element inserted into it."""

    def __init__(self, owner, items=()):
        super().__init__()
        self.owner = owner
        self.extend(items)

    def _added(self, item):
        return item

    def append(self, item):
        super().append(self._added(item))

    def extend(self, items):
        for item in items:
            self.append(item)

    def insert(self, index, item):
        super().insert(index, self._added(item))

    def __setitem__(self, key, value):
        if isinstance(key, slice):
            super().__setitem__(key, [self._added(item) for item in value])
        else:
            super().__setitem__(key, self._added(value))

    def __iadd__(self, items):
        self.extend(items)
        return self

    def __reduce__(self):
        # Rebuilt without the insertion hook: in a cyclic graph (a main loop reaching a
        # brick through its parameters) the items may not be unpickled yet, and their
        # annotations travel with them anyway.
        return (_rebuild_annotating_list, (type(self), list(self), self.__dict__))


def _rebuild_annotating_list(cls, items, state):
    rebuilt = list.__new__(cls)
    list.extend(rebuilt, items)
    rebuilt.__dict__.update(state)
    return rebuilt


class Parameters(_AnnotatingList):
    """The parameters of a brick: each one inserted is annotated with the brick.

    Parameters without a parameter role receive :data:`~blocks.roles.PARAMETER`.
    ``None`` entries are allowed so that a parameter keeps its index whatever the
    configuration.
    """

    def _added(self, item):
        if item is not None:
            add_annotation(item, self.owner)
            if not any(isinstance(role, ParameterRole) for role in getattr(item.tag, "roles", [])):
                add_role(item, PARAMETER)
        return item


class Children(_AnnotatingList):
    """The children of a brick: each one inserted gets the brick as a parent.

    Children of one brick have unique names: a child whose name is already taken by a
    sibling is renamed with a numeric suffix (``tanh``, ``tanh_1``...).
    """

    def _added(self, item):
        if not isinstance(item, Brick):
            raise TypeError(
                f"children of {type(self.owner).__name__} {self.owner.name!r} must be bricks, "
                f"got {type(item).__name__}"
            )
        taken = {child.name for child in self if child is not item}
        if item.name in taken:
            base = item.name
            suffix = 1
            while f"{base}_{suffix}" in taken:
                suffix += 1
            item.name = f"{base}_{suffix}"
        if not any(parent is self.owner for parent in item.parents):
            item.parents.append(self.owner)
        return item


class Brick(Annotation):
    """A brick encapsulates PyTensor operations with parameters.

    A brick goes through these stages:

    1. Construction: ``__init__`` sets the name and configuration and creates children.
    2. Allocation: :meth:`push_allocation_config` configures the children, then
       :meth:`allocate` creates the shared variables of the parameters (children first).
    3. In either order:

       a. Application: calling an application method builds a part of the graph
          (allocating first if needed).
       b. Initialization: :meth:`push_initialization_config` configures the children,
          then :meth:`initialize` sets the parameter values (children first).

    Most configuration can be given after construction (lazy initialization, see
    :func:`lazy`); a parent pushes only the configuration explicitly set on it to its
    children. Setting ``Brick.lazy = False`` makes all configuration required at
    construction, after which the brick is allocated and initialized at once.

    Parameters
    ----------
    name : str, optional
        The name of this brick; by default the lowercased class name.
    children : list of Brick, optional
        The children of this brick.

    Attributes
    ----------
    name : str
    print_shapes : bool
        ``False`` by default; if ``True`` the shapes of inputs and outputs are printed
        when a compiled function runs.
    parameters : list of shared variables (or None)
        Filled by :meth:`allocate`.
    children : list of Brick
    parents : list of Brick
    allocated, initialized, allocation_config_pushed, initialization_config_pushed : bool

    Examples
    --------
    >>> import pytensor
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> from blocks.bricks import Linear
    >>> linear = Linear(input_dim=5, output_dim=3,
    ...                 weights_init=IsotropicGaussian(),
    ...                 biases_init=Constant(0))
    >>> x = pytensor.tensor.vector()
    >>> linear.apply(x)  # Calls linear.allocate() automatically
    linear_apply_output
    >>> linear.initialize()  # Initializes the weight matrix
    """

    #: Whether bricks accept their configuration after construction.
    lazy = True
    print_shapes = False
    #: What the configuration attributes of this class must be: attribute name to
    #: :class:`~blocks.bricks.validation.ArgumentCheck`, merged with those of the base
    #: classes (see :mod:`blocks.bricks.validation`).
    argument_checks = {}
    _argument_checks = {}

    def __init__(self, name=None, children=None):
        super().__init__()
        self.name = name if name is not None else type(self).__name__.lower()
        self.parents = []
        self.children = children or []
        self.parameters = []
        self.allocated = False
        self.allocation_config_pushed = False
        self.initialized = False
        self.initialization_config_pushed = False

    # Children and parameters are kept in annotating lists whatever is assigned.
    @property
    def children(self):
        return self._children

    @children.setter
    def children(self, value):
        self._children = Children(self, value)

    @property
    def parameters(self):
        return self._parameters

    @parameters.setter
    def parameters(self, value):
        self._parameters = Parameters(self, value)

    def __repr__(self):
        return repr_attrs(self, "name")

    @property
    def allocation_args(self):
        """The names of the configuration needed to allocate (Blocks' attribute).

        >>> from blocks.bricks import Linear
        >>> Linear().allocation_args
        ['input_dim', 'output_dim']
        """
        return self._lazy_arguments("_lazy_allocation")

    @property
    def initialization_args(self):
        """The names of the configuration needed to initialize (Blocks' attribute)."""
        return self._lazy_arguments("_lazy_initialization")

    def __setattr__(self, name, value):
        # Configuration is checked whenever it is set: at construction, by the user, or
        # pushed by a parent; values not given yet pass (see blocks.bricks.validation).
        check = type(self)._argument_checks.get(name)
        if check is not None:
            check(self, name, value)
        super().__setattr__(name, value)

    def __getstate__(self):
        state = self.__dict__.copy()
        # Bound applications are keyed by id(), which does not survive pickling; keep
        # only the attributes set on them (``brick.apply.inputs = [...]``), by name.
        bound = state.pop("_bound_applications", {})
        state["_bound_attributes"] = {
            application.name: dict(application._attributes)
            for application in bound.values() if application._attributes
        }
        return state

    def __setstate__(self, state):
        attributes = state.pop("_bound_attributes", {})
        self.__dict__.update(state)
        self._fill_missing_configuration()
        for name, values in attributes.items():
            getattr(self, name)._attributes.update(values)

    def _fill_missing_configuration(self):
        """Give the defaults of the constructors to configuration a pickle lacks.

        A brick pickled by an older version of its class (a ``MaxPooling`` saved before
        it had ``padding``) lacks the attributes added since; as Blocks' checkpoints
        did, it loads with the constructor's default for each. Only plain attributes
        named after a constructor argument with a default are filled.
        """
        for cls in type(self).__mro__:
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            for parameter in inspect.signature(init).parameters.values():
                name = parameter.name
                if (parameter.default is parameter.empty or name in self.__dict__
                        or name in ("name", "children") or hasattr(type(self), name)):
                    continue
                self.__dict__[name] = parameter.default

    # Missing configuration

    def _lazy_arguments(self, kind):
        names = []
        for cls in type(self).__mro__:
            init = cls.__dict__.get("__init__")
            for name in getattr(init, kind, ()):
                if name not in names:
                    names.append(name)
        return names

    def _check_configuration(self, kind, sentinel, stage):
        missing = [
            name for name in self._lazy_arguments(kind)
            if getattr(self, name, sentinel) is sentinel
        ]
        if missing:
            raise ValueError(
                f"{describe(self)} cannot {stage}: "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                f"(give {'it' if len(missing) == 1 else 'them'} to the constructor, set the "
                f"attribute, or let a parent brick push {'it' if len(missing) == 1 else 'them'})"
            )

    # Allocation

    def push_allocation_config(self):
        """Push the configuration for allocation to the children (recursively)."""
        self._check_configuration("_lazy_allocation", NoneAllocation,
                                  "push its allocation configuration")
        check_arguments(self)
        self._push_allocation_config()
        self.allocation_config_pushed = True
        for child in self.children:
            try:
                child.push_allocation_config()
            except Exception:
                self.allocation_config_pushed = False
                raise

    def _push_allocation_config(self):
        """Configure the children for allocation; override in bricks with children."""

    def allocate(self):
        """Allocate the shared variables of the parameters, children first.

        Re-allocating resets :attr:`parameters`: the new parameters are new shared
        variables.

        Raises
        ------
        ValueError
            If allocation configuration is missing.
        """
        if not self.allocation_config_pushed:
            self.push_allocation_config()
        for child in self.children:
            child.allocate()
        self._check_configuration("_lazy_allocation", NoneAllocation, "allocate")
        check_arguments(self)
        self.parameters = []
        self._allocate()
        self.allocated = True

    def _allocate(self):
        """Create the parameters; override in bricks that have some."""

    def create_parameter(self, name, shape, role, dtype=None):
        """Create a parameter of this brick: a NaN-filled shared variable with `role`.

        It is named `name`, given `role` (e.g. :data:`~blocks.roles.WEIGHT`), annotated
        with this brick and appended to :attr:`parameters`. Its value is set by
        :meth:`initialize`.
        """
        variable = shared_floatx_nans(shape, name=name, dtype=dtype)
        variable.tag.name = name
        add_role(variable, role)
        self.parameters.append(variable)
        return variable

    # Initialization

    def push_initialization_config(self):
        """Push the configuration for initialization to the children (recursively)."""
        self._push_initialization_config()
        self.initialization_config_pushed = True
        for child in self.children:
            try:
                child.push_initialization_config()
            except Exception:
                self.initialization_config_pushed = False
                raise

    def _push_initialization_config(self):
        """Configure the children for initialization; override in bricks with children."""

    def initialize(self):
        """Initialize the parameters, children first; allocates first if needed."""
        if not self.allocated:
            self.allocate()
        if not self.initialization_config_pushed:
            self.push_initialization_config()
        for child in self.children:
            child.initialize()
        self._check_configuration("_lazy_initialization", NoneInitialization, "initialize")
        self._initialize()
        self.initialized = True

    def _initialize(self):
        """Set the parameter values; override in bricks that have parameters."""

    # Dimensions and names

    def get_dim(self, name):
        """The dimension of the input or output variable `name` of this brick."""
        raise ValueError(
            f"{describe(self)} has no dimension information for {name!r}"
        )

    def get_dims(self, names):
        """The dimensions of the variables `names`, as a list."""
        return [self.get_dim(name) for name in names]

    def get_unique_path(self):
        """The bricks from the root of the hierarchy down to this one.

        Raises ``ValueError`` when the brick has several parents.
        """
        path = [self]
        brick = self
        while brick.parents:
            if len(brick.parents) > 1:
                raise ValueError(
                    f"{describe(brick)} has several parents "
                    f"({', '.join(parent.name for parent in brick.parents)}): its path in "
                    f"the hierarchy is ambiguous"
                )
            brick = brick.parents[0]
            path.append(brick)
        return path[::-1]

    def get_hierarchical_name(self, parameter, delimiter="/"):
        """The path ``brick1/brick2/brick3.parameter`` of one of this brick's parameters.

        >>> from blocks.bricks import MLP, Tanh
        >>> mlp = MLP([Tanh()], [3, 2])
        >>> mlp.allocate()
        >>> linear = mlp.linear_transformations[0]
        >>> linear.get_hierarchical_name(linear.W)
        'mlp/linear_0.W'
        """
        path = delimiter.join(brick.name for brick in self.get_unique_path())
        return f"{path}.{parameter.name}"

    # Class wrappers (see blocks.bricks.wrappers)

    def __init_subclass__(cls, **kwargs):
        # A class listing wrappers in its own ``decorators`` attribute gets its inherited
        # applications rewritten by them, e.g. ``decorators = [WithExtraDims()]``.
        super().__init_subclass__(**kwargs)
        cls._argument_checks = {
            name: check
            for klass in reversed(cls.__mro__)
            for name, check in klass.__dict__.get("argument_checks", {}).items()
        }
        for decorator in cls.__dict__.get("decorators", ()):
            decorator(cls)
