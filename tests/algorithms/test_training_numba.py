"""Training a small regression from a shuffled stream, compiled with the default (Numba) mode.

The graph is kept small: every distinct op costs a Numba compilation on an empty cache.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import GradientDescent, Momentum
from blocks.bricks import Linear
from blocks.datasets import DataStream, IndexableDataset, ShuffledScheme
from blocks.initialization import IsotropicGaussian


def train(theano_func_kwargs=None, epochs=3):
    rng = np.random.RandomState(0)
    features = rng.randn(30, 4)
    targets = features @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 0.3
    stream = DataStream(IndexableDataset({"features": features, "targets": targets}),
                        iteration_scheme=ShuffledScheme(30, batch_size=8, rng=1))
    linear = Linear(input_dim=4, output_dim=1, weights_init=IsotropicGaussian(0.1),
                    biases_init=IsotropicGaussian(0.1), seed=2)
    linear.initialize()
    x, y = pt.matrix("features"), pt.matrix("targets")
    cost = pt.sqr(linear.apply(x) - y).mean()
    algorithm = GradientDescent(
        cost=cost, parameters=[linear.W, linear.b],
        step_rule=Momentum(learning_rate=0.05, momentum=0.5),
        theano_func_kwargs=theano_func_kwargs)
    algorithm.initialize()
    evaluate = pytensor.function([x, y], cost, mode="FAST_COMPILE")
    costs = [evaluate(features, targets)]
    for _ in range(epochs):
        for batch in stream.get_epoch_iterator(as_dict=True):
            algorithm.process_batch(batch)
        costs.append(evaluate(features, targets))
    return algorithm, [linear.W.get_value(), linear.b.get_value()], costs


@pytest.mark.numba
def test_numba_training_matches_fast_compile():
    algorithm, parameters, costs = train()
    assert "Numba" in type(algorithm._function.maker.linker).__name__
    reference, reference_parameters, reference_costs = train({"mode": "FAST_COMPILE"})
    assert "Numba" not in type(reference._function.maker.linker).__name__
    for value, expected in zip(parameters, reference_parameters):
        np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(costs, reference_costs, rtol=1e-9)
    assert costs[-1] < 0.1 * costs[0]
