"""The cached Transformer decoder as a sequence generator's transition: generation equals
re-running the whole decoder on every prefix, and beam search is exact on a tiny model."""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.bricks.transformer import (
    SinusoidalPositionalEmbedding,
    TransformerDecoder,
    TransformerTransition,
)
from blocks.initialization import IsotropicGaussian
from blocks.search import BeamSearch

VOCABULARY, LENGTH, EOL, DIM, SOURCE_LENGTH = 3, 4, 0, 4, 3
RNG = np.random.default_rng(5)
SOURCE = RNG.normal(size=(SOURCE_LENGTH, 1, DIM))
SOURCE_MASK = np.array([[1.0], [1.0], [0.0]])


def make_generator():
    decoder = TransformerDecoder(2, dim=DIM, num_heads=2, feedforward_dim=6,
                                 positional_embedding=SinusoidalPositionalEmbedding())
    generator = SequenceGenerator(
        Readout(readout_dim=VOCABULARY, source_names=["states"],
                emitter=SoftmaxEmitter(theano_seed=2),
                feedback_brick=LookupFeedback(VOCABULARY, 3)),
        TransformerTransition(decoder, max_length=LENGTH + 1),
        weights_init=IsotropicGaussian(0.8), biases_init=IsotropicGaussian(0.5), seed=4)
    generator.initialize()
    generator.transition.transition.initial_input.set_value(RNG.normal(size=DIM))
    return generator


@pytest.fixture(scope="module")
def model():
    generator = make_generator()
    attended, attended_mask = pt.tensor3("attended"), pt.matrix("attended_mask")
    contexts = dict(attended=attended, attended_mask=attended_mask)
    outputs = pt.lmatrix("outputs")
    cost_matrix = pytensor.function(
        [outputs, attended, attended_mask], generator.cost_matrix(outputs, **contexts))
    return generator, contexts, cost_matrix


def prefix_decoder(generator, contexts):
    """f(outputs) -> the whole decoder's output at the last position of the prefix
    [start input, fork(feedback(outputs))], computed without caches."""
    transition = generator.transition.transition
    outputs = pt.lmatrix("prefix")
    inputs = generator.fork.apply(generator.readout.feedback(outputs))
    start = pt.zeros((1, outputs.shape[1], DIM)) + transition.initial_input
    hidden = transition.decoder.apply(pt.concatenate([start, inputs]), contexts["attended"],
                                      attended_mask=contexts["attended_mask"])
    last = hidden[-1]
    logprobs = -pt.log(generator.readout.emitter.probs(generator.readout.readout(
        states=last)))
    return pytensor.function([outputs, contexts["attended"], contexts["attended_mask"]],
                             [last, logprobs])


def test_generation_with_the_cache_equals_the_whole_decoder_on_every_prefix(model):
    generator, contexts, _ = model
    batch = 3
    results = generator.generate(n_steps=LENGTH, batch_size=batch, return_dict=True,
                                 **contexts)
    generate = pytensor.function(list(contexts.values()),
                                 [results["states"], results["outputs"], results["costs"]])
    source = np.repeat(SOURCE, batch, axis=1) + RNG.normal(size=(SOURCE_LENGTH, batch, DIM))
    mask = np.repeat(SOURCE_MASK, batch, axis=1)
    states, samples, costs = generate(source, mask)
    rerun = prefix_decoder(generator, contexts)
    for t in range(LENGTH):
        # The state after emitting samples[t] is the decoder's output on the prefix that
        # ends with it; the cost of samples[t] comes from the prefix before it.
        last, _ = rerun(samples[:t + 1], source, mask)
        np.testing.assert_allclose(states[t], last, rtol=1e-6, atol=1e-9)
        _, logprobs = rerun(samples[:t], source, mask)
        np.testing.assert_allclose(costs[t], logprobs[np.arange(batch), samples[t]],
                                   rtol=1e-6)
    assert states.dtype == "float64"


def test_cost_matrix_decodes_all_positions_at_once(model):
    generator, contexts, cost_matrix = model
    sequences = np.array([[1, 2, 0, 1], [2, 2, 1, 0]]).T
    source = np.repeat(SOURCE, 2, axis=1)
    mask = np.repeat(SOURCE_MASK, 2, axis=1)
    costs = cost_matrix(sequences, source, mask)
    rerun = prefix_decoder(generator, contexts)
    for t in range(LENGTH):
        _, logprobs = rerun(sequences[:t], source, mask)
        np.testing.assert_allclose(costs[t], logprobs[[0, 1], sequences[t]], rtol=1e-9)
    # The whole sequence is decoded in parallel, without a loop.
    graph = cost_matrix.maker.fgraph
    assert not any(type(node.op).__name__ == "Scan" for node in graph.apply_nodes)


def exhaustive(cost_matrix):
    sequences = [list(s) for s in itertools.product(range(VOCABULARY), repeat=LENGTH)]
    outputs = np.array(sequences).T
    costs = cost_matrix(outputs, np.repeat(SOURCE, len(sequences), axis=1),
                        np.repeat(SOURCE_MASK, len(sequences), axis=1)).cumsum(axis=0)
    results = {}
    for index, sequence in enumerate(sequences):
        end = sequence.index(EOL) + 1 if EOL in sequence else LENGTH
        results[tuple(sequence[:end])] = costs[end - 1, index]
    return sorted(results.items(), key=lambda item: item[1])


@pytest.fixture(scope="module")
def search(model):
    generator, contexts, _ = model
    samples = generator.generate(n_steps=LENGTH, batch_size=contexts["attended"].shape[1],
                                 return_dict=True, **contexts)["outputs"]
    return BeamSearch(samples)


def beam(search, contexts, size):
    return search.search(
        {contexts["attended"]: np.repeat(SOURCE, size, axis=1),
         contexts["attended_mask"]: np.repeat(SOURCE_MASK, size, axis=1)}, EOL, LENGTH)


def test_beam_search_finds_exactly_the_best_sequences(model, search):
    _, contexts, cost_matrix = model
    expected = exhaustive(cost_matrix)
    assert len(expected) == 1 + 2 + 4 + 8 + 16
    for size in (5, len(expected)):
        outputs, costs = beam(search, contexts, size)
        assert [tuple(output) for output in outputs] == [s for s, _ in expected[:size]]
        np.testing.assert_allclose(costs, [cost for _, cost in expected[:size]], rtol=1e-6)


def test_beam_of_one_is_greedy_decoding_on_the_whole_decoder(model, search):
    generator, contexts, _ = model
    rerun = prefix_decoder(generator, contexts)
    prefix, total = [], 0.0
    while len(prefix) < LENGTH and EOL not in prefix:
        _, logprobs = rerun(np.array(prefix, dtype="int64").reshape(-1, 1), SOURCE,
                            SOURCE_MASK)
        prefix.append(int(logprobs[0].argmin()))
        total += logprobs[0].min()
    [output], [cost] = beam(search, contexts, 1)
    assert output == prefix
    np.testing.assert_allclose(cost, total, rtol=1e-6)


def test_beam_search_compiles_for_jax(model):
    # The cache is written without slices of symbolic bounds, which JAX refuses.
    pytest.importorskip("jax")
    generator, contexts, cost_matrix = model
    samples = generator.generate(n_steps=LENGTH, batch_size=contexts["attended"].shape[1],
                                 return_dict=True, **contexts)["outputs"]
    outputs, costs = beam(BeamSearch(samples, mode="JAX"), contexts, 5)
    expected = exhaustive(cost_matrix)[:5]
    assert [tuple(output) for output in outputs] == [s for s, _ in expected]
    np.testing.assert_allclose(costs, [cost for _, cost in expected], rtol=1e-5)


# Bad input

def test_cache_of_another_batch_size():
    transition = make_generator().transition.transition
    inputs = pt.tensor(shape=(None, 3, DIM))
    attended = pt.tensor(shape=(None, 3, DIM))
    cache = pt.tensor(shape=(2, LENGTH + 1, DIM))
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'self_attention'.*'key_cache' "
                                         r"has batch size 2 \(axis 0\) but 'queries' has "
                                         r"batch size 3"):
        transition.apply(inputs, attended=attended, key_cache_0=cache)


def test_initial_states_need_the_attended():
    transition = make_generator().transition.transition
    with pytest.raises(ValueError, match=r"TransformerTransition 'transformertransition'.*"
                                         r"needs the context 'attended'"):
        transition.initial_states(2)


def test_max_length():
    decoder = TransformerDecoder(1, dim=DIM, num_heads=2, feedforward_dim=6)
    with pytest.raises(ValueError, match=r"^TransformerTransition 'transformertransition': "
                                         r"max_length must be an integer >= 2 .*got 1$"):
        TransformerTransition(decoder, max_length=1)
    transition = TransformerTransition(decoder, name="transition")
    with pytest.raises(TypeError, match=r"^TransformerTransition 'transition': max_length "
                                        r"must be an integer >= 2 .*got 4.0$"):
        transition.max_length = 4.0
    with pytest.raises(ValueError, match=r"apply_cached\(\) expects the caches"):
        decoder.apply_cached(pt.tensor3(), 0, pt.tensor3(), key_cache_0=pt.tensor3())
