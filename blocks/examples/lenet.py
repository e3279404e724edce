"""A convolutional network classifies handwritten digits (scikit-learn's 8x8 digits).

A LeNet-style network for the same data and split as the ``mnist`` example: two
3x3 convolutions with rectifiers, each followed by 2x2 max pooling, then an MLP on the
flattened feature maps, trained with Adam on the cross-entropy. It reports the test
accuracy (at least 97% with the defaults).
"""

from blocks.examples._common import command_line, make_parser, positive_int
from blocks.examples.mnist import classification_experiment, digit_streams
from blocks.examples.mnist import report as _report

NAME = "lenet"


def parser():
    """The command line of the example."""
    parser = make_parser(NAME, __doc__.splitlines()[0], num_epochs=15)
    parser.add_argument("--num-filters", type=positive_int, nargs=2, default=(16, 32),
                        metavar=("FIRST", "SECOND"), help="filters of the two convolutions")
    parser.add_argument("--hidden-dim", type=positive_int, default=64,
                        help="units of the hidden layer of the MLP on top")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--num-train", type=positive_int, default=None,
                        help="use only this many training images (all by default)")
    return parser


def build(args):
    """The convolutional network, its cost and the data streams."""
    import pytensor.tensor as pt

    from blocks.algorithms import Adam
    from blocks.bricks import MLP, Rectifier
    from blocks.bricks.conv import (
        Convolutional,
        ConvolutionalSequence,
        Flattener,
        MaxPooling,
    )
    from blocks.initialization import Constant, IsotropicGaussian, Uniform

    train_stream, test_stream = digit_streams(args, args.batch_size, feature_shape=(1, 8, 8))
    first, second = args.num_filters
    # 'half' borders keep the 8x8 size through the convolutions; pooling halves it twice.
    convolutions = ConvolutionalSequence(
        [Convolutional((3, 3), first, border_mode="half", name="conv_0"), Rectifier(),
         MaxPooling((2, 2), name="pool_0"),
         Convolutional((3, 3), second, border_mode="half", name="conv_1"), Rectifier(),
         MaxPooling((2, 2), name="pool_1")],
        num_channels=1, image_size=(8, 8), weights_init=Uniform(width=0.4),
        biases_init=Constant(0), seed=args.seed, name="convolutions")
    convolutions.initialize()
    channels, height, width = convolutions.get_dim("output")
    top = MLP([Rectifier(), None], [channels * height * width, args.hidden_dim, 10],
              weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=args.seed,
              name="top")
    top.initialize()
    features = pt.tensor4("features")
    targets = pt.lvector("targets")
    scores = top.apply(Flattener().apply(convolutions.apply(features)))
    return classification_experiment(scores, targets, train_stream, test_stream,
                                     Adam(learning_rate=args.learning_rate))


def report(main_loop, args):
    """Print the test accuracy."""
    return _report(main_loop, args)


def main(argv=None):
    """Run the example from the command line; returns the exit status."""
    return command_line(NAME, parser(), build, report, argv)

