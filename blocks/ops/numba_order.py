"""One order of a graph's nodes for every process, so that PyTensor's Numba cache keys do
not change from one process to the next.

PyTensor's on-disk Numba cache key of a graph (a compiled function, or the inner graph
of a ``Scan``) lists its nodes' keys in the graph's topological order. That order is not
unique, and PyTensor's rewrites leave graphs whose order differs between processes
(orderings kept in sets, whose iteration order follows object addresses): the inner
graph of a ``Scan`` gradient came in a different order about every other process. Such a
process finds no cache entry for the ``Scan``, hence none for the whole function, and
compiles it all again (a minute and a half for the attention model of issue 20) and
stores one more entry. Here every :class:`~pytensor.graph.fg.FunctionGraph` is
converted in :func:`canonical_order`: topological, with ties broken by what the nodes
compute, not where they live in memory.
"""

import hashlib
import heapq
import itertools

from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.link.numba.dispatch.basic import (
    numba_funcify_FunctionGraph,
    register_funcify_and_cache_key,
)

__all__ = ["canonical_order"]


def _digest(*parts):
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def canonical_order(fgraph):
    """The nodes of `fgraph` in a topological order that respects its extra orderings
    (those of in-place operations) and depends only on the graph's structure.

    Among the nodes ready at a step, the one whose structural digest (its op, the types
    and the digests of its inputs, recursively from the graph's inputs) is smallest comes
    first.
    """
    digests = {variable: _digest("input", str(index), str(variable.type))
               for index, variable in enumerate(fgraph.inputs)}

    def digest_of(variable):
        if variable not in digests:
            # A constant, or a variable of no node in the graph.
            value = str(variable.data) if isinstance(variable, Constant) else variable.name
            digests[variable] = _digest("constant", str(variable.type), str(value))
        return digests[variable]

    node_digests = {}
    for node in fgraph.toposort():
        digest = _digest(str(node.op), *(digest_of(i) for i in node.inputs))
        node_digests[node] = digest
        for index, output in enumerate(node.outputs):
            digests[output] = _digest(digest, str(index), str(output.type))
    before = {node: {i.owner for i in node.inputs if i.owner in node_digests}
              for node in node_digests}
    for node, required in fgraph.orderings().items():
        before[node].update(required)
    after = {node: [] for node in node_digests}
    for node, required in before.items():
        for other in required:
            after[other].append(node)
    waiting = {node: len(required) for node, required in before.items()}
    # The counter only keeps the heap from comparing nodes: equal digests mean nodes that
    # compute the same thing from the same inputs.
    counter = itertools.count()
    ready = [(node_digests[node], next(counter), node)
             for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, _, node = heapq.heappop(ready)
        order.append(node)
        for other in after[node]:
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, (node_digests[other], next(counter), other))
    if len(order) != len(node_digests):
        raise ValueError("canonical_order: the graph's orderings have a cycle")
    return order


@register_funcify_and_cache_key(FunctionGraph)
def _funcify_in_canonical_order(fgraph, node=None, **kwargs):
    order = canonical_order(fgraph)
    fgraph.toposort = lambda: list(order)
    try:
        return numba_funcify_FunctionGraph(fgraph, node=node, **kwargs)
    finally:
        del fgraph.toposort
