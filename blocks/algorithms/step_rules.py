"""Step rules: how a gradient becomes the step subtracted from a parameter.

A step rule maps the *previous step* of every parameter (at first, its gradient) to a new
step, possibly with updates of its own state. Rules chain with :class:`CompositeRule`;
:class:`~blocks.algorithms.GradientDescent` applies ``parameter - step``.

Every hyperparameter (learning rate, decay rate...) is a shared variable with the
:data:`~blocks.roles.ALGORITHM_HYPERPARAMETER` role, so it can be changed during training;
every piece of state (momentum velocity, running averages, time step) is a shared
variable with the :data:`~blocks.roles.ALGORITHM_BUFFER` role, so a checkpoint of the
training keeps it.
"""

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt

from blocks.roles import (
    ALGORITHM_BUFFER,
    ALGORITHM_HYPERPARAMETER,
    BIAS,
    SCALE,
    VariableRole,
    add_role,
    has_roles,
)
from blocks.theano_expressions import l2_norm
from blocks.utils import is_shared_variable, shared_floatx

__all__ = [
    "StepRule", "Scale", "BasicMomentum", "Momentum", "AdaDelta", "BasicRMSProp", "RMSProp",
    "Adam", "AdamW", "AdaGrad", "StepClipping", "VariableClipping", "CompositeRule", "Restrict",
    "RemoveNotFinite", "l2_norm",
]


def _hyperparameter(value, name, rule):
    """`value` as a shared variable with the ALGORITHM_HYPERPARAMETER role.

    A shared variable is used as it is, so that the user (or an extension such as
    ``SharedVariableModifier``) keeps a handle on it.
    """
    if is_shared_variable(value):
        variable = value
    else:
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{type(rule).__name__}: {name} must be a number or a shared variable, got "
                f"{value!r}"
            ) from None
        variable = shared_floatx(value, name=name)
    add_role(variable, ALGORITHM_HYPERPARAMETER)
    return variable


def _check_range(rule, name, value, low, high, low_open=False):
    """Refuse a numeric hyperparameter outside [low, high] (or (low, high])."""
    if is_shared_variable(value):
        return
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        bracket = "(" if low_open else "["
        upper = f"{high}]" if high is not None else "inf)"
        raise ValueError(
            f"{type(rule).__name__}: {name} must be in {bracket}{low}, {upper}, got {value}"
        )


def _buffer(parameter, name, rule, value=None):
    """A zero-filled ALGORITHM_BUFFER shared variable shaped like `parameter` (or scalar)."""
    if not is_shared_variable(parameter):
        raise TypeError(
            f"{type(rule).__name__}: parameters must be shared variables to keep per-parameter "
            f"state, got {parameter!r} of type {type(parameter).__name__}"
        )
    prefix = f"{parameter.name}_" if parameter.name else ""
    if value is None:
        buffer = pytensor.shared(
            np.zeros_like(parameter.get_value(borrow=True)), name=prefix + name,
            shape=parameter.type.shape,
        )
    else:
        buffer = shared_floatx(value, name=prefix + name)
    add_role(buffer, ALGORITHM_BUFFER)
    return buffer


def _update(buffer, value):
    """An update pair that keeps the buffer's dtype."""
    return buffer, pt.cast(value, buffer.dtype)


class StepRule:
    """The base class of step rules.

    A subclass overrides :meth:`compute_step` (one parameter at a time) or
    :meth:`compute_steps` (all parameters together, e.g. to use their total norm).

    Examples
    --------
    A rule that halves every step:

    >>> class Halve(StepRule):
    ...     def compute_step(self, parameter, previous_step):
    ...         return previous_step / 2, []
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(2), name='p')
    >>> steps, updates = Halve().compute_steps({p: pt.as_tensor([2.0, 4.0])})
    >>> steps[p].eval()
    array([1., 2.])
    """

    def compute_step(self, parameter, previous_step):
        """The step of one parameter.

        Parameters
        ----------
        parameter : SharedVariable
            The parameter.
        previous_step : TensorVariable
            Its step so far (its gradient for the first rule of a chain).

        Returns
        -------
        step : TensorVariable
            The new step, subtracted from the parameter.
        updates : list of (SharedVariable, TensorVariable)
            Updates of the rule's state.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define compute_step: a step rule must override "
            f"compute_step (per parameter) or compute_steps (all parameters together)"
        )

    def compute_steps(self, previous_steps):
        """The steps of all parameters.

        Parameters
        ----------
        previous_steps : OrderedDict
            Parameter -> its step so far.

        Returns
        -------
        steps : OrderedDict
            Parameter -> its new step.
        updates : list of (SharedVariable, TensorVariable)
        """
        steps, updates = OrderedDict(), []
        for parameter, previous_step in previous_steps.items():
            steps[parameter], parameter_updates = self.compute_step(parameter, previous_step)
            updates.extend(parameter_updates)
        return steps, updates


class Scale(StepRule):
    """Multiply the step by a learning rate: ``step = learning_rate * previous_step``.

    Parameters
    ----------
    learning_rate : float or SharedVariable, optional
        Defaults to 1.

    Attributes
    ----------
    learning_rate : SharedVariable
        An ALGORITHM_HYPERPARAMETER; change its value to change the learning rate.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> rule = Scale(learning_rate=0.1)
    >>> p = pytensor.shared(np.zeros(2), name='p')
    >>> step, updates = rule.compute_step(p, pt.as_tensor([1.0, -2.0]))
    >>> step.eval()
    array([ 0.1, -0.2])
    >>> rule.learning_rate.set_value(0.5)
    >>> step.eval()
    array([ 0.5, -1. ])
    """

    def __init__(self, learning_rate=1.0):
        self.learning_rate = _hyperparameter(learning_rate, "learning_rate", self)

    def compute_step(self, parameter, previous_step):
        return self.learning_rate * previous_step, []


class BasicMomentum(StepRule):
    """Accumulate a velocity: ``velocity = momentum * velocity + previous_step; step = velocity``.

    Use it after :class:`Scale` (that is :class:`Momentum`) for the classical momentum method.

    Parameters
    ----------
    momentum : float or SharedVariable, optional
        Fraction of the velocity kept at each step, in [0, 1]. Defaults to 0.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> step, updates = BasicMomentum(momentum=0.5).compute_step(p, pt.as_tensor([1.0]))
    >>> [velocity.name for velocity, _ in updates]
    ['p_velocity']
    """

    def __init__(self, momentum=0.0):
        _check_range(self, "momentum", momentum, 0.0, 1.0)
        self.momentum = _hyperparameter(momentum, "momentum", self)

    def compute_step(self, parameter, previous_step):
        velocity = _buffer(parameter, "velocity", self)
        step = self.momentum * velocity + previous_step
        return step, [_update(velocity, step)]


class CompositeRule(StepRule):
    """Chain step rules: each one transforms the steps computed by the previous one.

    Parameters
    ----------
    components : list of StepRule

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> rule = CompositeRule([Scale(0.5), Scale(0.1)])
    >>> steps, updates = rule.compute_steps({p: pt.as_tensor([2.0])})
    >>> steps[p].eval()
    array([0.1])
    """

    def __init__(self, components):
        components = list(components)
        for component in components:
            if not isinstance(component, StepRule):
                raise TypeError(
                    f"{type(self).__name__}: components must be StepRule instances, got "
                    f"{component!r} of type {type(component).__name__}"
                )
        self.components = components

    def compute_steps(self, previous_steps):
        steps, updates = previous_steps, []
        for component in self.components:
            steps, component_updates = component.compute_steps(steps)
            updates.extend(component_updates)
        return steps, updates


class Momentum(CompositeRule):
    """Classical momentum: :class:`Scale` by the learning rate, then :class:`BasicMomentum`.

    ``velocity = momentum * velocity + learning_rate * gradient; step = velocity``.

    Parameters
    ----------
    learning_rate : float or SharedVariable, optional
        Defaults to 1.
    momentum : float or SharedVariable, optional
        Defaults to 0.

    Attributes
    ----------
    learning_rate, momentum : SharedVariable

    Examples
    --------
    >>> rule = Momentum(learning_rate=0.1, momentum=0.9)
    >>> float(rule.momentum.get_value())
    0.9
    """

    def __init__(self, learning_rate=1.0, momentum=0.0):
        scale, basic_momentum = Scale(learning_rate), BasicMomentum(momentum)
        super().__init__([scale, basic_momentum])
        self.learning_rate = scale.learning_rate
        self.momentum = basic_momentum.momentum


class AdaDelta(StepRule):
    """AdaDelta (Zeiler, 2012): steps scaled by running RMS of past steps over past gradients.

    With ``g`` the previous step and ``rho`` the decay rate::

        E[g^2] = rho * E[g^2] + (1 - rho) * g^2
        step = sqrt(E[dx^2] + epsilon) / sqrt(E[g^2] + epsilon) * g
        E[dx^2] = rho * E[dx^2] + (1 - rho) * step^2

    Parameters
    ----------
    decay_rate : float, optional
        In [0, 1]. Defaults to 0.95.
    epsilon : float, optional
        Defaults to 1e-6.

    References
    ----------
    Zeiler, M. D. (2012). ADADELTA: An adaptive learning rate method. arXiv:1212.5701.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> step, updates = AdaDelta().compute_step(p, pt.as_tensor([1.0]))
    >>> [buffer.name for buffer, _ in updates]
    ['p_mean_square_step', 'p_mean_square_delta_x']
    """

    def __init__(self, decay_rate=0.95, epsilon=1e-6):
        _check_range(self, "decay_rate", decay_rate, 0.0, 1.0)
        self.decay_rate = _hyperparameter(decay_rate, "decay_rate", self)
        self.epsilon = _hyperparameter(epsilon, "epsilon", self)

    def compute_step(self, parameter, previous_step):
        mean_square_step = _buffer(parameter, "mean_square_step", self)
        mean_square_delta_x = _buffer(parameter, "mean_square_delta_x", self)
        rho = self.decay_rate
        new_mean_square_step = rho * mean_square_step + (1 - rho) * pt.sqr(previous_step)
        step = (pt.sqrt(mean_square_delta_x + self.epsilon)
                / pt.sqrt(new_mean_square_step + self.epsilon) * previous_step)
        new_mean_square_delta_x = rho * mean_square_delta_x + (1 - rho) * pt.sqr(step)
        updates = [_update(mean_square_step, new_mean_square_step),
                   _update(mean_square_delta_x, new_mean_square_delta_x)]
        return step, updates


class BasicRMSProp(StepRule):
    """Divide the step by a running RMS of past steps (no learning rate; see :class:`RMSProp`).

    ::

        E[g^2] = decay_rate * E[g^2] + (1 - decay_rate) * g^2
        step = g / max(sqrt(E[g^2]), 1 / max_scaling)

    Parameters
    ----------
    decay_rate : float, optional
        In [0, 1]. Defaults to 0.9.
    max_scaling : float, optional
        The largest factor a step can be multiplied by (> 0). Defaults to 1e5.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> step, _ = BasicRMSProp(decay_rate=0.0).compute_step(p, pt.as_tensor([-3.0]))
    >>> step.eval()
    array([-1.])
    """

    def __init__(self, decay_rate=0.9, max_scaling=1e5):
        _check_range(self, "decay_rate", decay_rate, 0.0, 1.0)
        _check_range(self, "max_scaling", max_scaling, 0.0, None, low_open=True)
        self.decay_rate = _hyperparameter(decay_rate, "decay_rate", self)
        self.max_scaling = _hyperparameter(max_scaling, "max_scaling", self)

    def compute_step(self, parameter, previous_step):
        mean_square_step = _buffer(parameter, "mean_square_step", self)
        new_mean_square_step = (self.decay_rate * mean_square_step
                                + (1 - self.decay_rate) * pt.sqr(previous_step))
        rms_step = pt.maximum(pt.sqrt(new_mean_square_step), 1.0 / self.max_scaling)
        return previous_step / rms_step, [_update(mean_square_step, new_mean_square_step)]


class RMSProp(CompositeRule):
    """RMSProp (Tieleman and Hinton, 2012): :class:`BasicRMSProp`, then :class:`Scale`.

    Parameters
    ----------
    learning_rate : float, optional
        Defaults to 1.
    decay_rate : float, optional
        Defaults to 0.9.
    max_scaling : float, optional
        Defaults to 1e5.

    Attributes
    ----------
    learning_rate, decay_rate, max_scaling : SharedVariable

    Examples
    --------
    >>> rule = RMSProp(learning_rate=0.01)
    >>> [type(component).__name__ for component in rule.components]
    ['BasicRMSProp', 'Scale']
    """

    def __init__(self, learning_rate=1.0, decay_rate=0.9, max_scaling=1e5):
        basic_rms_prop = BasicRMSProp(decay_rate=decay_rate, max_scaling=max_scaling)
        scale = Scale(learning_rate=learning_rate)
        super().__init__([basic_rms_prop, scale])
        self.learning_rate = scale.learning_rate
        self.decay_rate = basic_rms_prop.decay_rate
        self.max_scaling = basic_rms_prop.max_scaling


class Adam(StepRule):
    """Adam (Kingma and Ba, 2014), with the betas as decay rates of the moment estimates.

    At time ``t`` (counted from 1) with ``g`` the previous step::

        beta1_t = beta1 * decay_factor ** (t - 1)
        m = beta1_t * m + (1 - beta1_t) * g
        v = beta2 * v + (1 - beta2) * g^2
        step = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)

    With ``decay_factor=1`` (the default) this is the Adam of the paper's final version.

    Parameters
    ----------
    learning_rate : float, optional
        Defaults to 0.002.
    beta1 : float, optional
        Decay rate of the first moment estimate, in [0, 1). Defaults to 0.9.
    beta2 : float, optional
        Decay rate of the second moment estimate, in [0, 1). Defaults to 0.999.
    epsilon : float, optional
        Defaults to 1e-8.
    decay_factor : float, optional
        Decay of ``beta1`` over time (the first version of the paper). Defaults to 1.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> step, updates = Adam(learning_rate=0.1).compute_step(p, pt.as_tensor([5.0]))
    >>> step.eval().round(6)  # the first step has the size of the learning rate
    array([0.1])
    >>> [buffer.name for buffer, _ in updates]
    ['p_mean', 'p_variance', 'p_time']
    """

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 decay_factor=1):
        _check_range(self, "beta1", beta1, 0.0, 1.0)
        _check_range(self, "beta2", beta2, 0.0, 1.0)
        self.learning_rate = _hyperparameter(learning_rate, "learning_rate", self)
        self.beta1 = _hyperparameter(beta1, "beta1", self)
        self.beta2 = _hyperparameter(beta2, "beta2", self)
        self.epsilon = _hyperparameter(epsilon, "epsilon", self)
        self.decay_factor = _hyperparameter(decay_factor, "decay_factor", self)

    def compute_step(self, parameter, previous_step):
        mean = _buffer(parameter, "mean", self)
        variance = _buffer(parameter, "variance", self)
        time = _buffer(parameter, "time", self, value=0.0)
        t = time + 1
        beta1_t = self.beta1 * self.decay_factor ** (t - 1)
        new_mean = beta1_t * mean + (1 - beta1_t) * previous_step
        new_variance = self.beta2 * variance + (1 - self.beta2) * pt.sqr(previous_step)
        learning_rate = (self.learning_rate * pt.sqrt(1 - self.beta2 ** t)
                         / (1 - self.beta1 ** t))
        step = learning_rate * new_mean / (pt.sqrt(new_variance) + self.epsilon)
        updates = [_update(mean, new_mean), _update(variance, new_variance), _update(time, t)]
        return step, updates


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    The step of :class:`Adam` plus ``learning_rate * weight_decay * parameter``, for the
    parameters without any of the `excluded_roles`: the decay shrinks the weights
    directly instead of going through Adam's normalization, as L2 regularization of the
    cost would. As in ``torch.optim.AdamW``, the decay is proportional to the learning
    rate, so a schedule that scales the steps after this rule (e.g.
    :class:`~blocks.algorithms.WarmupCosineSchedule` in a :class:`CompositeRule`) scales
    the decay too.

    Parameters
    ----------
    learning_rate, beta1, beta2, epsilon
        As for :class:`Adam`; the learning rate defaults to 0.001.
    weight_decay : float or SharedVariable, optional
        Defaults to 0.01.
    excluded_roles : list of VariableRole, optional
        Parameters with any of these roles are not decayed; by default biases (BIAS,
        which includes the SHIFT of normalizations) and the SCALE of normalizations.

    References
    ----------
    Loshchilov, I. and Hutter, F. (2019). Decoupled weight decay regularization. ICLR.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.roles import WEIGHT, BIAS, add_role
    >>> w = pytensor.shared(np.array([2.0]), name='w'); add_role(w, WEIGHT)
    >>> b = pytensor.shared(np.array([2.0]), name='b'); add_role(b, BIAS)
    >>> rule = AdamW(learning_rate=0.1, weight_decay=0.5)
    >>> steps, _ = rule.compute_steps({w: pt.as_tensor([0.0]), b: pt.as_tensor([0.0])})
    >>> steps[w].eval(), steps[b].eval()  # no gradient: only the weight decays
    (array([0.1]), array([0.]))
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 weight_decay=0.01, excluded_roles=(BIAS, SCALE)):
        super().__init__(learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                         epsilon=epsilon)
        _check_range(self, "weight_decay", weight_decay, 0.0, None)
        self.weight_decay = _hyperparameter(weight_decay, "weight_decay", self)
        excluded_roles = list(excluded_roles)
        if not all(isinstance(role, VariableRole) for role in excluded_roles):
            raise TypeError(
                f"AdamW: excluded_roles must be roles (e.g. blocks.roles.BIAS), got "
                f"{excluded_roles!r}"
            )
        self.excluded_roles = excluded_roles

    def compute_step(self, parameter, previous_step):
        step, updates = super().compute_step(parameter, previous_step)
        if not has_roles(parameter, self.excluded_roles):
            step = step + self.learning_rate * self.weight_decay * parameter
        return step, updates


class AdaGrad(StepRule):
    """AdaGrad (Duchi et al., 2011): steps divided by the root of the summed squared steps.

    ::

        G = G + g^2
        step = learning_rate * g / (sqrt(G) + epsilon)

    Parameters
    ----------
    learning_rate : float, optional
        Defaults to 0.002.
    epsilon : float, optional
        Defaults to 1e-6.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros(1), name='p')
    >>> step, _ = AdaGrad(learning_rate=0.1, epsilon=0.0).compute_step(p, pt.as_tensor([4.0]))
    >>> step.eval()
    array([0.1])
    """

    def __init__(self, learning_rate=0.002, epsilon=1e-6):
        self.learning_rate = _hyperparameter(learning_rate, "learning_rate", self)
        self.epsilon = _hyperparameter(epsilon, "epsilon", self)

    def compute_step(self, parameter, previous_step):
        sum_square = _buffer(parameter, "sum_square", self)
        new_sum_square = sum_square + pt.sqr(previous_step)
        step = self.learning_rate * previous_step / (pt.sqrt(new_sum_square) + self.epsilon)
        return step, [_update(sum_square, new_sum_square)]


class StepClipping(StepRule):
    """Rescale all steps together so that their total L2 norm is at most `threshold`.

    This is global-norm clipping: the norm is that of all the steps of all parameters
    taken together (like ``torch.nn.utils.clip_grad_norm_``), and every step is
    multiplied by the same factor ``threshold / norm`` when the norm exceeds the
    threshold, so the direction of the whole update is kept. Put it first in a
    :class:`CompositeRule` to clip the gradients (e.g. before :class:`AdamW`).

    Parameters
    ----------
    threshold : float or SharedVariable, optional
        The largest total norm. ``None`` (the default) leaves the steps unchanged.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p, q = pytensor.shared(np.zeros(1), 'p'), pytensor.shared(np.zeros(1), 'q')
    >>> steps, _ = StepClipping(1.0).compute_steps(
    ...     {p: pt.as_tensor([3.0]), q: pt.as_tensor([4.0])})
    >>> steps[p].eval(), steps[q].eval()
    (array([0.6]), array([0.8]))
    """

    def __init__(self, threshold=None):
        if threshold is not None:
            _check_range(self, "threshold", threshold, 0.0, None, low_open=True)
            threshold = _hyperparameter(threshold, "threshold", self)
        self.threshold = threshold

    def compute_steps(self, previous_steps):
        if self.threshold is None:
            return OrderedDict(previous_steps), []
        norm = l2_norm(previous_steps.values())
        multiplier = pt.switch(norm < self.threshold, 1.0, self.threshold / norm)
        steps = OrderedDict(
            (parameter, step * multiplier) for parameter, step in previous_steps.items())
        return steps, []


class VariableClipping(StepRule):
    """Keep the norm of each parameter (or of its slices) at most `threshold` after the step.

    Where the updated parameter ``parameter - step`` has a norm above `threshold`, the
    step is changed so that the updated value is rescaled to norm `threshold`. Put it last
    in a :class:`CompositeRule`, so that the constraint holds on the values actually set.

    Parameters
    ----------
    threshold : float or SharedVariable
        The largest norm.
    axis : int or tuple of int, optional
        The axes the norm is taken over; each slice along the other axes is clipped
        separately (e.g. ``axis=0`` clips each column of a weight matrix). ``None``
        (the default): the norm of the whole parameter.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.zeros((2, 2)), name='p')
    >>> step, _ = VariableClipping(1.0, axis=0).compute_step(
    ...     p, pt.as_tensor([[-3.0, 0.0], [-4.0, -0.5]]))
    >>> (p.get_value() - step.eval()).round(6)  # the first column is rescaled to norm 1
    array([[0.6, 0. ],
           [0.8, 0.5]])
    """

    def __init__(self, threshold, axis=None):
        _check_range(self, "threshold", threshold, 0.0, None, low_open=True)
        self.threshold = _hyperparameter(threshold, "threshold", self)
        axes = () if axis is None else (
            (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis))
        if not all(isinstance(ax, (int, np.integer)) for ax in axes):
            raise TypeError(
                f"VariableClipping: axis must be None, an int or a tuple of distinct ints, "
                f"got {axis!r}"
            )
        if len(set(axes)) != len(axes):
            raise ValueError(f"VariableClipping: axis must be unique, got {axis!r}")
        #: As in Blocks, the set of axes the norm is taken over; empty for all of them.
        self.axis = {int(ax) for ax in axes}

    def compute_step(self, parameter, previous_step):
        new_value = parameter - previous_step
        if not self.axis:
            axes = tuple(range(new_value.ndim))
        else:
            bad = [ax for ax in self.axis if not -new_value.ndim <= ax < new_value.ndim]
            if bad:
                raise ValueError(
                    f"VariableClipping: Invalid axis {sorted(self.axis)} for parameter "
                    f"{parameter.name!r}, ndim={new_value.ndim}"
                )
            axes = tuple(sorted(self.axis))
        norms = pt.sqrt(pt.sqr(new_value).sum(axis=axes, keepdims=True))
        clipped = pt.switch(norms > self.threshold, new_value * (self.threshold / norms),
                            new_value)
        return parameter - clipped, []


class Restrict(StepRule):
    """Apply a step rule to some parameters only; the others keep their previous steps.

    Parameters
    ----------
    step_rule : StepRule
    variables : list of SharedVariable
        The parameters `step_rule` applies to.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p, q = pytensor.shared(np.zeros(1), 'p'), pytensor.shared(np.zeros(1), 'q')
    >>> steps, _ = Restrict(Scale(0.1), [p]).compute_steps(
    ...     {p: pt.as_tensor([1.0]), q: pt.as_tensor([1.0])})
    >>> steps[p].eval(), steps[q].eval()
    (array([0.1]), array([1.]))
    """

    def __init__(self, step_rule, variables):
        if not isinstance(step_rule, StepRule):
            raise TypeError(
                f"Restrict: step_rule must be a StepRule, got {type(step_rule).__name__}")
        self.step_rule = step_rule
        self.variables = list(variables)

    def compute_steps(self, previous_steps):
        restricted = OrderedDict(
            (parameter, step) for parameter, step in previous_steps.items()
            if parameter in self.variables)
        restricted_steps, updates = self.step_rule.compute_steps(restricted)
        steps = OrderedDict(
            (parameter, restricted_steps.get(parameter, step))
            for parameter, step in previous_steps.items())
        return steps, updates


class RemoveNotFinite(StepRule):
    """Replace a step holding NaN or infinity by one that rescales the parameter by `scaler`.

    The test is per parameter: if any element of a parameter's step is not finite, the
    new value of the parameter is ``scaler * parameter`` (unchanged with the default
    ``scaler=1``). Put it last in a chain to keep such parameters exactly as they were;
    put it first to keep NaNs out of the state of the rules that follow (their momentum,
    if any, still moves the parameter).

    Parameters
    ----------
    scaler : float, optional
        In [0, 1]. Defaults to 1.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> p = pytensor.shared(np.array([1.0, 2.0]), name='p')
    >>> step, _ = RemoveNotFinite().compute_step(p, pt.as_tensor([np.nan, 1.0]))
    >>> step.eval()
    array([0., 0.])
    """

    def __init__(self, scaler=1):
        _check_range(self, "scaler", scaler, 0.0, 1.0)
        self.scaler = _hyperparameter(scaler, "scaler", self)

    def compute_step(self, parameter, previous_step):
        norm = l2_norm([previous_step])
        not_finite = pt.or_(pt.isnan(norm), pt.isinf(norm))
        step = pt.switch(not_finite, (1 - self.scaler) * parameter, previous_step)
        return step, []

