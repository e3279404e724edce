"""A seeded source of symbolic random variables that advance by themselves.

:class:`RNGStream` takes the place of PyTensor's deprecated
``pytensor.tensor.random.utils.RandomStream``: it has the same distribution methods
(``normal``, ``uniform``, ``binomial``, ``categorical``, ...) with the same arguments,
draws the same numbers for the same seed, and is built on the non-deprecated
``pytensor.tensor.random.shared_rng`` and ``rng.method()`` API.
"""

import numpy as np
import pytensor.tensor.random.basic as _distributions
from pytensor.tensor.random import shared_rng

__all__ = ["RNGStream"]


class RNGStream:
    """Symbolic random draws, each from its own shared generator, derived from one seed.

    Every draw creates a new shared ``numpy.random.Generator`` seeded with the next
    child of ``numpy.random.SeedSequence(seed)`` and sets the generator's
    ``default_update`` to its next state, so that a compiled function (and a scan
    built by :func:`~blocks.bricks.recurrent.recurrent`) advances it at every call
    without being given updates.

    The methods take the arguments of the functions of the same name in
    ``pytensor.tensor.random.basic`` (less ``rng``) and return the draw only; the
    distributions without a method of their own below (``beta``, ``gamma``,
    ``poisson``, ...) forward their arguments the same way.

    Parameters
    ----------
    seed : int or sequence of int, optional
        Seed of the stream. Streams with equal seeds make the same draws in the same
        order; without a seed, the draws differ from run to run.

    Attributes
    ----------
    default_instance_seed : int or sequence of int or None
        The seed given to the constructor; :meth:`seed` restarts from it by default.
    generators : list of RandomGeneratorSharedVariable
        The shared generators of the draws made so far, in order.

    Examples
    --------
    >>> stream = RNGStream(seed=1)
    >>> x = stream.normal(0, 1, size=(3,))
    >>> f = pytensor.function([], x)
    >>> first, second = f(), f()
    >>> bool((first != second).all())
    True

    Another stream with the same seed makes the same draws:

    >>> again = pytensor.function([], RNGStream(seed=1).normal(0, 1, size=(3,)))
    >>> bool(np.array_equal(again(), first))
    True
    """

    def __init__(self, seed=None):
        self.default_instance_seed = seed
        self._seed_sequence = np.random.SeedSequence(seed)
        self.generators = []

    def __repr__(self):
        return (f"{type(self).__name__}(seed={self.default_instance_seed!r}, "
                f"draws={len(self.generators)})")

    def draw(self, distribution, *args, **kwargs):
        """A draw of `distribution` from a new generator of the stream.

        Parameters
        ----------
        distribution : str
            The name of a function of ``pytensor.tensor.random.basic``, e.g.
            ``'normal'``.
        *args, **kwargs
            Its arguments, except ``rng`` and ``return_next_rng``.

        Returns
        -------
        TensorVariable
            The random variable.

        Examples
        --------
        >>> stream = RNGStream(seed=3)
        >>> stream.draw('poisson', 4.0, size=(2,)).eval().shape
        (2,)
        """
        for reserved in ("rng", "return_next_rng"):
            if reserved in kwargs:
                raise ValueError(
                    f"RNGStream.{distribution}: argument {reserved!r} is not supported: "
                    f"every draw of a stream uses a new generator of its own"
                )
        if distribution not in _distributions.__all__:
            raise AttributeError(
                f"RNGStream: no distribution {distribution!r} in "
                f"pytensor.tensor.random.basic"
            )
        (child,) = self._seed_sequence.spawn(1)
        generator = shared_rng(np.random.default_rng(child), borrow=True)
        next_state, value = getattr(generator, distribution)(*args, **kwargs)
        generator.default_update = next_state
        self.generators.append(generator)
        return value

    def seed(self, seed=None):
        """Reseed the generators of all the draws made so far, and the later draws.

        The generators get the states they would have had in a new stream of seed
        `seed` making the same draws; compiled functions see the new states.

        Parameters
        ----------
        seed : int or sequence of int, optional
            The new seed; by default the one the stream was created with.

        Examples
        --------
        >>> stream = RNGStream(seed=5)
        >>> f = pytensor.function([], stream.uniform(size=(2,)))
        >>> first = f()
        >>> stream.seed()
        >>> bool(np.array_equal(f(), first))
        True
        """
        if seed is None:
            seed = self.default_instance_seed
        self._seed_sequence = np.random.SeedSequence(seed)
        children = self._seed_sequence.spawn(len(self.generators))
        for generator, child in zip(self.generators, children, strict=True):
            generator.set_value(np.random.default_rng(child), borrow=True)

    def updates(self):
        """The ``(generator, next state)`` pairs of the draws made so far.

        Compiled functions apply them by themselves; they are for the code that
        compiles with ``no_default_updates`` or builds its own loops.

        Returns
        -------
        list of tuple
        """
        # The current default update, not the one set at the draw: a scan built over
        # the draw replaces it with the state after the whole loop.
        return [(generator, generator.default_update) for generator in self.generators]

    def uniform(self, low=0.0, high=1.0, size=None, **kwargs):
        """Uniform draws in ``[low, high)``.

        Examples
        --------
        >>> values = RNGStream(seed=1).uniform(2.0, 3.0, size=(4,)).eval()
        >>> bool(((2.0 <= values) & (values < 3.0)).all())
        True
        """
        return self.draw("uniform", low, high, size=size, **kwargs)

    def normal(self, loc=0.0, scale=1.0, size=None, **kwargs):
        """Gaussian draws of mean `loc` and standard deviation `scale`.

        Examples
        --------
        >>> RNGStream(seed=1).normal(size=(2, 3)).eval().shape
        (2, 3)
        """
        return self.draw("normal", loc, scale, size=size, **kwargs)

    def binomial(self, n, p, size=None, **kwargs):
        """Binomial draws: the number of successes among `n` trials of probability `p`.

        Examples
        --------
        >>> RNGStream(seed=1).binomial(1, 0.0, size=(3,)).eval().tolist()
        [0, 0, 0]
        """
        return self.draw("binomial", n, p, size=size, **kwargs)

    def bernoulli(self, p, size=None, **kwargs):
        """Draws of 1 with probability `p`, 0 otherwise.

        Examples
        --------
        >>> RNGStream(seed=1).bernoulli(1.0, size=(2,)).eval().tolist()
        [1, 1]
        """
        return self.draw("bernoulli", p, size=size, **kwargs)

    def integers(self, low, high=None, size=None, **kwargs):
        """Integer draws in ``[low, high)``, or in ``[0, low)`` without `high`.

        Examples
        --------
        >>> values = RNGStream(seed=1).integers(3, size=(10,)).eval()
        >>> set(values.tolist()) <= {0, 1, 2}
        True
        """
        return self.draw("integers", low, high, size=size, **kwargs)

    def categorical(self, p, size=None, **kwargs):
        """Draws of an index of the last axis of `p`, with the probabilities of `p`.

        Examples
        --------
        >>> RNGStream(seed=1).categorical([[0.0, 1.0], [1.0, 0.0]]).eval().tolist()
        [1, 0]
        """
        return self.draw("categorical", p, size=size, **kwargs)

    def multinomial(self, n, p, size=None, **kwargs):
        """The counts of each index of the last axis of `p` among `n` categorical draws.

        Examples
        --------
        >>> RNGStream(seed=1).multinomial(5, [0.0, 1.0, 0.0]).eval().tolist()
        [0, 5, 0]
        """
        return self.draw("multinomial", n, p, size=size, **kwargs)

    def choice(self, a, size=None, replace=True, p=None, **kwargs):
        """Draws of elements of `a` (of ``arange(a)`` for an integer `a`), as numpy's.

        Examples
        --------
        >>> values = RNGStream(seed=1).choice([10, 20], size=(6,), p=[0.0, 1.0])
        >>> values.eval().tolist()
        [20, 20, 20, 20, 20, 20]
        """
        return self.draw("choice", a, size=size, replace=replace, p=p, **kwargs)

    def permutation(self, x, **kwargs):
        """A random permutation of `x` (of ``arange(x)`` for an integer `x`).

        Examples
        --------
        >>> sorted(RNGStream(seed=1).permutation(4).eval().tolist())
        [0, 1, 2, 3]
        """
        return self.draw("permutation", x, **kwargs)


def _forwarding_method(distribution):
    def method(self, *args, **kwargs):
        return self.draw(distribution, *args, **kwargs)

    method.__name__ = distribution
    method.__qualname__ = f"RNGStream.{distribution}"
    method.__doc__ = (
        f"Draws of ``pytensor.tensor.random.{distribution}``: its arguments, less "
        f"``rng``; see :meth:`RNGStream.draw`."
    )
    return method


# RandomStream answered every distribution of pytensor.tensor.random.basic; the ones
# Blocks does not call get a plain method, so that user code keeps working.
for _distribution in _distributions.__all__:
    if not hasattr(RNGStream, _distribution):
        setattr(RNGStream, _distribution, _forwarding_method(_distribution))
del _distribution
