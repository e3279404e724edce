"""An MLP learns to tell two interleaved spirals apart (generated points).

The smallest complete example: points in the plane drawn on two spirals, an MLP with
two rectifier layers and a softmax output, trained with momentum SGD; it reports the
share of test points classified correctly.
"""

import numpy as np

from blocks.examples._common import (
    Experiment,
    command_line,
    last_records,
    make_parser,
    positive_int,
)

NAME = "quickstart"


def parser():
    """The command line of the example."""
    parser = make_parser(NAME, __doc__.splitlines()[0], num_epochs=30)
    parser.add_argument("--num-examples", type=positive_int, default=2000,
                        help="training points (the test set has a quarter as many)")
    parser.add_argument("--hidden-dim", type=positive_int, default=64)
    return parser


def make_data(rng, num_examples):
    """Points of two interleaved spirals in 2-D (float32), labelled 0 and 1.

    >>> points, labels = make_data(np.random.RandomState(0), 4)
    >>> points.shape, points.dtype, sorted(set(labels.tolist()) | {0, 1})
    ((4, 2), dtype('float32'), [0, 1])
    """
    labels = rng.randint(0, 2, size=num_examples)
    radius = rng.uniform(0.2, 1.0, size=num_examples)
    angle = 3 * np.pi * radius + np.pi * labels
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    points += rng.normal(scale=0.03, size=points.shape)
    return points.astype("float32"), labels.astype("int64")


def build(args):
    """The MLP, its cost and the data streams."""
    import pytensor.tensor as pt

    from blocks.algorithms import Momentum
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import MisclassificationRate
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme, ShuffledScheme
    from blocks.initialization import Constant, IsotropicGaussian

    rng = np.random.RandomState(args.seed)
    sources = ("features", "targets")
    train = dict(zip(sources, make_data(rng, args.num_examples)))
    test = dict(zip(sources, make_data(rng, max(1, args.num_examples // 4))))

    mlp = MLP([Rectifier(), Rectifier(), None], [2, args.hidden_dim, args.hidden_dim, 2],
              weights_init=IsotropicGaussian(0.2), biases_init=Constant(0), seed=args.seed)
    mlp.initialize()
    features = pt.matrix("features")
    targets = pt.lvector("targets")
    scores = mlp.apply(features)
    cost = Softmax().categorical_cross_entropy(targets, scores).mean()
    cost.name = "cross_entropy"
    error_rate = MisclassificationRate().apply(targets, scores)
    error_rate.name = "error_rate"

    train_stream = DataStream(IndexableDataset(train), iteration_scheme=ShuffledScheme(
        args.num_examples, 100, rng=args.seed))
    test_stream = DataStream(IndexableDataset(test), iteration_scheme=SequentialScheme(
        len(test["targets"]), 500))
    return Experiment(cost, train_stream, Momentum(learning_rate=0.1, momentum=0.9),
                      monitored=[error_rate],
                      evaluations=[("test", test_stream, [cost, error_rate])])


def report(main_loop, args):
    """Print the test accuracy."""
    accuracy = 1 - float(last_records(main_loop)["test_error_rate"])
    print(f"Test accuracy: {accuracy:.1%}")
    return {"test_accuracy": accuracy}


def main(argv=None):
    """Run the example from the command line; returns the exit status."""
    return command_line(NAME, parser(), build, report, argv)
