"""What the JAX parity tests of the op families share: compiling one graph under JAX and
under the reference mode, comparing the results, and looking into the compiled JAX
program."""

import numpy as np
import pytensor
import pytest

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
