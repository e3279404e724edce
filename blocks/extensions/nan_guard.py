"""Stop training at the first non-finite cost or parameter (NaN or infinity)."""

import logging

import numpy as np
import pytensor

from blocks.extensions import SimpleExtension, set_default_trigger
from blocks.filter import get_brick

__all__ = ["TerminateOnNaN", "NonFiniteError"]

logger = logging.getLogger(__name__)

#: At most this many non-finite parameters are described in the message.
_LISTED_PARAMETERS = 3


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or an infinity; raised by :class:`TerminateOnNaN`."""


def _brick_of(variable):
    brick = get_brick(variable)
    return "" if brick is None else f" of {type(brick).__name__} {brick.name!r}"


def _nonfinite_counts(value):
    """(NaN count, infinity count) of an array, (0, 0) quickly when all are finite."""
    value = np.asarray(value)
    if not np.issubdtype(value.dtype, np.inexact):
        return 0, 0
    # A finite sum proves every entry finite without a boolean array per parameter;
    # a sum that overflows is checked entry by entry.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(value.sum()):
            return 0, 0
    nans = int(np.isnan(value).sum())
    return nans, int(np.isinf(value).sum())


class TerminateOnNaN(SimpleExtension):
    """Stop training when the cost or a parameter stops being finite.

    After every batch (by default) it checks the cost of that batch and the values of
    the parameters after its update. At the first NaN or infinity it raises
    :class:`NonFiniteError`, whose message names the iteration, the quantities (the
    cost, the parameters by hierarchical name) and their bricks. Raising, rather than
    finishing, keeps the last checkpoint: a :class:`~blocks.extensions.saveload.Checkpoint`
    saves ``after_training`` and ``on_interrupt``, not ``on_error``, so the file keeps
    the last state saved before the failure. Put this extension before any
    ``Checkpoint`` that saves after batches (a warning says so otherwise), so that the
    check comes first.

    The cost is read from a shared variable that the training function updates with
    it (added with ``add_updates``, no second computation); without an algorithm that
    has ``add_updates``, only the parameters are checked.

    Parameters
    ----------
    cost : Variable, optional
        The scalar checked; the algorithm's ``cost`` by default.
    parameters : dict or list of shared variables, optional
        The parameters checked; the model's (by hierarchical name) by default, else the
        algorithm's.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension` (``after_batch`` when
        none is given).

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> from blocks.algorithms import GradientDescent, Scale
    >>> from blocks.main_loop import MainLoop
    >>> from blocks.utils import shared_floatx
    >>> w = shared_floatx(1.0, name='w')
    >>> x = pytensor.tensor.scalar('x')
    >>> cost = (w * x) ** 2
    >>> cost.name = 'cost'
    >>> class Stream:
    ...     sources = ('x',)
    ...     def get_epoch_iterator(self, as_dict=False):
    ...         data = [1.0, 2.0, np.nan, 3.0]
    ...         return iter([{'x': np.float32(value)} for value in data])
    >>> main_loop = MainLoop(GradientDescent(cost=cost, parameters=[w], step_rule=Scale(0.01)),
    ...                      Stream(), extensions=[TerminateOnNaN()])
    >>> main_loop.run()
    Traceback (most recent call last):
    ...
    blocks.extensions.nan_guard.NonFiniteError: TerminateOnNaN: training stopped at iteration 3 ...
    """

    def __init__(self, cost=None, parameters=None, **kwargs):
        set_default_trigger(kwargs, "after_batch")
        super().__init__(**kwargs)
        self.cost = cost
        self.parameters = parameters
        self._cost_value = None
        self._cost_name = None

    def dispatch(self, callback_invoked, *from_main_loop):
        if callback_invoked in ("before_training", "on_resumption"):
            self._attach()
        super().dispatch(callback_invoked, *from_main_loop)

    def _attach(self):
        if self._cost_value is not None:
            return  # attached before (a resumed main loop keeps its updates)
        algorithm = self.main_loop.algorithm
        cost = self.cost if self.cost is not None else getattr(algorithm, "cost", None)
        if cost is not None and callable(getattr(algorithm, "add_updates", None)):
            self._cost_value = pytensor.shared(
                np.zeros((), dtype=cost.dtype), name="TerminateOnNaN_cost")
            algorithm.add_updates([(self._cost_value, cost)])
            self._cost_name = cost.name or "cost"
        self._warn_if_a_checkpoint_saves_first()

    def _warn_if_a_checkpoint_saves_first(self):
        for extension in self.main_loop.extensions:
            if extension is self:
                return
            saves_after_batches = any(
                name == "after_batch" for name, _, _ in getattr(extension, "_conditions", ()))
            if type(extension).__name__ == "Checkpoint" and saves_after_batches:
                logger.warning(
                    "TerminateOnNaN comes after %r, which saves after batches: a batch "
                    "that makes the parameters non-finite is saved before it is checked. "
                    "Put TerminateOnNaN first to keep the last good checkpoint.",
                    extension.name)

    def _parameters(self):
        if self.parameters is not None:
            parameters = self.parameters
        else:
            from blocks.extensions.saveload import _parameter_dict

            parameters = _parameter_dict(self.main_loop)
        if isinstance(parameters, dict):
            return list(parameters.items())
        return [(parameter.name or str(parameter), parameter) for parameter in parameters]

    def problems(self):
        """Descriptions of the non-finite quantities now; empty when all are finite."""
        found = []
        if self._cost_value is not None:
            value = self._cost_value.get_value(borrow=True)
            if any(_nonfinite_counts(value)):
                found.append(f"the cost {self._cost_name!r} of the batch is {value}")
        parameters = []
        for name, parameter in self._parameters():
            value = parameter.get_value(borrow=True)
            nans, infinities = _nonfinite_counts(value)
            if nans or infinities:
                parameters.append(
                    f"parameter {name}{_brick_of(parameter)} has {nans} NaN and "
                    f"{infinities} infinite entries of {np.size(value)}")
        found += parameters[:_LISTED_PARAMETERS]
        if len(parameters) > _LISTED_PARAMETERS:
            found.append(f"{len(parameters) - _LISTED_PARAMETERS} more parameters are "
                         f"not finite")
        return found

    def do(self, which_callback, *args):
        found = self.problems()
        if found:
            status = self.main_loop.status
            epoch = status["epochs_done"] + (1 if status["epoch_started"] else 0)
            raise NonFiniteError(
                f"TerminateOnNaN: training stopped at iteration {status['iterations_done']} "
                f"(epoch {epoch}): " + "; ".join(found) + ". The state after this batch "
                "was not checkpointed.")
