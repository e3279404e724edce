"""blocks.utils as Blocks lays it out: utils.utils, utils.theano_utils, lazy imports."""

import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import blocks.utils
from blocks.bricks import MLP, Linear, Sequence, Tanh
from blocks.utils import (
    change_recursion_limit,
    extract_args,
    find_bricks,
    is_graph_input,
    print_shape,
    put_hook,
    reraise_as,
    shared_floatx,
    shared_floatx_zeros_matching,
    unpack,
)


def test_import_blocks_utils_does_not_import_pytensor():
    code = ("import sys; import blocks.utils; from blocks.utils import pack, reraise_as, "
            "find_bricks; import blocks.utils.utils, blocks.config; "
            "print('pytensor' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    # Asking for a PyTensor helper imports it.
    code = "import sys; from blocks.utils import shared_floatx; print('pytensor' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "True", result.stderr


def test_lazy_names_and_errors():
    assert set(blocks.utils.__all__) >= {"pack", "reraise_as", "find_bricks", "shared_like",
                                         "put_hook", "RNGStream"}
    assert "shared_floatx" in dir(blocks.utils)
    from blocks.utils.theano_utils import shared_floatx as from_submodule
    assert blocks.utils.shared_floatx is from_submodule
    assert blocks.utils.containers.AnnotatingList.__name__ == "AnnotatingList"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = blocks.utils.nope


def _raise_key_error():
    return {}["weights"]


def test_reraise_as_keeps_message_type_cause_and_traceback():
    with pytest.raises(ValueError) as info:
        try:
            _raise_key_error()
        except KeyError:
            reraise_as(ValueError("no weights in the file"))
    error = info.value
    assert str(error) == "no weights in the file\n\nOriginal exception:\n    KeyError: weights"
    assert isinstance(error.__cause__, KeyError)
    frames = [entry.name for entry in info.traceback]
    assert "_raise_key_error" in frames


def test_reraise_as_string_and_twice():
    with pytest.raises(KeyError) as info:
        try:
            try:
                _raise_key_error()
            except KeyError:
                reraise_as("first")
        except KeyError:
            reraise_as("second")
    message = info.value.args[0]
    assert message.startswith("second\n\nOriginal exception:\n    KeyError: first")
    assert message.endswith("KeyError: weights")
    with pytest.raises(RuntimeError, match="while an exception is handled"):
        reraise_as("nothing to reraise")


def test_unpack_turns_tuples_into_lists():
    assert unpack((1,)) == 1 and unpack((1, 2)) == [1, 2] and unpack(3) == 3
    with pytest.raises(ValueError, match="singleton"):
        unpack([1, 2], singleton=True)


def test_extract_args():
    assert list(extract_args(["x", "y"], 1, y=2).items()) == [("x", 1), ("y", 2)]
    with pytest.raises(KeyError, match="invalid input name"):
        extract_args(["x"], z=1)
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        extract_args(["x"], 1, x=2)
    with pytest.raises(ValueError, match=r"missing values for inputs: \['y'\]"):
        extract_args(["x", "y"], 1)
    with pytest.raises(TypeError, match="at most 1"):
        extract_args(["x"], 1, 2)


def test_change_recursion_limit_restores_even_on_error():
    before = sys.getrecursionlimit()
    with pytest.raises(ZeroDivisionError):
        with change_recursion_limit(before + 500):
            assert sys.getrecursionlimit() == before + 500
            _ = 1 / 0
    assert sys.getrecursionlimit() == before
    with change_recursion_limit(10):  # never lowers the limit
        assert sys.getrecursionlimit() == before


def test_find_bricks():
    mlp = MLP([Tanh(), Tanh()], [2, 3, 4])
    linears = mlp.linear_transformations
    assert find_bricks([mlp], lambda brick: isinstance(brick, MLP)) == [mlp]
    assert find_bricks([mlp, mlp], lambda brick: isinstance(brick, MLP)) == [mlp]
    found = find_bricks([mlp, mlp] + list(mlp.children), lambda brick: isinstance(brick, Linear))
    assert found == linears
    assert find_bricks([mlp], lambda brick: False) == []
    # Breadth first: the MLP, then its children (an MLP is a Sequence).
    assert set(find_bricks([mlp], lambda brick: isinstance(brick, Sequence))) == {mlp}
    tanhs = find_bricks([mlp], lambda brick: isinstance(brick, Tanh))
    assert [brick.name for brick in tanhs] == [brick.name for brick in mlp.activations]


def test_put_hook_sees_every_value(capsys):
    x = pt.matrix("x")
    values = []
    y = put_hook(x, lambda value, scale: values.append(value * scale), 10)
    f = pytensor.function([x], (2 * y).sum())
    assert f(np.ones((2, 3), dtype=pytensor.config.floatX)) == 12
    np.testing.assert_array_equal(values[0], np.full((2, 3), 10.0))
    g = pytensor.function([x], put_hook(x, print_shape, "x"))
    g(np.ones((2, 3), dtype=pytensor.config.floatX))
    assert capsys.readouterr().out == "x: (2, 3)\n"


def test_graph_inputs_and_matching_zeros():
    x = pt.vector("x")
    w = shared_floatx(np.ones((2, 5)), name="w")
    assert is_graph_input(x) and not is_graph_input(w) and not is_graph_input(x + 1)
    buffer = shared_floatx_zeros_matching(w, name="buffer")
    assert buffer.get_value().shape == (2, 5) and not buffer.get_value().any()
    assert buffer.name == "buffer"
    with pytest.raises(TypeError, match="expected a shared variable"):
        shared_floatx_zeros_matching(x)
