"""A table of a model's bricks, in the manner of Keras' ``model.summary()``.

Each brick of the hierarchy gets a row: its name and type (indented under its parent),
the shapes of its outputs in the model's graph and the number of parameter values it and
its descendants hold. The totals count each parameter once, and tell apart the values
trained by gradient (the PARAMETER role) from the others (e.g. batch normalization's
population statistics).

Output shapes come from the variables' static types, completed by the bricks' own
``get_dim`` where the type does not know an axis: ``None`` stands for an axis known only
when data flows (usually the batch).
"""

from pytensor.tensor.elemwise import Elemwise

from blocks.filter import get_application_call, get_brick
from blocks.roles import OUTPUT, PARAMETER, has_roles

__all__ = ["summary_rows", "format_summary"]


def _size(parameter):
    return int(parameter.get_value(borrow=True).size)


def _subtree(brick):
    yield brick
    for child in brick.children:
        yield from _subtree(child)


def _with_brick_dims(brick, variable, shape):
    """`shape` with the trailing axes that ``brick.get_dim`` knows filled in."""
    try:
        dims = brick.get_dim(variable.tag.name)
    except Exception:  # noqa: BLE001 - a brick without dimension information for it
        return shape
    if isinstance(dims, bool) or not isinstance(dims, (int, tuple, list)):
        return shape
    known = [dims] if isinstance(dims, int) else list(dims)
    if not 0 < len(known) <= len(shape):
        return shape
    for axis, dim in zip(range(len(shape) - len(known), len(shape)), known):
        if shape[axis] is None and isinstance(dim, int):
            shape[axis] = dim
    return shape


def _outputs_by_brick(variables):
    """Distinct output shapes per brick id, in graph order.

    The shapes are propagated in graph order: a variable's static type, the axes that
    elementwise operations keep from their inputs (activations, copies) and the dims
    that the brick of an output knows.
    """
    known = {}
    shapes = {}
    for variable in variables:
        if not hasattr(variable.type, "shape"):
            continue
        shape = list(variable.type.shape)
        owner = variable.owner
        if owner is not None and isinstance(owner.op, Elemwise):
            for input_ in owner.inputs:
                input_shape = known.get(input_, ())
                if len(input_shape) != len(shape):
                    continue
                for axis, dim in enumerate(input_shape):
                    if shape[axis] is None and dim not in (None, 1):
                        shape[axis] = dim
        brick = get_brick(variable)
        is_output = (brick is not None and get_application_call(variable) is not None
                     and has_roles(variable, [OUTPUT]))
        if is_output:
            shape = _with_brick_dims(brick, variable, shape)
        known[variable] = shape = tuple(shape)
        if is_output:
            found = shapes.setdefault(id(brick), [])
            if shape not in found:
                found.append(shape)
    return shapes


def _persistent_by_brick(model):
    """The shared variables of each brick id: its parameters, and those of the graph
    annotated with it (e.g. batch normalization's population statistics)."""
    owned = {}
    for brick in model.get_top_bricks():
        for member in _subtree(brick):
            for parameter in member.parameters:
                if parameter is not None:
                    owned.setdefault(id(member), {})[id(parameter)] = parameter
    for variable in model.shared_variables:
        brick = get_brick(variable)
        if brick is not None:
            owned.setdefault(id(brick), {})[id(variable)] = variable
    return owned


def summary_rows(model):
    """The rows of the summary of `model` and its totals.

    Parameters
    ----------
    model : :class:`~blocks.model.Model`

    Returns
    -------
    rows : list of tuple
        ``(depth, brick, output_shapes, parameter_count)`` in the order of the hierarchy;
        `output_shapes` is a list of tuples (empty where the brick has no output in the
        graph) and `parameter_count` counts the values of the brick and its descendants.
    totals : dict
        ``total``, ``trainable`` and ``non_trainable`` numbers of values held by the
        model's bricks and the graph's parameters, each counted once.
    """
    # Shapes inside loops (scan's inner graph: one step) only for bricks applied there.
    shapes = _outputs_by_brick(model.scan_variables)
    shapes.update(_outputs_by_brick(model.variables))
    owned = _persistent_by_brick(model)
    rows = []

    def visit(brick, depth):
        held = {key: value for member in _subtree(brick)
                for key, value in owned.get(id(member), {}).items()}
        rows.append((depth, brick, shapes.get(id(brick), []),
                     sum(_size(p) for p in held.values())))
        for child in brick.children:
            visit(child, depth + 1)

    for brick in model.get_top_bricks():
        visit(brick, 0)
    persistent = {key: value for held in owned.values() for key, value in held.items()}
    persistent.update((id(p), p) for p in model.get_parameter_dict().values())
    trainable = sum(_size(p) for p in persistent.values() if has_roles(p, [PARAMETER]))
    total = sum(_size(p) for p in persistent.values())
    return rows, {"total": total, "trainable": trainable, "non_trainable": total - trainable}


def _format_shapes(shapes):
    if not shapes:
        return "-"
    return ", ".join("(" + ", ".join(str(d) for d in shape)
                     + ("," if len(shape) == 1 else "") + ")" for shape in shapes)


def format_summary(model):
    """The summary of `model` as lines of text (see :meth:`blocks.model.Model.summary`)."""
    rows, totals = summary_rows(model)
    table = [("Brick (type)", "Output shape", "Parameters")] + [
        ("  " * depth + f"{brick.name} ({type(brick).__name__})", _format_shapes(shapes),
         f"{count:,}")
        for depth, brick, shapes, count in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]

    def line(row):
        return (f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"
                .rstrip())

    rule = "=" * (sum(widths) + 4)
    return ([line(table[0]), rule] + [line(row) for row in table[1:]] + [
        rule,
        f"Total parameters: {totals['total']:,}",
        f"Trainable parameters: {totals['trainable']:,}",
        f"Non-trainable parameters: {totals['non_trainable']:,}",
    ])
