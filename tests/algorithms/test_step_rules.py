"""Every step rule against a numpy implementation of its update, over several steps.

The gradients are fed as data (``GradientDescent(gradients={W: gW, b: gb})`` with
symbolic ``gW``, ``gb``), so the whole path -- step rule, state updates, parameter
update -- is checked step by step.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import (
    AdaDelta,
    AdaGrad,
    Adam,
    BasicMomentum,
    BasicRMSProp,
    CompositeRule,
    GradientDescent,
    Momentum,
    RemoveNotFinite,
    Restrict,
    RMSProp,
    Scale,
    StepClipping,
    StepRule,
    VariableClipping,
)
from blocks.roles import ALGORITHM_BUFFER, ALGORITHM_HYPERPARAMETER, PARAMETER, has_roles

N_STEPS = 4
W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B0 = np.array([0.1, -0.2, 0.3])


def gradient_sequence(seed=0, scale=1.0):
    rng = np.random.RandomState(seed)
    return [(scale * rng.randn(2, 3), scale * rng.randn(3)) for _ in range(N_STEPS)]


# numpy references: each maps (state dict, parameters, gradients) -> steps, per step.

def ref_scale(lr):
    return lambda state, params, grads: [lr * g for g in grads]


def ref_basic_momentum(momentum):
    def step(state, params, grads):
        velocities = state.setdefault("v", [np.zeros_like(g) for g in grads])
        for i, g in enumerate(grads):
            velocities[i] = momentum * velocities[i] + g
        return list(velocities)
    return step


def ref_momentum(lr, momentum):
    basic = ref_basic_momentum(momentum)
    return lambda state, params, grads: basic(state, params, [lr * g for g in grads])


def ref_adadelta(rho, eps):
    def step(state, params, grads):
        msg = state.setdefault("msg", [np.zeros_like(g) for g in grads])
        msdx = state.setdefault("msdx", [np.zeros_like(g) for g in grads])
        steps = []
        for i, g in enumerate(grads):
            msg[i] = rho * msg[i] + (1 - rho) * g ** 2
            dx = np.sqrt(msdx[i] + eps) / np.sqrt(msg[i] + eps) * g
            msdx[i] = rho * msdx[i] + (1 - rho) * dx ** 2
            steps.append(dx)
        return steps
    return step


def ref_basic_rmsprop(decay, max_scaling):
    def step(state, params, grads):
        ms = state.setdefault("ms", [np.zeros_like(g) for g in grads])
        steps = []
        for i, g in enumerate(grads):
            ms[i] = decay * ms[i] + (1 - decay) * g ** 2
            steps.append(g / np.maximum(np.sqrt(ms[i]), 1.0 / max_scaling))
        return steps
    return step


def ref_rmsprop(lr, decay, max_scaling):
    basic = ref_basic_rmsprop(decay, max_scaling)
    return lambda state, params, grads: [lr * s for s in basic(state, params, grads)]


def ref_adam(lr, beta1, beta2, eps, decay_factor):
    def step(state, params, grads):
        m = state.setdefault("m", [np.zeros_like(g) for g in grads])
        v = state.setdefault("v", [np.zeros_like(g) for g in grads])
        state["t"] = t = state.get("t", 0) + 1
        beta1_t = beta1 * decay_factor ** (t - 1)
        steps = []
        for i, g in enumerate(grads):
            m[i] = beta1_t * m[i] + (1 - beta1_t) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat, v_hat = m[i] / (1 - beta1 ** t), v[i] / (1 - beta2 ** t)
            # The bias-corrected form: epsilon scales with the correction of v.
            steps.append(lr * m_hat / (np.sqrt(v_hat) + eps / np.sqrt(1 - beta2 ** t)))
        return steps
    return step


def ref_adagrad(lr, eps):
    def step(state, params, grads):
        ssq = state.setdefault("ssq", [np.zeros_like(g) for g in grads])
        steps = []
        for i, g in enumerate(grads):
            ssq[i] = ssq[i] + g ** 2
            steps.append(lr * g / (np.sqrt(ssq[i]) + eps))
        return steps
    return step


def ref_step_clipping(threshold):
    def step(state, params, grads):
        norm = np.sqrt(sum((g ** 2).sum() for g in grads))
        factor = 1.0 if threshold is None or norm < threshold else threshold / norm
        return [factor * g for g in grads]
    return step


def ref_variable_clipping(threshold, axis):
    def step(state, params, grads):
        steps = []
        for p, g in zip(params, grads):
            new = p - g
            axes = tuple(range(new.ndim)) if axis is None else axis
            norms = np.sqrt((new ** 2).sum(axis=axes, keepdims=True))
            clipped = np.where(norms > threshold, new * threshold / norms, new)
            steps.append(p - clipped)
        return steps
    return step


def ref_chain(*refs):
    def step(state, params, grads):
        for i, ref in enumerate(refs):
            grads = ref(state.setdefault(i, {}), params, grads)
        return grads
    return step


def ref_restrict_to_w(ref):
    def step(state, params, grads):
        return [ref(state, params[:1], grads[:1])[0], grads[1]]
    return step


CASES = {
    "scale": (lambda: Scale(learning_rate=0.1), ref_scale(0.1)),
    "basic_momentum": (lambda: BasicMomentum(momentum=0.5), ref_basic_momentum(0.5)),
    "momentum": (lambda: Momentum(learning_rate=0.1, momentum=0.9), ref_momentum(0.1, 0.9)),
    "adadelta": (lambda: AdaDelta(decay_rate=0.9, epsilon=1e-4), ref_adadelta(0.9, 1e-4)),
    "basic_rmsprop": (lambda: BasicRMSProp(decay_rate=0.8, max_scaling=3.0),
                      ref_basic_rmsprop(0.8, 3.0)),
    "rmsprop": (lambda: RMSProp(learning_rate=0.01, decay_rate=0.8, max_scaling=1e3),
                ref_rmsprop(0.01, 0.8, 1e3)),
    "adam": (lambda: Adam(learning_rate=0.01, beta1=0.8, beta2=0.9, epsilon=1e-3),
             ref_adam(0.01, 0.8, 0.9, 1e-3, 1.0)),
    "adam_decay_factor": (lambda: Adam(learning_rate=0.01, decay_factor=0.5),
                          ref_adam(0.01, 0.9, 0.999, 1e-8, 0.5)),
    "adagrad": (lambda: AdaGrad(learning_rate=0.1, epsilon=1e-3), ref_adagrad(0.1, 1e-3)),
    "step_clipping": (lambda: StepClipping(threshold=1.5), ref_step_clipping(1.5)),
    "step_clipping_none": (lambda: StepClipping(), ref_step_clipping(None)),
    "variable_clipping": (lambda: VariableClipping(threshold=1.0),
                          ref_variable_clipping(1.0, None)),
    "variable_clipping_axis": (lambda: VariableClipping(threshold=1.0, axis=0),
                               ref_variable_clipping(1.0, (0,))),
    "composite": (lambda: CompositeRule([StepClipping(1.0), Momentum(0.5, 0.5)]),
                  ref_chain(ref_step_clipping(1.0), ref_momentum(0.5, 0.5))),
    "restrict": (lambda: Restrict(Momentum(0.1, 0.5), []), None),  # variables set below
    "remove_not_finite": (lambda: RemoveNotFinite(scaler=0.5), ref_scale(1.0)),
}


def make_algorithm(rule):
    W = pytensor.shared(W0.copy(), name="W")
    b = pytensor.shared(B0.copy(), name="b")
    gW, gb = pt.matrix("gW"), pt.vector("gb")
    if isinstance(rule, Restrict):
        rule.variables = [W]
    algorithm = GradientDescent(gradients={W: gW, b: gb}, step_rule=rule)
    algorithm.initialize()
    return algorithm, W, b


@pytest.mark.parametrize("case", sorted(CASES))
def test_step_rule_matches_numpy(case):
    make_rule, ref = CASES[case]
    if case == "restrict":
        ref = ref_restrict_to_w(ref_momentum(0.1, 0.5))
    algorithm, W, b = make_algorithm(make_rule())
    params, state = [W0.copy(), B0.copy()], {}
    for gW, gb in gradient_sequence(scale=2.0 if "clipping" in case else 1.0):
        steps = ref(state, params, [gW, gb])
        params = [p - s for p, s in zip(params, steps)]
        algorithm.process_batch({"gW": gW, "gb": gb})
        np.testing.assert_allclose(W.get_value(), params[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b.get_value(), params[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_and_hyperparameters_have_algorithm_roles(case):
    rule = CASES[case][0]()
    algorithm, W, b = make_algorithm(rule)
    buffers = [shared for shared, _ in algorithm.updates if shared not in (W, b)]
    for buffer in buffers:
        assert has_roles(buffer, [ALGORITHM_BUFFER]), buffer
        assert not has_roles(buffer, [PARAMETER])
    stateful = {"basic_momentum", "momentum", "adadelta", "basic_rmsprop", "rmsprop", "adam",
                "adam_decay_factor", "adagrad", "composite", "restrict"}
    assert bool(buffers) == (case in stateful)
    rules = getattr(rule, "components", [getattr(rule, "step_rule", rule)])
    hyperparameters = [value for component in rules for value in vars(component).values()
                       if isinstance(value, pytensor.compile.SharedVariable)]
    assert hyperparameters or case == "step_clipping_none"
    assert all(has_roles(h, [ALGORITHM_HYPERPARAMETER]) for h in hyperparameters)


def test_learning_rate_is_a_shared_handle():
    rule = Scale(learning_rate=0.1)
    algorithm, W, _ = make_algorithm(rule)
    gW, gb = np.ones((2, 3)), np.zeros(3)
    algorithm.process_batch({"gW": gW, "gb": gb})
    np.testing.assert_allclose(W.get_value(), W0 - 0.1)
    rule.learning_rate.set_value(0.5)
    algorithm.process_batch({"gW": gW, "gb": gb})
    np.testing.assert_allclose(W.get_value(), W0 - 0.6)
    given = pytensor.shared(0.3, name="lr")
    assert Momentum(learning_rate=given).learning_rate is given


def test_momentum_exposes_component_hyperparameters():
    rule = Momentum(learning_rate=0.1, momentum=0.9)
    assert rule.learning_rate is rule.components[0].learning_rate
    assert rule.momentum is rule.components[1].momentum
    rms = RMSProp(learning_rate=0.2, decay_rate=0.5, max_scaling=10.0)
    assert [float(v.get_value()) for v in (rms.learning_rate, rms.decay_rate,
                                           rms.max_scaling)] == [0.2, 0.5, 10.0]


def test_remove_not_finite_keeps_parameters_on_nan_and_inf():
    algorithm, W, b = make_algorithm(RemoveNotFinite())
    gW = np.ones((2, 3))
    gW[0, 1] = np.nan
    algorithm.process_batch({"gW": gW, "gb": np.array([np.inf, 0.0, 0.0])})
    np.testing.assert_array_equal(W.get_value(), W0)
    np.testing.assert_array_equal(b.get_value(), B0)
    # A finite step still goes through, per parameter.
    algorithm.process_batch({"gW": gW, "gb": np.ones(3)})
    np.testing.assert_array_equal(W.get_value(), W0)
    np.testing.assert_allclose(b.get_value(), B0 - 1)


def test_remove_not_finite_after_adam_keeps_parameters_unchanged():
    algorithm, W, b = make_algorithm(CompositeRule([Adam(0.1), RemoveNotFinite()]))
    algorithm.process_batch({"gW": np.full((2, 3), np.nan), "gb": np.full(3, np.nan)})
    np.testing.assert_array_equal(W.get_value(), W0)
    np.testing.assert_array_equal(b.get_value(), B0)


def test_remove_not_finite_scaler_shrinks_parameters():
    algorithm, W, b = make_algorithm(RemoveNotFinite(scaler=0.5))
    algorithm.process_batch({"gW": np.full((2, 3), np.nan), "gb": np.zeros(3)})
    np.testing.assert_allclose(W.get_value(), 0.5 * W0)
    np.testing.assert_allclose(b.get_value(), B0)


def test_step_clipping_total_norm():
    W = pytensor.shared(W0.copy(), name="W")
    b = pytensor.shared(B0.copy(), name="b")
    gW, gb = pt.matrix("gW"), pt.vector("gb")
    algorithm = GradientDescent(gradients={W: gW, b: gb}, step_rule=StepClipping(2.0))
    norms = pytensor.function([gW, gb], [algorithm.total_gradient_norm,
                                         algorithm.total_step_norm])
    big = (np.full((2, 3), 3.0), np.full(3, 4.0))
    np.testing.assert_allclose(norms(*big), [np.sqrt(6 * 9 + 3 * 16), 2.0])
    small = (np.full((2, 3), 0.1), np.zeros(3))
    np.testing.assert_allclose(norms(*small), [np.sqrt(0.06)] * 2)


def test_variable_clipping_keeps_norms_below_threshold():
    rule = Restrict(CompositeRule([Scale(1.0), VariableClipping(1.0, axis=1)]), [])
    algorithm, W, b = make_algorithm(rule)  # restricted to W
    algorithm.process_batch({"gW": -5 * np.ones((2, 3)), "gb": np.ones(3)})
    np.testing.assert_allclose(np.sqrt((W.get_value() ** 2).sum(axis=1)), [1.0, 1.0])
    np.testing.assert_allclose(b.get_value(), B0 - 1)


def test_step_rule_bad_arguments():
    with pytest.raises(ValueError, match=r"AdaDelta: decay_rate must be in \[0.0, 1.0\], got 2"):
        AdaDelta(decay_rate=2.0)
    with pytest.raises(ValueError, match="BasicRMSProp: max_scaling must be in"):
        BasicRMSProp(max_scaling=0)
    with pytest.raises(ValueError, match="BasicMomentum: momentum"):
        Momentum(momentum=-0.1)
    with pytest.raises(ValueError, match="Adam: beta2"):
        Adam(beta2=1.5)
    with pytest.raises(ValueError, match="StepClipping: threshold"):
        StepClipping(threshold=-1.0)
    with pytest.raises(TypeError, match="Scale: learning_rate must be a number"):
        Scale(learning_rate="fast")
    with pytest.raises(ValueError, match="VariableClipping: axis must be unique"):
        VariableClipping(1.0, axis=(0, 0))
    assert VariableClipping(1.0, axis=(1, 0)).axis == {0, 1}
    assert VariableClipping(1.0).axis == set()
    with pytest.raises(TypeError, match="VariableClipping: axis must be"):
        VariableClipping(1.0, axis="rows")
    with pytest.raises(TypeError, match="CompositeRule: components must be StepRule"):
        CompositeRule([Scale(), "adam"])
    with pytest.raises(TypeError, match="Restrict: step_rule must be a StepRule"):
        Restrict(None, [])


def test_variable_clipping_axis_out_of_range():
    b = pytensor.shared(B0.copy(), name="b")
    with pytest.raises(ValueError, match=r"Invalid axis \[1\] for parameter 'b', ndim=1"):
        VariableClipping(1.0, axis=1).compute_step(b, pt.vector())


def test_stateful_rule_needs_shared_parameter():
    with pytest.raises(TypeError, match="Adam: parameters must be shared variables"):
        Adam().compute_step(pt.vector("p"), pt.vector("g"))


def test_step_rule_without_compute_step():
    b = pytensor.shared(B0.copy(), name="b")
    with pytest.raises(NotImplementedError, match="StepRule does not define compute_step"):
        StepRule().compute_steps({b: pt.vector()})
