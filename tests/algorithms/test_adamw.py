"""AdamW against a numpy implementation and torch.optim.AdamW; decay excluded by role."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import AdamW, CompositeRule, StepClipping
from blocks.bricks import LayerNormalization, Linear
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import WEIGHT, add_role

RNG = np.random.default_rng(2)
GRADIENTS = RNG.normal(size=(4, 3))


def numpy_adamw(value, gradients, lr, beta1, beta2, epsilon, decay):
    mean, variance = np.zeros_like(value), np.zeros_like(value)
    for t, gradient in enumerate(gradients, start=1):
        mean = beta1 * mean + (1 - beta1) * gradient
        variance = beta2 * variance + (1 - beta2) * gradient ** 2
        step = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * mean / (
            np.sqrt(variance) + epsilon)
        value = value - step - lr * decay * value
    return value


def run(rule, parameter, gradients):
    gradient = pt.vector("gradient")
    steps, updates = rule.compute_steps({parameter: gradient})
    update = pytensor.function([gradient], [],
                               updates=updates + [(parameter, parameter - steps[parameter])])
    for value in gradients:
        update(value)
    return parameter.get_value()


def weight(value):
    parameter = pytensor.shared(np.array(value, dtype=float), name="w")
    add_role(parameter, WEIGHT)
    return parameter


def test_against_numpy():
    start = RNG.normal(size=3)
    got = run(AdamW(learning_rate=0.1, weight_decay=0.3), weight(start), GRADIENTS)
    expected = numpy_adamw(start, GRADIENTS, 0.1, 0.9, 0.999, 1e-8, 0.3)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Without the decay it is Adam.
    plain = numpy_adamw(start, GRADIENTS, 0.1, 0.9, 0.999, 1e-8, 0.0)
    assert not np.allclose(got, plain)


def test_against_torch():
    torch = pytest.importorskip("torch")
    start = np.array([0.5, -1.5, 2.0])
    parameter = torch.tensor(start, requires_grad=True)
    optimizer = torch.optim.AdamW([parameter], lr=0.05, weight_decay=0.2, eps=1e-8)
    for gradient in GRADIENTS:
        parameter.grad = torch.tensor(gradient)
        optimizer.step()
    got = run(AdamW(learning_rate=0.05, weight_decay=0.2), weight(start), GRADIENTS)
    # Adam here adds epsilon to sqrt(v) rather than to the bias-corrected sqrt(v): the
    # two differ by about learning_rate * epsilon / sqrt(1 - beta2) per step.
    np.testing.assert_allclose(got, parameter.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_biases_and_normalization_parameters_are_not_decayed():
    linear = Linear(3, 3, weights_init=IsotropicGaussian(1), biases_init=Constant(1))
    norm = LayerNormalization(3)
    linear.initialize()
    norm.initialize()
    parameters = [linear.W, linear.b, norm.scale, norm.shift]
    before = [p.get_value() for p in parameters]
    steps, updates = AdamW(learning_rate=0.1, weight_decay=0.5).compute_steps(
        {p: pt.zeros_like(p) for p in parameters})
    pytensor.function([], [], updates=updates + [(p, p - steps[p]) for p in parameters])()
    after = [p.get_value() for p in parameters]
    np.testing.assert_allclose(after[0], before[0] * (1 - 0.05))
    for unchanged, original in zip(after[1:], before[1:]):
        np.testing.assert_array_equal(unchanged, original)


def test_excluded_roles_can_be_chosen():
    linear = Linear(2, 2, weights_init=Constant(1), biases_init=Constant(1))
    linear.initialize()
    rule = AdamW(learning_rate=1.0, weight_decay=0.5, excluded_roles=[WEIGHT])
    steps, _ = rule.compute_steps({linear.W: pt.zeros((2, 2)), linear.b: pt.zeros(2)})
    assert steps[linear.W].eval().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert steps[linear.b].eval().tolist() == [0.5, 0.5]


def test_with_global_norm_clipping_first():
    start = RNG.normal(size=3)
    rule = CompositeRule([StepClipping(1.0), AdamW(learning_rate=0.1, weight_decay=0.3)])
    got = run(rule, weight(start), GRADIENTS)
    norms = np.linalg.norm(GRADIENTS, axis=1, keepdims=True)
    clipped = GRADIENTS * np.minimum(1, 1 / norms)
    np.testing.assert_allclose(got, numpy_adamw(start, clipped, 0.1, 0.9, 0.999, 1e-8, 0.3),
                               rtol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"AdamW: weight_decay must be in \[0.0, inf\)"):
        AdamW(weight_decay=-1)
    with pytest.raises(TypeError, match=r"AdamW: excluded_roles must be roles"):
        AdamW(excluded_roles=["bias"])


def test_global_norm_of_many_parameters_under_fast_compile():
    # A Transformer has more than 32 parameters: one Add of all the squared norms could
    # not run in PyTensor's Python mode.
    parameters = [pytensor.shared(np.full(2, float(i)), name=f"p{i}") for i in range(40)]
    steps, _ = StepClipping(1.0).compute_steps({p: p for p in parameters})
    norm = np.sqrt(sum(2 * i ** 2 for i in range(40)))
    np.testing.assert_allclose(
        pytensor.function([], steps[parameters[3]], mode="FAST_COMPILE")(), 3 / norm)
