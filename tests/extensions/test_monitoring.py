import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import GradientDescent, Scale
from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions import FinishAfter, TrainingExtension
from blocks.extensions.monitoring import DataStreamMonitoring, TrainingDataMonitoring
from blocks.main_loop import MainLoop
from blocks.monitoring import MonitoredQuantity

RNG = np.random.RandomState(2)
X = RNG.randn(10, 3)
Y = RNG.randn(10)
W0 = RNG.randn(3)
LEARNING_RATE = 0.1


def stream():
    dataset = IndexableDataset({"x": X, "y": Y})
    return DataStream(dataset, iteration_scheme=SequentialScheme(10, batch_size=4))


def graph():
    x, y = pt.matrix("x"), pt.vector("y")
    w = pytensor.shared(W0.copy(), name="w")
    cost = ((x.dot(w) - y) ** 2).mean()
    cost.name = "cost"
    norm = pt.sqrt((w ** 2).sum())
    norm.name = "w_norm"
    return w, cost, norm


class WeightsBeforeBatch(TrainingExtension):
    def __init__(self, w):
        super().__init__()
        self.w = w
        self.values = []

    def before_batch(self, batch):
        self.values.append(self.w.get_value().copy())


def numpy_cost(w, rows):
    return ((X[rows].dot(w) - Y[rows]) ** 2).mean()


BATCHES = [slice(0, 4), slice(4, 8), slice(8, 10)]


def test_training_data_monitoring_inside_the_training_function():
    w, cost, norm = graph()
    algorithm = GradientDescent(cost=cost, parameters=[w],
                                step_rule=Scale(learning_rate=LEARNING_RATE))
    weights = WeightsBeforeBatch(w)
    per_batch = TrainingDataMonitoring([cost], prefix="batch", after_batch=True)
    per_epoch = TrainingDataMonitoring([cost, norm], prefix="epoch", after_epoch=True)
    main_loop = MainLoop(algorithm, stream(), extensions=[
        weights, per_batch, per_epoch, FinishAfter(after_n_epochs=2)])
    main_loop.run()
    # The accumulators were compiled into the training function.
    accumulators = [shared for shared, _ in per_epoch._buffer.accumulation_updates]
    assert all(any(shared is target for target, _ in algorithm.updates)
               for shared in accumulators)
    log = main_loop.log
    expected = [numpy_cost(weights.values[i], BATCHES[i % 3]) for i in range(6)]
    for iteration in range(1, 7):
        np.testing.assert_allclose(log[iteration]["batch_cost"], expected[iteration - 1],
                                   rtol=1e-12)
    for epoch, end in enumerate([3, 6]):
        epoch_costs = expected[3 * epoch:3 * epoch + 3]
        np.testing.assert_allclose(log[end]["epoch_cost"],
                                   np.average(epoch_costs, weights=[4, 4, 2]), rtol=1e-12)
        # Data-independent quantities are read when recorded: the weights after the epoch.
        weights_after = weights.values[end] if end < 6 else w.get_value()
        np.testing.assert_allclose(log[end]["epoch_w_norm"], np.linalg.norm(weights_after))
    assert "epoch_cost" not in log[1]


class Sum(MonitoredQuantity):
    def initialize(self):
        self.total = 0.0

    def aggregate(self, value):
        self.total += float(value)

    def get_aggregated_value(self):
        return self.total


class PlainAlgorithm:
    """Numpy gradient descent on the same cost: no add_updates."""

    def __init__(self, w):
        self.w = w

    def initialize(self):
        pass

    def process_batch(self, batch):
        w = self.w.get_value()
        residual = batch["x"].dot(w) - batch["y"]
        gradient = 2 * batch["x"].T.dot(residual) / len(residual)
        self.w.set_value(w - LEARNING_RATE * gradient)


def test_training_data_monitoring_with_a_separate_function():
    w, cost, norm = graph()
    total = Sum(requires=[cost], name="sum_of_costs")
    weights = WeightsBeforeBatch(w)
    monitoring = TrainingDataMonitoring([cost, total], after_epoch=True)
    main_loop = MainLoop(PlainAlgorithm(w), stream(), extensions=[
        weights, monitoring, FinishAfter(after_n_epochs=1)])
    main_loop.run()
    expected = [numpy_cost(weights.values[i], BATCHES[i]) for i in range(3)]
    row = main_loop.log[3]
    np.testing.assert_allclose(row["cost"], np.average(expected, weights=[4, 4, 2]),
                               rtol=1e-12)
    np.testing.assert_allclose(row["sum_of_costs"], sum(expected), rtol=1e-12)


def test_recording_twice_at_the_same_point_repeats_the_values():
    w, cost, _ = graph()
    algorithm = GradientDescent(cost=cost, parameters=[w], step_rule=Scale(LEARNING_RATE))
    monitoring = TrainingDataMonitoring([cost], after_batch=True, after_epoch=True)
    main_loop = MainLoop(algorithm, stream(), extensions=[monitoring,
                                                          FinishAfter(after_n_epochs=1)])
    main_loop.run()
    assert np.isfinite(main_loop.log[3]["cost"])


def test_training_monitoring_resumes_from_a_pickle():
    w, cost, _ = graph()
    algorithm = GradientDescent(cost=cost, parameters=[w], step_rule=Scale(LEARNING_RATE))
    main_loop = MainLoop(algorithm, stream(), extensions=[
        TrainingDataMonitoring([cost], after_epoch=True), FinishAfter(after_n_epochs=1)])
    main_loop.run()
    resumed = pickle.loads(pickle.dumps(main_loop))
    resumed.find_extension("FinishAfter").set_conditions(after_n_epochs=2)
    (resumed_w,) = resumed.algorithm.parameters
    before = resumed_w.get_value().copy()
    resumed.run()
    first = numpy_cost(before, BATCHES[0])
    assert resumed.status["epochs_done"] == 2
    assert np.isfinite(resumed.log[6]["cost"]) and resumed.log[6]["cost"] < first + 10
    # One set of accumulation updates only: attaching again would have raised.
    assert len(resumed.algorithm.updates) == len(main_loop.algorithm.updates)


def test_data_stream_monitoring_in_a_main_loop():
    w, cost, norm = graph()
    algorithm = GradientDescent(cost=cost, parameters=[w], step_rule=Scale(LEARNING_RATE))
    valid = DataStreamMonitoring([cost, norm], stream(), prefix="valid")
    main_loop = MainLoop(algorithm, stream(), extensions=[valid, FinishAfter(after_n_epochs=1)])
    initial = np.mean((X.dot(W0) - Y) ** 2)
    main_loop.run()
    np.testing.assert_allclose(main_loop.log[0]["valid_cost"], initial, rtol=1e-12)
    final = np.mean((X.dot(w.get_value()) - Y) ** 2)
    np.testing.assert_allclose(main_loop.log[3]["valid_cost"], final, rtol=1e-12)
    np.testing.assert_allclose(main_loop.log[3]["valid_w_norm"], np.linalg.norm(w.get_value()))
    assert valid.record_name(cost) == "valid_cost"


def test_suffix_and_errors():
    _, cost, _ = graph()
    monitoring = DataStreamMonitoring([cost], stream(), prefix="valid", suffix="avg")
    assert monitoring.record_name(cost) == "valid_cost_avg"
    with pytest.raises(ValueError, match="must have names"):
        TrainingDataMonitoring([cost * 2], after_batch=True)
    with pytest.raises(TypeError, match="unknown keyword"):
        TrainingDataMonitoring([cost], after_every_other_batch=True)


def test_record_names_as_blocks_writes_them():
    from blocks.extensions.monitoring import SEPARATOR, MonitoringExtension

    assert MonitoringExtension.SEPARATOR == SEPARATOR == "_"
    x = pt.scalar("cost")
    assert DataStreamMonitoring([x], stream(), prefix="valid").record_name(x) == "valid_cost"
    both = DataStreamMonitoring([x], stream(), prefix="valid", suffix="best")
    assert both.record_name(x) == "valid_cost_best"

    class Dashed(DataStreamMonitoring):
        SEPARATOR = "-"

    assert Dashed([x], stream(), prefix="valid").record_name(x) == "valid-cost"
    with pytest.raises(ValueError, match="record name must be a string"):
        DataStreamMonitoring([x], stream())._record_name(None)
