"""Gradient descent with a pluggable step rule."""

import logging
from collections import OrderedDict
from collections.abc import Mapping
from functools import cached_property

import pytensor
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedInputError
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import ancestors

from blocks.algorithms.base import UpdatesAlgorithm
from blocks.algorithms.step_rules import Scale, StepRule, l2_norm
from blocks.filter import get_brick
from blocks.graph import ComputationGraph
from blocks.utils import is_shared_variable

__all__ = ["GradientDescent"]

logger = logging.getLogger(__name__)


def _describe(parameter):
    """A parameter's hierarchical name (``mlp/linear_0.W``) when a brick owns it."""
    brick = get_brick(parameter)
    if brick is not None:
        try:
            return brick.get_hierarchical_name(parameter)
        except ValueError:
            return f"{brick.name}.{parameter.name}"
    return parameter.name or str(parameter)


class GradientDescent(UpdatesAlgorithm):
    """Gradient descent: ``parameter = parameter - step``, the steps given by a step rule.

    The step rule turns the gradients into steps (``Scale(learning_rate)`` gives plain
    SGD). The updates that the bricks collected in the cost's graph (e.g. the population
    statistics of batch normalization) are applied too, unless an update of the same
    shared variable is given explicitly (`updates`, :meth:`add_updates`): that one wins.

    Parameters
    ----------
    cost : TensorVariable, optional
        The scalar to minimize. Needed unless `gradients` are given.
    parameters : list of SharedVariable, optional
        The parameters to train. Defaults to ``ComputationGraph(cost).parameters``, or
        the keys of `gradients` when those are given.
    step_rule : StepRule, optional
        Defaults to ``Scale()`` (a learning rate of 1).
    gradients : dict or list of pairs, optional
        Parameter -> gradient, when already computed. As in Blocks, when `parameters`
        are given too but differ from the keys of `gradients`, an OrderedDict (or a
        list of pairs) of gradients wins, with a warning, and a plain dict is refused.
        `known_grads` and `consider_constant` cannot be given with `gradients`.
    known_grads : dict, optional
        Passed to :func:`pytensor.grad`: gradients of the cost with respect to some
        intermediate variables.
    consider_constant : list of Variable, optional
        Passed to :func:`pytensor.grad`: variables through which no gradient flows.
    updates, theano_func_kwargs, on_unused_sources
        See :class:`~blocks.algorithms.UpdatesAlgorithm`.

    Attributes
    ----------
    gradients : OrderedDict
        Parameter -> gradient.
    steps : OrderedDict
        Parameter -> step (what is subtracted from it).
    total_gradient_norm, total_step_norm : TensorVariable
        The L2 norms of all gradients and all steps together, e.g. for monitoring;
        built when first asked for (the training function does not need them).
    step_rule_updates : list of pairs
        The updates of the step rule's state.

    Examples
    --------
    Minimize ``(w - 3)^2`` with a learning rate of 0.25:

    >>> import pytensor.tensor as pt
    >>> from blocks.algorithms import Scale
    >>> w = pytensor.shared(np.array(1.0), name='w')
    >>> x = pt.scalar('x')
    >>> algorithm = GradientDescent(cost=(w - x) ** 2, parameters=[w],
    ...                             step_rule=Scale(learning_rate=0.25))
    >>> algorithm.initialize()
    >>> algorithm.process_batch({'x': np.array(3.0)})
    >>> float(w.get_value())  # 1 - 0.25 * 2 * (1 - 3)
    2.0
    """

    def __init__(self, cost=None, parameters=None, step_rule=None, gradients=None,
                 known_grads=None, consider_constant=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if cost is None and gradients is None:
            raise ValueError(
                f"{owner}: can't infer gradients; no cost specified (give a cost, or "
                f"gradients already computed)")
        if gradients is not None and (known_grads or consider_constant is not None):
            given = "known_grads" if known_grads else "consider_constant"
            raise ValueError(
                f"{owner}: {given} has no effect when gradients are passed in; give a cost "
                f"instead of the gradients to use it")
        if cost is not None:
            self._check_cost(cost)
        self.cost = cost
        self.known_grads = known_grads
        self.consider_constant = consider_constant
        if gradients is not None:
            gradients = self._check_gradients(gradients, parameters)
            parameters = list(gradients)
        elif parameters is None:
            parameters = ComputationGraph(cost).parameters
        self.parameters = self._check_parameters(parameters)
        if gradients is None:
            gradients = self._compute_gradients()
        self.gradients = gradients

        if step_rule is None:
            step_rule = Scale()
        if not isinstance(step_rule, StepRule):
            raise TypeError(
                f"{owner}: step_rule must be a StepRule, got {type(step_rule).__name__}")
        self.step_rule = step_rule
        self.steps, self.step_rule_updates = step_rule.compute_steps(self.gradients)
        missing = [_describe(p) for p in self.parameters if p not in self.steps]
        if missing:
            raise ValueError(
                f"{owner}: the step rule {type(step_rule).__name__} gave no step for "
                f"{missing}")

        self.add_updates([
            (parameter, pt.cast(parameter - self.steps[parameter], parameter.dtype))
            for parameter in self.parameters])
        self.add_updates(self.step_rule_updates)
        if cost is not None:
            self.add_graph_updates(ComputationGraph(cost).updates)

    # Built when first asked for: a graph of every gradient (every step), 30 ms for a
    # model of 30 parameters, that the training function does not use.
    @cached_property
    def total_gradient_norm(self):
        norm = l2_norm(self.gradients.values())
        norm.name = "total_gradient_norm"
        return norm

    @cached_property
    def total_step_norm(self):
        norm = l2_norm(self.steps.values())
        norm.name = "total_step_norm"
        return norm

    def _check_cost(self, cost):
        owner = type(self).__name__
        if not isinstance(cost, Variable):
            raise TypeError(
                f"{owner}: cost must be a symbolic variable, got {type(cost).__name__}")
        ndim = getattr(cost.type, "ndim", None)
        if ndim != 0:
            raise ValueError(
                f"{owner}: the cost must be a scalar, expected ndim=0, found ndim={ndim} "
                f"(cost {cost.name or cost!r}); sum or average it, e.g. cost.mean()"
            )
        if not str(cost.dtype).startswith("float"):
            raise TypeError(
                f"{owner}: the cost must have a float dtype to be differentiated, found "
                f"{cost.dtype}")

    def _check_gradients(self, gradients, parameters):
        owner = type(self).__name__
        # An OrderedDict or a list of pairs has an order of its own that the user chose.
        ordered = isinstance(gradients, OrderedDict) or not isinstance(gradients, Mapping)
        gradients = OrderedDict(
            gradients.items() if isinstance(gradients, Mapping) else gradients)
        if parameters is not None and set(parameters) != set(gradients):
            mismatch = (
                f"parameters without a gradient: "
                f"{[_describe(p) for p in parameters if p not in gradients]}, gradients "
                f"without a parameter: {[_describe(p) for p in gradients if p not in parameters]}")
            if not ordered:
                # Blocks' rule: only an ordered mapping fixes the order of the parameters.
                raise ValueError(
                    f"{owner}: parameters and the keys of gradients must be the same "
                    f"variables, and the gradients are not an OrderedDict from which the "
                    f"parameters could be taken in a deterministic order; {mismatch}")
            logger.warning(
                "%s: the parameters list does not match the keys of the gradient "
                "dictionary; using the parameters of the gradients (%s)", owner, mismatch)
        for parameter, gradient in gradients.items():
            if not isinstance(gradient, Variable):
                gradients[parameter] = pt.as_tensor_variable(gradient)
        return gradients

    def _check_parameters(self, parameters):
        owner = type(self).__name__
        parameters = list(parameters)
        if not parameters:
            raise ValueError(
                f"{owner}: can't infer gradients; no parameters specified (the cost's graph "
                f"has no shared variable with the PARAMETER role; pass parameters=[...])"
            )
        not_shared = [p for p in parameters if not is_shared_variable(p)]
        if not_shared:
            raise TypeError(
                f"{owner}: parameters must be shared variables; not shared: {not_shared}")
        if len(set(parameters)) != len(parameters):
            repeated = sorted({_describe(p) for p in parameters if parameters.count(p) > 1})
            raise ValueError(f"{owner}: parameters listed more than once: {repeated}")
        return parameters

    def _compute_gradients(self):
        owner = type(self).__name__
        roots = [self.cost] + list(self.known_grads or {})
        reachable = set(ancestors(roots))
        disconnected = [_describe(p) for p in self.parameters if p not in reachable]
        if disconnected:
            raise ValueError(
                f"{owner}: these parameters do not feed the cost, so they have no gradient: "
                f"{disconnected}"
            )
        try:
            gradients = self._grad(self.parameters)
        except DisconnectedInputError as error:
            # Only the parameters cut off by consider_constant get here; name them.
            blocked = []
            for parameter in self.parameters:
                try:
                    self._grad([parameter])
                except DisconnectedInputError:
                    blocked.append(_describe(parameter))
            raise ValueError(
                f"{owner}: these parameters get no gradient from the cost (are they behind "
                f"consider_constant?): {blocked}"
            ) from error
        return OrderedDict(zip(self.parameters, gradients))

    def _grad(self, parameters):
        return pytensor.grad(self.cost, parameters, known_grads=self.known_grads,
                             consider_constant=self.consider_constant)
