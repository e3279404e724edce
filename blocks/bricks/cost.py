"""Cost bricks: compare targets ``y`` with predictions ``y_hat``.

Every cost takes ``apply(y, y_hat)`` and returns a scalar averaged over the examples of the
batch (the first axis). Targets whose shape cannot match the predictions are refused when
the graph is built (static sizes) or when it runs (the others).
"""

import pytensor
import pytensor.tensor as pt
from pytensor.tensor.special import xlogy

from blocks.bricks.base import Brick, application
from blocks.bricks.simple import (
    as_symbolic,
    check_categorical_targets,
    describe,
    match_shape,
    select_classes,
)
from blocks.bricks.validation import POSITIVE_INTEGER, PROBABILITY_BELOW_ONE

__all__ = [
    "Cost", "CostMatrix", "SquaredError", "AbsoluteError", "BinaryCrossEntropy",
    "CategoricalCrossEntropy", "MisclassificationRate", "smooth_labels",
]


def smooth_labels(cross_entropies, log_probabilities, smoothing):
    """Cross-entropies against targets smoothed towards the uniform distribution.

    With targets ``(1 - smoothing) * y + smoothing / K`` over ``K`` classes the
    cross-entropy is ``(1 - smoothing) * H(y, p) - smoothing * mean_k log p_k``: this
    returns that from the unsmoothed `cross_entropies` and the `log_probabilities`
    (classes on the last axis).

    >>> import pytensor.tensor as pt
    >>> log_p = pt.log(pt.as_tensor([[0.5, 0.25, 0.25]]))
    >>> smooth_labels(-log_p[:, 0], log_p, 0.3).eval().round(4)  # targets [0.8, 0.1, 0.1]
    array([0.8318])
    """
    PROBABILITY_BELOW_ONE("smooth_labels", "smoothing", smoothing)
    if smoothing == 0:
        return cross_entropies
    uniform = -log_probabilities.mean(axis=-1)
    return (1 - smoothing) * cross_entropies + smoothing * uniform


class Cost(Brick):
    """Base class of the costs: ``apply(y, y_hat)`` returns a scalar ``cost``."""

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def apply(self, y, y_hat):
        raise NotImplementedError(f"{type(self).__name__} must implement apply(y, y_hat)")


class CostMatrix(Cost):
    """Base class for costs which can be calculated elementwise.

    Assumes that the data has format (batch, features): :meth:`cost_matrix` gives the cost
    of every entry, and :meth:`apply` averages over the batch the sum of the costs of each
    example.
    """

    def _check(self, y, y_hat):
        y_hat = as_symbolic(self, "y_hat", y_hat)
        y = as_symbolic(self, "y", y)
        if y.ndim != y_hat.ndim:
            raise ValueError(
                f"{describe(self)}: argument 'y' must have the shape of 'y_hat': expected "
                f"ndim={y_hat.ndim}, found ndim={y.ndim}"
            )
        if y.ndim < 1:
            raise ValueError(
                f"{describe(self)}: argument 'y_hat': expected ndim >= 1 (batch first), "
                f"found ndim=0"
            )
        return match_shape(self, "y", y, "y_hat", y_hat), y_hat

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def apply(self, y, y_hat):
        matrix = self.cost_matrix(y, y_hat)
        if matrix.ndim == 1:
            return matrix.mean()
        return matrix.sum(axis=tuple(range(1, matrix.ndim))).mean()

    @application(inputs=["y", "y_hat"])
    def cost_matrix(self, y, y_hat):
        """The elementwise cost, of the shape of `y` and `y_hat`."""
        return self.elementwise_cost(*self._check(y, y_hat))

    def elementwise_cost(self, y, y_hat):
        raise NotImplementedError(
            f"{type(self).__name__} must implement elementwise_cost(y, y_hat)"
        )


class SquaredError(CostMatrix):
    r"""The squared error :math:`(y - \hat y)^2`, summed per example, averaged per batch.

    >>> y, y_hat = pytensor.tensor.matrix('y'), pytensor.tensor.matrix('y_hat')
    >>> SquaredError().apply(y, y_hat).eval({y: [[1., 2.], [0., 0.]],
    ...                                      y_hat: [[0., 0.], [0., 1.]]})
    array(3.)
    """

    def elementwise_cost(self, y, y_hat):
        return pt.sqr(y - y_hat)


class AbsoluteError(CostMatrix):
    r"""The absolute error :math:`|y - \hat y|`, summed per example, averaged per batch.

    >>> y, y_hat = pytensor.tensor.matrix('y'), pytensor.tensor.matrix('y_hat')
    >>> AbsoluteError().apply(y, y_hat).eval({y: [[1., 2.], [0., 0.]],
    ...                                       y_hat: [[0., 0.], [0., 1.]]})
    array(2.)
    """

    def elementwise_cost(self, y, y_hat):
        return abs(y - y_hat)


class BinaryCrossEntropy(CostMatrix):
    r"""The cross-entropy of binary targets `y` and predicted probabilities `y_hat`.

    :math:`-y \log \hat y - (1 - y) \log(1 - \hat y)`, summed per example, averaged per
    batch.

    >>> y, y_hat = pytensor.tensor.matrix('y'), pytensor.tensor.matrix('y_hat')
    >>> cost = BinaryCrossEntropy().apply(y, y_hat)
    >>> cost.eval({y: [[1., 0.]], y_hat: [[0.5, 0.5]]}).round(4)
    np.float64(1.3863)
    """

    def elementwise_cost(self, y, y_hat):
        return -xlogy(y, y_hat) - xlogy(1 - y, 1 - y_hat)


class CategoricalCrossEntropy(Cost):
    r"""The cross-entropy of categorical targets and predicted probabilities, batch mean.

    `y` is a vector of integer class indices or a matrix of one-hot (or probability) rows;
    `y_hat` is a matrix of probabilities, one row per example. For pre-softmax values,
    :meth:`~blocks.bricks.Softmax.categorical_cross_entropy` is numerically stable.

    Parameters
    ----------
    label_smoothing : float, optional
        In [0, 1): the targets become ``(1 - label_smoothing) * y + label_smoothing / K``
        for ``K`` classes (see :func:`smooth_labels`). 0 by default.

    >>> y = pytensor.tensor.lvector('y')
    >>> y_hat = pytensor.tensor.matrix('y_hat')
    >>> cost = CategoricalCrossEntropy().apply(y, y_hat)
    >>> cost.eval({y: [0, 1], y_hat: [[0.5, 0.5], [0.2, 0.8]]}).round(4)
    np.float64(0.4581)
    """

    argument_checks = {"label_smoothing": PROBABILITY_BELOW_ONE}

    def __init__(self, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing

    @application(inputs=["y", "y_hat"], outputs=["cost"])
    def apply(self, y, y_hat):
        y, y_hat = check_categorical_targets(self, "y", y, "y_hat", y_hat)
        if y.ndim == 1:
            costs = -pt.log(select_classes(y_hat, y))
        else:
            costs = -xlogy(y, y_hat).sum(axis=1)
        return smooth_labels(costs, pt.log(y_hat), self.label_smoothing).mean()


class MisclassificationRate(Cost):
    """Calculates the misclassification rate for a mini-batch.

    Parameters
    ----------
    top_k : int, optional
        If the ground truth class is within the `top_k` highest responses for a given
        example, the model is considered to have predicted correctly. Default: 1.

    Notes
    -----
    Ties for `top_k`-th place are broken pessimistically, i.e. in the (in practice, rare)
    case that there is a tie for `top_k`-th highest output for a given example, it is
    considered an incorrect prediction.

    Examples
    --------
    >>> y = pytensor.tensor.lvector('y')
    >>> y_hat = pytensor.tensor.matrix('y_hat')
    >>> error = MisclassificationRate().apply(y, y_hat)
    >>> error.eval({y: [0, 1, 1, 0], y_hat: [[.9, .1], [.8, .2], [.5, .5], [.3, .7]]})
    array(0.75)
    """

    argument_checks = {"top_k": POSITIVE_INTEGER}

    def __init__(self, top_k=1, **kwargs):
        super().__init__(**kwargs)
        self.top_k = top_k

    @application(inputs=["y", "y_hat"], outputs=["error_rate"])
    def apply(self, y, y_hat):
        """The fraction of examples whose class `y` is not among the `top_k` of `y_hat`.

        Parameters
        ----------
        y : TensorVariable
            A vector of integer class indices.
        y_hat : TensorVariable
            A matrix of scores, one row per example.
        """
        y, y_hat = check_categorical_targets(self, "y", y, "y_hat", y_hat)
        if y.ndim != 1:
            raise ValueError(
                f"{describe(self)}: argument 'y': expected ndim=1 (integer class indices), "
                f"found ndim={y.ndim}"
            )
        # The pessimistic rank of the target: classes scoring at least as high, itself
        # included, so that a tie at the k-th place makes the rank exceed k.
        target_scores = select_classes(y_hat, y)
        rank = pt.ge(y_hat, target_scores[:, None]).sum(axis=1)
        return pt.gt(rank, self.top_k).mean(dtype=pytensor.config.floatX)
