"""after_import, and what blocks registers with PyTensor through it."""

import subprocess
import sys

from blocks.import_hooks import after_import


def test_callback_runs_after_a_later_import(tmp_path, monkeypatch):
    (tmp_path / "late_module_for_hooks.py").write_text("VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    after_import("late_module_for_hooks",
                 lambda: seen.append(sys.modules["late_module_for_hooks"].VALUE))
    assert seen == []
    import late_module_for_hooks  # noqa: F401

    assert seen == [3]


def test_callback_runs_at_once_for_an_imported_module():
    seen = []
    after_import("json", lambda: seen.append(True))
    assert seen == [True]


def test_importing_blocks_then_pytensor_registers_the_rewrites_and_ops():
    code = (
        "import sys, blocks; assert 'pytensor' not in sys.modules\n"
        "import numpy as np, pytensor, pytensor.tensor as pt\n"
        "x = pt.matrix('x')\n"
        "f = pytensor.function([x], x @ x, mode='NUMBA')\n"
        "print([type(n.op).__name__ for n in f.maker.fgraph.toposort()])\n"
        "print('numba' in sys.modules, 'jax' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out == ["['BlasDot']", "True False"]
