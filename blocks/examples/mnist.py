"""An MLP classifies handwritten digits (scikit-learn's bundled 8x8 digits).

The 1797 8x8 grey-level digits that ship inside scikit-learn (no download) are split
once and for all into 1297 training and 500 test images; an MLP with one rectifier
hidden layer and a softmax output is trained with Adam on the cross-entropy. It reports
the test accuracy (at least 95% with the defaults).
"""

import numpy as np

from blocks.examples._common import (
    ExampleError,
    Experiment,
    command_line,
    last_records,
    make_parser,
    positive_int,
)

NAME = "mnist"
NUM_TEST = 500
#: The train/test split does not depend on --seed: every run is tested on the same digits.
SPLIT_SEED = 1234


def parser():
    """The command line of the example."""
    parser = make_parser(NAME, __doc__.splitlines()[0], num_epochs=20)
    parser.add_argument("--hidden-dim", type=positive_int, default=100)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--num-train", type=positive_int, default=None,
                        help="use only this many training images (all by default)")
    parser.add_argument("--devices", type=positive_int, default=None,
                        help="train and test data-parallel on this many JAX devices (with "
                             "--mode jax; on a CPU start Python with XLA_FLAGS="
                             "--xla_force_host_platform_device_count=N)")
    return parser


def load_digits():
    """The bundled digits as ``(train, test)`` dicts of ``features`` and ``targets``.

    Features are float32 in [0, 1], one row of 64 pixels per image; targets int64.
    Needs scikit-learn; raises :class:`~blocks.examples._common.ExampleError` without it.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ExampleError(
            "this example reads the digits bundled with scikit-learn, which is not "
            "installed: pip install 'blocks[examples]'") from None
    digits = sklearn_digits()
    features = (digits.data / 16.0).astype("float32")
    targets = digits.target.astype("int64")
    order = np.random.RandomState(SPLIT_SEED).permutation(len(targets))
    test, train = order[:NUM_TEST], order[NUM_TEST:]
    return ({"features": features[train], "targets": targets[train]},
            {"features": features[test], "targets": targets[test]})


def digit_streams(args, batch_size, feature_shape=(64,)):
    """Shuffled training batches and sequential test batches of the digits.

    Each example's features have `feature_shape`: ``(64,)`` (rows of pixels) or, for
    convolutions, ``(1, 8, 8)`` (one channel of 8x8 pixels).
    """
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme, ShuffledScheme

    train, test = load_digits()
    num_train = len(train["targets"]) if args.num_train is None else args.num_train
    test_batch_size = 250
    if getattr(args, "devices", None):
        # Batches split over the devices must all have the same size: whole batches only.
        num_train -= num_train % batch_size
        test_batch_size = 100
    train = {source: data[:num_train] for source, data in train.items()}
    for split in (train, test):
        split["features"] = split["features"].reshape((-1, *feature_shape))
    labels = {"features": ("batch", *("feature",) * len(feature_shape)),
              "targets": ("batch",)}
    train_stream = DataStream(IndexableDataset(train, axis_labels=labels),
                              iteration_scheme=ShuffledScheme(num_train, batch_size,
                                                              rng=args.seed))
    test_stream = DataStream(IndexableDataset(test, axis_labels=labels),
                             iteration_scheme=SequentialScheme(len(test["targets"]),
                                                               test_batch_size))
    return train_stream, test_stream


def classification_experiment(scores, targets, train_stream, test_stream, step_rule):
    """Cross-entropy and error rate of class `scores`, monitored on the test stream too."""
    from blocks.bricks import Softmax
    from blocks.bricks.cost import MisclassificationRate

    cost = Softmax().categorical_cross_entropy(targets, scores).mean()
    cost.name = "cross_entropy"
    error_rate = MisclassificationRate().apply(targets, scores)
    error_rate.name = "error_rate"
    return Experiment(cost, train_stream, step_rule, monitored=[error_rate],
                      evaluations=[("test", test_stream, [cost, error_rate])])


def build(args):
    """The MLP, its cost and the data streams."""
    import pytensor.tensor as pt

    from blocks.algorithms import Adam
    from blocks.bricks import MLP, Rectifier
    from blocks.initialization import Constant, IsotropicGaussian

    train_stream, test_stream = digit_streams(args, args.batch_size)
    mlp = MLP([Rectifier(), None], [64, args.hidden_dim, 10],
              weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=args.seed)
    mlp.initialize()
    features = pt.matrix("features")
    targets = pt.lvector("targets")
    return classification_experiment(mlp.apply(features), targets, train_stream,
                                     test_stream, Adam(learning_rate=args.learning_rate))


def report(main_loop, args):
    """Print the test accuracy."""
    accuracy = 1 - float(last_records(main_loop)["test_error_rate"])
    print(f"Test accuracy: {accuracy:.1%} of {NUM_TEST} digits")
    return {"test_accuracy": accuracy}


def main(argv=None):
    """Run the example from the command line; returns the exit status."""
    return command_line(NAME, parser(), build, report, argv)
