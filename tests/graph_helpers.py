"""Helpers shared by test modules in several folders."""

import pytensor


def op_names(outputs):
    """The names of the op types in the graph of `outputs` (a variable or a list)."""
    outputs = outputs if isinstance(outputs, list) else [outputs]
    nodes = pytensor.graph.traversal.applys_between(
        pytensor.graph.traversal.graph_inputs(outputs), outputs)
    return {type(node.op).__name__ for node in nodes}
