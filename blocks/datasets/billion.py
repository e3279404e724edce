"""OneBillionWord: Google's One Billion Word benchmark, read from the data path."""

import os

from blocks.datasets.data_path import find_in_data_path
from blocks.datasets.text import TextFile

__all__ = ["OneBillionWord"]

_DIRECTORY = "1-billion-word"
_LAYOUT = {
    # which_set: (subdirectory, file name pattern, valid partitions)
    "training": ("training-monolingual.tokenized.shuffled", "news.en-{:05d}-of-00100",
                 range(1, 100)),
    "heldout": ("heldout-monolingual.tokenized.shuffled", "news.en.heldout-{:05d}-of-00050",
                range(50)),
}


class OneBillionWord(TextFile):
    """The One Billion Word benchmark (Chelba et al., 2013), a sentence per example.

    Reads the benchmark's files as distributed, under ``1-billion-word/`` in the data
    path (``blocks.config.data_path`` / ``BLOCKS_DATA_PATH``):
    ``training-monolingual.tokenized.shuffled/news.en-000NN-of-00100`` and
    ``heldout-monolingual.tokenized.shuffled/news.en.heldout-000NN-of-00050``.

    Parameters
    ----------
    which_set : {'training', 'heldout'}
    which_partitions : list of int
        Training partitions are numbered 1 to 99, held-out ones 0 to 49.
    dictionary : dict or str
        Token -> number; must contain ``<S>``, ``</S>`` and ``<UNK>`` unless other
        tokens are given (see :class:`~blocks.datasets.text.TextFile`).
    **kwargs
        The other arguments of :class:`~blocks.datasets.text.TextFile`.
    """

    def __init__(self, which_set, which_partitions, dictionary, **kwargs):
        if which_set not in _LAYOUT:
            raise ValueError(f"OneBillionWord: which_set must be 'training' or 'heldout', "
                             f"got {which_set!r}")
        subdirectory, pattern, valid = _LAYOUT[which_set]
        invalid = [p for p in which_partitions if p not in valid]
        if invalid:
            raise ValueError(f"OneBillionWord: {which_set} partitions must lie in "
                             f"[{valid.start}, {valid.stop - 1}], got {invalid}")
        files = [find_in_data_path(os.path.join(_DIRECTORY, subdirectory, pattern.format(p)),
                                   owner="OneBillionWord")
                 for p in which_partitions]
        super().__init__(files, dictionary, **kwargs)
