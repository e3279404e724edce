"""Training algorithms: gradient descent and the step rules that shape its steps.

>>> from blocks.algorithms import GradientDescent, CompositeRule, StepClipping, Adam
>>> rule = CompositeRule([StepClipping(threshold=10.0), Adam()])
"""

from blocks.algorithms.base import TrainingAlgorithm, UpdatesAlgorithm
from blocks.algorithms.gradient_descent import GradientDescent
from blocks.algorithms.schedules import (
    InverseSquareRootSchedule,
    LearningRateSchedule,
    WarmupCosineSchedule,
)
from blocks.algorithms.step_rules import (
    AdaDelta,
    AdaGrad,
    Adam,
    AdamW,
    BasicMomentum,
    BasicRMSProp,
    CompositeRule,
    Momentum,
    RemoveNotFinite,
    Restrict,
    RMSProp,
    Scale,
    StepClipping,
    StepRule,
    VariableClipping,
    l2_norm,
)

__all__ = [
    "TrainingAlgorithm", "UpdatesAlgorithm", "GradientDescent", "StepRule", "Scale",
    "BasicMomentum", "Momentum", "AdaDelta", "BasicRMSProp", "RMSProp", "Adam", "AdaGrad",
    "StepClipping", "VariableClipping", "CompositeRule", "Restrict", "RemoveNotFinite",
    "l2_norm", "AdamW", "LearningRateSchedule", "WarmupCosineSchedule",
    "InverseSquareRootSchedule",
]
