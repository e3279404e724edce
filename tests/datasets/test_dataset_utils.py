"""Fuel's helpers for datasets: do_not_pickle_attributes, find_in_data_path."""

import os
import pickle

import numpy as np
import pytest

from blocks.datasets import Dataset, DataStream
from blocks.datasets.utils import do_not_pickle_attributes, find_in_data_path


@do_not_pickle_attributes("table")
class Table(Dataset):
    provides_sources = ("x",)
    loads = 0

    def load(self):
        Table.loads += 1
        self.table = np.arange(4.0)

    def get_data(self, state=None, request=None):
        return (self.table[request],)


def test_do_not_pickle_attributes_reloads_after_unpickling():
    Table.loads = 0
    dataset = Table()
    assert dataset.get_data(request=2) == (2.0,) and Table.loads == 1
    data = pickle.dumps(dataset)
    assert b"_table" not in data
    copy = pickle.loads(data)
    assert Table.loads == 1  # nothing loaded until the table is read
    assert copy.get_data(request=[1, 3])[0].tolist() == [1.0, 3.0] and Table.loads == 2
    assert DataStream(copy).sources == ("x",)

    @do_not_pickle_attributes("missing")
    class Broken:
        def load(self):
            pass

    with pytest.raises(ValueError, match=r"Broken.load\(\) did not set 'missing'"):
        getattr(Broken(), "missing")  # noqa: B009 -- reading it is the test


def test_find_in_data_path(data_path):
    (data_path / "sub").mkdir()
    (data_path / "sub" / "file.txt").write_text("x")
    assert find_in_data_path(os.path.join("sub", "file.txt")) == os.path.join(
        str(data_path), "sub", "file.txt")
    with pytest.raises(FileNotFoundError, match=r"cannot find 'nothing.txt' in the data path"):
        find_in_data_path("nothing.txt")
