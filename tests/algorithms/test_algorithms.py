"""GradientDescent and UpdatesAlgorithm: gradients, graph updates, sources, error paths."""

import pickle
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import (
    GradientDescent,
    Momentum,
    Scale,
    TrainingAlgorithm,
    UpdatesAlgorithm,
)
from blocks.bricks import Linear
from blocks.bricks.base import Brick, application
from blocks.initialization import Constant

X = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.5, -0.5, 1.0], [2.0, 1.0, -1.0]])
Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 2.0]])
W_INIT = np.array([[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2]])
B_INIT = np.array([0.05, -0.05])


class CountExamples(Brick):
    """Passes its input through and counts the examples seen (an update of the graph)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = pytensor.shared(0.0, name="count")

    @application(inputs=["input_"], outputs=["output"])
    def apply(self, input_, application_call):
        application_call.updates[self.count] = self.count + input_.shape[0]
        return input_


def regression(count=False):
    linear = Linear(input_dim=3, output_dim=2, weights_init=Constant(0), biases_init=Constant(0),
                    name="linear")
    linear.initialize()
    linear.W.set_value(W_INIT.copy())
    linear.b.set_value(B_INIT.copy())
    x, y = pt.matrix("x"), pt.matrix("y")
    output = linear.apply(x)
    counter = None
    if count:
        counter = CountExamples(name="counter")
        output = counter.apply(output)
    cost = pt.sqr(output - y).sum(axis=1).mean()
    return linear, counter, x, y, cost


def numpy_gradients(W, b, x, y):
    residual = x @ W + b - y
    return 2 * x.T @ residual / len(x), 2 * residual.sum(axis=0) / len(x)


def test_gradient_descent_on_a_brick_cost():
    linear, counter, x, y, cost = regression(count=True)
    algorithm = GradientDescent(cost=cost, step_rule=Scale(0.1))
    assert set(algorithm.parameters) == {linear.W, linear.b}
    algorithm.initialize()
    assert [var.name for var in algorithm.inputs] == ["x", "y"]
    W, b = W_INIT.copy(), B_INIT.copy()
    for batch in (slice(0, 3), slice(3, 4)):
        gW, gb = numpy_gradients(W, b, X[batch], Y[batch])
        W, b = W - 0.1 * gW, b - 0.1 * gb
        algorithm.process_batch({"y": Y[batch], "x": X[batch]})
        np.testing.assert_allclose(linear.W.get_value(), W, rtol=1e-12)
        np.testing.assert_allclose(linear.b.get_value(), b, rtol=1e-12)
    # The update collected by the counter brick in the cost's graph ran at every batch.
    assert float(counter.count.get_value()) == 4.0


def test_explicit_updates_replace_graph_updates():
    linear, counter, x, y, cost = regression(count=True)
    given = GradientDescent(cost=cost, updates=[(counter.count, counter.count - 1)])
    given.process_batch({"x": X, "y": Y})
    assert float(counter.count.get_value()) == -1.0
    added = GradientDescent(cost=cost)
    added.add_updates({counter.count: counter.count + 10})
    added.process_batch({"x": X, "y": Y})
    assert float(counter.count.get_value()) == 9.0
    with pytest.raises(ValueError, match="'count' would be updated twice"):
        added.add_updates({counter.count: counter.count * 2})


def test_monitoring_attributes():
    linear, _, x, y, cost = regression()
    algorithm = GradientDescent(cost=cost, parameters=[linear.W, linear.b],
                                step_rule=Scale(0.5))
    names = [algorithm.total_gradient_norm.name, algorithm.total_step_norm.name]
    assert names == ["total_gradient_norm", "total_step_norm"]
    outputs = [algorithm.total_gradient_norm, algorithm.total_step_norm,
               algorithm.gradients[linear.W], algorithm.steps[linear.b]]
    grad_norm, step_norm, gW, step_b = pytensor.function([x, y], outputs)(X, Y)
    np_gW, np_gb = numpy_gradients(W_INIT, B_INIT, X, Y)
    expected_norm = np.sqrt((np_gW ** 2).sum() + (np_gb ** 2).sum())
    np.testing.assert_allclose([grad_norm, step_norm], [expected_norm, 0.5 * expected_norm])
    np.testing.assert_allclose(gW, np_gW)
    np.testing.assert_allclose(step_b, 0.5 * np_gb)


def test_monitoring_norms_are_built_when_first_asked_for_and_kept():
    from blocks.graph import ComputationGraph

    linear, _, x, y, cost = regression()
    algorithm = GradientDescent(cost=cost, parameters=[linear.W, linear.b],
                                step_rule=Scale(0.5))
    assert "total_gradient_norm" not in vars(algorithm)
    assert "total_step_norm" not in vars(algorithm)
    norm = algorithm.total_gradient_norm
    assert algorithm.total_gradient_norm is norm
    # Pickled before and after: the norm of the unpickled algorithm computes the same.
    for copy in (pickle.loads(pickle.dumps(algorithm)),
                 pickle.loads(pickle.dumps(GradientDescent(
                     cost=cost, parameters=[linear.W, linear.b], step_rule=Scale(0.5))))):
        inputs = {v.name: v for v in ComputationGraph(copy.total_step_norm).inputs}
        step_norm = pytensor.function([inputs["x"], inputs["y"]], copy.total_step_norm)(X, Y)
        np_gW, np_gb = numpy_gradients(W_INIT, B_INIT, X, Y)
        np.testing.assert_allclose(
            step_norm, 0.5 * np.sqrt((np_gW ** 2).sum() + (np_gb ** 2).sum()))


def test_known_grads_and_consider_constant():
    w = pytensor.shared(np.array([1.0, 2.0]), name="w")
    x = pt.vector("x")
    hidden = w * x
    hidden.name = "hidden"
    cost = hidden.sum()
    # known_grads overrides the gradient flowing out of `hidden`.
    algorithm = GradientDescent(cost=cost, parameters=[w], known_grads={hidden: 3 * x})
    algorithm.process_batch({"x": np.array([1.0, 2.0])})
    np.testing.assert_allclose(w.get_value(), [1.0 - 3.0, 2.0 - 12.0])

    v = pytensor.shared(np.array([1.0, 1.0]), name="v")
    stopped = w * v
    algorithm = GradientDescent(cost=(stopped * v).sum(), parameters=[v],
                                consider_constant=[stopped])
    before = w.get_value()
    algorithm.process_batch({})
    np.testing.assert_allclose(v.get_value(), 1.0 - before)


def test_gradients_given_define_the_parameters():
    w = pytensor.shared(np.zeros(2), name="w")
    g = pt.vector("g")
    algorithm = GradientDescent(gradients=[(w, g)], step_rule=Momentum(1.0, 0.5))
    assert algorithm.parameters == [w]
    algorithm.process_batch({"g": np.array([1.0, 2.0])})
    algorithm.process_batch({"g": np.array([1.0, 2.0])})
    np.testing.assert_allclose(w.get_value(), [-2.5, -5.0])


def test_function_is_compiled_once_and_recompiled_after_add_updates():
    linear, _, x, y, cost = regression()
    algorithm = GradientDescent(cost=cost)
    algorithm.initialize()
    function = algorithm._function
    algorithm.process_batch({"x": X, "y": Y})
    assert algorithm._function is function
    extra = pytensor.shared(0.0, name="extra")
    algorithm.add_updates({extra: extra + x.sum()})
    algorithm.process_batch({"x": X, "y": Y})
    assert algorithm._function is not function
    np.testing.assert_allclose(extra.get_value(), X.sum())


def test_updates_algorithm_setter_and_pickling():
    total = pytensor.shared(0.0, name="total")
    x = pt.vector("x")
    algorithm = UpdatesAlgorithm()
    algorithm.updates = [(total, total + x.sum())]
    algorithm.process_batch({"x": np.ones(3)})
    copy = pickle.loads(pickle.dumps(algorithm))
    copy.process_batch({"x": np.ones(2)})
    assert float(copy.updates[0][0].get_value()) == 5.0
    assert float(total.get_value()) == 3.0


def test_unused_sources_policies():
    total = pytensor.shared(0.0, name="total")
    x = pt.vector("x")
    batch = {"x": np.ones(2), "label": np.zeros(2), "extra": np.zeros(1)}
    raising = UpdatesAlgorithm(updates=[(total, total + x.sum())])
    with pytest.raises(ValueError, match=r"does not use the batch source\(s\) \['label', "
                                         r"'extra'\]; its inputs are \['x'\]"):
        raising.process_batch(batch)
    assert float(total.get_value()) == 0.0
    warning = UpdatesAlgorithm(updates=[(total, total + x.sum())], on_unused_sources="warn")
    with pytest.warns(UserWarning, match=r"does not use the batch source\(s\)"):
        warning.process_batch(batch)
    assert float(total.get_value()) == 2.0
    ignoring = UpdatesAlgorithm(updates=[(total, total + x.sum())], on_unused_sources="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ignoring.process_batch(batch)
    assert float(total.get_value()) == 4.0


def test_missing_source_and_bad_batch():
    linear, _, x, y, cost = regression()
    algorithm = GradientDescent(cost=cost)
    with pytest.raises(ValueError, match=r"lacks the source\(s\) \['y'\] that the training "
                                         r"function needs; the batch has \['x'\]"):
        algorithm.process_batch({"x": X})
    np.testing.assert_array_equal(linear.W.get_value(), W_INIT)
    with pytest.raises(TypeError, match=r"expected a dict .* got tuple .*as_dict=True"):
        algorithm.process_batch((X, Y))


def test_bad_on_unused_sources():
    with pytest.raises(ValueError, match="on_unused_sources must be one of"):
        UpdatesAlgorithm(on_unused_sources="complain")


def test_bad_updates():
    total = pytensor.shared(0.0, name="total")
    with pytest.raises(TypeError, match="only shared variables can be updated"):
        UpdatesAlgorithm(updates=[(pt.scalar("s"), total)])
    with pytest.raises(TypeError, match=r"each update must be a \(shared variable, new value\)"):
        UpdatesAlgorithm(updates=[(total,)])
    with pytest.raises(TypeError, match="updates must be a dict or a list"):
        UpdatesAlgorithm(updates=total)
    with pytest.raises(ValueError, match="'total' would be updated twice"):
        UpdatesAlgorithm(updates=[(total, total + 1), (total, total * 2)])


def test_inputs_must_be_named_uniquely():
    total = pytensor.shared(0.0, name="total")
    with pytest.raises(ValueError, match="unnamed inputs"):
        UpdatesAlgorithm(updates=[(total, pt.scalar())]).initialize()
    with pytest.raises(ValueError, match=r"share the name\(s\) \['x'\]"):
        UpdatesAlgorithm(updates=[(total, pt.scalar("x") + pt.scalar("x"))]).initialize()


def test_cost_must_be_a_float_scalar():
    linear, _, x, y, cost = regression()
    with pytest.raises(ValueError, match=r"the cost must be a scalar, expected ndim=0, found "
                                         r"ndim=2"):
        GradientDescent(cost=linear.apply(x))
    with pytest.raises(TypeError, match="float dtype"):
        GradientDescent(cost=pt.lscalar("n"), parameters=[linear.W])
    with pytest.raises(TypeError, match="cost must be a symbolic variable"):
        GradientDescent(cost=1.0, parameters=[linear.W])
    with pytest.raises(ValueError, match="give a cost, or gradients"):
        GradientDescent(parameters=[linear.W])


def test_parameters_that_do_not_feed_the_cost():
    linear, _, x, y, cost = regression()
    other = Linear(input_dim=2, output_dim=2, name="unused")
    other.allocate()
    stray = pytensor.shared(np.zeros(2), name="stray")
    with pytest.raises(ValueError, match=r"do not feed the cost.*\['unused.W', 'stray'\]"):
        GradientDescent(cost=cost, parameters=[linear.W, other.W, stray])
    output = linear.apply(x)
    with pytest.raises(ValueError, match=r"are they behind consider_constant\?\): "
                                         r"\['linear.W', 'linear.b'\]"):
        GradientDescent(cost=(output * stray).sum() + output.sum(), consider_constant=[output],
                        parameters=[linear.W, linear.b, stray])


def test_bad_parameters_and_gradients():
    linear, _, x, y, cost = regression()
    with pytest.raises(ValueError, match="no parameters specified"):
        GradientDescent(cost=pt.sqr(x).sum())
    with pytest.raises(TypeError, match="parameters must be shared variables"):
        GradientDescent(cost=cost, parameters=[x])
    with pytest.raises(ValueError, match=r"parameters listed more than once: \['linear.W'\]"):
        GradientDescent(cost=cost, parameters=[linear.W, linear.W])
    with pytest.raises(ValueError, match=r"parameters without a gradient: \['linear.b'\]"):
        GradientDescent(gradients={linear.W: x}, parameters=[linear.W, linear.b])
    with pytest.raises(TypeError, match="step_rule must be a StepRule"):
        GradientDescent(cost=cost, step_rule=0.1)


def test_training_algorithm_is_abstract():
    with pytest.raises(NotImplementedError, match="must implement initialize"):
        TrainingAlgorithm().initialize()
    with pytest.raises(NotImplementedError, match="must implement process_batch"):
        TrainingAlgorithm().process_batch({})


# Blocks fidelity (issue 18): where Blocks' GradientDescent raises

def test_gradients_and_parameters_that_differ_follow_blocks_rules(caplog):
    from collections import OrderedDict

    linear, _, x, y, cost = regression()
    gW, gb = pytensor.grad(cost, [linear.W, linear.b])
    # A plain dict cannot tell the order of the parameters: refused, whichever is larger.
    for parameters, gradients in (([linear.W, linear.b], {linear.W: gW}),
                                  ([linear.W], {linear.W: gW, linear.b: gb})):
        with pytest.raises(ValueError, match="not an OrderedDict"):
            GradientDescent(parameters=parameters, gradients=gradients)
    # An OrderedDict wins over the parameters, with a warning.
    with caplog.at_level("WARNING"):
        algorithm = GradientDescent(parameters=[linear.W],
                                    gradients=OrderedDict([(linear.W, gW), (linear.b, gb)]))
    assert algorithm.parameters == [linear.W, linear.b]
    assert "does not match the keys of the gradient" in caplog.text
    # The same parameters in another order are fine.
    algorithm = GradientDescent(parameters=[linear.b, linear.W],
                                gradients={linear.W: gW, linear.b: gb})
    assert set(algorithm.parameters) == {linear.W, linear.b}
    for extra in ({"known_grads": {cost: pt.constant(1.0)}}, {"consider_constant": [x]}):
        with pytest.raises(ValueError, match="has no effect when gradients are passed in"):
            GradientDescent(gradients={linear.W: gW, linear.b: gb}, **extra)
    with pytest.raises(ValueError, match="can't infer gradients; no cost specified"):
        GradientDescent(parameters=[linear.W])
