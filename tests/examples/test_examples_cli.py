"""The examples' command line and shared machinery: options, checkpoints, plots, errors.

Runs the `sqrt` example (no optional dependency) in tiny configurations.
"""

import contextlib
import functools
import importlib
import io
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from blocks import serialization
from blocks.examples import DEFAULT_EXAMPLE, EXAMPLES, sqrt
from blocks.examples.__main__ import main
from blocks.examples._common import (
    ExampleError,
    last_records,
    plot_path,
    run_example,
    training_curves,
)

TINY = ["--num-examples", "48", "--hidden-dim", "4", "--batch-size", "16"]


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self):
        return True


def run(module, argv, terminal=False):
    """Run an example in-process; returns (main_loop, figures, stdout, stderr)."""
    out, err = io.StringIO(), (Terminal() if terminal else io.StringIO())
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main_loop, figures = run_example(module.NAME, module.parser().parse_args(argv),
                                         module.build, module.report)
    return main_loop, figures, out.getvalue(), err.getvalue()


def call_main(argv):
    """``python -m blocks.examples ARGV`` in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sqrt") / "run.tar")
    return path, run(sqrt, [*TINY, "--num-epochs", "2", "--save-to", path], terminal=True)


def test_sqrt_cost_decreases(trained):
    _, (main_loop, figures, out, _) = trained
    curves = training_curves(main_loop.log, ["test_squared_error", "train_squared_error"])
    epochs, test_errors = curves["test_squared_error"]
    assert epochs == [0, 1, 2]
    assert test_errors[2] < test_errors[0]
    assert curves["train_squared_error"][0] == [1, 2]
    assert figures["test_absolute_error"] == pytest.approx(
        float(last_records(main_loop)["test_absolute_error"]))
    assert figures["wall_time"] > 0


def test_prints_one_line_per_epoch_and_the_report(trained):
    _, (_, _, out, _) = trained
    lines = out.splitlines()
    assert lines[0] == "sqrt: compiling for Python (FAST_COMPILE)."
    assert lines[1].startswith("Training for 2 epochs, after compiling the model")
    assert lines[2].startswith("epoch 0/2  test_squared_error ")
    assert lines[3].startswith("epoch 1/2  train_squared_error ")
    assert lines[4].startswith("epoch 2/2  train_squared_error ")
    # The first epoch's time leaves out the compiling batch, and says how long it took.
    assert "; compiling " in lines[3] and "compiling" not in lines[4]
    assert "sqrt(2) = 1.4142, the MLP says" in out
    assert "Mean absolute error on the test set" in out


def test_progress_bar_is_drawn(trained):
    _, (_, _, _, err) = trained
    assert err.startswith("compiling the training step... ")
    assert "Epoch 1: [" in err and "3/3 100%" in err


def test_off_a_terminal_no_bar_is_redrawn(tmp_path):
    _, _, _, err = run(sqrt, [*TINY, "--num-epochs", "1", "--save-to",
                              str(tmp_path / "r.tar")])
    assert "\r" not in err and "Epoch 1" not in err
    assert err.startswith("compiling the training step... ")


def test_the_same_seed_gives_the_same_run(trained, tmp_path):
    path, (main_loop, _, out, _) = trained
    again, _, out_again, _ = run(sqrt, [*TINY, "--num-epochs", "2", "--save-to",
                                        str(tmp_path / "again.tar")])
    for name, value in main_loop.model.get_parameter_values().items():
        np.testing.assert_array_equal(again.model.get_parameter_values()[name], value)

    def figures(text):  # the printed results, without the times
        return [line.split("  (")[0] for line in text.splitlines()
                if line.startswith(("epoch", "sqrt(", "Mean"))]

    assert figures(out_again) == figures(out)


def test_writes_checkpoint_and_plot(trained):
    path, _ = trained
    from blocks.serialization import load_parameters

    assert sorted(load_parameters(path))[0] == "/mlp/linear_0.W"
    pytest.importorskip("matplotlib")
    with open(plot_path(path), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_degrades_without_matplotlib(trained, monkeypatch, capsys):
    _, (main_loop, _, _, _) = trained
    plot = main_loop.find_extension("PlotCurves")
    monkeypatch.setattr(plot, "disabled", False)
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    assert plot.plot() is False
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert plot.plot() is False
    assert capsys.readouterr().err == ""  # said once


def parameters(main_loop):
    return {name: value.copy() for name, value in main_loop.model.get_parameter_values().items()}


def test_resume_equals_uninterrupted_run(tmp_path):
    path = str(tmp_path / "a.tar")
    run(sqrt, [*TINY, "--num-epochs", "1", "--save-to", path])
    resumed, _, out, _ = run(sqrt, [*TINY, "--num-epochs", "3", "--save-to", path])
    assert out.splitlines()[1].startswith(f"Resuming from {path}: 1 epoch(s) done")
    assert "epoch 3/3" in out
    assert resumed.status["epochs_done"] == 3
    straight, _, _, _ = run(sqrt, [*TINY, "--num-epochs", "3", "--save-to",
                                   str(tmp_path / "b.tar")])
    expected = parameters(straight)
    for name, value in parameters(resumed).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6)

    # Again: nothing left to train, the report is printed from the checkpoint.
    again, figures, out, _ = run(sqrt, [*TINY, "--num-epochs", "3", "--save-to", path])
    assert "Nothing to train: the checkpoint holds 3 epoch(s)" in out
    assert again.status["epochs_done"] == 3
    assert "test_absolute_error" in figures


class InterruptAt:
    """A stream mapping that sends this process a SIGINT (Ctrl-C) at its n-th batch."""

    def __init__(self, n):
        self.n = n
        self.seen = 0

    def __call__(self, batch):
        self.seen += 1
        if self.seen == self.n:
            signal.raise_signal(signal.SIGINT)
        return batch


def test_ctrl_c_checkpoints_then_resumes(tmp_path, monkeypatch):
    from blocks.datasets import Mapping

    original_build = sqrt.build

    def build_interrupted_at_second_batch(args):
        experiment = original_build(args)
        experiment.train_stream = Mapping(experiment.train_stream, InterruptAt(2))
        return experiment

    monkeypatch.setattr(sqrt, "build", build_interrupted_at_second_batch)
    path = str(tmp_path / "run.tar")
    status, out, err = call_main(["sqrt", *TINY, "--num-epochs", "2", "--save-to", path])
    assert status == 130
    assert "Training interrupted; the checkpoint" in out
    assert "epoch 1/2" not in out
    assert "Traceback" not in err
    monkeypatch.setattr(sqrt, "build", original_build)
    # The checkpoint holds this test's InterruptAt, which safe loading builds only when
    # allowed.
    status, out, _ = call_main(["sqrt", *TINY, "--num-epochs", "2", "--save-to", path])
    assert status == 1 and "InterruptAt" in out + _
    monkeypatch.setattr(serialization, "load",
                        functools.partial(serialization.load, allowed=[InterruptAt]))
    status, out, _ = call_main(["sqrt", *TINY, "--num-epochs", "2", "--save-to", path])
    assert status == 0
    assert "Resuming from" in out and "epoch 2/2" in out


def test_help_lists_every_example_on_one_line():
    status, out, _ = call_main(["--help"])
    assert status == 0
    for name, (_, summary) in EXAMPLES.items():
        [line] = [line for line in out.splitlines() if line.strip().startswith(name + " ")]
        assert summary in line
    assert "(default)" in [line for line in out.splitlines()
                           if line.strip().startswith(DEFAULT_EXAMPLE + " ")][0]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_takes_the_common_options(name):
    module = importlib.import_module(EXAMPLES[name][0])
    args = module.parser().parse_args(["--num-epochs", "3", "--save-to", "x.tar", "--seed", "7"])
    assert (args.num_epochs, args.save_to, args.seed) == (3, "x.tar", 7)
    assert callable(module.build) and callable(module.report) and callable(module.main)


def test_unknown_example_is_an_error():
    status, _, err = call_main(["no_such_example"])
    assert status == 2
    assert "unknown example 'no_such_example'" in err and "sqrt" in err


def test_bad_option_values_are_refused():
    status, _, err = call_main(["sqrt", "--num-epochs", "0"])
    assert status == 2
    assert "--num-epochs: expected a positive integer, got 0" in err


def test_unwritable_save_to(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, _, err = call_main(["sqrt", "--save-to", str(blocker / "run.tar")])
    assert status == 1
    assert err.startswith("error: cannot write the checkpoint --save-to")
    assert "Traceback" not in err
    status, _, err = call_main(["sqrt", "--save-to", str(tmp_path)])
    assert status == 1 and "is a directory" in err


def test_save_to_creates_missing_directories(tmp_path):
    path = tmp_path / "new" / "dir" / "run.tar"
    run(sqrt, [*TINY, "--num-epochs", "1", "--save-to", str(path)])
    assert path.exists()


def test_foreign_file_is_not_resumed(tmp_path):
    path = tmp_path / "run.tar"
    path.write_bytes(b"not a checkpoint")
    status, _, err = call_main(["sqrt", "--save-to", str(path)])
    assert status == 1
    assert "exists but cannot be resumed" in err and "delete it" in err
    with pytest.raises(ExampleError, match="exists but cannot be resumed"):
        run(sqrt, ["--save-to", str(path)])


def test_a_checkpoint_carrying_a_payload_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.tar"
    with open(path, "wb") as file_:
        serialization.dump(Payload(os.system, f"touch {marker}"), file_)
    status, _, err = call_main(["sqrt", *TINY, "--save-to", str(path)])
    assert status == 1
    assert "was not resumed: it refers to posix.system" in err and "delete it" in err
    assert not marker.exists()


def test_a_diverging_run_stops_with_a_message(tmp_path):
    path = str(tmp_path / "run.tar")
    status, _, err = call_main(["sqrt", *TINY, "--learning-rate", "1e30", "--save-to", path])
    assert status == 1
    assert "TerminateOnNaN: training stopped at iteration" in err
    assert "a smaller --learning-rate may help" in err and "Traceback" not in err


class Payload:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_checkpoint_of_another_example_is_refused(trained):
    path, _ = trained
    status, _, err = call_main(["quickstart", "--save-to", path])
    assert status == 1
    assert f"{path} is a checkpoint of the example 'sqrt', not 'quickstart'" in err
    assert "Traceback" not in err


def test_command_line_entry_point():
    # The real `python -m blocks.examples`: help, and an unknown name without traceback.
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    done = subprocess.run([sys.executable, "-m", "blocks.examples", "--help"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and "examples:" in done.stdout
    done = subprocess.run([sys.executable, "-m", "blocks.examples", "nope"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "unknown example 'nope'" in done.stderr and "Traceback" not in done.stderr


def test_examples_run_blas_on_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from blocks.examples._common import _one_blas_thread

    with _one_blas_thread():
        # SciPy's BLAS (which compiled code calls) is loaded before the limit is set.
        assert "scipy.linalg.cython_blas" in sys.modules
        libraries = [info for info in threadpoolctl.threadpool_info()
                     if info["user_api"] == "blas"]
        assert libraries and all(info["num_threads"] == 1 for info in libraries)
