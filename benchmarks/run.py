"""Run the benchmarks: every ``benchmarks/bench_*.py``, or the ones named.

Usage::

    python -m benchmarks.run                 # all of them
    python -m benchmarks.run mlp             # benchmarks/bench_mlp.py only
    python benchmarks/run.py mlp --rounds 10 --no-compile

Options after the names go to every benchmark script (see ``--help`` of one, e.g.
``python -m benchmarks.bench_mlp --help``). Each script runs in its own process; the
results land in ``benchmarks/results/<name>.json``.
"""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent


def available():
    """Names of the benchmark scripts (``bench_mlp.py`` -> ``mlp``), sorted."""
    return sorted(path.stem[len("bench_"):] for path in BENCHMARKS.glob("bench_*.py"))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\navailable:", " ".join(available()))
        return 0
    names = []
    while argv and not argv[0].startswith("-"):
        names.append(argv.pop(0))
    unknown = [name for name in names if name not in available()]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: "
              f"{', '.join(available())}", file=sys.stderr)
        return 2
    failed = []
    for name in names or available():
        print(f"=== benchmark {name} ===", flush=True)
        done = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}", *argv],
                              cwd=ROOT)
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
