"""TextFile: sentences of text files, one per line, turned into lists of token numbers."""

import gzip
import os
import pickle

from blocks.datasets.base import Dataset

__all__ = ["TextFile"]


def _open_text(path, encoding):
    if os.fspath(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


class _Lines:
    """The lines of several files, one file after the other.

    Picklable: it pickles as (file, line) and reopens the file where it was, so a
    stream over a :class:`TextFile` can be checkpointed in the middle of an epoch.
    """

    def __init__(self, files, encoding):
        self.files = list(files)
        self.encoding = encoding
        self.file_index, self.line_index = 0, 0
        self.handle = None

    def __iter__(self):
        return self

    def __next__(self):
        while self.file_index < len(self.files):
            if self.handle is None:
                self.handle = _open_text(self.files[self.file_index], self.encoding)
                for _ in range(self.line_index):
                    self.handle.readline()
            line = self.handle.readline()
            if line:
                self.line_index += 1
                return line
            self.close()
            self.file_index, self.line_index = self.file_index + 1, 0
        raise StopIteration

    def close(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["handle"] = None
        return state


class TextFile(Dataset):
    r"""Sentences read from text files, one per line, as lists of token numbers.

    Each example has one source, ``'features'``: the numbers, given by `dictionary`,
    of the tokens of a line -- its words (split at whitespace) or its characters (from
    the first to the last non-blank one) -- between the numbers of `bos_token` and
    `eos_token`. Tokens missing from the dictionary become `unk_token`.

    Parameters
    ----------
    files : list of str
        The files, read in this order. Names ending in ``.gz`` are read with gzip.
    dictionary : dict or str
        Token -> number, or the path of a pickle of such a dict.
    bos_token, eos_token : str or None, optional
        The beginning- and end-of-sentence tokens, ``'<S>'`` and ``'</S>'`` by
        default; None adds none.
    unk_token : str or None, optional
        The token of unknown tokens, ``'<UNK>'`` by default. With None, an unknown
        token raises ``KeyError``.
    level : {'word', 'character'}, optional
    preprocess : callable, optional
        Applied to each line (a string) first, e.g. ``str.lower``.
    encoding : str, optional
        The files' encoding.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'sentences.txt')
    >>> with open(path, 'w') as f:
    ...     _ = f.write("This is a sentence\nThis another one")
    >>> dictionary = {'<UNK>': 0, '</S>': 1, 'this': 2, 'a': 3, 'one': 4}
    >>> text = TextFile([path], dictionary, bos_token=None, preprocess=str.lower)
    >>> from blocks.datasets import DataStream
    >>> list(DataStream(text).get_epoch_iterator())
    [([2, 0, 3, 0, 1],), ([2, 0, 4, 1],)]
    >>> letters = dict(zip(['<UNK>', ' ', 'T', 'h', 'i', 's'], range(6)))
    >>> first = next(DataStream(TextFile([path], letters, None, None, level='character'))
    ...              .get_epoch_iterator())
    >>> first[0][:9]
    [2, 3, 4, 5, 1, 4, 5, 1, 0]
    """

    provides_sources = ("features",)

    def __init__(self, files, dictionary, bos_token="<S>", eos_token="</S>",
                 unk_token="<UNK>", level="word", preprocess=None, encoding=None):
        if isinstance(files, (str, os.PathLike)):
            files = [files]
        self.files = [os.fspath(path) for path in files]
        if isinstance(dictionary, (str, os.PathLike)):
            with open(dictionary, "rb") as f:
                dictionary = pickle.load(f)
        if not hasattr(dictionary, "get"):
            raise TypeError(f"TextFile: dictionary must be a dict (token -> number) or the path "
                            f"of a pickled one, got {type(dictionary).__name__}")
        self.dictionary = dictionary
        for name, token in (("BOS", bos_token), ("EOS", eos_token), ("UNK", unk_token)):
            if token is not None and token not in dictionary:
                raise ValueError(f"TextFile: {name} token {token!r} is not in the dictionary")
        self.bos_token, self.eos_token, self.unk_token = bos_token, eos_token, unk_token
        if level not in ("word", "character"):
            raise ValueError(f"TextFile: level should be 'word' or 'character', not {level!r}")
        self.level = level
        self.preprocess = preprocess
        self.encoding = encoding
        super().__init__()
        self.example_iteration_scheme = None

    def open(self):
        return _Lines(self.files, self.encoding)

    def close(self, state):
        if state is not None:
            state.close()

    def _number(self, token):
        number = self.dictionary.get(token)
        if number is not None:
            return number
        if self.unk_token is None:
            raise KeyError(f"TextFile: token {token!r} is not in the dictionary and no "
                           f"unk_token was given")
        return self.dictionary[self.unk_token]

    def get_data(self, state=None, request=None):
        if state is None or request is not None:
            raise ValueError(f"TextFile: get_data takes the state from open() and no request "
                             f"(got request={request!r}); use a DataStream without an "
                             f"iteration scheme")
        sentence = next(state)
        if self.preprocess is not None:
            sentence = self.preprocess(sentence)
        tokens = sentence.split() if self.level == "word" else sentence.strip()
        numbers = [self.dictionary[self.bos_token]] if self.bos_token is not None else []
        numbers.extend(self._number(token) for token in tokens)
        if self.eos_token is not None:
            numbers.append(self.dictionary[self.eos_token])
        return (numbers,)
