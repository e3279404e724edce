"""Tests of the symbolic random stream of the Random bricks and the regularizers."""

import pickle
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import Random, application
from blocks.bricks.recurrent import BaseRecurrent, recurrent
from blocks.graph import ComputationGraph, apply_dropout, apply_noise
from blocks.utils import RNGStream

floatX = pytensor.config.floatX
N = 20000


def sample(variable):
    return pytensor.function([], variable)()


def test_equal_seeds_draw_equally_and_different_seeds_differently():
    first, second, other = RNGStream(4), RNGStream(4), RNGStream(5)
    for method in ("normal", "uniform"):
        a = sample(getattr(first, method)(size=(6,)))
        b = sample(getattr(second, method)(size=(6,)))
        c = sample(getattr(other, method)(size=(6,)))
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


def test_draws_of_one_stream_are_independent():
    stream = RNGStream(4)
    a, b = sample(stream.normal(size=(6,))), sample(stream.normal(size=(6,)))
    assert not np.allclose(a, b)
    assert len(stream.generators) == 2


def test_draws_follow_the_children_of_the_seed_sequence():
    # The seeding of PyTensor's RandomStream: models trained with it keep their samples.
    stream = RNGStream(11)
    draws = [sample(stream.normal(1.0, 2.0, size=(3,))) for _ in range(3)]
    children = np.random.SeedSequence(11).spawn(3)
    for draw, child in zip(draws, children):
        expected = np.random.default_rng(child).normal(1.0, 2.0, size=(3,))
        np.testing.assert_allclose(draw, expected)


def test_compiled_function_advances_the_generator():
    stream = RNGStream(2)
    x = stream.uniform(size=(5,))
    (generator,) = stream.generators
    assert generator.default_update is not None
    f = pytensor.function([], x)
    first, second = f(), f()
    assert not np.allclose(first, second)
    reference = np.random.default_rng(np.random.SeedSequence(2).spawn(1)[0])
    np.testing.assert_allclose(first, reference.uniform(size=(5,)))
    np.testing.assert_allclose(second, reference.uniform(size=(5,)))
    frozen = pytensor.function([], x, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())


def test_seed_restarts_the_draws():
    stream = RNGStream(3)
    f = pytensor.function([], [stream.normal(size=(2,)), stream.uniform(size=(2,))])
    first = f()
    f()
    stream.seed()
    for value, again in zip(first, f()):
        np.testing.assert_array_equal(value, again)
    stream.seed(8)
    reseeded = f()
    fresh = RNGStream(8)
    expected = sample([fresh.normal(size=(2,)), fresh.uniform(size=(2,))])
    for value, again in zip(reseeded, expected):
        np.testing.assert_array_equal(value, again)
    # Draws made after a reseed continue the new seed's sequence.
    np.testing.assert_array_equal(
        sample(stream.integers(100, size=(4,))), sample(fresh.integers(100, size=(4,))))


def test_updates_are_the_default_updates():
    stream = RNGStream(1)
    stream.normal(size=(2,))
    stream.binomial(1, 0.5)
    assert stream.updates() == [(g, g.default_update) for g in stream.generators]
    assert repr(stream) == "RNGStream(seed=1, draws=2)"


def test_reserved_and_unknown_arguments():
    stream = RNGStream(1)
    with pytest.raises(ValueError, match="'rng' is not supported"):
        stream.normal(size=(2,), rng=pytensor.tensor.random.shared_rng(seed=1))
    with pytest.raises(ValueError, match="'return_next_rng' is not supported"):
        stream.uniform(return_next_rng=True)
    with pytest.raises(AttributeError, match="no distribution 'gauss'"):
        stream.draw("gauss")
    assert not hasattr(stream, "gauss")
    assert stream.generators == []


@pytest.mark.parametrize("method, args, kwargs, mean, var", [
    ("uniform", (-1.0, 3.0), {}, 1.0, 16 / 12),
    ("normal", (2.0, 0.5), {}, 2.0, 0.25),
    ("binomial", (10, 0.3), {}, 3.0, 2.1),
    ("bernoulli", (0.2,), {}, 0.2, 0.16),
    ("integers", (0, 10), {}, 4.5, 99 / 12),
    ("categorical", ([0.5, 0.3, 0.2],), {}, 0.7, 0.61),
    ("choice", ([1.0, 5.0],), {"p": [0.75, 0.25]}, 2.0, 3.0),
    ("poisson", (3.0,), {}, 3.0, 3.0),
    ("exponential", (2.0,), {}, 2.0, 4.0),
])
def test_distribution_moments(method, args, kwargs, mean, var):
    values = sample(getattr(RNGStream(6), method)(*args, size=(N,), **kwargs))
    assert values.shape == (N,)
    # Five standard errors of the mean, and a tenth of the variance.
    assert abs(values.mean() - mean) < 5 * np.sqrt(var / N)
    assert abs(values.var() - var) < 0.1 * var


def test_distribution_dtypes_and_arguments():
    stream = RNGStream(6)
    assert stream.normal(size=(2,), dtype="float32").dtype == "float32"
    assert stream.uniform(size=(2,), dtype=floatX).dtype == floatX
    assert stream.binomial(1, 0.5, size=(2,)).dtype.startswith("int")
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2]])
    counts = sample(stream.multinomial(1000, probabilities))
    np.testing.assert_array_equal(counts.sum(axis=1), [1000, 1000])
    np.testing.assert_allclose(counts / 1000, probabilities, atol=0.06)
    without_replacement = sample(stream.choice(5, size=(5,), replace=False))
    assert sorted(without_replacement.tolist()) == [0, 1, 2, 3, 4]
    permuted = sample(stream.permutation(np.arange(6)))
    assert sorted(permuted.tolist()) == list(range(6))
    assert sample(stream.standard_normal(size=(3,))).shape == (3,)


def test_stream_pickles_after_sampling():
    stream = RNGStream(9)
    x = stream.normal(size=(3,))
    f = pytensor.function([], x)
    f()
    restored_stream, restored_x = pickle.loads(pickle.dumps((stream, x)))
    assert restored_stream.generators[0].default_update is not None
    # The restored generator continues from where the pickled one was.
    np.testing.assert_array_equal(pytensor.function([], restored_x)(), f())
    np.testing.assert_array_equal(
        sample(restored_stream.uniform(size=(2,))), sample(stream.uniform(size=(2,))))


class Noise(Random):
    @application(inputs=["x"], outputs=["y"])
    def apply(self, x):
        return x + self.theano_rng.normal(size=x.shape, dtype=x.dtype)


def test_random_brick_pickles_after_sampling():
    brick = Noise(theano_seed=12)
    x = pt.vector("x", dtype=floatX)
    y = brick.apply(x)
    f = pytensor.function([x], y)
    zeros = np.zeros(4, dtype=floatX)
    f(zeros)
    restored_brick, restored_y = pickle.loads(pickle.dumps((brick, y)))
    assert restored_brick.theano_seed == 12
    restored_x = next(v for v in ComputationGraph(restored_y).inputs if v.name == "x")
    np.testing.assert_array_equal(pytensor.function([restored_x], restored_y)(zeros), f(zeros))
    # The restored brick draws anew from its seed, as a new brick with the same seed.
    np.testing.assert_array_equal(
        restored_brick.apply(x).eval({x: zeros}),
        Noise(theano_seed=12).apply(x).eval({x: zeros}))


class NoisyWalk(BaseRecurrent, Random):
    @recurrent(sequences=[], states=["position"], outputs=["position"], contexts=[])
    def apply(self, position):
        return position + self.theano_rng.normal(size=position.shape, dtype=position.dtype)

    def get_dim(self, name):
        return 2 if name == "position" else super().get_dim(name)


def test_scan_advances_the_generator_over_steps_and_calls():
    walk = NoisyWalk(theano_seed=1)
    positions = walk.apply(n_steps=4, batch_size=1)
    f = pytensor.function([], positions)
    first, second = f(), f()
    steps = np.diff(first[:, 0], axis=0, prepend=0)
    assert len({tuple(step) for step in steps}) == 4
    assert not np.allclose(first, second)
    (generator,) = walk.theano_rng.generators
    assert walk.theano_rng.updates() == [(generator, generator.default_update)]


def test_no_future_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        brick = Noise(theano_seed=3)
        x = pt.vector("x", dtype=floatX)
        y = brick.apply(x)
        graph = ComputationGraph(y.sum())
        dropped = apply_dropout(graph, [y], 0.5, seed=2)
        noisy = apply_noise(graph, [y], 0.1, seed=2)
        function = pytensor.function([x], dropped.outputs + noisy.outputs)
        function(np.zeros(3, dtype=floatX))
        pickle.loads(pickle.dumps(brick)).apply(x)


@pytest.mark.numba
def test_generators_advance_under_numba():
    walk = NoisyWalk(theano_seed=1)
    f = pytensor.function([], [walk.apply(n_steps=3, batch_size=1),
                               RNGStream(1).uniform(size=(2,))])
    (first_walk, first_draw), (second_walk, second_draw) = f(), f()
    assert not np.allclose(first_walk, second_walk)
    assert not np.allclose(first_draw, second_draw)
