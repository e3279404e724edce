"""A constant batch of one gives initial states a static shape the step does not infer."""

import numpy as np
import pytensor
import pytensor.tensor as pt

from blocks.bricks import Tanh
from blocks.bricks.recurrent import SimpleRecurrent
from blocks.initialization import Constant


def test_scan_accepts_initial_states_with_a_static_batch_of_one():
    brick = SimpleRecurrent(dim=3, activation=Tanh(), weights_init=Constant(0.1))
    brick.fused = False  # the generic scan path is the one that needs matching types
    brick.initialize()
    x = pt.tensor3("x")
    states = brick.apply(inputs=x, states=pt.zeros((1, 3)))
    values = pytensor.function([x], states)(np.ones((4, 1, 3)))
    expected = np.zeros((1, 3))
    for _ in range(4):
        expected = np.tanh(1 + expected @ np.full((3, 3), 0.1))
        assert values.shape == (4, 1, 3)
    assert np.allclose(values[-1], expected)
