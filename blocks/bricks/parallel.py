"""Routing bricks: copies of a prototype transformation applied side by side.

:class:`Parallel` transforms several inputs, :class:`Fork` one input into several outputs,
:class:`Distribute` adds transformations of a source to several targets and
:class:`Merge` sums transformations of several inputs.
"""

import copy

from blocks.bricks.base import NoneAllocation, application, lazy
from blocks.bricks.interfaces import Feedforward, Initializable
from blocks.bricks.simple import Linear, describe
from blocks.bricks.validation import POSITIVE_INTEGER, POSITIVE_INTEGERS

__all__ = ["Parallel", "Fork", "Distribute", "Merge"]


def _repeated_dims(dim, count):
    # Dims derived from one setting; None (not NoneAllocation) while that setting is
    # missing, so that only the setting itself is reported as missing.
    if dim is NoneAllocation or dim is None:
        return None
    return [dim] * count


class Parallel(Initializable):
    """Apply similar transformations to several inputs.

    Given a prototype brick, a :class:`Parallel` brick makes several copies of it (each
    with its own parameters). At the application time every copy is applied to the
    respective input.

    >>> from pytensor import tensor
    >>> from blocks.bricks import Linear
    >>> from blocks.initialization import Constant
    >>> x, y = tensor.matrix('x'), tensor.matrix('y')
    >>> parallel = Parallel(
    ...     prototype=Linear(use_bias=False),
    ...     input_names=['x', 'y'], input_dims=[2, 3], output_dims=[4, 5],
    ...     weights_init=Constant(2))
    >>> parallel.initialize()
    >>> new_x, new_y = parallel.apply(x=x, y=y)
    >>> new_x.eval({x: [[1, 1]]})
    array([[4., 4., 4., 4.]]...
    >>> new_y.eval({y: [[1, 1, 1]]})
    array([[6., 6., 6., 6., 6.]]...

    Parameters
    ----------
    input_names : list of str
        The input names; the outputs have the same names.
    input_dims : list of int
        List of input dimensions, given in the same order as `input_names`. Required by
        :meth:`allocate`.
    output_dims : list of int
        List of output dimensions. Required by :meth:`allocate`.
    prototype : Feedforward
        The transformation prototype. A copy will be created for every input.
    child_prefix : str, optional
        The prefix for children names. By default "transform" is used: the copy for input
        ``x`` is named ``transform_x``.

    Attributes
    ----------
    input_names : list
        The input names.
    input_dims : list
        Input dimensions.
    output_dims : list
        Output dimensions.

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters.
    """

    argument_checks = {
        "input_dims": POSITIVE_INTEGERS,
        "output_dims": POSITIVE_INTEGERS,
    }

    @lazy(allocation=["input_dims", "output_dims"])
    def __init__(self, input_names, input_dims, output_dims, prototype, child_prefix=None,
                 **kwargs):
        if not isinstance(prototype, Feedforward):
            raise TypeError(
                f"{type(self).__name__}: prototype must be a Feedforward brick (with "
                f"input_dim and output_dim), got {type(prototype).__name__}"
            )
        input_names = list(input_names)
        if len(set(input_names)) != len(input_names):
            raise ValueError(
                f"{type(self).__name__}: input names must be unique, got {input_names}"
            )
        self.child_prefix = child_prefix or "transform"
        self.prototype = prototype
        transforms = []
        for name in input_names:
            transform = copy.deepcopy(prototype)
            transform.name = f"{self.child_prefix}_{name}"
            transforms.append(transform)
        kwargs["children"] = list(kwargs.get("children") or []) + transforms
        super().__init__(**kwargs)
        self.input_names = input_names
        self.input_dims = input_dims
        self.output_dims = output_dims

    def _push_allocation_config(self):
        count = len(self.input_names)
        for attribute in ("input_dims", "output_dims"):
            dims = getattr(self, attribute)
            if len(dims) != count:
                raise ValueError(
                    f"{describe(self)}: {attribute} must hold one dimension per input name "
                    f"({count}: {self.input_names}), got {list(dims)}"
                )
        for transform, input_dim, output_dim in zip(
                self.children, self.input_dims, self.output_dims):
            transform.input_dim = input_dim
            transform.output_dim = output_dim
        super()._push_allocation_config()

    def _route(self, application_name, names, args, kwargs):
        """The values of the inputs `names`, given positionally (in order) or by name."""
        where = f"{describe(self)}: {application_name}()"
        if len(args) > len(names):
            raise TypeError(f"{where} takes {len(names)} inputs {names}, got {len(args)}")
        routed = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{where} got an unexpected input {name!r}; expected {names}")
            if name in routed:
                raise TypeError(f"{where} got input {name!r} twice")
            routed[name] = value
        missing = [name for name in names if name not in routed]
        if missing:
            raise TypeError(f"{where} is missing inputs {missing} (expected {names})")
        return [routed[name] for name in names]

    @application
    def apply(self, *args, **kwargs):
        """Apply every transformation to its input; returns the outputs in input order."""
        inputs = self._route("apply", self.input_names, args, kwargs)
        return [transform.apply(input_) for transform, input_ in zip(self.children, inputs)]

    @apply.property("inputs")
    def apply_inputs(self):
        return self.input_names

    @apply.property("outputs")
    def apply_outputs(self):
        return self.input_names

    def get_dim(self, name):
        if name in self.input_names and self.input_dims:
            return self.input_dims[self.input_names.index(name)]
        return super().get_dim(name)


class Fork(Parallel):
    """Several outputs from one input by applying similar transformations.

    Given a prototype brick, a :class:`Fork` brick makes several copies of it (each with
    its own parameters). At the application time the copies are applied to the input to
    produce different outputs.

    A typical use case for this brick is to produce inputs for gates of gated recurrent
    bricks, such as :class:`~blocks.bricks.recurrent.GatedRecurrent`.

    >>> from pytensor import tensor
    >>> from blocks.initialization import Constant
    >>> x = tensor.matrix('x')
    >>> fork = Fork(output_names=['y', 'z'],
    ...             input_dim=2, output_dims=[3, 4],
    ...             weights_init=Constant(2), biases_init=Constant(1))
    >>> fork.initialize()
    >>> y, z = fork.apply(x)
    >>> y.eval({x: [[1, 1]]})
    array([[5., 5., 5.]]...
    >>> z.eval({x: [[1, 1]]})
    array([[5., 5., 5., 5.]]...

    Parameters
    ----------
    output_names : list of str
        Names of the outputs to produce.
    input_dim : int
        The input dimension. Required by :meth:`allocate`.
    prototype : Feedforward, optional
        The transformation prototype. A copy will be created for every output. By
        default an affine transformation (:class:`~blocks.bricks.Linear`) is used.
    child_prefix : str, optional
        The prefix for children names, "fork" by default (``fork_y``...).

    Attributes
    ----------
    input_dim : int
        The input dimension.
    output_dims : list
        The output dimensions as a list of integers, corresponding to `output_names`.
        Required by :meth:`allocate`.

    See Also
    --------
    Parallel : For the other parameters.
    """

    argument_checks = {"input_dim": POSITIVE_INTEGER}

    @lazy(allocation=["input_dim"])
    def __init__(self, output_names, input_dim, prototype=None, **kwargs):
        if prototype is None:
            prototype = Linear()
        self.input_dim = input_dim
        self.output_names = list(output_names)
        kwargs.setdefault("child_prefix", "fork")
        super().__init__(self.output_names, prototype=prototype, **kwargs)

    @property
    def input_dims(self):
        return _repeated_dims(self.input_dim, len(self.output_names))

    @input_dims.setter
    def input_dims(self, value):
        # The input dims follow input_dim; Parallel.__init__ stores the lazy placeholder.
        if value is NoneAllocation or value is None:
            return
        if len(set(value)) != 1:
            raise ValueError(f"{describe(self)}: all input dims are input_dim, got {value}")
        self.input_dim = value[0]

    @application(inputs=["input_"])
    def apply(self, input_):
        """Apply every transformation to the input; returns the outputs in order."""
        return [transform.apply(input_) for transform in self.children]

    @apply.property("outputs")
    def apply_outputs(self):
        return self.output_names

    def get_dim(self, name):
        if name == "input_":
            return self.input_dim
        if name in self.output_names and self.output_dims:
            return self.output_dims[self.output_names.index(name)]
        return super().get_dim(name)


class Distribute(Fork):
    """Transform an input and add it to other inputs.

    This brick is designed for the following scenario: one has a group of variables and
    another separate variable, and one needs to somehow distribute information from the
    latter across the former. We call that "to distribute a variable across other
    variables", and refer to the separate variable as "the source" and to the variables
    from the group as "the targets".

    Given a prototype brick, a :class:`Parallel` brick makes several copies of it (each
    with its own parameters). At the application time the copies are applied to the
    source and the transformation results are added to the targets (in the literal sense).

    >>> from pytensor import tensor
    >>> from blocks.initialization import Constant
    >>> x = tensor.matrix('x')
    >>> y = tensor.matrix('y')
    >>> z = tensor.matrix('z')
    >>> distribute = Distribute(target_names=['x', 'y'], source_name='z',
    ...                         target_dims=[2, 3], source_dim=3,
    ...                         weights_init=Constant(2))
    >>> distribute.initialize()
    >>> new_x, new_y = distribute.apply(x=x, y=y, z=z)
    >>> new_x.eval({x: [[2, 2]], z: [[1, 1, 1]]})
    array([[8., 8.]]...
    >>> new_y.eval({y: [[1, 1, 1]], z: [[1, 1, 1]]})
    array([[7., 7., 7.]]...

    Parameters
    ----------
    target_names : list
        The names of the targets.
    source_name : str
        The name of the source. Required by :meth:`allocate`.
    target_dims : list
        A list of target dimensions, corresponding to `target_names`. Required by
        :meth:`allocate`.
    source_dim : int
        The dimension of the source input. Required by :meth:`allocate`.
    prototype : Feedforward, optional
        The transformation prototype. A copy will be created for every target. By default
        a linear transformation without bias is used.

    Attributes
    ----------
    target_dims : list
    source_dim : int

    Notes
    -----
    See :class:`~blocks.bricks.Initializable` for initialization parameters.
    """

    @lazy(allocation=["source_name", "target_dims", "source_dim"])
    def __init__(self, target_names, source_name, target_dims, source_dim, prototype=None,
                 **kwargs):
        if prototype is None:
            prototype = Linear(use_bias=False)
        self.target_names = list(target_names)
        self.source_name = source_name
        super().__init__(self.target_names, source_dim, prototype=prototype,
                         output_dims=target_dims, **kwargs)

    @property
    def target_dims(self):
        return self.output_dims

    @target_dims.setter
    def target_dims(self, value):
        self.output_dims = value

    @property
    def source_dim(self):
        return self.input_dim

    @source_dim.setter
    def source_dim(self, value):
        self.input_dim = value

    @application
    def apply(self, *args, **kwargs):
        """Add the transformed source to every target; returns the new targets in order.

        The inputs are the targets followed by the source, by name or in this order.
        """
        *targets, source = self._route(
            "apply", self.target_names + [self.source_name], args, kwargs)
        return [target + transform.apply(source)
                for target, transform in zip(targets, self.children)]

    @apply.property("inputs")
    def apply_inputs(self):
        return self.target_names + [self.source_name]

    @apply.property("outputs")
    def apply_outputs(self):
        return self.target_names

    def get_dim(self, name):
        if name == self.source_name:
            return self.source_dim
        return super().get_dim(name)


class Merge(Parallel):
    """Merges several variables by applying a transformation and summing.

    Parameters
    ----------
    input_names : list
        The input names.
    input_dims : list
        The input dimensions, corresponding to `input_names`. Required by
        :meth:`allocate`.
    output_dim : int
        The output dimension of the merged variables. Required by :meth:`allocate`.
    prototype : Feedforward, optional
        A transformation prototype. A copy will be created for every input. If ``None``,
        a linear transformation without bias is used.
    child_prefix : str, optional
        A prefix for children names. By default "transform" is used.

    Attributes
    ----------
    input_names : list
        The input names.
    input_dims : list
        List of input dimensions corresponding to `input_names`.
    output_dim : int
        The output dimension.

    Notes
    -----
    If you want a bias, you can pass a :class:`~blocks.bricks.Linear` brick as a
    prototype, but this will result in several redundant biases. It is a better idea to
    use ``merge.children[0].use_bias = True``.

    Examples
    --------
    >>> from pytensor import tensor
    >>> from blocks.initialization import Constant
    >>> a = tensor.matrix('a')
    >>> b = tensor.matrix('b')
    >>> merge = Merge(input_names=['a', 'b'], input_dims=[3, 4],
    ...               output_dim=2, weights_init=Constant(1.))
    >>> merge.initialize()
    >>> c = merge.apply(a=a, b=b)
    >>> c.eval({a: [[1, 1, 1]], b: [[2, 2, 2, 2]]})
    array([[11., 11.]]...
    """

    argument_checks = {"output_dim": POSITIVE_INTEGER}

    @lazy(allocation=["input_dims", "output_dim"])
    def __init__(self, input_names, input_dims, output_dim, prototype=None, child_prefix=None,
                 **kwargs):
        if prototype is None:
            prototype = Linear(use_bias=False)
        self.output_dim = output_dim
        super().__init__(input_names, input_dims, NoneAllocation, prototype,
                         child_prefix=child_prefix, **kwargs)

    @property
    def output_dims(self):
        return _repeated_dims(self.output_dim, len(self.input_names))

    @output_dims.setter
    def output_dims(self, value):
        # The output dims follow output_dim; Parallel.__init__ stores the lazy placeholder.
        if value is NoneAllocation or value is None:
            return
        if len(set(value)) != 1:
            raise ValueError(f"{describe(self)}: all output dims are output_dim, got {value}")
        self.output_dim = value[0]

    @application(outputs=["output"])
    def apply(self, *args, **kwargs):
        """Sum the transformations of the inputs, given by name or in `input_names` order."""
        inputs = self._route("apply", self.input_names, args, kwargs)
        outputs = [transform.apply(input_) for transform, input_ in zip(self.children, inputs)]
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output
        return total

    @apply.property("inputs")
    def apply_inputs(self):
        return self.input_names

    def get_dim(self, name):
        if name == "output":
            return self.output_dim
        return super().get_dim(name)
