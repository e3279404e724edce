"""PyTensor's Numba linker runs a graph's nodes, each compiled by Numba, from Python.

PyTensor's Numba linker compiles one function for the whole graph, which calls each
node's compiled function. Numba copies the machine code of every function a function
calls into the caller, so compiling the graph's function makes LLVM link and generate
code for every node once more: more than a third of the cold compile of the attention
encoder-decoder (``benchmarks/compile.py``'s profile, issue 20), and paid again by every
function of a model (training, monitoring, generation) for the nodes they share.

Here the linker (every ``NumbaLinker``, PyTensor's default) compiles each node's function
alone, with the entry point Python calls, and runs them in order from a function written
in Python. Nodes that NumPy computes as fast (shapes, views, indexing, single ufuncs,
BLAS calls: :mod:`blocks.ops.python_nodes`) run their op's Python implementation. Nodes
that compute the same thing (equal cache keys: the training and the monitoring functions
of a model share most of theirs) compile once per process, and every node's function is
stored in PyTensor's disk cache. What it costs at run time is one
Python call per node, about a microsecond each.
"""

from hashlib import sha256

from pytensor import config
from pytensor.graph.basic import Constant
from pytensor.link.numba.linker import NumbaLinker
from pytensor.link.utils import compile_function_src

__all__ = ["graph_source", "node_digest", "node_function"]

#: Enters the cache keys of the node functions.
_KEY_SUFFIX = "blocks-node-2"

#: Node functions compiled in this process, by cache key and node digest.
_node_functions = {}


def node_digest(node):
    """What a node's code may depend on beyond its op: the types of its inputs and
    outputs, static shapes included, and the values of its constant inputs.

    An op's cache key covers only the op: the function PyTensor generates for a node can
    also follow its inputs' static shapes (which axes broadcast) or a constant input's
    value, and Numba's own key has only dtypes, ranks and layouts. Two nodes of equal ops
    and different static shapes loaded each other's code from the disk cache, and a model
    trained with it gave other results warm than cold.
    """
    from pytensor.link.numba.dispatch.basic import cache_key_for_constant

    parts = [str(variable.type) for variable in node.inputs + node.outputs]
    parts += [cache_key_for_constant(variable.data) if isinstance(variable, Constant)
              else "variable" for variable in node.inputs]
    return sha256("\n".join(parts).encode()).hexdigest()[:24]


def node_function(node, **kwargs):
    """A function computing `node` that Python can call: its Numba implementation behind
    an entry point, stored in PyTensor's disk cache when the op has a cache key."""
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit

    jitable, key = numba_funcify_and_cache_key(node.op, node=node, **kwargs)
    if key is not None:
        key = f"{key}_{node_digest(node)}"
    if key in _node_functions:
        return _node_functions[key]
    name = getattr(jitable, "__name__", "node")
    if not name.isidentifier():
        name = "node"
    # A function of its own, defined from a string, is what PyTensor's locator can key.
    wrapper = compile_numba_function_src(
        f"def {name}(*args): return jitable_func(*args)", name,
        # A module to name: the entry point's environment is rebuilt from it on loading.
        {"jitable_func": jitable, "__name__": __name__},
        cache_key=None if key is None
        else f"{key}_fastmath{int(config.numba__fastmath)}_{_KEY_SUFFIX}")
    function = numba_njit(wrapper, final_function=True, cache=key is not None)
    if key is not None:
        _node_functions[key] = function
    return function


def graph_source(fgraph, order, name="graph"):
    """The source of a Python function running `order`, the nodes of `fgraph`, given
    the graph's inputs, and the names it expects in its globals: ``node_<i>`` for the
    i-th node's function and ``constant_<j>`` for the constants.

    Each intermediate result is deleted after its last use, as a compiled graph frees it.
    """
    names, constants = {}, []

    def name_of(variable):
        if variable not in names:
            if isinstance(variable, Constant):
                names[variable] = f"constant_{len(constants)}"
                constants.append(variable)
            else:
                names[variable] = f"v{len(names)}"
        return names[variable]

    arguments = [name_of(variable) for variable in fgraph.inputs]
    last_use = {}
    for index, node in enumerate(order):
        for variable in node.inputs:
            last_use[variable] = index
    kept = set(fgraph.inputs) | set(fgraph.outputs)
    lines = [f"def {name}({', '.join(arguments)}):"]
    for index, node in enumerate(order):
        outputs = ", ".join(name_of(variable) for variable in node.outputs)
        inputs = ", ".join(name_of(variable) for variable in node.inputs)
        lines.append(f"    {outputs} = node_{index}({inputs})")
        dead = [names[v] for v in node.inputs
                if last_use.get(v) == index and v not in kept and not isinstance(v, Constant)]
        dead += [names[v] for v in node.outputs if v not in last_use and v not in kept]
        if dead:
            lines.append(f"    del {', '.join(sorted(set(dead)))}")
    results = [name_of(variable) for variable in fgraph.outputs]
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    return "\n".join(lines), constants


def _fgraph_convert(self, fgraph, order=None, storage_map=None, **kwargs):
    # Imported here: it imports our kernels, and Numba with them.
    from blocks.ops.python_nodes import python_node_function, runs_in_python

    order = list(fgraph.toposort() if order is None else order)
    source, constants = graph_source(fgraph, order)
    environment = {f"node_{index}": python_node_function(node) if runs_in_python(node)
                   else node_function(node, storage_map=storage_map)
                   for index, node in enumerate(order)}
    environment.update({f"constant_{index}": constant.data
                        for index, constant in enumerate(constants)})
    return compile_function_src(source, "graph", environment)


def _jit_compile(self, function):
    # The graph's function is Python: nothing to compile.
    return function


# Imported with PyTensor, before any Numba compilation (this module imports Numba only
# when a graph is converted).
NumbaLinker.fgraph_convert = _fgraph_convert
NumbaLinker.jit_compile = _jit_compile
