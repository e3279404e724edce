"""Bricks that apply other bricks one after the other."""

import copy

from blocks.bricks.base import (
    BoundApplication,
    Brick,
    NoneAllocation,
    application,
    describe,
    lazy,
)
from blocks.bricks.interfaces import Activation, Feedforward, Initializable
from blocks.bricks.simple import Linear
from blocks.bricks.validation import POSITIVE_INTEGERS, check_argument

__all__ = ["Sequence", "FeedforwardSequence", "MLP"]


class Sequence(Brick):
    """A sequence of bricks, each applied to the output of the previous one.

    Parameters
    ----------
    application_methods : list of BoundApplication or Brick
        The applications to chain; for a brick, its ``apply`` is used.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import Tanh, Rectifier
    >>> seq = Sequence([Rectifier().apply, Tanh()])
    >>> x = pt.vector('x')
    >>> seq.apply(x).eval({x: [-1.0, 0.5]}).round(4).tolist()
    [0.0, 0.4621]
    """

    def __init__(self, application_methods, **kwargs):
        methods = []
        for entry in application_methods:
            if isinstance(entry, Brick):
                entry = entry.apply
            if not isinstance(entry, BoundApplication):
                raise TypeError(
                    f"{type(self).__name__}: application_methods must hold bricks or bound "
                    f"applications (e.g. linear.apply), got {type(entry).__name__}"
                )
            methods.append(entry)
        kwargs.setdefault("children", [])
        for method in methods:
            if all(method.brick is not child for child in kwargs["children"]):
                kwargs["children"].append(method.brick)
        super().__init__(**kwargs)
        self.application_methods = methods

    @application
    def apply(self, *args):
        outputs = args
        for application_method in self.application_methods:
            outputs = application_method(*outputs, return_list=True)
        return outputs

    @apply.property("inputs")
    def apply_inputs(self):
        return self.application_methods[0].inputs

    @apply.property("outputs")
    def apply_outputs(self):
        return self.application_methods[-1].outputs


class FeedforwardSequence(Sequence, Feedforward):
    """A sequence whose first and last bricks are feed-forward.

    Its ``input_dim`` is the first brick's and its ``output_dim`` the last one's.
    Allocation (not construction: dimensions may be pushed later) checks that
    consecutive feed-forward bricks, with only activations between them, have matching
    dimensions; another brick between them, such as :class:`~blocks.bricks.Maxout`, may
    change the dimension, so it is not checked across.
    """

    @property
    def input_dim(self):
        return self.application_methods[0].brick.input_dim

    @input_dim.setter
    def input_dim(self, value):
        self.application_methods[0].brick.input_dim = value

    @property
    def output_dim(self):
        return self.application_methods[-1].brick.output_dim

    @output_dim.setter
    def output_dim(self, value):
        self.application_methods[-1].brick.output_dim = value

    def allocate(self):
        # The output dimension reaching each feed-forward brick is known through
        # activations (elementwise) but not through other bricks without dimensions:
        # a Maxout between two Linear bricks divides it, as in Blocks' sequences.
        previous = None
        for method in self.application_methods:
            brick = method.brick
            if isinstance(brick, Activation):
                continue
            if not isinstance(brick, Feedforward):
                previous = None
                continue
            in_dim = getattr(brick, "input_dim", NoneAllocation)
            out_dim = getattr(previous, "output_dim", NoneAllocation)
            if previous is not None and out_dim is not NoneAllocation \
                    and in_dim is not NoneAllocation \
                    and out_dim is not None and in_dim is not None and out_dim != in_dim:
                raise ValueError(
                    f"{describe(self)}: the output_dim of "
                    f"{previous.name!r} ({out_dim}) does not match the input_dim of "
                    f"{brick.name!r} ({in_dim})"
                )
            previous = brick
        super().allocate()


class MLP(FeedforwardSequence, Initializable):
    """A multi-layer perceptron: linear transformations, each followed by an activation.

    Parameters
    ----------
    activations : list of Brick, BoundApplication or None
        The activation applied after each linear transformation (``None`` for none).
        Required by ``__init__``.
    dims : list of int
        The input dimension followed by the output dimension of every layer. Required
        by :meth:`allocate`, which checks their number; it may be None (or left out)
        at construction and set later, as in Blocks.
    prototype : Brick, optional
        The transformation to copy for every layer; :class:`Linear` by default.

    Attributes
    ----------
    linear_transformations : list of Brick
        The transformations, named ``linear_0``, ``linear_1``...
    activations : list
        The activations as given.

    Notes
    -----
    See :class:`Initializable` for the initialization parameters. The ``weights_init``,
    ``biases_init`` (and ``use_bias`` when set) of the MLP are pushed to the layers once,
    when the initialization configuration is pushed; for finer control push the
    configuration, then change the layers before initializing.

    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> mlp = MLP(activations=[Tanh(), None], dims=[30, 20, 10],
    ...           weights_init=IsotropicGaussian(),
    ...           biases_init=Constant(1))
    >>> mlp.push_initialization_config()  # Configure children
    >>> mlp.children[0].weights_init = IsotropicGaussian(0.1)
    >>> mlp.initialize()
    """

    argument_checks = {"dims": POSITIVE_INTEGERS}

    @lazy(allocation=["dims"])
    def __init__(self, activations, dims, prototype=None, **kwargs):
        check_argument(self, "dims", dims)
        activations = list(activations)
        self.activations = activations
        self.prototype = Linear() if prototype is None else prototype
        base_name = type(self.prototype).__name__.lower()
        self.linear_transformations = []
        for i in range(len(activations)):
            transformation = copy.deepcopy(self.prototype)
            transformation.name = f"{base_name}_{i}"
            self.linear_transformations.append(transformation)
        application_methods = []
        for transformation, activation in zip(self.linear_transformations, activations):
            application_methods.append(transformation.apply)
            if activation is not None:
                application_methods.append(activation)
        super().__init__(application_methods, **kwargs)
        # As in Blocks, dims may be None or empty (all unknown) and their number is only
        # checked at allocation: a parent may complete them after construction.
        self.dims = list(dims) if dims else [NoneAllocation] * (len(activations) + 1)

    @property
    def input_dim(self):
        return self.dims[0] if self.dims else NoneAllocation

    @input_dim.setter
    def input_dim(self, value):
        self._dims_to_fill()[0] = value

    @property
    def output_dim(self):
        return self.dims[-1] if self.dims else NoneAllocation

    @output_dim.setter
    def output_dim(self, value):
        self._dims_to_fill()[-1] = value

    def _dims_to_fill(self):
        # Dims pushed one end at a time (e.g. by a Fork) start from unknown inner dims.
        if not self.dims:
            self.dims = [NoneAllocation] * (len(self.linear_transformations) + 1)
        return self.dims

    def _push_allocation_config(self):
        if len(self.dims) != len(self.linear_transformations) + 1:
            raise ValueError(
                f"MLP {self.name!r}: argument 'dims': dims must hold the input dimension "
                f"and one output dimension per activation, i.e. "
                f"{len(self.linear_transformations) + 1} numbers for "
                f"{len(self.linear_transformations)} activations; got {len(self.dims)} dims "
                f"{self.dims}"
            )
        if any(dim is NoneAllocation or dim is None for dim in self.dims):
            raise ValueError(
                f"MLP {self.name!r} cannot push its allocation configuration: dims is "
                f"incomplete ({self.dims})"
            )
        for i, transformation in enumerate(self.linear_transformations):
            transformation.input_dim = self.dims[i]
            transformation.output_dim = self.dims[i + 1]
        super()._push_allocation_config()
