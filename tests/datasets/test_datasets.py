"""In-memory datasets, iteration schemes, streams and transformers."""

import pickle

import numpy as np
import pytensor
import pytest

from blocks.config import config
from blocks.datasets import (
    Batch,
    ConstantScheme,
    DataStream,
    Filter,
    ForceFloatX,
    IndexableDataset,
    IterableDataset,
    Mapping,
    Padding,
    Rename,
    SequentialExampleScheme,
    SequentialScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
    Transformer,
)

FEATURES = np.arange(20.0).reshape(10, 2)
TARGETS = np.arange(10) % 3


def dataset(**kwargs):
    return IndexableDataset({"features": FEATURES, "targets": TARGETS}, **kwargs)


def add_one(data):  # module-level, so that a Mapping using it pickles
    return (data[0] + 1,)


# Datasets

def test_indexable_dataset_requests():
    data = dataset()
    assert data.sources == ("features", "targets") and data.num_examples == 10
    features, targets = data.get_data(request=[4, 1])
    np.testing.assert_array_equal(features, FEATURES[[4, 1]])
    np.testing.assert_array_equal(targets, TARGETS[[4, 1]])
    features, targets = data.get_data(request=slice(2, 5))
    np.testing.assert_array_equal(features, FEATURES[2:5])
    assert data.get_data(request=3)[1] == TARGETS[3]
    assert data.example_iteration_scheme.indices == list(range(10))


def test_indexable_dataset_options():
    subset = dataset(start=2, stop=6, sources=("targets",))
    assert subset.num_examples == 4 and subset.sources == ("targets",)
    np.testing.assert_array_equal(subset.get_data(request=[0, 3])[0], TARGETS[[2, 5]])
    single = IndexableDataset(FEATURES)
    assert single.sources == ("data",)
    sentences = IndexableDataset({"words": [[1, 2], [3], [4, 5, 6]]})
    assert sentences.get_data(request=[2, 0]) == ([[4, 5, 6], [1, 2]],)


def test_indexable_dataset_errors():
    with pytest.raises(ValueError, match=r"same number of examples, got \{'x': 3, 'y': 2\}"):
        IndexableDataset({"x": np.zeros(3), "y": np.zeros(2)})
    with pytest.raises(ValueError, match=r"unknown source\(s\) \['labels'\]; the dataset "
                                         r"provides \['features', 'targets'\]"):
        dataset(sources=("features", "labels"))
    with pytest.raises(ValueError, match="at least one source"):
        IndexableDataset({})
    with pytest.raises(TypeError, match="source 'x' must support len"):
        IndexableDataset({"x": 3})
    with pytest.raises(ValueError, match="0-d array"):
        IndexableDataset({"x": np.array(1.0)})
    with pytest.raises(TypeError, match="source names must be strings"):
        IndexableDataset({1: np.zeros(2)})
    with pytest.raises(ValueError, match="needs a request"):
        dataset().get_data()
    with pytest.raises(IndexError, match=r"indices \[10\] out of range for 10 examples"):
        dataset().get_data(request=[0, 10])


def test_iterable_dataset():
    stream = DataStream(IterableDataset({"x": [1, 2, 3], "y": np.array([4, 5, 6])},
                                        sources=("y",)))
    assert stream.sources == ("y",)
    for _ in range(2):  # every epoch starts over
        assert [int(y) for y, in stream.get_epoch_iterator()] == [4, 5, 6]
    with pytest.raises(TypeError, match="source 'x' is not iterable"):
        IterableDataset({"x": 3})
    with pytest.raises(ValueError, match="no request"):
        IterableDataset([1]).get_data(request=0)


# Schemes

def test_sequential_schemes():
    assert list(SequentialScheme(7, 3).get_request_iterator()) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(SequentialScheme([5, 2, 9], 2).get_request_iterator()) == [[5, 2], [9]]
    assert list(SequentialExampleScheme([3, 1]).get_request_iterator()) == [3, 1]
    assert list(SequentialScheme(0, 2).get_request_iterator()) == []


def test_shuffled_scheme_is_reproducible_and_covers_every_example():
    scheme = ShuffledScheme(10, 4, rng=3)
    epochs = [list(scheme.get_request_iterator()) for _ in range(3)]
    for epoch in epochs:
        assert [len(batch) for batch in epoch] == [4, 4, 2]
        assert sorted(sum(epoch, [])) == list(range(10))
    assert epochs[0] != epochs[1]  # a new order every epoch
    again = ShuffledScheme(10, 4, rng=np.random.RandomState(3))
    assert [list(again.get_request_iterator()) for _ in range(3)] == epochs
    default = [list(ShuffledScheme(10, 4).get_request_iterator()) for _ in range(2)]
    assert default[0] == list(ShuffledScheme(10, 4, rng=config.default_seed)
                              .get_request_iterator())
    assert default[0] == default[1]
    generator = ShuffledScheme(10, 4, rng=np.random.default_rng(0))
    assert sorted(sum(generator.get_request_iterator(), [])) == list(range(10))
    for batch in ShuffledScheme(10, 4, rng=3, sorted_indices=True).get_request_iterator():
        assert batch == sorted(batch)
    examples = list(ShuffledExampleScheme(6, rng=1).get_request_iterator())
    assert sorted(examples) == list(range(6)) and examples != list(range(6))


def test_constant_scheme():
    assert list(ConstantScheme(4, num_examples=10).get_request_iterator()) == [4, 4, 2]
    assert list(ConstantScheme(4, times=2).get_request_iterator()) == [4, 4]
    endless = ConstantScheme(3).get_request_iterator()
    assert [next(endless) for _ in range(50)] == [3] * 50


def test_scheme_errors():
    with pytest.raises(ValueError, match="SequentialScheme: batch_size must be a positive "
                                         "integer, got 0"):
        SequentialScheme(10, 0)
    with pytest.raises(ValueError, match="ConstantScheme: batch_size must be a positive"):
        ConstantScheme(2.5)
    with pytest.raises(ValueError, match="num_examples or times, not both"):
        ConstantScheme(2, num_examples=4, times=2)
    with pytest.raises(TypeError, match="ShuffledScheme: examples must be a number of "
                                        "examples or a sequence of indices"):
        ShuffledScheme("all", 2)
    with pytest.raises(ValueError, match="number of examples must be >= 0"):
        SequentialExampleScheme(-1)
    with pytest.raises(TypeError, match="rng must be None, an integer seed"):
        ShuffledScheme(4, 2, rng="seed")


# Streams

def test_data_stream_epochs_as_tuples_and_dicts():
    stream = DataStream(dataset(), iteration_scheme=SequentialScheme(10, 4))
    assert stream.sources == ("features", "targets") and not stream.produces_examples
    for _ in range(2):
        batches = list(stream.get_epoch_iterator())
        assert [len(targets) for _, targets in batches] == [4, 4, 2]
        np.testing.assert_array_equal(np.concatenate([f for f, _ in batches]), FEATURES)
    batch = next(stream.get_epoch_iterator(as_dict=True))
    assert list(batch) == ["features", "targets"]
    np.testing.assert_array_equal(batch["targets"], TARGETS[:4])
    epochs = stream.iterate_epochs(as_dict=True)
    assert len(list(next(epochs))) == 3 and len(list(next(epochs))) == 3


def test_data_stream_defaults_reset_and_close():
    stream = DataStream(dataset())  # the dataset's example scheme: one example at a time
    assert stream.produces_examples
    assert [int(t) for _, t in stream.get_epoch_iterator()] == TARGETS.tolist()
    iterable = DataStream(IterableDataset({"x": [1, 2, 3]}))
    epoch = iterable.get_epoch_iterator()
    next(epoch)
    iterable.reset()
    assert list(iterable.get_epoch_iterator()) == [(1,), (2,), (3,)]
    iterable.close()
    assert list(iterable.get_epoch_iterator()) == [(1,), (2,), (3,)]
    assert DataStream.default_stream(dataset()).iteration_scheme.requests_examples


def test_data_stream_errors():
    with pytest.raises(TypeError, match="dataset must provide sources and get_data"):
        DataStream(FEATURES)
    with pytest.raises(TypeError, match="iteration_scheme must be an IterationScheme, got "
                                        "int"):
        DataStream(dataset(), iteration_scheme=4)
    with pytest.raises(TypeError, match="lacks \\['sources', 'get_epoch_iterator'\\]"):
        Mapping([1, 2], add_one)


def test_stream_pickles_mid_epoch_and_resumes_identically():
    stream = Mapping(DataStream(dataset(), iteration_scheme=ShuffledScheme(10, 3, rng=5)),
                     add_one, add_sources=("plus_one",))
    epoch = stream.get_epoch_iterator(as_dict=True)
    next(epoch)
    stream_copy, epoch_copy = pickle.loads(pickle.dumps((stream, epoch)))

    def rest(stream, epoch, epochs=2):
        batches = [b["targets"].tolist() for b in epoch]
        for _ in range(epochs):
            batches += [b["targets"].tolist() for b in stream.get_epoch_iterator(as_dict=True)]
        return batches

    expected = rest(stream, epoch)
    assert rest(stream_copy, epoch_copy) == expected
    assert len(expected) == 3 + 4 + 4


# Transformers

def test_mapping():
    stream = DataStream(dataset(), iteration_scheme=SequentialScheme(10, 5))
    replaced = Mapping(stream, lambda data: (data[0] * 2, data[1]))
    features, _ = next(replaced.get_epoch_iterator())
    np.testing.assert_array_equal(features, 2 * FEATURES[:5])
    added = Mapping(stream, add_one, add_sources="plus_one")
    assert added.sources == ("features", "targets", "plus_one")
    batch = next(added.get_epoch_iterator(as_dict=True))
    np.testing.assert_array_equal(batch["plus_one"], FEATURES[:5] + 1)
    with pytest.raises(ValueError, match=r"one item per source \('features', 'targets'\), "
                                         r"got 1 items"):
        next(Mapping(stream, add_one).get_epoch_iterator())
    with pytest.raises(ValueError, match="got ndarray"):
        next(Mapping(stream, lambda data: data[0], add_sources=("a",)).get_epoch_iterator())
    with pytest.raises(ValueError, match=r"add_sources \['targets'\] are already sources"):
        Mapping(stream, add_one, add_sources=("targets",))
    with pytest.raises(TypeError, match="mapping must be callable"):
        Mapping(stream, None)


def test_filter():
    stream = Filter(DataStream(dataset()), lambda data: data[1] == 0)
    assert [int(t) for _, t in stream.get_epoch_iterator()] == [0, 0, 0, 0]
    with pytest.raises(TypeError, match="predicate must be callable"):
        Filter(stream, 1)


def test_batch():
    examples = DataStream(dataset())
    batches = list(Batch(examples, ConstantScheme(4)).get_epoch_iterator())
    assert [f.shape for f, _ in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([t for _, t in batches]), TARGETS)
    assert len(list(Batch(examples, ConstantScheme(4), strictness=1).get_epoch_iterator())) == 2
    with pytest.raises(ValueError, match="ran out of examples: 2 left for a batch of 4"):
        list(Batch(examples, ConstantScheme(4), strictness=2).get_epoch_iterator())
    ragged = DataStream(IndexableDataset({"words": [[1, 2], [3]]}))
    (words,) = next(Batch(ragged, ConstantScheme(2)).get_epoch_iterator())
    assert words.dtype == object and [w.tolist() for w in words] == [[1, 2], [3]]
    with pytest.raises(ValueError, match="must be a BatchSizeScheme such as ConstantScheme, "
                                         "got SequentialScheme"):
        Batch(examples, SequentialScheme(10, 2))
    with pytest.raises(ValueError, match="strictness must be 0, 1 or 2"):
        Batch(examples, ConstantScheme(2), strictness=3)


SEQUENCES = [np.arange(6.0).reshape(3, 2), np.arange(2.0).reshape(1, 2),
             np.arange(4.0).reshape(2, 2)]


def numpy_padding(sequences):
    longest = max(len(s) for s in sequences)
    padded = np.zeros((len(sequences), longest) + sequences[0].shape[1:])
    mask = np.zeros((len(sequences), longest))
    for i, s in enumerate(sequences):
        padded[i, :len(s)], mask[i, :len(s)] = s, 1
    return padded, mask


def test_padding_batch_and_time_major():
    data = IndexableDataset({"frames": SEQUENCES, "label": np.array([1, 2, 0])})
    stream = Padding(DataStream(data, SequentialScheme(3, 3)), mask_sources=("frames",))
    assert stream.sources == ("frames", "frames_mask", "label")
    frames, mask, label = next(stream.get_epoch_iterator())
    expected_frames, expected_mask = numpy_padding(SEQUENCES)
    np.testing.assert_array_equal(frames, expected_frames)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(label, [1, 2, 0])
    assert mask.dtype == np.dtype(pytensor.config.floatX)

    time_major = Padding(DataStream(data, SequentialScheme(3, 3)), mask_sources="frames",
                         mask_dtype="int8", time_major=True)
    frames, mask, _ = next(time_major.get_epoch_iterator())
    np.testing.assert_array_equal(frames, expected_frames.transpose(1, 0, 2))
    np.testing.assert_array_equal(mask, expected_mask.T)
    assert mask.dtype == np.int8 and frames.flags.c_contiguous


def test_padding_after_batch_of_examples():
    examples = DataStream(IndexableDataset({"words": [[1, 2, 3], [4], [5, 6]]}))
    words, mask = next(Padding(Batch(examples, ConstantScheme(3))).get_epoch_iterator())
    np.testing.assert_array_equal(words, [[1, 2, 3], [4, 0, 0], [5, 6, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [1, 1, 0]])


def test_padding_errors():
    stream = DataStream(IndexableDataset({"x": [np.zeros((2, 3)), np.zeros((1, 4))]}),
                        SequentialScheme(2, 2))
    with pytest.raises(ValueError, match=r"unknown mask_sources \['y'\]; the stream's "
                                         r"sources are \['x'\]"):
        Padding(stream, mask_sources=("y",))
    with pytest.raises(ValueError, match=r"source 'x': the sequences' shapes after the time "
                                         r"axis differ: \[\(3,\), \(4,\)\]"):
        next(Padding(stream).get_epoch_iterator())
    examples = DataStream(IndexableDataset({"x": np.arange(3)}))
    with pytest.raises(ValueError, match="example 0 is a scalar.*stream of batches"):
        next(Padding(Batch(examples, ConstantScheme(2))).get_epoch_iterator())


def test_force_floatx_and_duck_typed_streams():
    class ListStream:  # Fuel's interface, nothing from blocks
        sources = ("x",)

        def get_epoch_iterator(self, as_dict=False):
            return iter([(np.array([1.0, 2.0], dtype="float16"),)])

    stream = ForceFloatX(ListStream())
    (x,) = next(stream.get_epoch_iterator())
    assert x.dtype == np.dtype(pytensor.config.floatX)
    assert next(Rename(ListStream(), {}).get_epoch_iterator(as_dict=True))["x"].dtype == \
        np.float16
    with pytest.raises(NotImplementedError, match="Transformer does not support batches as "
                                                  "input, but the wrapped data stream produces"):
        next(Transformer(ListStream()).get_epoch_iterator())
    with pytest.raises(ValueError, match="does not take requests"):
        stream.get_data(request=[0])
