"""What the JAX parity tests of the op families share: compiling one graph under JAX and
under the reference mode, comparing the results, and looking into the compiled JAX
program.

:func:`assert_jax_matches_numba` compiles outputs and the gradients of a non-linear
function of them for the Numba mode and for JAX (as the library compiles for JAX, by
:func:`blocks.backend.function`, once per input shape), JAX computing in float64 where
the graph has a float64 input or output, and compares every result within the tolerance
of its dtype.
"""

import contextlib

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks import backend

jax = pytest.importorskip("jax")
# Importing PyTensor's JAX dispatch sets JAX's 64-bit flag from floatX; import it first, so
# that the fixture below has the last word.
import pytensor.link.jax.dispatch  # noqa: E402, F401

#: The tolerances, relative and absolute, of a JAX result against the reference.
TOLERANCE = {"float64": 1e-6, "float32": 1e-4}


@pytest.fixture(autouse=True, scope="module")
def jax_float64():
    """JAX computes in float64 where the graph does (it would compute in float32)."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def ragged_mask(lengths, n_steps, dtype):
    """A (time, batch) mask of ones for the first `lengths[b]` steps of example b."""
    return (np.arange(n_steps)[:, None] < np.asarray(lengths)[None, :]).astype(dtype)


def compile_both(inputs, outputs):
    """The function of `outputs` compiled under JAX, and under FAST_COMPILE (our ops' Numba
    kernels, called from Python)."""
    return [pytensor.function(inputs, outputs, mode=mode, on_unused_input="ignore")
            for mode in ("JAX", "FAST_COMPILE")]


def assert_jax_equals_reference(inputs, outputs, values, dtype, check_dtypes=True):
    """Compile `outputs` both ways, check that the results agree, and return the JAX
    function.

    With `check_dtypes`, the JAX results must have the dtypes of the outputs. (PyTensor
    3.0.7's JAX sums return their accumulator's dtype, float64 for a float32 sum, when
    JAX computes in 64 bits: graphs that sum float32 values do not pass that check.)
    """
    jax_function, reference = compile_both(inputs, outputs)
    results, expected = jax_function(*values), reference(*values)
    assert len(results) == len(expected) == len(outputs)
    tolerance = TOLERANCE[dtype]
    for output, result, reference_result in zip(outputs, results, expected):
        assert not check_dtypes or np.asarray(result).dtype == output.dtype, output
        np.testing.assert_allclose(result, reference_result, rtol=tolerance, atol=tolerance,
                                   err_msg=str(output))
    return jax_function


def jax_program(function, values):
    """The jaxpr of a function compiled under JAX, as text, for the inputs `values` (the
    values of its shared variables are added)."""
    shared = [container.storage[0] for container in function.input_storage[len(values):]]
    return str(jax.make_jaxpr(function.vm.jit_fn)(*values, *shared))


def assert_runs_in_jax(function, values, op_types):
    """The compiled graph holds our ops, and JAX runs it whole: a loop, no callback into
    Python."""
    names = {type(node.op) for node in function.maker.fgraph.apply_nodes}
    assert set(op_types) <= names, names
    program = jax_program(function, values)
    assert "scan" in program
    assert "callback" not in program


@contextlib.contextmanager
def _jax_precision(x64):
    """JAX computing in float64 (`x64`) or, as it comes, in float32 at most.

    Float32 graphs run without float64, as under ``floatX=float32``: with float64 on,
    PyTensor's JAX ``Sum`` returns its float64 accumulator uncast (the softmax gradient's).
    (PyTensor sets the flag from ``floatX`` when it loads its JAX backend, loaded above.)
    """
    previous = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", x64)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _cost(outputs):
    # A non-linear function of each entry, so that every entry gets a gradient of its own.
    return pt.add(*[(out * pt.cos(out + k)).sum()
                    for k, out in enumerate(outputs) if out.dtype.startswith("float")])


def assert_jax_matches_numba(inputs, outputs, values, wrt=None, ops_expected=()):
    """Outputs, and gradients with respect to `wrt` (the float inputs by default), agree.

    Parameters
    ----------
    inputs, outputs : lists of variables
    values : list of arrays, one per input
    wrt : list of variables, optional
    ops_expected : tuple of Op classes
        Each must appear in the graph compiled for JAX (so the test exercises them).
    """
    if wrt is None:
        wrt = [i for i in inputs if i.dtype.startswith("float")]
    results = list(outputs)
    if wrt:
        results += pytensor.grad(_cost(outputs), wrt)
    numba = pytensor.function(inputs, results, mode="NUMBA")
    # As the library compiles for JAX: once per input shape (XLA needs static shapes).
    jax_fn = backend.function(inputs, results, mode="JAX")
    x64 = any(v.dtype == "float64" for v in list(inputs) + list(outputs))
    with _jax_precision(x64):
        got = jax_fn(*values)
    expected = numba(*values)
    compiled = {type(node.op) for node in jax_fn.maker.fgraph.apply_nodes}
    for op in ops_expected:
        assert op in compiled, f"{op.__name__} is not in the graph compiled for JAX"
    names = [f"output {i}" for i in range(len(outputs))] + [f"gradient wrt {v}" for v in wrt]
    for name, e, g in zip(names, expected, got):
        g = np.asarray(g)
        assert g.shape == e.shape, f"{name}: shape {g.shape}, expected {e.shape}"
        assert g.dtype == e.dtype, f"{name}: dtype {g.dtype}, expected {e.dtype}"
        tol = TOLERANCE.get(str(e.dtype), 0)
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=name)
    return expected
