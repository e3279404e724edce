"""blocks.utils.containers.AnnotatingList and blocks.utils.testing."""

import unittest

import pytest

from blocks.config import config
from blocks.extensions import FinishAfter
from blocks.utils.containers import AnnotatingList
from blocks.utils.testing import (
    MockAlgorithm,
    MockMainLoop,
    silence_printing,
    skip_if_configuration_set,
    skip_if_not_available,
)


class Recording(AnnotatingList):
    def __init__(self, items=None):
        self.events = []
        super().__init__(items)

    def _setitem(self, key, value):
        self.events.append(("set", key, value))

    def _delitem(self, key):
        self.events.append(("del", key))


def test_annotating_list_behaves_like_a_list_and_calls_hooks():
    items = Recording(range(3))
    assert items == [0, 1, 2] and items != [0, 1] and repr(items) == "[0, 1, 2]"
    assert items.events == [("set", 0, 0), ("set", 1, 1), ("set", 2, 2)]
    items.events.clear()
    items[0] = 10
    del items[0]
    items.insert(0, 0)
    items.insert(10, 3)
    items.extend([4])
    assert items == list(range(5)) and len(items) == 5 and items[-1] == 4
    assert items.events == [("set", 0, 10), ("del", 0), ("set", 0, 0), ("set", 3, 3),
                            ("set", 4, 4)]
    assert items.pop() == 4 and items.events[-1] == ("del", -1)
    assert 3 in items and items.index(3) == 3
    with pytest.raises(TypeError):
        hash(items)


def test_mock_main_loop_runs_and_algorithm_initializes_once():
    main_loop = MockMainLoop(extensions=[FinishAfter(after_n_batches=13)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 13
    assert main_loop.algorithm.batch == {"data": 2}
    with pytest.raises(AssertionError, match="called twice"):
        main_loop.algorithm.initialize()
    assert MockAlgorithm(delay_time=0.5).delay_time == 0.5


def test_skips():
    skip_if_not_available(modules=["numpy"], configurations=["default_seed"])
    with pytest.raises(unittest.SkipTest, match="module not_a_module_at_all"):
        skip_if_not_available(modules=["not_a_module_at_all"])
    with pytest.raises(unittest.SkipTest, match="data_path"):
        skip_if_not_available(configurations=["data_path"])
    skip_if_configuration_set("default_seed", config.default_seed + 1)
    with pytest.raises(unittest.SkipTest, match="because"):
        skip_if_configuration_set("default_seed", config.default_seed, "because")


def test_skip_datasets(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv("BLOCKS_DATA_PATH", str(tmp_path))
    skip_if_not_available(datasets=["mnist"])
    with pytest.raises(unittest.SkipTest, match="dataset cifar10 is not in"):
        skip_if_not_available(datasets=["cifar10"])
    monkeypatch.delenv("BLOCKS_DATA_PATH")
    monkeypatch.delenv("FUEL_DATA_PATH", raising=False)
    if not hasattr(config, "data_path"):
        with pytest.raises(unittest.SkipTest, match="data_path is not set"):
            skip_if_not_available(datasets=["mnist"])


def test_silence_printing(capsys):
    @silence_printing
    def noisy(value):
        print("noise")
        return value

    assert noisy(4) == 4
    assert capsys.readouterr().out == ""
