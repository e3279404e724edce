"""Select variables of a graph by role, brick, application call or name."""

import re
from inspect import isclass

from blocks.bricks.base import Application, ApplicationCall, BoundApplication, Brick
from blocks.roles import has_roles

__all__ = ["VariableFilter", "get_brick", "get_application_call", "get_annotation"]


def get_annotation(var, cls):
    """The first annotation of `var` that is an instance of `cls`, or None."""
    for annotation in getattr(var.tag, "annotations", []):
        if isinstance(annotation, cls):
            return annotation
    return None


def get_brick(var):
    """The brick that created `var` (as an application output or a parameter), or None."""
    return get_annotation(var, Brick)


def get_application_call(var):
    """The :class:`~blocks.bricks.base.ApplicationCall` that created `var`, or None."""
    return get_annotation(var, ApplicationCall)


class VariableFilter:
    """Filters variables by role, brick, application, name and call.

    Every criterion given must hold; an empty filter keeps every variable.

    Parameters
    ----------
    roles : list of VariableRole, optional
        Keep variables with any of these roles (matched by kind: WEIGHT is a PARAMETER).
    bricks : list of Brick or Brick classes, optional
        Keep variables created by these bricks, or by bricks of these classes.
    each_role : bool, optional
        Require all the `roles` instead of any.
    name : str, optional
        The Blocks name of the variable (``var.tag.name``, e.g. ``'W'`` or ``'output'``).
    name_regex : str, optional
        A regular expression the Blocks name must match.
    theano_name : str, optional
        The PyTensor name of the variable (``var.name``, e.g. ``'linear_apply_output'``).
    theano_name_regex : str, optional
        A regular expression the PyTensor name must match.
    applications : list of Application or BoundApplication, optional
        Keep variables created by calls of these applications.
    call_id : str, optional
        The ``call_id`` in the metadata of the application call.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.graph import ComputationGraph
    >>> from blocks.roles import WEIGHT
    >>> mlp = MLP([Tanh(), None], [3, 4, 2])
    >>> cg = ComputationGraph(mlp.apply(pt.matrix('x')))
    >>> [mlp.children[0].get_hierarchical_name(w)
    ...  for w in VariableFilter(roles=[WEIGHT], bricks=[mlp.children[0]])(cg.variables)]
    ['mlp/linear_0.W']
    """

    def __init__(self, roles=None, bricks=None, each_role=False, name=None, name_regex=None,
                 theano_name=None, theano_name_regex=None, call_id=None, applications=None):
        if bricks is not None and not all(
                isinstance(brick, Brick) or (isclass(brick) and issubclass(brick, Brick))
                for brick in bricks):
            raise TypeError("VariableFilter: bricks must be bricks or brick classes")
        if applications is not None and not all(
                isinstance(app, (Application, BoundApplication)) for app in applications):
            raise TypeError(
                "VariableFilter: applications must be applications (e.g. Linear.apply or "
                "linear.apply)"
            )
        self.roles = roles
        self.bricks = bricks
        self.each_role = each_role
        self.name = name
        self.name_regex = name_regex
        self.theano_name = theano_name
        self.theano_name_regex = theano_name_regex
        self.call_id = call_id
        self.applications = applications

    def _keep(self, var):
        if self.roles is not None and not has_roles(var, self.roles, self.each_role):
            return False
        if self.bricks is not None and not self._from_bricks(var):
            return False
        blocks_name = getattr(var.tag, "name", None)
        if self.name is not None and blocks_name != self.name:
            return False
        if self.name_regex is not None and not (
                blocks_name is not None and re.match(self.name_regex, blocks_name)):
            return False
        if self.theano_name is not None and var.name != self.theano_name:
            return False
        if self.theano_name_regex is not None and not (
                var.name is not None and re.match(self.theano_name_regex, var.name)):
            return False
        if self.applications is not None and not self._from_applications(var):
            return False
        if self.call_id is not None:
            call = get_application_call(var)
            if call is None or call.metadata.get("call_id") != self.call_id:
                return False
        return True

    def _from_bricks(self, var):
        brick = get_brick(var)
        if brick is None:
            return False
        return any(
            isinstance(brick, wanted) if isclass(wanted) else brick is wanted
            for wanted in self.bricks
        )

    def _from_applications(self, var):
        call = get_application_call(var)
        if call is None:
            return False
        for wanted in self.applications:
            if isinstance(wanted, BoundApplication):
                if call.application is wanted:
                    return True
            elif call.application.application is wanted:
                return True
        return False

    def __call__(self, variables):
        """The variables that pass the filter, in order, without duplicates."""
        seen = set()
        return [
            var for var in variables
            if self._keep(var) and not (var in seen or seen.add(var))
        ]
