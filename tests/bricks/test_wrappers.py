"""Brick wrappers: WithExtraDims (NDimensionalSoftmax) and the BrickWrapper mechanism."""

import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Brick, Linear, NDimensionalSoftmax, Softmax, WithExtraDims, application
from blocks.bricks.wrappers import BrickWrapper, derived_application
from blocks.initialization import IsotropicGaussian

RNG = np.random.default_rng(11)


def numpy_log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def temporal_functions():
    softmax = NDimensionalSoftmax()
    x, y, p = pt.tensor3("x"), pt.lmatrix("y"), pt.tensor3("p")
    outputs = [
        softmax.apply(x, extra_ndim=1),
        softmax.log_probabilities(x, extra_ndim=1),
        softmax.categorical_cross_entropy(y, x, extra_ndim=1),
        softmax.categorical_cross_entropy(p, x, extra_ndim=1),
    ]
    return outputs, pytensor.function([x, y, p], outputs)


def test_ndimensional_softmax_matches_numpy(temporal_functions):
    outputs, function = temporal_functions
    assert [o.ndim for o in outputs] == [3, 3, 2, 2]
    x = RNG.normal(size=(2, 3, 4)) * 10
    y = RNG.integers(0, 4, size=(2, 3))
    p = RNG.dirichlet(np.ones(4), size=(2, 3))
    out, log_out, cost_indices, cost_matrix = function(x, y, p)
    log_reference = numpy_log_softmax(x)
    np.testing.assert_allclose(out, np.exp(log_reference), rtol=1e-12)
    np.testing.assert_allclose(log_out, log_reference, rtol=1e-12)
    np.testing.assert_allclose(
        cost_indices, -np.take_along_axis(log_reference, y[..., None], axis=-1)[..., 0])
    np.testing.assert_allclose(cost_matrix, -(p * log_reference).sum(axis=-1))


def test_ndimensional_softmax_two_extra_dims_and_none():
    softmax = NDimensionalSoftmax()
    x4, x2 = pt.tensor4(), pt.matrix()
    value = RNG.normal(size=(2, 1, 3, 4))
    output = softmax.apply(x4, extra_ndim=2)
    assert output.name == "ndimensionalsoftmax_apply_output"
    np.testing.assert_allclose(output.eval({x4: value}), np.exp(numpy_log_softmax(value)))
    np.testing.assert_allclose(softmax.apply(x2).eval({x2: value[0, 0]}),
                               np.exp(numpy_log_softmax(value[0, 0])))
    np.testing.assert_allclose(softmax.apply(value, extra_ndim=2).eval(),
                               np.exp(numpy_log_softmax(value)))


def test_ndimensional_softmax_cross_entropy_grad():
    softmax = NDimensionalSoftmax()
    labels = pt.as_tensor(np.array([[0, 2], [1, 1], [2, 0]]))
    verify_grad(lambda x: softmax.categorical_cross_entropy(labels, x, extra_ndim=1),
                [RNG.normal(size=(3, 2, 3))], rng=np.random.default_rng(0))


def test_wrapped_class_attributes():
    assert len(NDimensionalSoftmax.decorators) == 1
    assert isinstance(NDimensionalSoftmax.decorators[0], WithExtraDims)
    assert issubclass(NDimensionalSoftmax, Softmax)
    for name in ("apply", "log_probabilities", "categorical_cross_entropy"):
        wrapped = getattr(NDimensionalSoftmax, name)
        assert wrapped is not getattr(Softmax, name)
        assert wrapped.owner_class is NDimensionalSoftmax and wrapped.name == name
        assert "extra_ndim" in wrapped.__doc__ and f"Softmax.{name}" in wrapped.__doc__
    assert NDimensionalSoftmax.categorical_cross_entropy.inputs == ["y", "x"]
    assert NDimensionalSoftmax.apply.outputs == ["output"]


def test_wrapped_brick_pickles():
    softmax = pickle.loads(pickle.dumps(NDimensionalSoftmax(name="sm")))
    assert softmax.apply.application is NDimensionalSoftmax.apply
    x = pt.tensor3()
    assert softmax.apply(x, extra_ndim=1).name == "sm_apply_output"


def test_extra_ndim_errors():
    softmax = NDimensionalSoftmax()
    for bad in (-1, 1.0, True, "1"):
        with pytest.raises(ValueError, match="NDimensionalSoftmax 'ndimensionalsoftmax': "
                                             "apply.. expected extra_ndim to be a "
                                             "non-negative integer"):
            softmax.apply(pt.tensor3(), extra_ndim=bad)
    with pytest.raises(ValueError, match=r"categorical_cross_entropy\(\) argument 'y': with "
                                         r"extra_ndim=1 expected ndim >= 2, found ndim=1"):
        softmax.categorical_cross_entropy(pt.lvector(), pt.tensor3(), extra_ndim=1)
    with pytest.raises(ValueError, match="argument 'input_': expected ndim=2, found ndim=3"):
        softmax.apply(pt.tensor4(), extra_ndim=1)


class Pair(Brick):
    """A brick with two applications, one of them with dynamic inputs."""

    def __init__(self, names=("a", "b"), **kwargs):
        super().__init__(**kwargs)
        self.names = list(names)

    @application(inputs=["x"], outputs=["doubled"])
    def double(self, x):
        return 2 * x

    @application
    def total(self, **kwargs):
        return sum(kwargs[name].sum(axis=-1) for name in self.names)

    @total.property("inputs")
    def total_inputs(self):
        return self.names


class Negated(BrickWrapper):
    def wrap(self, wrapped, namespace):
        def negated(brick, *args, **kwargs):
            return [-output for output in wrapped.__get__(brick, type(brick))(
                *args, return_list=True, **kwargs)]
        namespace[wrapped.name] = derived_application(wrapped, negated)


def test_custom_wrapper_and_inheritance():
    class NegatedPair(Pair):
        decorators = [Negated()]

        @application
        def own(self, x):
            return x

    class Child(NegatedPair):
        pass

    brick = Child(names=["p", "q"])
    x = pt.vector("x")
    assert brick.double(x).eval({x: [1., 2.]}).tolist() == [-2., -4.]
    assert brick.double(x).name == "child_double_doubled"
    assert brick.total.inputs == ["p", "q"]
    assert brick.total(p=x, q=x).eval({x: [1., 2.]}) == -6
    assert NegatedPair.own.owner_class is NegatedPair
    assert brick.own(x).eval({x: [1.]}).tolist() == [1.]


def test_extra_dims_on_a_linear_brick():
    class ExtraDimsPair(Pair):
        decorators = [WithExtraDims()]

    class ExtraDimsLinear(Linear):
        decorators = [WithExtraDims()]

    linear = ExtraDimsLinear(input_dim=3, output_dim=2, weights_init=IsotropicGaussian(),
                             biases_init=IsotropicGaussian(), seed=1)
    linear.initialize()
    x = pt.tensor4()
    value = RNG.normal(size=(2, 2, 5, 3))
    expected = value @ linear.W.get_value() + linear.b.get_value()
    np.testing.assert_allclose(linear.apply(x, extra_ndim=2).eval({x: value}), expected)
    pair = ExtraDimsPair(names=["a", "b"])
    m = pt.tensor3()
    values = RNG.normal(size=(2, 3, 4))
    np.testing.assert_allclose(pair.total(a=m, b=m, extra_ndim=1).eval({m: values}),
                               2 * values.sum(axis=-1))


def test_base_wrapper_is_abstract():
    with pytest.raises(NotImplementedError, match="BrickWrapper must implement wrap"):
        class Wrapped(Pair):
            decorators = [BrickWrapper()]
