"""Generated toy datasets (no files): Spiral, SwissRoll.

Both draw their points from a ``RandomState`` seeded with `seed` (by default
``blocks.config.default_seed``), in the order Fuel draws them, so a seed gives Fuel's
points.
"""

from collections import OrderedDict

import numpy as np

from blocks.config import config
from blocks.datasets.base import IndexableDataset

__all__ = ["Spiral", "SwissRoll"]


def _noisy_points(coordinates, noise, rng):
    """float32 points with the given coordinates, plus Gaussian noise of std `noise`."""
    points = np.stack(coordinates, axis=1).astype("float32")
    points += noise * rng.normal(size=points.shape)
    return points


class Spiral(IndexableDataset):
    """Points on the arms of a spiral in the plane.

    Sources: ``features``, the (x, y) position (float32); ``position``, the relative
    position along the arm, in ``[0, cycles)``; ``label``, the arm.

    Parameters
    ----------
    num_examples : int, optional
    classes : int, optional
        The number of arms.
    cycles : float, optional
        The number of turns the arms take.
    noise : float, optional
        The standard deviation of Gaussian noise added to the positions.
    seed : int, optional
    sources, axis_labels, start, stop
        See :class:`~blocks.datasets.IndexableDataset`.

    Examples
    --------
    >>> spiral = Spiral(num_examples=6, classes=2)
    >>> features, position, label = spiral.get_data(request=slice(0, 6))
    >>> features.shape, sorted(set(label.tolist())) == [0, 1]
    ((6, 2), True)
    """

    def __init__(self, num_examples=1000, classes=1, cycles=1.0, noise=0.0, seed=None,
                 **kwargs):
        rng = np.random.RandomState(config.default_seed if seed is None else seed)
        position = rng.uniform(size=num_examples, low=0, high=cycles)
        label = rng.randint(size=num_examples, low=0, high=classes)
        radius = (2 * position + 1) / 3.0
        angle = 2 * np.pi * position + label * (2 * np.pi) / classes
        features = _noisy_points([radius * np.sin(angle), radius * np.cos(angle)], noise, rng)
        super().__init__(OrderedDict(
            [("features", features), ("position", position), ("label", label)]), **kwargs)


class SwissRoll(IndexableDataset):
    """Points on a Swiss roll, a 2-d manifold rolled up in 3-d.

    Sources: ``features``, the (x, y, z) position (float32); ``position``, the
    position on the manifold (along the roll, in [0, 1), and z).

    Parameters
    ----------
    num_examples, noise, seed, sources, axis_labels, start, stop
        See :class:`Spiral`.

    Examples
    --------
    >>> roll = SwissRoll(num_examples=4)
    >>> [data.shape for data in roll.get_data(request=[0, 1])]
    [(2, 3), (2, 2)]
    """

    def __init__(self, num_examples=1000, noise=0.0, seed=None, **kwargs):
        cycles = 1.5
        rng = np.random.RandomState(config.default_seed if seed is None else seed)
        along = rng.uniform(size=num_examples, low=0, high=1)
        angle = cycles * np.pi * (1 + 2 * along)
        radius = (1 + 2 * along) / 3
        height = rng.uniform(size=num_examples, low=-1, high=1)
        features = _noisy_points([radius * np.cos(angle), radius * np.sin(angle), height],
                                 noise, rng)
        position = np.zeros((num_examples, 2), dtype="float32")
        position[:, 0] = along
        position[:, 1] = height
        super().__init__(OrderedDict([("features", features), ("position", position)]),
                         **kwargs)
