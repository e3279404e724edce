"""TextFile and OneBillionWord on small text files."""

import gzip
import os
import pickle

import pytest

from blocks.datasets import Batch, ConstantScheme, DataStream, Padding
from blocks.datasets.billion import OneBillionWord
from blocks.datasets.text import TextFile

LINES = ["The cat sat\n", "a DOG ran far\n", "\n", "cat\n"]
DICTIONARY = {"<S>": 0, "</S>": 1, "<UNK>": 2, "the": 3, "cat": 4, "sat": 5, "a": 6,
              "dog": 7, "ran": 8}


def numberize(line, dictionary, bos="<S>", eos="</S>", unk="<UNK>", level="word",
              preprocess=None):
    """What TextFile should give for one line, computed directly."""
    if preprocess:
        line = preprocess(line)
    tokens = line.split() if level == "word" else list(line.strip())
    numbers = [dictionary[bos]] if bos else []
    numbers += [dictionary.get(token, dictionary.get(unk)) for token in tokens]
    return numbers + ([dictionary[eos]] if eos else [])


@pytest.fixture
def text_files(tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("".join(LINES[:2]))
    second = tmp_path / "second.txt.gz"
    with gzip.open(second, "wt") as f:
        f.write("".join(LINES[2:]))
    return [str(first), str(second)]


def test_words_across_plain_and_gzipped_files(text_files):
    text = TextFile(text_files, DICTIONARY, preprocess=str.lower)
    stream = DataStream(text)
    expected = [(numberize(line, DICTIONARY, preprocess=str.lower),) for line in LINES]
    for _ in range(2):
        assert list(stream.get_epoch_iterator()) == expected
    assert expected[1][0] == [0, 6, 7, 8, 2, 1]  # 'far' is unknown
    raw = TextFile(text_files, DICTIONARY, bos_token=None, eos_token=None)
    assert next(DataStream(raw).get_epoch_iterator()) == ([2, 4, 5],)  # 'The' != 'the'


def test_characters_and_a_pickled_dictionary(text_files, tmp_path):
    letters = {char: i for i, char in enumerate("<>Tecahst ")}
    letters["<UNK>"] = len(letters)
    path = tmp_path / "letters.pkl"
    path.write_bytes(pickle.dumps(letters))
    text = TextFile(text_files, str(path), bos_token=None, eos_token=None,
                    level="character")
    lines = [numbers for numbers, in DataStream(text).get_epoch_iterator()]
    assert lines == [numberize(line, letters, None, None, level="character")
                     for line in LINES]
    assert lines[2] == []


def test_batches_of_padded_sentences(text_files):
    stream = Padding(Batch(DataStream(TextFile(text_files, DICTIONARY, preprocess=str.lower)),
                           ConstantScheme(2)))
    features, mask = next(stream.get_epoch_iterator())
    assert features.shape == (2, 6) and mask.sum() == 5 + 6
    assert features[0].tolist() == [0, 3, 4, 5, 1, 0]


def test_stream_pickles_in_the_middle_of_a_file(text_files):
    stream = DataStream(TextFile(text_files, DICTIONARY))
    epoch = stream.get_epoch_iterator()
    next(epoch), next(epoch), next(epoch)
    stream_copy, epoch_copy = pickle.loads(pickle.dumps((stream, epoch)))
    assert list(epoch_copy) == list(epoch) == [(numberize(LINES[3], DICTIONARY),)]


def test_errors(text_files):
    with pytest.raises(ValueError, match="BOS token '<S>' is not in the dictionary"):
        TextFile(text_files, {"<UNK>": 0, "</S>": 1})
    with pytest.raises(ValueError, match="level should be 'word' or 'character', not 'byte'"):
        TextFile(text_files, DICTIONARY, level="byte")
    strict = TextFile(text_files, DICTIONARY, unk_token=None)
    with pytest.raises(KeyError, match="token 'The' is not in the dictionary and no "
                                       "unk_token"):
        next(DataStream(strict).get_epoch_iterator())
    with pytest.raises(TypeError, match="dictionary must be a dict"):
        TextFile(text_files, 3)


def write_partition(directory, subdirectory, name, lines):
    folder = directory / "1-billion-word" / subdirectory
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(lines))


def test_one_billion_word_reads_its_partitions(data_path):
    write_partition(data_path, "training-monolingual.tokenized.shuffled",
                    "news.en-00003-of-00100", LINES[:2])
    write_partition(data_path, "training-monolingual.tokenized.shuffled",
                    "news.en-00001-of-00100", LINES[3:])
    write_partition(data_path, "heldout-monolingual.tokenized.shuffled",
                    "news.en.heldout-00000-of-00050", ["the dog\n"])
    training = OneBillionWord("training", [3, 1], DICTIONARY, preprocess=str.lower)
    assert [numbers for numbers, in DataStream(training).get_epoch_iterator()] == [
        numberize(line, DICTIONARY, preprocess=str.lower) for line in LINES[:2] + LINES[3:]]
    heldout = OneBillionWord("heldout", [0], DICTIONARY)
    assert list(DataStream(heldout).get_epoch_iterator()) == [([0, 3, 7, 1],)]


def test_one_billion_word_errors(no_data_path):
    expected = os.path.join(str(no_data_path), "1-billion-word",
                            "training-monolingual.tokenized.shuffled", "news.en-00002-of-00100")
    with pytest.raises(FileNotFoundError) as error:
        OneBillionWord("training", [2], DICTIONARY)
    assert expected in str(error.value) and "BLOCKS_DATA_PATH" in str(error.value)
    with pytest.raises(ValueError, match=r"training partitions must lie in \[1, 99\], got "
                                         r"\[0\]"):
        OneBillionWord("training", [0], DICTIONARY)
    with pytest.raises(ValueError, match=r"heldout partitions must lie in \[0, 49\]"):
        OneBillionWord("heldout", [50], DICTIONARY)
    with pytest.raises(ValueError, match="which_set must be 'training' or 'heldout'"):
        OneBillionWord("test", [1], DICTIONARY)
