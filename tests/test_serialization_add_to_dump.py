"""Blocks' add_to_dump, dump_and_add_to_dump and load(file, name)."""

import io
import os

import numpy as np
import pytest

from blocks.bricks import MLP, Tanh
from blocks.initialization import Constant, IsotropicGaussian
from blocks.serialization import (
    BRICK_DELIMITER,
    add_to_dump,
    dump,
    dump_and_add_to_dump,
    load,
    load_parameters,
    secure_dump,
)
from blocks.utils import shared_floatx


def make_mlp():
    mlp = MLP([Tanh(), Tanh()], [2, 3, 2], weights_init=IsotropicGaussian(0.1),
              biases_init=Constant(0.5))
    mlp.initialize()
    return mlp


def parameters_of(mlp):
    return [parameter for linear in mlp.linear_transformations
            for parameter in linear.parameters]


def test_brick_delimiter_is_the_one_of_parameter_names():
    mlp = make_mlp()
    file_ = io.BytesIO()
    dump(None, file_, parameters=parameters_of(mlp))
    names = list(load_parameters(file_))
    assert all(name.startswith(BRICK_DELIMITER + "mlp" + BRICK_DELIMITER) for name in names)


def test_add_to_dump_and_load_by_name(tmp_path):
    mlp = make_mlp()
    path = tmp_path / "model.tar"
    with open(path, "wb") as file_:
        dump(mlp, file_, parameters=parameters_of(mlp))
    linear = mlp.linear_transformations[0]
    with open(path, "r+b") as file_:
        add_to_dump(linear, file_, "first", parameters=linear.parameters)
        add_to_dump({"epochs": 3}, file_, "info")
    # Several objects read from one open file, in any order.
    with open(path, "rb") as file_:
        info = load(file_, "info")
        first = load(file_, "first")
        whole = load(file_)
    assert info == {"epochs": 3}
    np.testing.assert_array_equal(first.W.get_value(), linear.W.get_value())
    np.testing.assert_array_equal(whole.linear_transformations[0].W.get_value(),
                                  linear.W.get_value())
    # A path works as well as a file object.
    assert load(os.fspath(path), "info") == {"epochs": 3}


def test_added_objects_refer_to_the_stored_parameters():
    big = shared_floatx(np.arange(100_000.0), name="big")
    file_ = io.BytesIO()
    dump(None, file_, parameters={"big": big})
    size = len(file_.getvalue())
    add_to_dump([big, big], file_, "shared", parameters={"big": big})
    # The 800 kB value is stored once; the added pickle refers to it.
    assert len(file_.getvalue()) - size < 100_000
    add_to_dump(big, file_, "copied")
    assert len(file_.getvalue()) - size > 400_000
    restored = load(file_, "shared")
    assert restored[0] is restored[1]
    np.testing.assert_array_equal(restored[0].get_value(), np.arange(100_000.0))


def test_add_to_dump_errors():
    mlp = make_mlp()
    file_ = io.BytesIO()
    dump(mlp, file_, parameters=mlp.linear_transformations[0].parameters)
    with pytest.raises(ValueError, match="reserved names"):
        add_to_dump(1, file_, "_pkl")
    with pytest.raises(ValueError, match="reserved names"):
        add_to_dump(1, file_, "_parameters")
    other = mlp.linear_transformations[1].parameters
    with pytest.raises(ValueError, match="set of parameters is different.*linear_1"):
        add_to_dump(mlp.linear_transformations[1], file_, "second", parameters=other)
    add_to_dump(1, file_, "one")
    with pytest.raises(ValueError, match="already holds an object named 'one'"):
        add_to_dump(2, file_, "one")
    assert load(file_, "one") == 1


def test_dump_and_add_to_dump_through_secure_dump(tmp_path):
    mlp = make_mlp()
    path = tmp_path / "checkpoint.tar"
    secure_dump(mlp, path, dump_function=dump_and_add_to_dump, parameters=parameters_of(mlp),
                to_add={"log": ["row"], "bricks": mlp.children})
    loaded = load(path)
    assert load(path, "log") == ["row"]
    children = load(path, "bricks")
    assert [child.name for child in children] == [child.name for child in mlp.children]
    for original, restored in zip(parameters_of(mlp), parameters_of(loaded)):
        np.testing.assert_array_equal(original.get_value(), restored.get_value())
    assert sorted(load_parameters(path)) == sorted(
        "/mlp/" + name for name in ("linear_0.W", "linear_0.b", "linear_1.W", "linear_1.b"))
