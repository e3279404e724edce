"""Cost bricks against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks.cost import (
    AbsoluteError,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Cost,
    CostMatrix,
    MisclassificationRate,
    SquaredError,
)

RNG = np.random.default_rng(42)
Y = RNG.uniform(size=(4, 3))
Y_HAT = RNG.uniform(0.05, 0.95, size=(4, 3))


@pytest.mark.parametrize("brick, reference", [
    (SquaredError(), lambda y, y_hat: (y - y_hat) ** 2),
    (AbsoluteError(), lambda y, y_hat: np.abs(y - y_hat)),
    (BinaryCrossEntropy(), lambda y, y_hat: -y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat)),
])
def test_cost_matrices_match_numpy(brick, reference):
    y, y_hat = pt.matrix("y"), pt.matrix("y_hat")
    matrix = brick.cost_matrix(y, y_hat)
    cost = brick.apply(y, y_hat)
    assert cost.name == f"{brick.name}_apply_cost" and cost.ndim == 0
    matrix_value, cost_value = pytensor.function([y, y_hat], [matrix, cost])(Y, Y_HAT)
    np.testing.assert_allclose(matrix_value, reference(Y, Y_HAT))
    np.testing.assert_allclose(cost_value, reference(Y, Y_HAT).sum(axis=1).mean())
    verify_grad(lambda p: brick.apply(pt.as_tensor(Y), p), [Y_HAT],
                rng=np.random.default_rng(0))


def test_cost_matrix_of_a_vector_and_of_a_tensor3():
    y, y_hat = pt.vector(), pt.vector()
    np.testing.assert_allclose(
        SquaredError().apply(y, y_hat).eval({y: [1., 2.], y_hat: [0., 0.]}), 2.5)
    y3, y_hat3 = pt.tensor3(), pt.tensor3()
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 3, 4))
    np.testing.assert_allclose(AbsoluteError().apply(y3, y_hat3).eval({y3: a, y_hat3: b}),
                               np.abs(a - b).sum(axis=(1, 2)).mean())


def test_binary_cross_entropy_at_certain_targets_is_finite():
    y, y_hat = pt.matrix(), pt.matrix()
    value = BinaryCrossEntropy().apply(y, y_hat).eval({y: [[1., 0.]], y_hat: [[1., 0.]]})
    assert value == 0


def test_categorical_cross_entropy_matches_numpy_and_grad():
    probabilities = RNG.dirichlet(np.ones(3), size=4)
    labels = np.array([0, 2, 1, 2])
    y, p, y_hat = pt.lvector("y"), pt.matrix("p"), pt.matrix("y_hat")
    brick = CategoricalCrossEntropy()
    function = pytensor.function([y, p, y_hat], [brick.apply(y, y_hat), brick.apply(p, y_hat)])
    targets = RNG.dirichlet(np.ones(3), size=4)
    by_index, by_matrix = function(labels, targets, probabilities)
    np.testing.assert_allclose(by_index, -np.log(probabilities[np.arange(4), labels]).mean())
    np.testing.assert_allclose(by_matrix,
                               -(targets * np.log(probabilities)).sum(axis=1).mean())
    np.testing.assert_allclose(function(labels, np.eye(3)[labels], probabilities)[1], by_index)
    verify_grad(lambda q: brick.apply(pt.as_tensor(labels), q), [probabilities],
                rng=np.random.default_rng(0))
    verify_grad(lambda q: brick.apply(pt.as_tensor(targets), q), [probabilities],
                rng=np.random.default_rng(0))


def numpy_misclassification(labels, scores, top_k):
    errors = []
    for label, row in zip(labels, scores):
        # Sort by decreasing score, the target last among equal scores (pessimistic).
        order = sorted(range(len(row)), key=lambda c: (-row[c], c == label))
        errors.append(order.index(label) >= top_k)
    return np.mean(errors)


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_misclassification_rate_matches_numpy_with_ties(top_k):
    scores = np.array([[.1, .5, .4, .0], [.3, .3, .2, .2], [.2, .2, .2, .4],
                       [.7, .1, .1, .1], [.25, .25, .25, .25], [.0, .1, .2, .7]])
    labels = np.array([1, 0, 2, 3, 3, 0])
    y, y_hat = pt.lvector("y"), pt.matrix("y_hat")
    error = MisclassificationRate(top_k=top_k).apply(y, y_hat)
    assert error.name == "misclassificationrate_apply_error_rate"
    value = error.eval({y: labels, y_hat: scores})
    np.testing.assert_allclose(value, numpy_misclassification(labels, scores, top_k))
    random_scores = RNG.integers(0, 3, size=(20, 4)).astype(float)
    random_labels = RNG.integers(0, 4, size=20)
    np.testing.assert_allclose(error.eval({y: random_labels, y_hat: random_scores}),
                               numpy_misclassification(random_labels, random_scores, top_k))


def test_misclassification_rate_tie_is_an_error():
    y, y_hat = pt.lvector(), pt.matrix()
    error = MisclassificationRate().apply(y, y_hat)
    assert error.eval({y: [0], y_hat: [[.5, .5]]}) == 1
    assert error.eval({y: [0], y_hat: [[.6, .4]]}) == 0


def test_misclassification_rate_errors():
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        MisclassificationRate(top_k=0)
    with pytest.raises(ValueError, match="MisclassificationRate .*'y': expected ndim=1"):
        MisclassificationRate().apply(pt.matrix(), pt.matrix())
    with pytest.raises(TypeError, match="'y' is a vector, so it must hold integer"):
        MisclassificationRate().apply(pt.vector(), pt.matrix())


def test_mismatched_targets_are_refused():
    with pytest.raises(ValueError, match="SquaredError 'squarederror': argument 'y' must have "
                                         "the shape of 'y_hat': expected ndim=2, found ndim=1"):
        SquaredError().apply(pt.vector(), pt.matrix())
    with pytest.raises(ValueError, match="AbsoluteError.*'y' must match 'y_hat'.*static"):
        AbsoluteError().apply(pt.tensor(shape=(2, 3)), pt.tensor(shape=(2, 4)))
    with pytest.raises(ValueError, match="CategoricalCrossEntropy.*'y' must match 'y_hat'"):
        CategoricalCrossEntropy().apply(pt.tensor(dtype="int64", shape=(5,)),
                                        pt.tensor(shape=(4, 3)))
    with pytest.raises(ValueError, match="CategoricalCrossEntropy.*'y_hat': expected ndim=2"):
        CategoricalCrossEntropy().apply(pt.lvector(), pt.tensor3())
    with pytest.raises(ValueError, match="expected ndim >= 1"):
        SquaredError().apply(pt.scalar(), pt.scalar())
    with pytest.raises(TypeError, match="'y' must be a symbolic variable"):
        SquaredError().cost_matrix("y", pt.matrix())


def test_mismatched_targets_are_refused_at_run_time():
    y, y_hat = pt.matrix(), pt.matrix()
    cost = SquaredError().apply(y, y_hat)
    with pytest.raises(AssertionError, match="SquaredError 'squarederror': argument 'y' must "
                                             "match 'y_hat'"):
        cost.eval({y: np.ones((4, 1)), y_hat: np.ones((4, 3))})
    labels, probabilities = pt.lvector(), pt.matrix()
    cost = CategoricalCrossEntropy().apply(labels, probabilities)
    with pytest.raises(AssertionError, match="'y' must match 'y_hat'"):
        cost.eval({labels: [0], probabilities: np.full((3, 2), .5)})


def test_abstract_costs():
    with pytest.raises(NotImplementedError, match="Cost must implement apply"):
        Cost().apply(pt.matrix(), pt.matrix())
    with pytest.raises(NotImplementedError, match="CostMatrix must implement elementwise"):
        CostMatrix().apply(pt.matrix(), pt.matrix())
