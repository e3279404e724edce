from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.utils import (
    check_theano_variable,
    check_variable,
    dict_subset,
    dict_union,
    is_shared_variable,
    pack,
    repr_attrs,
    shared_floatx,
    shared_floatx_nans,
    shared_floatx_zeros,
    shared_like,
    unpack,
)

floatX = pytensor.config.floatX


def test_shared_floatx():
    value = np.array([[1, 2], [3, 4]], dtype="int32")
    shared = shared_floatx(value, name="s")
    assert shared.name == "s" and shared.dtype == floatX
    np.testing.assert_array_equal(shared.get_value(), value)
    # The shared variable holds a copy.
    value[0, 0] = 10
    assert shared.get_value()[0, 0] == 1
    assert shared_floatx([1.5], dtype="float32").dtype == "float32"
    assert shared_floatx(3).get_value().shape == ()


def test_shared_floatx_zeros_and_nans():
    zeros = shared_floatx_zeros((2, 3), name="z")
    assert zeros.name == "z" and zeros.dtype == floatX
    np.testing.assert_array_equal(zeros.get_value(), np.zeros((2, 3)))
    nans = shared_floatx_nans((4,), dtype="float32")
    assert nans.dtype == "float32" and np.isnan(nans.get_value()).all()
    assert nans.get_value().shape == (4,)


def test_shared_like():
    x = pt.tensor3("x", dtype="int32")
    shared = shared_like(x)
    assert shared.name == "shared_x" and shared.ndim == 3 and shared.dtype == "int32"
    assert shared.get_value().size == 0
    assert shared_like(pt.vector(), name="named").name == "named"
    assert shared_like(pt.vector()).name is None
    assert shared_like(np.zeros((2, 2), dtype="float32")).dtype == "float32"


def test_is_shared_variable():
    assert is_shared_variable(shared_floatx_zeros(2))
    assert not is_shared_variable(pt.vector())
    assert not is_shared_variable(pt.constant(1.0))
    assert not is_shared_variable(np.zeros(2))


def test_pack_and_unpack():
    assert pack(1) == [1]
    assert pack((1, 2)) == [1, 2] and pack([3]) == [3]
    assert pack("ab") == ["ab"]
    packed = [1, 2]
    assert pack(packed) is not packed
    assert unpack([1]) == 1 and unpack((1,)) == 1
    assert unpack([1, 2]) == [1, 2] and unpack(5) == 5 and unpack([]) == []
    assert unpack([7], singleton=True) == 7
    with pytest.raises(ValueError, match="expected a single element, got 2"):
        unpack([1, 2], singleton=True)
    with pytest.raises(ValueError, match="got 0"):
        unpack([], singleton=True)


def test_dict_union():
    result = dict_union({"a": 1}, OrderedDict([("c", 3), ("b", 2)]), d=4)
    assert isinstance(result, OrderedDict)
    assert list(result.items()) == [("a", 1), ("c", 3), ("b", 2), ("d", 4)]
    assert dict_union() == OrderedDict()
    with pytest.raises(ValueError, match="keys present in several dictionaries: {'a'}"):
        dict_union({"a": 1}, {"a": 2})
    with pytest.raises(ValueError, match="'b'"):
        dict_union({"b": 1}, b=2)


def test_dict_subset():
    source = {"a": 1, "b": 2, "c": 3}
    subset = dict_subset(source, ["c", "a"])
    assert isinstance(subset, OrderedDict) and list(subset.items()) == [("c", 3), ("a", 1)]
    assert source == {"a": 1, "b": 2, "c": 3}
    popped = dict_subset(source, ["b"], pop=True)
    assert popped == {"b": 2} and source == {"a": 1, "c": 3}
    with pytest.raises(KeyError, match="required key 'z' is missing"):
        dict_subset(source, ["a", "z"])
    assert list(dict_subset(source, ["z", "c"], must_have=False).items()) == [("c", 3)]


def test_check_variable_accepts():
    check_variable(pt.matrix(), n_dim=2, dtype_prefix="float")
    check_variable(pt.lmatrix(), n_dim=(1, 2), dtype_prefix="int")
    check_variable(pt.tensor3())
    assert check_theano_variable is check_variable


def test_check_variable_errors():
    with pytest.raises(TypeError, match="Lookup 'l': argument 'indices' must be a symbolic "
                                        "variable, got list"):
        check_variable([1, 2], owner="Lookup 'l'", argument="indices")
    with pytest.raises(ValueError) as error:
        check_variable(pt.tensor(shape=(2, None, 3)), n_dim=2, owner="Brick 'b'")
    message = str(error.value)
    assert message.startswith("Brick 'b': argument 'input'")
    assert "expected ndim=2, found ndim=3" in message and "(2, None, 3)" in message
    with pytest.raises(ValueError, match="expected ndim=1 or 2, found ndim=0"):
        check_variable(pt.scalar(), n_dim=[1, 2])
    with pytest.raises(TypeError, match="argument 'x': expected a int dtype, found float"):
        check_variable(pt.vector(), dtype_prefix="int", argument="x")


def test_repr_attrs():
    class Thing:
        def __init__(self):
            self.size = 3

    thing = Thing()
    text = repr_attrs(thing, "size", "missing")
    assert text.startswith(f"<{__name__}.Thing object at {id(thing):#x}")
    assert text.endswith(": size=3, missing=None>")
    assert repr_attrs(thing).endswith(f"{id(thing):#x}>")
