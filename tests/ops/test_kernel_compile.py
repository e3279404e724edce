"""How our Numba kernels get compiled (blocks.ops.kernel_compile): canonical arguments, the
signature known before the first call, and the helper process that compiles them ahead."""

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pytensor.compile.mode import Mode
from pytensor.link.jax.linker import JAXLinker

import blocks.ops.attention.op as attention_op
import blocks.ops.recurrent.op as recurrent_op
from blocks.config import config
from blocks.ops import kernel_compile
from blocks.ops.kernel_compile import canonical, signature

ROOT = Path(__file__).resolve().parents[2]


def test_canonical_keeps_contiguous_writeable_arrays_and_copies_others():
    a = np.arange(12.0).reshape(3, 4)
    assert canonical(a) is a
    reversed_rows = a[::-1]
    copy = canonical(reversed_rows)
    assert copy.flags.c_contiguous and copy is not reversed_rows
    np.testing.assert_array_equal(copy, reversed_rows)
    read_only = np.arange(4.0)
    read_only.flags.writeable = False
    copy = canonical(read_only)
    assert copy.flags.writeable
    np.testing.assert_array_equal(copy, read_only)
    # One signature for all three: what a kernel is compiled for.
    assert (signature([canonical(a)]) == signature([canonical(reversed_rows)])
            != signature([read_only]))


def test_described_arguments_rebuild_the_same_signature():
    arguments = (np.empty((2, 3), "float32"), True, np.empty((0, 0), "float32"), False, 2,
                 np.ones((4, 2, 3), "float64"))
    described = json.loads(json.dumps(kernel_compile._describe(arguments)))
    assert signature(kernel_compile._rebuild(described)) == signature(arguments)
    with pytest.raises(TypeError, match="cannot describe a kernel argument of type str"):
        kernel_compile._describe(["tanh"])


@pytest.fixture(scope="module")
def tiny_model():
    """benchmarks.compile's `tiny_fused` model (fused simple recurrence both ways, an
    attending GRU, their gradients), compiled, and the inputs to run it on."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.compile import build_tiny_fused
    finally:
        sys.path.remove(str(ROOT))
    compile_, run = build_tiny_fused(False)
    return compile_(), run


def test_requests_have_the_signatures_of_the_calls(tiny_model, monkeypatch):
    """What a node asks to be compiled ahead is what its kernel is called with."""
    function, run = tiny_model
    requested = {}
    for node in function.maker.fgraph.apply_nodes:
        if hasattr(node.op, "kernel_requests"):
            for kernel, arguments in node.op.kernel_requests(node):
                requested.setdefault(kernel, set()).add(signature(arguments))
    called = {}

    def recording_call(kernel, *arguments):
        called.setdefault(kernel, set()).add(signature(arguments))
        return kernel_compile.call(kernel, *arguments)

    monkeypatch.setattr(recurrent_op, "call", recording_call)
    monkeypatch.setattr(attention_op, "call", recording_call)
    run(function)
    names = sorted(kernel.py_func.__name__ for kernel in called)
    assert names == ["attention_gru_backward", "attention_gru_forward", "simple_backward",
                     "simple_forward"]
    assert called == requested


def test_nothing_goes_ahead_under_jax_or_when_switched_off(tiny_model, monkeypatch):
    function, _ = tiny_model
    requests = []
    monkeypatch.setattr(kernel_compile, "prefetch",
                        lambda kernel, arguments: requests.append(kernel))
    kernel_compile.prefetch_graph(function.maker.fgraph, Mode(linker=JAXLinker()))
    assert requests == []
    monkeypatch.setattr(config, "compile_ahead", False)
    kernel_compile.prefetch_graph(function.maker.fgraph, function.maker.mode)
    assert requests == []
    monkeypatch.setattr(config, "compile_ahead", True)
    kernel_compile.prefetch_graph(function.maker.fgraph, function.maker.mode)
    # In the order the function calls them: the forward kernels first.
    names = [kernel.py_func.__name__ for kernel in requests]
    assert len(names) == 6 and len(set(names)) == 4  # both directions call simple_*
    assert max(map(names.index, ("simple_forward", "attention_gru_forward"))) < min(
        map(names.index, ("simple_backward", "attention_gru_backward")))


def _serve_in_thread(messages, expected_answers):
    """Run the helper's loop on a pipe fed with `messages`; its answers."""
    read_end, write_end = os.pipe()
    answers = io.StringIO()
    server = threading.Thread(target=kernel_compile._serve, args=(read_end, answers))
    server.start()
    os.write(write_end, "".join(json.dumps(m) + "\n" for m in messages).encode())
    deadline = time.monotonic() + 120
    while (answers.getvalue().count("\n") < expected_answers
           and time.monotonic() < deadline):
        time.sleep(0.05)
    os.close(write_end)
    server.join(timeout=60)
    os.close(read_end)
    return [json.loads(line) for line in answers.getvalue().splitlines()]


def test_the_helper_answers_errors_and_refuses_other_modules():
    replies = _serve_in_thread([
        {"id": 1, "module": "blocks.ops.no_such_module", "function": "f", "arguments": []},
        {"id": 2, "module": "os", "function": "system", "arguments": []},
        {"id": 3, "module": "blocks.ops.recurrent.kernels", "function": "simple_forward",
         "arguments": [["bool"]]}], expected_answers=6)
    assert [(reply["id"], "started" in reply) for reply in replies] == [
        (1, True), (1, False), (2, True), (2, False), (3, True), (3, False)]
    errors = [reply["error"] for reply in replies if "error" in reply]
    assert "ModuleNotFoundError" in errors[0]
    assert "not a module of blocks.ops" in errors[1]
    assert "TypeError" in errors[2]  # a signature the kernel does not take


def test_the_helper_skips_what_is_taken_back():
    replies = _serve_in_thread([
        {"id": 1, "module": "blocks.ops.no_such_module", "function": "f", "arguments": []},
        {"cancel": 1},
        {"id": 2, "module": "blocks.ops.no_such_module", "function": "g", "arguments": []}],
        expected_answers=2)
    assert [reply["id"] for reply in replies] == [2, 2]


def test_a_helper_that_dies_leaves_the_kernel_to_the_call(monkeypatch):
    """Its request unanswered, the first call compiles the kernel itself."""
    from blocks.ops.recurrent import kernels

    helper = kernel_compile._Helper()
    monkeypatch.setattr(kernel_compile, "_helper", helper)
    monkeypatch.setattr(kernel_compile, "_in_disk_cache", lambda kernel, types: False)
    monkeypatch.setattr(kernel_compile, "_ready", set())  # as if nothing was compiled yet
    rng = np.random.default_rng(0)
    x, h0, W = (rng.standard_normal(shape) for shape in ((3, 2, 4), (2, 4), (4, 4)))
    arguments = (np.empty((0, 0)), False, False, 2, x, h0, W)  # identity activation
    assert helper.request(kernels.simple_forward, arguments)
    helper.process.kill()
    helper.process.wait()
    states, _ = kernel_compile.call(kernels.simple_forward, *arguments)
    expected, h = [], h0
    for x_t in x:
        h = x_t + h @ W
        expected.append(h)
    np.testing.assert_allclose(states, expected, rtol=1e-12)
    assert helper.process is None and helper.pending == {}


_AHEAD_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from numba.core import event
from benchmarks.compile import build_tiny_fused
from blocks.ops import kernel_compile

compiled_here = []


class Listener(event.Listener):
    def on_start(self, e):
        compiled_here.append(e.data["dispatcher"].py_func.__name__)

    def on_end(self, e):
        pass


event.register("numba:compile", Listener())
compile_, run = build_tiny_fused(False)
function = compile_()
requests = [(kernel, kernel_compile.signature(arguments))
            for node in function.maker.fgraph.apply_nodes
            if hasattr(node.op, "kernel_requests")
            for kernel, arguments in node.op.kernel_requests(node)]
cached_before = [kernel_compile._in_disk_cache(*request) for request in requests]
outputs = run(function)
cached_after = [kernel_compile._in_disk_cache(*request) for request in requests]
helper = kernel_compile._helper
print(json.dumps({{"requests": helper.next_id, "compiled_here": compiled_here,
                  "cost": float(outputs), "cached_before": cached_before,
                  "cached_after": cached_after}}))
"""


def _compile_in_fresh_process(cache, ahead):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"),
                       BLOCKS_COMPILE_AHEAD=str(int(ahead)),
                       PYTENSOR_FLAGS=f"base_compiledir={cache / 'pytensor'}")
    done = subprocess.run([sys.executable, "-c", _AHEAD_SCRIPT.format(root=str(ROOT))],
                          env=environment, capture_output=True, text=True, timeout=900,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_cold_process_has_its_kernels_compiled_by_the_helper(tmp_path):
    """On empty caches, the four kernels are compiled in the helper process (but those
    this process compiles while waiting), and the function computes what it computes when
    they compile at their first call."""
    ahead = _compile_in_fresh_process(tmp_path / "ahead", True)
    assert ahead["requests"] == 4
    kernel_names = {"simple_forward", "simple_backward", "attention_gru_forward",
                    "attention_gru_backward"}
    # The helper compiled some (this process may compile the last ones while it waits).
    assert len(kernel_names & set(ahead["compiled_here"])) < 4, ahead["compiled_here"]
    # Compiling the function started the helper on them; then they were in the cache.
    assert ahead["cached_after"] == [True] * 6
    at_first_call = _compile_in_fresh_process(tmp_path / "at_first_call", False)
    assert at_first_call["requests"] == 0
    assert at_first_call["cached_before"] == [False] * 6
    assert at_first_call["cached_after"] == [True] * 6
    assert kernel_names <= set(at_first_call["compiled_here"])
    assert ahead["cost"] == at_first_call["cost"]


_KERNELS_SCRIPT = """
import hashlib
import numpy as np
from blocks.ops.attention import kernels

rng = np.random.default_rng(0)
T, B, D, L, A, M = 10, 8, 32, 10, 64, 32


def r(*shape):
    return (0.5 * rng.standard_normal(shape)).astype("float32")


mask = (rng.random((T, B)) > 0.2).astype("float32")
attended_mask = (rng.random((L, B)) > 0.2).astype("float32")
attended_mask[0] = 1
head = (mask, True, attended_mask, True, False, 0)
parameters = (r(B, D), r(D, D), r(D, 2 * D), r(L, B, A), r(L, B, M), r(D, M), r(M, 1),
              r(A, D), r(A, 2 * D))
outputs = kernels.attention_gru_forward(*head, r(T, B, D), r(T, B, 2 * D), *parameters)
gradients = kernels.attention_gru_backward(*head, *parameters, *outputs, r(T, B, D),
                                           r(T, B, A), r(T, B, L))
digest = hashlib.sha256()
for array in (*outputs, *gradients):
    digest.update(np.ascontiguousarray(array).tobytes())
print(digest.hexdigest())
"""


def test_kernels_loaded_from_the_cache_compute_what_they_computed_compiled(tmp_path):
    """Bit for bit, in a process that compiles the attention GRU's kernels and in one that
    loads them from its cache. With fast-math flags they did not: the cached kernel ran
    other copies of its helpers than the freshly compiled one, rounded otherwise."""
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    digests = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _KERNELS_SCRIPT], env=environment,
                              capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        digests.append(done.stdout.split()[-1])
    assert any(tmp_path.rglob("*.nbi")), "the kernels were not cached"
    assert digests[0] == digests[1]


_SLOW_HELPER = """
import json, sys, time
log = open(sys.argv[1], "a")
for line in sys.stdin:
    message = json.loads(line)
    log.write(line)
    log.flush()
    if message.get("id") == 1:  # compiling the first request takes a while
        print(json.dumps({"id": 1, "started": True}), flush=True)
        time.sleep(1.0)
        print(json.dumps({"id": 1, "error": None}), flush=True)
"""


def test_waiting_for_the_helper_the_call_compiles_a_later_request(tmp_path, monkeypatch):
    """While the helper compiles what the call needs, the call compiles the requests the
    helper has not started, the last first, and takes them back; a request the helper has
    not started when the call needs it, the call compiles."""
    from blocks.ops.recurrent import kernels

    log = tmp_path / "helper.log"
    monkeypatch.setattr(kernel_compile, "HELPER_COMMAND",
                        [sys.executable, "-c", _SLOW_HELPER, str(log)])
    helper = kernel_compile._Helper()
    monkeypatch.setattr(kernel_compile, "_helper", helper)
    monkeypatch.setattr(kernel_compile, "_in_disk_cache", lambda kernel, types: False)
    monkeypatch.setattr(kernel_compile, "_ready", set())
    empty = np.empty((0, 0))
    first = (kernels.simple_forward, (empty, False, False, 0, np.ones((2, 1, 3)),
                                      np.ones((1, 3)), np.ones((3, 3))))
    later = (kernels.lstm_forward, (empty, False, False, 0, np.ones((2, 1, 12)),
                                    np.ones((1, 3)), np.ones((1, 3)), np.ones((3, 12)),
                                    np.ones(3), np.ones(3), np.ones(3)))
    unstarted = (kernels.gru_forward, (empty, False, False, 0, np.ones((2, 1, 3)),
                                       np.ones((2, 1, 6)), np.ones((1, 3)), np.ones((3, 3)),
                                       np.ones((3, 6))))
    for kernel, arguments in (first, unstarted, later):
        assert helper.request(kernel, arguments)
    deadline = time.monotonic() + 120
    while 1 not in helper.started and time.monotonic() < deadline:
        helper._absorb(helper.reader.read(0.1))  # until the helper starts the first one
    first_types = signature(first[1])
    assert helper.wait(first[0], first_types) is None  # the helper compiled it
    later_types = signature(later[1])
    assert (later[0], later_types) in kernel_compile._ready  # compiled here meanwhile
    # Taken back while waiting (if the wait lasted), or now that it is needed.
    assert helper.wait(unstarted[0], signature(unstarted[1])) in (
        None, "not started by the helper")
    helper.stop()
    received = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"cancel": 3} in received and {"cancel": 2} in received
