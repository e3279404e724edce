"""The fused attention decoders (GRU, simple and LSTM transitions): when AttentionRecurrent
uses them, their values and gradients against numpy and against the scan loop, their
errors."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Identity, Linear, Logistic, Rectifier, Softplus, Tanh
from blocks.bricks.attention import (
    AttentionRecurrent,
    SequenceContentAttention,
    ShallowEnergyComputer,
)
from blocks.bricks.base import application
from blocks.bricks.parallel import Distribute
from blocks.bricks.recurrent import LSTM, GatedRecurrent, SimpleRecurrent
from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.initialization import IsotropicGaussian
from blocks.model import Model
from blocks.ops.attention.op import (
    FusedAttentionGRU,
    FusedAttentionLSTM,
    FusedAttentionSimple,
    visible_outputs,
)
from tests.bricks.recurrent.recurrent_reference import gru_loop, lstm_loop, sigmoid, simple_loop
from tests.bricks.test_attention import numpy_masked_softmax
from tests.graph_helpers import op_names

DIM, ATTENDED_DIM, MATCH_DIM = 3, 4, 5
KINDS = ("gru", "simple", "lstm")
#: The fused op of each kind of transition, by name.
OP_NAMES = {"gru": "FusedAttentionGRU", "simple": "FusedAttentionSimple",
            "lstm": "FusedAttentionLSTM"}
#: The last dimension of the inputs of each kind of transition.
INPUT_DIMS = {"gru": DIM, "simple": DIM, "lstm": 4 * DIM}
#: The numpy activations of the simple transition's fused activations.
NUMPY_ACTIVATIONS = {Tanh: np.tanh, Logistic: sigmoid, Identity: lambda x: x,
                     Rectifier: lambda x: np.maximum(x, 0)}


def transition_of(kind, activation=None):
    if kind == "gru":
        return GatedRecurrent(dim=DIM)
    if kind == "lstm":
        return LSTM(dim=DIM)
    return SimpleRecurrent(dim=DIM, activation=activation or Tanh())


def decoder(kind="gru", distribute_bias=False, state_bias=False, transition=None,
            energy_computer=None, cls=AttentionRecurrent, state_transformer=None):
    transition = transition or transition_of(kind)
    attention = SequenceContentAttention(
        state_names=["states"], attended_dim=ATTENDED_DIM, match_dim=MATCH_DIM,
        state_transformer=state_transformer or Linear(use_bias=state_bias),
        energy_computer=energy_computer)
    distribute = None
    if distribute_bias:
        distribute = Distribute(
            [name for name in transition.apply.sequences if name != "mask"],
            "weighted_averages", prototype=Linear(use_bias=True))
    brick = cls(transition, attention, distribute=distribute,
                weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.5))
    brick.initialize()
    rng = np.random.default_rng(3)
    for initial in brick.transition._initial_state_parameters():
        initial.set_value(rng.normal(size=DIM).astype(pytensor.config.floatX))
    return brick


def random_values(seed=0, n_steps=4, batch=3, length=5, dtype=pytensor.config.floatX,
                  kind="gru"):
    rng = np.random.default_rng(seed)
    mask = (rng.random((n_steps, batch)) > 0.3).astype(dtype)
    attended_mask = (rng.random((length, batch)) > 0.3).astype(dtype)
    attended_mask[0] = 1
    attended_mask[:, 0] = 0  # an example with nothing to attend to
    values = {
        "inputs": rng.normal(size=(n_steps, batch, INPUT_DIMS[kind])).astype(dtype),
        "gate_inputs": rng.normal(size=(n_steps, batch, 2 * DIM)).astype(dtype),
        "attended": rng.normal(size=(length, batch, ATTENDED_DIM)).astype(dtype),
        "mask": mask, "attended_mask": attended_mask,
    }
    if kind != "gru":
        del values["gate_inputs"]
    return values


def symbolic(values):
    return {name: pt.tensor(name, dtype=value.dtype, shape=(None,) * value.ndim)
            for name, value in values.items()}


def value(brick):
    return brick.W.get_value(), (brick.b.get_value() if brick.use_bias else 0)


def numpy_decoder(brick, inputs, attended, gate_inputs=None, mask=None, attended_mask=None,
                  reverse=False):
    """AttentionRecurrent(GatedRecurrent, SimpleRecurrent or LSTM, SequenceContentAttention)
    in numpy: states (and cells), weighted averages and weights; a step's glimpses come
    from the states before it."""
    transition, attention = brick.transition, brick.attention
    W_pre, b_pre = value(attention.attended_transformer)
    W_state, b_state = value(attention.state_transformers.children[0])
    w_energy = attention.energy_computer.children[1].W.get_value()
    distribution = {name: value(child) for name, child in zip(brick.distribute.target_names,
                                                              brick.distribute.children)}

    def distributed(name, sequence, t, averages):
        W, b = distribution[name]
        return sequence[t:t + 1] + averages @ W + b

    carried = [np.repeat(initial.get_value()[None], inputs.shape[1], axis=0)
               for initial in transition._initial_state_parameters()]
    preprocessed = attended @ W_pre + b_pre
    steps = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
    mask = np.ones(inputs.shape[:2]) if mask is None else mask
    results = []
    for t in steps:
        energies = (np.tanh(preprocessed + carried[0] @ W_state + b_state) @ w_energy)[..., 0]
        weights = numpy_masked_softmax(energies, attended_mask)
        averages = (weights[:, :, None] * attended).sum(axis=0)
        x = distributed("inputs", inputs, t, averages)
        if isinstance(transition, GatedRecurrent):
            carried = [gru_loop(x, distributed("gate_inputs", gate_inputs, t, averages),
                                carried[0], transition.state_to_state.get_value(),
                                transition.state_to_gates.get_value(), mask[t:t + 1])[0]]
        elif isinstance(transition, LSTM):
            weights_of = [p.get_value() for p in transition._fused_parameters()]
            carried = [sequence[0] for sequence in lstm_loop(x, *carried, *weights_of,
                                                             mask[t:t + 1])]
        else:
            carried = [simple_loop(x, carried[0], transition.W.get_value(), mask[t:t + 1],
                                   activation=NUMPY_ACTIVATIONS[type(transition.activation)])[0]]
        results.append((*carried, averages, weights.T))
    return [np.array(r) for r in zip(*results)]


class DoubledStates(AttentionRecurrent):
    """Redefines a part of the step: the loop must run it, so it is a scan."""

    @application
    def compute_states(self, **kwargs):
        return [2 * s for s in super().compute_states(return_list=True, **kwargs)]

    @compute_states.property("outputs")
    def compute_states_outputs(self):
        return self._state_names


@pytest.mark.parametrize("kind", KINDS)
def test_attention_recurrent_uses_the_fused_op_when_it_can(kind):
    values = symbolic(random_values(kind=kind))
    fused = [decoder(kind), decoder(kind, distribute_bias=True, state_bias=True)]
    if kind == "simple":
        fused += [decoder(transition=SimpleRecurrent(dim=DIM, activation=activation()))
                  for activation in (Logistic, Identity, Rectifier)]
    for brick in fused:
        names = op_names(brick.apply(**values))
        assert OP_NAMES[kind] in names and "Scan" not in names
    unfused, unfused_transition = decoder(kind), decoder(kind)
    unfused.fused = False
    unfused_transition.transition.fused = False

    class OtherLinear(Linear):
        pass

    unsupported = (GatedRecurrent(dim=DIM, activation=Rectifier()) if kind == "gru"
                   else SimpleRecurrent(dim=DIM, activation=Softplus()))
    cases = [
        unfused, unfused_transition, decoder(kind, cls=DoubledStates),
        decoder(kind, energy_computer=ShallowEnergyComputer(use_bias=True)),
        decoder(transition=unsupported),
        decoder(kind, state_transformer=OtherLinear(use_bias=False)),
    ]
    for brick in cases:
        names = op_names(brick.apply(**values))
        assert not set(OP_NAMES.values()) & names and "Scan" in names


def by_name(cost):
    """The parameters of `cost`, in the order of their hierarchical names."""
    return [p for _, p in sorted(Model(cost).get_parameter_dict().items())]


def compiled(brick, values, reverse=False):
    """The outputs, and the gradients of a cost of them with respect to the parameters and
    the inputs (sorted by name), as one function of `values`."""
    variables = symbolic(values)
    outputs = brick.apply(reverse=reverse, return_list=True, **variables)
    cost = visible_cost(outputs)
    parameters = by_name(cost)
    wrt = parameters + [variables[name] for name in ("inputs", "gate_inputs", "attended",
                                                     "mask") if name in variables]
    gradients = pytensor.grad(cost, wrt)
    function = pytensor.function(list(variables.values()), outputs + gradients,
                                 on_unused_input="ignore")
    return function(*values.values())


def visible_cost(outputs):
    """A cost of every visible output of a decoder: states (and cells), weighted averages,
    weights."""
    *carried, averages, weights = outputs
    return (sum((state ** 2).sum() for state in carried)
            + (averages * np.arange(ATTENDED_DIM)).sum() + (weights ** 2).sum())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", [
    {}, {"reverse": True}, {"biases": True}, {"no_masks": True},
    {"batch": 150},  # weight gradients summed over two chunks of steps
])
def test_fused_loop_equals_numpy_and_the_scan_loop(kind, case):
    values = random_values(batch=case.get("batch", 3), kind=kind)
    if case.get("no_masks"):
        del values["mask"], values["attended_mask"]
    biases = case.get("biases", False)
    brick = decoder(kind, distribute_bias=biases, state_bias=biases)
    assert_fused_equals_numpy_and_scan(brick, values, case.get("reverse", False))


@pytest.mark.parametrize("activation", [Logistic, Identity, Rectifier])
def test_simple_transition_activations(activation):
    brick = decoder(transition=transition_of("simple", activation()))
    assert_fused_equals_numpy_and_scan(brick, random_values(kind="simple"), reverse=False)


def assert_fused_equals_numpy_and_scan(brick, values, reverse):
    fused = compiled(brick, values, reverse)
    expected = numpy_decoder(brick, reverse=reverse, **values)
    for result, reference in zip(fused[:len(expected)], expected):
        np.testing.assert_allclose(result, reference, rtol=1e-10, atol=1e-12)
    brick.fused = False
    with_scan = compiled(brick, values, reverse)
    assert len(fused) == len(with_scan)
    for result, reference in zip(fused, with_scan):
        np.testing.assert_allclose(result, reference, rtol=1e-9, atol=1e-12)


#: Per kind: the fused op (a function of the flags), the position of the attended among
#: its inputs and its number of outputs.
OPS = {"gru": (FusedAttentionGRU, 5, 6),
       "simple": (lambda *flags: FusedAttentionSimple("tanh", *flags), 3, 5),
       "lstm": (FusedAttentionLSTM, 7, 7)}


def op_values(seed=0, dtype="float64", n_steps=4, batch=3, length=6, kind="gru"):
    """Random inputs of the fused op of `kind`, in their order, and the two masks."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (0.5 * rng.normal(size=shape)).astype(dtype)

    widths = {"gru": (1, 2), "simple": (1,), "lstm": (4,)}[kind]
    peepholes = [normal(DIM) for _ in range(3)] if kind == "lstm" else []
    states = [normal(batch, DIM) for _ in range(2 if kind == "lstm" else 1)]
    values = ([normal(n_steps, batch, w * DIM) for w in widths] + states
              + [normal(DIM, w * DIM) for w in widths] + peepholes
              + [normal(length, batch, ATTENDED_DIM), normal(length, batch, MATCH_DIM),
                 normal(DIM, MATCH_DIM), normal(MATCH_DIM, 1)]
              + [normal(ATTENDED_DIM, w * DIM) for w in widths])
    mask = (rng.random((n_steps, batch)) > 0.3).astype(dtype)
    attended_mask = (rng.random((length, batch)) > 0.3).astype(dtype)
    attended_mask[:, 0] = 0
    return values, mask, attended_mask


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("masks", [(False, False), (True, False), (False, True), (True, True)])
def test_fused_op_gradient(kind, masks):
    values, mask, attended_mask = op_values(kind=kind)
    assert_exact_gradient(OPS[kind][0](*masks), values, mask, attended_mask, masks)


@pytest.mark.parametrize("activation", ["logistic", "identity"])
def test_simple_fused_op_gradient_with_other_activations(activation):
    values, mask, attended_mask = op_values(kind="simple")
    assert_exact_gradient(FusedAttentionSimple(activation, True, True), values, mask,
                          attended_mask, (True, True))


def assert_exact_gradient(op, values, mask, attended_mask, masks):
    extra = [pt.constant(m) for m, on in zip((mask, attended_mask), masks) if on]

    def cost(*inputs):
        *carried, averages, weights = op(*inputs, *extra)[:visible_outputs(op.spec)]
        return (sum(state.sum() for state in carried) + (averages ** 2).sum()
                + (weights * np.arange(6)).sum())

    verify_grad(cost, values, rng=np.random.default_rng(1), mode="FAST_COMPILE")


@pytest.mark.parametrize("kind", KINDS)
def test_fused_op_mask_gradient(kind):
    values, mask, attended_mask = op_values(kind=kind)
    variables = [pt.as_tensor_variable(v) for v in values]
    mask_variable = pt.matrix("mask")
    outputs = OPS[kind][0](True, True)(*variables, mask_variable, attended_mask)
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


@pytest.mark.parametrize("kind", KINDS)
def test_float32_kernel_is_accurate(kind):
    values, mask, attended_mask = op_values(kind=kind)
    single = [v.astype("float32") for v in values]
    op = OPS[kind][0](True, True)
    visible = visible_outputs(op.spec)
    reference = [o.eval() for o in op(*values, mask, attended_mask)[:visible]]
    results = [o.eval() for o in op(*single, mask.astype("float32"),
                                     attended_mask.astype("float32"))[:visible]]
    for result, expected in zip(results, reference):
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_op_validation(kind):
    values, mask, attended_mask = op_values(kind=kind)
    op = OPS[kind][0]
    n = len(values)
    with pytest.raises(TypeError, match=f"expected {n + 1} inputs, got {n}"):
        op(True, False)(*values)
    with pytest.raises(TypeError, match="same float32 or float64 dtype"):
        op()(*values[:-1], values[-1].astype("float32"))
    with pytest.raises(TypeError, match="expected ndim=3"):
        op()(values[0][0], *values[1:])


def test_simple_op_refuses_unknown_activations():
    with pytest.raises(ValueError, match="unsupported activation 'softplus'"):
        FusedAttentionSimple("softplus")


#: Per kind: (the index of an input, a wrong value for it, the message of the kernel).
SHAPE_ERRORS = {
    "gru": [(1, np.ones((4, 3, 5)), r"gate inputs must be \(time, batch, 2 \* dim\)"),
            (2, np.ones((2, DIM)), r"initial states must be \(batch, dim\)"),
            (4, np.ones((DIM, DIM)), r"state to gates\) must be \(dim, 2 \* dim\)"),
            (10, np.ones((ATTENDED_DIM, DIM)),
             r"to the gate inputs must be \(attended_dim, 2 \* dim\)")],
    "simple": [(1, np.ones((2, DIM)), r"initial states must be \(batch, dim\)"),
               (2, np.ones((DIM, DIM + 1)), r"state to state\) must be \(dim, dim\)")],
    "lstm": [(0, np.ones((4, 3, DIM)), r"initial states must be \(batch, dim\)"),
             (2, np.ones((2, DIM)), r"initial cells must be \(batch, dim\)"),
             (3, np.ones((DIM, DIM)), r"\(state to state\) .* \(dim, 4 \* dim\) for an LSTM"),
             (5, np.ones(DIM + 1), "peephole weights must have dim entries")],
}


@pytest.mark.parametrize("kind", KINDS)
def test_runtime_shape_errors(kind):
    values, _, _ = op_values(kind=kind)
    op, attended, _ = OPS[kind]
    errors = SHAPE_ERRORS[kind] + [
        (attended, values[attended][:, :2], "attended .* must have the batch of the inputs"),
        (attended + 3, np.ones((MATCH_DIM, 2)), r"energy weights must be \(match_dim, 1\)"),
        (attended + 4, np.ones((ATTENDED_DIM + 1, DIM)),
         r"to the inputs must be \(attended_dim, dim\)")]
    for index, wrong, message in errors:
        wrong_values = list(values)
        wrong_values[index] = wrong
        with pytest.raises(ValueError, match=message):
            op()(*wrong_values)[0].eval()
    with pytest.raises(ValueError, match=r"the attended mask must be \(length, batch\)"):
        op(False, True)(*values, np.ones((2, 3)))[0].eval()


@pytest.mark.parametrize("kind", KINDS)
def test_brick_errors_at_graph_build_time(kind):
    brick = decoder(kind)
    values = symbolic(random_values(kind=kind))
    with pytest.raises(ValueError, match="argument 'attended'.*ndim"):
        brick.apply(**{**values, "attended": pt.matrix("attended")})
    expected = INPUT_DIMS[kind]
    with pytest.raises(ValueError, match=f"argument 'inputs'.*last dimension to be {expected}"):
        brick.apply(**{**values, "inputs": pt.tensor3(shape=(None, None, 5))})
    if kind == "gru":
        with pytest.raises(ValueError, match="argument 'gate_inputs'.*last dimension to be 6"):
            brick.apply(**{**values, "gate_inputs": pt.tensor3(shape=(None, None, 5))})


@pytest.mark.parametrize("kind", KINDS)
def test_kept_outputs_and_second_derivatives_are_refused(kind):
    values, _, _ = op_values(kind=kind)
    variables = [pt.as_tensor_variable(v) for v in values]
    outputs = OPS[kind][0]()(*variables)
    with pytest.raises(NotImplementedError, match="kept for the gradient"):
        pytensor.grad(outputs[-1].sum(), variables[0])
    weights = variables[OPS[kind][1] - 1]
    first = pytensor.grad(outputs[0].sum(), weights)
    with pytest.raises(NotImplementedError, match="second derivatives.*`fused` attribute"):
        pytensor.grad(first.sum(), weights)


def attention_generator(kind="gru"):
    transition = transition_of(kind)
    transition.name = "decoder_transition"
    generator = SequenceGenerator(
        Readout(readout_dim=7, source_names=["states", "feedback", "weighted_averages"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(7, DIM)),
        transition,
        attention=SequenceContentAttention(state_names=["states"],
                                           attended_dim=ATTENDED_DIM, match_dim=MATCH_DIM),
        weights_init=IsotropicGaussian(0.5), biases_init=IsotropicGaussian(0.1))
    generator.initialize()
    return generator


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_generator_cost_runs_the_fused_loop(kind):
    generator = attention_generator(kind)
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
        assert (OP_NAMES[kind] in op_names(cost)) == fused
        parameters = by_name(cost)
        results.append(pytensor.function([targets, mask, attended, attended_mask],
                                         [cost] + pytensor.grad(cost, parameters))(*values))
    for fused, with_scan in zip(*results):
        np.testing.assert_allclose(fused, with_scan, rtol=1e-9, atol=1e-12)


@pytest.mark.numba
@pytest.mark.parametrize("kind", KINDS)
def test_fused_loop_under_numba(kind):
    values = random_values(dtype="float32", kind=kind)
    brick = decoder(kind)
    variables = symbolic(values)
    outputs = brick.apply(return_list=True, **variables)
    states = outputs[0]
    cost = (states ** 2).sum() + outputs[-2].sum()
    # The transition's last weights: the simple transition's, the GRU's state to gates,
    # the LSTM's output gate's peepholes.
    recurrent_weights = brick.transition._fused_parameters()[-1]
    gradients = pytensor.grad(cost, [recurrent_weights, variables["attended"]])
    function = pytensor.function(list(variables.values()), [states] + gradients)
    assert any(type(node.op).__name__ == OP_NAMES[kind]
               for node in function.maker.fgraph.apply_nodes)
    results = function(*values.values())
    brick.fused = False
    outputs = brick.apply(return_list=True, **variables)
    reference = pytensor.function(list(variables.values()), [outputs[0]] + pytensor.grad(
        (outputs[0] ** 2).sum() + outputs[-2].sum(),
        [recurrent_weights, variables["attended"]]), mode="FAST_COMPILE")
    for result, expected in zip(results, reference(*values.values())):
        np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)
