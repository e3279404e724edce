"""Sequence generators against a numpy implementation of the generation algorithm."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Tanh
from blocks.bricks.attention import SequenceContentAttention
from blocks.bricks.parallel import Fork
from blocks.bricks.recurrent import SimpleRecurrent
from blocks.bricks.sequence_generators import (
    BaseSequenceGenerator,
    FakeAttentionRecurrent,
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
    TrivialEmitter,
    TrivialFeedback,
)
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import AUXILIARY, COST, INITIAL_STATE, OUTPUT, has_roles

RNG = np.random.default_rng(7)
floatX = pytensor.config.floatX
VOCABULARY, FEEDBACK, DIM, ATTENDED, MATCH = 3, 2, 4, 3, 5


def random(*shape):
    return RNG.normal(size=shape).astype(floatX)


def make_generator(attention=False, seed=1):
    sources = ["states", "feedback"] + (["weighted_averages"] if attention else [])
    generator = SequenceGenerator(
        Readout(readout_dim=VOCABULARY, source_names=sources,
                emitter=SoftmaxEmitter(theano_seed=seed),
                feedback_brick=LookupFeedback(VOCABULARY, FEEDBACK)),
        SimpleRecurrent(dim=DIM, activation=Tanh()),
        attention=SequenceContentAttention(state_names=["states"], attended_dim=ATTENDED,
                                           match_dim=MATCH) if attention else None,
        weights_init=IsotropicGaussian(0.7), biases_init=IsotropicGaussian(0.3), seed=seed)
    generator.initialize()
    # A non-zero trainable initial state, so that the numpy reference must use it.
    [initial] = [p for p in generator.transition.transition.parameters
                 if has_roles(p, [INITIAL_STATE])]
    initial.set_value(np.random.default_rng(seed).normal(size=DIM).astype(floatX))
    return generator


def value(variable):
    return variable.get_value()


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_glimpse(attention, state, attended, attended_mask):
    preprocess = attention.attended_transformer
    match = (attended @ value(preprocess.W) + value(preprocess.b)
             + state @ value(attention.state_transformers.children[0].W))
    energies = (np.tanh(match) @ value(attention.energy_computer.children[1].W))[..., 0]
    energies = np.where(attended_mask > 0, energies, -np.inf)
    weights = np.exp(energies - energies.max(axis=0))
    weights /= weights.sum(axis=0)
    return (weights[:, :, None] * attended).sum(axis=0)


def numpy_cost_matrix(generator, outputs, mask, attended=None, attended_mask=None):
    """-log p(y_t | y_<t) of every output, by the algorithm of BaseSequenceGenerator."""
    readout, recurrent = generator.readout, generator.transition
    transition = recurrent.transition
    merge = dict(zip(readout.source_names, (value(c.W) for c in readout.merge.children)))
    table = value(readout.feedback_brick.lookup.W)
    [fork] = generator.fork.children
    [initial] = [value(p) for p in transition.parameters if has_roles(p, [INITIAL_STATE])]
    time, batch = outputs.shape
    state = np.repeat(initial[None], batch, axis=0)
    previous = np.zeros(batch, dtype=int)
    costs = np.zeros((time, batch))
    for t in range(time):
        sources = {"states": state, "feedback": table[previous]}
        if attended is not None:
            sources["weighted_averages"] = numpy_glimpse(
                recurrent.attention, state, attended, attended_mask)
        readouts = sum(sources[name] @ merge[name] for name in readout.source_names)
        probs = numpy_softmax(readouts + value(readout.post_merge.b))
        costs[t] = -np.log(probs[np.arange(batch), outputs[t]])
        inputs = table[outputs[t]] @ value(fork.W) + value(fork.b)
        if attended is not None:
            inputs = inputs + sources["weighted_averages"] @ value(
                recurrent.distribute.children[0].W)
        new = np.tanh(inputs + state @ value(transition.W))
        state = mask[t][:, None] * new + (1 - mask[t][:, None]) * state
        previous = outputs[t]
    return costs * mask


OUTPUTS = np.array([[0, 2, 1], [1, 1, 2], [2, 0, 0], [1, 2, 0]])
MASK = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=floatX)


@pytest.fixture(scope="module")
def language_model():
    generator = make_generator()
    outputs, mask = pt.lmatrix("outputs"), pt.matrix("mask")
    cost_matrix = generator.cost_matrix(outputs, mask=mask)
    cost = generator.cost(outputs, mask=mask)
    function = pytensor.function([outputs, mask], [cost_matrix, cost])
    return generator, function, cost


def test_cost_matrix_matches_numpy(language_model):
    generator, function, _ = language_model
    costs, cost = function(OUTPUTS, MASK)
    expected = numpy_cost_matrix(generator, OUTPUTS, MASK)
    assert costs.shape == (4, 3)
    np.testing.assert_allclose(costs, expected, rtol=1e-6)
    assert np.all(costs[MASK == 0] == 0)
    np.testing.assert_allclose(cost, expected.sum(axis=0).mean(), rtol=1e-6)


def test_cost_adds_per_sequence_element_and_has_the_cost_role(language_model):
    _, _, cost = language_model
    cg = ComputationGraph(cost)
    [per_element] = VariableFilter(roles=[AUXILIARY], name="per_sequence_element")(
        cg.variables)
    assert per_element.name == "sequencegenerator_cost_per_sequence_element"
    assert VariableFilter(roles=[COST])(cg.variables)
    outputs, mask = cg.inputs if cg.inputs[0].name == "outputs" else cg.inputs[::-1]
    generator = language_model[0]
    expected = numpy_cost_matrix(generator, OUTPUTS, MASK)
    np.testing.assert_allclose(
        per_element.eval({outputs: OUTPUTS, mask: MASK}), expected.sum() / MASK.sum(),
        rtol=1e-6)


def test_cost_matrix_auxiliary_states_and_final_values(language_model):
    generator = language_model[0]
    outputs = pt.lmatrix("outputs")
    cg = ComputationGraph(generator.cost_matrix(outputs))
    names = {v.tag.name for v in VariableFilter(roles=[AUXILIARY])(cg.variables)}
    assert {"states", "states_final_value"} <= names


@pytest.fixture(scope="module")
def attention_model():
    generator = make_generator(attention=True, seed=2)
    outputs, mask = pt.lmatrix("outputs"), pt.matrix("mask")
    attended, attended_mask = pt.tensor3("attended"), pt.matrix("attended_mask")
    costs = generator.cost_matrix(outputs, mask=mask, attended=attended,
                                  attended_mask=attended_mask)
    function = pytensor.function([outputs, mask, attended, attended_mask], costs)
    return generator, function, (attended, attended_mask)


ATTENDED_MASK = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 0, 0]],
                         dtype=floatX)


def test_cost_matrix_with_attention_matches_numpy(attention_model):
    generator, function, _ = attention_model
    attended = random(5, 3, ATTENDED)
    costs = function(OUTPUTS, MASK, attended, ATTENDED_MASK)
    expected = numpy_cost_matrix(generator, OUTPUTS, MASK, attended, ATTENDED_MASK)
    np.testing.assert_allclose(costs, expected, rtol=1e-6)


def test_generation_step_gradient_wrt_attended_and_states(attention_model):
    # One step of generate (no scan, so cheap to compile).
    generator = attention_model[0]
    outputs = pt.constant(np.array([1, 2]))
    glimpses = {"weighted_averages": pt.zeros((2, ATTENDED)), "weights": pt.zeros((2, 3))}

    def step_cost(attended, states):
        step = generator.generate(iterate=False, return_dict=True, outputs=outputs,
                                  states=states, attended=attended, **glimpses)
        # The emitted outputs are sampled: check what is continuous, the glimpses and
        # the probabilities the emitter samples from.
        [probs] = VariableFilter(applications=[generator.readout.emitter.probs],
                                 roles=[OUTPUT])(ComputationGraph(step["costs"]).variables)
        return (step["weighted_averages"].sum() + (step["weights"] ** 2).sum()
                + (probs * np.arange(1, VOCABULARY + 1)).sum())

    verify_grad(step_cost, [random(3, 2, ATTENDED), random(2, DIM)],
                rng=np.random.default_rng(0))


def test_generate_costs_equal_cost_matrix_of_the_samples(attention_model):
    generator, cost_function, (attended, attended_mask) = attention_model
    states, outputs, averages, weights, costs = generator.generate(
        n_steps=5, batch_size=attended.shape[1], attended=attended,
        attended_mask=attended_mask)
    cg = ComputationGraph([outputs, costs, weights])
    assert cg.updates, "the random generator of the emitter must advance"
    generate = pytensor.function([attended, attended_mask], [outputs, costs, weights],
                                 updates=cg.updates)
    source = random(5, 3, ATTENDED)
    samples, sample_costs, sample_weights = generate(source, ATTENDED_MASK)
    assert samples.shape == (5, 3) and samples.dtype == np.int64
    assert set(np.unique(samples)) <= set(range(VOCABULARY))
    np.testing.assert_allclose(
        sample_costs, cost_function(samples, np.ones((5, 3), dtype=floatX), source,
                                    ATTENDED_MASK), rtol=1e-6)
    assert sample_weights.shape == (5, 3, 5)
    np.testing.assert_array_equal(sample_weights[:, 1, 2:], 0)
    # The stream advances between calls, and the same seed gives the same samples.
    others = [generate(source, ATTENDED_MASK)[0] for _ in range(3)]
    assert any(not np.array_equal(samples, other) for other in others)


def test_sampling_is_reproducible_with_a_seed():
    def sample(seed):
        generator = make_generator(seed=seed)
        outputs = generator.generate(n_steps=6, batch_size=4, return_dict=True)["outputs"]
        return outputs.eval()

    np.testing.assert_array_equal(sample(5), sample(5))


def test_generator_interface(language_model, attention_model):
    generator = language_model[0]
    assert isinstance(generator.transition, FakeAttentionRecurrent)
    assert generator.transition.name == "with_fake_attention"
    assert generator.generate.states == ["states", "outputs"]
    assert generator.generate.outputs == ["states", "outputs", "costs"]
    assert generator.generate.contexts == []
    assert generator.fork.output_names == ["inputs"]
    assert [generator.get_dim(name) for name in ("states", "outputs")] == [DIM, 0]
    initial = generator.initial_states(3, return_dict=True)
    assert list(initial) == ["states", "outputs"]
    assert initial["outputs"].eval().tolist() == [0, 0, 0]
    attentive = attention_model[0]
    assert attentive.transition.name == "att_trans"
    assert attentive.generate.states == ["states", "outputs", "weighted_averages", "weights"]
    assert attentive.generate.contexts == ["attended", "attended_mask"]
    assert attentive.get_dim("weighted_averages") == ATTENDED


def test_trivial_emitter_and_feedback_for_continuous_outputs():
    generator = SequenceGenerator(
        Readout(readout_dim=2, source_names=["states"]),
        SimpleRecurrent(dim=3, activation=Tanh()),
        weights_init=IsotropicGaussian(0.5), biases_init=Constant(0.1))
    generator.initialize()
    assert isinstance(generator.readout.emitter, TrivialEmitter)
    assert isinstance(generator.readout.feedback_brick, TrivialFeedback)
    outputs = pt.tensor3("outputs")
    costs = generator.cost_matrix(outputs)
    np.testing.assert_array_equal(costs.eval({outputs: random(4, 2, 2)}), np.zeros((4, 2)))
    states, samples, sample_costs = generator.generate(n_steps=3, batch_size=2)
    # Trivial emission is deterministic: the outputs are the readouts of the states.
    readout = generator.readout
    W, b = value(readout.merge.children[0].W), value(readout.post_merge.b)
    states_value, samples_value = pytensor.function([], [states, samples])()
    [initial] = [value(p) for p in generator.transition.transition.parameters
                 if has_roles(p, [INITIAL_STATE])]
    previous = np.concatenate([np.repeat(initial[None, None], 2, axis=1),
                               states_value[:-1]])
    np.testing.assert_allclose(samples_value, previous @ W + b, rtol=1e-6)


def test_base_sequence_generator_with_explicit_fork():
    transition = FakeAttentionRecurrent(SimpleRecurrent(dim=3, activation=Tanh()))
    generator = BaseSequenceGenerator(
        Readout(readout_dim=VOCABULARY, source_names=["states"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(VOCABULARY, 2)),
        transition, Fork(["inputs"]), weights_init=Constant(0.1), biases_init=Constant(0))
    generator.initialize()
    assert generator.fork.input_dim == 2 and generator.fork.output_dims == [3]
    outputs = pt.lmatrix("outputs")
    # Constant weights: every readout is the same, so every output has probability 1/3.
    np.testing.assert_allclose(generator.cost_matrix(outputs).eval({outputs: OUTPUTS}),
                               np.full((4, 3), np.log(3)))


# Bad input

def test_readout_source_that_nothing_provides_is_refused():
    generator = SequenceGenerator(
        Readout(readout_dim=3, source_names=["states", "glimpse"], emitter=SoftmaxEmitter(),
                feedback_brick=LookupFeedback(3, 2)),
        SimpleRecurrent(dim=3, activation=Tanh()))
    with pytest.raises(ValueError, match=r"nothing provides the readout sources "
                                         r"\['glimpse'\].*a state \['states'\]"):
        generator.allocate()


def test_unknown_state_or_context_keywords_are_refused(language_model):
    generator = language_model[0]
    with pytest.raises(ValueError, match=r"unknown keyword arguments \['cells'\]"):
        generator.cost_matrix(pt.lmatrix(), cells=pt.matrix())
    with pytest.raises(ValueError, match=r"unknown keyword arguments \['attended'\]"):
        generator.generate(n_steps=2, batch_size=2, attended=pt.tensor3())


def test_bad_outputs_mask_and_components_are_refused(language_model):
    generator = language_model[0]
    with pytest.raises(ValueError, match="'outputs'.*expected ndim >= 2, found ndim=1"):
        generator.cost_matrix(pt.lvector())
    with pytest.raises(ValueError, match="'mask'.*expected ndim=2, found ndim=1"):
        generator.cost_matrix(pt.lmatrix(), mask=pt.vector())
    with pytest.raises(ValueError, match="'outputs'.*expected ndim=1 for readouts of ndim=2"):
        generator.readout.emitter.cost(pt.matrix(), pt.lmatrix())
    with pytest.raises(TypeError, match="must be an AbstractAttentionRecurrent"):
        BaseSequenceGenerator(generator.readout, SimpleRecurrent(dim=2, activation=Tanh()),
                              Fork(["inputs"]))
    with pytest.raises(ValueError, match="readout_dim must be given"):
        Readout(source_names=["states"])
    with pytest.raises(ValueError, match="not both"):
        Readout(readout_dim=2, source_names=["states"], merge=generator.readout.merge,
                merge_prototype=generator.readout.merge.children[0])


def test_undeclared_outputs_keep_blocks_default_names(language_model):
    # Blocks scripts select the readouts with name_regex="output".
    generator = language_model[0]
    readout = generator.readout
    outputs, mask = pt.lmatrix("outputs"), pt.matrix("mask")
    cg = ComputationGraph(generator.cost_matrix(outputs, mask=mask))
    [readouts] = VariableFilter(bricks=[readout], roles=[OUTPUT],
                                applications=[readout.readout], name_regex="output")(cg)
    assert readouts.name == "readout_readout_output_0"
    states = pt.matrix("states")
    feedback = pt.matrix("feedback")
    direct = readout.readout(states=states, feedback=feedback)
    assert direct.name == "readout_readout_output_0"
    assert readout.emitter.probs(direct).name == "softmaxemitter_probs_output_0"
    assert readout.feedback_brick.feedback(outputs).name == "lookupfeedback_feedback_output_0"
    from blocks.bricks.cost import SquaredError

    y, y_hat = pt.matrix("y"), pt.matrix("y_hat")
    assert SquaredError().cost_matrix(y, y_hat).name == "squarederror_cost_matrix_output_0"
    assert SquaredError().apply(y, y_hat).name == "squarederror_apply_cost"
