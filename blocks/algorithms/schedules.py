"""Learning-rate schedules as step rules: the steps are multiplied by a factor that
depends on the number of steps taken.

The count of steps is a shared variable with the ALGORITHM_BUFFER role, updated with the
parameters, so a checkpoint of the main loop (:class:`~blocks.extensions.saveload.Checkpoint`)
keeps it and a resumed run continues the schedule exactly where it stopped. Put a
schedule after the rule whose steps it scales, e.g.
``CompositeRule([StepClipping(1.0), AdamW(learning_rate=3e-4), WarmupCosineSchedule(100,
1000)])``: the factor multiplies the whole step, as ``torch.optim.lr_scheduler`` scales
the learning rate.
"""

from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt

from blocks.algorithms.step_rules import StepRule
from blocks.roles import ALGORITHM_BUFFER, add_role
from blocks.utils import shared_floatx

__all__ = ["LearningRateSchedule", "WarmupCosineSchedule", "InverseSquareRootSchedule"]


def _check_count(schedule, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"{type(schedule).__name__}: {name} must be an int >= {minimum}, got {value!r}"
        )


class LearningRateSchedule(StepRule):
    """Multiply all steps by :meth:`factor` of the number of the step (1 for the first).

    Attributes
    ----------
    steps_done : SharedVariable
        The number of steps taken (ALGORITHM_BUFFER); set it to jump in the schedule.
    """

    def __init__(self):
        self.steps_done = shared_floatx(0.0, name="schedule_steps_done")
        add_role(self.steps_done, ALGORITHM_BUFFER)

    def factor(self, step):
        """The factor of step number `step` (a symbolic scalar, 1 for the first step)."""
        raise NotImplementedError(f"{type(self).__name__} must implement factor(step)")

    def factor_at(self, step):
        """The factor of step number `step` as a number (e.g. to plot the schedule)."""
        return float(self.factor(pt.as_tensor_variable(np.float64(step))).eval())

    def compute_steps(self, previous_steps):
        step = self.steps_done + 1
        factor = self.factor(step)
        steps = OrderedDict(
            (parameter, previous * factor.astype(previous.dtype))
            for parameter, previous in previous_steps.items())
        return steps, [(self.steps_done, step.astype(self.steps_done.dtype))]


class WarmupCosineSchedule(LearningRateSchedule):
    r"""A linear warm-up, then a cosine decay down to `final_factor`.

    .. math::
        f(t) = t / w \quad (t \le w), \qquad
        f(t) = f_\infty + (1 - f_\infty) \frac{1 + \cos(\pi \min(1, (t - w) / (T - w)))}{2}
        \quad (t > w)

    with :math:`w` = `warmup_steps` and :math:`T` = `total_steps`; the factor stays at
    `final_factor` after :math:`T`.

    Parameters
    ----------
    warmup_steps : int
        May be 0 (no warm-up).
    total_steps : int
        The step at which the decay ends; more than `warmup_steps`.
    final_factor : float, optional
        Defaults to 0.

    Examples
    --------
    >>> schedule = WarmupCosineSchedule(warmup_steps=2, total_steps=6)
    >>> [round(schedule.factor_at(t), 3) for t in range(1, 8)]
    [0.5, 1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    def __init__(self, warmup_steps, total_steps, final_factor=0.0):
        super().__init__()
        _check_count(self, "warmup_steps", warmup_steps, 0)
        _check_count(self, "total_steps", total_steps, warmup_steps + 1)
        if not 0 <= final_factor <= 1:
            raise ValueError(
                f"WarmupCosineSchedule: final_factor must be in [0, 1], got {final_factor!r}"
            )
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.final_factor = final_factor

    def factor(self, step):
        warmup = max(self.warmup_steps, 1)
        progress = pt.clip((step - self.warmup_steps) / (self.total_steps - self.warmup_steps),
                           0, 1)
        cosine = self.final_factor + (1 - self.final_factor) * (1 + pt.cos(np.pi * progress)) / 2
        return pt.switch(pt.le(step, self.warmup_steps), step / warmup, cosine)


class InverseSquareRootSchedule(LearningRateSchedule):
    r"""A linear warm-up, then a decay as the inverse square root of the step ([VSP17]_).

    .. math:: f(t) = \min(t / w, \sqrt{w / t})

    so the factor peaks at 1 at step :math:`w` = `warmup_steps`. The schedule of the
    Transformer paper is this times ``d_model ** -0.5 * warmup_steps ** -0.5``: give that
    as the learning rate of the rule before.

    Parameters
    ----------
    warmup_steps : int
        At least 1.

    Examples
    --------
    >>> schedule = InverseSquareRootSchedule(warmup_steps=4)
    >>> [schedule.factor_at(t) for t in (1, 2, 4, 16)]
    [0.25, 0.5, 1.0, 0.5]
    """

    def __init__(self, warmup_steps):
        super().__init__()
        _check_count(self, "warmup_steps", warmup_steps, 1)
        self.warmup_steps = warmup_steps

    def factor(self, step):
        return pt.minimum(step / self.warmup_steps, pt.sqrt(self.warmup_steps / step))
