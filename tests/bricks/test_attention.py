"""Attention bricks against numpy references: weights, glimpses, attention-equipped RNNs."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Initializable, Tanh
from blocks.bricks.attention import (
    AttentionRecurrent,
    GenericSequenceAttention,
    SequenceContentAttention,
    ShallowEnergyComputer,
)
from blocks.bricks.recurrent import BaseRecurrent, GatedRecurrent, SimpleRecurrent, recurrent
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import INITIAL_STATE, has_roles

RNG = np.random.default_rng(42)
floatX = pytensor.config.floatX


def random(*shape):
    return RNG.normal(size=shape).astype(floatX)


def numpy_masked_softmax(energies, mask):
    """Softmax over axis 0 where mask is 1; masked entries and empty columns get 0."""
    if mask is None:
        mask = np.ones_like(energies)
    safe = np.where(mask > 0, energies, -np.inf)
    top = safe.max(axis=0, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    unnormalized = np.where(mask > 0, np.exp(safe - top), 0)
    total = unnormalized.sum(axis=0, keepdims=True)
    return unnormalized / np.where(total == 0, 1, total)


def numpy_content_attention(attention, states, attended, mask):
    """SequenceContentAttention in numpy, from the brick's parameter values."""
    preprocess = attention.attended_transformer
    match = attended @ preprocess.W.get_value() + preprocess.b.get_value()
    for name, transform in zip(attention.state_names, attention.state_transformers.children):
        match = match + states[name] @ transform.W.get_value()
    energies = (np.tanh(match) @ attention.energy_computer.children[1].W.get_value())[..., 0]
    weights = numpy_masked_softmax(energies, mask)
    return (weights[:, :, None] * attended).sum(axis=0), weights.T


def make_attention(**kwargs):
    attention = SequenceContentAttention(
        state_names=["states"], state_dims=[3], attended_dim=4, match_dim=5,
        weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.5), **kwargs)
    attention.initialize()
    return attention


# GenericSequenceAttention

@pytest.fixture(scope="module")
def generic_functions():
    attention = GenericSequenceAttention(state_names=["s"], state_dims=[1], attended_dim=2)
    energies, mask, attended = pt.matrix("energies"), pt.matrix("mask"), pt.tensor3("att")
    weights = attention.compute_weights(energies, mask)
    unmasked = attention.compute_weights(energies, None)
    averages = attention.compute_weighted_averages(weights, attended)
    return (pytensor.function([energies, mask], weights),
            pytensor.function([energies], unmasked),
            pytensor.function([energies, mask, attended], averages))


def test_compute_weights_matches_numpy_with_and_without_mask(generic_functions):
    masked, unmasked, _ = generic_functions
    energies = random(5, 3) * 3
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=floatX)
    weights = masked(energies, mask)
    np.testing.assert_allclose(weights, numpy_masked_softmax(energies, mask), rtol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(unmasked(energies), numpy_masked_softmax(energies, None),
                               rtol=1e-6)


def test_masked_positions_get_exactly_zero_weight_even_with_huge_energies(generic_functions):
    masked, _, _ = generic_functions
    energies = np.array([[0.0, 1.0], [2.0, 1e4], [1e4, -1e4]], dtype=floatX)
    mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=floatX)
    weights = masked(energies, mask)
    assert np.all(np.isfinite(weights))
    assert weights[2, 0] == 0 and weights[1, 1] == 0 and weights[2, 1] == 0
    np.testing.assert_allclose(weights[:, 1], [1, 0, 0])
    # A column that is entirely padding gets no weight at all (not NaN).
    weights = masked(energies, np.array([[1, 0], [1, 0], [0, 0]], dtype=floatX))
    np.testing.assert_array_equal(weights[:, 1], 0)


def test_compute_weighted_averages_matches_numpy(generic_functions):
    masked, _, averages = generic_functions
    energies, attended = random(4, 2), random(4, 2, 3)
    mask = np.array([[1, 1], [1, 1], [0, 1], [0, 1]], dtype=floatX)
    weights = masked(energies, mask)
    np.testing.assert_allclose(averages(energies, mask, attended),
                               np.einsum("tb,tbd->bd", weights, attended), rtol=1e-6)


# SequenceContentAttention

@pytest.fixture(scope="module")
def content_attention():
    attention = make_attention()
    attended, states, mask = pt.tensor3("attended"), pt.matrix("states"), pt.matrix("mask")
    glimpses = attention.take_glimpses(attended, attended_mask=mask, states=states)
    preprocessed = attention.preprocess(attended)
    with_preprocessed = attention.take_glimpses(
        attended, preprocessed_attended=preprocessed, attended_mask=mask, states=states)
    function = pytensor.function([attended, states, mask], list(glimpses) + list(
        with_preprocessed))
    return attention, function


def test_take_glimpses_matches_numpy_with_mask(content_attention):
    attention, function = content_attention
    attended, states = random(6, 3, 4), random(3, 3)
    mask = np.ones((6, 3), dtype=floatX)
    mask[4:, 1] = 0
    mask[1:, 2] = 0
    averages, weights, averages2, weights2 = function(attended, states, mask)
    expected_averages, expected_weights = numpy_content_attention(
        attention, {"states": states}, attended, mask)
    assert weights.shape == (3, 6) and averages.shape == (3, 4)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(averages, expected_averages, rtol=1e-6, atol=1e-12)
    assert np.all(weights[1, 4:] == 0) and np.all(weights[2, 1:] == 0)
    # Giving the preprocessed attended computes the same glimpses.
    np.testing.assert_allclose(averages2, averages)
    np.testing.assert_allclose(weights2, weights)


def test_take_glimpses_gradient():
    attention = make_attention()
    states = random(2, 3)

    def glimpse(attended):
        averages, weights = attention.take_glimpses(attended, states=pt.constant(states))
        return averages.sum() + (weights ** 2).sum()

    verify_grad(glimpse, [random(3, 2, 4)], rng=np.random.default_rng(0))


def test_content_attention_dims_children_and_initial_glimpses():
    attention = make_attention()
    assert [attention.get_dim(name) for name in
            ("states", "attended", "preprocessed_attended", "attended_mask",
             "weighted_averages", "weights")] == [3, 4, 5, 0, 4, 0]
    assert [child.name for child in attention.children] == [
        "state_trans", "preprocess", "energy_comp"]
    assert attention.take_glimpses.inputs == [
        "attended", "preprocessed_attended", "attended_mask", "states"]
    attended = pt.tensor3("attended")
    averages, weights = attention.initial_glimpses(2, attended)
    value = random(7, 2, 4)
    assert averages.eval().shape == (2, 4)
    assert weights.eval({attended: value}).shape == (2, 7)


def test_state_dims_can_be_pushed_later():
    attention = SequenceContentAttention(state_names=["a", "b"], attended_dim=2, match_dim=3,
                                         weights_init=Constant(1), biases_init=Constant(0))
    with pytest.raises(ValueError, match="state_dims"):
        attention.allocate()
    attention.state_dims = [4, 5]
    attention.initialize()
    assert [t.W.get_value().shape for t in attention.state_transformers.children] == [
        (4, 3), (5, 3)]


def test_shallow_energy_computer_matches_numpy_and_takes_a_bias():
    computer = ShallowEnergyComputer(input_dim=3, output_dim=1,
                                     weights_init=IsotropicGaussian(1.0))
    computer.initialize()
    assert computer.input_dim == 3 and computer.output_dim == 1
    assert computer.children[1].use_bias is False
    x, value = pt.matrix("x"), random(2, 3)
    W = computer.children[1].W.get_value()
    np.testing.assert_allclose(computer.apply(x).eval({x: value}), np.tanh(value) @ W)
    biased = ShallowEnergyComputer(input_dim=3, output_dim=1, use_bias=True,
                                   weights_init=Constant(1), biases_init=Constant(2))
    biased.initialize()
    np.testing.assert_allclose(biased.apply(x).eval({x: value}),
                               np.tanh(value).sum(axis=1, keepdims=True) + 2)


# Bad input

def test_attended_of_the_wrong_rank_is_refused():
    attention = make_attention()
    states = pt.matrix("states")
    with pytest.raises(ValueError, match=r"SequenceContentAttention.*'attended'.*expected "
                                         r"ndim=3, found ndim=2"):
        attention.take_glimpses(pt.matrix("attended"), states=states)
    with pytest.raises(ValueError, match="'attended'.*found ndim=4"):
        attention.preprocess(pt.tensor4("attended"))
    with pytest.raises(ValueError, match="'attended_mask'.*expected ndim=2, found ndim=3"):
        attention.take_glimpses(pt.tensor3(), attended_mask=pt.tensor3(), states=states)
    with pytest.raises(ValueError, match=r"needs the states \['states'\]"):
        attention.take_glimpses(pt.tensor3(), other=states)


def test_attention_needs_state_names_at_construction():
    with pytest.raises(ValueError, match="state_names must be given"):
        SequenceContentAttention(attended_dim=2, match_dim=3)


def test_attention_state_unknown_to_the_transition_is_refused():
    attention = SequenceContentAttention(state_names=["cells"], attended_dim=2, match_dim=3)
    with pytest.raises(ValueError, match=r"states \['cells'\], unknown to the transition "
                                         r"SimpleRecurrent .*its states: \['states'\]"):
        AttentionRecurrent(SimpleRecurrent(dim=2, activation=Tanh()), attention)
    with pytest.raises(ValueError, match="has only"):
        AttentionRecurrent(SimpleRecurrent(dim=2, activation=Tanh()),
                           make_attention(), add_contexts=False)


# AttentionRecurrent

def numpy_attention_recurrent(recurrent, inputs, mask, attended, attended_mask):
    """Run AttentionRecurrent(SimpleRecurrent, SequenceContentAttention) in numpy."""
    transition, attention = recurrent.transition, recurrent.attention
    W = transition.W.get_value()
    [initial] = [p.get_value() for p in transition.parameters if has_roles(p, [INITIAL_STATE])]
    W_distribute = recurrent.distribute.children[0].W.get_value()
    state = np.repeat(initial[None], inputs.shape[1], axis=0)
    all_states, all_averages, all_weights = [], [], []
    for x, m in zip(inputs, mask):
        averages, weights = numpy_content_attention(
            attention, {"states": state}, attended, attended_mask)
        new = np.tanh(x + averages @ W_distribute + state @ W)
        state = m[:, None] * new + (1 - m[:, None]) * state
        all_states.append(state)
        all_averages.append(averages)
        all_weights.append(weights)
    return np.array(all_states), np.array(all_averages), np.array(all_weights)


@pytest.fixture(scope="module")
def attention_recurrent():
    transition = SimpleRecurrent(dim=3, activation=Tanh(), name="transition")
    recurrent = AttentionRecurrent(transition, make_attention(), name="attrec",
                                   weights_init=IsotropicGaussian(0.5),
                                   biases_init=IsotropicGaussian(0.5))
    recurrent.initialize()
    transition.parameters[1].set_value(random(3))  # a non-zero trainable initial state
    return recurrent


def test_attention_recurrent_matches_numpy(attention_recurrent):
    recurrent = attention_recurrent
    inputs, mask = pt.tensor3("inputs"), pt.matrix("mask")
    attended, attended_mask = pt.tensor3("attended"), pt.matrix("attended_mask")
    outputs = recurrent.apply(inputs=inputs, mask=mask, attended=attended,
                              attended_mask=attended_mask)
    values = [random(4, 2, 3), np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=floatX),
              random(5, 2, 4), np.array([[1, 1], [1, 1], [1, 0], [1, 0], [0, 0]],
                                        dtype=floatX)]
    results = pytensor.function([inputs, mask, attended, attended_mask], outputs)(*values)
    expected = numpy_attention_recurrent(recurrent, *values)
    for result, reference in zip(results, expected):
        np.testing.assert_allclose(result, reference, rtol=1e-6, atol=1e-12)


def test_attention_recurrent_interface(attention_recurrent):
    recurrent = attention_recurrent
    assert recurrent.apply.sequences == ["inputs", "mask"]
    assert recurrent.apply.states == ["states", "weighted_averages", "weights"]
    assert recurrent.apply.contexts == ["attended", "attended_mask"]
    assert recurrent.do_apply.contexts == ["attended", "attended_mask",
                                           "preprocessed_attended"]
    assert recurrent.take_glimpses.outputs == ["weighted_averages", "weights"]
    assert recurrent.compute_states.outputs == ["states"]
    assert recurrent.previous_glimpses_needed == []
    assert [recurrent.get_dim(name) for name in (
        "states", "attended", "attended_mask", "weighted_averages", "weights",
        "preprocessed_attended", "inputs")] == [3, 4, 0, 4, 0, 5, 3]
    attended = pt.tensor3("attended")
    states = recurrent.initial_states(2, attended=attended, return_dict=True)
    assert list(states) == ["states", "weighted_averages", "weights"]
    assert [v.eval({attended: random(5, 2, 4)}, on_unused_input="ignore").shape
            for v in states.values()] == [(2, 3), (2, 4), (2, 5)]


def test_take_glimpses_then_compute_states_is_one_step(attention_recurrent):
    recurrent = attention_recurrent
    x, state, attended = pt.matrix("x"), pt.matrix("state"), pt.tensor3("attended")
    glimpses = recurrent.take_glimpses(states=state, attended=attended, return_dict=True)
    [new_state] = recurrent.compute_states(inputs=x, states=state, attended=attended,
                                           return_list=True, **glimpses)
    step = recurrent.apply(inputs=x, states=state, attended=attended, iterate=False,
                           weighted_averages=pt.zeros((2, 4)), weights=pt.zeros((2, 5)))
    values = {x: random(2, 3), state: random(2, 3), attended: random(5, 2, 4)}
    function = pytensor.function(list(values), [new_state, glimpses["weights"], step[0],
                                                 step[2]])
    new_state, weights, step_state, step_weights = function(*values.values())
    np.testing.assert_allclose(new_state, step_state, rtol=1e-6)
    np.testing.assert_allclose(weights, step_weights)


def test_attention_recurrent_with_renamed_contexts_and_gated_transition():
    gated = GatedRecurrent(dim=2)
    attention = SequenceContentAttention(state_names=["states"], attended_dim=3, match_dim=2)
    recurrent = AttentionRecurrent(gated, attention, attended_name="source",
                                   attended_mask_name="source_mask",
                                   weights_init=IsotropicGaussian(0.3),
                                   biases_init=Constant(0))
    recurrent.initialize()
    assert recurrent.apply.contexts == ["source", "source_mask"]
    assert recurrent.distribute.target_names == ["inputs", "gate_inputs"]
    assert [child.output_dim for child in recurrent.distribute.children] == [2, 4]
    inputs, gates, source = pt.tensor3(), pt.tensor3(), pt.tensor3()
    states, averages, weights = recurrent.apply(inputs=inputs, gate_inputs=gates,
                                                source=source)
    values = {inputs: random(3, 2, 2), gates: random(3, 2, 4), source: random(4, 2, 3)}
    assert states.eval(values).shape == (3, 2, 2)
    np.testing.assert_allclose(weights.eval(values).sum(axis=-1), 1)


class ContextualRecurrent(BaseRecurrent, Initializable):
    """A transition with two contexts of its own: ``source`` and ``source_mask``."""

    @recurrent(sequences=["inputs", "mask"], states=["states"], outputs=["states"],
               contexts=["source", "source_mask"])
    def apply(self, inputs, states, mask=None, source=None, source_mask=None):
        # The contexts are for the attention; the step sees them but does not use them.
        return pt.tanh(inputs + states)

    def get_dim(self, name):
        return {"inputs": 2, "states": 2, "source": 3, "source_mask": 0, "mask": 0}[name]


def test_attention_recurrent_can_use_the_contexts_of_the_transition():
    attention = SequenceContentAttention(state_names=["states"], attended_dim=3, match_dim=2)
    recurrent = AttentionRecurrent(ContextualRecurrent(), attention, add_contexts=False,
                                   weights_init=Constant(0), biases_init=Constant(0))
    recurrent.initialize()
    assert recurrent.attended_name == "source"
    assert recurrent.attended_mask_name == "source_mask"
    assert recurrent.apply.contexts == ["source", "source_mask"]
    inputs, source, source_mask = pt.tensor3(), pt.tensor3(), pt.matrix()
    states, averages, weights = recurrent.apply(inputs=inputs, source=source,
                                                source_mask=source_mask)
    values = {inputs: random(3, 2, 2), source: random(4, 2, 3),
              source_mask: np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=floatX)}
    # Zero weights: equal energies, so the weights are uniform over the unmasked steps.
    np.testing.assert_allclose(weights.eval(values)[0], [[1 / 3] * 3 + [0], [.5, .5, 0, 0]])


def test_attention_recurrent_apply_needs_the_attended(attention_recurrent):
    with pytest.raises(ValueError, match="needs the attended 'attended'"):
        attention_recurrent.apply(inputs=pt.tensor3())


@pytest.mark.numba
def test_take_glimpses_under_numba():
    attention = make_attention()
    attended, states, mask = pt.tensor3("attended"), pt.matrix("states"), pt.matrix("mask")
    function = pytensor.function(
        [attended, states, mask],
        attention.take_glimpses(attended, attended_mask=mask, states=states))
    values = random(6, 3, 4), random(3, 3)
    mask_value = np.ones((6, 3), dtype=floatX)
    mask_value[3:, 1] = 0
    averages, weights = function(*values, mask_value)
    expected = numpy_content_attention(attention, {"states": values[1]}, values[0],
                                       mask_value)
    np.testing.assert_allclose(averages, expected[0], rtol=1e-6)
    np.testing.assert_allclose(weights, expected[1], rtol=1e-6, atol=1e-12)
    assert np.all(weights[1, 3:] == 0)


class AttendedInitialState(SimpleRecurrent):
    """A transition whose initial state is the mean of the attended sequence (Blocks-era
    encoder-decoders did this): it needs initial_states to receive the attended."""

    def initial_states(self, batch_size, *args, **kwargs):
        return kwargs["attended"].mean(axis=0)


def test_attention_recurrent_hands_all_kwargs_to_the_transition_initial_states():
    transition = AttendedInitialState(dim=4, activation=Tanh(), name="transition")
    attention = SequenceContentAttention(state_names=["states"], state_dims=[4],
                                         attended_dim=4, match_dim=5)
    recurrent = AttentionRecurrent(transition, attention,
                                   weights_init=IsotropicGaussian(0.5),
                                   biases_init=Constant(0))
    recurrent.initialize()
    attended = pt.tensor3("attended")
    states = recurrent.initial_states(2, attended=attended, return_dict=True)
    value = random(5, 2, 4)
    np.testing.assert_allclose(
        states["states"].eval({attended: value}, on_unused_input="ignore"),
        value.mean(axis=0), rtol=1e-6)
    inputs = pt.tensor3("inputs")
    first = recurrent.apply(inputs=inputs, attended=attended, return_initial_states=True)[0]
    np.testing.assert_allclose(
        first[0].eval({inputs: random(3, 2, 4), attended: value}, on_unused_input="ignore"),
        value.mean(axis=0), rtol=1e-6)
