"""Extensions that act on training: scheduling shared variables, tracking the best."""

import inspect
import math

import numpy as np

from blocks.extensions import SimpleExtension
from blocks.utils import is_shared_variable

__all__ = ["SharedVariableModifier", "TrackTheBest"]


def _count_positional(function):
    """The number of positional parameters of `function` (those with defaults included)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds)


class SharedVariableModifier(SimpleExtension):
    """Set a shared variable to ``function(iterations_done[, old_value])``.

    For learning-rate schedules and the like. Runs after every batch, plus whatever
    triggers are given (``after_batch=False`` to run only on those).

    Parameters
    ----------
    parameter : SharedVariable
        The shared variable to modify (e.g. ``step_rule.learning_rate``).
    function : callable or None
        ``function(iterations_done)`` or ``function(iterations_done, old_value)``
        returning the new value (cast to the variable's dtype; same shape). Use a
        picklable function (not a lambda) if the main loop is checkpointed. None for a
        subclass that overrides the method :meth:`function` instead.
    num_args : int, optional
        1 or 2: how `function` is called; by default the number of its positional
        parameters.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`; ``after_batch=True``
        is added unless ``after_batch`` is given.

    Examples
    --------
    >>> from blocks.utils import shared_floatx
    >>> learning_rate = shared_floatx(0.1)
    >>> def halve(iterations_done, old_value):
    ...     return old_value / 2
    >>> decay = SharedVariableModifier(learning_rate, halve, after_batch=False,
    ...                                every_n_epochs=10)
    >>> decay.num_args
    2
    """

    def __init__(self, parameter, function, num_args=None, **kwargs):
        kwargs.setdefault("after_batch", True)
        super().__init__(**kwargs)
        if not is_shared_variable(parameter):
            raise TypeError(
                f"SharedVariableModifier: parameter must be a shared variable; received "
                f"{type(parameter).__name__}"
            )
        overridden = type(self).function is not SharedVariableModifier.function
        if function is None and not overridden:
            raise TypeError("SharedVariableModifier: function is None and the class does not "
                            "override the method function()")
        if function is not None and not callable(function):
            raise TypeError(f"SharedVariableModifier: function must be callable; "
                            f"received {function!r}")
        if num_args not in (None, 1, 2):
            raise ValueError(f"SharedVariableModifier: num_args must be 1 or 2; received "
                             f"{num_args!r}")
        self.parameter = parameter
        self._function = function
        self._num_args = num_args
        if function is not None:
            self.num_args  # noqa: B018  (refuse a function of the wrong arity now)

    @property
    def num_args(self):
        """How many arguments :meth:`function` takes: 1 or 2."""
        if self._num_args is None:
            target = self._function if self._function is not None else self.function
            count = _count_positional(target)
            if count not in (1, 2):
                raise ValueError(
                    "SharedVariableModifier: function must take 1 argument (iterations_done) "
                    f"or 2 (iterations_done, old_value); found {count} (pass num_args=...)"
                )
            self._num_args = count
        return self._num_args

    def function(self, *args):
        """The new value; calls the function given to the constructor."""
        return self._function(*args)

    def do(self, which_callback, *args):
        iterations_done = self.main_loop.log.status["iterations_done"]
        old_value = self.parameter.get_value()
        if self.num_args == 1:
            new_value = self.function(iterations_done)
        else:
            new_value = self.function(iterations_done, old_value)
        new_value = np.asarray(new_value, dtype=self.parameter.dtype)
        if new_value.shape != np.shape(old_value):
            raise ValueError(
                f"SharedVariableModifier: the function returned shape {new_value.shape} for "
                f"{self.parameter.name or 'the variable'} of shape {np.shape(old_value)}"
            )
        self.parameter.set_value(new_value)


def _is_nan(value):
    try:
        return math.isnan(value)
    except TypeError:
        return False


class TrackTheBest(SimpleExtension):
    """Track the best value of a log record and signal each new best.

    When the record is better than all its previous values (strictly, according to
    `choose_best`), its value is stored in ``status['best_' + record_name]`` and
    ``notification_name`` is set to True in the current row (what
    :class:`~blocks.extensions.stopping.FinishIfNoImprovementAfter` and conditional
    checkpoints watch). Missing and NaN values are ignored.

    Parameters
    ----------
    record_name : str
    notification_name : str, optional
        ``{record_name}_best_so_far`` by default.
    choose_best : callable
        ``choose_best(current, best)`` returns the better of the current value and the
        best so far; ``min`` by default (use ``max`` for accuracies).
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`; ``after_epoch=True``
        is added unless ``after_epoch`` is given.

    Examples
    --------
    >>> track = TrackTheBest('valid_error', choose_best=min)
    >>> track.best_name, track.notification_name
    ('best_valid_error', 'valid_error_best_so_far')
    """

    def __init__(self, record_name, notification_name=None, choose_best=min, **kwargs):
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        if not isinstance(record_name, str):
            raise TypeError(f"TrackTheBest: record_name must be a str; received {record_name!r}")
        self.record_name = record_name
        self.notification_name = notification_name or f"{record_name}_best_so_far"
        self.choose_best = choose_best
        self.best_name = f"best_{record_name}"

    def do(self, which_callback, *args):
        log = self.main_loop.log
        current = log.current_row.get(self.record_name)
        if current is None or _is_nan(current):
            return
        best = log.status.get(self.best_name)
        if best is None or (current != best and self.choose_best(current, best) == current):
            log.status[self.best_name] = current
            log.current_row[self.notification_name] = True
