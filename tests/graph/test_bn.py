"""Batch normalization graph transformations: training graphs and population updates."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import BatchNormalization, BatchNormalizedMLP, Linear, Sequence, Tanh
from blocks.graph import (
    ComputationGraph,
    apply_batch_normalization,
    batch_normalization,
    get_batch_normalization_updates,
)
from blocks.initialization import Constant, IsotropicGaussian

RNG = np.random.default_rng(7)
EPSILON = 1e-4


def normalize(x, scale=1.0, shift=0.0):
    return (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPSILON) * scale + shift


@pytest.fixture
def chain():
    """BN -> Linear -> tanh -> BN, with random scales and shifts and population stats."""
    bn1, bn2 = BatchNormalization(input_dim=3, name="bn1"), BatchNormalization(
        input_dim=2, name="bn2")
    linear = Linear(3, 2, weights_init=IsotropicGaussian(1.0), biases_init=Constant(0.1))
    seq = Sequence([bn1, linear, Tanh(), bn2])
    seq.initialize()
    for bn in (bn1, bn2):
        for var in bn.parameters + [bn.population_mean, bn.population_stdev]:
            var.set_value(RNG.uniform(0.5, 2.0, var.get_value().shape))
    return seq, bn1, linear, bn2


def numpy_chain(x, bn1, linear, bn2, training):
    def bn(brick, h):
        scale, shift = brick.scale.get_value(), brick.shift.get_value()
        if training:
            return normalize(h, scale, shift)
        mean, stdev = brick.population_mean.get_value(), brick.population_stdev.get_value()
        return (h - mean) / stdev * scale + shift

    h = np.tanh(bn(bn1, x) @ linear.W.get_value() + linear.b.get_value())
    return bn(bn2, h)


def test_batch_normalization_context_manager_finds_nested_bricks(chain):
    seq, bn1, linear, bn2 = chain
    x_var = pt.matrix("x")
    x = RNG.standard_normal((6, 3))
    with batch_normalization(seq):
        assert bn1.training_mode and bn2.training_mode
        training = seq.apply(x_var)
    assert not bn1.training_mode and not bn2.training_mode
    np.testing.assert_allclose(training.eval({x_var: x}),
                               numpy_chain(x, bn1, linear, bn2, True), rtol=1e-10)
    mlp = BatchNormalizedMLP([Tanh(), Tanh()], [2, 3, 2])
    with batch_normalization(mlp, bn1):
        assert all(bn.training_mode for bn in mlp.batch_normalizations + [bn1])


def test_apply_batch_normalization(chain):
    seq, bn1, linear, bn2 = chain
    x_var = pt.matrix("x")
    x = RNG.standard_normal((6, 3))
    cost = seq.apply(x_var).sum()
    cg = ComputationGraph([cost])
    training = apply_batch_normalization(cg)
    expected = numpy_chain(x, bn1, linear, bn2, True).sum()
    np.testing.assert_allclose(training.outputs[0].eval({x_var: x}), expected, rtol=1e-10)
    # The original graph still runs in inference mode.
    inference = numpy_chain(x, bn1, linear, bn2, False).sum()
    np.testing.assert_allclose(cg.outputs[0].eval({x_var: x}), inference, rtol=1e-10)
    # Applying it again changes nothing: every application is already in training mode.
    again = apply_batch_normalization(training)
    np.testing.assert_allclose(again.outputs[0].eval({x_var: x}), expected, rtol=1e-10)
    # Gradients flow through the minibatch statistics.
    grads = pytensor.grad(training.outputs[0], [bn1.scale, linear.W])
    assert all(g.eval({x_var: x}).shape == p.get_value().shape
               for g, p in zip(grads, [bn1.scale, linear.W]))


def test_get_batch_normalization_updates(chain):
    seq, bn1, linear, bn2 = chain
    x_var = pt.matrix("x")
    x = RNG.standard_normal((6, 3))
    training = apply_batch_normalization(ComputationGraph([seq.apply(x_var)]))
    pairs = get_batch_normalization_updates(training)
    assert [p for p, _ in pairs] == [bn1.population_mean, bn1.population_stdev,
                                     bn2.population_mean, bn2.population_stdev]
    # The second brick's statistics are those of its training-mode input.
    h1 = normalize(x, bn1.scale.get_value(), bn1.shift.get_value())
    h2 = np.tanh(h1 @ linear.W.get_value() + linear.b.get_value())
    expected = [x.mean(0), np.sqrt(x.var(0) + EPSILON), h2.mean(0),
                np.sqrt(h2.var(0) + EPSILON)]
    for (population, estimate), value in zip(pairs, expected):
        assert estimate.ndim == population.ndim
        np.testing.assert_allclose(estimate.eval({x_var: x}), value, rtol=1e-10)
    # A moving average of the statistics.
    momentum = 0.9
    updates = [(p, momentum * p + (1 - momentum) * e) for p, e in pairs]
    old = bn1.population_mean.get_value()
    pytensor.function([x_var], [], updates=updates)(x)
    np.testing.assert_allclose(bn1.population_mean.get_value(),
                               momentum * old + (1 - momentum) * x.mean(0), rtol=1e-10)


def test_updates_mean_only_duplicates_and_errors():
    bn = BatchNormalization(input_dim=2, mean_only=True, name="bn")
    bn.initialize()
    x_var = pt.matrix("x")
    with pytest.raises(ValueError, match="no batch normalization applied in training"):
        get_batch_normalization_updates(ComputationGraph([bn.apply(x_var)]))
    with bn:
        cg = ComputationGraph([bn.apply(x_var)])
    pairs = get_batch_normalization_updates(cg)
    assert [p for p, _ in pairs] == [bn.population_mean]
    x = RNG.standard_normal((4, 2))
    np.testing.assert_allclose(pairs[0][1].eval({x_var: x}), x.mean(0))
    with bn:
        twice = ComputationGraph([bn.apply(x_var) + bn.apply(2 * x_var)])
    with pytest.raises(ValueError, match=r"'bn'.*allow_duplicates"):
        get_batch_normalization_updates(twice)
    pairs = get_batch_normalization_updates(twice, allow_duplicates=True)
    estimates = sorted(float(e.eval({x_var: x})[0]) for _, e in pairs)
    np.testing.assert_allclose(estimates, sorted([x.mean(0)[0], 2 * x.mean(0)[0]]))
