"""MultiHeadAttention against numpy: masks, causality, cached steps, gradients, bad input."""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from blocks.bricks.transformer import (
    MultiHeadAttention,
    apply_attention_dropout,
    masked_softmax,
)
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph
from blocks.initialization import Constant, IsotropicGaussian
from blocks.roles import DROPOUT
from tests.bricks.transformer import reference

RNG = np.random.default_rng(7)
TQ, TK, BATCH, DIM, HEADS = 4, 5, 3, 6, 2
QUERIES = RNG.normal(size=(TQ, BATCH, DIM))
KEYS = RNG.normal(size=(TK, BATCH, DIM))
VALUES = RNG.normal(size=(TK, BATCH, DIM))
# The second example has two padded keys; the third none valid at all.
MASK = np.ones((TK, BATCH))
MASK[3:, 1] = 0
MASK[:, 2] = 0


def make_attention(**kwargs):
    attention = MultiHeadAttention(DIM, HEADS, weights_init=IsotropicGaussian(0.5),
                                   biases_init=IsotropicGaussian(0.2), seed=3, **kwargs)
    attention.initialize()
    return attention


@pytest.fixture(scope="module")
def attention():
    return make_attention()


def variables():
    return pt.tensor3("queries"), pt.tensor3("keys"), pt.tensor3("values"), pt.matrix("mask")


@pytest.mark.parametrize("masked, causal", [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_values_and_weights_against_numpy(attention, masked, causal):
    q, k, v, mask = variables()
    queries, keys, values = (QUERIES, KEYS, VALUES) if not causal else (
        QUERIES, KEYS[:TQ], VALUES[:TQ])
    mask_value = MASK[:len(keys)] if masked else None
    output = attention.apply(q, k, v, mask=mask if masked else None, causal=causal)
    [weights] = VariableFilter(name="attention_weights")(ComputationGraph(output).variables)
    inputs = [q, k, v] + ([mask] if masked else [])
    values_given = [queries, keys, values] + ([mask_value] if masked else [])
    got_output, got_weights = pytensor.function(inputs, [output, weights])(*values_given)
    expected_output, expected_weights = reference.attention(
        attention, queries, keys, values, mask_value, causal)
    np.testing.assert_allclose(got_output, expected_output, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_weights, expected_weights, rtol=1e-10, atol=1e-12)
    assert weights.name == "multiheadattention_apply_attention_weights"


def test_a_query_with_no_valid_key_gets_zeros_and_finite_gradients(attention):
    q, k, v, mask = variables()
    output = attention.apply(q, k, v, mask=mask)
    [weights] = VariableFilter(name="attention_weights")(ComputationGraph(output).variables)
    gradient = pt.grad(output.sum(), [q, k, v])
    got_weights, got_output, *gradients = pytensor.function(
        [q, k, v, mask], [weights, output] + gradient)(QUERIES, KEYS, VALUES, MASK)
    assert np.all(got_weights[2] == 0)
    # The average of no value is zero: only the output projection's bias remains.
    np.testing.assert_allclose(got_output[:, 2],
                               np.tile(attention.output_transformer.b.get_value(), (TQ, 1)))
    assert all(np.isfinite(g).all() for g in gradients)
    assert np.all(gradients[1][:, 2] == 0)


def test_causality_is_exact(attention):
    x = pt.tensor3("x")
    output = pytensor.function([x], attention.apply(x, x, x, causal=True))
    before = output(QUERIES)
    for t in range(TQ - 1):
        changed = QUERIES.copy()
        changed[t + 1:] = RNG.normal(size=changed[t + 1:].shape) * 100
        after = output(changed)
        np.testing.assert_array_equal(after[:t + 1], before[:t + 1])
        assert not np.allclose(after[t + 1:], before[t + 1:])


def test_cached_steps_equal_the_causal_pass(attention):
    x = pt.tensor3("x")
    length = 6
    full = attention.apply(x, x, x, causal=True)
    caches = [pt.tensor3("key_cache"), pt.tensor3("value_cache")]
    position = pt.lscalar("position")
    step = pytensor.function([x, *caches, position],
                             attention.apply_cached(x, *caches, position))
    expected = full.eval({x: QUERIES})
    key_cache = value_cache = np.full((BATCH, length, HEADS * attention.head_dim), 7.0)
    outputs = []
    # One step, then two at once, then one: any split gives the same outputs.
    for start, stop in ((0, 1), (1, 3), (3, 4)):
        output, key_cache, value_cache = step(QUERIES[start:stop], key_cache, value_cache,
                                              start)
        outputs.append(output)
    np.testing.assert_allclose(np.concatenate(outputs), expected, rtol=1e-10, atol=1e-12)
    # Positions not yet decoded keep whatever they held.
    assert np.all(key_cache[:, TQ:] == 7.0)


def test_gradients(attention):
    mask = MASK[:, :2]

    def build(queries, keys, values):
        return attention.apply(queries, keys, values, mask=pt.constant(mask))

    point = [QUERIES[:, :2], KEYS[:, :2], VALUES[:, :2]] + [
        p.get_value() for p in reference.parameters(attention)]
    verify_grad(reference.function_of_parameters(attention, build), point,
                rng=np.random.default_rng(0))


def test_causal_gradients(attention):
    def build(x):
        return attention.apply(x, x, x, causal=True)

    verify_grad(build, [QUERIES[:, :2]], rng=np.random.default_rng(1))


def test_masked_softmax_matches_softmax_where_all_valid():
    energies = RNG.normal(size=(3, 4))
    e = pt.matrix("e")
    np.testing.assert_allclose(
        masked_softmax(e, np.ones((3, 4), dtype=bool)).eval({e: energies}),
        pt.special.softmax(e, axis=-1).eval({e: energies}), rtol=1e-12)


def test_key_dim_and_initialization_are_configured():
    attention = MultiHeadAttention(5, 2, key_dim=3, weights_init=Constant(0.1),
                                   biases_init=Constant(0))
    attention.initialize()
    assert attention.query_transformer.W.get_value().shape == (5, 6)
    assert attention.output_transformer.W.get_value().shape == (6, 5)
    x = pt.tensor3("x")
    assert attention.apply(x, x, x).eval({x: np.ones((2, 1, 5))}).shape == (2, 1, 5)


def test_attention_dropout_drops_weights_of_bricks_with_a_rate():
    attention = make_attention(dropout=0.5)
    x = pt.tensor3("x")
    cg = ComputationGraph(attention.apply(x, x, x))
    [weights] = VariableFilter(name="attention_weights")(cg.variables)
    with warnings.catch_warnings():
        # Replacing the weights is not a mistake to warn of.
        warnings.simplefilter("error", UserWarning)
        dropped = apply_attention_dropout(cg, seed=1)
    [replacement] = VariableFilter(roles=[DROPOUT])(dropped.variables)
    assert replacement.tag.replacement_of is weights
    original, sampled = pytensor.function([x], [weights, replacement])(QUERIES)
    # Each weight is dropped or doubled, and some of each.
    dropped_out = sampled == 0
    assert 0 < dropped_out.sum() < sampled.size
    np.testing.assert_allclose(sampled[~dropped_out], 2 * original[~dropped_out])
    # Bricks without a rate are left alone.
    plain = ComputationGraph(make_attention().apply(x, x, x))
    assert apply_attention_dropout(plain).outputs == plain.outputs


# Bad input

def test_dim_must_be_a_multiple_of_num_heads():
    with pytest.raises(ValueError, match=r"^MultiHeadAttention 'mha': dim must be a multiple "
                                         r"of num_heads=4 .*got dim=6"):
        MultiHeadAttention(6, 4, name="mha").allocate()


@pytest.mark.parametrize("value, error", [(0, ValueError), (-1, ValueError),
                                          (2.5, TypeError), (True, TypeError)])
def test_num_heads_must_be_a_positive_int(value, error):
    with pytest.raises(error, match=rf"^MultiHeadAttention 'multiheadattention': num_heads "
                                    rf"must be a positive integer, got {value}$"):
        MultiHeadAttention(6, value)
    attention = MultiHeadAttention(6, 2, name="mha")
    with pytest.raises(error, match=r"^MultiHeadAttention 'mha': num_heads must be"):
        attention.num_heads = value


def test_bad_dropout():
    with pytest.raises(ValueError, match=r"^MultiHeadAttention 'multiheadattention': dropout "
                                         r"must be a probability in \[0, 1\), got 1.0$"):
        MultiHeadAttention(4, 2, dropout=1.0)


def test_bad_inputs(attention):
    q = pt.tensor(shape=(None, 3, DIM))
    k = pt.tensor(shape=(None, 2, DIM))
    name = r"MultiHeadAttention 'multiheadattention'"
    with pytest.raises(ValueError, match=name + r".*'keys' has batch size 2.*'queries' has "
                                                r"batch size 3"):
        attention.apply(q, k, k)
    with pytest.raises(ValueError, match=r"'queries': expected a time-major sequence"):
        attention.apply(pt.matrix(), pt.tensor3(), pt.tensor3())
    with pytest.raises(ValueError, match=r"'keys'.*last dimension to be 6"):
        attention.apply(q, pt.tensor(shape=(None, None, 4)), pt.tensor3())
    with pytest.raises(ValueError, match=r"'mask': expected \(key time, batch\).*ndim=3"):
        attention.apply(q, q, q, mask=pt.tensor3())
    with pytest.raises(ValueError, match=r"'mask' must match 'keys' along its first 2 axes"):
        attention.apply(q, q, q, mask=pt.tensor(shape=(None, 2)))
    with pytest.raises(TypeError, match=r"'causal': expected True or False"):
        attention.apply(q, q, q, causal=1)


def test_mask_shape_is_checked_when_run(attention):
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    function = pytensor.function([x, mask], attention.apply(x, x, x, mask=mask))
    # PyTensor's own broadcasting check of the shape graph may fire before ours.
    with pytest.raises(AssertionError, match=r"'mask' must match 'keys'|broadcast"):
        function(QUERIES, np.ones((TQ, BATCH + 1)))


def test_cache_of_another_batch_size(attention):
    q = pt.tensor(shape=(1, 3, DIM))
    cache = pt.tensor(shape=(2, 8, DIM))
    with pytest.raises(ValueError, match=r"'key_cache' has batch size 2 \(axis 0\) but "
                                         r"'queries' has batch size 3"):
        attention.apply_cached(q, cache, cache, 0)
    with pytest.raises(ValueError, match=r"'value_cache': expected \(batch, max_length, 6\)"):
        attention.apply_cached(q, pt.tensor3(), pt.tensor(shape=(3, 8, 5)), 0)
    with pytest.raises(TypeError, match=r"'position': expected an integer scalar"):
        attention.apply_cached(q, pt.tensor3(), pt.tensor3(), pt.dscalar())
