"""Layer and RMS normalization, GELU and SiLU against numpy, with gradients checked."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace
from scipy.special import erf

from blocks.bricks import GELU, MLP, LayerNormalization, RMSNormalization, SiLU
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import BIAS, PARAMETER, SCALE, SHIFT, WEIGHT

RNG = np.random.default_rng(4)
X = RNG.normal(size=(3, 2, 5)) * 3 + 1
GAMMA, BETA = RNG.normal(size=5), RNG.normal(size=5)


def numpy_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def numpy_rms_norm(x, gamma, epsilon):
    return x / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + epsilon) * gamma


def with_parameters(brick, *values):
    brick.initialize()
    for parameter, value in zip(brick.parameters, values):
        parameter.set_value(value)
    return brick


def as_function_of_parameters(brick):
    """f(x, *parameters) with the brick's shared parameters replaced by inputs."""
    def function(x, *parameters):
        return clone_replace(brick.apply(x), dict(zip(brick.parameters, parameters)))
    return function


def test_layer_normalization_against_numpy():
    norm = with_parameters(LayerNormalization(5, epsilon=1e-3), GAMMA, BETA)
    x = pt.tensor3("x")
    np.testing.assert_allclose(norm.apply(x).eval({x: X}),
                               numpy_layer_norm(X, GAMMA, BETA, 1e-3), rtol=1e-10)
    verify_grad(as_function_of_parameters(norm), [X, GAMMA, BETA],
                rng=np.random.default_rng(0))


def test_rms_normalization_against_numpy():
    norm = with_parameters(RMSNormalization(5), GAMMA)
    assert norm.shift is None and len(norm.parameters) == 1
    x = pt.tensor3("x")
    np.testing.assert_allclose(norm.apply(x).eval({x: X}), numpy_rms_norm(X, GAMMA, 1e-5),
                               rtol=1e-10)
    verify_grad(as_function_of_parameters(norm), [X, GAMMA], rng=np.random.default_rng(0))


def test_normalization_without_learned_parameters():
    norm = LayerNormalization(5, learn_scale=False, learn_shift=False)
    norm.initialize()
    assert norm.parameters == []
    x = pt.matrix("x")
    np.testing.assert_allclose(norm.apply(x).eval({x: X[0]}),
                               numpy_layer_norm(X[0], 1, 0, 1e-5), rtol=1e-10)


def test_normalization_roles_and_default_initialization():
    norm = LayerNormalization(4)
    norm.initialize()
    assert norm.scale.get_value().tolist() == [1.0] * 4
    assert norm.shift.get_value().tolist() == [0.0] * 4
    cg = ComputationGraph(norm.apply(pt.matrix("x")))
    assert VariableFilter(roles=[SCALE])(cg.parameters) == [norm.scale]
    # The shift is a kind of bias; the scale is a parameter but not a weight.
    assert VariableFilter(roles=[BIAS])(cg.parameters) == [norm.shift]
    assert VariableFilter(roles=[SHIFT])(cg.parameters) == [norm.shift]
    assert VariableFilter(roles=[WEIGHT])(cg.parameters) == []
    assert len(VariableFilter(roles=[PARAMETER])(cg.parameters)) == 2


def test_normalization_is_not_reinitialized_by_a_parent():
    mlp = MLP([None], [3, 3], weights_init=IsotropicGaussian(1), biases_init=Constant(5))
    norm = LayerNormalization(3)
    mlp.children.append(norm)
    mlp.initialize()
    assert norm.scale.get_value().tolist() == [1.0] * 3


def test_lazy_dim():
    norm = LayerNormalization()
    norm.dim = 2
    norm.initialize()
    assert norm.scale.get_value().shape == (2,)


@pytest.mark.parametrize("brick", [LayerNormalization, RMSNormalization])
def test_normalization_bad_input(brick):
    norm = brick(5, name="norm")
    with pytest.raises(ValueError, match=r"'norm'.*'input_'.*last dimension to be 5"):
        norm.apply(pt.tensor(shape=(2, 4)))
    name = brick.__name__
    with pytest.raises(ValueError, match=rf"^{name} 'norm': dim must be a positive integer, "
                                         r"got 0$"):
        brick(0, name="norm")
    with pytest.raises(ValueError, match=rf"^{name} '{name.lower()}': epsilon must be a "
                                         r"non-negative number, got -1$"):
        brick(3, epsilon=-1)


def numpy_gelu(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def numpy_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("brick, reference", [
    (GELU(), numpy_gelu),
    (GELU(approximate="tanh"), numpy_gelu_tanh),
    (SiLU(), lambda x: x / (1 + np.exp(-x))),
])
def test_activations_against_numpy(brick, reference):
    x = pt.tensor3("x")
    np.testing.assert_allclose(brick.apply(x).eval({x: X}), reference(X), rtol=1e-9, atol=1e-14)
    verify_grad(brick.apply, [X], rng=np.random.default_rng(0))


def test_gelu_approximation_is_close_to_the_exact_form():
    grid = np.linspace(-6, 6, 101)
    assert np.abs(numpy_gelu(grid) - numpy_gelu_tanh(grid)).max() < 1e-3
    x = pt.vector("x")
    exact = GELU().apply(x).eval({x: grid})
    assert np.abs(exact - numpy_gelu_tanh(grid)).max() > 1e-5


def test_gelu_bad_approximation():
    with pytest.raises(ValueError, match=r"GELU 'gelu'.*'approximate'.*'tanh'"):
        GELU(approximate="erf")


def test_float32_stays_float32():
    x = pt.matrix("x", dtype="float32")
    for brick in (GELU(), GELU(approximate="tanh"), SiLU()):
        assert brick.apply(x).dtype == "float32"
    if pytensor.config.floatX == "float32":
        assert LayerNormalization(2).apply(x).dtype == "float32"
