"""Data pipelines of Fuel-era Blocks scripts, with only ``fuel`` renamed to ``blocks.datasets``.

The bodies are written as Blocks' examples wrote them (MNIST, reverse_words); the data
comes from tiny files in a temporary data path.
"""

import numpy as np
import pytensor

from tests.datasets.test_file_datasets import TRAIN_IMAGES, TRAIN_LABELS, write_mnist_idx


def test_mnist_pipeline_of_blocks_mnist_example(data_path):
    write_mnist_idx(str(data_path))
    from blocks.datasets.datasets import MNIST
    from blocks.datasets.schemes import SequentialScheme, ShuffledScheme
    from blocks.datasets.streams import DataStream
    from blocks.datasets.transformers import Flatten

    mnist_train = MNIST(("train",))
    train_stream = Flatten(DataStream.default_stream(
        mnist_train, iteration_scheme=ShuffledScheme(mnist_train.num_examples, 2)),
        which_sources=("features",))
    seen = []
    for batch in train_stream.get_epoch_iterator(as_dict=True):
        assert batch["features"].shape[1] == 784
        assert batch["features"].dtype == np.dtype(pytensor.config.floatX)
        seen.append(batch["targets"].ravel())
    assert sorted(np.concatenate(seen).tolist()) == sorted(TRAIN_LABELS.tolist())

    test_stream = Flatten(DataStream.default_stream(
        mnist_train, iteration_scheme=SequentialScheme(mnist_train.num_examples, 5)))
    features, targets = next(test_stream.get_epoch_iterator())
    np.testing.assert_allclose(features, TRAIN_IMAGES.reshape(5, 784) / 255.0, rtol=1e-6)


def reverse_words(sample):
    sentence = sample[0]
    result = []
    word_start = -1
    for i, code in enumerate(sentence):
        if code >= 3 and word_start == -1:
            word_start = i
        if code < 3 and word_start != -1:
            result.extend(reversed(sentence[word_start:i]))
            word_start = -1
        if code < 3:
            result.append(code)
    return (result,)


def _lower(s):
    return s.lower()


def _transpose(data):
    return tuple(array.T for array in data)


def _filter_long(data):
    return len(data[0]) <= 14


def test_text_pipeline_of_blocks_reverse_words_example(tmp_path):
    from blocks.datasets.datasets import TextFile
    from blocks.datasets.schemes import ConstantScheme
    from blocks.datasets.transformers import Batch, Filter, Mapping, Padding

    path = tmp_path / "sentences.txt"
    path.write_text("Hello world\nabc\nthis line is far too long to keep\n")
    # Codes below 3 separate words: <S>, </S> and the space.
    tokens = ["<S>", "</S>", " ", "<UNK>"] + list("abcdefghijklmnopqrstuvwxyz")
    char2code = {token: code for code, token in enumerate(tokens)}
    dataset = TextFile([str(path)], char2code, level="character", preprocess=_lower)
    data_stream = dataset.get_example_stream()
    data_stream = Filter(data_stream, _filter_long)
    data_stream = Mapping(data_stream, reverse_words, add_sources=("targets",))
    data_stream = Batch(data_stream, iteration_scheme=ConstantScheme(10))
    data_stream = Padding(data_stream)
    data_stream = Mapping(data_stream, _transpose)
    assert data_stream.sources == ("features", "features_mask", "targets", "targets_mask")
    features, features_mask, targets, targets_mask = next(data_stream.get_epoch_iterator())
    assert features.shape == (13, 2)  # time-major after _transpose; the long line dropped
    hello = [char2code[c] for c in "hello world"]
    assert features[:, 0].tolist() == [0] + hello + [1]
    olleh = [char2code[c] for c in "olleh"] + [char2code[" "]] + [char2code[c] for c in "dlrow"]
    assert targets[:, 0].tolist() == [0] + olleh + [1]
    assert features_mask[:, 1].tolist() == [1] * 5 + [0] * 8
