import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.monitoring import (
    AggregationBuffer,
    AggregationScheme,
    DatasetEvaluator,
    MonitoredQuantity,
    mean,
)

RNG = np.random.RandomState(1)
X = RNG.randn(10, 3)
LABELS = RNG.randint(0, 2, size=10)
W = RNG.randn(3)


def stream(batch_size=4):
    dataset = IndexableDataset({"x": X, "labels": LABELS})
    return DataStream(dataset, iteration_scheme=SequentialScheme(10, batch_size))


def named(variable, name):
    variable.name = name
    return variable


x, labels = pt.matrix("x"), pt.lvector("labels")
w = pytensor.shared(W, name="w")
scores = x.dot(w)


def test_unannotated_means_are_exact_over_uneven_batches():
    cost = named((scores ** 2).mean(), "cost")
    value = DatasetEvaluator([cost]).evaluate(stream())["cost"]
    expected = (X.dot(W) ** 2).mean()
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    # A plain mean of the batch means (4, 4, 2 examples) would be wrong.
    batch_means = [(X[i:i + 4].dot(W) ** 2).mean() for i in (0, 4, 8)]
    assert abs(np.mean(batch_means) - expected) > 1e-3


def test_explicit_mean_with_integer_counts():
    errors = pt.neq(pt.gt(scores, 0), labels).sum()
    error_rate = named(mean(errors, labels.shape[0]), "error_rate")
    value = DatasetEvaluator([error_rate]).evaluate(stream(batch_size=3))["error_rate"]
    assert value == np.mean((X.dot(W) > 0) != LABELS)


def test_multidimensional_quantities():
    column_means = named(x.mean(axis=0), "column_means")
    gram = named(mean(x.T.dot(x), x.shape[0]), "gram")
    values = DatasetEvaluator([column_means, gram]).evaluate(stream())
    np.testing.assert_allclose(values["column_means"], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(values["gram"], X.T.dot(X) / 10, rtol=1e-12)


@pytest.mark.numba
def test_exact_means_under_numba():
    # The accumulation of quantities with axes (inc_subtensor into zeros) compiles.
    column_means = named(x.mean(axis=0), "column_means")
    values = DatasetEvaluator([column_means]).evaluate(stream())
    np.testing.assert_allclose(values["column_means"], X.mean(axis=0), rtol=1e-12)


def test_take_last_and_data_independent():
    last = named(x.sum(), "last_sum")
    norm = named(pt.sqrt((w ** 2).sum()), "w_norm")
    evaluator = DatasetEvaluator([last, norm], use_take_last=True)
    values = evaluator.evaluate(stream())
    np.testing.assert_allclose(values["last_sum"], X[8:].sum())
    np.testing.assert_allclose(values["w_norm"], np.linalg.norm(W))
    w.set_value(2 * W)
    try:
        np.testing.assert_allclose(evaluator.evaluate(stream())["w_norm"],
                                   2 * np.linalg.norm(W))
    finally:
        w.set_value(W)


class MaxAbs(MonitoredQuantity):
    def initialize(self):
        self.value = -np.inf
        self.batches = 0

    def aggregate(self, values, label_values):
        self.value = max(self.value, float(np.abs(values).max()))
        self.batches += 1

    def get_aggregated_value(self):
        return self.value


def test_monitored_quantities_and_reevaluation():
    quantity = MaxAbs(requires=[scores, labels], name="max_abs")
    cost = named((scores ** 2).mean(), "cost")
    evaluator = DatasetEvaluator([quantity, cost])
    first = evaluator.evaluate(stream())
    second = evaluator.evaluate(stream())
    assert first["max_abs"] == second["max_abs"] == np.abs(X.dot(W)).max()
    assert quantity.batches == 3
    assert list(first) == ["cost", "max_abs"]
    np.testing.assert_allclose(first["cost"], second["cost"], rtol=0)


def test_updates_and_pickling():
    counter = pytensor.shared(0, name="counter")
    cost = named((scores ** 2).mean(), "cost")
    evaluator = DatasetEvaluator([cost], updates=[(counter, counter + 1)])
    evaluator.evaluate(stream())
    assert counter.get_value() == 3
    copy = pickle.loads(pickle.dumps(evaluator))
    np.testing.assert_allclose(copy.evaluate(stream())["cost"], (X.dot(W) ** 2).mean())


def test_evaluator_errors():
    with pytest.raises(ValueError, match="must have names"):
        DatasetEvaluator([x.sum()])
    with pytest.raises(ValueError, match="should have unique names; duplicates: a"):
        DatasetEvaluator([named(x.sum(), "a"), named(x.mean(), "a")])
    with pytest.raises(TypeError, match="symbolic variables or MonitoredQuantity"):
        DatasetEvaluator([3.0])
    evaluator = DatasetEvaluator([named(mean(pt.neq(labels, 0).sum(), x.shape[0]), "r")])
    with pytest.raises(ValueError, match="lacks the source\\(s\\) \\['labels'\\]"):
        evaluator.evaluate([{"x": X}])
    with pytest.raises(TypeError, match="must be dicts"):
        evaluator.evaluate([(X, LABELS)])
    with pytest.raises(ValueError, match="gave no batch"):
        evaluator.evaluate([])
    unnamed_input = pt.matrix()
    with pytest.raises(ValueError, match="must have names"):
        DatasetEvaluator([named(unnamed_input.sum(), "s")]).evaluate([{"x": X}])


def test_buffer_attributes():
    cost = named((scores ** 2).mean(), "cost")
    norm = named(w.sum(), "w_sum")
    buffer = AggregationBuffer([cost, norm])
    assert [v.name for v in buffer.inputs] == ["x"]
    assert list(buffer.readout_variables) == ["cost", "w_sum"]
    assert len(buffer.accumulation_updates) == 2  # numerator and denominator of the cost
    buffer.initialize_aggregators()
    for shared, _ in buffer.accumulation_updates:
        assert shared.get_value() == 0


def test_abstract_classes():
    with pytest.raises(NotImplementedError, match="get_aggregator"):
        AggregationScheme().get_aggregator()
    quantity = MonitoredQuantity(name="q")
    for method, args in [("initialize", ()), ("aggregate", (1,)),
                         ("get_aggregated_value", ())]:
        with pytest.raises(NotImplementedError, match=method):
            getattr(quantity, method)(*args)
