"""The benchmark harness's bookkeeping (no timing is checked: timings never go in tests)."""

import json
import os

import pytest

from benchmarks import harness, run


def _candidate(name, log):
    return harness.Candidate(name, lambda: log.append(name), flops=2e9)


def test_alternate_rotates_and_records_every_round():
    log = []
    candidates = [_candidate(name, log) for name in "abc"]
    harness.alternate(candidates, rounds=3, calls=2, warmup=1, pause=0)
    assert log[:3] == list("abc")                       # warm-up
    assert log[3:] == list("aabbcc" "bbccaa" "ccaabb")  # the order rotates
    assert all(len(c.times) == 3 for c in candidates)


def test_alternate_pauses_before_every_turn_outside_the_timing(monkeypatch):
    events = []
    monkeypatch.setattr(harness.time, "sleep", lambda seconds: events.append(seconds))
    candidates = [harness.Candidate(name, lambda: events.append("step"), flops=1.0)
                  for name in "ab"]
    harness.alternate(candidates, rounds=2, calls=1, warmup=0, pause=0.25)
    assert events == [0.25, "step"] * 4
    assert harness.parse_args(["--pause", "0.5"]).pause == 0.5
    assert harness.parse_args([]).pause == harness.PAUSE


def test_summary_and_table():
    a = harness.Candidate("ours", None, flops=2e9, times=[0.010, 0.012, 0.011],
                          compile={"cold_s": 30.0, "warm_s": 0.5})
    b = harness.Candidate("pytorch", None, flops=2e9, times=[0.022, 0.020, 0.024])
    rows = harness._summary([a, b], "pytorch", peak=400.0)
    assert rows[0]["median_ms"] == pytest.approx(11.0)
    assert rows[0]["ratio"] == pytest.approx(0.5)
    assert rows[0]["gflops"] == pytest.approx(2e9 / 0.011 / 1e9)
    assert rows[0]["percent_peak"] == pytest.approx(100 * rows[0]["gflops"] / 400)
    assert rows[1]["cold_compile_s"] is None
    table = harness.format_table(rows, "pytorch").splitlines()
    assert table[0].split()[:3] == ["candidate", "median", "ms"]
    assert table[2].split()[:4] == ["ours", "11.00", "10.00", "0.50"]
    assert table[3].split()[-2:] == ["-", "-"]          # no compile time for PyTorch


def test_summary_without_reference():
    a = harness.Candidate("ours", None, flops=1e9, times=[0.01])
    assert harness._summary([a], "pytorch", peak=100.0)[0]["ratio"] is None


def test_write_json(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS_DIR", tmp_path / "results")
    path = harness.write_json("unit", {"rows": [1.5]})
    assert json.loads(path.read_text()) == {"rows": [1.5]}


def test_parse_args_defaults_and_options():
    args = harness.parse_args([])
    assert (args.rounds, args.calls, args.no_compile, args.threads) == (30, 5, False, None)
    args = harness.parse_args(["--rounds", "3", "--no-compile", "--threads", "1"])
    assert (args.rounds, args.no_compile, args.threads) == (3, True, 1)


def test_runner_lists_and_refuses_unknown(capsys):
    assert "mlp" in run.available()
    assert run.main(["no-such-benchmark"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_jax_skip_message_names_what_is_missing():
    pytest.importorskip("jax")
    assert harness.jax_skip_message("lenet", "conv", "pool") is None
    message = harness.jax_skip_message("seq2seq", "conv", "no_such_family")
    assert message.startswith("[seq2seq]") and "no_such_family" in message
    assert "conv" not in message.split("of the")[1]


def test_one_thread_makes_xla_single_threaded(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    harness.parse_args(["--threads", "1"])
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"


@pytest.mark.numba
def test_compile_benchmark_process_setup_goes_through_numba():
    # The warm-up must compile a node with Numba (not run every node with NumPy), or
    # Numba's one-time set-up lands in the first model's figures.
    import numpy as np

    from benchmarks.compile import process_setup_function
    from blocks.ops.python_nodes import runs_in_python

    function = process_setup_function()
    assert [node for node in function.maker.fgraph.apply_nodes if not runs_in_python(node)]
    value = np.array([0.0, 1.0], dtype=function.maker.fgraph.inputs[0].dtype)
    np.testing.assert_allclose(function(value), np.exp(value) * 2, rtol=1e-6)


def test_compile_benchmark_processes_run_blas_on_one_thread_by_default(monkeypatch, tmp_path):
    import subprocess

    from benchmarks import compile as compile_benchmark

    environments = []

    def fake_run(command, env, **kwargs):
        environments.append(env)
        return subprocess.CompletedProcess(command, 0, 'COMPILE_FIGURES {"cpu_s": 1.0}\n', "")

    monkeypatch.setattr(compile_benchmark.subprocess, "run", fake_run)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert compile_benchmark.run_process("mlp", True, tmp_path, 10)["cpu_s"] == 1.0
    compile_benchmark.run_process("mlp", True, tmp_path, 10, blas_threads=0)
    assert environments[0]["OPENBLAS_NUM_THREADS"] == "1"
    assert "OPENBLAS_NUM_THREADS" not in environments[1]
