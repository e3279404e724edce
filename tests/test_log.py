import pickle
import warnings

import numpy as np
import pytest

from blocks.config import config
from blocks.log import SQLiteLog, TrainingLog, create_log


@pytest.fixture(params=["python", "sqlite"])
def log(request, tmp_path):
    if request.param == "python":
        return TrainingLog()
    return SQLiteLog(str(tmp_path / "log.sqlite"))


def test_rows_status_and_special_rows(log):
    assert log.status["iterations_done"] == 0 and log.status["_epoch_ends"] == []
    log.current_row["cost"] = 3.0
    log.status["iterations_done"] = 2
    log.current_row["cost"] = 1.0
    log.status["_epoch_ends"].append(2)
    assert log[0]["cost"] == 3.0
    assert log.current_row["cost"] == 1.0
    assert dict(log.last_epoch_row) == {"cost": 1.0}
    assert list(log) == [0, 2]
    assert 2 in log and 5 not in log
    assert "cost" not in log.previous_row


def test_special_rows_errors():
    log = TrainingLog()
    with pytest.raises(ValueError, match="no row before iteration 0"):
        log.previous_row  # noqa: B018
    with pytest.raises(ValueError, match="no epoch has finished"):
        log.last_epoch_row  # noqa: B018


@pytest.mark.parametrize("index", [-1, 1.5, "3", None])
def test_bad_row_index(log, index):
    with pytest.raises(TypeError, match="indexed by the number of iterations"):
        log[index]


def test_python_rows_must_be_dicts():
    with pytest.raises(TypeError, match="must be a dict"):
        TrainingLog()[0] = [1]


def test_pickle_round_trip(log):
    log.current_row["cost"] = np.float64(0.25)
    log.status["iterations_done"] = 1
    log.current_row["flag"] = True
    log.status["best_cost"] = 0.25
    copy = pickle.loads(pickle.dumps(log))
    assert type(copy) is type(log)
    assert copy.uuid == log.uuid and copy.status == log.status
    assert copy[0]["cost"] == 0.25
    assert copy[1]["flag"] is True


def test_resume_keeps_rows_and_links_uuids(log):
    log.current_row["a"] = 1
    log.status["iterations_done"] = 1
    log.current_row["b"] = 2
    old = log.uuid
    log.resume()
    assert log.uuid != old and log.status["resumed_from"] == old
    assert log[0]["a"] == 1 and log[1]["b"] == 2


def test_sqlite_value_types_round_trip(tmp_path):
    log = SQLiteLog(str(tmp_path / "types.sqlite"))
    values = {
        "float": np.float32(0.5), "int": np.int64(7), "py_int": 3, "str": "text",
        "none": None, "bool": True, "array": np.arange(3.0), "tuple": ("a", 1),
        "scalar_array": np.array(2.5),
    }
    for key, value in values.items():
        log.current_row[key] = value
    read = dict(pickle.loads(pickle.dumps(log))[0])
    assert read["float"] == 0.5 and isinstance(read["float"], float)
    assert read["int"] == 7 and isinstance(read["int"], int)
    assert read["py_int"] == 3 and read["str"] == "text" and read["none"] is None
    assert read["bool"] is True and read["tuple"] == ("a", 1)
    np.testing.assert_array_equal(read["array"], np.arange(3.0))
    assert read["scalar_array"] == 2.5
    assert list(read) == list(values)  # insertion order
    del log.current_row["int"]
    assert "int" not in log.current_row
    with pytest.raises(KeyError):
        del log.current_row["int"]
    with pytest.raises(TypeError, match="must be str"):
        log.current_row[1] = 2


def test_sqlite_logs_share_a_database_by_uuid(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    first, second = SQLiteLog(path), SQLiteLog(path)
    first.current_row["x"] = 1
    second.current_row["x"] = 2
    assert first[0]["x"] == 1 and second[0]["x"] == 2
    assert len(first) == 1


def test_sqlite_resume_drops_rows_after_the_resumed_iteration(tmp_path):
    log = SQLiteLog(str(tmp_path / "resume.sqlite"))
    log.current_row["a"] = 0
    checkpoint = pickle.dumps(log)
    log.status["iterations_done"] = 1
    log.current_row["a"] = 1  # written after the checkpoint
    restored = pickle.loads(checkpoint)
    restored.resume()
    assert list(restored) == [0]
    restored.status["iterations_done"] = 1
    assert "a" not in restored.current_row
    assert log[1]["a"] == 1  # the old run's rows are untouched


def test_sqlite_unopenable_database(tmp_path):
    with pytest.raises(OSError, match="cannot open the SQLite training log"):
        SQLiteLog(str(tmp_path / "missing" / "dir" / "log.sqlite"))


def test_sqlite_close_and_reopen(tmp_path):
    log = SQLiteLog(str(tmp_path / "c.sqlite"))
    log.current_row["a"] = 1
    log.close()
    assert log[0]["a"] == 1


def test_create_log_backends(tmp_path):
    assert isinstance(create_log("python"), TrainingLog)
    default = config.sqlite_database
    config.sqlite_database = str(tmp_path / "default.sqlite")
    try:
        sqlite_log = create_log("sqlite")
    finally:
        config.sqlite_database = default
    assert isinstance(sqlite_log, SQLiteLog)
    assert sqlite_log.database == str(tmp_path / "default.sqlite")
    with pytest.raises(ValueError, match="unknown training log backend 'csv'"):
        create_log("csv")


def test_sqlite_warns_once_about_blobs_over_max_blob_size(tmp_path, monkeypatch):
    import blocks.log.sqlite

    monkeypatch.setattr(blocks.log.sqlite, "_WARNED_LARGE", set())
    log = SQLiteLog(database=str(tmp_path / "log.sqlite"))
    log[0]["small"] = np.zeros(4)
    monkeypatch.setenv("BLOCKS_MAX_BLOB_SIZE", "1000")
    with pytest.warns(UserWarning, match="large objects stored in the SQLite log: a ndarray "
                                         "of [0-9]+ bytes .*max_blob_size is 1000"):
        log[1]["big"] = np.zeros(1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log[2]["big"] = np.zeros(1000)
    np.testing.assert_array_equal(log[1]["big"], np.zeros(1000))
