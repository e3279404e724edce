"""Dropout and noise graph transformations: statistics, roles, and untouched originals."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.bricks import MLP, Tanh
from blocks.graph import ComputationGraph, apply_dropout, apply_noise
from blocks.graph.regularization import _random_stream
from blocks.initialization import Constant
from blocks.roles import DROPOUT, OUTPUT, has_roles

N = 20000


def _function(cg, x_var):
    return pytensor.function([x_var], cg.outputs[0])


@pytest.mark.parametrize("drop_prob, custom_divisor", [(0.3, None), (0.5, 2.0), (0.0, None)])
def test_dropout_statistics(drop_prob, custom_divisor):
    x_var = pt.vector("x")
    cg = ComputationGraph([2 * x_var])
    dropped = apply_dropout(cg, [x_var], drop_prob, seed=3, custom_divisor=custom_divisor)
    values = _function(dropped, x_var)(np.ones(N))
    divisor = 1 - drop_prob if custom_divisor is None else custom_divisor
    kept = values != 0
    np.testing.assert_allclose(values[kept], 2 / divisor)
    # Binomial count of dropped units: within 5 standard deviations.
    sigma = np.sqrt(N * drop_prob * (1 - drop_prob))
    assert abs((~kept).sum() - N * drop_prob) <= 5 * sigma + 1e-9
    # The original graph is untouched.
    assert _function(cg, x_var)(np.ones(3)).tolist() == [2.0, 2.0, 2.0]


def test_dropout_roles_seeds_and_fresh_masks():
    x_var = pt.matrix("x")
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(0.1), biases_init=Constant(0))
    mlp.initialize()
    cg = ComputationGraph([mlp.apply(x_var)])
    hidden = [v for v in cg.variables if has_roles(v, [OUTPUT]) and v.name == "tanh_apply_output"]
    dropped = apply_dropout(cg, hidden, 0.5, seed=1)
    replacements = [v for v in dropped.variables if has_roles(v, [DROPOUT])]
    assert len(replacements) == 1
    assert replacements[0].tag.replacement_of is hidden[0]
    x = np.ones((50, 3))
    f = _function(dropped, x_var)
    first, second = f(x), f(x)
    assert not np.allclose(first, second)  # The random generator advances.
    again = _function(apply_dropout(cg, hidden, 0.5, seed=1), x_var)(x)
    np.testing.assert_allclose(again, first)  # Same seed, same masks.
    other = _function(apply_dropout(cg, hidden, 0.5, seed=2), x_var)(x)
    assert not np.allclose(other, first)
    rng = _random_stream(1)
    with_rng = _function(apply_dropout(cg, hidden, 0.5, rng=rng), x_var)(x)
    np.testing.assert_allclose(with_rng, first)


def test_dropout_errors():
    x_var = pt.vector("x")
    cg = ComputationGraph([x_var.sum()])
    for drop_prob in (1.0, -0.1):
        with pytest.raises(ValueError, match="'drop_prob'"):
            apply_dropout(cg, [x_var], drop_prob)
    with pytest.raises(ValueError, match="'drop_prob'"):
        apply_dropout(cg, [x_var], 1.5, custom_divisor=1.0)
    # Dropping everything is allowed with a divisor.
    zeroed = apply_dropout(cg, [x_var], 1.0, custom_divisor=1.0)
    assert zeroed.outputs[0].eval({x_var: np.ones(4)}) == 0


def test_noise_statistics():
    x_var = pt.vector("x")
    cg = ComputationGraph([x_var + 1])
    noisy = apply_noise(cg, [x_var], 0.5, seed=4)
    values = _function(noisy, x_var)(np.zeros(N)) - 1
    assert abs(values.mean()) < 5 * 0.5 / np.sqrt(N)
    assert abs(values.std() - 0.5) < 0.02
    assert _function(cg, x_var)(np.zeros(2)).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="'level'"):
        apply_noise(cg, [x_var], -1.0)
