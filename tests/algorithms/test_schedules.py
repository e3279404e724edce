"""Learning-rate schedules: their factors, and a checkpointed run resuming them exactly."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.algorithms import (
    AdamW,
    CompositeRule,
    GradientDescent,
    InverseSquareRootSchedule,
    Scale,
    WarmupCosineSchedule,
)
from blocks.bricks import Linear
from blocks.datasets import DataStream, IndexableDataset, ShuffledScheme
from blocks.extensions import FinishAfter, TrainingExtension
from blocks.extensions.saveload import Checkpoint
from blocks.main_loop import MainLoop
from blocks.roles import ALGORITHM_BUFFER, has_roles
from blocks.serialization import load


def numpy_warmup_cosine(t, warmup, total, final):
    if t <= warmup:
        return t / max(warmup, 1)
    progress = min(1.0, (t - warmup) / (total - warmup))
    return final + (1 - final) * (1 + np.cos(np.pi * progress)) / 2


@pytest.mark.parametrize("warmup, total, final", [(3, 10, 0.0), (0, 5, 0.1), (4, 5, 0.5)])
def test_warmup_cosine_factors(warmup, total, final):
    schedule = WarmupCosineSchedule(warmup, total, final_factor=final)
    for t in range(1, total + 3):
        assert schedule.factor_at(t) == pytest.approx(
            numpy_warmup_cosine(t, warmup, total, final), rel=1e-12, abs=1e-15)


def test_inverse_square_root_factors():
    schedule = InverseSquareRootSchedule(warmup_steps=9)
    for t in (1, 5, 9, 10, 100):
        assert schedule.factor_at(t) == pytest.approx(min(t / 9, np.sqrt(9 / t)), rel=1e-12)


def test_steps_are_scaled_by_the_factor_of_each_step_and_the_count_is_a_buffer():
    schedule = WarmupCosineSchedule(2, 6)
    parameter = pytensor.shared(np.zeros(1), name="p")
    steps, updates = CompositeRule([Scale(1.0), schedule]).compute_steps(
        {parameter: pt.ones(1)})
    step = pytensor.function([], steps[parameter], updates=updates)
    taken = [float(step()[0]) for _ in range(7)]
    np.testing.assert_allclose(taken, [numpy_warmup_cosine(t, 2, 6, 0) for t in range(1, 8)],
                               atol=1e-15)
    assert has_roles(schedule.steps_done, [ALGORITHM_BUFFER])
    assert schedule.steps_done.get_value() == 7


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"total_steps must be an int >= 4"):
        WarmupCosineSchedule(3, 3)
    with pytest.raises(ValueError, match=r"final_factor must be in \[0, 1\]"):
        WarmupCosineSchedule(0, 3, final_factor=2)
    with pytest.raises(ValueError, match=r"warmup_steps must be an int >= 1"):
        InverseSquareRootSchedule(0)


# Resuming

RNG = np.random.RandomState(0)
FEATURES = RNG.randn(10, 3)
TARGETS = FEATURES.dot([[1.0], [-2.0], [0.5]]) + 0.3


def build(extensions=()):
    x, y = pt.matrix("x"), pt.matrix("y")
    linear = Linear(input_dim=3, output_dim=1)
    linear.allocate()
    linear.W.set_value(np.random.RandomState(1).randn(3, 1))
    linear.b.set_value(np.zeros(1))
    cost = ((linear.apply(x) - y) ** 2).mean()
    cost.name = "cost"
    rule = CompositeRule([AdamW(learning_rate=0.1, weight_decay=0.1),
                          WarmupCosineSchedule(warmup_steps=3, total_steps=12)])
    algorithm = GradientDescent(cost=cost, parameters=[linear.W, linear.b], step_rule=rule)
    stream = DataStream(IndexableDataset({"x": FEATURES, "y": TARGETS}),
                        iteration_scheme=ShuffledScheme(10, batch_size=4, rng=7))
    return MainLoop(algorithm, stream, extensions=[*extensions, FinishAfter(after_n_epochs=4)])


class InterruptAt(TrainingExtension):
    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def after_batch(self, batch):
        if self.main_loop.status["iterations_done"] == self.iteration:
            self.main_loop.status["batch_interrupt_received"] = True


def values(main_loop):
    return [p.get_value() for p in main_loop.algorithm.parameters]


def test_a_resumed_run_continues_the_schedule_exactly(tmp_path):
    uninterrupted = build()
    uninterrupted.run()
    path = str(tmp_path / "checkpoint.tar")
    main_loop = build([InterruptAt(5), Checkpoint(path)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 5
    # The checkpoint holds this test's own extension: safe loading must be told of it.
    resumed = load(path, allowed=[InterruptAt])
    [schedule] = [rule for rule in resumed.algorithm.step_rule.components
                  if isinstance(rule, WarmupCosineSchedule)]
    assert schedule.steps_done.get_value() == 5
    resumed.run()
    assert resumed.status["iterations_done"] == 12
    for final, expected in zip(values(resumed), values(uninterrupted)):
        np.testing.assert_allclose(final, expected, rtol=1e-12)
