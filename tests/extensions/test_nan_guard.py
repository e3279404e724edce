"""TerminateOnNaN: training stops at the first non-finite cost or parameter."""

import logging

import numpy as np
import pytensor.tensor as pt
import pytest

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import Linear
from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions import FinishAfter
from blocks.extensions.nan_guard import NonFiniteError, TerminateOnNaN, _nonfinite_counts
from blocks.extensions.saveload import Checkpoint
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.serialization import load


def build(features, extensions, learning_rate=0.01):
    """Linear regression on `features` in batches of 2, in order."""
    x, y = pt.matrix("x"), pt.matrix("y")
    linear = Linear(input_dim=3, output_dim=1, name="linear")
    linear.allocate()
    linear.W.set_value(np.full((3, 1), 0.1))
    linear.b.set_value(np.zeros(1))
    cost = ((linear.apply(x) - y) ** 2).mean()
    cost.name = "squared_error"
    algorithm = GradientDescent(cost=cost, parameters=[linear.W, linear.b],
                                step_rule=Scale(learning_rate))
    targets = np.ones((len(features), 1))
    stream = DataStream(IndexableDataset({"x": features, "y": targets}),
                        iteration_scheme=SequentialScheme(len(features), 2))
    return MainLoop(algorithm, stream, model=Model(cost), extensions=extensions)


def test_a_nan_in_the_data_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    features = np.ones((10, 3))
    features[5, 1] = np.nan  # in the third batch
    path = str(tmp_path / "c.tar")
    main_loop = build(features, [TerminateOnNaN(), Checkpoint(path, every_n_batches=1),
                                 FinishAfter(after_n_epochs=2)])
    with pytest.raises(NonFiniteError) as error:
        main_loop.run()
    message = str(error.value)
    assert "training stopped at iteration 3 (epoch 1)" in message
    assert "the cost 'squared_error' of the batch is nan" in message
    assert "parameter /linear.W of Linear 'linear' has 3 NaN and 0 infinite entries of 3" \
        in message
    assert main_loop.status["iterations_done"] == 3
    saved = load(path)
    assert saved.status["iterations_done"] == 2
    for value in saved.model.get_parameter_values().values():
        assert np.isfinite(value).all()


def test_an_infinite_parameter_is_named_with_its_brick():
    # A step so large that the weights overflow float32/float64 while the cost that
    # produced it was finite.
    features = np.full((4, 3), 1e200)
    main_loop = build(features, [TerminateOnNaN(), FinishAfter(after_n_epochs=1)],
                      learning_rate=1e200)
    with pytest.raises(NonFiniteError, match=r"iteration 1 .*parameter /linear\.W of "
                                             r"Linear 'linear' has 0 NaN and 3 infinite"):
        main_loop.run()


def test_finite_training_runs_to_the_end_and_resumes_without_adding_updates_twice(tmp_path):
    path = str(tmp_path / "c.tar")
    main_loop = build(np.ones((4, 3)), [TerminateOnNaN(), Checkpoint(path),
                                        FinishAfter(after_n_epochs=1)])
    main_loop.run()
    assert main_loop.status["epochs_done"] == 1
    resumed = load(path)
    resumed.find_extension("FinishAfter").set_conditions(after_n_epochs=2)
    resumed.run()
    assert resumed.status["epochs_done"] == 2


def test_a_checkpoint_that_saves_first_is_warned_about(caplog):
    main_loop = build(np.ones((2, 3)), [Checkpoint("unused.tar", every_n_batches=1),
                                        TerminateOnNaN()])
    main_loop.extensions[0].do = lambda *args: None  # write nothing
    main_loop.extensions.append(FinishAfter(after_n_batches=1))
    main_loop.extensions[-1].main_loop = main_loop
    with caplog.at_level(logging.WARNING):
        main_loop.run()
    assert "TerminateOnNaN comes after 'Checkpoint'" in caplog.text


def test_nonfinite_counts():
    assert _nonfinite_counts(np.array([1.0, np.nan, np.inf, -np.inf])) == (1, 2)
    # Entries whose sum overflows are finite all the same.
    assert _nonfinite_counts(np.array([3e38, 3e38], dtype="float32")) == (0, 0)
    assert _nonfinite_counts(np.arange(3)) == (0, 0)
