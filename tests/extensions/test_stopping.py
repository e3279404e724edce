"""Blocks' early stopping: FinishIfNoImprovementAfter, EarlyStopping, CompositeExtension,
OnLogRecord, and TrackTheBest as Blocks defines them."""

import logging
import os
import pickle

import pytest

from blocks.extensions import CompositeExtension, FinishAfter, SimpleExtension
from blocks.extensions.predicates import OnLogRecord
from blocks.extensions.saveload import Checkpoint
from blocks.extensions.stopping import EarlyStopping, FinishIfNoImprovementAfter
from blocks.extensions.training import TrackTheBest
from blocks.log import TrainingLog
from tests.extensions.test_extensions import Records, run


class Calls(SimpleExtension):
    """Appends (name, callback, iterations_done) to a shared list whenever it runs."""

    def __init__(self, calls, **kwargs):
        super().__init__(**kwargs)
        self.calls = calls

    def do(self, which_callback, *args):
        self.calls.append((self.name, str(which_callback),
                           self.main_loop.status["iterations_done"]))


class FakeLog(dict):
    """A log whose status is advanced by hand, like a main loop would."""

    def __init__(self):
        super().__init__()
        self.status = {"iterations_done": 0, "epochs_done": 0}

    @property
    def current_row(self):
        return self.setdefault(self.status["iterations_done"], {})


class FakeMainLoop:
    def __init__(self, extensions=()):
        self.log = FakeLog()
        self.extensions = list(extensions)

    @property
    def status(self):
        return self.log.status


# OnLogRecord

def test_on_log_record():
    log = TrainingLog()
    predicate = OnLogRecord("saved")
    assert predicate(log) is False
    log.current_row["saved"] = 0
    assert predicate(log) is False
    log.current_row["saved"] = "yes"
    assert predicate(log) is True
    assert predicate == OnLogRecord("saved") and predicate != OnLogRecord("other")
    assert pickle.loads(pickle.dumps(predicate)) == predicate
    with pytest.raises(TypeError, match="record_name must be a str"):
        OnLogRecord(None)


def test_add_condition_with_on_log_record_and_arguments():
    calls = []

    class Saver(SimpleExtension):
        def do(self, which_callback, *args):
            calls.append((self.main_loop.status["epochs_done"], args[-1]))

    saver = Saver().add_condition(["after_epoch", "after_training"], OnLogRecord("mark"),
                                  ("best.tar",))
    run([Records("mark", [None, True, None]), saver], epochs=3)
    assert calls == [(2, "best.tar")]


# CompositeExtension

class Bundle(CompositeExtension):
    """A composite that records its own runs like :class:`Calls`."""

    def __init__(self, calls, sub_extensions, **kwargs):
        super().__init__(sub_extensions, **kwargs)
        self.calls = calls

    do = Calls.do


def test_composite_dispatches_sub_extensions_on_their_own_schedules():
    calls = []
    inner_a = Calls(calls, name="a", after_n_batches=2)
    inner_b = Calls(calls, name="b", after_epoch=True)
    composite = Bundle(calls, [inner_a, inner_b], name="outer", after_n_batches=4)
    main_loop = run([composite], epochs=2)
    # A sub-extension gets the main loop when the composite does.
    assert inner_a.main_loop is main_loop and inner_b.main_loop is main_loop
    # Epochs of 3 batches: a once at batch 2, b after each epoch, the composite's own
    # condition once at batch 4.
    assert calls == [("a", "after_batch", 2), ("b", "after_epoch", 3),
                     ("outer", "after_batch", 4), ("b", "after_epoch", 6)]


@pytest.mark.parametrize("run_before_children", [True, False])
def test_composite_runs_its_own_logic_before_or_after_children(run_before_children):
    calls = []
    composite = Bundle(calls, [Calls(calls, name="child", before_training=True)],
                       run_before_children=run_before_children, name="parent",
                       before_training=True)
    run([composite], epochs=1)
    order = [name for name, callback, _ in calls]
    assert order == (["parent", "child"] if run_before_children else ["child", "parent"])


def test_composite_main_loop_unset_raises():
    composite = CompositeExtension([FinishAfter(after_n_epochs=1)])
    with pytest.raises(ValueError, match="not attached to a main loop"):
        _ = composite.main_loop
    with pytest.raises(TypeError, match="sub-extensions must be training extensions"):
        CompositeExtension([3])


# TrackTheBest, as Blocks has it

def test_track_the_best_keeps_after_epoch_with_other_triggers():
    track = TrackTheBest("cost", after_batch=True)
    assert sorted(str(name) for name, _, _ in track._conditions) == ["after_batch",
                                                                      "after_epoch"]
    track = TrackTheBest("cost", after_epoch=False, after_batch=True)
    assert [str(name) for name, _, _ in track._conditions] == ["after_batch"]


def test_track_the_best_calls_choose_best_with_current_then_best():
    seen = []

    def closest_to_one(current, best):
        seen.append((current, best))
        return min(current, best, key=lambda value: abs(value - 1))

    main_loop = run([Records("x", [3.0, 0.0, 1.5]),
                     TrackTheBest("x", choose_best=closest_to_one)], epochs=3)
    assert seen == [(0.0, 3.0), (1.5, 0.0)]
    assert main_loop.status["best_x"] == 1.5


# FinishIfNoImprovementAfter

def _drive(extension, notifications, epochs, callback):
    """Run `extension.do` once per step, with a notification where `notifications` says.

    Returns the patience written at each step and the step at which finishing was asked.
    """
    main_loop = FakeMainLoop()
    extension.main_loop = main_loop
    patience, finished = [], None
    for step, notified in enumerate(notifications):
        status = main_loop.status
        status["iterations_done"] = step * (4 if epochs else 1)
        status["epochs_done"] = step if epochs else step // 4
        if notified:
            main_loop.log.current_row[extension.notification_name] = True
        extension.do(callback)
        row = main_loop.log.current_row
        patience.append(row.get(extension.patience_log_record))
        if row.get("training_finish_requested") and finished is None:
            finished = step
    return patience, finished


@pytest.mark.parametrize("epochs", [True, False])
def test_finish_if_no_improvement_after(epochs):
    unit = {"epochs": 3} if epochs else {"iterations": 3}
    finish = FinishIfNoImprovementAfter("best", **unit)
    callback = "after_epoch" if epochs else "after_batch"
    patience, finished = _drive(finish, [False, True, False, False, True, False, False, False],
                                epochs, callback)
    # Nothing is counted before the first notification.
    assert patience == [None, 3, 2, 1, 3, 2, 1, 0]
    assert finished == 7
    assert finish.patience_log_record == "best_patience_" + ("epochs" if epochs
                                                             else "iterations")


def test_finish_if_no_improvement_after_stops_when_patience_is_overstepped():
    # Patience in iterations checked every 4 iterations passes from 1 to -3: Blocks'
    # equality test would never finish.
    finish = FinishIfNoImprovementAfter("best", iterations=5, patience_log_record="left")
    patience, finished = _drive(finish, [True, False, False], True, "after_epoch")
    assert patience == [5, 1, -3] and finished == 2


def test_finish_if_no_improvement_after_in_a_main_loop():
    values = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 9, 9, 9, 9]
    main_loop = run([Records("cost", values), TrackTheBest("cost"),
                     FinishIfNoImprovementAfter("cost_best_so_far", epochs=2)], epochs=20)
    # Last improvement at epoch 2, then two epochs without: finished after epoch 4.
    assert main_loop.status["epochs_done"] == 4
    assert main_loop.log[12]["cost_best_so_far_patience_epochs"] == 0


def test_finish_if_no_improvement_after_errors():
    with pytest.raises(ValueError, match="exactly one of iterations and epochs"):
        FinishIfNoImprovementAfter("x", iterations=2, epochs=2)
    with pytest.raises(ValueError, match="exactly one of iterations and epochs"):
        FinishIfNoImprovementAfter("x")
    with pytest.raises(ValueError, match="positive integer"):
        FinishIfNoImprovementAfter("x", iterations=0)


# EarlyStopping

@pytest.mark.parametrize("epochs", [True, False])
def test_early_stopping_sequence(epochs):
    trigger = {"after_epoch": True} if epochs else {"after_batch": True}
    patience = {"epochs": 3} if epochs else {"iterations": 3}
    stopping = EarlyStopping("foo", **patience, **trigger)
    main_loop = FakeMainLoop()
    stopping.main_loop = main_loop
    callback = "after_epoch" if epochs else "after_batch"
    values = [9, 8, 7, 8, 7, 6, 7, 7, 7]
    rows = []
    for step, value in enumerate(values):
        main_loop.status["iterations_done"] = step * (4 if epochs else 1)
        main_loop.status["epochs_done"] = step
        main_loop.log.current_row["foo"] = value
        stopping.dispatch(callback)
        rows.append(dict(main_loop.log.current_row))
    record = "foo_best_so_far_patience_" + ("epochs" if epochs else "iterations")
    assert [row.get("foo_best_so_far", False) for row in rows] == [
        True, True, True, False, False, True, False, False, False]
    assert [row[record] for row in rows] == [3, 3, 3, 2, 1, 3, 2, 1, 0]
    assert [bool(row.get("training_finish_requested")) for row in rows] == [False] * 8 + [True]


def test_early_stopping_adds_checkpoint_condition():
    checkpoint = Checkpoint("model.tar", after_epoch=True)
    EarlyStopping("foo", checkpoint, "best.tar", notification_name="notified", epochs=2)
    assert ("after_batch", OnLogRecord("notified"), ("best.tar",)) in [
        (str(name), predicate, arguments) for name, predicate, arguments
        in checkpoint._conditions]
    with pytest.raises(ValueError, match="without checkpoint_filename"):
        EarlyStopping("foo", checkpoint, epochs=2)


class BatchRecords(SimpleExtension):
    """Writes a scripted value of `name` to the log after every batch."""

    def __init__(self, name, values):
        super().__init__(after_batch=True)
        self.record, self.values = name, list(values)

    def do(self, which_callback, *args):
        iteration = self.main_loop.status["iterations_done"]
        self.main_loop.log.current_row[self.record] = self.values[iteration - 1]


def test_early_stopping_runs_a_checkpoint_not_in_the_main_loop(tmp_path):
    checkpoint = Checkpoint(os.fspath(tmp_path / "last.tar"), save_main_loop=False,
                            after_training=False, on_interrupt=False)
    best = os.fspath(tmp_path / "best.tar")
    stopping = EarlyStopping("cost", checkpoint, best, iterations=2, after_epoch=False,
                             after_batch=True)
    main_loop = run([BatchRecords("cost", [3.0, 1.0, 2.0, 2.0, 2.0, 2.0]), stopping],
                    epochs=10)
    assert checkpoint in stopping.sub_extensions and checkpoint.main_loop is main_loop
    # Improvements at iterations 1 and 2, patience 2: finished after iteration 4.
    assert main_loop.status["iterations_done"] == 4
    # The best model was saved at the last improvement, and only at improvements.
    assert main_loop.log[2]["saved_to"][0] == best
    assert "saved_to" not in main_loop.log[3] and "saved_to" not in main_loop.log[4]
    assert os.path.exists(best) and not os.path.exists(tmp_path / "last.tar")


def test_early_stopping_checkpoint_in_main_loop_stays_there(caplog):
    checkpoint = Checkpoint("model.tar", after_training=False, on_interrupt=False)
    stopping = EarlyStopping("foo", checkpoint, "best.tar", epochs=2)
    main_loop = FakeMainLoop([checkpoint, stopping])
    stopping.main_loop = main_loop
    with caplog.at_level(logging.WARNING):
        stopping.dispatch("before_training")
    assert checkpoint not in stopping.sub_extensions
    assert "comes before this extension" in caplog.text


def test_early_stopping_pickles_with_its_checkpoint(tmp_path):
    checkpoint = Checkpoint(os.fspath(tmp_path / "last.tar"))
    stopping = EarlyStopping("cost", checkpoint, os.fspath(tmp_path / "best.tar"), epochs=2)
    copy = pickle.loads(pickle.dumps(stopping))
    tracking, finishing = copy.sub_extensions
    assert (tracking.record_name, finishing.notification_name) == ("cost", "cost_best_so_far")
    assert ("after_batch", OnLogRecord("cost_best_so_far"),
            (os.fspath(tmp_path / "best.tar"),)) in [
        (str(name), predicate, arguments)
        for name, predicate, arguments in copy.checkpoint_extension._conditions]
