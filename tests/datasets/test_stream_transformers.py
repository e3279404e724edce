"""Fuel's transformers, checked against numpy computations of what they should yield."""

import gc
import logging
import os
import pickle

import numpy as np
import pytensor
import pytest

from blocks.datasets import (
    AgnosticSourcewiseTransformer,
    Batch,
    Cache,
    Cast,
    ConstantScheme,
    DataStream,
    Filter,
    FilterSources,
    Flatten,
    ForceFloatX,
    IndexableDataset,
    IterableDataset,
    Mapping,
    Merge,
    MultiProcessing,
    Padding,
    Rename,
    ScaleAndShift,
    SequentialScheme,
    SortMapping,
    SourcewiseTransformer,
    Unpack,
)
from blocks.datasets.transformers.sequences import NGrams, Window

IMAGES = np.arange(5 * 2 * 3, dtype="float64").reshape(5, 2, 3)
LABELS = np.array([3, 1, 4, 1, 5])
LABELS_AXES = {"images": ("batch", "height", "width"), "labels": ("batch",)}


def dataset():
    return IndexableDataset({"images": IMAGES, "labels": LABELS}, axis_labels=LABELS_AXES)


def batches(batch_size=2):
    return DataStream(dataset(), iteration_scheme=SequentialScheme(5, batch_size))


def examples():
    return DataStream(dataset())


def tag_with_pid(data):  # module-level: the background process may need to pickle it
    return (np.full(len(data[0]), os.getpid()),)


def fail_on_third(data):
    if int(data[1][0]) == 4:
        raise KeyError("label four is cursed")
    return data


def test_flatten_batches_and_examples():
    flat = Flatten(batches(), which_sources=("images",))
    images, labels = next(flat.get_epoch_iterator())
    np.testing.assert_array_equal(images, IMAGES[:2].reshape(2, 6))
    np.testing.assert_array_equal(labels, LABELS[:2])
    assert flat.axis_labels == {"images": ("batch", "feature"), "labels": ("batch",)}
    image, _ = next(Flatten(examples()).get_epoch_iterator())
    np.testing.assert_array_equal(image, IMAGES[0].ravel())
    assert Flatten(examples()).axis_labels["images"] == ("feature",)
    with pytest.raises(ValueError, match=r"Flatten: unknown which_sources \['pixels'\]"):
        Flatten(batches(), which_sources=("pixels",))


def test_scale_and_shift_and_cast():
    scaled = ScaleAndShift(batches(), 0.5, -1.0, which_sources=("images",))
    images, labels = next(scaled.get_epoch_iterator())
    np.testing.assert_allclose(images, IMAGES[:2] * 0.5 - 1.0)
    assert labels.dtype == LABELS.dtype
    cast = Cast(examples(), "floatX", which_sources=("labels",))
    assert cast.dtype == pytensor.config.floatX
    _, label = next(cast.get_epoch_iterator())
    assert label.dtype == np.dtype(pytensor.config.floatX) and label == 3
    with pytest.raises(TypeError, match="'floatY' is not a numpy dtype"):
        Cast(batches(), "floatY")
    images, _ = next(ForceFloatX(batches()).get_epoch_iterator())
    assert images.dtype == np.dtype(pytensor.config.floatX)


def test_user_sourcewise_transformers_and_kind_mismatch():
    class Negate(SourcewiseTransformer):
        def transform_source_batch(self, batch, source_name):
            return -batch

    negated = Negate(batches(), which_sources=("labels",))
    _, labels = next(negated.get_epoch_iterator())
    np.testing.assert_array_equal(labels, -LABELS[:2])
    with pytest.raises(NotImplementedError, match="Negate does not support examples"):
        next(Negate(examples()).get_epoch_iterator())
    wrong_kind = Negate(examples(), produces_examples=False)
    with pytest.raises(NotImplementedError, match="the wrapped data stream produces examples "
                                                  "while the Negate transformer produces "
                                                  "batches"):
        next(wrong_kind.get_epoch_iterator())

    class AddSourceName(AgnosticSourcewiseTransformer):
        def transform_any_source(self, data, source_name):
            return (source_name, data)

    named = next(AddSourceName(examples(), which_sources="labels").get_epoch_iterator())
    assert named[1] == ("labels", 3)


def test_mapping_with_dicts_and_sort_mapping():
    def normalize(data):
        return {"scaled": data["images"] / 10.0}

    stream = Mapping(batches(), normalize, mapping_accepts=dict, add_sources=("scaled",))
    images, labels, scaled = next(stream.get_epoch_iterator())
    np.testing.assert_allclose(scaled, IMAGES[:2] / 10.0)
    with pytest.raises(ValueError, match="mapping_accepts must be list or dict"):
        Mapping(batches(), normalize, mapping_accepts=tuple)
    with pytest.raises(ValueError, match=r"the mapping's dict lacks the sources \['scaled'\]"):
        next(Mapping(batches(), lambda d: {}, mapping_accepts=dict,
                     add_sources=("scaled",)).get_epoch_iterator())

    by_label = Mapping(batches(5), SortMapping(lambda example: example[1]))
    images, labels = next(by_label.get_epoch_iterator())
    order = np.argsort(LABELS, kind="stable")
    np.testing.assert_array_equal(labels, LABELS[order])
    np.testing.assert_array_equal(images, IMAGES[order])
    _, labels = next(Mapping(batches(5), SortMapping(lambda example: example[1],
                                                     reverse=True)).get_epoch_iterator())
    assert labels.tolist() == sorted(LABELS.tolist(), reverse=True)
    words = DataStream(IndexableDataset({"words": [[1, 2, 3], [4], [5, 6]]}),
                       SequentialScheme(3, 3))
    (sorted_words,) = next(Mapping(words, SortMapping(lambda ex: len(ex[0])))
                           .get_epoch_iterator())
    assert sorted_words == [[4], [5, 6], [1, 2, 3]]


def test_filter_keeps_kind_and_dicts():
    kept = Filter(examples(), lambda example: example[1] == 1)
    assert kept.produces_examples
    assert [int(item["labels"]) for item in kept.get_epoch_iterator(as_dict=True)] == [1, 1]


def test_batch_unpack_round_trip_and_kind_checks():
    batched = Batch(examples(), ConstantScheme(2))
    assert batched.axis_labels["images"] == ("batch", "height", "width")
    unpacked = Unpack(batched)
    assert unpacked.produces_examples and unpacked.axis_labels["images"] == ("height", "width")
    for _ in range(2):
        items = list(unpacked.get_epoch_iterator())
        assert [int(label) for _, label in items] == LABELS.tolist()
        np.testing.assert_array_equal(np.stack([image for image, _ in items]), IMAGES)
    with pytest.raises(ValueError, match="Unpack: the wrapped data stream must produce "
                                         "batches, not examples"):
        Unpack(examples())
    with pytest.raises(ValueError, match="Batch: the wrapped data stream must produce "
                                         "examples, not batches"):
        Batch(batches(), ConstantScheme(2))
    with pytest.raises(ValueError, match="Padding: the wrapped data stream must produce "
                                         "batches, not examples"):
        Padding(examples())


def test_cache_serves_batches_from_chunks():
    cached = Cache(batches(3), ConstantScheme(2))
    for _ in range(2):  # emptied at every epoch
        served = list(cached.get_epoch_iterator())
        assert [len(labels) for _, labels in served] == [2, 2, 1]
        np.testing.assert_array_equal(np.concatenate([labels for _, labels in served]), LABELS)
        np.testing.assert_array_equal(np.concatenate([images for images, _ in served]), IMAGES)
    bigger = list(Cache(batches(2), ConstantScheme(4)).get_epoch_iterator())
    assert [len(labels) for _, labels in bigger] == [4, 1]
    with pytest.raises(ValueError, match="Cache: iteration_scheme must be a BatchSizeScheme"):
        Cache(batches(), SequentialScheme(5, 2))


def test_merge():
    english = DataStream(IterableDataset(["Hello", "world"]))
    french = DataStream(IterableDataset({"fr": ["Bonjour", "monde"], "n": [1, 2]}))
    merged = Merge((english, french), ("english", "french", "number"))
    assert merged.produces_examples
    assert list(merged.get_epoch_iterator()) == [("Hello", "Bonjour", 1), ("world", "monde", 2)]
    assert list(merged.get_epoch_iterator(as_dict=True))[1]["number"] == 2
    with pytest.raises(ValueError, match="the streams have 3 sources in all, but 2 names"):
        Merge((english, french), ("a", "b"))
    with pytest.raises(ValueError, match="same type of output"):
        Merge((english, batches()), ("a", "b", "c"))


def test_rename(caplog):
    renamed = Rename(batches(), {"images": "features", "labels": "targets"})
    assert renamed.sources == ("features", "targets")
    assert renamed.axis_labels == {"features": LABELS_AXES["images"],
                                   "targets": LABELS_AXES["labels"]}
    item = next(renamed.get_epoch_iterator(as_dict=True))
    np.testing.assert_array_equal(item["targets"], LABELS[:2])
    swapped = Rename(batches(), {"images": "labels", "labels": "images"})
    assert swapped.sources == ("labels", "images")
    with pytest.raises(KeyError, match="would create two sources named 'labels'"):
        Rename(batches(), {"images": "labels"})
    with pytest.raises(KeyError, match="does not provide a source 'pixels'"):
        Rename(batches(), {"pixels": "features"})
    with pytest.raises(KeyError, match="renamed to the same name"):
        Rename(batches(), {"images": "x", "labels": "x"})
    with caplog.at_level(logging.WARNING):
        Rename(batches(), {"pixels": "features", "images": "features"},
               on_non_existent="warn")
    assert "does not provide a source 'pixels'" in caplog.text
    with pytest.raises(ValueError, match="on_non_existent must be"):
        Rename(batches(), {}, on_non_existent="fail")


def test_filter_sources_keeps_stream_order():
    three = Mapping(batches(), lambda data: (data[1] * 2,), add_sources=("double",))
    kept = FilterSources(three, ("double", "images"))
    assert kept.sources == ("images", "double")
    images, double = next(kept.get_epoch_iterator())
    np.testing.assert_array_equal(images, IMAGES[:2])
    np.testing.assert_array_equal(double, LABELS[:2] * 2)
    with pytest.raises(ValueError, match=r"FilterSources: unknown sources \['x'\]"):
        FilterSources(batches(), ("x",))


def test_multiprocessing_reads_in_another_process():
    tagged = Mapping(batches(), tag_with_pid, add_sources=("pid",))
    background = MultiProcessing(tagged, max_store=2)
    try:
        for _ in range(2):
            items = list(background.get_epoch_iterator())
            np.testing.assert_array_equal(np.concatenate([item[1] for item in items]), LABELS)
            pids = {int(pid) for item in items for pid in item[2]}
            assert pids == {background.process.pid} and os.getpid() not in pids
        # An epoch left early is finished in the background; the next one starts afresh.
        epoch = background.get_epoch_iterator()
        next(epoch)
        assert [item[1].tolist() for item in background.get_epoch_iterator()] == [
            [3, 1], [4, 1], [5]]
        process = background.process
        copy = pickle.loads(pickle.dumps(background))
        assert copy.process is None
    finally:
        background.close()
    assert not process.is_alive() and background.process is None
    try:
        assert len(list(copy.get_epoch_iterator())) == 3
    finally:
        copy.close()
    with pytest.raises(ValueError, match="max_store must be a positive integer"):
        MultiProcessing(batches(), max_store=0)


def test_multiprocessing_process_ends_with_its_stream():
    background = MultiProcessing(batches())
    next(background.get_epoch_iterator())
    process = background.process
    del background
    gc.collect()
    assert not process.is_alive()


def test_multiprocessing_reports_the_background_error():
    failing = MultiProcessing(Mapping(batches(2), fail_on_third))
    try:
        with pytest.raises(RuntimeError, match="(?s)background process.*failed.*label four "
                                               "is cursed"):
            list(failing.get_epoch_iterator())
    finally:
        failing.close()


def numpy_windows(sequence, offset, source_window, target_window, overlapping):
    pairs = []
    for start in range(len(sequence)):
        target_start = start + offset + (0 if overlapping else source_window)
        end = max(start + source_window, target_start + target_window)
        if target_start >= 0 and end <= len(sequence):
            pairs.append((sequence[start:start + source_window],
                          sequence[target_start:target_start + target_window]))
    return pairs


@pytest.mark.parametrize("offset, source_window, target_window, overlapping", [
    (1, 3, 3, True), (0, 2, 1, False), (-1, 2, 2, True), (2, 1, 2, False)])
def test_window_matches_a_direct_computation(offset, source_window, target_window,
                                             overlapping):
    sequences = [list(range(10, 17)), [1, 2], list(range(20, 25))]
    stream = DataStream(IterableDataset({"words": sequences}))
    windows = Window(offset, source_window, target_window, overlapping, stream)
    assert windows.sources == ("words", "targets")
    expected = [pair for sequence in sequences for pair in
                numpy_windows(sequence, offset, source_window, target_window, overlapping)]
    for _ in range(2):
        assert list(windows.get_epoch_iterator()) == expected


def test_ngrams():
    stream = DataStream(IterableDataset({"words": [[1, 2, 3, 4, 5], [6, 7]]}))
    ngrams = NGrams(3, stream, target_source="next")
    assert ngrams.sources == ("words", "next")
    assert list(ngrams.get_epoch_iterator()) == [([1, 2, 3], 4), ([2, 3, 4], 5)]
    with pytest.raises(ValueError, match="expects a stream with only one source"):
        NGrams(2, examples())
