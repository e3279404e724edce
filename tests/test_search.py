"""Beam search against exhaustive search and greedy decoding on a tiny generator."""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import blocks.search
from blocks.bricks import Tanh
from blocks.bricks.attention import SequenceContentAttention
from blocks.bricks.recurrent import GatedRecurrent, SimpleRecurrent
from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.filter import VariableFilter
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import OUTPUT
from blocks.search import BeamSearch

floatX = pytensor.config.floatX
VOCABULARY, LENGTH, EOL, ATTENDED = 3, 4, 0, 2
SOURCE = np.random.default_rng(3).normal(size=(3, 1, ATTENDED)).astype(floatX)


def make_generator(readout_dim=VOCABULARY, emitter=None):
    generator = SequenceGenerator(
        Readout(readout_dim=readout_dim, source_names=["states", "feedback",
                                                       "weighted_averages"],
                emitter=emitter or SoftmaxEmitter(theano_seed=1),
                feedback_brick=LookupFeedback(readout_dim, 2)),
        SimpleRecurrent(dim=3, activation=Tanh()),
        attention=SequenceContentAttention(state_names=["states"], attended_dim=ATTENDED,
                                           match_dim=3),
        weights_init=IsotropicGaussian(1.0), biases_init=IsotropicGaussian(0.5), seed=11)
    generator.initialize()
    return generator


@pytest.fixture(scope="module")
def model():
    generator = make_generator()
    attended = pt.tensor3("attended")
    samples = generator.generate(n_steps=LENGTH, batch_size=attended.shape[1],
                                 attended=attended, return_dict=True)["outputs"]
    outputs = pt.lmatrix("outputs")
    cost_matrix = pytensor.function(
        [outputs, attended], generator.cost_matrix(outputs, attended=attended))
    return BeamSearch(samples), attended, cost_matrix


def scores(cost_matrix, sequences):
    """The costs of every step of `sequences` (a list of equal-length lists)."""
    outputs = np.array(sequences).T
    return cost_matrix(outputs, np.repeat(SOURCE, outputs.shape[1], axis=1))


def exhaustive(cost_matrix):
    """All distinct outputs of length <= LENGTH (ended by the first EOL), sorted by cost."""
    sequences = [list(s) for s in itertools.product(range(VOCABULARY), repeat=LENGTH)]
    costs = scores(cost_matrix, sequences).cumsum(axis=0)
    results = {}
    for index, sequence in enumerate(sequences):
        end = sequence.index(EOL) + 1 if EOL in sequence else LENGTH
        results[tuple(sequence[:end])] = costs[end - 1, index]
    return sorted(results.items(), key=lambda item: item[1])


def beam(search, attended, size, **kwargs):
    return search.search({attended: np.repeat(SOURCE, size, axis=1)}, EOL, LENGTH, **kwargs)


@pytest.mark.parametrize("size", [27, 40])
def test_beam_search_finds_exactly_the_best_sequences(model, size):
    search, attended, cost_matrix = model
    expected = exhaustive(cost_matrix)
    assert len(expected) == 31
    outputs, costs = beam(search, attended, size)
    best = expected[:size]
    assert [tuple(output) for output in outputs] == [sequence for sequence, _ in best]
    np.testing.assert_allclose(costs, [cost for _, cost in best], rtol=1e-6)
    assert costs == sorted(costs)


def test_beam_of_one_is_greedy_decoding(model):
    search, attended, cost_matrix = model
    prefix, total = [], 0.0
    while len(prefix) < LENGTH and EOL not in prefix:
        last = scores(cost_matrix, [prefix + [c] for c in range(VOCABULARY)])[-1]
        prefix.append(int(last.argmin()))
        total += last.min()
    [output], [cost] = beam(search, attended, 1)
    assert output == prefix
    np.testing.assert_allclose(cost, total, rtol=1e-6)


def test_search_compiles_once_and_reuses_its_functions(model, monkeypatch):
    search, attended, _ = model
    beam(search, attended, 2)
    compiled = []
    original = blocks.search.pytensor.function
    monkeypatch.setattr(blocks.search.pytensor, "function",
                        lambda *a, **k: compiled.append(a) or original(*a, **k))
    first = beam(search, attended, 3)
    second = search.search({"attended": np.repeat(SOURCE, 3, axis=1)}, EOL, LENGTH)
    assert compiled == []
    assert first == second


def test_steps_do_not_redo_the_preprocessing_of_the_attended(model, monkeypatch):
    search, attended, _ = model
    beam(search, attended, 2)
    attention = search.generator.transition.attention
    weight = attention.attended_transformer.W
    initial, fixed, logprobs, next_states = search._functions
    # The preprocessed attended is computed from the contexts, once per search...
    assert VariableFilter(applications=[attention.preprocess],
                          roles=[OUTPUT])(search.fixed_variables)
    assert weight in fixed.get_shared()
    # ...and the step functions get it instead of multiplying the attended by its weight.
    for step in (logprobs, next_states):
        assert weight not in step.get_shared()
        assert attention.attended_transformer.b not in step.get_shared()
    calls = {}

    def counted(index, function):
        def call(*args):
            calls[index] = calls.get(index, 0) + 1
            return function(*args)
        return call

    monkeypatch.setattr(search, "_functions", tuple(
        counted(index, function) for index, function in enumerate(search._functions)))
    outputs, _, _ = beam(search, attended, 2, as_arrays=True)
    assert calls[1] == 1 and calls[2] == calls[3] == len(outputs) > 1


def test_next_states_take_the_glimpses_of_the_logprobs(model):
    search, attended, _ = model
    beam(search, attended, 2)
    attention = search.generator.transition.attention
    energy_weights = [attention.energy_computer.children[1].W] + [
        transformer.W for transformer in attention.state_transformers.children]
    _, _, logprobs, next_states = search._functions
    for weight in energy_weights:
        assert weight in logprobs.get_shared()
        assert weight not in next_states.get_shared()
    # The energies are computed from the preprocessed attended: the next states read it
    # (and any other fixed input) no more.
    fixed = range(len(search.fixed_variables))
    [preprocessed] = [i for i in fixed if VariableFilter(
        applications=[attention.preprocess])([search.fixed_variables[i]])]
    graph = logprobs.maker.fgraph
    assert graph.clients[graph.inputs[preprocessed]]
    graph = next_states.maker.fgraph
    assert not any(graph.clients[graph.inputs[i]] for i in fixed)


def test_step_methods_give_the_costs_of_the_generator(model):
    # The public one-step methods take the contexts and compute the fixed part themselves.
    search, attended, cost_matrix = model
    search.compile()
    states, contexts = search.compute_initial_states_and_contexts({attended: SOURCE})
    assert list(contexts) == ["attended"]
    first = search.compute_logprobs(contexts, states)
    np.testing.assert_allclose(
        first[0], scores(cost_matrix, [[c] for c in range(VOCABULARY)])[0], rtol=1e-6)
    chosen = np.array([2], dtype=states["outputs"].dtype)
    states = search.compute_next_states(contexts, states, chosen)
    np.testing.assert_allclose(states["outputs"], chosen)
    second = search.compute_logprobs(contexts, states)
    np.testing.assert_allclose(
        second[0], scores(cost_matrix, [[2, c] for c in range(VOCABULARY)])[1], rtol=1e-6)


def test_as_arrays_and_ignore_first_eol(model):
    search, attended, cost_matrix = model
    outputs, masks, costs = beam(search, attended, 4, as_arrays=True)
    assert outputs.shape == masks.shape == costs.shape
    assert outputs.shape[1] == 4 and outputs.shape[0] <= LENGTH
    # A step's mask is 1 until (and including) the end-of-line symbol.
    for column, mask in zip(outputs.T, masks.T):
        length = int(mask.sum())
        assert np.all(mask[:length] == 1) and np.all(mask[length:] == 0)
        assert EOL not in column[:length - 1]
    lists = BeamSearch.result_to_lists((outputs, masks, costs))
    assert lists == beam(search, attended, 4)
    outputs, _ = beam(search, attended, 5, ignore_first_eol=True)
    # With the first EOL ignored, no output is the lone EOL, and the ones beginning
    # with EOL go on.
    assert [EOL] not in outputs
    assert all(len(output) > 1 for output in outputs if output[0] == EOL)


# Bad input

def test_eol_symbol_outside_the_vocabulary_is_refused(model):
    search, attended, _ = model
    for eol in (VOCABULARY, -1, 1.5):
        with pytest.raises(ValueError, match=r"eol_symbol must be an index into the "
                                             r"vocabulary of 3 outputs \(0 to 2\)"):
            search.search({attended: SOURCE}, eol, LENGTH)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        search.search({attended: SOURCE}, EOL, 0)


def test_inputs_must_be_given(model):
    search, _, _ = model
    with pytest.raises(ValueError, match=r"lacks the inputs \[attended\]"):
        search.search({}, EOL, LENGTH)
    with pytest.raises(TypeError, match="must be a dict"):
        search.search([SOURCE], EOL, LENGTH)


def test_samples_must_come_from_generate():
    generator = make_generator()
    outputs = pt.lmatrix("outputs")
    with pytest.raises(ValueError, match="output of the generate"):
        BeamSearch(generator.cost(outputs, attended=pt.tensor3()))
    with pytest.raises(ValueError, match="output of the generate"):
        BeamSearch(outputs)


def test_emitter_must_give_probabilities():
    from blocks.bricks.sequence_generators import TrivialEmitter

    generator = SequenceGenerator(
        Readout(readout_dim=2, source_names=["states"], emitter=TrivialEmitter(2)),
        SimpleRecurrent(dim=2, activation=Tanh()), weights_init=Constant(0.1),
        biases_init=Constant(0))
    samples = generator.generate(n_steps=2, batch_size=2, return_dict=True)["outputs"]
    with pytest.raises(ValueError, match="emitter with a probs application"):
        BeamSearch(samples)


# The search against the public one-step methods

def masked_attention_search():
    """A search over a GRU generator attending to a padded source of 200 elements.

    Its sizes (beam 5, state dimension 32) are ones where OpenBLAS rounds a row of a
    matrix product differently depending on its place in the batch, so that glimpses
    reordered differ in the last bits from glimpses taken again.
    """
    generator = SequenceGenerator(
        Readout(readout_dim=12, source_names=["states", "feedback", "weighted_averages"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(12, 32)),
        GatedRecurrent(dim=32),
        attention=SequenceContentAttention(state_names=["states"], attended_dim=24,
                                           match_dim=32),
        weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.1), seed=4)
    generator.initialize()
    attended, mask = pt.tensor3("attended"), pt.matrix("attended_mask")
    samples = generator.generate(n_steps=30, batch_size=attended.shape[1], attended=attended,
                                 attended_mask=mask, return_dict=True)["outputs"]
    rng = np.random.default_rng(4)
    source = np.repeat(rng.normal(size=(200, 1, 24)).astype(floatX), 5, axis=1)
    source_mask = np.repeat((np.arange(200) < 150).astype(floatX)[:, None], 5, axis=1)
    return BeamSearch(samples), {attended: source, mask: source_mask}


def step_by_step(search, values, eol_symbol, max_length):
    """What search(..., as_arrays=True) returns, computed with the public step methods."""
    search.compile()
    states, contexts = search.compute_initial_states_and_contexts(values)
    beam_size = len(states["outputs"])
    outputs = states["outputs"][None, :]
    masks = np.ones_like(outputs, dtype=floatX)
    costs = np.zeros_like(outputs, dtype=floatX)
    for i in range(max_length):
        if masks[-1].sum() == 0:
            break
        logprobs = search.compute_logprobs(contexts, states)
        next_costs = costs[-1][:, None] + logprobs * masks[-1][:, None]
        finished = masks[-1] == 0
        next_costs[finished] = np.where(np.arange(next_costs.shape[1]) == eol_symbol,
                                        next_costs[finished], np.inf)
        (rows, chosen), chosen_costs = BeamSearch._smallest(
            next_costs, beam_size, only_first_row=i == 0)
        states = search.compute_next_states(
            contexts, {name: value[rows] for name, value in states.items()},
            chosen.astype(states["outputs"].dtype))
        outputs = np.vstack([outputs[:, rows], chosen[None, :]])
        costs = np.vstack([costs[:, rows], chosen_costs[None, :]])
        masks = np.vstack([masks[:, rows], (chosen != eol_symbol)[None, :]])
    alive = np.isfinite(costs[-1])
    return outputs[1:, alive], masks[:-1, alive], costs[1:, alive] - costs[:-1, alive]


@pytest.mark.parametrize("eol_symbol", [0, pytest.param(1, marks=pytest.mark.numba)])
def test_search_is_the_public_steps_to_rounding(eol_symbol):
    # The search gives the next states the glimpses of its log-probabilities, reordered;
    # compute_next_states takes them again from the reordered states, rounded by their
    # new place in the batch: the costs agree to rounding only.
    search, values = masked_attention_search()
    expected = step_by_step(search, values, eol_symbol, 30)
    found = search.search(values, eol_symbol, 30, as_arrays=True)
    assert expected[0].shape[0] > 10
    for array, reference in zip(found, expected):
        assert array.dtype == reference.dtype and array.shape == reference.shape
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])
    np.testing.assert_allclose(found[2], expected[2], rtol=1e-10 if floatX == "float64"
                               else 1e-5, atol=0)
