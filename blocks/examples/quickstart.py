"""Quick start: train a small MLP on generated data with plain gradient descent.

Run it with ``python -m blocks.examples quickstart``. It builds an MLP from bricks,
compiles one training step from the graph, and fits a noisy two-class problem.
"""

import argparse
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from blocks.bricks import MLP, Rectifier
from blocks.initialization import Constant, IsotropicGaussian


def make_data(rng, num_examples):
    """Two interleaved spirals in 2-D, labelled 0 and 1."""
    labels = rng.randint(0, 2, size=num_examples)
    radius = rng.uniform(0.2, 1.0, size=num_examples)
    angle = 3 * np.pi * radius + np.pi * labels
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    points += rng.normal(scale=0.03, size=points.shape)
    return points.astype(pytensor.config.floatX), labels.astype("int64")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m blocks.examples quickstart",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--num-epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = np.random.RandomState(args.seed)
    train_x, train_y = make_data(rng, 2000)
    test_x, test_y = make_data(rng, 500)

    mlp = MLP([Rectifier(), Rectifier(), None], [2, 64, 64, 2],
              weights_init=IsotropicGaussian(0.2), biases_init=Constant(0), seed=args.seed)
    mlp.initialize()
    x = pt.matrix("features")
    y = pt.lvector("targets")
    scores = mlp.apply(x)
    log_probabilities = pt.special.log_softmax(scores, axis=1)
    cost = -log_probabilities[pt.arange(y.shape[0]), y].mean()
    error = pt.neq(scores.argmax(axis=1), y).mean()
    parameters = [p for layer in mlp.linear_transformations for p in layer.parameters]
    gradients = pytensor.grad(cost, parameters)
    updates = [(p, p - 0.1 * g) for p, g in zip(parameters, gradients)]
    train_step = pytensor.function([x, y], cost, updates=updates)
    evaluate = pytensor.function([x, y], error)

    start = time.time()
    for epoch in range(1, args.num_epochs + 1):
        order = rng.permutation(len(train_x))
        for batch in np.array_split(order, 20):
            last_cost = train_step(train_x[batch], train_y[batch])
        if epoch % max(1, args.num_epochs // 10) == 0 or epoch == args.num_epochs:
            print(f"epoch {epoch:4d}  cost {float(last_cost):.4f}  "
                  f"test error {float(evaluate(test_x, test_y)):.3f}")
    print(f"trained in {time.time() - start:.1f} s; "
          f"test accuracy {1 - float(evaluate(test_x, test_y)):.3f}")


if __name__ == "__main__":
    main()
