"""Roles tag variables of a graph with what they are for (a weight, a cost, an input...).

Roles form a class hierarchy, so that asking for a general role also finds the
specific ones: a :data:`WEIGHT` is a :data:`PARAMETER`.

>>> import pytensor
>>> import numpy as np
>>> W = pytensor.shared(np.zeros((2, 2)), name='W')
>>> add_role(W, WEIGHT)
>>> has_roles(W, [PARAMETER])
True
>>> has_roles(W, [BIAS])
False
>>> W.tag.roles
[WEIGHT]
"""

import re

__all__ = [
    "VariableRole", "add_role", "has_roles",
    "INPUT", "OUTPUT", "COST", "PERSISTENT", "PARAMETER", "AUXILIARY", "WEIGHT", "BIAS",
    "FILTER", "INITIAL_STATE", "DROPOUT", "COLLECTED", "COLLECTOR", "ALGORITHM_STATE",
    "ALGORITHM_HYPERPARAMETER", "ALGORITHM_BUFFER", "BATCH_NORM_POPULATION_STATISTICS",
    "BATCH_NORM_POPULATION_MEAN", "BATCH_NORM_POPULATION_STDEV", "BATCH_NORM_OFFSET",
    "BATCH_NORM_DIVISOR", "BATCH_NORM_MINIBATCH_ESTIMATE", "BATCH_NORM_SHIFT_PARAMETER",
    "BATCH_NORM_SCALE_PARAMETER", "SCALE", "SHIFT",
]


class VariableRole:
    """Base class of all roles.

    Roles compare equal by class, so a role survives pickling and copying: an
    unpickled ``WEIGHT`` is still ``WEIGHT``.
    """

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        words = re.findall(r"[A-Z][a-z0-9]*", type(self).__name__.removesuffix("Role"))
        return "_".join(word.upper() for word in words)

    def __reduce__(self):
        return (type(self), ())


def add_role(var, role):
    """Add `role` to ``var.tag.roles`` unless a role of the same or a more specific kind is there.

    A more general role already present is replaced by the more specific one,
    so adding :data:`WEIGHT` to a :data:`PARAMETER` leaves only ``WEIGHT``.
    """
    roles = [old for old in getattr(var.tag, "roles", []) if not isinstance(role, type(old))]
    if not any(isinstance(old, type(role)) for old in roles):
        roles.append(role)
    var.tag.roles = roles


def has_roles(var, roles, match_all=False):
    """Whether `var` has any (or, with ``match_all``, every) role of `roles`, by kind."""
    var_roles = getattr(var.tag, "roles", [])

    def found(role):
        return any(isinstance(var_role, type(role)) for var_role in var_roles)

    return all(found(role) for role in roles) if match_all else any(found(role) for role in roles)


class InputRole(VariableRole):
    pass


class OutputRole(VariableRole):
    pass


class CostRole(VariableRole):
    pass


class PersistentRole(VariableRole):
    pass


class ParameterRole(PersistentRole):
    pass


class AuxiliaryRole(VariableRole):
    pass


class WeightRole(ParameterRole):
    pass


class BiasRole(ParameterRole):
    pass


class FilterRole(WeightRole):
    pass


class InitialStateRole(ParameterRole):
    pass


class DropoutRole(VariableRole):
    pass


class CollectedRole(VariableRole):
    pass


class CollectorRole(ParameterRole):
    pass


class AlgorithmStateRole(VariableRole):
    pass


class AlgorithmHyperparameterRole(AlgorithmStateRole):
    pass


class AlgorithmBufferRole(AlgorithmStateRole):
    pass


class BatchNormPopulationStatisticsRole(PersistentRole):
    pass


class BatchNormPopulationMeanRole(BatchNormPopulationStatisticsRole):
    pass


class BatchNormPopulationStdevRole(BatchNormPopulationStatisticsRole):
    pass


class BatchNormGraphVariableRole(VariableRole):
    pass


class BatchNormOffsetRole(BatchNormGraphVariableRole):
    pass


class BatchNormDivisorRole(BatchNormGraphVariableRole):
    pass


class BatchNormMinibatchEstimateRole(BatchNormGraphVariableRole):
    pass


class ScaleRole(ParameterRole):
    pass


class ShiftRole(BiasRole):
    pass


class BatchNormShiftParameterRole(ShiftRole):
    pass


class BatchNormScaleParameterRole(ScaleRole):
    pass


#: The input of a brick's application.
INPUT = InputRole()
#: The output of a brick's application.
OUTPUT = OutputRole()
#: A cost to minimize.
COST = CostRole()
#: A variable whose value outlives a call (parameters, population statistics).
PERSISTENT = PersistentRole()
#: A trainable parameter.
PARAMETER = ParameterRole()
#: A variable computed on the side, e.g. for monitoring.
AUXILIARY = AuxiliaryRole()
#: A weight matrix of a linear transformation.
WEIGHT = WeightRole()
#: A bias vector.
BIAS = BiasRole()
#: The filters of a convolution.
FILTER = FilterRole()
#: A learned initial state of a recurrent network.
INITIAL_STATE = InitialStateRole()
#: A variable to which dropout was applied.
DROPOUT = DropoutRole()
#: A variable collected by a graph transformation.
COLLECTED = CollectedRole()
#: A parameter created to collect variables.
COLLECTOR = CollectorRole()
#: The state of a training algorithm (e.g. momentum buffers).
ALGORITHM_STATE = AlgorithmStateRole()
#: A hyperparameter of a training algorithm (e.g. a learning rate).
ALGORITHM_HYPERPARAMETER = AlgorithmHyperparameterRole()
#: A buffer of a training algorithm.
ALGORITHM_BUFFER = AlgorithmBufferRole()
#: A population statistic of batch normalization.
BATCH_NORM_POPULATION_STATISTICS = BatchNormPopulationStatisticsRole()
#: The population mean of batch normalization.
BATCH_NORM_POPULATION_MEAN = BatchNormPopulationMeanRole()
#: The population standard deviation of batch normalization.
BATCH_NORM_POPULATION_STDEV = BatchNormPopulationStdevRole()
#: The offset (mean) subtracted by batch normalization in the graph.
BATCH_NORM_OFFSET = BatchNormOffsetRole()
#: The divisor (standard deviation) applied by batch normalization in the graph.
BATCH_NORM_DIVISOR = BatchNormDivisorRole()
#: A statistic estimated on the minibatch by batch normalization.
BATCH_NORM_MINIBATCH_ESTIMATE = BatchNormMinibatchEstimateRole()
#: The learned elementwise scale of a normalization (layer, RMS or batch normalization).
SCALE = ScaleRole()
#: The learned elementwise shift of a normalization; a kind of :data:`BIAS`.
SHIFT = ShiftRole()
#: The learned shift of batch normalization.
BATCH_NORM_SHIFT_PARAMETER = BatchNormShiftParameterRole()
#: The learned scale of batch normalization.
BATCH_NORM_SCALE_PARAMETER = BatchNormScaleParameterRole()
