"""Label smoothing of CategoricalCrossEntropy and SoftmaxEmitter against numpy."""

import numpy as np
import pytensor.tensor as pt
import pytest
from scipy.special import log_softmax

from blocks.bricks.cost import CategoricalCrossEntropy, smooth_labels
from blocks.bricks.sequence_generators import SoftmaxEmitter

RNG = np.random.default_rng(8)
CLASSES = 4
SCORES = RNG.normal(size=(5, CLASSES))
PROBABILITIES = np.exp(log_softmax(SCORES, axis=1))
TARGETS = RNG.integers(0, CLASSES, size=5)


def smoothed_targets(targets, smoothing):
    return (1 - smoothing) * np.eye(CLASSES)[targets] + smoothing / CLASSES


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_categorical_cross_entropy(smoothing):
    y, y_hat = pt.lvector("y"), pt.matrix("y_hat")
    brick = CategoricalCrossEntropy(label_smoothing=smoothing)
    expected = -(smoothed_targets(TARGETS, smoothing) * np.log(PROBABILITIES)).sum(1).mean()
    got = brick.apply(y, y_hat).eval({y: TARGETS, y_hat: PROBABILITIES})
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # One-hot rows give the same.
    rows = pt.matrix("rows")
    got = brick.apply(rows, y_hat).eval({rows: np.eye(CLASSES)[TARGETS], y_hat: PROBABILITIES})
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_softmax_emitter_over_sequences():
    readouts, outputs = pt.tensor3("readouts"), pt.lmatrix("outputs")
    scores = RNG.normal(size=(3, 2, CLASSES))
    targets = RNG.integers(0, CLASSES, size=(3, 2))
    emitter = SoftmaxEmitter(label_smoothing=0.2)
    got = emitter.cost(readouts, outputs).eval({readouts: scores, outputs: targets})
    expected = -(smoothed_targets(targets, 0.2) * log_softmax(scores, axis=-1)).sum(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    plain = SoftmaxEmitter().cost(readouts, outputs).eval({readouts: scores, outputs: targets})
    assert not np.allclose(plain, got)


@pytest.mark.parametrize("value, error", [(-0.1, ValueError), (1.0, ValueError),
                                          ("0.1", TypeError), (True, TypeError)])
def test_bad_smoothing(value, error):
    expected = rf"label_smoothing must be a probability in \[0, 1\), got {value!r}$"
    with pytest.raises(error, match=r"^CategoricalCrossEntropy 'categoricalcrossentropy': "
                                    + expected):
        CategoricalCrossEntropy(label_smoothing=value)
    with pytest.raises(error, match=r"^SoftmaxEmitter 'softmaxemitter': " + expected):
        SoftmaxEmitter(label_smoothing=value)
    with pytest.raises(error, match=r"^smooth_labels: smoothing must be a probability"):
        smooth_labels(pt.vector(), pt.matrix(), value)
