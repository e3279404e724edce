import io
import pickle
import re

import numpy as np
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions import (
    CallbackName,
    FinishAfter,
    Predicate,
    Printing,
    ProgressBar,
    SimpleExtension,
    Timestamp,
    Timing,
    TrainingExtension,
    epoch_size,
)
from blocks.extensions.stopping import FinishIfNoImprovement
from blocks.extensions.training import SharedVariableModifier, TrackTheBest
from blocks.main_loop import MainLoop
from blocks.utils import shared_floatx


class Algorithm:
    def initialize(self):
        pass

    def process_batch(self, batch):
        pass


def stream(examples=6, batch_size=2):
    dataset = IndexableDataset({"x": np.arange(examples)})
    return DataStream(dataset, iteration_scheme=SequentialScheme(examples, batch_size))


class GeneratorStream:
    sources = ("x",)

    def get_epoch_iterator(self, as_dict=False):
        yield from ({"x": np.arange(2)} for _ in range(3))


def run(extensions, data_stream=None, epochs=2):
    main_loop = MainLoop(Algorithm(), data_stream or stream(),
                         extensions=list(extensions) + [FinishAfter(after_n_epochs=epochs)])
    main_loop.run()
    return main_loop


class Records(TrainingExtension):
    """Writes a scripted value of `name` to the log after every epoch."""

    def __init__(self, name, values):
        super().__init__()
        self.record, self.values = name, list(values)

    def after_epoch(self):
        value = self.values[self.main_loop.status["epochs_done"] - 1]
        if value is not None:
            self.main_loop.log.current_row[self.record] = value


# Callback names and conditions

def test_callback_name_catches_typos():
    name = CallbackName("before_batch")
    assert name == "before_batch" and name != "after_batch"
    assert hash(name) == hash("before_batch")
    with pytest.raises(ValueError, match="'before_bacth' is not a callback name"):
        name == "before_bacth"  # noqa: B015
    with pytest.raises(ValueError, match="dispatched as 'before_epoch'"):
        CallbackName("before_first_epoch")
    assert pickle.loads(pickle.dumps(name)) == "before_batch"


def test_predicate():
    with pytest.raises(ValueError, match="unknown predicate condition"):
        Predicate("every_other_epoch", 2)
    assert repr(Predicate("after_n_batches", 3)) == "Predicate('after_n_batches', 3)"


class Do(SimpleExtension):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def do(self, which_callback, *args):
        self.calls.append((str(which_callback), self.main_loop.status["iterations_done"],
                           args))


def test_add_condition_with_predicate_and_arguments():
    extension = Do().add_condition(["after_batch"], predicate=OddIterations(),
                                   arguments=("extra",))
    extension.add_condition("after_epoch")
    run([extension], epochs=1)
    assert [(name, i) for name, i, _ in extension.calls] == [
        ("after_batch", 1), ("after_batch", 3), ("after_epoch", 3)]
    assert extension.calls[0][2][1:] == ("extra",)  # after the batch
    assert extension.calls[0][2][0]["x"].tolist() == [0, 1]
    assert pickle.loads(pickle.dumps(extension))._conditions[0][1].__class__ is OddIterations


class OddIterations:
    def __call__(self, log):
        return log.status["iterations_done"] % 2 == 1


def test_simple_extension_errors():
    with pytest.raises(TypeError, match="unknown keyword argument.*'after_every_epochs'"):
        Do(after_every_epochs=True)
    with pytest.raises(TypeError, match="'after_epoch' takes True or False; received 1"):
        Do(after_epoch=1)
    for value in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="'every_n_batches' takes a positive integer"):
            Do(every_n_batches=value)
    with pytest.raises(TypeError, match="unknown trigger"):
        Do().set_conditions(sometimes=True)
    with pytest.raises(ValueError, match="not a callback name"):
        Do().add_condition(["after_epochs"])
    with pytest.raises(TypeError, match="predicate must be callable"):
        Do().add_condition(["after_epoch"], predicate=3)
    with pytest.raises(NotImplementedError, match="does not implement do"):
        run([SimpleExtension(after_epoch=True)])


def test_parse_args():
    # As in Blocks: the main loop's arguments as a tuple, then the user's.
    assert SimpleExtension.parse_args("after_batch", ({"x": 1}, "a")) == (({"x": 1},), ("a",))
    assert SimpleExtension.parse_args("before_batch", ({"x": 1},)) == (({"x": 1},), ())
    assert SimpleExtension.parse_args("after_epoch", ("a",)) == ((), ("a",))
    assert SimpleExtension.BOOLEAN_TRIGGERS >= {"after_epoch", "before_first_epoch"}
    assert SimpleExtension.INTEGER_TRIGGERS == {"every_n_epochs", "every_n_batches",
                                                "after_n_epochs", "after_n_batches"}


# Printing, Timestamp, Timing

def test_printing(capsys):
    main_loop = run([Printing()], epochs=1)
    out = capsys.readouterr().out
    for heading in ("BEFORE FIRST EPOCH", "AFTER ANOTHER EPOCH", "TRAINING HAS BEEN FINISHED"):
        assert heading in out
    assert "\t iterations_done: 3" in out and "training_finish_requested: True" in out
    assert "-" * 79 + "\nBEFORE FIRST EPOCH\n" + "-" * 79 in out
    assert "TRAINING HAS BEEN FINISHED:" in out
    assert "_epoch_ends" not in out  # private entries are hidden
    main_loop.status["batch_interrupt_received"] = True
    main_loop.find_extension("FinishAfter").set_conditions(after_n_epochs=3)
    main_loop.run()
    assert "TRAINING HAS BEEN RESUMED" in capsys.readouterr().out


def test_timestamp():
    main_loop = run([Timestamp(separator="T")], epochs=1)
    stamp = main_loop.log[3]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+", stamp)
    main_loop = run([Timestamp(log_record="time", after_batch=True)], epochs=1)
    assert " " in main_loop.log[1]["time"]


class Sleepy(Algorithm):
    def process_batch(self, batch):
        import time

        time.sleep(0.002)


def test_timing():
    main_loop = MainLoop(Sleepy(), stream(), extensions=[
        Timing(), Timing(prefix="b", every_n_batches=1), FinishAfter(after_n_epochs=2)])
    main_loop.run()
    log = main_loop.log
    assert log[3]["time_train_this_epoch"] >= 3 * 0.002
    assert log[6]["time_train_total"] >= log[6]["time_train_this_epoch"] + 3 * 0.002 - 1e-9
    assert log[6]["time_read_data_total"] >= log[6]["time_read_data_this_epoch"] >= 0
    assert 0.002 <= log[2]["b_time_train_this_batch"] < log[6]["time_train_total"]
    assert "time_train_this_batch" not in log[3]
    batches = sum(log[i]["b_time_train_this_batch"] for i in range(1, 7))
    np.testing.assert_allclose(batches, log[6]["b_time_train_total"])


# ProgressBar

def test_epoch_size():
    assert epoch_size(stream(5, 2)) == 3
    assert epoch_size(GeneratorStream()) is None

    class Scheme:
        num_batches = 7

    class Wrapper:
        iteration_scheme = None
        data_stream = type("Inner", (), {"iteration_scheme": Scheme()})()

    assert epoch_size(Wrapper()) == 7


def test_progress_bar_draws_each_epoch():
    out = io.StringIO()
    run([ProgressBar(width=10, stream=out, terminal=True)])
    lines = out.getvalue().split("\n")
    assert len(lines) == 4 and lines[3] == ""
    assert lines[0].startswith("compiling the training step... ") and lines[0].endswith(" s")
    assert "Epoch 1: [###.......] 1/3  33%" in lines[1] and "ETA      ?s" in lines[1]
    assert "Epoch 1: [##########] 3/3 100%" in lines[1]
    assert "Epoch 2: [###.......] 1/3  33%" in lines[2]
    assert lines[1].count("\r") == 3


def test_progress_bar_unknown_epoch_size():
    out = io.StringIO()
    run([ProgressBar(stream=out, terminal=True)], data_stream=GeneratorStream())
    lines = out.getvalue().split("\n")
    # Nothing in the first epoch; then the length of the previous epoch is used.
    assert "Epoch 1" not in out.getvalue()
    assert "Epoch 2: " in lines[1] and "3/3 100%" in lines[1]


def test_progress_bar_off_a_terminal_writes_only_the_compilation_line():
    out = io.StringIO()  # not a terminal
    run([ProgressBar(stream=out)])
    assert "\r" not in out.getvalue()
    [line] = out.getvalue().splitlines()
    assert line.startswith("compiling the training step... ")


def test_progress_bar_leaves_the_compiling_batch_out_of_times_and_eta(monkeypatch):
    import blocks.extensions

    clock = [0.0]
    monkeypatch.setattr(blocks.extensions.time, "perf_counter", lambda: clock[0])

    class Compiling(Algorithm):
        calls = 0

        def process_batch(self, batch):
            # The first call compiles for 100 s, the next ones train for 1 s each.
            self.calls += 1
            clock[0] += 100.0 if self.calls == 1 else 1.0

    out = io.StringIO()
    main_loop = MainLoop(Compiling(), stream(examples=8, batch_size=2),
                         extensions=[ProgressBar(width=4, stream=out, terminal=True),
                                     FinishAfter(after_n_epochs=1)])
    main_loop.run()
    text = out.getvalue()
    assert text.startswith("compiling the training step... 100.0 s\n")
    # After batch 2 of 4: 1 s for 1 timed batch, so 2 s left.
    assert "2/4  50%    1.0s ETA    2.0s" in text
    assert "4/4 100%    3.0s ETA    0.0s" in text


def test_progress_bar_pickles_without_its_stream():
    bar = ProgressBar(stream=io.StringIO())
    run([bar])
    loaded = pickle.loads(pickle.dumps(bar))
    assert loaded.stream is None
    # Loaded in a new process, it reports the compilation of the step again.
    assert loaded._compile_pending and not bar._compile_pending


def test_progress_bar_default_stream_is_stderr(capsys):
    run([ProgressBar(terminal=True)], epochs=1)
    assert "3/3 100%" in capsys.readouterr().err


# TrackTheBest and FinishIfNoImprovement

def test_track_the_best():
    values = [3.0, 2.0, 2.0, float("nan"), None, 1.0, 5.0]
    main_loop = run([Records("cost", values), TrackTheBest("cost")], epochs=len(values))
    notified = [main_loop.log[3 * (e + 1)].get("cost_best_so_far", False)
                for e in range(len(values))]
    assert notified == [True, True, False, False, False, True, False]
    assert main_loop.status["best_cost"] == 1.0
    main_loop = run([Records("accuracy", [0.5, 0.7, 0.6]),
                     TrackTheBest("accuracy", notification_name="new_best", choose_best=max)],
                    epochs=3)
    assert main_loop.status["best_accuracy"] == 0.7
    assert [main_loop.log[i].get("new_best", False) for i in (3, 6, 9)] == [True, True, False]
    with pytest.raises(TypeError, match="record_name must be a str"):
        TrackTheBest(3)


@pytest.mark.parametrize("track_first", [True, False])
def test_finish_if_no_improvement_in_epochs(track_first):
    values = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 9, 9, 9, 9]
    track = [Records("cost", values), TrackTheBest("cost")]
    finish = FinishIfNoImprovement("cost_best_so_far", epochs=3)
    main_loop = run(track + [finish] if track_first else [finish] + track, epochs=20)
    # Last improvement at epoch 2: stop after epoch 5.
    assert main_loop.status["epochs_done"] == 5
    patience = [main_loop.log[3 * e]["cost_best_so_far_patience_epochs"] for e in range(1, 6)]
    # Checked before the notification of the same epoch, the improvement counts one
    # check later.
    assert patience == ([3, 3, 2, 1, 0] if track_first else [2, 2, 2, 1, 0])


def test_finish_if_no_improvement_in_iterations_and_record_name_alias():
    values = [3.0, 2.0, 2.5]
    main_loop = run([Records("cost", values), TrackTheBest("cost"),
                     FinishIfNoImprovement(record_name="cost_best_so_far", iterations=4,
                                           patience_log_record="left")], epochs=10)
    # Improvements at iterations 3 and 6; patience runs out at iteration 10.
    assert main_loop.status["iterations_done"] == 10
    assert main_loop.log[7]["left"] == 3 and main_loop.log[10]["left"] == 0


def test_finish_if_no_improvement_errors():
    with pytest.raises(ValueError, match="exactly one of iterations and epochs"):
        FinishIfNoImprovement("x", iterations=2, epochs=2)
    with pytest.raises(ValueError, match="exactly one of iterations and epochs"):
        FinishIfNoImprovement("x")
    with pytest.raises(ValueError, match="positive integer"):
        FinishIfNoImprovement("x", epochs=0)
    with pytest.raises(TypeError, match="not both"):
        FinishIfNoImprovement("x", record_name="y", epochs=1)
    with pytest.raises(TypeError, match="must be a record name"):
        FinishIfNoImprovement(epochs=1)


# SharedVariableModifier

def halve(iterations_done, old_value):
    return old_value / 2


def schedule(iterations_done):
    return 1.0 / (1 + iterations_done)


def test_shared_variable_modifier():
    learning_rate = shared_floatx(1.0)
    run([SharedVariableModifier(learning_rate, halve, after_batch=False, every_n_epochs=1)],
        epochs=3)
    assert learning_rate.get_value() == 1.0 / 8
    # As in Blocks, after_batch stays on unless switched off: 3 epochs of 3 batches
    # halve 9 times after the batches and 3 times after the epochs.
    learning_rate = shared_floatx(1.0)
    run([SharedVariableModifier(learning_rate, halve, every_n_epochs=1)], epochs=3)
    assert learning_rate.get_value() == 0.5 ** 12
    rate = shared_floatx(1.0)
    modifier = SharedVariableModifier(rate, schedule)
    assert modifier.num_args == 1
    run([modifier], epochs=1)
    assert rate.get_value() == 1.0 / 4
    vector = shared_floatx(np.ones(2))
    with pytest.raises(ValueError, match="returned shape \\(\\) for .* of shape \\(2,\\)"):
        run([SharedVariableModifier(vector, schedule)])


def test_shared_variable_modifier_errors():
    rate = shared_floatx(1.0)
    with pytest.raises(TypeError, match="must be a shared variable"):
        SharedVariableModifier(1.0, schedule)
    with pytest.raises(TypeError, match="must be callable"):
        SharedVariableModifier(rate, 3)
    with pytest.raises(ValueError, match="found 0"):
        SharedVariableModifier(rate, lambda: 1.0)
    assert SharedVariableModifier(rate, max, num_args=2).num_args == 2
    with pytest.raises(ValueError, match="found None"):
        SharedVariableModifier(rate, max)


# Blocks fidelity (issue 18): Timestamp's triggers, Timing's records

def test_timestamp_default_triggers_as_blocks():
    main_loop = run([Timestamp()], epochs=1)
    names = [name for name, _, _ in main_loop.extensions[0]._conditions]
    assert names == ["before_training", "after_epoch", "on_error", "on_interrupt",
                     "on_resumption", "after_training"]
    assert "timestamp" in main_loop.log[0]  # before training
    assert not Timestamp(before_training=False, on_error=False)._conditions[0][0] == (
        "before_training")


class SlowCompile(TrainingExtension):
    """Spends time before the first epoch, as a monitor compiling its function does."""

    def before_epoch(self):
        import time

        if self.main_loop.status["epochs_done"] == 0:
            time.sleep(0.05)


def test_timing_counts_only_reading_data_and_training():
    main_loop = MainLoop(Sleepy(), stream(), extensions=[
        Timing(prefix="valid"), SlowCompile(), FinishAfter(after_n_epochs=1)])
    main_loop.run()
    row = main_loop.log[3]
    # The extension's 50 ms before the first batch are not time spent reading data.
    assert row["valid_time_read_data_this_epoch"] < 0.04
    assert row["valid_time_train_this_epoch"] >= 3 * 0.002
    assert row["valid_time_train_total"] == main_loop.profile.total[
        ("training", "epoch", "train")]
    assert "valid_time_initialization" in main_loop.log[0]
    assert Timing().prefix == ""
