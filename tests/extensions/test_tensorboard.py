"""TensorBoard: the event files written during a run are read back record by record."""

import pickle
import struct
import sys

import numpy as np
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions import FinishAfter, TrainingExtension
from blocks.extensions.tensorboard import TensorBoard
from blocks.main_loop import MainLoop


def read_events(log_dir):
    """``(step, tag, value)`` of every scalar in the event files of `log_dir`.

    Event files are TFRecord files: each record is its length (uint64), a checksum of
    the length (uint32), the serialized Event and a checksum of it (uint32).
    """
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    scalars = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = event_pb2.Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.append((event.step, value.tag, value.simple_value))
    return scalars


class Algorithm:
    def initialize(self):
        pass

    def process_batch(self, batch):
        pass


class Costs(TrainingExtension):
    """Writes a cost after every batch and a validation error after every epoch."""

    def after_batch(self, batch):
        log = self.main_loop.log
        log.current_row["cost"] = np.float32(10.0 / log.status["iterations_done"])
        log.current_row["_hidden"] = 1.0
        log.current_row["weights"] = np.ones(3)
        log.current_row["name"] = "text"

    def after_epoch(self):
        log = self.main_loop.log
        log.current_row["valid_error"] = np.array(0.5 / log.status["epochs_done"])


def stream():
    dataset = IndexableDataset({"x": np.arange(6)})
    return DataStream(dataset, iteration_scheme=SequentialScheme(6, 2))


def test_scalars_of_the_log_are_written_once_per_step(tmp_path):
    pytest.importorskip("tensorboardX")
    extension = TensorBoard(log_dir=str(tmp_path))
    main_loop = MainLoop(Algorithm(), stream(),
                         extensions=[Costs(), extension, FinishAfter(after_n_epochs=2)])
    main_loop.run()
    assert extension._writer is None  # closed after training
    scalars = read_events(tmp_path)
    costs = [(step, value) for step, tag, value in scalars if tag == "cost"]
    assert costs == [(i, pytest.approx(10.0 / i)) for i in range(1, 7)]
    errors = [(step, value) for step, tag, value in scalars if tag == "valid_error"]
    assert errors == [(3, 0.5), (6, 0.25)]
    # Only single numbers are written; names starting with _ are left out.
    assert {tag for _, tag, _ in scalars} == {"cost", "valid_error"}


def test_triggers_and_resumption_after_pickling(tmp_path):
    pytest.importorskip("tensorboardX")
    extension = TensorBoard(log_dir=str(tmp_path), every_n_batches=2)
    main_loop = MainLoop(Algorithm(), stream(),
                         extensions=[Costs(), extension, FinishAfter(after_n_epochs=1)])
    main_loop.run()
    # Every second batch, and the records of the last row after training.
    assert [step for step, tag, _ in read_events(tmp_path) if tag == "cost"] == [2, 3]
    # A checkpointed extension carries no writer; it opens a new file when it writes.
    restored = pickle.loads(pickle.dumps(extension))
    assert restored._writer is None and restored.log_dir == str(tmp_path)
    restored.main_loop = main_loop
    main_loop.log.status["iterations_done"] = 7
    main_loop.log.current_row["cost"] = 1.5
    restored.do("after_batch", None)
    restored.close()
    costs = sorted((step, value) for step, tag, value in read_events(tmp_path) if tag == "cost")
    assert costs == [(2, 5.0), (3, pytest.approx(10 / 3)), (7, 1.5)]
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2


def test_without_tensorboardx_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    extension = TensorBoard(log_dir=str(tmp_path))
    with pytest.raises(ImportError, match=r"pip install 'blocks\[tensorboard\]'"):
        extension.writer  # noqa: B018
