"""Batch normalization bricks against numpy, in inference and training modes."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import (
    MLP,
    BatchNormalization,
    BatchNormalizedMLP,
    Rectifier,
    SpatialBatchNormalization,
    Tanh,
)
from blocks.bricks.conv import Convolutional, ConvolutionalSequence
from blocks.filter import get_application_call, get_brick
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import (
    BATCH_NORM_DIVISOR,
    BATCH_NORM_MINIBATCH_ESTIMATE,
    BATCH_NORM_OFFSET,
    BATCH_NORM_POPULATION_MEAN,
    BATCH_NORM_POPULATION_STDEV,
    BATCH_NORM_SCALE_PARAMETER,
    BATCH_NORM_SHIFT_PARAMETER,
    BIAS,
    PARAMETER,
    has_roles,
)

RNG = np.random.default_rng(42)


def reference(x, axes, scale, shift, mean=None, stdev=None, epsilon=1e-4):
    """Batch normalization in numpy; minibatch statistics when `mean` is None."""
    if mean is None:
        mean = x.mean(axis=axes, keepdims=True)
        stdev = np.sqrt(x.var(axis=axes, keepdims=True) + epsilon)
    return (x - mean) / stdev * scale + shift


def randomize(bn):
    """Give every parameter and population statistic of `bn` random (positive) values."""
    for var in bn.parameters + [bn.population_mean, getattr(bn, "population_stdev", None)]:
        if var is not None:
            var.set_value(RNG.uniform(0.5, 2.0, var.get_value().shape))


@pytest.mark.parametrize("conserve_memory", [True, False])
def test_inference_and_training_modes(conserve_memory):
    bn = BatchNormalization(input_dim=(3, 4), broadcastable=(False, True),
                            conserve_memory=conserve_memory, epsilon=1e-3)
    bn.initialize()
    assert bn.scale.get_value().tolist() == [[1.0]] * 3
    assert bn.shift.get_value().tolist() == [[0.0]] * 3
    assert bn.population_mean.get_value().tolist() == [[0.0]] * 3
    assert bn.population_stdev.get_value().tolist() == [[1.0]] * 3
    randomize(bn)
    x_var = pt.tensor3("x")
    x = RNG.standard_normal((5, 3, 4))
    scale, shift = bn.scale.get_value(), bn.shift.get_value()
    inference = bn.apply(x_var)
    assert not bn.training_mode
    expected = reference(x, None, scale, shift, bn.population_mean.get_value(),
                         bn.population_stdev.get_value())
    np.testing.assert_allclose(inference.eval({x_var: x}), expected, rtol=1e-10)
    with bn as entered:
        assert entered is bn and bn.training_mode
        with bn:
            pass
        assert bn.training_mode  # Nested entries.
        training = bn.apply(x_var)
    assert not bn.training_mode
    expected = reference(x, (0, 2), scale, shift, epsilon=1e-3)
    np.testing.assert_allclose(training.eval({x_var: x}), expected, rtol=1e-10)
    assert bn.normalization_axes == (0, 2)
    assert get_application_call(training).metadata["training_mode"] is True
    assert get_application_call(inference).metadata["training_mode"] is False


def test_parameters_and_roles():
    bn = BatchNormalization(input_dim=3)
    bn.allocate()
    assert bn.parameters == [bn.scale, bn.shift]
    assert bn.scale.name == "batch_norm_scale" and bn.shift.name == "batch_norm_shift"
    assert has_roles(bn.scale, [BATCH_NORM_SCALE_PARAMETER])
    assert has_roles(bn.scale, [PARAMETER])
    assert has_roles(bn.shift, [BATCH_NORM_SHIFT_PARAMETER]) and has_roles(bn.shift, [BIAS])
    assert has_roles(bn.population_mean, [BATCH_NORM_POPULATION_MEAN])
    assert has_roles(bn.population_stdev, [BATCH_NORM_POPULATION_STDEV])
    for stat in (bn.population_mean, bn.population_stdev):
        assert not has_roles(stat, [PARAMETER])
        assert get_brick(stat) is bn
    x_var = pt.matrix("x")
    with bn:
        y = bn.apply(x_var)
    call = get_application_call(y)
    auxiliary = [v for v in pytensor.graph.traversal.ancestors([y])
                 if get_application_call(v) is call]
    roles = [role for role in (BATCH_NORM_OFFSET, BATCH_NORM_DIVISOR,
                               BATCH_NORM_MINIBATCH_ESTIMATE)
             if any(has_roles(v, [role]) for v in auxiliary)]
    assert len(roles) == 3


@pytest.mark.parametrize("mean_only, learn_scale, learn_shift", [
    (True, True, True), (False, False, True), (False, True, False)])
def test_optional_parameters(mean_only, learn_scale, learn_shift):
    bn = BatchNormalization(input_dim=2, mean_only=mean_only, learn_scale=learn_scale,
                            learn_shift=learn_shift, shift_init=Constant(0.5),
                            scale_init=Constant(2.0))
    bn.initialize()
    names = [p.name for p in bn.parameters]
    assert ("batch_norm_scale" in names) == (learn_scale and not mean_only)
    assert ("batch_norm_shift" in names) == learn_shift
    assert hasattr(bn, "population_stdev") != mean_only
    x = RNG.standard_normal((6, 2)) * 3 + 1
    x_var = pt.matrix("x")
    with bn:
        y = bn.apply(x_var).eval({x_var: x})
    scale = 2.0 if learn_scale and not mean_only else 1.0
    shift = 0.5 if learn_shift else 0.0
    if mean_only:
        expected = x - x.mean(axis=0) + shift
    else:
        expected = reference(x, 0, scale, shift)
    np.testing.assert_allclose(y, expected, rtol=1e-10)


def test_gradient_in_training_mode():
    bn = BatchNormalization(input_dim=(2, 3), broadcastable=(True, False))
    bn.initialize()
    randomize(bn)

    def normalize(x_):
        with bn:
            return bn.apply(x_)

    verify_grad(normalize, [RNG.standard_normal((4, 2, 3))], rng=np.random.default_rng(0))


def test_spatial_batch_normalization():
    bn = SpatialBatchNormalization(input_dim=(2, 3, 4))
    bn.initialize()
    randomize(bn)
    assert bn.broadcastable == (False, True, True)
    assert bn.normalization_axes == (0, 2, 3)
    assert bn.scale.get_value().shape == (2, 1, 1)
    assert bn.num_channels == bn.num_output_channels == 2 and bn.image_size == (3, 4)
    assert bn.get_dim("output") == bn.output_dim == (2, 3, 4)
    x = RNG.standard_normal((3, 2, 3, 4))
    x_var = pt.tensor4("x")
    with bn:
        y = bn.apply(x_var).eval({x_var: x})
    np.testing.assert_allclose(
        y, reference(x, (0, 2, 3), bn.scale.get_value(), bn.shift.get_value()), rtol=1e-10)
    bad = SpatialBatchNormalization(input_dim=3)  # checked at allocation, as in Blocks
    with pytest.raises(ValueError, match="'input_dim': expected input_dim to be length >= 2"):
        bad.allocate()


def test_in_convolutional_sequence():
    conv = Convolutional((2, 2), 3)
    bn = SpatialBatchNormalization()
    seq = ConvolutionalSequence([conv, bn, Rectifier()], num_channels=1, image_size=(4, 5),
                                weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    seq.initialize()
    assert bn.input_dim == (3, 3, 4) and seq.get_dim("output") == (3, 3, 4)
    assert bn.scale.get_value().shape == (3, 1, 1)
    # The image size may stay unknown: spatial statistics do not depend on it.
    bn = SpatialBatchNormalization()
    bn.num_channels = 2
    bn.image_size = (None, None)
    bn.allocate()
    assert bn.population_mean.get_value().shape == (2, 1, 1)


def test_errors():
    bn = BatchNormalization(input_dim=(3, 4), name="bn")
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn'.*'input_'.*ndim=3"):
        bn.apply(pt.matrix())
    with pytest.raises(ValueError, match=r"'bn'.*'input_'.*\(batch,\) \+ \(3, 4\)"):
        bn.apply(pt.tensor("x", shape=(None, 3, 5)))
    bn = BatchNormalization(input_dim=(3, 4), broadcastable=(True,), name="bn")
    with pytest.raises(ValueError, match=r"'bn'.*'broadcastable'"):
        bn.allocate()
    bn = BatchNormalization(input_dim=(3, None), name="bn")
    with pytest.raises(ValueError, match=r"'bn'.*'input_dim'"):
        bn.allocate()
    with pytest.raises(ValueError, match="input_dim"):
        BatchNormalization().allocate()


def test_batch_normalized_mlp():
    mlp = BatchNormalizedMLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(1.0),
                             mean_only=False, learn_shift=True)
    assert isinstance(mlp, MLP)
    mlp.initialize()
    assert all(not linear.use_bias for linear in mlp.linear_transformations)
    assert all(len(linear.parameters) == 1 for linear in mlp.linear_transformations)
    bns = mlp.batch_normalizations
    assert [bn.input_dim for bn in bns] == [4, 2]
    assert bns[0].parents[0].name == "batch_norm_activation_0"
    x = RNG.standard_normal((5, 3))
    x_var = pt.matrix("x")
    for bn in bns:
        randomize(bn)
    with bns[0], bns[1]:
        y = mlp.apply(x_var).eval({x_var: x})
    W0, W1 = (linear.W.get_value() for linear in mlp.linear_transformations)
    h = np.tanh(reference(x @ W0, 0, bns[0].scale.get_value(), bns[0].shift.get_value()))
    expected = reference(h @ W1, 0, bns[1].scale.get_value(), bns[1].shift.get_value())
    np.testing.assert_allclose(y, expected, rtol=1e-10)


def test_batch_normalized_mlp_configuration():
    mlp = BatchNormalizedMLP([Tanh()], [3, 2], use_bias=True, mean_only=True,
                             learn_shift=False, conserve_memory=False,
                             weights_init=Constant(1), biases_init=Constant(0))
    mlp.initialize()
    assert mlp.linear_transformations[0].use_bias
    bn = mlp.batch_normalizations[0]
    assert bn.mean_only and not bn.learn_shift and bn.parameters == []
    assert not mlp.conserve_memory and not bn.conserve_memory
    mlp.conserve_memory = True
    assert bn.conserve_memory


def test_bricks_pickle_with_their_statistics():
    import pickle

    bn = SpatialBatchNormalization()
    seq = ConvolutionalSequence([Convolutional((2, 2), 2), bn], num_channels=1,
                                image_size=(3, 3), weights_init=Constant(1.0),
                                biases_init=Constant(0.0))
    seq.initialize()
    bn.population_mean.set_value(np.full((2, 1, 1), 0.5))
    copy = pickle.loads(pickle.dumps(seq))
    copied_bn = copy.layers[1]
    assert copied_bn.population_mean.get_value().ravel().tolist() == [0.5, 0.5]
    assert get_brick(copied_bn.population_mean) is copied_bn
    x_var = pt.tensor4("x")
    x = RNG.standard_normal((2, 1, 3, 3))
    np.testing.assert_allclose(copy.apply(x_var).eval({x_var: x}),
                               seq.apply(x_var).eval({x_var: x}))


def test_blocks_configuration_of_batch_normalization():
    # broadcastable=None stays None; the default averages over the batch only.
    bn = BatchNormalization(input_dim=(2, 3))
    bn.initialize()
    assert bn.broadcastable is None and bn.normalization_axes == (0,)
    # BatchNormalizedMLP's options are attributes pushed at allocation.
    mlp = BatchNormalizedMLP([Tanh(), Tanh()], [3, 4, 2], weights_init=Constant(1))
    mlp.mean_only, mlp.learn_shift = True, False
    mlp.initialize()
    for bn in mlp.batch_normalizations:
        assert bn.mean_only and not bn.learn_shift and bn.parameters == []
    # SpatialBatchNormalization: input_dim pushed later is checked at allocation.
    spatial = SpatialBatchNormalization(name="sbn")
    spatial.input_dim = (3,)
    with pytest.raises(ValueError, match="'sbn': argument 'input_dim': expected input_dim to "
                                         "be length >= 2"):
        spatial.initialize()
    spatial.input_dim = (3, 2, 2)
    spatial.initialize()
    assert spatial.broadcastable == (False, True, True)
