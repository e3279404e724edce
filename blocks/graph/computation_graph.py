"""The annotated computation graph: query the variables of a model, transform, compile."""

import warnings
from collections import OrderedDict
from itertools import chain

import pytensor
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import graph_inputs, io_toposort
from pytensor.scan.op import Scan
from pytensor.tensor.variable import TensorVariable

from blocks import backend
from blocks.roles import AUXILIARY, PARAMETER, has_roles
from blocks.utils import is_shared_variable, pack

__all__ = ["ComputationGraph"]


def _unique(iterable):
    seen = set()
    return [item for item in iterable if not (item in seen or seen.add(item))]


class ComputationGraph:
    r"""The graph of some output variables, with Blocks' annotations made searchable.

    A graph iterates over its :attr:`variables`, as Blocks' did.

    Parameters
    ----------
    outputs : Variable or list of Variable
        The outputs of the graph.

    Attributes
    ----------
    outputs : list of Variable
    variables : list of Variable
        All variables of the graph in topological order, followed (after the variables
        they are annotated on) by the auxiliary variables of the bricks and application
        calls whose variables appear in the graph.
    updates : OrderedDict
        The updates collected from those annotations.
    scans : list of Scan
        The ``Scan`` ops of the graph: the loops of recurrent bricks built with
        ``fused = False``. :class:`~blocks.bricks.recurrent.SimpleRecurrent`,
        :class:`~blocks.bricks.recurrent.LSTM`,
        :class:`~blocks.bricks.recurrent.GatedRecurrent` and
        :class:`~blocks.bricks.attention.AttentionRecurrent` run their whole loop as one
        fused node by default, which is not a scan; to reach their step graph (and
        :attr:`scan_variables`), set ``brick.fused = False`` before applying the brick
        (the step graph is then also kept in the call's ``inner_inputs`` and
        ``inner_outputs``, see :func:`~blocks.bricks.recurrent.recurrent`).
    scan_variables : list of Variable
        The variables of the inner graphs of :attr:`scans`.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.initialization import Constant
    >>> mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=Constant(0.1),
    ...           biases_init=Constant(0))
    >>> mlp.initialize()
    >>> x = pt.matrix('x')
    >>> cg = ComputationGraph(mlp.apply(x).sum())
    >>> cg.inputs
    [x]
    >>> sorted(p.name for p in cg.parameters)
    ['W', 'W', 'b', 'b']
    >>> [total] = cg.get_function()(np.ones((1, 3)))
    >>> round(float(total), 4)
    0.2331
    """

    def __init__(self, outputs):
        self.outputs = pack(outputs)
        for output in self.outputs:
            if not isinstance(output, Variable):
                raise TypeError(
                    f"ComputationGraph: outputs must be symbolic variables, got "
                    f"{type(output).__name__}"
                )
        self._collect_variables()

    def _collect_variables(self):
        apply_nodes = io_toposort(list(graph_inputs(self.outputs)), self.outputs)
        self.scans = _unique(node.op for node in apply_nodes if isinstance(node.op, Scan))
        self._scan_graphs = [
            ComputationGraph(list(scan.inner_outputs)) for scan in self.scans
        ]
        # Every variable consumed by a node, in the order the nodes run, then the outputs.
        main_variables = _unique(chain(
            (var for node in apply_nodes for var in node.inputs), self.outputs))

        variables = []
        updates = OrderedDict()
        seen_annotations = []
        seen_variables = set(main_variables)
        for var in main_variables:
            variables.append(var)
            for annotation in getattr(var.tag, "annotations", []):
                if any(annotation is seen for seen in seen_annotations):
                    continue
                seen_annotations.append(annotation)
                for auxiliary in annotation.auxiliary_variables:
                    if auxiliary not in seen_variables:
                        seen_variables.add(auxiliary)
                        variables.append(auxiliary)
                for shared, update in annotation.updates.items():
                    if shared in updates and updates[shared] is not update:
                        raise ValueError(
                            f"ComputationGraph: two updates were collected for the shared "
                            f"variable {shared}"
                        )
                    updates[shared] = update
        self.variables = variables
        self.updates = updates

    def __iter__(self):
        return iter(self.variables)

    @property
    def inputs(self):
        """The free symbolic inputs (neither shared variables nor constants)."""
        return [
            var for var in self.variables
            if var.owner is None and not is_shared_variable(var)
            and not isinstance(var, Constant)
        ]

    @property
    def shared_variables(self):
        """The shared variables of the graph."""
        return [var for var in self.variables if is_shared_variable(var)]

    @property
    def parameters(self):
        """The shared variables with the PARAMETER role (weights, biases, ...)."""
        return [var for var in self.shared_variables if has_roles(var, [PARAMETER])]

    @property
    def auxiliary_variables(self):
        """The variables with the AUXILIARY role."""
        return [var for var in self.variables if has_roles(var, [AUXILIARY])]

    @property
    def intermediary_variables(self):
        """The variables that are neither inputs, shared variables, constants nor outputs."""
        return [
            var for var in self.variables
            if var.owner is not None and var not in self.outputs
        ]

    @property
    def scan_variables(self):
        """The variables of the inner graphs of the scans in this graph."""
        return [var for graph in self._scan_graphs for var in graph.variables]

    def dict_of_inputs(self):
        """The inputs keyed by their names."""
        return OrderedDict((var.name, var) for var in self.inputs)

    def replace(self, replacements):
        """A new graph in which the variables of `replacements` are replaced.

        Parameters
        ----------
        replacements : dict or list of pairs
            Variable to replace, mapped to its replacement. A replacement may depend on
            the variable it replaces (``{x: 2 * x}``). Replacements are applied one at a
            time in the topological order of the replaced variables, and each one also
            applies inside the replacements still to come, so ``{y: x * 2, z: y * 3}``
            turns ``z`` into ``x * 2 * 3``.

        Returns
        -------
        ComputationGraph
            The original graph is left untouched.

        Warns
        -----
        UserWarning
            As Blocks did, when a replaced variable is not part of the graph (it is then
            ignored) or is an auxiliary variable.

        Examples
        --------
        >>> import pytensor.tensor as pt
        >>> x = pt.scalar('x')
        >>> y = x + 2
        >>> z = y + 3
        >>> cg = ComputationGraph([z + 5])
        >>> new = cg.replace({y: x * 2, z: y * 3})
        >>> float(new.outputs[0].eval({x: 3.0}))
        23.0
        """
        replacements = list(OrderedDict(replacements).items())
        for old, new in replacements:
            if not isinstance(old, Variable) or not isinstance(new, Variable):
                raise TypeError(
                    "ComputationGraph.replace: replacements must map variables to variables"
                )
            old_ndim = getattr(old.type, "ndim", None)
            new_ndim = getattr(new.type, "ndim", None)
            if old_ndim is not None and new_ndim is not None and old_ndim != new_ndim:
                raise ValueError(
                    f"ComputationGraph.replace: {old} has {old_ndim} dimensions but its "
                    f"replacement has {new_ndim}"
                )
        replacements = self._in_topological_order(OrderedDict(replacements))
        outputs = list(self.outputs)
        keys = [old for old, _ in replacements]
        values = [new for _, new in replacements]
        while keys:
            old, new = keys.pop(0), values.pop(0)
            cloned = clone_replace(outputs + keys + values, replace={old: new})
            outputs = cloned[:len(outputs)]
            keys = cloned[len(outputs):len(outputs) + len(keys)]
            values = cloned[len(outputs) + len(keys):]
        return ComputationGraph(outputs)

    def _in_topological_order(self, replacements):
        """The pairs of `replacements` whose variable is in the graph, in graph order."""
        ordered = []
        for variable in self.variables:
            if variable in replacements:
                if has_roles(variable, [AUXILIARY]):
                    warnings.warn(
                        f"ComputationGraph.replace was asked to replace a variable "
                        f"({variable}) that is an auxiliary variable", stacklevel=3)
                ordered.append((variable, replacements.pop(variable)))
        if replacements:
            warnings.warn(
                f"ComputationGraph.replace was asked to replace variable(s) "
                f"({', '.join(str(v) for v in replacements)}) that are not a part of the "
                f"computational graph; they are ignored", stacklevel=3)
        return ordered

    def get_function(self, additional_updates=None, **kwargs):
        """Compile a function from the inputs to the outputs, applying the updates.

        Parameters
        ----------
        additional_updates : dict or list of pairs, optional
            Updates applied besides those collected from the graph.
        **kwargs
            Passed to :func:`blocks.backend.function` (``mode`` included: by default
            ``blocks.config.mode``, else PyTensor's default).
        """
        updates = OrderedDict(self.updates)
        if additional_updates:
            updates.update(OrderedDict(additional_updates))
        return backend.function(self.inputs, self.outputs, updates=updates, **kwargs)

    #: The name Blocks used for :meth:`get_function`.
    get_theano_function = get_function

    def get_snapshot(self, data):
        """The values of all tensor variables of the graph for the given input data.

        Parameters
        ----------
        data : dict
            Input name to value.

        Returns
        -------
        OrderedDict
            Variable to its value.
        """
        missing = [var.name for var in self.inputs if var.name not in data]
        if missing:
            raise KeyError(f"ComputationGraph.get_snapshot: no data for inputs {missing}")
        variables = [var for var in self.variables if isinstance(var, TensorVariable)]
        function = pytensor.function(
            self.inputs, variables, on_unused_input="ignore", allow_input_downcast=True
        )
        values = function(*(data[var.name] for var in self.inputs))
        return OrderedDict(zip(variables, values))

    def has_inputs(self, variable):
        """Whether `variable` depends on the free inputs of this graph."""
        return bool(set(graph_inputs([variable])) & set(self.inputs))
