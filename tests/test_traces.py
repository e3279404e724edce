"""Variables' creation traces: the same as PyTensor's, each line read once."""

import sys

import pytensor.tensor as pt
from pytensor.graph import utils

from blocks import traces

ORIGINAL = traces.simple_extract_stack.original


def test_installed_with_pytensor():
    assert utils.simple_extract_stack is traces.simple_extract_stack


def _nested(depth, extract, **kwargs):
    if depth:
        return _nested(depth - 1, extract, **kwargs)
    return extract(sys._getframe(), **kwargs)


def test_the_same_traces_as_pytensors():
    for kwargs in ({}, {"limit": 3}, {"limit": 0}, {"skips": ["test_traces"]},
                   {"skips": ["no such file"], "limit": 2}):
        for _ in range(2):  # entries read, then kept
            # Both from one line: the traces include this frame.
            ours, theirs = [_nested(4, extract, **kwargs)
                            for extract in (traces.simple_extract_stack, ORIGINAL)]
            assert ours == theirs, kwargs


def test_the_innermost_frames_of_library_files_are_left_out():
    def library_frame():
        return sys._getframe()

    # A frame of a file outside test suites that matches the skips is left out.
    frame = library_frame()
    real = traces._entry
    try:
        traces._entry = lambda f: (("/lib/pytensor/tensor/x.py",) + real(f)[1:]
                                   if f is frame else real(f))
        trace = traces.simple_extract_stack(frame, limit=2, skips=["pytensor/tensor/"])
    finally:
        traces._entry = real
    assert len(trace) == 2
    assert trace[-1][2] == "test_the_innermost_frames_of_library_files_are_left_out"


def test_skipped_files_are_those_matching_outside_test_suites():
    library_file = __file__.replace("tests", "library")
    assert traces._skips(library_file, ("test_traces",))
    # PyTensor never leaves out a test suite's frames.
    assert not traces._skips(__file__, ("test_traces",))
    assert not traces._skips(library_file, ("elsewhere",))


def test_a_variables_trace_names_the_line_that_created_it():
    variable = pt.vector("v") * 2  # the line
    entry = variable.tag.trace[0][-1]
    assert entry[0] == __file__ and entry[3] == 'variable = pt.vector("v") * 2  # the line'
