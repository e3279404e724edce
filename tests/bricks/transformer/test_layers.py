"""Transformer layers, stacks and positional embeddings against numpy; graph transforms."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks import Rectifier
from blocks.bricks.transformer import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEmbedding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, apply_dropout, apply_noise
from blocks.initialization import IsotropicGaussian
from blocks.model import Model
from blocks.roles import OUTPUT
from blocks.select import Selector
from tests.bricks.transformer import reference

RNG = np.random.default_rng(11)
T, TA, BATCH, DIM, HEADS, HIDDEN = 4, 3, 2, 6, 2, 5
INPUTS = RNG.normal(size=(T, BATCH, DIM))
ATTENDED = RNG.normal(size=(TA, BATCH, DIM))
MASK = np.ones((T, BATCH))
MASK[2:, 1] = 0
ATTENDED_MASK = np.ones((TA, BATCH))
ATTENDED_MASK[1:, 0] = 0


def initialized(brick):
    brick.weights_init = IsotropicGaussian(0.4)
    brick.biases_init = IsotropicGaussian(0.2)
    brick.initialize()
    # Normalizations start at scale 1 and shift 0; other values test that they are used.
    for parameter in reference.parameters(brick):
        if parameter.name in ("scale", "shift"):
            parameter.set_value(RNG.normal(size=parameter.get_value().shape) * 0.3
                                + (parameter.name == "scale"))
    return brick


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_encoder_layer_against_numpy(norm_first, activation):
    layer = initialized(TransformerEncoderLayer(DIM, HEADS, HIDDEN, norm_first=norm_first,
                                                activation=activation))
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    got = layer.apply(x, mask=mask).eval({x: INPUTS, mask: MASK})
    expected = reference.encoder_layer(
        layer, INPUTS, MASK, reference.gelu if activation == "gelu" else reference.relu)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_against_numpy(norm_first):
    layer = initialized(TransformerDecoderLayer(DIM, HEADS, HIDDEN, norm_first=norm_first))
    x, attended, mask = pt.tensor3("x"), pt.tensor3("attended"), pt.matrix("mask")
    got = layer.apply(x, attended, attended_mask=mask).eval(
        {x: INPUTS, attended: ATTENDED, mask: ATTENDED_MASK})
    expected = reference.decoder_layer(layer, INPUTS, ATTENDED, ATTENDED_MASK)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_decoder_layer_cached_steps_equal_the_whole_pass():
    layer = initialized(TransformerDecoderLayer(DIM, HEADS, HIDDEN))
    x, attended = pt.tensor3("x"), pt.tensor3("attended")
    caches = [pt.tensor3("key_cache"), pt.tensor3("value_cache")]
    position = pt.lscalar("position")
    step = pytensor.function([x, *caches, position, attended],
                             layer.apply_cached(x, *caches, position, attended))
    key_cache = value_cache = np.zeros((BATCH, T, DIM))
    outputs = []
    for t in range(T):
        output, key_cache, value_cache = step(INPUTS[t:t + 1], key_cache, value_cache, t,
                                              ATTENDED)
        outputs.append(output)
    expected = layer.apply(x, attended).eval({x: INPUTS, attended: ATTENDED})
    np.testing.assert_allclose(np.concatenate(outputs), expected, rtol=1e-10, atol=1e-12)


def test_encoder_stack_is_its_layers_then_a_final_norm():
    encoder = initialized(TransformerEncoder(
        2, DIM, HEADS, HIDDEN, positional_embedding=SinusoidalPositionalEmbedding()))
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    got = encoder.apply(x, mask=mask).eval({x: INPUTS, mask: MASK})
    hidden = INPUTS + reference.sinusoids(T, DIM)[:, None, :]
    for layer in encoder.layers:
        hidden = reference.encoder_layer(layer, hidden, MASK)
    expected = reference.layer_norm(encoder.final_norm, hidden)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_post_norm_stack_has_no_final_norm():
    encoder = TransformerEncoder(2, DIM, HEADS, HIDDEN, norm_first=False)
    assert encoder.final_norm is None
    assert [child.name for child in encoder.children] == ["layer_0", "layer_1"]


def test_decoder_stack_against_numpy():
    decoder = initialized(TransformerDecoder(2, DIM, HEADS, HIDDEN))
    x, attended, mask = pt.tensor3("x"), pt.tensor3("attended"), pt.matrix("mask")
    got = decoder.apply(x, attended, attended_mask=mask).eval(
        {x: INPUTS, attended: ATTENDED, mask: ATTENDED_MASK})
    hidden = INPUTS
    for layer in decoder.layers:
        hidden = reference.decoder_layer(layer, hidden, ATTENDED, ATTENDED_MASK)
    np.testing.assert_allclose(got, reference.layer_norm(decoder.final_norm, hidden),
                               rtol=1e-9, atol=1e-12)


def test_encoder_layer_gradients():
    layer = initialized(TransformerEncoderLayer(4, 2, 3))
    mask = np.ones((3, 2))
    mask[2, 0] = 0
    point = [RNG.normal(size=(3, 2, 4))] + [
        p.get_value() for p in reference.parameters(layer)]
    verify_grad(reference.function_of_parameters(
        layer, lambda x: layer.apply(x, mask=pt.constant(mask))), point,
        rng=np.random.default_rng(0))


def test_configuration_is_pushed():
    encoder = TransformerEncoder(2, DIM, HEADS, HIDDEN, activation=Rectifier(),
                                 weights_init=IsotropicGaussian(0.1), biases_init=None)
    encoder.biases_init = IsotropicGaussian(0.1)
    encoder.initialize()
    layer = encoder.layers[1]
    assert layer.self_attention.dim == DIM and layer.self_attention.num_heads == HEADS
    assert layer.feedforward.dims == [DIM, HIDDEN, DIM]
    assert layer.feedforward_norm.dim == DIM
    assert layer.self_attention.query_transformer.W.get_value().std() > 0
    # The activation prototype is copied for every layer.
    activations = [layer.feedforward.activations[0] for layer in encoder.layers]
    assert isinstance(activations[0], Rectifier) and activations[0] is not activations[1]


def test_selector_and_model_paths():
    encoder = initialized(TransformerEncoder(1, DIM, HEADS, HIDDEN, name="encoder"))
    x = pt.tensor3("x")
    model = Model(encoder.apply(x).sum())
    names = model.get_parameter_dict()
    assert "/encoder/layer_0/self_attention/query_transformer.W" in names
    assert "/encoder/layer_0/feedforward_norm.scale" in names
    [weight] = Selector(encoder).select("/encoder/layer_0/self_attention/output_transformer.W")
    [layer] = Selector(encoder).select("/encoder/layer_0").bricks
    assert [brick.name for brick in layer.children] == [
        "self_attention", "self_attention_norm", "feedforward", "feedforward_norm"]
    assert weight is encoder.layers[0].self_attention.output_transformer.W


def test_composes_with_dropout_and_noise():
    layer = initialized(TransformerEncoderLayer(DIM, HEADS, HIDDEN))
    x = pt.tensor3("x")
    cg = ComputationGraph(layer.apply(x))
    attention_outputs = VariableFilter(bricks=[layer.self_attention], roles=[OUTPUT])(
        cg.variables)
    assert len(attention_outputs) == 1
    clean = cg.outputs[0].eval({x: INPUTS})
    for transformed in (apply_dropout(cg, attention_outputs, 0.5, seed=1),
                        apply_noise(cg, attention_outputs, 1.0, seed=1)):
        assert not np.allclose(transformed.outputs[0].eval({x: INPUTS}), clean)
    # The original graph is left as it was.
    np.testing.assert_array_equal(cg.outputs[0].eval({x: INPUTS}), clean)


def test_sinusoidal_embedding_with_an_offset():
    embedding = SinusoidalPositionalEmbedding(dim=5)
    x, offset = pt.tensor3("x"), pt.lscalar("offset")
    got = embedding.apply(x, offset=offset).eval({x: INPUTS[..., :5], offset: 3})
    np.testing.assert_allclose(got, INPUTS[..., :5] + reference.sinusoids(T, 5, first=3)[
        :, None], rtol=1e-12)


def test_learned_embedding():
    embedding = LearnedPositionalEmbedding(max_length=T + 1, dim=DIM,
                                           weights_init=IsotropicGaussian(1))
    embedding.initialize()
    table = embedding.W.get_value()
    x = pt.tensor3("x")
    np.testing.assert_allclose(embedding.apply(x, offset=1).eval({x: INPUTS}),
                               INPUTS + table[1:T + 1, None], rtol=1e-12)
    too_far = pytensor.function([x], embedding.apply(x, offset=2))
    with pytest.raises(AssertionError, match=r"positions must stay below max_length=5"):
        too_far(INPUTS)


def test_bad_configuration():
    with pytest.raises(ValueError, match=r"^TransformerEncoder 'encoder': num_layers must be "
                                         r"a positive integer, got 0$"):
        TransformerEncoder(0, DIM, HEADS, HIDDEN, name="encoder")
    with pytest.raises(ValueError, match=r"^TransformerEncoderLayer 'layer': activation must "
                                         r"be 'gelu', 'relu' or an activation brick, got "
                                         r"'swish'$"):
        TransformerEncoderLayer(DIM, HEADS, HIDDEN, activation="swish", name="layer")
    with pytest.raises(TypeError, match=r"^TransformerDecoder 'transformerdecoder': "
                                        r"activation must be .*got 3$"):
        TransformerDecoder(1, DIM, HEADS, HIDDEN, activation=3)
    with pytest.raises(TypeError, match=r"norm_first must be True or False, got 'yes'"):
        TransformerEncoderLayer(DIM, HEADS, HIDDEN, norm_first="yes")
    # Arguments passed on to the children are refused by the brick they were given to.
    with pytest.raises(ValueError, match=r"^TransformerEncoder 'transformerencoder': epsilon "
                                         r"must be a non-negative number, got -1$"):
        TransformerEncoder(1, DIM, HEADS, HIDDEN, epsilon=-1)
    with pytest.raises(ValueError, match=r"^TransformerDecoderLayer 'transformerdecoderlayer':"
                                         r" attention_dropout must be a probability in "
                                         r"\[0, 1\), got 1.5$"):
        TransformerDecoderLayer(DIM, HEADS, HIDDEN, attention_dropout=1.5)
    with pytest.raises(ValueError, match=r"feedforward_dim must be a positive integer, got 0"):
        TransformerEncoderLayer(DIM, HEADS, 0)
    with pytest.raises(ValueError, match=r"^MultiHeadAttention 'self_attention': dim must be "
                                         r"a multiple of num_heads=4"):
        TransformerEncoderLayer(DIM, 4, HIDDEN).allocate()
    with pytest.raises(ValueError, match=r"'inputs': expected a time-major sequence \(time, "
                                         r"batch, 6\)"):
        SinusoidalPositionalEmbedding(DIM).apply(pt.matrix())


def test_jax_backend_gives_the_same_values_and_gradients():
    pytest.importorskip("jax")
    from blocks.backend import function

    layer = initialized(TransformerDecoderLayer(DIM, HEADS, HIDDEN))
    x, attended, mask = pt.tensor3("x"), pt.tensor3("attended"), pt.matrix("mask")
    output = layer.apply(x, attended, attended_mask=mask)
    outputs = [output, pytensor.grad(output.sum(), x)]
    inputs = [INPUTS, ATTENDED, ATTENDED_MASK]
    expected = pytensor.function([x, attended, mask], outputs)(*inputs)
    got = function([x, attended, mask], outputs, mode="JAX")(*inputs)
    for value, wanted in zip(got, expected):
        np.testing.assert_allclose(np.asarray(value), wanted, rtol=1e-9, atol=1e-12)
