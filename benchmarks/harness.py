"""Shared machinery of the benchmarks: GEMM peak, alternating timing, compile times, reports.

A benchmark script builds a few :class:`Candidate` objects (our model, the same model as
a hand-written PyTensor graph, PyTorch...), then calls :func:`run_benchmark`, which

1. times the candidates in one process, alternating them round after round so that load
   from other processes falls on all of them alike (:func:`alternate`); the figure kept
   is the median over rounds,
2. times a 1024^3 float32 GEMM in the same rotation: the machine's GEMM peak, measured
   under the same conditions as the candidates (:func:`peak_candidate`),
3. measures each PyTensor candidate's compile time, cold (a fresh process with empty
   PyTensor and Numba caches) and warm (a fresh process reusing the cache the cold run
   filled) with :func:`compile_times`,
4. prints a table (:func:`format_table`) and writes everything to
   ``benchmarks/results/<name>.json`` (git-ignored).

Compile time is what a user waits for between calling ``pytensor.function`` and having
the first result: building the function plus its first call (Numba compiles lazily on
the first call), minus one ordinary call. The one-time costs of a process (importing
Numba and setting it up, about a second) are paid before, by compiling a trivial function,
and reported apart (``process_setup_*`` in the JSON).
"""

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytensor

# The library's graph rewrites (registered with PyTensor on import) apply to every PyTensor
# candidate, hand-written ones included, here and in the compile-time processes.
import blocks  # noqa: F401
from blocks.utils.memory import freed_memory_kept

__all__ = [
    "Candidate", "alternate", "compile_times", "format_table", "gemm_peak", "jax_available",
    "jax_candidate", "jax_skip_message",
    "limit_threads",
    "pytensor_sgd_step",
    "median_time", "peak_candidate", "parse_args", "run_benchmark", "write_json", "RESULTS_DIR",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"


@dataclass
class Candidate:
    """One way of running the benchmarked computation.

    Parameters
    ----------
    name : str
        Row label in the table.
    step : callable
        Runs one step; called with no arguments.
    flops : float
        Floating-point operations of one step (for GFLOP/s and % of peak).
    builder : str, optional
        ``"module:function"`` that builds this candidate in a fresh process for the
        compile-time measurement: the function takes no argument and returns a pair
        ``(compile, run)``, ``compile()`` returning a callable that ``run(fn)`` calls once.
        None (e.g. PyTorch eager) for no compile time.
    info : dict
        Extra facts to store in the JSON output (e.g. the number of compiled nodes).
    """

    name: str
    step: object
    flops: float
    builder: str | None = None
    info: dict = field(default_factory=dict)
    times: list = field(default_factory=list)
    compile: dict = field(default_factory=dict)


def median_time(function, repeats=20, warmup=3):
    """Median wall time of ``function()`` in seconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _gemm_step(n, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    return lambda: np.dot(a, b, out=out)


def gemm_peak(n=1024, repeats=30, dtype="float32"):
    """The machine's GEMM speed in GFLOP/s: median over `repeats` n x n x n products.

    Uses NumPy's BLAS (OpenBLAS in the wheels), multithreaded like PyTorch and like the
    SciPy BLAS that Numba calls.
    """
    seconds = median_time(_gemm_step(n, dtype), repeats=repeats)
    return 2.0 * n ** 3 / seconds / 1e9


def peak_candidate(n=1024, dtype="float32"):
    """A :class:`Candidate` timing an n x n x n GEMM, to alternate with the others: the
    peak then suffers the same load as the candidates it is compared with."""
    return Candidate(f"{dtype} GEMM {n}^3", _gemm_step(n, dtype), 2.0 * n ** 3)


#: Seconds to wait before each candidate's turn (see :func:`alternate`).
PAUSE = 0.3


def alternate(candidates, rounds=30, calls=5, warmup=3, pause=PAUSE):
    """Time the candidates in turns: `rounds` rounds, each running every candidate `calls`
    times in a row, the order rotating from round to round.

    Each turn starts after `pause` seconds of idleness: the thread pools of OpenBLAS and
    OpenMP busy-wait for new work for a while after their last task (OpenBLAS about 0.1
    s), and on a machine with few cores the spinning threads of the candidate that ran
    last would take the cores from the one that runs next (measured: PyTorch's LeNet
    step at two threads 29 ms right after ours, 15.5 ms after a pause).

    Appends one sample per round (seconds per call) to each ``candidate.times`` and
    returns the candidates.
    """
    for candidate in candidates:
        for _ in range(warmup):
            candidate.step()
    for round_ in range(rounds):
        shift = round_ % len(candidates)
        for candidate in candidates[shift:] + candidates[:shift]:
            time.sleep(pause)
            start = time.perf_counter()
            for _ in range(calls):
                candidate.step()
            candidate.times.append((time.perf_counter() - start) / calls)
    return candidates


_COMPILE_SCRIPT = """
import importlib, json, sys, time
start = time.perf_counter()
import blocks
module, function = sys.argv[1].split(":")
compile_, run = getattr(importlib.import_module(module), function)()
# One-time costs of a process (importing Numba, setting up its registries) are paid by
# a trivial function first, so that what follows is the compile time of the benchmarked
# function alone, as for any function compiled after the first one.
import numpy as np
import pytensor
import pytensor.tensor as pt
v = pt.vector("v")
pytensor.function([v], 2 * v)(np.ones(2, dtype=v.dtype))
setup = time.perf_counter() - start
start = time.perf_counter()
fn = compile_()
run(fn)
first = time.perf_counter() - start
start = time.perf_counter()
run(fn)
second = time.perf_counter() - start
print("COMPILE_SECONDS", json.dumps([max(first - second, 0.0), setup]))
"""


def _compile_once(builder, cache_dir, timeout):
    env = dict(os.environ)
    # A fresh PyTensor compile directory (which holds PyTensor's Numba cache) and a fresh
    # Numba cache for the functions PyTensor itself caches: nothing compiled before.
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and
             not f.startswith("base_compiledir=")]
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE_SCRIPT, builder], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=timeout,
    )
    for line in done.stdout.splitlines():
        if line.startswith("COMPILE_SECONDS "):
            return tuple(json.loads(line.split(" ", 1)[1]))
    raise RuntimeError(f"compile-time run of {builder} failed:\n{done.stderr[-3000:]}")


def compile_times(builder, cold=True, warm_runs=3, timeout=1800):
    """Cold and warm compile seconds of a candidate built by `builder` ("module:function").

    The cold run is a fresh process with empty caches in a temporary directory; the warm
    runs are fresh processes reusing that directory (the median is kept). Without `cold`,
    a cold run still fills the cache but its time is not reported.
    """
    with tempfile.TemporaryDirectory(prefix="blocks-bench-cache-") as cache_dir:
        first, first_setup = _compile_once(builder, cache_dir, timeout)
        warm = [_compile_once(builder, cache_dir, timeout) for _ in range(warm_runs)]
    return {"cold_s": first if cold else None,
            "warm_s": statistics.median(w for w, _ in warm),
            "warm_runs_s": [w for w, _ in warm],
            # Imports, model construction and Numba's set-up, paid once per process.
            "process_setup_cold_s": first_setup,
            "process_setup_warm_s": statistics.median(s for _, s in warm)}


def torch_dense_layers(weights, biases):
    """PyTorch ``Linear`` layers holding the given ``(in, out)`` weights, ReLU between them.

    The benchmarks give PyTorch the same initial values as our models, so that the
    losses can be checked equal before timing. Imports torch (bench extra only).
    """
    import torch

    layers = []
    for i, (w, b) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    return layers


def pytensor_sgd_step(inputs, cost, parameters, learning_rate, mode=None):
    """A compiled SGD step: returns `cost` and updates every parameter by its gradient.

    Compiled as the library compiles (:func:`blocks.backend.function`): under JAX once per
    input shape, at the first call.
    """
    from blocks.backend import function

    lr = np.float32(learning_rate)
    gradients = pytensor.grad(cost, parameters)
    return function(inputs, cost, mode=mode, updates=[
        (p, p - lr * g) for p, g in zip(parameters, gradients)])


def jax_available():
    """Whether JAX can be imported (the ``bricks-jax`` candidates need it)."""
    return importlib.util.find_spec("jax") is not None


def _module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def jax_skip_message(benchmark, *op_families):
    """Why `benchmark` has no ``bricks-jax`` candidate yet, or None if nothing is missing:
    JAX itself, or the JAX implementations of the named op families (``recurrent``...)."""
    if not jax_available():
        return f"[{benchmark}] JAX is not installed: no bricks-jax candidate (.[jax] extra)"
    missing = [f for f in op_families if not _module_exists(f"blocks.ops.{f}.jax")]
    if missing:
        return (f"[{benchmark}] no bricks-jax candidate: the JAX implementations of the "
                f"{', '.join(missing)} ops (blocks/ops/<family>/jax.py) have not landed")
    return None


def jax_candidate(benchmark, compile_jax, run, flops, builder, families=()):
    """The ``bricks-jax`` :class:`Candidate`: ``run(compile_jax())`` as its step; None
    (and the reason printed) where JAX or the JAX ops of `families` are missing."""
    message = jax_skip_message(benchmark, *families)
    if message is not None:
        print(message)
        return None
    function = compile_jax()
    return Candidate("bricks-jax", lambda: run(function), flops, builder=builder)


def torch_sgd_step(layers, x, y, learning_rate, device="cpu"):
    """``(step, torch version)``: one eager SGD step of softmax cross-entropy on ``x, y``,
    model and data on `device`."""
    import torch

    model = torch.nn.Sequential(*layers).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(tx), ty)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch.__version__


def compiled_ops(function):
    """The ops of a compiled PyTensor function, in execution order, as strings."""
    return [str(node.op) for node in function.maker.fgraph.toposort()]


def same_losses(steps, reference="pytorch", rtol=1e-3, atol=1e-4):
    """Run every step function twice from its start; raise unless all agree with `reference`.

    Parameters
    ----------
    steps : dict
        Candidate name to a function running one training step and returning the loss.

    Returns
    -------
    dict
        Candidate name to its two losses, for the JSON record.
    """
    losses = {name: [float(step()) for _ in range(2)] for name, step in steps.items()}
    for name, values in losses.items():
        if not np.allclose(values, losses[reference], rtol=rtol, atol=atol):
            raise AssertionError(f"{name} computes different losses: {losses}")
    return losses


def _summary(candidates, reference, peak):
    ref = next((c for c in candidates if c.name == reference), None)
    ref_ms = statistics.median(ref.times) * 1e3 if ref is not None else None
    rows = []
    for c in candidates:
        ms = statistics.median(c.times) * 1e3
        gflops = c.flops / (ms / 1e3) / 1e9
        rows.append({
            "name": c.name,
            "median_ms": ms,
            "min_ms": min(c.times) * 1e3,
            "ratio": ms / ref_ms if ref_ms else None,
            "gflops": gflops,
            "percent_peak": 100.0 * gflops / peak,
            "cold_compile_s": c.compile.get("cold_s"),
            "warm_compile_s": c.compile.get("warm_s"),
        })
    return rows


def format_table(rows, reference):
    """The results as an aligned text table (one row per candidate)."""
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    header = ("candidate", "median ms", "min ms", f"vs {reference}", "GFLOP/s", "% peak",
              "cold compile s", "warm compile s")
    lines = [header]
    for r in rows:
        lines.append((r["name"], fmt(r["median_ms"], ".2f"), fmt(r["min_ms"], ".2f"),
                      fmt(r["ratio"], ".2f"), fmt(r["gflops"], ".0f"),
                      fmt(r["percent_peak"], ".0f"), fmt(r["cold_compile_s"], ".1f"),
                      fmt(r["warm_compile_s"], ".2f")))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _environment():
    facts = {"python": platform.python_version(), "machine": platform.machine(),
             "cpus": os.cpu_count(), "numpy": np.__version__}
    for module in ("pytensor", "numba", "torch", "jax"):
        try:
            facts[module] = importlib.import_module(module).__version__
        except ImportError:
            facts[module] = None
    try:
        facts["load_average"] = os.getloadavg()
    except OSError:
        pass
    return facts


def write_json(name, payload):
    """Write `payload` to ``benchmarks/results/<name>.json``; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def parse_args(argv=None, description=None):
    """Command-line options shared by the benchmark scripts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=30,
                        help="alternation rounds (default 30)")
    parser.add_argument("--calls", type=int, default=5,
                        help="calls of each candidate per round (default 5)")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the compile-time measurements (fresh processes)")
    parser.add_argument("--no-cold", action="store_true",
                        help="report warm compile times only (the cold run is not shown)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time parts of the step (forward, forward+gradients), "
                             "where the benchmark offers them")
    parser.add_argument("--pause", type=float, default=PAUSE,
                        help=f"seconds of idleness before each candidate's turn, so that "
                             f"the thread pools of the one before stop spinning (default "
                             f"{PAUSE})")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS, OpenMP and PyTorch to this many threads (default: "
                             "the libraries' own choice, one per core); 1 also makes XLA "
                             "(JAX) run single-threaded")
    args = parser.parse_args(argv)
    if args.threads == 1:
        # Read when JAX starts its CPU backend, which the scripts do after parsing.
        # XLA has no thread-count flag but this one.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    return args


def limit_threads(threads):
    """Limit every BLAS/OpenMP pool of this process (and PyTorch's) to `threads` threads.

    Loads SciPy's BLAS (the one Numba calls) first, so that the limit reaches it. Needs
    ``threadpoolctl`` (installed with scikit-learn).
    """
    import scipy.linalg.cython_blas  # noqa: F401
    import threadpoolctl

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)


def run_benchmark(name, candidates, args, reference="pytorch", extra=None):
    """Measure peak, alternate the candidates, measure compile times, print and save.

    Returns the JSON payload.
    """
    if args.threads is not None:
        limit_threads(args.threads)
    peak_timer = peak_candidate()
    print(f"[{name}] timing {len(candidates)} candidates and a GEMM (for the peak), "
          f"{args.rounds} rounds x {args.calls} calls...", flush=True)
    alternate([*candidates, peak_timer], rounds=args.rounds, calls=args.calls,
              pause=args.pause)
    peak = peak_timer.flops / statistics.median(peak_timer.times) / 1e9
    if not args.no_compile:
        for c in candidates:
            if c.builder is not None:
                print(f"[{name}] compile times of {c.name} (fresh processes)...", flush=True)
                c.compile = compile_times(c.builder, cold=not args.no_cold)
    rows = _summary(candidates, reference, peak)
    threads = "default threads" if args.threads is None else f"{args.threads} thread(s)"
    print(f"\n{name}: float32 GEMM peak {peak:.0f} GFLOP/s ({threads}); times are medians "
          f"over {args.rounds} alternating rounds of {args.calls} calls")
    print(format_table(rows, reference))
    payload = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "environment": _environment(),
        "gemm_peak_gflops": peak,
        "threads": args.threads,
        "rounds": args.rounds,
        "calls": args.calls,
        "pause_s": args.pause,
        "freed_memory_kept": freed_memory_kept(),
        "rows": rows,
        "samples_ms": {c.name: [t * 1e3 for t in c.times]
                       for c in [*candidates, peak_timer]},
        "compile": {c.name: c.compile for c in candidates if c.compile},
        "info": {c.name: c.info for c in candidates if c.info},
        **(extra or {}),
    }
    path = write_json(name, payload)
    print(f"results written to {path.relative_to(ROOT)}")
    return payload
