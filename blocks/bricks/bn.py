"""Batch normalization bricks.

A :class:`BatchNormalization` brick normalizes its input with population statistics
(inference mode, the default) or with the statistics of the minibatch (training mode,
inside ``with brick:`` or :func:`blocks.graph.batch_normalization`, or after
:func:`blocks.graph.apply_batch_normalization`), then scales and shifts it.
"""

import numbers
from collections.abc import Sequence as SequenceABC

import numpy as np
import pytensor
import pytensor.tensor as pt

from blocks.bricks.base import application, lazy
from blocks.bricks.interfaces import Feedforward, RNGMixin
from blocks.bricks.sequences import MLP, Sequence
from blocks.bricks.validation import NON_NEGATIVE_NUMBER, SHAPE
from blocks.graph.annotations import add_annotation
from blocks.initialization import Constant
from blocks.roles import (
    BATCH_NORM_DIVISOR,
    BATCH_NORM_MINIBATCH_ESTIMATE,
    BATCH_NORM_OFFSET,
    BATCH_NORM_POPULATION_MEAN,
    BATCH_NORM_POPULATION_STDEV,
    BATCH_NORM_SCALE_PARAMETER,
    BATCH_NORM_SHIFT_PARAMETER,
    add_role,
)
from blocks.utils import shared_floatx

__all__ = ["BatchNormalization", "SpatialBatchNormalization", "BatchNormalizedMLP"]


def _as_tuple(input_dim):
    if isinstance(input_dim, SequenceABC):
        return tuple(input_dim)
    return (input_dim,)


def _annotate(variable, role, annotations):
    add_role(variable, role)
    for annotation in annotations:
        add_annotation(variable, annotation)
    return variable


class BatchNormalization(RNGMixin, Feedforward):
    r"""Normalizes activations, parameterizes a scale and shift.

    Parameters
    ----------
    input_dim : int or tuple
        Shape of a single input example. It is assumed that a batch axis will be
        prepended to this.
    broadcastable : tuple, optional
        None (the default, kept as the attribute's value) averages over the batch axis
        only. Otherwise a tuple of the same length as `input_dim` which specifies which of the
        per-example axes should be averaged over to compute means and standard
        deviations. For example, in order to normalize over all spatial locations in a
        ``(batch_index, channels, height, width)`` image, pass ``(False, True, True)``.
        The batch axis is always averaged out.
    conserve_memory : bool, optional
        Use an implementation that stores less intermediate state (the input is
        multiplied by ``scale / stdev`` rather than divided, then multiplied). Default
        is True.
    epsilon : float, optional
        The stabilizing constant for the minibatch standard deviation computation (when
        the brick is run in training mode). Added to the variance inside the square
        root, as in the batch normalization paper. Default is 1e-4.
    scale_init : object, optional
        Initialization object to use for the learned scaling parameter (:math:`\gamma`
        in [BN]_). By default, uses constant initialization of 1.
    shift_init : object, optional
        Initialization object to use for the learned shift parameter (:math:`\beta` in
        [BN]_). By default, uses constant initialization of 0.
    mean_only : bool, optional
        Perform "mean-only" batch normalization as described in [SK2016]_.
    learn_scale : bool, optional
        Whether to include a learned scale parameter (:math:`\gamma` in [BN]_) in this
        brick. Default is True. Has no effect if `mean_only` is True (i.e. a scale
        parameter is never learned in mean-only mode).
    learn_shift : bool, optional
        Whether to include a learned shift parameter (:math:`\beta` in [BN]_) in this
        brick. Default is True.

    Attributes
    ----------
    scale, shift : shared variables or constants
        ``batch_norm_scale`` (role BATCH_NORM_SCALE_PARAMETER) and ``batch_norm_shift``
        (role BATCH_NORM_SHIFT_PARAMETER), of the shape of `input_dim` with 1 on the
        broadcastable axes; constants 1 and 0 when not learned.
    population_mean, population_stdev : shared variables
        Roles BATCH_NORM_POPULATION_MEAN and BATCH_NORM_POPULATION_STDEV; annotated with
        the brick but not in :attr:`parameters` (they are not learned by the cost).
        There is no ``population_stdev`` in mean-only mode.

    Notes
    -----
    In order for trained models to behave sensibly immediately upon deserialization,
    by default, this brick runs in inference mode, using a population mean and
    population standard deviation (initialized to zeros and ones respectively) to
    normalize activations. It is expected that the user will adapt these during
    training in some fashion, independently of the training objective, e.g. by taking
    a moving average of minibatch-wise statistics (see
    :func:`blocks.graph.get_batch_normalization_updates`).

    In order to train with batch normalization, one must obtain a training graph by
    transforming the original inference graph. See
    :func:`blocks.graph.apply_batch_normalization` for a routine to transform graphs,
    and :func:`blocks.graph.batch_normalization` for a context manager that may enable
    shorter compile times (every instance of :class:`BatchNormalization` is itself a
    context manager, entry into which causes applications to be in minibatch
    "training" mode, however it is usually more convenient to use
    :func:`blocks.graph.batch_normalization` to enable this behaviour for all of your
    graph's :class:`BatchNormalization` bricks at once).

    Note that training in inference mode should be avoided, as this brick introduces
    scales and shift parameters (tagged with the PARAMETER role) that, in the absence
    of batch normalization, usually makes things unstable. If you must do this, filter
    for and remove BATCH_NORM_SHIFT_PARAMETER and BATCH_NORM_SCALE_PARAMETER from the
    list of parameters you are training, and this brick should behave as a (somewhat
    expensive) no-op.

    This Brick accepts `scale_init` and `shift_init` arguments but is *not* an
    instance of :class:`~blocks.bricks.Initializable`, and will therefore not receive
    pushed initialization config from any parent brick. In almost all cases, you will
    probably want to stick with the defaults (unit scale and zero offset), but you can
    explicitly pass one or both initializers to override this.

    This has the necessary properties to be inserted into a
    :class:`blocks.bricks.conv.ConvolutionalSequence` as-is, in which case the
    `input_dim` should be omitted at construction, to be inferred from the layer below.

    .. [BN] Sergey Ioffe and Christian Szegedy. *Batch normalization: accelerating
       deep network training by reducing internal covariate shift*. ICML (2015),
       pp. 448-456.
    .. [SK2016] Tim Salimans and Diederik P. Kingma. *Weight normalization: a simple
       reparameterization to accelerate training of deep neural networks*. arXiv
       1602.07868.

    Examples
    --------
    >>> bn = BatchNormalization(input_dim=2)
    >>> bn.initialize()
    >>> x = pytensor.tensor.matrix('x')
    >>> data = np.array([[1., 10.], [3., 30.]])
    >>> bn.apply(x).eval({x: data}).tolist()  # Inference: population mean 0, stdev 1
    [[1.0, 10.0], [3.0, 30.0]]
    >>> with bn:
    ...     y = bn.apply(x)
    >>> y.eval({x: data}).round(3).tolist()  # Training: minibatch statistics
    [[-1.0, -1.0], [1.0, 1.0]]
    """

    argument_checks = {
        "input_dim": SHAPE,
        "epsilon": NON_NEGATIVE_NUMBER,
    }

    @lazy(allocation=["input_dim"])
    def __init__(self, input_dim, broadcastable=None, conserve_memory=True, epsilon=1e-4,
                 scale_init=None, shift_init=None, mean_only=False, learn_scale=True,
                 learn_shift=True, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.broadcastable = broadcastable
        self.conserve_memory = conserve_memory
        self.epsilon = epsilon
        self.scale_init = Constant(1) if scale_init is None else scale_init
        self.shift_init = Constant(0) if shift_init is None else shift_init
        self.mean_only = mean_only
        self.learn_scale = learn_scale
        self.learn_shift = learn_shift
        self._training_mode = []

    # Training mode

    def __enter__(self):
        self._training_mode.append(True)
        return self

    def __exit__(self, *exc_info):
        self._training_mode.pop()

    @property
    def training_mode(self):
        """Whether applications now use minibatch statistics."""
        return bool(self._training_mode)

    # Dimensions

    def _broadcastable_axes(self):
        """`broadcastable`, or its default when it is None (no axis averaged over)."""
        if self.broadcastable is not None:
            return tuple(self.broadcastable)
        return (False,) * len(_as_tuple(self.input_dim))

    @property
    def normalization_axes(self):
        """The axes of an input batch that the statistics average over."""
        return (0,) + tuple(i + 1 for i, b in enumerate(self._broadcastable_axes()) if b)

    @property
    def output_dim(self):
        return self.input_dim

    @property
    def num_channels(self):
        return _as_tuple(self.input_dim)[0]

    @num_channels.setter
    def num_channels(self, value):
        rest = _as_tuple(self.input_dim)[1:] if self.input_dim else ()
        self.input_dim = (value,) + rest

    @property
    def num_output_channels(self):
        return self.num_channels

    @property
    def image_size(self):
        return _as_tuple(self.input_dim)[1:]

    @image_size.setter
    def image_size(self, value):
        channels = _as_tuple(self.input_dim)[0] if self.input_dim else None
        self.input_dim = (channels,) + tuple(value)

    def get_dim(self, name):
        if name in ("input_", "output"):
            return self.input_dim
        return super().get_dim(name)

    def _statistics_shape(self):
        input_dim, broadcastable = _as_tuple(self.input_dim), self._broadcastable_axes()
        where = f"{type(self).__name__} {self.name!r}"
        if len(input_dim) != len(broadcastable):
            raise ValueError(
                f"{where}: argument 'broadcastable': expected {len(input_dim)} entries (one "
                f"per axis of input_dim {input_dim}), got {broadcastable!r}"
            )
        shape = tuple(1 if b else d for d, b in zip(input_dim, broadcastable))
        if not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
            raise ValueError(
                f"{where}: argument 'input_dim': expected positive ints on the axes that "
                f"are not averaged over, got input_dim={input_dim} with "
                f"broadcastable={broadcastable}"
            )
        return shape

    # Parameters

    def _allocate(self):
        shape = self._statistics_shape()
        static = tuple(1 if b else None for b in self._broadcastable_axes())

        def variable(name, value, role):
            var = shared_floatx(np.full(shape, value), name=name, shape=static)
            add_role(var, role)
            return var

        if self.learn_scale and not self.mean_only:
            self.scale = variable("batch_norm_scale", np.nan, BATCH_NORM_SCALE_PARAMETER)
            self.parameters.append(self.scale)
        else:
            self.scale = pt.constant(1.0, dtype=pytensor.config.floatX)
        if self.learn_shift:
            self.shift = variable("batch_norm_shift", np.nan, BATCH_NORM_SHIFT_PARAMETER)
            self.parameters.append(self.shift)
        else:
            self.shift = pt.constant(0.0, dtype=pytensor.config.floatX)
        # Not parameters: the cost does not train them, so they stay out of `parameters`
        # (which would give them the PARAMETER role) and are annotated by hand.
        self.population_mean = variable("population_mean", 0.0, BATCH_NORM_POPULATION_MEAN)
        add_annotation(self.population_mean, self)
        if not self.mean_only:
            self.population_stdev = variable("population_stdev", 1.0,
                                             BATCH_NORM_POPULATION_STDEV)
            add_annotation(self.population_stdev, self)

    def _initialize(self):
        if self.learn_scale and not self.mean_only:
            self.scale_init.initialize(self.scale, self.rng)
        if self.learn_shift:
            self.shift_init.initialize(self.shift, self.rng)
        self.population_mean.set_value(np.zeros_like(self.population_mean.get_value()))
        if not self.mean_only:
            self.population_stdev.set_value(np.ones_like(self.population_stdev.get_value()))

    # Application

    def _check_input(self, input_):
        where = f"{type(self).__name__} {self.name!r}: argument 'input_'"
        input_dim = _as_tuple(self.input_dim)
        if input_.ndim != len(input_dim) + 1:
            raise ValueError(
                f"{where}: expected ndim={len(input_dim) + 1} (a batch axis, then "
                f"input_dim {input_dim}), found ndim={input_.ndim}"
            )
        for found, expected in zip(input_.type.shape[1:], input_dim):
            if found is not None and expected is not None and found != expected:
                raise ValueError(
                    f"{where}: expected shape (batch,) + {input_dim}, found static shape "
                    f"{input_.type.shape}"
                )

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_, application_call):
        """Normalize, scale and shift `input_` (``(batch,) + input_dim``)."""
        self._check_input(input_)
        training = self.training_mode
        annotations = [self, application_call]
        if training:
            axes = self.normalization_axes
            mean = input_.mean(axis=axes, keepdims=True)
            _annotate(mean, BATCH_NORM_MINIBATCH_ESTIMATE, annotations)
            offset = mean[0]
            if not self.mean_only:
                variance = input_.var(axis=axes, keepdims=True)
                stdev = pt.sqrt(variance + self.epsilon)
                _annotate(stdev, BATCH_NORM_MINIBATCH_ESTIMATE, annotations)
                divisor = stdev[0]
        else:
            mean = offset = self.population_mean
            if not self.mean_only:
                stdev = divisor = self.population_stdev
        # Metadata for graph transformations: which mode, and the statistics (without
        # the batch axis, like the population variables) for moving-average updates.
        application_call.metadata["training_mode"] = training
        application_call.metadata["offset"] = offset
        application_call.metadata["divisor"] = None if self.mean_only else divisor
        centered = input_ - _annotate(mean.copy(), BATCH_NORM_OFFSET, annotations)
        if self.mean_only:
            return centered + self.shift
        stdev = _annotate(stdev.copy(), BATCH_NORM_DIVISOR, annotations)
        if self.conserve_memory:
            return centered * (self.scale / stdev) + self.shift
        return (centered / stdev) * self.scale + self.shift


class SpatialBatchNormalization(BatchNormalization):
    """Convenient subclass for batch normalization across spatial inputs.

    Parameters
    ----------
    input_dim : int or tuple
        The input size of a single example. Must be length at least 2. It's assumed
        that the first axis of this tuple is a "channels" axis, which should not be
        summed over, and all remaining dimensions are spatial dimensions.

    Notes
    -----
    See :class:`BatchNormalization` for more details (and additional keyword
    arguments).

    Examples
    --------
    >>> bn = SpatialBatchNormalization(input_dim=(3, 4, 4))
    >>> bn.initialize()
    >>> bn.normalization_axes, bn.population_mean.get_value().shape
    ((0, 2, 3), (3, 1, 1))
    """

    def _allocate(self):
        # Checked here, not at construction: the input_dim of a lazy brick (in a
        # ConvolutionalSequence) is only pushed at allocation.
        if not isinstance(self.input_dim, SequenceABC) or len(self.input_dim) < 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: argument 'input_dim': expected "
                f"input_dim to be length >= 2 e.g. (channels, height, width), got "
                f"{self.input_dim!r}"
            )
        if self.broadcastable is None:
            # As Blocks did: the channels are kept, the spatial axes averaged over.
            self.broadcastable = (False,) + (True,) * (len(self.input_dim) - 1)
        super()._allocate()

    def _broadcastable_axes(self):
        if self.broadcastable is not None:
            return tuple(self.broadcastable)
        return (False,) + (True,) * (len(_as_tuple(self.input_dim)) - 1)


class BatchNormalizedMLP(MLP):
    """Convenient subclass for building an MLP with batch normalization.

    Parameters
    ----------
    conserve_memory : bool, optional, by keyword only
        See :class:`BatchNormalization`.
    mean_only : bool, optional, by keyword only
        See :class:`BatchNormalization`.
    learn_scale : bool, optional, by keyword only
        See :class:`BatchNormalization`.
    learn_shift : bool, optional, by keyword only
        See :class:`BatchNormalization`.

    Notes
    -----
    All other parameters are the same as :class:`~blocks.bricks.MLP`. Each activation
    brick is wrapped in a :class:`~blocks.bricks.Sequence` containing an appropriate
    :class:`BatchNormalization` brick and the activation that follows it (a ``None``
    activation gives the batch normalization alone).

    By default, the contained :class:`~blocks.bricks.Linear` bricks will not contain
    any biases, as they could be canceled out by the biases in the
    :class:`BatchNormalization` bricks being added. Pass `use_bias` with a value of
    True if you really want this for some reason.

    `mean_only`, `learn_scale` and `learn_shift` are attributes of this brick, pushed
    down to all created :class:`BatchNormalization` bricks as allocation config (so
    they may be changed until the brick is allocated).

    Examples
    --------
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian
    >>> mlp = BatchNormalizedMLP([Tanh(), None], [4, 3, 2],
    ...                          weights_init=IsotropicGaussian(0.1))
    >>> mlp.initialize()
    >>> [child.name for child in mlp.children]
    ['linear_0', 'batch_norm_activation_0', 'linear_1', 'batch_norm_activation_1']
    >>> mlp.linear_transformations[0].use_bias
    False
    """

    @lazy(allocation=["dims"])
    def __init__(self, activations, dims, *args, **kwargs):
        self.mean_only = kwargs.pop("mean_only", False)
        self.learn_scale = kwargs.pop("learn_scale", True)
        self.learn_shift = kwargs.pop("learn_shift", True)
        conserve_memory = kwargs.pop("conserve_memory", True)
        self.batch_normalizations = [
            BatchNormalization(name="batch_norm", conserve_memory=conserve_memory,
                               mean_only=self.mean_only, learn_scale=self.learn_scale,
                               learn_shift=self.learn_shift)
            for _ in activations
        ]
        wrapped = []
        for i, (activation, bn) in enumerate(zip(activations, self.batch_normalizations)):
            steps = [bn.apply] + ([] if activation is None else [activation])
            wrapped.append(Sequence(steps, name=f"batch_norm_activation_{i}"))
        kwargs.setdefault("use_bias", False)
        super().__init__(wrapped, dims, *args, **kwargs)
        self._conserve_memory = conserve_memory

    @property
    def conserve_memory(self):
        """Conserve memory (pushed to every batch normalization brick)."""
        return self._conserve_memory

    @conserve_memory.setter
    def conserve_memory(self, value):
        self._conserve_memory = value
        for bn in self.batch_normalizations:
            bn.conserve_memory = value

    def _push_allocation_config(self):
        super()._push_allocation_config()
        for bn, dim in zip(self.batch_normalizations, self.dims[1:]):
            bn.input_dim = dim
            # Pushed at allocation, so that setting them on the MLP after construction
            # (as Blocks allowed) takes effect.
            for name in ("mean_only", "learn_scale", "learn_shift"):
                setattr(bn, name, getattr(self, name))
