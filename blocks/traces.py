"""PyTensor's creation traces (``variable.tag.trace``), each line of code read once.

Every variable PyTensor creates records where it was created: up to
``config.traceback__limit`` frames of the stack, each with its line of source read
through ``linecache`` (``pytensor.graph.utils.simple_extract_stack``). The same few lines
create variable after variable (a brick applied to each parameter, a step rule, the
gradient), and this was the largest item of its own in a profile of the seq2seq warm
start: 3,600 traces of 14 frames each. :func:`install` (run once
``pytensor.graph.utils`` is imported after ``import blocks``) replaces it by
:func:`simple_extract_stack`, which gives the same traces and keeps each frame's entry
(file, line number, function, stripped line) for the next time that line creates a
variable. Like PyTensor's, it never checks whether a file changed on disk.
"""

import linecache
import sys

__all__ = ["install", "simple_extract_stack"]

#: (file name, line number, function name) -> the entry of a trace for that frame.
_entries = {}

#: (file name, parts of paths to leave out) -> whether that file's frames are left out.
_skipped = {}


def _entry(frame):
    code = frame.f_code
    key = (code.co_filename, frame.f_lineno, code.co_name)
    entry = _entries.get(key)
    if entry is None:
        line = linecache.getline(key[0], key[1], frame.f_globals)
        entry = _entries[key] = (key[0], key[1], key[2], line.strip() if line else None)
    return entry


def _skips(filename, skips):
    key = (filename, skips)
    skipped = _skipped.get(key)
    if skipped is None:
        # As PyTensor's: the frames of a test suite are never left out.
        skipped = _skipped[key] = any(
            part in filename and "tests" not in filename for part in skips)
    return skipped


def simple_extract_stack(f=None, limit=None, skips=None):
    """The stack from frame `f` (the caller's by default) outwards, as PyTensor's
    function of that name gives it: at most `limit` entries ``(file, line number,
    function, line)``, outermost first, without the innermost frames whose files match
    `skips`."""
    skips = tuple(skips or ())
    if f is None:
        f = sys._getframe().f_back
    if limit is None:
        limit = getattr(sys, "tracebacklimit", None)
    trace = []
    while f is not None and (limit is None or len(trace) < limit):
        entry = _entry(f)
        f = f.f_back
        # Only the innermost frames are left out: the first one kept ends the skipping.
        if not trace and skips and _skips(entry[0], skips):
            continue
        trace.append(entry)
    trace.reverse()
    return trace


def install():
    """Put :func:`simple_extract_stack` in ``pytensor.graph.utils`` (idempotent)."""
    from pytensor.graph import utils

    if utils.simple_extract_stack is not simple_extract_stack:
        simple_extract_stack.original = utils.simple_extract_stack
        utils.simple_extract_stack = simple_extract_stack
