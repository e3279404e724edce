"""An MLP learns the square root of numbers between 0 and 4 (generated data).

The training and test sets are numbers drawn uniformly from [0, 4] with their square
roots as targets; an MLP with two tanh layers minimizes the squared error with Adam.
After training it prints its square roots of a few numbers and its mean absolute
error on the test set.
"""

import numpy as np
import pytensor

from blocks import backend
from blocks.examples._common import Experiment, command_line, last_records, make_parser
from blocks.examples._common import positive_int as _positive_int

NAME = "sqrt"
LOW, HIGH = 0.0, 4.0
#: Numbers whose square roots the report shows.
PROBES = (0.25, 1.0, 2.0, 3.0, 3.9)


def parser():
    """The command line of the example."""
    parser = make_parser(NAME, __doc__.splitlines()[0], num_epochs=20)
    parser.add_argument("--num-examples", type=_positive_int, default=2000,
                        help="training examples (the test set has a quarter as many)")
    parser.add_argument("--hidden-dim", type=_positive_int, default=32,
                        help="units of each of the two hidden layers")
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    return parser


def make_data(rng, num_examples):
    """Numbers uniform in [LOW, HIGH] and their square roots, as (n, 1) float32 columns.

    >>> numbers, roots = make_data(np.random.RandomState(0), 3)
    >>> numbers.shape, bool(np.allclose(roots ** 2, numbers, rtol=1e-5))
    ((3, 1), True)
    """
    numbers = rng.uniform(LOW, HIGH, size=(num_examples, 1)).astype("float32")
    return numbers, np.sqrt(numbers)


def build(args):
    """The MLP, its cost and the data streams (see :class:`~blocks.examples._common.Experiment`)."""
    import pytensor.tensor as pt

    from blocks.algorithms import Adam
    from blocks.bricks import MLP, Tanh
    from blocks.bricks.cost import AbsoluteError, SquaredError
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme, ShuffledScheme
    from blocks.initialization import Constant, IsotropicGaussian

    rng = np.random.RandomState(args.seed)
    train = dict(zip(("numbers", "roots"), make_data(rng, args.num_examples)))
    test = dict(zip(("numbers", "roots"), make_data(rng, max(1, args.num_examples // 4))))

    mlp = MLP([Tanh(), Tanh(), None], [1, args.hidden_dim, args.hidden_dim, 1],
              weights_init=IsotropicGaussian(0.3), biases_init=Constant(0), seed=args.seed)
    mlp.initialize()
    numbers = pt.matrix("numbers")
    roots = pt.matrix("roots")
    predicted = mlp.apply(numbers)
    cost = SquaredError().apply(roots, predicted)
    cost.name = "squared_error"
    absolute_error = AbsoluteError().apply(roots, predicted)
    absolute_error.name = "absolute_error"

    train_stream = DataStream(IndexableDataset(train), iteration_scheme=ShuffledScheme(
        args.num_examples, args.batch_size, rng=args.seed))
    test_size = len(test["numbers"])
    test_stream = DataStream(IndexableDataset(test),
                             iteration_scheme=SequentialScheme(test_size, 500))
    return Experiment(cost, train_stream, Adam(learning_rate=args.learning_rate),
                      evaluations=[("test", test_stream, [cost, absolute_error])],
                      extras={"numbers": numbers, "predicted": predicted})


def report(main_loop, args):
    """Print the square roots the trained MLP gives for a few numbers."""
    extras = main_loop.example_extras
    root_of = backend.function([extras["numbers"]], extras["predicted"])
    probes = np.array(PROBES, dtype=pytensor.config.floatX)[:, None]
    for number, root in zip(probes[:, 0], root_of(probes)[:, 0]):
        print(f"sqrt({number:g}) = {np.sqrt(number):.4f}, the MLP says {root:.4f}")
    error = float(last_records(main_loop)["test_absolute_error"])
    print(f"Mean absolute error on the test set: {error:.4f}")
    return {"test_absolute_error": error}


def main(argv=None):
    """Run the example from the command line; returns the exit status."""
    return command_line(NAME, parser(), build, report, argv)
