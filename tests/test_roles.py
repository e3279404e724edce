import pickle

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks import roles
from blocks.roles import (
    ALGORITHM_BUFFER,
    ALGORITHM_HYPERPARAMETER,
    ALGORITHM_STATE,
    AUXILIARY,
    BATCH_NORM_DIVISOR,
    BATCH_NORM_MINIBATCH_ESTIMATE,
    BATCH_NORM_OFFSET,
    BATCH_NORM_POPULATION_MEAN,
    BATCH_NORM_POPULATION_STATISTICS,
    BATCH_NORM_POPULATION_STDEV,
    BATCH_NORM_SCALE_PARAMETER,
    BATCH_NORM_SHIFT_PARAMETER,
    BIAS,
    COLLECTED,
    COLLECTOR,
    COST,
    DROPOUT,
    FILTER,
    INITIAL_STATE,
    INPUT,
    OUTPUT,
    PARAMETER,
    PERSISTENT,
    WEIGHT,
    VariableRole,
    add_role,
    has_roles,
)

ROLE_NAMES = [name for name in roles.__all__ if name.isupper()]


def variable():
    return pytensor.shared(np.zeros(2), name="v")


def test_every_role_is_exported_and_named_after_itself():
    assert len(ROLE_NAMES) == 26
    for name in ROLE_NAMES:
        role = getattr(roles, name)
        assert isinstance(role, VariableRole)
        assert repr(role) == name


@pytest.mark.parametrize("specific, general", [
    (WEIGHT, PARAMETER), (BIAS, PARAMETER), (FILTER, WEIGHT), (FILTER, PARAMETER),
    (INITIAL_STATE, PARAMETER), (COLLECTOR, PARAMETER), (PARAMETER, PERSISTENT),
    (ALGORITHM_HYPERPARAMETER, ALGORITHM_STATE), (ALGORITHM_BUFFER, ALGORITHM_STATE),
    (BATCH_NORM_POPULATION_MEAN, BATCH_NORM_POPULATION_STATISTICS),
    (BATCH_NORM_POPULATION_STDEV, BATCH_NORM_POPULATION_STATISTICS),
    (BATCH_NORM_POPULATION_STATISTICS, PERSISTENT),
    (BATCH_NORM_SHIFT_PARAMETER, BIAS), (BATCH_NORM_SCALE_PARAMETER, PARAMETER),
])
def test_specific_roles_match_general_ones(specific, general):
    var = variable()
    add_role(var, specific)
    assert has_roles(var, [general])
    other = variable()
    add_role(other, general)
    assert not has_roles(other, [specific])


@pytest.mark.parametrize("first, second", [
    (WEIGHT, BIAS), (INPUT, OUTPUT), (COST, AUXILIARY), (DROPOUT, COLLECTED),
    (BATCH_NORM_OFFSET, BATCH_NORM_DIVISOR), (BATCH_NORM_MINIBATCH_ESTIMATE, OUTPUT),
    (ALGORITHM_STATE, PARAMETER),
])
def test_unrelated_roles_do_not_match(first, second):
    var = variable()
    add_role(var, first)
    assert not has_roles(var, [second])
    assert has_roles(var, [first])


def test_add_role_keeps_the_most_specific():
    var = variable()
    add_role(var, PARAMETER)
    add_role(var, WEIGHT)
    assert var.tag.roles == [WEIGHT]
    # A more general role adds nothing.
    add_role(var, PARAMETER)
    add_role(var, WEIGHT)
    assert var.tag.roles == [WEIGHT]
    # Unrelated roles accumulate.
    add_role(var, AUXILIARY)
    add_role(var, COST)
    assert var.tag.roles == [WEIGHT, AUXILIARY, COST]
    add_role(var, FILTER)
    assert var.tag.roles == [AUXILIARY, COST, FILTER]


def test_has_roles_any_and_all():
    var = pt.vector()
    assert not has_roles(var, [INPUT])
    add_role(var, INPUT)
    add_role(var, COST)
    assert has_roles(var, [INPUT, OUTPUT])
    assert not has_roles(var, [INPUT, OUTPUT], match_all=True)
    assert has_roles(var, [INPUT, COST], match_all=True)
    assert not has_roles(var, [])
    assert has_roles(var, [], match_all=True)


def test_roles_compare_by_kind():
    assert type(WEIGHT)() == WEIGHT and hash(type(WEIGHT)()) == hash(WEIGHT)
    assert WEIGHT != PARAMETER and FILTER != WEIGHT
    assert len({WEIGHT, type(WEIGHT)(), BIAS}) == 2


def test_roles_survive_pickling():
    for name in ROLE_NAMES:
        role = getattr(roles, name)
        assert pickle.loads(pickle.dumps(role)) == role
    var = variable()
    add_role(var, FILTER)
    copy = pickle.loads(pickle.dumps(var))
    assert copy.tag.roles == [FILTER]
    assert has_roles(copy, [WEIGHT]) and has_roles(copy, [PARAMETER])
    assert not has_roles(copy, [BIAS])


def test_batch_normalization_roles_are_kinds_of_scale_and_shift():
    scale, shift = variable(), variable()
    add_role(scale, roles.BATCH_NORM_SCALE_PARAMETER)
    add_role(shift, roles.BATCH_NORM_SHIFT_PARAMETER)
    assert has_roles(scale, [roles.SCALE]) and not has_roles(scale, [roles.SHIFT])
    assert has_roles(shift, [roles.SHIFT]) and has_roles(shift, [roles.BIAS])
