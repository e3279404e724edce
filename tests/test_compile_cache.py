"""A model holding our fused ops compiles once per machine (issue 20): two processes
compiling it at once on empty caches both succeed, and a later process on the caches they
filled compiles nothing, adds no file, and computes bit for bit what they computed.

The processes are ``benchmarks.compile``'s (model ``tiny_fused``: a masked bidirectional
``SimpleRecurrent`` and an attending ``GatedRecurrent``, both fused, with their gradients
and an SGD update), on caches in a temporary directory. What is checked is what Numba
compiled, which files appeared and what the second call returned, never how long it
took.
"""

import threading

import pytest

from benchmarks.compile import run_process

MODEL = "tiny_fused"
TIMEOUT = 1200


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """A fresh cache directory, and the figures (or the error) of two processes that
    compiled the model in it at the same time."""
    cache = tmp_path_factory.mktemp("compile-cache")
    outcomes = [None, None]

    def compile_in_process(index):
        try:
            outcomes[index] = run_process(MODEL, False, cache, TIMEOUT)
        except Exception as error:  # the test reports it
            outcomes[index] = error

    threads = [threading.Thread(target=compile_in_process, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return cache, outcomes


def test_two_processes_compiling_at_once_both_succeed(shared_cache):
    _, outcomes = shared_cache
    for outcome in outcomes:
        assert isinstance(outcome, dict), outcome
        assert outcome["numba_compilations"], "a cold process compiled nothing?"
    files = set().union(*(outcome["new_files"] for outcome in outcomes))
    assert any(name.startswith("numba/") for name in files), \
        "our kernels were not cached in NUMBA_CACHE_DIR"
    assert any(name.startswith("pytensor/") for name in files)


def test_a_later_process_compiles_nothing_and_adds_no_file(shared_cache):
    cache, outcomes = shared_cache
    if not all(isinstance(outcome, dict) for outcome in outcomes):
        pytest.skip("the cold processes failed (see the test above)")
    warm = run_process(MODEL, False, cache, TIMEOUT)
    assert warm["numba_compilations"] == []
    assert warm["new_files"] == []
    # Bit for bit what the cold processes computed: code loaded from the caches is the
    # code they compiled (not another copy of a function, optimized otherwise).
    assert warm["result"] is not None
    assert warm["result"] == outcomes[0]["result"] == outcomes[1]["result"]
