"""Interfaces shared by many bricks: activations, feed-forward bricks, initialization, RNGs."""

import numpy as np

from blocks.bricks.base import Brick, application, describe, lazy
from blocks.config import config
from blocks.roles import BIAS, FILTER, WEIGHT, has_roles
from blocks.utils.random import RNGStream

__all__ = [
    "Activation", "Feedforward", "Initializable", "LinearLike", "Random", "RNGMixin",
]

#: Seeds are drawn below this bound.
MAX_SEED = 2 ** 30


class RNGMixin:
    """Gives a brick a numpy ``RandomState`` (:attr:`rng`) seeded from :attr:`seed`.

    Unless a seed is given, seeds are drawn from :attr:`seed_rng`, a random state created
    from ``blocks.config.default_seed``: bricks built in the same order get the same
    seeds in every run.
    """

    seed_rng = np.random.RandomState(config.default_seed)

    @property
    def seed(self):
        if getattr(self, "_seed", None) is None:
            self._seed = int(self.seed_rng.randint(MAX_SEED))
        return self._seed

    @seed.setter
    def seed(self, value):
        if hasattr(self, "_rng"):
            raise AttributeError(
                f"{type(self).__name__} {getattr(self, 'name', '')!r}: the seed cannot be "
                f"changed once the random state was created"
            )
        self._seed = value

    @property
    def rng(self):
        """A ``numpy.random.RandomState`` for this brick."""
        if getattr(self, "_rng", None) is None:
            self._rng = np.random.RandomState(self.seed)
        return self._rng

    @rng.setter
    def rng(self, value):
        self._rng = value


class Random(Brick):
    """A brick that builds random variables in its graphs.

    Parameters
    ----------
    theano_seed : int, optional
        Seed of the symbolic random stream :attr:`theano_rng`; by default drawn from
        :attr:`seed_rng` (itself seeded by ``blocks.config.default_seed``).
    """

    seed_rng = np.random.RandomState(config.default_seed)

    def __init__(self, theano_seed=None, **kwargs):
        super().__init__(**kwargs)
        self.theano_seed = theano_seed

    @property
    def theano_seed(self):
        if self._theano_seed is None:
            self._theano_seed = int(self.seed_rng.randint(MAX_SEED))
        return self._theano_seed

    @theano_seed.setter
    def theano_seed(self, value):
        if getattr(self, "_theano_rng", None) is not None:
            raise AttributeError(
                f"{describe(self)}: theano_seed cannot be changed once "
                f"theano_rng was created"
            )
        self._theano_seed = value

    @property
    def theano_rng(self):
        """The brick's symbolic random stream, created from :attr:`theano_seed`.

        A :class:`~blocks.utils.random.RNGStream`: ``self.theano_rng.normal(size=...)``
        and the like give random variables that advance at every call of a compiled
        function.
        """
        if getattr(self, "_theano_rng", None) is None:
            self._theano_rng = RNGStream(self.theano_seed)
        return self._theano_rng

    @theano_rng.setter
    def theano_rng(self, value):
        self._theano_rng = value

    def __getstate__(self):
        # An unpickled brick samples as a new brick of the same theano_seed would, so
        # that its graphs can be rebuilt reproducibly; the random variables already in
        # graphs keep their own shared generators.
        state = super().__getstate__()
        state.pop("_theano_rng", None)
        return state


class Feedforward(Brick):
    """A brick with one input and one output, configured by ``input_dim`` and ``output_dim``.

    Attributes
    ----------
    input_dim : int
        The input dimension of the brick.
    output_dim : int
        The output dimension of the brick.
    """


class Initializable(RNGMixin, Brick):
    """A brick whose parameter initialization is configured by its parents.

    The ``weights_init``, ``biases_init`` and ``use_bias`` set explicitly on a brick are
    pushed down to its Initializable children.

    Parameters
    ----------
    weights_init : NdarrayInitialization
        Initializes the weights (parameters with the WEIGHT role). Required by
        :meth:`initialize`.
    biases_init : NdarrayInitialization, optional
        Initializes the biases. Required by :meth:`initialize` when ``use_bias`` is True.
        Only supported by bricks for which :attr:`has_biases` is True.
    use_bias : bool, optional
        Whether to use biases; True unless set. Only supported by bricks for which
        :attr:`has_biases` is True.
    seed : int, optional
        Seed of :attr:`rng`, the random state used for initialization.

    Attributes
    ----------
    has_biases : bool
        False for bricks that do not support biases (and so ``biases_init`` and
        ``use_bias``), e.g. :class:`~blocks.bricks.recurrent.Bidirectional`.
    """

    has_biases = True

    @lazy()
    def __init__(self, weights_init=None, biases_init=None, use_bias=None, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.weights_init = weights_init
        if not self.has_biases and (biases_init is not None or use_bias is not None):
            raise ValueError(
                f"{describe(self)} has no biases: biases_init and "
                f"use_bias are not supported"
            )
        self.biases_init = biases_init
        self.use_bias = use_bias
        self.seed = seed

    @property
    def use_bias(self):
        return True if self._use_bias is None else self._use_bias

    @use_bias.setter
    def use_bias(self, value):
        self._use_bias = value

    def _push_initialization_config(self):
        for child in self.children:
            if isinstance(child, Initializable):
                child.rng = self.rng
                if self.weights_init is not None:
                    child.weights_init = self.weights_init
        self._push_biases_config()

    def _push_allocation_config(self):
        self._push_biases_config()

    def _push_biases_config(self):
        for child in self.children:
            if isinstance(child, Initializable) and child.has_biases:
                if self.has_biases and self._use_bias is not None:
                    child.use_bias = self._use_bias
                if self.has_biases and self.biases_init is not None:
                    child.biases_init = self.biases_init

    def _require_scheme(self, attribute):
        scheme = getattr(self, attribute, None)
        if not scheme:
            raise ValueError(
                f"{describe(self)} cannot initialize its parameters: "
                f"{attribute} is not set (give it to the constructor, set the attribute, or "
                f"let a parent brick push it)"
            )
        return scheme

    def _initialize(self):
        # Parameters are initialized by role; bricks with other parameters override this.
        for parameter in self.parameters:
            if parameter is None:
                continue
            if has_roles(parameter, [BIAS]):
                self._require_scheme("biases_init").initialize(parameter, self.rng)
            elif has_roles(parameter, [WEIGHT, FILTER]):
                self._require_scheme("weights_init").initialize(parameter, self.rng)


class LinearLike(Initializable):
    """An Initializable brick whose parameters are a weight (first) and a bias (second).

    Application methods should use :attr:`W` and :attr:`b` rather than
    :attr:`parameters`, so that subclasses can transform them.
    """

    @property
    def W(self):
        return self.parameters[0]

    @property
    def b(self):
        return self.parameters[1] if self.use_bias else None


class Activation(Brick):
    """An elementwise activation: ``apply`` maps ``input_`` to ``output`` of the same shape."""

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_):
        return self.activation(input_)

    def activation(self, input_):
        raise NotImplementedError(
            f"{type(self).__name__} must implement activation(input_)"
        )

    def get_dim(self, name):
        raise ValueError(
            f"{describe(self)} is elementwise and has no dimension of its "
            f"own for {name!r}"
        )
