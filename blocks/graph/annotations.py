"""Annotations attach bricks and application calls to the variables they produced."""

from collections import OrderedDict

from blocks.roles import AUXILIARY, add_role

__all__ = ["Annotation", "add_annotation"]


def add_annotation(var, annotation):
    """Append `annotation` to ``var.tag.annotations`` (once)."""
    annotations = getattr(var.tag, "annotations", [])
    if not any(existing is annotation for existing in annotations):
        var.tag.annotations = annotations + [annotation]


class Annotation:
    """Something that annotates variables and carries auxiliary variables and updates.

    Bricks and application calls are annotations. A :class:`~blocks.graph.ComputationGraph`
    finds the annotations of its variables and collects their auxiliary variables and
    updates.

    Attributes
    ----------
    auxiliary_variables : list
        Variables computed on the side (monitoring values, regularization terms...).
    updates : OrderedDict
        Shared variable to update expression, applied whenever the graph is run.
    """

    def __init__(self):
        self.auxiliary_variables = []
        self.updates = OrderedDict()

    def add_auxiliary_variable(self, variable, roles=None, name=None):
        """Annotate `variable` with this annotation, the AUXILIARY role and `roles`.

        Parameters
        ----------
        variable : Variable
        roles : list of VariableRole, optional
        name : str, optional
            Sets ``variable.tag.name``; subclasses may also derive ``variable.name`` from it.
        """
        add_annotation(variable, self)
        if name is not None:
            variable.name = name
            variable.tag.name = name
        add_role(variable, AUXILIARY)
        for role in roles or []:
            add_role(variable, role)
        self.auxiliary_variables.append(variable)
