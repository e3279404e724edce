"""Fuel's dataset, stream and scheme interface, as Fuel documents it."""

import numpy as np
import pytest

from blocks.datasets import (
    Cast,
    ConcatenatedScheme,
    Dataset,
    DataStream,
    IndexableDataset,
    IterableDataset,
    ScaleAndShift,
    SequentialExampleScheme,
    SequentialScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
    cross_validation,
)

FEATURES = np.arange(12.0).reshape(6, 2)
TARGETS = np.array([0, 1, 2, 0, 1, 2])


class Squares(Dataset):
    """A dataset written as Fuel's documentation shows: provides_sources, get_data."""

    provides_sources = ("number", "square")
    default_transformers = ((ScaleAndShift, [2.0, 1.0], {"which_sources": ("square",)}),
                            (Cast, ["int64"], {}))

    def get_data(self, state=None, request=None):
        numbers = np.asarray(request)
        return self.filter_sources((numbers, numbers ** 2))


def test_get_example_stream_of_an_indexable_dataset():
    dataset = IndexableDataset({"features": FEATURES, "targets": TARGETS})
    stream = dataset.get_example_stream()
    assert stream.produces_examples
    examples = list(stream.get_epoch_iterator())
    assert len(examples) == 6
    for (features, target), expected_f, expected_t in zip(examples, FEATURES, TARGETS):
        np.testing.assert_array_equal(features, expected_f)
        assert target == expected_t
    assert isinstance(dataset.example_iteration_scheme, SequentialExampleScheme)


def test_get_example_stream_of_an_iterable_dataset():
    dataset = IterableDataset({"words": ["a", "b", "c"]})
    assert dataset.example_iteration_scheme is None
    assert list(dataset.get_example_stream().get_epoch_iterator()) == [("a",), ("b",), ("c",)]


def test_dataset_subclass_sources_and_default_transformers():
    assert Squares().sources == ("number", "square")
    squares = Squares(sources=("square",))
    assert squares.get_data(request=[1, 3])[0].tolist() == [1, 9]
    with pytest.raises(AttributeError, match="Squares does not provide an example iteration"):
        squares.get_example_stream()
    with pytest.raises(ValueError, match=r"unable to provide the requested sources "
                                         r"\['cube'\]: unknown source\(s\) \['cube'\]"):
        Squares(sources=("cube",))
    stream = DataStream.default_stream(Squares(), iteration_scheme=SequentialScheme(4, 2))
    numbers, squares_ = next(stream.get_epoch_iterator())
    assert squares_.dtype == np.int64 and numbers.dtype == np.int64
    np.testing.assert_array_equal(squares_, 2 * np.array([0, 1]) ** 2 + 1)
    np.testing.assert_array_equal(numbers, [0, 1])  # Cast touched it, the scaling did not

    class Nameless(Dataset):
        def get_data(self, state=None, request=None):
            return ()

    with pytest.raises(ValueError, match="Nameless: the dataset does not set provides_sources"):
        Nameless()


def test_indexable_dataset_attributes_and_source_order():
    dataset = IndexableDataset({"features": FEATURES, "targets": TARGETS},
                               sources=("targets", "features"), start=1, stop=5)
    assert dataset.num_examples == 4 and (dataset.start, dataset.stop) == (1, 5)
    np.testing.assert_array_equal(dataset.targets, TARGETS[1:5])
    np.testing.assert_array_equal(dataset.indexables[1], FEATURES[1:5])
    targets, features = dataset.get_data(request=[3])
    assert targets.tolist() == [TARGETS[4]] and features.tolist() == [FEATURES[4].tolist()]
    with pytest.raises(AttributeError, match="no attribute or source 'labels'"):
        getattr(dataset, "labels")  # noqa: B009 -- the attribute access is the test
    only_targets = IndexableDataset({"features": FEATURES, "targets": TARGETS},
                                    sources=("targets",))
    with pytest.raises(AttributeError):
        getattr(only_targets, "features")  # noqa: B009 -- not a selected source


def test_iterable_dataset_lengths():
    with pytest.raises(ValueError, match=r"different lengths: \{'x': 3, 'y': 2\}"):
        IterableDataset({"x": [1, 2, 3], "y": [1, 2]})
    assert IterableDataset({"x": [1, 2, 3]}).num_examples == 3

    class Endless:
        def __iter__(self):
            return iter(range(10 ** 9))

    assert np.isnan(IterableDataset({"x": Endless()}).num_examples)


def test_stream_axis_labels_and_sources():
    labels = {"features": ("batch", "feature"), "targets": ("batch",)}
    dataset = IndexableDataset({"features": FEATURES, "targets": TARGETS}, axis_labels=labels)
    batches = DataStream(dataset, iteration_scheme=SequentialScheme(6, 4))
    assert batches.axis_labels == labels and not batches.produces_examples
    examples = DataStream(dataset)
    assert examples.axis_labels == {"features": ("feature",), "targets": ()}
    assert dataset.axis_labels == labels  # the dataset's own labels are left alone
    batches.sources = ("x", "y")
    assert next(batches.get_epoch_iterator(as_dict=True)).keys() == {"x", "y"}
    with pytest.raises(ValueError, match="its iteration scheme SequentialScheme decides"):
        batches.produces_examples = True


def test_shuffled_schemes_match_fuel_shuffling_of_the_indices():
    # Fuel shuffles the list of indices in place with the scheme's RandomState.
    indices = [7, 3, 9, 1, 4]
    reference = list(indices)
    np.random.RandomState(5).shuffle(reference)
    scheme = ShuffledScheme(indices, batch_size=2, rng=np.random.RandomState(5))
    assert list(scheme.get_request_iterator()) == [reference[0:2], reference[2:4],
                                                   reference[4:]]
    examples = ShuffledExampleScheme(indices, rng=np.random.RandomState(5))
    assert list(examples.get_request_iterator()) == reference


def test_concatenated_scheme():
    scheme = ConcatenatedScheme([SequentialScheme([5, 6, 7], 2), SequentialScheme(2, 2)])
    assert not scheme.requests_examples
    for _ in range(2):
        assert list(scheme.get_request_iterator()) == [[5, 6], [7], [0, 1]]
    examples = ConcatenatedScheme([SequentialExampleScheme([2]), SequentialExampleScheme(2)])
    assert examples.requests_examples and list(examples.get_request_iterator()) == [2, 0, 1]
    with pytest.raises(ValueError, match="same type of requests"):
        ConcatenatedScheme([SequentialScheme(2, 1), SequentialExampleScheme(2)])
    with pytest.raises(ValueError, match="at least one scheme"):
        ConcatenatedScheme([])


def test_cross_validation_folds_partition_the_examples():
    folds = list(cross_validation(SequentialExampleScheme, 10, 5))
    assert len(folds) == 5
    valid_sets = []
    for train, valid in folds:
        train_indices = list(train.get_request_iterator())
        valid_indices = list(valid.get_request_iterator())
        assert len(valid_indices) == 2
        assert sorted(train_indices + valid_indices) == list(range(10))
        valid_sets.append(valid_indices)
    assert sorted(sum(valid_sets, [])) == list(range(10))
    assert valid_sets[1] == [2, 3]
    with pytest.raises(ValueError, match="10 examples are not divisible in 3 evenly-sized "
                                         "folds; pass strict=False"):
        list(cross_validation(SequentialExampleScheme, 10, 3))
    loose = list(cross_validation(SequentialScheme, 10, 3, strict=False, batch_size=4))
    assert [size for _, _, size in loose] == [3, 3, 4]
    train, valid, _ = loose[2]
    assert list(valid.get_request_iterator()) == [[6, 7, 8, 9]]
    assert list(train.get_request_iterator()) == [[0, 1, 2, 3], [4, 5]]
