"""The fused attention decoder: when AttentionRecurrent uses it, its values and gradients
against numpy and against the scan loop, its errors."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Linear, Rectifier
from blocks.bricks.attention import (
    AttentionRecurrent,
    SequenceContentAttention,
    ShallowEnergyComputer,
)
from blocks.bricks.base import application
from blocks.bricks.parallel import Distribute
from blocks.bricks.recurrent import GatedRecurrent, SimpleRecurrent
from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.initialization import IsotropicGaussian
from blocks.model import Model
from blocks.ops.attention.op import FusedAttentionGRU
from tests.bricks.recurrent.recurrent_reference import gru_loop
from tests.bricks.test_attention import numpy_masked_softmax
from tests.graph_helpers import op_names

DIM, ATTENDED_DIM, MATCH_DIM = 3, 4, 5
NAMES = ("inputs", "gate_inputs", "attended", "mask", "attended_mask")


def decoder(distribute_bias=False, state_bias=False, transition=None, energy_computer=None,
            cls=AttentionRecurrent, state_transformer=None):
    attention = SequenceContentAttention(
        state_names=["states"], attended_dim=ATTENDED_DIM, match_dim=MATCH_DIM,
        state_transformer=state_transformer or Linear(use_bias=state_bias),
        energy_computer=energy_computer)
    distribute = None
    if distribute_bias:
        distribute = Distribute(["inputs", "gate_inputs"], "weighted_averages",
                                prototype=Linear(use_bias=True))
    brick = cls(transition or GatedRecurrent(dim=DIM), attention, distribute=distribute,
                weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.5))
    brick.initialize()
    if isinstance(brick.transition, GatedRecurrent):
        brick.transition.initial_state.set_value(
            np.random.default_rng(3).normal(size=DIM).astype(pytensor.config.floatX))
    return brick


def random_values(seed=0, n_steps=4, batch=3, length=5, dtype=pytensor.config.floatX):
    rng = np.random.default_rng(seed)
    mask = (rng.random((n_steps, batch)) > 0.3).astype(dtype)
    attended_mask = (rng.random((length, batch)) > 0.3).astype(dtype)
    attended_mask[0] = 1
    attended_mask[:, 0] = 0  # an example with nothing to attend to
    return {
        "inputs": rng.normal(size=(n_steps, batch, DIM)).astype(dtype),
        "gate_inputs": rng.normal(size=(n_steps, batch, 2 * DIM)).astype(dtype),
        "attended": rng.normal(size=(length, batch, ATTENDED_DIM)).astype(dtype),
        "mask": mask, "attended_mask": attended_mask,
    }


def symbolic(values):
    return {name: pt.tensor(name, dtype=value.dtype, shape=(None,) * value.ndim)
            for name, value in values.items()}


def value(brick):
    return brick.W.get_value(), (brick.b.get_value() if brick.use_bias else 0)


def numpy_decoder(brick, inputs, gate_inputs, attended, mask=None, attended_mask=None,
                  reverse=False):
    """AttentionRecurrent(GatedRecurrent, SequenceContentAttention) in numpy: states,
    weighted averages and weights; a step's glimpses come from the state before it."""
    transition, attention = brick.transition, brick.attention
    W_pre, b_pre = value(attention.attended_transformer)
    W_state, b_state = value(attention.state_transformers.children[0])
    w_energy = attention.energy_computer.children[1].W.get_value()
    (W_in, b_in), (W_gates, b_gates) = (value(child) for child in brick.distribute.children)
    U, Ug = transition.state_to_state.get_value(), transition.state_to_gates.get_value()
    state = np.repeat(transition.initial_state.get_value()[None], inputs.shape[1], axis=0)
    preprocessed = attended @ W_pre + b_pre
    steps = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
    mask = np.ones(inputs.shape[:2]) if mask is None else mask
    results = []
    for t in steps:
        energies = (np.tanh(preprocessed + state @ W_state + b_state) @ w_energy)[..., 0]
        weights = numpy_masked_softmax(energies, attended_mask)
        averages = (weights[:, :, None] * attended).sum(axis=0)
        state = gru_loop(inputs[t:t + 1] + averages @ W_in + b_in,
                         gate_inputs[t:t + 1] + averages @ W_gates + b_gates,
                         state, U, Ug, mask[t:t + 1])[0]
        results.append((state, averages, weights.T))
    return [np.array(r) for r in zip(*results)]


class DoubledStates(AttentionRecurrent):
    """Redefines a part of the step: the loop must run it, so it is a scan."""

    @application
    def compute_states(self, **kwargs):
        return [2 * s for s in super().compute_states(return_list=True, **kwargs)]

    @compute_states.property("outputs")
    def compute_states_outputs(self):
        return self._state_names


def test_attention_recurrent_uses_the_fused_op_when_it_can():
    values = symbolic(random_values())
    for brick in (decoder(), decoder(distribute_bias=True, state_bias=True)):
        names = op_names(brick.apply(**values))
        assert "FusedAttentionGRU" in names and "Scan" not in names
    unfused, unfused_transition = decoder(), decoder()
    unfused.fused = False
    unfused_transition.transition.fused = False

    class OtherLinear(Linear):
        pass

    cases = [
        unfused, unfused_transition, decoder(cls=DoubledStates),
        decoder(energy_computer=ShallowEnergyComputer(use_bias=True)),
        decoder(transition=GatedRecurrent(dim=DIM, activation=Rectifier())),
        decoder(state_transformer=OtherLinear(use_bias=False)),
    ]
    for brick in cases:
        names = op_names(brick.apply(**values))
        assert "FusedAttentionGRU" not in names and "Scan" in names
    simple = decoder(transition=SimpleRecurrent(dim=DIM, activation=Rectifier()))
    assert "Scan" in op_names(simple.apply(**{k: v for k, v in values.items()
                                              if k != "gate_inputs"}))


def by_name(cost):
    """The parameters of `cost`, in the order of their hierarchical names."""
    return [p for _, p in sorted(Model(cost).get_parameter_dict().items())]


def compiled(brick, values, reverse=False):
    """The outputs, and the gradients of a cost of them with respect to the parameters and
    the inputs (sorted by name), as one function of `values`."""
    variables = symbolic(values)
    states, averages, weights = brick.apply(reverse=reverse, **variables)
    cost = ((states ** 2).sum() + (averages * np.arange(ATTENDED_DIM)).sum()
            + (weights ** 2).sum())
    parameters = by_name(cost)
    wrt = parameters + [variables[name] for name in ("inputs", "gate_inputs", "attended",
                                                     "mask") if name in variables]
    gradients = pytensor.grad(cost, wrt)
    function = pytensor.function(list(variables.values()), [states, averages, weights]
                                 + gradients, on_unused_input="ignore")
    return function(*values.values())


@pytest.mark.parametrize("case", [
    {}, {"reverse": True}, {"biases": True}, {"no_masks": True},
    {"batch": 150},  # weight gradients summed over two chunks of steps
])
def test_fused_loop_equals_numpy_and_the_scan_loop(case):
    values = random_values(batch=case.get("batch", 3))
    if case.get("no_masks"):
        del values["mask"], values["attended_mask"]
    biases = case.get("biases", False)
    brick = decoder(distribute_bias=biases, state_bias=biases)
    reverse = case.get("reverse", False)
    fused = compiled(brick, values, reverse)
    expected = numpy_decoder(brick, reverse=reverse, **values)
    for result, reference in zip(fused[:3], expected):
        np.testing.assert_allclose(result, reference, rtol=1e-10, atol=1e-12)
    brick.fused = False
    with_scan = compiled(brick, values, reverse)
    assert len(fused) == len(with_scan)
    for result, reference in zip(fused, with_scan):
        np.testing.assert_allclose(result, reference, rtol=1e-9, atol=1e-12)


def op_values(seed=0, dtype="float64", n_steps=4, batch=3, length=6):
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (0.5 * rng.normal(size=shape)).astype(dtype)

    values = [normal(n_steps, batch, DIM), normal(n_steps, batch, 2 * DIM), normal(batch, DIM),
              normal(DIM, DIM), normal(DIM, 2 * DIM), normal(length, batch, ATTENDED_DIM),
              normal(length, batch, MATCH_DIM), normal(DIM, MATCH_DIM), normal(MATCH_DIM, 1),
              normal(ATTENDED_DIM, DIM), normal(ATTENDED_DIM, 2 * DIM)]
    mask = (rng.random((n_steps, batch)) > 0.3).astype(dtype)
    attended_mask = (rng.random((length, batch)) > 0.3).astype(dtype)
    attended_mask[:, 0] = 0
    return values, mask, attended_mask


@pytest.mark.parametrize("masks", [(False, False), (True, False), (False, True), (True, True)])
def test_fused_op_gradient(masks):
    values, mask, attended_mask = op_values()
    op = FusedAttentionGRU(*masks)
    extra = [pt.constant(m) for m, on in zip((mask, attended_mask), masks) if on]

    def cost(*inputs):
        states, averages, weights = op(*inputs, *extra)[:3]
        return (states.sum() + (averages ** 2).sum()
                + (weights * np.arange(6)).sum())

    verify_grad(cost, values, rng=np.random.default_rng(1), mode="FAST_COMPILE")


def test_fused_op_mask_gradient():
    values, mask, attended_mask = op_values()
    variables = [pt.as_tensor_variable(v) for v in values]
    mask_variable = pt.matrix("mask")
    outputs = FusedAttentionGRU(True, True)(*variables, mask_variable, attended_mask)
    gradients = pytensor.grad(outputs[0].sum(), [mask_variable])
    assert gradients[0].eval({mask_variable: mask}).shape == mask.shape
    # Check it in the direction of a small change of a mask that is not 0/1.
    soft = np.full_like(mask, 0.5)
    direction = np.random.default_rng(2).normal(size=mask.shape)
    step = 1e-6
    total = pytensor.function([mask_variable], outputs[0].sum())
    numeric = (total(soft + step * direction) - total(soft - step * direction)) / (2 * step)
    analytic = (pytensor.function([mask_variable], gradients[0])(soft) * direction).sum()
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_float32_kernel_is_accurate():
    values, mask, attended_mask = op_values()
    single = [v.astype("float32") for v in values]
    op = FusedAttentionGRU(True, True)
    reference = [o.eval() for o in op(*values, mask, attended_mask)[:3]]
    results = [o.eval() for o in op(*single, mask.astype("float32"),
                                     attended_mask.astype("float32"))[:3]]
    for result, expected in zip(results, reference):
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=2e-6)


def test_op_validation():
    values, mask, attended_mask = op_values()
    with pytest.raises(TypeError, match="expected 12 inputs, got 11"):
        FusedAttentionGRU(has_mask=True)(*values)
    with pytest.raises(TypeError, match="same float32 or float64 dtype"):
        FusedAttentionGRU()(*values[:-1], values[-1].astype("float32"))
    with pytest.raises(TypeError, match="expected ndim=3"):
        FusedAttentionGRU()(values[0][0], *values[1:])


def test_runtime_shape_errors():
    values, _, _ = op_values()
    wrong_batch = list(values)
    wrong_batch[5] = values[5][:, :2]
    with pytest.raises(ValueError, match="attended .* must have the batch of the inputs"):
        FusedAttentionGRU()(*wrong_batch)[0].eval()
    wrong_energy = list(values)
    wrong_energy[8] = np.ones((MATCH_DIM, 2))
    with pytest.raises(ValueError, match=r"energy weights must be \(match_dim, 1\)"):
        FusedAttentionGRU()(*wrong_energy)[0].eval()


def test_brick_errors_at_graph_build_time():
    brick = decoder()
    values = symbolic(random_values())
    with pytest.raises(ValueError, match="argument 'attended'.*ndim"):
        brick.apply(**{**values, "attended": pt.matrix("attended")})
    with pytest.raises(ValueError, match="argument 'gate_inputs'.*last dimension to be 6"):
        brick.apply(**{**values, "gate_inputs": pt.tensor3(shape=(None, None, 5))})


def test_kept_outputs_and_second_derivatives_are_refused():
    values, _, _ = op_values()
    variables = [pt.as_tensor_variable(v) for v in values]
    outputs = FusedAttentionGRU()(*variables)
    with pytest.raises(NotImplementedError, match="kept for the gradient"):
        pytensor.grad(outputs[5].sum(), variables[0])
    first = pytensor.grad(outputs[0].sum(), variables[3])
    with pytest.raises(NotImplementedError, match="second derivatives.*`fused` attribute"):
        pytensor.grad(first.sum(), variables[3])


def attention_generator():
    generator = SequenceGenerator(
        Readout(readout_dim=7, source_names=["states", "feedback", "weighted_averages"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(7, DIM)),
        GatedRecurrent(dim=DIM, name="decoder_transition"),
        attention=SequenceContentAttention(state_names=["states"],
                                           attended_dim=ATTENDED_DIM, match_dim=MATCH_DIM),
        weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.1))
    generator.initialize()
    return generator


def test_sequence_generator_cost_runs_the_fused_loop():
    generator = attention_generator()
    targets, mask = pt.lmatrix("targets"), pt.matrix("mask")
    attended, attended_mask = pt.tensor3("attended"), pt.matrix("attended_mask")
    rng = np.random.default_rng(5)
    values = [rng.integers(0, 7, (4, 3)), random_values()["mask"],
              random_values()["attended"], random_values()["attended_mask"]]
    results = []
    for fused in (True, False):
        generator.transition.fused = fused
        cost = generator.cost(targets, mask=mask, attended=attended,
                              attended_mask=attended_mask)
        assert ("FusedAttentionGRU" in op_names(cost)) == fused
        parameters = by_name(cost)
        results.append(pytensor.function([targets, mask, attended, attended_mask],
                                         [cost] + pytensor.grad(cost, parameters))(*values))
    for fused, with_scan in zip(*results):
        np.testing.assert_allclose(fused, with_scan, rtol=1e-9, atol=1e-12)


@pytest.mark.numba
def test_fused_loop_under_numba():
    values = random_values(dtype="float32")
    brick = decoder()
    variables = symbolic(values)
    states, averages, weights = brick.apply(**variables)
    cost = (states ** 2).sum() + averages.sum()
    gradients = pytensor.grad(cost, [brick.transition.state_to_gates, variables["attended"]])
    function = pytensor.function(list(variables.values()), [states] + gradients)
    assert any(isinstance(node.op, FusedAttentionGRU)
               for node in function.maker.fgraph.apply_nodes)
    results = function(*values.values())
    brick.fused = False
    reference = pytensor.function(list(variables.values()), [states] + pytensor.grad(
        (brick.apply(**variables)[0] ** 2).sum() + brick.apply(**variables)[1].sum(),
        [brick.transition.state_to_gates, variables["attended"]]), mode="FAST_COMPILE")
    for result, expected in zip(results, reference(*values.values())):
        np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)
