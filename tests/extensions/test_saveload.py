"""Checkpoint and Load end to end: GradientDescent, a shuffled DataStream, a Model."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytensor.tensor as pt
import pytest

import blocks.extensions.saveload as saveload
from blocks.algorithms import GradientDescent, Momentum
from blocks.bricks import Linear
from blocks.datasets import DataStream, IndexableDataset, ShuffledScheme
from blocks.extensions import FinishAfter, SimpleExtension, TrainingExtension
from blocks.extensions.saveload import Checkpoint, Load
from blocks.log import TrainingLog
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.serialization import CheckpointError, load, load_parameters, stale_temporaries

RNG = np.random.RandomState(0)
FEATURES = RNG.randn(10, 3)
TARGETS = FEATURES.dot([[1.0], [-2.0], [0.5]]) + 0.3


def build(extensions=(), seed=1, with_model=True):
    """A linear regression trained by momentum SGD on shuffled batches of 4, 3, 3."""
    x, y = pt.matrix("x"), pt.matrix("y")
    linear = Linear(input_dim=3, output_dim=1)
    linear.allocate()
    linear.W.set_value(np.random.RandomState(seed).randn(3, 1))
    linear.b.set_value(np.zeros(1))
    cost = ((linear.apply(x) - y) ** 2).mean()
    cost.name = "cost"
    algorithm = GradientDescent(cost=cost, parameters=[linear.W, linear.b],
                                step_rule=Momentum(learning_rate=0.05, momentum=0.9))
    dataset = IndexableDataset({"x": FEATURES, "y": TARGETS})
    stream = DataStream(dataset, iteration_scheme=ShuffledScheme(10, batch_size=4, rng=7))
    return MainLoop(algorithm, stream, model=Model(cost) if with_model else None,
                    extensions=list(extensions))


def values(main_loop):
    return [p.get_value() for p in main_loop.algorithm.parameters]


def interrupt(main_loop):
    main_loop._handle_interrupt(signal.SIGINT, None)


class Hook(TrainingExtension):
    def __init__(self, callback, at, function):
        super().__init__()
        self.callback, self.at, self.function = callback, at, function

    def dispatch(self, callback_name, *args):
        if callback_name == self.callback and self.main_loop.status["iterations_done"] == self.at:
            self.function(self.main_loop)


@pytest.fixture(scope="module")
def uninterrupted():
    main_loop = build([FinishAfter(after_n_epochs=4)])
    main_loop.run()
    assert main_loop.status["iterations_done"] == 12
    return values(main_loop)


@pytest.mark.parametrize("callback, at", [
    ("after_epoch", 6),    # interrupted after epoch 2 (3 batches per epoch)
    ("before_batch", 4),   # interrupted in the middle of epoch 2
])
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(
        tmp_path, uninterrupted, callback, at):
    path = str(tmp_path / "checkpoint.tar")
    main_loop = build([Hook(callback, at, interrupt), Checkpoint(path),
                       FinishAfter(after_n_epochs=4)])
    main_loop.run()
    assert main_loop.status["training_interrupted"]
    stopped_at = main_loop.status["iterations_done"]
    assert stopped_at == (6 if callback == "after_epoch" else 5)
    assert main_loop.log.current_row["saved_to"] == (path,)
    # The parameters differ from the final ones: the test can fail.
    assert not np.allclose(values(main_loop)[0], uninterrupted[0], atol=1e-3)

    # Hook and interrupt are this test's own: safe loading builds them once allowed.
    resumed = load(path, allowed=[Hook, interrupt])
    assert resumed.status["iterations_done"] == stopped_at
    np.testing.assert_array_equal(values(resumed)[0], values(main_loop)[0])
    resumed.run()
    assert resumed.status["iterations_done"] == 12 and resumed.status["epochs_done"] == 4
    for final, expected in zip(values(resumed), uninterrupted):
        np.testing.assert_allclose(final, expected, atol=1e-6, rtol=0)
    # after_training wrote the final checkpoint.
    np.testing.assert_allclose(load_parameters(path)["/linear.W"], uninterrupted[0],
                               atol=1e-6, rtol=0)


def test_checkpoint_contents_and_save_separately(tmp_path):
    path = str(tmp_path / "run.tar")
    main_loop = build([Checkpoint(path, save_separately=["log"], every_n_epochs=1),
                       FinishAfter(after_n_epochs=1)])
    main_loop.run()
    assert sorted(load_parameters(path)) == ["/linear.W", "/linear.b"]
    np.testing.assert_array_equal(load_parameters(path)["/linear.W"], values(main_loop)[0])
    log = load(str(tmp_path / "run_log.tar"))
    assert isinstance(log, TrainingLog) and log.status["epochs_done"] == 1
    assert main_loop.log[3]["saved_to"] == (path, str(tmp_path / "run_log.tar"))


def test_parameters_only_checkpoint_without_model(tmp_path):
    path = str(tmp_path / "params.tar")
    main_loop = build([Checkpoint(path, save_main_loop=False), FinishAfter(after_n_batches=1)],
                      with_model=False)
    main_loop.run()
    assert load(path) is None
    # Without a model, the algorithm's parameters are named after their bricks.
    assert sorted(load_parameters(path)) == ["/linear.W", "/linear.b"]


def test_unwritable_path_fails_before_training(tmp_path):
    main_loop = build([Checkpoint(str(tmp_path / "missing" / "c.tar"))])
    before = values(main_loop)
    with pytest.raises(OSError, match="does not exist"):
        main_loop.run()
    assert main_loop.status["iterations_done"] == 0
    np.testing.assert_array_equal(values(main_loop)[0], before[0])
    with pytest.raises(ValueError, match="save_separately names \\['nothing'\\]"):
        build([Checkpoint(str(tmp_path / "c.tar"), save_separately=["nothing"])]).run()
    with pytest.raises(TypeError, match="path must be"):
        Checkpoint(None)


def test_failed_write_keeps_old_checkpoint_and_raises(tmp_path, monkeypatch):
    path = str(tmp_path / "c.tar")
    main_loop = build([Checkpoint(path, after_batch=True), FinishAfter(after_n_batches=2)])
    original = saveload.secure_dump
    calls = []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(saveload, "secure_dump", fail_second)
    with pytest.raises(OSError, match="No space left"):
        main_loop.run()
    assert "saved_to" not in main_loop.log.current_row
    assert main_loop.log[1]["saved_to"] == (path,)
    assert load(path).status["iterations_done"] == 1


def test_load_parameters_log_and_iteration_state(tmp_path, uninterrupted):
    path = str(tmp_path / "c.tar")
    trained = build([Checkpoint(path), FinishAfter(after_n_epochs=2)])
    trained.run()
    fresh = build([Load(path), FinishAfter(after_n_epochs=2)], seed=5)
    assert not np.allclose(values(fresh)[0], values(trained)[0])
    fresh.algorithm.initialize()
    fresh.find_extension("Load").load_to(fresh)
    np.testing.assert_array_equal(values(fresh)[0], values(trained)[0])

    resumed = build([Load(path, load_log=True, load_iteration_state=True),
                     FinishAfter(after_n_epochs=4)], seed=5)
    resumed.run()
    assert resumed.status["iterations_done"] == 12
    assert resumed.log[6]["loaded_from"] == path
    # The momentum state is not loaded, so the end point differs from a full resume.
    assert not np.allclose(values(resumed)[0], uninterrupted[0], atol=1e-6)


def test_load_missing_and_corrupt_files(tmp_path, caplog):
    main_loop = build([Load(str(tmp_path / "absent.tar")), FinishAfter(after_n_batches=1)])
    main_loop.run()
    assert "no checkpoint" in caplog.text
    assert "loaded_from" not in main_loop.log[0]
    corrupt = tmp_path / "corrupt.tar"
    corrupt.write_bytes(b"\0" * 100 + b"garbage")
    with pytest.raises(CheckpointError):
        build([Load(str(corrupt))]).run()


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_load_refuses_a_payload_and_a_file_without_a_main_loop(tmp_path):
    path = str(tmp_path / "c.tar")
    trained = build([Checkpoint(path), FinishAfter(after_n_epochs=1)])
    trained.run()
    marker = tmp_path / "pwned"
    trained.log.status["note"] = _Payload(marker)
    saveload.secure_dump(trained, path, parameters=trained.model.get_parameter_dict())
    resumed = build([Load(path, load_iteration_state=True), FinishAfter(after_n_epochs=2)])
    with pytest.raises(CheckpointError, match=r"posix\.system.*trusted=True"):
        resumed.run()
    assert not marker.exists()
    # Allowing one's own classes does not allow the payload's function.
    resumed = build([Load(path, load_iteration_state=True, allowed=[_Payload]),
                     FinishAfter(after_n_epochs=2)])
    with pytest.raises(CheckpointError, match=r"posix\.system"):
        resumed.run()
    assert not marker.exists()
    # A checkpoint of the parameters only has no iteration state to take.
    saveload.secure_dump(None, path, parameters=trained.model.get_parameter_dict())
    resumed = build([Load(path, load_iteration_state=True), FinishAfter(after_n_epochs=2)])
    with pytest.raises(CheckpointError, match="holds a NoneType, not a main loop"):
        resumed.run()


def test_load_without_model_checks_names_and_shapes(tmp_path):
    path = str(tmp_path / "c.tar")
    build([Checkpoint(path), FinishAfter(after_n_batches=1)]).run()
    target = build(with_model=False, seed=3)
    Load(path).load_to(target)
    np.testing.assert_array_equal(values(target)[0], load_parameters(path)["/linear.W"])
    other = str(tmp_path / "other.tar")
    import pytensor

    from blocks.serialization import secure_dump

    secure_dump(None, other, parameters={"/linear.W": pytensor.shared(np.zeros((2, 2)))})
    with pytest.raises(ValueError, match="has shape \\(3, 1\\), the checkpoint holds"):
        Load(other).load_to(target)
    secure_dump(None, other, parameters={"/mlp.W": pytensor.shared(np.zeros(2))})
    with pytest.raises(KeyError, match="/mlp.W"):
        Load(other).load_to(target)


class Slow(SimpleExtension):
    """Says READY after two batches, then makes every batch last 20 ms."""

    def do(self, which_callback, *args):
        if self.main_loop.status["iterations_done"] == 2:
            print("READY", flush=True)
        time.sleep(0.02)


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {test_dir!r})
    from test_saveload import Slow, build
    from blocks.extensions import FinishAfter
    from blocks.extensions.saveload import Checkpoint

    main_loop = build([Slow(after_batch=True), Checkpoint({path!r}),
                       FinishAfter(after_n_epochs=100000)])
    main_loop.run()
    print('STOPPED', main_loop.status['iterations_done'], flush=True)
""")


def test_ctrl_c_in_a_subprocess_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    path = str(tmp_path / "c.tar")
    script = SCRIPT.format(test_dir=os.path.dirname(__file__), path=path)
    env = dict(os.environ, PYTENSOR_FLAGS="mode=FAST_COMPILE")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline().strip()
        if line != "READY":
            process.kill()
            pytest.fail(f"the training subprocess did not start: {line}\n"
                        f"{process.communicate()[1]}")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    stopped = int(out.split()[-1])
    assert "Interrupt received" in err
    # Written by the subprocess, whose extension class is a test_saveload module's own.
    main_loop = load(path, trusted=True)
    assert main_loop.status["training_interrupted"]
    assert main_loop.status["iterations_done"] == stopped >= 2
    assert main_loop.log[stopped]["saved_to"] == (path,)


def test_load_reads_a_protocol_0_checkpoint(tmp_path):
    from blocks.serialization import dump

    path = str(tmp_path / "p0.tar")
    trained = build([FinishAfter(after_n_epochs=1)])
    trained.run()
    with open(path, "wb") as destination:
        dump(trained, destination, parameters=trained.model.parameters, protocol=0)
    resumed = build([Load(path, load_log=True, load_iteration_state=True),
                     FinishAfter(after_n_epochs=2)], seed=5)
    resumed.run()
    assert resumed.status["iterations_done"] == 6
    assert resumed.log[3]["loaded_from"] == path
    whole = load(path)
    np.testing.assert_array_equal(values(whole)[0], values(trained)[0])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sigkill_while_checkpointing_every_batch_leaves_a_loadable_checkpoint(tmp_path):
    # The training step is compiled once here; each trial forks a process that trains
    # on from it, checkpointing after every batch, and kills it with SIGKILL at a random
    # moment: during a pickle, an fsync, a rename or a training step.
    path = str(tmp_path / "c.tar")
    main_loop = build([Checkpoint(path, every_n_batches=1), FinishAfter(after_n_epochs=10**6)])
    main_loop.algorithm.initialize()
    saveload.secure_dump(main_loop, path, parameters=main_loop.model.get_parameter_dict())
    rng = np.random.RandomState(0)
    left_behind = 0
    for _ in range(6):
        saved = os.stat(path).st_mtime_ns
        child = os.fork()
        if child == 0:  # the training process
            try:
                main_loop.run()
            finally:
                os._exit(1)
        deadline = time.monotonic() + 20
        while os.stat(path).st_mtime_ns == saved and time.monotonic() < deadline:
            time.sleep(0.005)  # until the child has written a checkpoint of its own
        time.sleep(rng.uniform(0, 0.05))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        loaded = load(path)
        assert loaded.status["iterations_done"] >= 1
        left_behind += len(stale_temporaries(path))
        # The next successful save removes what the killed one left.
        saveload.secure_dump(loaded, path, parameters=loaded.model.get_parameter_dict())
        assert stale_temporaries(path) == []
    print(f"{left_behind} of 6 kills left a temporary file")
