"""How the Numba kernels of the fused ops get compiled: for one signature per dtype, at
optimization level 2, and ahead of their first call, in a helper process.

A fused op's kernel (:mod:`blocks.ops.recurrent.kernels`,
:mod:`blocks.ops.attention.kernels`) compiles at its first call, and on empty caches that
is most of a first training step: the four kernels of an attention encoder-decoder take
about 20 s of one core. This module cuts that wait three ways.

- **One signature.** :func:`call` passes the kernels C-contiguous, writeable arrays
  (:func:`canonical`), so a kernel compiles once per dtype, not once more for a reversed
  view or a read-only constant, and the signature is known before the call.
- **Level 2.** The kernels compile with LLVM at ``-O2`` rather than Numba's default 3: a
  tenth less compile time, the same speed (their loops vectorize at 2, their products are
  BLAS calls). A kernel's arithmetic is IEEE (no fast-math flags), so the level changes no
  result, and the disk cache, whose key ignores the level, stays exact.
- **Ahead.** When PyTensor prepares a graph for compilation (before its rewrites),
  :func:`prefetch_graph` asks each of our ops for the kernels its node will call
  (``op.kernel_requests(node)``) and hands those that are not in Numba's disk cache to a
  helper process (``python -m blocks.ops.kernel_compile``), which compiles them into that
  cache while this process rewrites the graph and compiles the rest. The first call waits
  for its kernel there, then loads it from the cache. On two cores an encoder-decoder's
  first step is ready seconds sooner; the total work is the same. Without a disk cache
  (``NUMBA_DISABLE_CACHE`` ...), under the JAX backend, or with
  ``blocks.config.compile_ahead`` off (``BLOCKS_COMPILE_AHEAD=0``), nothing goes ahead and
  the kernels compile at their first call, as before.

The helper compiles what it is asked, in order, and answers each request; if it fails or
dies, the call compiles the kernel itself. It is stopped when this process exits.
"""

import atexit
import importlib
import json
import os
import select
import subprocess
import sys
import threading
from contextlib import contextmanager

import numpy as np

from blocks.config import config

__all__ = ["OPT_LEVEL", "canonical", "signature", "call", "prefetch", "prefetch_graph",
           "shutdown"]

#: LLVM's optimization level for the kernels (Numba's default is 3).
OPT_LEVEL = 2

#: Seconds a first call waits for the helper process before compiling the kernel itself.
WAIT_TIMEOUT = 900

#: The helper process.
HELPER_COMMAND = [sys.executable, "-m", "blocks.ops.kernel_compile"]


def canonical(array):
    """`array` as the kernels are compiled for: C-contiguous, writeable and aligned (a
    copy when it is not).

    Numba compiles a function for each layout and write flag of its arguments: a reversed
    view or a read-only constant would compile a kernel a second time.
    """
    flags = array.flags
    if flags.c_contiguous and flags.writeable and flags.aligned:
        return array
    return np.array(array, order="C")


def signature(arguments):
    """The Numba types of a kernel's `arguments`: the signature it is compiled for."""
    from numba import typeof

    return tuple(typeof(argument) for argument in arguments)


@contextmanager
def _optimization_level(level):
    """Numba compiles at LLVM level `level` (or lower, if NUMBA_OPT asks) inside."""
    from numba.core import config as numba_config
    from numba.core.compiler_lock import global_compiler_lock

    # Holding the compiler lock: no other thread compiles at this level meanwhile.
    with global_compiler_lock:
        saved = numba_config.OPT
        if not saved.is_opt_max and saved > level:
            numba_config.OPT = type(saved)(level)
        try:
            yield
        finally:
            numba_config.OPT = saved


#: (kernel, signature) pairs compiled or loaded in this process.
_ready = set()


def _compile_here(kernel, types):
    """Compile `kernel` for `types` in this process, or load it from Numba's disk cache."""
    with _optimization_level(OPT_LEVEL):
        kernel.compile(types)
    _ready.add((kernel, types))


def _compile(kernel, types):
    """Compile `kernel` for `types`, from Numba's disk cache where it is there (waiting
    first for the helper process if it is compiling it)."""
    _helper.wait(kernel, types)
    _compile_here(kernel, types)


def call(kernel, *arguments):
    """``kernel(*arguments)``, the kernel compiled first as this module describes.

    The arrays among `arguments` must be :func:`canonical` already.
    """
    key = (kernel, signature(arguments))
    if key not in _ready:
        _compile(kernel, key[1])
    return kernel(*arguments)


def _describe(arguments):
    """What the helper process needs to rebuild `arguments`' types: ``["array", dtype,
    ndim]``, ``["bool"]`` or ``["int"]`` each."""
    described = []
    for argument in arguments:
        if isinstance(argument, np.ndarray):
            described.append(["array", argument.dtype.str, argument.ndim])
        elif isinstance(argument, (bool, np.bool_)):
            described.append(["bool"])
        elif isinstance(argument, int):
            described.append(["int"])
        else:
            raise TypeError(f"kernel_compile: cannot describe a kernel argument of type "
                            f"{type(argument).__name__}")
    return described


def _rebuild(described):
    """Arguments of the types `described` (empty arrays, False, 0)."""
    values = {"bool": False, "int": 0}
    return [np.empty((0,) * spec[2], dtype=np.dtype(spec[1])) if spec[0] == "array"
            else values[spec[0]] for spec in described]


def _in_disk_cache(kernel, types):
    """Whether Numba's disk cache holds `kernel` for `types`; None when that cannot be
    told: the kernel has no disk cache (nothing compiled elsewhere would reach this
    process), or this Numba keeps it otherwise."""
    cache = getattr(kernel, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    if cache_file is None or not hasattr(cache, "_index_key"):
        return None
    try:
        key = cache._index_key(types, kernel.targetctx.codegen())
        return key in cache_file._load_index()
    except Exception:  # an unreadable index; the first call will find out
        return None


class _Lines:
    """JSON messages, one per line, read from a file descriptor without blocking unless
    asked to wait."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""
        self.closed = False

    def read(self, timeout):
        """The messages there now (`timeout` 0), or the first ones to come within
        `timeout` seconds (None: however long); `closed` is set at end of file."""
        lines = []
        while not self.closed:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                break
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.closed = True
                break
            *complete, self.buffer = (self.buffer + chunk).split(b"\n")
            lines += [line for line in complete if line.strip()]
            if lines:
                timeout = 0  # then only what is there already
        return [json.loads(line) for line in lines]


class _Helper:
    """The helper process, its requests and their answers.

    The helper compiles requests in order and says when it starts one. A first call that
    needs a kernel the helper has not started compiles it itself; one that waits for a
    kernel the helper is compiling compiles meanwhile the last request the helper has not
    started. Either way the helper is told to drop that request.
    """

    def __init__(self):
        self.lock = threading.RLock()
        self._forget()

    def _forget(self):
        self.process = None
        self.reader = None
        self.owner = None  # the pid that started it (a forked child must not use it)
        self.pending = {}  # (kernel, types) -> request id
        self.keys = {}  # request id -> (kernel, types)
        self.started = set()
        self.answered = {}  # request id -> error message or None
        self.next_id = 0

    def _forget_if_forked(self):
        """A helper inherited through fork belongs to the parent: this process has none."""
        if self.process is not None and self.owner != os.getpid():
            self._forget()

    def _send(self, message):
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
            return True
        except OSError:
            return False

    def _absorb(self, messages):
        for message in messages:
            if message.get("started"):
                self.started.add(message["id"])
            else:
                self.answered[message["id"]] = message["error"]

    def request(self, kernel, arguments):
        types = signature(arguments)
        key = (kernel, types)
        with self.lock:
            self._forget_if_forked()
            if key in _ready or key in self.pending:
                return False
            if _in_disk_cache(kernel, types) is not False:
                return False
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(
                    HELPER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, bufsize=0)
                self.reader = _Lines(self.process.stdout.fileno())
                self.owner = os.getpid()
            self.next_id += 1
            if not self._send({"id": self.next_id, "module": kernel.py_func.__module__,
                               "function": kernel.py_func.__name__,
                               "arguments": _describe(arguments)}):
                return False
            self.pending[key] = self.next_id
            self.keys[self.next_id] = key
            return True

    def _take_back(self, request):
        """Drop `request` from the helper's work: this process compiles it."""
        self.pending.pop(self.keys[request], None)
        self._send({"cancel": request})

    def _last_not_started(self):
        waiting = [request for request in self.pending.values()
                   if request not in self.started and request not in self.answered]
        return max(waiting, default=None)

    def wait(self, kernel, types):
        """Until the helper has compiled (kernel, types), if it was asked to: None, or why
        the caller must compile it."""
        with self.lock:
            self._forget_if_forked()
            request = self.pending.get((kernel, types))
            if request is None:
                return None
            while request not in self.answered:
                if self.process is None:
                    return "the helper process was stopped"
                self._absorb(self.reader.read(0))
                if request in self.answered:
                    break
                if self.reader.closed:  # it died before answering
                    self.stop()
                    return "the helper process ended"
                if request not in self.started:
                    self._take_back(request)
                    return "not started by the helper"
                later = self._last_not_started()
                if later is not None:
                    self._take_back(later)
                    _compile_here(*self.keys[later])
                    continue
                # A helper that died has answered what it wrote before: read up to EOF.
                messages = self.reader.read(WAIT_TIMEOUT)
                if not messages:  # it died, or is stuck: the caller compiles the kernel
                    self.stop()
                    return "no answer from the helper process"
                self._absorb(messages)
            self.pending.pop((kernel, types), None)
            return self.answered.pop(request)

    def stop(self):
        with self.lock:
            process, owner = self.process, self.owner
            self._forget()
            if process is None or owner != os.getpid():
                return
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                # Done, it exits at once; busy, its unfinished kernel is not needed.
                # Numba writes cache files whole (a temporary file renamed).
                process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_helper = _Helper()
atexit.register(_helper.stop)


def prefetch(kernel, arguments):
    """Have the helper process compile `kernel` for the types of `arguments` into Numba's
    disk cache, unless it is there already, compiled in this process, or compiling
    ahead is off. Whether a request was sent."""
    # On Windows, select() does not take pipes.
    if not config.compile_ahead or os.name == "nt":
        return False
    return _helper.request(kernel, arguments)


def prefetch_graph(fgraph, mode):
    """:func:`prefetch` the kernels of the fused ops in `fgraph`, to be compiled with
    `mode` (nothing under the JAX backend, whose ops call no Numba kernel)."""
    if not config.compile_ahead:
        return
    linker = getattr(mode, "linker", None)
    if "jax" in type(linker).__name__.lower():
        return
    if not any(hasattr(node.op, "kernel_requests") for node in fgraph.apply_nodes):
        return
    # In the order the function will call them.
    for node in fgraph.toposort():
        requests = getattr(node.op, "kernel_requests", None)
        if requests is not None:
            for kernel, arguments in requests(node):
                prefetch(kernel, arguments)


def shutdown():
    """Stop the helper process (it is stopped at exit anyway)."""
    _helper.stop()


def _serve(requests, answers):
    """The helper process: compile the kernels requested on the file descriptor
    `requests`, in order, into Numba's disk cache, saying on `answers` when it starts one
    and how it went; skip those the requester takes back (``{"cancel": id}``)."""
    lines = _Lines(requests)
    queue, taken_back = [], set()

    def answer(message):
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    while True:
        for message in lines.read(0 if queue else None):
            if "cancel" in message:
                taken_back.add(message["cancel"])
            else:
                queue.append(message)
        if lines.closed:  # the requester is gone: nobody waits for the rest
            return
        if not queue:
            continue
        message = queue.pop(0)
        if message["id"] in taken_back:
            continue
        answer({"id": message["id"], "started": True})
        error = None
        try:
            if not message["module"].startswith("blocks.ops."):
                raise ValueError(f"not a module of blocks.ops: {message['module']}")
            kernel = getattr(importlib.import_module(message["module"]), message["function"])
            _compile_here(kernel, signature(_rebuild(message["arguments"])))
        except Exception as failure:  # the caller compiles the kernel and sees the error
            error = f"{type(failure).__name__}: {failure}"
        answer({"id": message["id"], "error": error})


if __name__ == "__main__":
    # `python -m` imported blocks.ops first: its versioned cache locators are in place
    # before any kernel is defined.
    _serve(sys.stdin.fileno(), sys.stdout)
