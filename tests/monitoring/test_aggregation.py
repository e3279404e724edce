"""Blocks' aggregation schemes: Mean, Perplexity, TakeLast, Minimum, Maximum, Concatenate."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.monitoring.aggregation import (
    Concatenate,
    Maximum,
    Mean,
    Minimum,
    Perplexity,
    TakeLast,
    concatenate,
    maximum,
    mean,
    minimum,
    perplexity,
    take_last,
)
from blocks.monitoring.evaluators import AggregationBuffer, DatasetEvaluator

FEATURES = np.array([[0, 3], [2, 9], [2, 4], [5, 1], [6, 7]], dtype=pytensor.config.floatX)


def stream(features=FEATURES, batch_size=2):
    dataset = IndexableDataset({"features": features})
    return DataStream(dataset, iteration_scheme=SequentialScheme(len(features), batch_size))


def batches(features=FEATURES, batch_size=2):
    return [features[start:start + batch_size]
            for start in range(0, len(features), batch_size)]


x = pt.matrix("features")


def tagged(variable, scheme, name):
    variable = variable.copy(name=name)
    variable.tag.aggregation_scheme = scheme(variable)
    return variable


@pytest.mark.parametrize("scheme, readout", [(Mean, lambda v: v),
                                             (Perplexity, lambda v: np.exp(-v))])
def test_mean_like_schemes_over_uneven_batches(scheme, readout):
    y = (x ** 0.5).sum(axis=0).copy(name="y")
    z = y.sum().copy(name="z")
    y.tag.aggregation_scheme = scheme(y, x.shape[0])
    z.tag.aggregation_scheme = scheme(z, x.shape[0])
    values = DatasetEvaluator([y, z]).evaluate(stream())
    # Batches of 2, 2 and 1 rows: the exact mean over the 5 rows.
    np.testing.assert_allclose(values["y"], readout((FEATURES ** 0.5).mean(axis=0)),
                               rtol=1e-6)
    np.testing.assert_allclose(values["z"], readout((FEATURES ** 0.5).sum(axis=1).mean()),
                               rtol=1e-6)


def test_mean_is_named_after_its_numerator():
    total = x.sum()
    total.name = "total_cost"
    average = mean(total, x.shape[0])
    assert average.name == "total_cost"
    assert isinstance(average.tag.aggregation_scheme, Mean)
    assert average.tag.aggregation_scheme.numerator is total
    assert mean(x.sum(), 2.0).name is None
    # A named mean can be monitored as it is.
    value = DatasetEvaluator([average]).evaluate(stream())["total_cost"]
    np.testing.assert_allclose(value, FEATURES.sum() / len(FEATURES), rtol=1e-6)


def test_perplexity_function():
    log_likelihood = -x.sum()
    variable = perplexity(log_likelihood, x.shape[0])
    assert variable.name == "perplexity"
    assert isinstance(variable.tag.aggregation_scheme, Perplexity)
    value = DatasetEvaluator([variable]).evaluate(stream())["perplexity"]
    np.testing.assert_allclose(value, np.exp(FEATURES.sum() / len(FEATURES)), rtol=1e-6)
    one_batch = variable.eval({x: FEATURES[:2]})
    np.testing.assert_allclose(one_batch, np.exp(FEATURES[:2].sum() / 2), rtol=1e-6)


def _reference(values, combine):
    kept = values[0]
    for value in values[1:]:
        kept = combine(kept, value)
    return kept


EXPRESSIONS = {
    "column_sums": lambda m: (m ** 2).sum(axis=0),
    "smallest_sum": lambda m: (m ** 2).sum(axis=0).min(),
    "keepdims": lambda m: m.sum(axis=0, keepdims=True),
}


@pytest.mark.parametrize("expression", sorted(EXPRESSIONS))
@pytest.mark.parametrize("scheme, combine", [
    (Minimum, np.minimum), (Maximum, np.maximum),
    (Concatenate, lambda kept, value: np.concatenate([np.reshape(kept, (-1,) + value.shape),
                                                      value[None]])),
])
def test_min_max_concatenate_and_reset(expression, scheme, combine):
    build = EXPRESSIONS[expression]
    variable = tagged(build(x), scheme, "v")
    evaluator = DatasetEvaluator([variable])
    for features in (FEATURES, FEATURES[::-1] - 3):
        per_batch = [build(batch) for batch in batches(features)]
        expected = _reference(per_batch, combine)
        if scheme is Concatenate and len(per_batch) == 1:
            expected = expected[None]
        # A second evaluation starts afresh (the accumulators are reset).
        np.testing.assert_allclose(evaluator.evaluate(stream(features))["v"], expected)


def test_concatenate_stacks_batch_values():
    # Blocks' example: column sums of batches of 2 rows of a 4-row matrix.
    features = np.array([[2, 3], [2, 9], [2, 4], [5, 1]], dtype=pytensor.config.floatX)
    y = tagged(x.sum(axis=0), Concatenate, "y")
    z = tagged(y.sum(axis=0), Concatenate, "z")
    values = DatasetEvaluator([y, z]).evaluate(stream(features))
    np.testing.assert_allclose(values["y"], [[4, 12], [7, 5]])
    np.testing.assert_allclose(values["z"], [16, 12])


@pytest.mark.numba
def test_min_max_concatenate_under_numba():
    # The Numba backend computes both sides of a branch: the schemes must not rely on one.
    low = tagged((x ** 2).sum(axis=0).min(), Minimum, "low")
    high = tagged((x ** 2).sum(axis=0), Maximum, "high")
    every = tagged(x.sum(), Concatenate, "every")
    values = DatasetEvaluator([low, high, every]).evaluate(stream())
    per_batch = batches()
    np.testing.assert_allclose(values["low"], min((b ** 2).sum(axis=0).min() for b in per_batch))
    np.testing.assert_allclose(values["high"],
                               _reference([(b ** 2).sum(axis=0) for b in per_batch], np.maximum))
    np.testing.assert_allclose(values["every"], [b.sum() for b in per_batch])


def test_aggregator_used_by_hand():
    # As Blocks' docs describe: initialize, accumulate batches, read out.
    variable = tagged(x.max(), Maximum, "largest")
    aggregator = variable.tag.aggregation_scheme.get_aggregator()
    initialize = pytensor.function([], [], updates=aggregator.initialization_updates)
    accumulate = pytensor.function([x], [], updates=aggregator.accumulation_updates)
    initialize()
    accumulate(FEATURES[:2])
    accumulate(FEATURES[2:4])
    assert float(aggregator.readout_variable.eval()) == 9.0
    initialize()
    accumulate(FEATURES[4:])
    assert float(aggregator.readout_variable.eval()) == 7.0


@pytest.mark.parametrize("function, scheme", [(take_last, TakeLast), (minimum, Minimum),
                                              (maximum, Maximum), (concatenate, Concatenate)])
def test_aggregation_functions_tag_a_named_copy(function, scheme):
    original = x.sum().copy(name="total")
    aggregated = function(original)
    assert aggregated is not original and aggregated.name == "total"
    assert isinstance(aggregated.tag.aggregation_scheme, scheme)
    assert aggregated.tag.aggregation_scheme.variable is aggregated
    assert not hasattr(original.tag, "aggregation_scheme")


def test_take_last():
    last = take_last(x.sum().copy(name="last"))
    value = DatasetEvaluator([last]).evaluate(stream())["last"]
    assert float(value) == FEATURES[4:].sum()


def test_aggregation_buffer_names():
    with pytest.raises(ValueError, match="unique"):
        AggregationBuffer([pt.scalar("x"), pt.scalar("x")])
    with pytest.raises(ValueError, match="must have names"):
        AggregationBuffer([pt.scalar()])
