"""Feed-forward bricks of blocks.bricks.simple and the MLP, against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace

from blocks.bricks import (
    MLP,
    Bias,
    Identity,
    LeakyRectifier,
    Linear,
    LinearMaxout,
    Logistic,
    Maxout,
    Rectifier,
    Softmax,
    Softplus,
    Tanh,
)
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import BIAS, WEIGHT, has_roles

RNG = np.random.default_rng(1234)


def numpy_log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_parameter_grads(brick, build, inputs):
    """verify_grad of `build(*inputs)` with respect to its inputs and the brick's params."""
    parameters = [p for p in brick.parameters if p is not None]

    def function(*values):
        symbolic_inputs = values[:len(inputs)]
        replacements = dict(zip(parameters, values[len(inputs):]))
        return clone_replace(build(*symbolic_inputs), replacements).sum()

    verify_grad(function, list(inputs) + [p.get_value() for p in parameters],
                rng=np.random.default_rng(0))


# Linear and MLP

def test_linear_matches_numpy_for_several_ranks():
    linear = Linear(input_dim=3, output_dim=2, weights_init=IsotropicGaussian(),
                    biases_init=IsotropicGaussian(), seed=1)
    linear.initialize()
    W, b = linear.W.get_value(), linear.b.get_value()
    assert has_roles(linear.W, [WEIGHT]) and has_roles(linear.b, [BIAS])
    for x in (pt.vector(), pt.matrix(), pt.tensor3()):
        value = RNG.normal(size=(4, 5, 3)[3 - x.ndim:])
        np.testing.assert_allclose(linear.apply(x).eval({x: value}), value @ W + b)


def test_linear_without_bias_and_dims():
    linear = Linear(input_dim=3, output_dim=2, use_bias=False, weights_init=Constant(2))
    linear.initialize()
    assert linear.b is None and len(linear.parameters) == 1
    assert linear.get_dim("input_") == 3 and linear.get_dim("output") == 2
    x = pt.matrix()
    np.testing.assert_allclose(linear.apply(x).eval({x: np.ones((1, 3))}), [[6, 6]])


def test_linear_refuses_wrong_last_dimension():
    linear = Linear(input_dim=3, output_dim=2)
    with pytest.raises(ValueError, match="Linear 'linear'.*'input_'.*expected the last "
                                         "dimension to be 3, found 4"):
        linear.apply(pt.tensor(shape=(None, 4)))


def test_linear_grad():
    linear = Linear(input_dim=3, output_dim=2, weights_init=IsotropicGaussian(),
                    biases_init=IsotropicGaussian(), seed=2)
    linear.initialize()
    check_parameter_grads(linear, linear.apply, [RNG.normal(size=(4, 3))])


@pytest.mark.parametrize("brick, reference", [
    (Identity(), lambda x: x),
    (Tanh(), np.tanh),
    (Logistic(), lambda x: 1 / (1 + np.exp(-x))),
    (Softplus(), lambda x: np.log1p(np.exp(x))),
    (Rectifier(), lambda x: np.maximum(x, 0)),
    (LeakyRectifier(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (LeakyRectifier(leak=0.3), lambda x: np.where(x > 0, x, 0.3 * x)),
])
def test_activations_match_numpy(brick, reference):
    x = pt.tensor3()
    value = RNG.normal(size=(2, 3, 4)) * 3
    output = brick.apply(x)
    assert output.name == f"{brick.name}_apply_output"
    np.testing.assert_allclose(output.eval({x: value}), reference(value), rtol=1e-12)


def test_mlp_matches_numpy():
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(),
              biases_init=IsotropicGaussian(), seed=3)
    mlp.initialize()
    (W1, b1), (W2, b2) = [(t.W.get_value(), t.b.get_value())
                          for t in mlp.linear_transformations]
    x = pt.matrix()
    value = RNG.normal(size=(5, 3))
    expected = np.tanh(value @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(mlp.apply(x).eval({x: value}), expected)
    assert (mlp.input_dim, mlp.output_dim) == (3, 2)


def test_mlp_dims_and_activations_of_inconsistent_lengths():
    # As in Blocks, the number of dims is checked at allocation, not at construction.
    mlp = MLP([Tanh(), None], [3, 4])
    with pytest.raises(ValueError, match=r"MLP 'mlp': argument 'dims': dims must hold .* 3 "
                                         r"numbers for 2 activations; got 2 dims"):
        mlp.allocate()
    mlp.dims = [3, 4, 2]
    mlp.allocate()
    assert [layer.output_dim for layer in mlp.linear_transformations] == [4, 2]


# Bias

def test_bias_matches_numpy_and_grad():
    bias = Bias(dim=3, biases_init=IsotropicGaussian(), seed=4)
    bias.initialize()
    assert has_roles(bias.b, [BIAS]) and bias.b.get_value().shape == (3,)
    assert bias.input_dim == bias.output_dim == bias.get_dim("output") == 3
    x = pt.matrix()
    value = RNG.normal(size=(2, 3))
    np.testing.assert_allclose(bias.apply(x).eval({x: value}), value + bias.b.get_value())
    check_parameter_grads(bias, bias.apply, [value])


def test_bias_errors():
    with pytest.raises(ValueError, match="Bias 'bias' cannot .*: dim is not set"):
        Bias().allocate()
    with pytest.raises(ValueError, match="Bias 'bias'.*expected the last dimension to be 3"):
        Bias(dim=3).apply(pt.tensor(shape=(2, 2)))
    bias = Bias(dim=2)
    bias.output_dim = 5
    assert bias.dim == 5


# Maxout

def numpy_maxout(x, pieces):
    return x.reshape(x.shape[:-1] + (x.shape[-1] // pieces, pieces)).max(axis=-1)


def test_maxout_matches_numpy_and_grad():
    maxout = Maxout(num_pieces=3)
    x = pt.tensor3()
    value = RNG.normal(size=(2, 3, 6))
    output = maxout.apply(x)
    assert output.ndim == 3
    np.testing.assert_allclose(output.eval({x: value}), numpy_maxout(value, 3))
    verify_grad(lambda v: Maxout(num_pieces=2).apply(v), [RNG.normal(size=(3, 4))],
                rng=np.random.default_rng(0))


def test_maxout_errors():
    with pytest.raises(ValueError, match="num_pieces is not set"):
        Maxout().apply(pt.matrix())
    with pytest.raises(ValueError, match="positive integer, got 0"):
        Maxout(num_pieces=0).apply(pt.matrix())
    with pytest.raises(ValueError, match="multiple of num_pieces=3, found 4"):
        Maxout(num_pieces=3).apply(pt.tensor(shape=(None, 4)))
    x = pt.matrix()
    output = Maxout(num_pieces=3).apply(x)
    with pytest.raises(AssertionError, match="Maxout 'maxout'.*multiple of num_pieces=3"):
        output.eval({x: np.ones((2, 4))})


def test_linear_maxout_matches_numpy_and_grad():
    brick = LinearMaxout(input_dim=3, output_dim=2, num_pieces=3,
                         weights_init=IsotropicGaussian(), biases_init=IsotropicGaussian(),
                         seed=5)
    brick.initialize()
    assert brick.linear.W.get_value().shape == (3, 6) and brick.maxout.num_pieces == 3
    assert brick.get_dim("input_") == 3 and brick.get_dim("output") == 2
    W, b = brick.linear.W.get_value(), brick.linear.b.get_value()
    x = pt.matrix()
    value = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(brick.apply(x).eval({x: value}), numpy_maxout(value @ W + b, 3))
    params = brick.linear.parameters

    def function(x, W, b):
        return clone_replace(brick.apply(x), dict(zip(params, [W, b]))).sum()

    verify_grad(function, [value, W, b], rng=np.random.default_rng(0))


def test_linear_maxout_missing_configuration():
    with pytest.raises(ValueError, match="LinearMaxout 'linearmaxout' cannot .*num_pieces"):
        LinearMaxout(input_dim=2, output_dim=3).allocate()


# Softmax

LOGITS = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
LABELS = np.array([2, 1, 0])


@pytest.fixture(scope="module")
def softmax_functions():
    softmax = Softmax()
    x, y, p = pt.matrix("x"), pt.lvector("y"), pt.matrix("p")
    return pytensor.function([x, y, p], [
        softmax.apply(x), softmax.log_probabilities(x),
        softmax.categorical_cross_entropy(y, x), softmax.categorical_cross_entropy(p, x),
    ])


def test_softmax_matches_numpy_and_is_stable(softmax_functions):
    probabilities = RNG.dirichlet(np.ones(3), size=3)
    out, log_out, cost_indices, cost_matrix = softmax_functions(LOGITS, LABELS, probabilities)
    log_reference = numpy_log_softmax(LOGITS)
    np.testing.assert_allclose(out, np.exp(log_reference), rtol=1e-12)
    np.testing.assert_allclose(log_out, log_reference, rtol=1e-12)
    assert np.all(np.isfinite(log_out)) and np.all(np.isfinite(cost_indices))
    np.testing.assert_allclose(cost_indices, -log_reference[np.arange(3), LABELS])
    np.testing.assert_allclose(cost_indices[1], 1000.0)
    np.testing.assert_allclose(cost_matrix, -(probabilities * log_reference).sum(axis=1))
    one_hot = np.eye(3)[LABELS]
    np.testing.assert_allclose(softmax_functions(LOGITS, LABELS, one_hot)[3], cost_indices)


def test_softmax_names():
    softmax = Softmax()
    x, y = pt.matrix(), pt.lvector()
    assert softmax.apply(x).name == "softmax_apply_output"
    assert softmax.log_probabilities(x).name == "softmax_log_probabilities_output"
    assert (softmax.categorical_cross_entropy(y, x).name
            == "softmax_categorical_cross_entropy_output")
    assert Softmax.categorical_cross_entropy.inputs == ["y", "x"]


def test_softmax_cross_entropy_grads():
    softmax = Softmax()
    logits = RNG.normal(size=(4, 3))
    labels = np.array([0, 2, 1, 2])
    verify_grad(lambda x: softmax.categorical_cross_entropy(pt.as_tensor(labels), x),
                [logits], rng=np.random.default_rng(0))
    targets = RNG.dirichlet(np.ones(3), size=4)
    verify_grad(lambda p, x: softmax.categorical_cross_entropy(p, x), [targets, logits],
                rng=np.random.default_rng(0))
    verify_grad(lambda x: softmax.apply(x)[:, 0], [logits], rng=np.random.default_rng(0))


def test_softmax_errors():
    softmax = Softmax()
    with pytest.raises(ValueError, match="Softmax 'softmax': argument 'input_': expected "
                                         "ndim=2, found ndim=3.*NDimensionalSoftmax"):
        softmax.apply(pt.tensor3())
    with pytest.raises(TypeError, match="argument 'y' is a vector, so it must hold integer"):
        softmax.categorical_cross_entropy(pt.vector(), pt.matrix())
    with pytest.raises(ValueError, match="argument 'x': expected ndim=2, found ndim=1"):
        softmax.categorical_cross_entropy(pt.lvector(), pt.vector())
    with pytest.raises(ValueError, match="argument 'y': expected ndim=1 .* or ndim=2 .*"
                                         "found ndim=3"):
        softmax.categorical_cross_entropy(pt.tensor3(), pt.matrix())
    with pytest.raises(ValueError, match="'y' must match 'x'.*static shapes"):
        softmax.categorical_cross_entropy(pt.tensor(shape=(2, 3)), pt.tensor(shape=(2, 4)))
    with pytest.raises(ValueError, match="'y' must match 'x'.*static shapes"):
        softmax.categorical_cross_entropy(pt.tensor(dtype="int64", shape=(3,)),
                                          pt.tensor(shape=(2, 4)))


def test_softmax_cross_entropy_refuses_mismatched_sizes_at_run_time(softmax_functions):
    with pytest.raises(AssertionError, match="Softmax 'softmax': argument 'y' must match 'x'"):
        softmax_functions(LOGITS, LABELS[:1], np.eye(3))
    with pytest.raises(AssertionError, match="argument 'y' must match 'x'"):
        softmax_functions(LOGITS, LABELS, np.eye(3)[:, :2])


@pytest.mark.numba
def test_mlp_softmax_training_graph_under_numba():
    mlp = MLP([Rectifier(), None], [4, 5, 3], weights_init=IsotropicGaussian(),
              biases_init=Constant(0.1), seed=6)
    mlp.initialize()
    x, y = pt.matrix("x"), pt.lvector("y")
    cost = Softmax().categorical_cross_entropy(y, mlp.apply(x)).mean()
    W1 = mlp.linear_transformations[0].W
    function = pytensor.function([x, y], [cost, pytensor.grad(cost, W1)])
    (W1v, b1), (W2v, b2) = [(t.W.get_value(), t.b.get_value())
                            for t in mlp.linear_transformations]
    xv, yv = RNG.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    hidden = np.maximum(xv @ W1v + b1, 0)
    logits = hidden @ W2v + b2
    log_p = numpy_log_softmax(logits)
    cost_value, grad_W1 = function(xv, yv)
    np.testing.assert_allclose(cost_value, -log_p[np.arange(6), yv].mean())
    d_logits = (np.exp(log_p) - np.eye(3)[yv]) / 6
    expected = xv.T @ ((d_logits @ W2v.T) * (hidden > 0))
    np.testing.assert_allclose(grad_W1, expected, atol=1e-12)
