import logging
import os
import pickle
import signal
import threading

import numpy as np
import pytest

from blocks.config import config
from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions import FinishAfter, Printing, SimpleExtension, TrainingExtension
from blocks.log import SQLiteLog, TrainingLog
from blocks.main_loop import MainLoop, TrainingFinish


class Algorithm:
    """Records the batches it sees; fails on demand."""

    def __init__(self, fail_at=None):
        self.seen = []
        self.initializations = 0
        self.fail_at = fail_at

    def initialize(self):
        self.initializations += 1

    def process_batch(self, batch):
        if self.fail_at is not None and len(self.seen) == self.fail_at:
            raise RuntimeError("algorithm failed")
        self.seen.append(list(batch["x"]))


class Recorder(TrainingExtension):
    """Records every callback with the counters at that time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def dispatch(self, callback_name, *args):
        status = self.main_loop.status
        self.calls.append((str(callback_name), status["iterations_done"],
                           status["epochs_done"]) + args)
        super().dispatch(callback_name, *args)


class Hook(TrainingExtension):
    """Calls `function(main_loop)` at `callback` when `iterations_done == at`."""

    def __init__(self, callback, at, function):
        super().__init__()
        self.callback, self.at, self.function = callback, at, function

    def dispatch(self, callback_name, *args):
        if callback_name == self.callback and self.main_loop.status["iterations_done"] == self.at:
            self.function(self.main_loop)


def stream(examples=4, batch_size=2):
    dataset = IndexableDataset({"x": np.arange(examples)})
    return DataStream(dataset, iteration_scheme=SequentialScheme(examples, batch_size))


class GeneratorStream:
    sources = ("x",)

    def __init__(self, examples=4, batch_size=2):
        self.examples, self.batch_size = examples, batch_size

    def get_epoch_iterator(self, as_dict=False):
        for start in range(0, self.examples, self.batch_size):
            batch = np.arange(start, min(start + self.batch_size, self.examples))
            yield {"x": batch} if as_dict else (batch,)


def test_callback_order():
    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), stream(),
                         extensions=[recorder, FinishAfter(after_n_epochs=2)])
    main_loop.run()
    calls = [call[:3] for call in recorder.calls]
    epoch = [("before_batch", 0, 0), ("after_batch", 1, 0), ("before_batch", 1, 0),
             ("after_batch", 2, 0)]
    second = [(name, i + 2, e + 1) for name, i, e in epoch]
    assert calls == ([("before_training", 0, 0), ("before_epoch", 0, 0)] + epoch
                     + [("after_epoch", 2, 1), ("before_epoch", 2, 1)] + second
                     + [("after_epoch", 4, 2), ("after_training", 4, 2)])
    batches = [call[3]["x"].tolist() for call in recorder.calls if call[0] == "after_batch"]
    assert batches == [[0, 1], [2, 3]] * 2
    assert main_loop.algorithm.seen == batches
    assert main_loop.algorithm.initializations == 1
    assert main_loop.status["training_finished"] and not main_loop.status["training_interrupted"]
    assert main_loop.log.current_row["training_finished"] is True
    assert main_loop.status["_epoch_ends"] == [2, 4]


class Do(SimpleExtension):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def do(self, which_callback, *args):
        status = self.main_loop.status
        self.calls.append((str(which_callback), status["iterations_done"],
                           status["epochs_done"]))


BATCHES = [("before_batch", i, i // 2) for i in range(6)]
TRIGGERS = [
    ({"before_training": True}, [("before_training", 0, 0)]),
    ({"before_first_epoch": True}, [("before_epoch", 0, 0)]),
    ({"before_epoch": True}, [("before_epoch", 0, 0), ("before_epoch", 2, 1),
                              ("before_epoch", 4, 2)]),
    ({"after_epoch": True}, [("after_epoch", 2, 1), ("after_epoch", 4, 2),
                             ("after_epoch", 6, 3)]),
    ({"before_batch": True}, BATCHES),
    ({"after_batch": True}, [("after_batch", i + 1, i // 2) for i in range(6)]),
    ({"every_n_epochs": 2}, [("after_epoch", 4, 2)]),
    ({"every_n_batches": 4}, [("after_batch", 4, 1)]),
    ({"after_n_epochs": 1}, [("after_epoch", 2, 1)]),
    ({"after_n_batches": 3}, [("after_batch", 3, 1)]),
    ({"after_training": True}, [("after_training", 6, 3)]),
    ({"on_interrupt": True}, []),
    ({"on_resumption": True}, []),
    ({"on_error": True}, []),
    ({"after_epoch": False, "every_n_batches": None}, []),
    ({"every_n_batches": 3, "after_n_epochs": 3},
     [("after_batch", 3, 1), ("after_batch", 6, 2), ("after_epoch", 6, 3)]),
]


@pytest.mark.parametrize("kwargs, expected", TRIGGERS)
def test_simple_extension_triggers(kwargs, expected):
    extension = Do(**kwargs)
    MainLoop(Algorithm(), stream(), extensions=[extension, FinishAfter(after_n_epochs=3)]).run()
    assert extension.calls == expected


def test_finish_after_batches_and_set_conditions():
    finish = FinishAfter(after_n_batches=3)
    main_loop = MainLoop(Algorithm(), stream(), extensions=[finish])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 3 and main_loop.status["epochs_done"] == 1
    finish.set_conditions(every_n_epochs=3)
    main_loop.run()  # resumes: finishes after epoch 3
    assert main_loop.status["epochs_done"] == 3 and main_loop.status["iterations_done"] == 6
    assert main_loop.algorithm.initializations == 1


def test_data_running_out_finishes_training():
    class TwoEpochs:
        sources = ("x",)

        def __init__(self):
            self.epochs = 0

        def get_epoch_iterator(self, as_dict=False):
            if self.epochs == 2:
                raise StopIteration
            self.epochs += 1
            return iter([(np.arange(2),)])  # tuples: named with `sources`

    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), TwoEpochs(), extensions=[recorder])
    main_loop.run()
    assert main_loop.status["epochs_done"] == 2
    assert recorder.calls[-1][0] == "after_training"
    assert main_loop.algorithm.seen == [[0, 1], [0, 1]]


def test_training_finish_raised_by_an_extension():
    def finish(main_loop):
        raise TrainingFinish

    main_loop = MainLoop(Algorithm(), stream(), extensions=[Hook("after_batch", 1, finish)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 1 and main_loop.status["training_finished"]


def _interrupt(main_loop):
    main_loop._handle_interrupt(signal.SIGINT, None)


def test_interrupt_finishes_the_batch_and_runs_on_interrupt():
    original = signal.getsignal(signal.SIGINT)
    recorder = Recorder()
    installed = []
    hooks = [Hook("before_batch", 2, _interrupt),
             Hook("before_batch", 0, lambda loop: installed.append(
                 signal.getsignal(signal.SIGINT) == loop._handle_interrupt))]
    main_loop = MainLoop(Algorithm(), stream(), extensions=hooks + [recorder])
    main_loop.run()
    assert installed == [True]
    assert signal.getsignal(signal.SIGINT) is original
    status = main_loop.status
    assert status["iterations_done"] == 3 and status["epochs_done"] == 1
    assert status["training_interrupted"] and not status["training_finished"]
    assert status["batch_interrupt_received"]
    names = [call[0] for call in recorder.calls]
    assert names[-2:] == ["after_batch", "on_interrupt"] and "after_training" not in names
    assert main_loop.log.current_row["training_interrupted"] is True


def test_real_sigint_and_sigterm_are_handled():
    for number in (signal.SIGINT, signal.SIGTERM):
        main_loop = MainLoop(Algorithm(), stream(), extensions=[
            Hook("before_batch", 1, lambda loop, number=number: os.kill(os.getpid(), number)),
            FinishAfter(after_n_epochs=5)])
        main_loop.run()
        assert main_loop.status["iterations_done"] == 2
        assert main_loop.status["training_interrupted"]


def test_second_ctrl_c_aborts_at_once():
    original = signal.getsignal(signal.SIGINT)

    def twice(main_loop):
        _interrupt(main_loop)
        _interrupt(main_loop)

    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), stream(), extensions=[Hook("before_batch", 1, twice),
                                                            recorder])
    with pytest.raises(KeyboardInterrupt):
        main_loop.run()
    assert main_loop.status["iterations_done"] == 1
    assert signal.getsignal(signal.SIGINT) is original
    assert "on_interrupt" not in [call[0] for call in recorder.calls]


def test_repeated_sigterm_does_not_abort():
    def twice(main_loop):
        main_loop._handle_interrupt(signal.SIGTERM, None)
        main_loop._handle_interrupt(signal.SIGTERM, None)

    main_loop = MainLoop(Algorithm(), stream(), extensions=[Hook("before_batch", 1, twice)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 2 and main_loop.status["training_interrupted"]


def test_epoch_interrupt_stops_at_the_end_of_the_epoch():
    def request(main_loop):
        main_loop.status["epoch_interrupt_received"] = True

    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), stream(), extensions=[Hook("before_batch", 0, request),
                                                            recorder])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 2 and main_loop.status["epochs_done"] == 1
    assert [call[0] for call in recorder.calls][-2:] == ["after_epoch", "on_interrupt"]


def test_resume_in_process_after_interrupt():
    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), stream(), extensions=[
        Hook("before_batch", 0, _interrupt), recorder, FinishAfter(after_n_epochs=2)])
    main_loop.run()
    first_uuid = main_loop.log.uuid
    recorder.calls.clear()
    main_loop.run()
    assert main_loop.log.status["resumed_from"] == first_uuid
    assert not main_loop.status["batch_interrupt_received"]
    assert [call[:3] for call in recorder.calls][:2] == [("on_resumption", 1, 0),
                                                         ("before_batch", 1, 0)]
    # The interrupted epoch goes on where it stopped: no batch is repeated.
    assert main_loop.algorithm.seen == [[0, 1], [2, 3]] * 2
    assert main_loop.status["training_finished"] and main_loop.status["epochs_done"] == 2


@pytest.mark.parametrize("make_stream, expected", [
    # A picklable epoch iterator is saved: the epoch continues at the next batch.
    (stream, [[0, 1], [2, 3], [0, 1], [2, 3]]),
    # A generator is not: the interrupted epoch restarts.
    (GeneratorStream, [[0, 1], [0, 1], [2, 3], [0, 1], [2, 3]]),
])
def test_resume_from_pickle_mid_epoch(make_stream, expected):
    recorder = Recorder()
    main_loop = MainLoop(Algorithm(), make_stream(), extensions=[
        Hook("before_batch", 0, _interrupt), recorder, FinishAfter(after_n_epochs=2)])
    main_loop.run()
    assert main_loop.status["epoch_started"] and main_loop.status["iterations_done"] == 1
    loaded = pickle.loads(pickle.dumps(main_loop))
    loaded.find_extension("Recorder").calls.clear()
    loaded.run()
    assert loaded.algorithm.seen == expected
    assert loaded.status["epochs_done"] == 2
    names = [call[0] for call in loaded.find_extension("Recorder").calls]
    assert names[0] == "on_resumption"
    assert ("before_epoch" in names[:2]) == (make_stream is GeneratorStream)


def test_errors_run_on_error_extensions_and_propagate(caplog):
    original = signal.getsignal(signal.SIGINT)
    recorder = Recorder()

    class BrokenHandler(TrainingExtension):
        def on_error(self, exception=None):
            raise ValueError("handler broken too")

    on_error = Do(on_error=True)
    main_loop = MainLoop(Algorithm(fail_at=1), stream(),
                         extensions=[BrokenHandler(), recorder, on_error])
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="algorithm failed"):
        main_loop.run()
    last = recorder.calls[-1]
    assert last[:3] == ("on_error", 1, 0) and isinstance(last[3], RuntimeError)
    assert on_error.calls == [("on_error", 1, 0)]
    assert "RuntimeError: algorithm failed" in main_loop.log.current_row["got_exception"]
    assert "BrokenHandler" in caplog.text
    assert signal.getsignal(signal.SIGINT) is original


def test_runs_outside_the_main_thread():
    main_loop = MainLoop(Algorithm(), stream(), extensions=[FinishAfter(after_n_batches=3)])
    thread = threading.Thread(target=main_loop.run)
    thread.start()
    thread.join()
    assert main_loop.status["iterations_done"] == 3


def test_empty_epoch_is_an_error():
    class Empty:
        def get_epoch_iterator(self, as_dict=False):
            return iter([])

    with pytest.raises(ValueError, match="epoch without any batch"):
        MainLoop(Algorithm(), Empty()).run()


def test_bad_batches_are_reported():
    class Unnamed:
        sources = ("x", "y")

        def get_epoch_iterator(self, as_dict=False):
            return iter([(np.arange(2),)])

    with pytest.raises(ValueError, match="cannot name its parts"):
        MainLoop(Algorithm(), Unnamed()).run()


def test_constructor_errors():
    with pytest.raises(TypeError, match="algorithm must have .*process_batch"):
        MainLoop(object(), stream())
    with pytest.raises(TypeError, match="data stream must have .*get_epoch_iterator"):
        MainLoop(Algorithm(), [1, 2])
    with pytest.raises(ValueError, match="either a log or a log_backend"):
        MainLoop(Algorithm(), stream(), log=TrainingLog(), log_backend="python")
    with pytest.raises(TypeError, match="TrainingExtension instances"):
        MainLoop(Algorithm(), stream(), extensions=[print])
    with pytest.raises(ValueError, match="unknown training log backend"):
        MainLoop(Algorithm(), stream(), log_backend="excel")


def test_find_extension_and_accessors():
    finish = FinishAfter(after_n_epochs=1)
    main_loop = MainLoop(Algorithm(), stream(), extensions=[finish, Recorder(), Recorder()])
    assert main_loop.find_extension("FinishAfter") is finish
    with pytest.raises(ValueError, match="no extension.* named 'Missing'.*'FinishAfter'"):
        main_loop.find_extension("Missing")
    with pytest.raises(ValueError, match="2 extension.* named 'Recorder'"):
        main_loop.find_extension("Recorder")
    main_loop.current_row["a"] = 1
    assert main_loop.log[0]["a"] == 1 and main_loop.status is main_loop.log.status
    data_stream, iterator = main_loop.iteration_state
    assert data_stream is main_loop.data_stream and iterator is None
    with pytest.raises(ValueError, match="not attached to a main loop"):
        FinishAfter().main_loop  # noqa: B018


def test_sqlite_backend(tmp_path, capsys):
    default = config.sqlite_database
    config.sqlite_database = str(tmp_path / "log.sqlite")
    try:
        main_loop = MainLoop(Algorithm(), stream(), log_backend="sqlite",
                             extensions=[FinishAfter(after_n_epochs=2), Printing()])
    finally:
        config.sqlite_database = default
    main_loop.run()
    assert isinstance(main_loop.log, SQLiteLog)
    assert main_loop.log.database == str(tmp_path / "log.sqlite")
    assert main_loop.log[4]["training_finish_requested"] is True
    loaded = pickle.loads(pickle.dumps(main_loop))
    assert loaded.log[4]["training_finished"] is True
    assert "\t training_finish_requested: True" in capsys.readouterr().out


def test_none_extensions_are_skipped_and_the_profile_is_kept():
    from blocks.extensions import FinishAfter

    main_loop = MainLoop(Algorithm(), stream(),
                         extensions=[None, FinishAfter(after_n_epochs=1), None])
    assert len(main_loop.extensions) == 1
    main_loop.run()
    assert main_loop.profile.total[("training", "epoch", "train")] > 0
    assert ("training", "epoch", "read_data") in main_loop.profile.total
    state = main_loop.__getstate__()
    del state["profile"]  # a main loop pickled before the profile existed
    old = MainLoop.__new__(MainLoop)
    old.__setstate__(state)
    assert old.profile.total == {}


def test_batches_without_records_leave_no_rows_in_the_log():
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from blocks.algorithms import GradientDescent, Scale
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    from blocks.extensions import FinishAfter
    from blocks.main_loop import MainLoop

    w = pytensor.shared(1.0, name="w")
    x = pt.vector("x")
    cost = ((w * x) ** 2).sum()
    stream = DataStream(IndexableDataset({"x": np.ones(20)}),
                        iteration_scheme=SequentialScheme(20, batch_size=2))
    main_loop = MainLoop(GradientDescent(cost=cost, parameters=[w], step_rule=Scale(0.01)),
                         stream, extensions=[FinishAfter(after_n_batches=25)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 25
    # Rows: the start, the ends of the epochs and the finish; not one per batch.
    assert len(main_loop.log) < 10, sorted(main_loop.log)
