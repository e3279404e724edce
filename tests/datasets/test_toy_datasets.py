"""The generated toy datasets, against the formulas Fuel documents."""

import numpy as np

from blocks.config import config
from blocks.datasets.toy import Spiral, SwissRoll


def test_spiral_points_lie_on_their_arms():
    spiral = Spiral(num_examples=200, classes=3, cycles=1.5, seed=4)
    assert spiral.sources == ("features", "position", "label")
    features, position, label = spiral.get_data(request=slice(None))
    assert features.dtype == np.float32 and set(label.tolist()) == {0, 1, 2}
    assert position.min() >= 0 and position.max() < 1.5
    radius = (2 * position + 1) / 3
    np.testing.assert_allclose(np.hypot(features[:, 0], features[:, 1]), radius, rtol=1e-5)
    angle = 2 * np.pi * position + 2 * np.pi * label / 3
    np.testing.assert_allclose(features[:, 0], radius * np.sin(angle), atol=1e-6)
    # Fuel's draws, in Fuel's order, from the same seed.
    rng = np.random.RandomState(4)
    np.testing.assert_array_equal(position, rng.uniform(size=200, low=0, high=1.5))
    np.testing.assert_array_equal(label, rng.randint(size=200, low=0, high=3))


def test_spiral_noise_seed_and_default_seed():
    clean = Spiral(num_examples=50, seed=1).get_data(request=slice(None))[0]
    noisy = Spiral(num_examples=50, noise=0.1, seed=1).get_data(request=slice(None))[0]
    difference = noisy - clean
    assert 0.05 < difference.std() < 0.15
    default = Spiral(num_examples=50).get_data(request=slice(None))[0]
    seeded = Spiral(num_examples=50, seed=config.default_seed).get_data(request=slice(None))[0]
    np.testing.assert_array_equal(default, seeded)


def test_swiss_roll_points_lie_on_the_roll():
    roll = SwissRoll(num_examples=100, seed=2)
    assert roll.sources == ("features", "position")
    features, position = roll.get_data(request=slice(None))
    along, height = position[:, 0], position[:, 1]
    radius = (1 + 2 * along) / 3
    np.testing.assert_allclose(np.hypot(features[:, 0], features[:, 1]), radius, rtol=1e-5)
    angle = 1.5 * np.pi * (1 + 2 * along)
    np.testing.assert_allclose(features[:, 1], radius * np.sin(angle), atol=1e-5)
    np.testing.assert_array_equal(features[:, 2], height)
    assert np.all(np.abs(height) <= 1)
    assert roll.get_example_stream().get_epoch_iterator() is not None
    assert len(list(roll.get_example_stream().get_epoch_iterator())) == 100
