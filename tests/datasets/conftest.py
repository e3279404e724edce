"""A temporary data path for the datasets that read their files from it."""

import pytest

from blocks.config import config


def _use_data_path(directory, monkeypatch):
    monkeypatch.setenv("BLOCKS_DATA_PATH", str(directory))
    monkeypatch.delenv("FUEL_DATA_PATH", raising=False)
    try:  # the setting, where the configuration declares it
        monkeypatch.setattr(config, "data_path", str(directory), raising=False)
    except AttributeError:
        pass
    return directory


@pytest.fixture
def data_path(tmp_path, monkeypatch):
    """`tmp_path` as the data path."""
    return _use_data_path(tmp_path, monkeypatch)


@pytest.fixture
def no_data_path(tmp_path, monkeypatch):
    """An empty directory as the data path."""
    empty = tmp_path / "empty"
    empty.mkdir()
    return _use_data_path(empty, monkeypatch)
