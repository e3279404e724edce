"""A sequence generator learns a known Markov chain from its samples.

Sequences are sampled from a Markov chain over three symbols whose transition
probabilities are known. A ``SequenceGenerator`` (a gated recurrent transition, a
softmax readout fed back the previous symbol) learns to generate them by minimizing
their negative log-likelihood. The report compares the transition probabilities the
model learned (its predicted distribution of the next symbol, averaged over the
positions that follow each symbol) with the true ones; they end within 0.05 of each
other with the defaults.
"""

import numpy as np

from blocks.examples._common import (
    Experiment,
    command_line,
    exact_mean,
    last_records,
    make_parser,
    positive_int,
)

NAME = "markov_chain"
#: ``TRANSITIONS[i, j]`` is the probability that symbol j follows symbol i.
TRANSITIONS = np.array([[0.7, 0.2, 0.1],
                        [0.1, 0.6, 0.3],
                        [0.4, 0.1, 0.5]])
NUM_SYMBOLS = len(TRANSITIONS)


def parser():
    """The command line of the example."""
    parser = make_parser(NAME, __doc__.splitlines()[0], num_epochs=5)
    parser.add_argument("--num-sequences", type=positive_int, default=1000,
                        help="training sequences")
    parser.add_argument("--length", type=positive_int, default=30,
                        help="symbols in each sequence")
    parser.add_argument("--dim", type=positive_int, default=8,
                        help="dimension of the recurrent state and of the symbol embeddings")
    parser.add_argument("--batch-size", type=positive_int, default=25)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    return parser


def sample_chain(rng, num_sequences, length):
    """Sequences of the chain, ``(num_sequences, length)`` int64, the first symbol uniform.

    >>> sequences = sample_chain(np.random.RandomState(0), 2, 5)
    >>> sequences.shape, sequences.dtype, bool(sequences.max() < NUM_SYMBOLS)
    ((2, 5), dtype('int64'), True)
    """
    cumulative = np.cumsum(TRANSITIONS, axis=1)
    sequences = np.empty((num_sequences, length), dtype="int64")
    sequences[:, 0] = rng.randint(NUM_SYMBOLS, size=num_sequences)
    for t in range(1, length):
        draws = rng.uniform(size=(num_sequences, 1))
        sequences[:, t] = (draws >= cumulative[sequences[:, t - 1]]).sum(axis=1)
    return np.minimum(sequences, NUM_SYMBOLS - 1)  # guards against rounding in cumsum


def entropy_rate():
    """The chain's entropy per symbol in nats, under its stationary distribution.

    The lowest cross-entropy per symbol a model can reach on long sequences.
    """
    values, vectors = np.linalg.eig(TRANSITIONS.T)
    stationary = np.real(vectors[:, np.argmin(abs(values - 1))])
    stationary /= stationary.sum()
    return float(-(stationary[:, None] * TRANSITIONS * np.log(TRANSITIONS)).sum())


class TimeMajor:
    """Batches of sequences ``(batch, time)`` -> ``(time, batch)`` for the recurrent bricks.

    A class rather than a function: checkpoints hold the stream's mapping, and safe
    loading builds the classes of blocks but calls no function it does not know.

    >>> TimeMajor()((np.zeros((2, 5)),))[0].shape
    (5, 2)
    """

    def __call__(self, batch):
        return tuple(np.ascontiguousarray(array.T) for array in batch)


def learned_transitions(probabilities, sequences):
    """The model's transition matrix: row i averages the predicted next-symbol
    distributions at the positions that follow symbol i.

    Parameters
    ----------
    probabilities : ndarray
        ``(time, batch, symbols)``: at ``[t, b]``, the predicted distribution of
        ``sequences[t, b]`` given the symbols before it.
    sequences : ndarray
        ``(time, batch)``.

    >>> sequences = np.array([[0, 1], [1, 0]])
    >>> probabilities = np.array([[[.5, .5], [.5, .5]], [[.2, .8], [.9, .1]]])
    >>> learned_transitions(probabilities, sequences).tolist()
    [[0.2, 0.8], [0.9, 0.1]]
    """
    previous = sequences[:-1].ravel()
    following = probabilities[1:].reshape(len(previous), -1)
    return np.stack([following[previous == symbol].mean(axis=0)
                     for symbol in range(probabilities.shape[-1])])


def build(args):
    """The sequence generator, its cost and the data streams."""
    import pytensor.tensor as pt

    from blocks.algorithms import Adam
    from blocks.bricks.recurrent import GatedRecurrent
    from blocks.bricks.sequence_generators import (
        LookupFeedback,
        Readout,
        SequenceGenerator,
        SoftmaxEmitter,
    )
    from blocks.datasets import (
        DataStream,
        IndexableDataset,
        Mapping,
        SequentialScheme,
        ShuffledScheme,
    )
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.roles import OUTPUT

    rng = np.random.RandomState(args.seed)
    train = sample_chain(rng, args.num_sequences, args.length)
    test = sample_chain(rng, max(1, args.num_sequences // 4), args.length)

    generator = SequenceGenerator(
        Readout(readout_dim=NUM_SYMBOLS, source_names=["states", "feedback"],
                emitter=SoftmaxEmitter(theano_seed=args.seed),
                feedback_brick=LookupFeedback(NUM_SYMBOLS, args.dim), name="readout"),
        GatedRecurrent(dim=args.dim, name="transition"),
        weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=args.seed,
        name="generator")
    generator.initialize()
    symbols = pt.lmatrix("symbols")  # (time, batch)
    cost = generator.cost(symbols)
    graph = ComputationGraph(cost)
    (per_symbol,) = VariableFilter(name="per_sequence_element")(graph.auxiliary_variables)
    cost = exact_mean(cost, symbols.shape[1], "sequence_log_loss")
    per_symbol = exact_mean(per_symbol, symbols.size, "log_loss_per_symbol")
    (readouts,) = VariableFilter(applications=[generator.readout.readout],
                                 roles=[OUTPUT])(graph.variables)
    probabilities = generator.readout.emitter.probs(readouts)

    def stream(sequences, scheme):
        return Mapping(DataStream(IndexableDataset({"symbols": sequences}),
                                  iteration_scheme=scheme), TimeMajor())

    train_stream = stream(train, ShuffledScheme(len(train), args.batch_size, rng=args.seed))
    test_stream = stream(test, SequentialScheme(len(test), 250))
    return Experiment(cost, train_stream, Adam(learning_rate=args.learning_rate),
                      monitored=[per_symbol],
                      evaluations=[("test", test_stream, [cost, per_symbol])],
                      extras={"symbols": symbols, "probabilities": probabilities})


def report(main_loop, args):
    """Print the learned and the true transition probabilities and their largest gap."""
    from blocks import backend

    extras = main_loop.example_extras
    predict = backend.function([extras["symbols"]], extras["probabilities"])
    # Fresh sequences of the chain, the same for every run.
    sequences = sample_chain(np.random.RandomState(12345), 400, args.length).T
    learned = learned_transitions(predict(sequences), sequences)
    error = float(abs(learned - TRANSITIONS).max())
    print("Transition probabilities (row: symbol, column: next symbol), learned vs true:")
    for symbol, (row, true) in enumerate(zip(learned, TRANSITIONS)):
        print(f"  {symbol}: " + "  ".join(f"{p:.3f} ({q:.2f})" for p, q in zip(row, true)))
    print(f"Largest difference: {error:.3f}")
    per_symbol = float(last_records(main_loop)["test_log_loss_per_symbol"])
    print(f"Test log-loss per symbol: {per_symbol:.4f} nats "
          f"(the chain's entropy rate, the best possible: {entropy_rate():.4f})")
    return {"transition_error": error, "learned_transitions": learned,
            "test_log_loss_per_symbol": per_symbol}


def main(argv=None):
    """Run the example from the command line; returns the exit status."""
    return command_line(NAME, parser(), build, report, argv)
