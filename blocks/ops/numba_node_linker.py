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

A node's cache key is PyTensor's (made while generating the node's code) and the node's
digest (:func:`node_digest`). Generating the code again in every process only to find
its key took a fifth of a second of a warm start of the attention encoder-decoder, so
the key is also remembered on disk (``<compiledir>/blocks_node_keys``) under a digest of
everything that generated code follows: the op and its properties (as the rewrite
cache digests them), the node's digest, the versions of our ops, PyTensor and Numba,
the CPU Numba compiles for, and PyTensor's flags. A later process that finds the key
there asks Numba's cache for the node's function without generating its code; only if
Numba must compile it after all (a signature the cache lacks) is the code generated.
"""

import logging
import os
import tempfile
import weakref
from hashlib import sha256

from pytensor import config
from pytensor.graph.basic import Constant
from pytensor.graph.op import Op
from pytensor.link.numba.linker import NumbaLinker
from pytensor.link.utils import compile_function_src

__all__ = ["graph_source", "node_digest", "node_function"]

#: Enters the cache keys of the node functions.
_KEY_SUFFIX = "blocks-node-2"

#: Node functions compiled in this process, by cache key and node digest.
_node_functions = {}

#: Enters the digests under which keys are remembered (:func:`remembered_key`).
_MEMO_FORMAT = "blocks-node-key-1"

#: Numba's description of the machine code it generates (target, CPU and its
#: features), once per process.
_codegen_magic = []

logger = logging.getLogger(__name__)


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


def environment_digest():
    """A digest of what a node's generated code follows besides the node: the versions
    of our ops, PyTensor and Numba, the CPU Numba compiles for, and PyTensor's flags
    (those that name directories left out)."""
    from blocks.ops.numba_cache import VERSION
    from blocks.rewrite_cache import _FLAGS_LEFT_OUT, _Digest

    if not _codegen_magic:
        from numba.core.registry import cpu_target

        _codegen_magic.append(repr(cpu_target.target_context.codegen().magic_tuple()))
    digest = _Digest()
    digest.text("format", _MEMO_FORMAT)
    digest.text("versions", f"{VERSION} {_KEY_SUFFIX} {_codegen_magic[0]}")
    for name in sorted(set(config._config_var_dict) - _FLAGS_LEFT_OUT):
        digest.text("flag", name)
        digest.value(getattr(config, name))
    digest.text("PYTENSOR_FLAGS", os.environ.get("PYTENSOR_FLAGS", ""))
    return digest.hexdigest()


def _rewrites_an_inner_graph(op):
    """Whether generating `op`'s code rewrites a graph inside it (a ``Scan``, an
    ``OpFromGraph``, or an op holding one): the result follows the rewrites registered
    with PyTensor, which the memo's digest does not see. Scalar ops' inner graphs
    (``Composite``) are compiled as they are."""
    from pytensor.graph.op import HasInnerGraph
    from pytensor.scalar.basic import ScalarOp

    if isinstance(op, HasInnerGraph) and not isinstance(op, ScalarOp):
        return True
    return any(isinstance(value, Op) and _rewrites_an_inner_graph(value)
               for value in (getattr(op, prop, None)
                             for prop in getattr(op, "__props__", None) or ()))


def memo_digest(node, environment):
    """The digest under which `node`'s cache key is remembered, or None where it is not
    remembered (an op that cannot be digested, or whose code generation rewrites an
    inner graph): its op and properties, :func:`node_digest` and `environment`
    (:func:`environment_digest`)."""
    from blocks.rewrite_cache import Uncacheable, _op_digest

    if _rewrites_an_inner_graph(node.op):
        return None
    try:
        op = _op_digest(node.op)
    except Uncacheable:
        return None
    return sha256(f"{environment} {op} {node_digest(node)}".encode()).hexdigest()[:40]


def _memo_path(digest):
    return os.path.join(str(config.compiledir), "blocks_node_keys", digest)


def remembered_key(digest):
    """The ``(name, key)`` of a node function remembered under `digest`, or None."""
    try:
        with open(_memo_path(digest)) as file_:
            name, key = file_.read().split()
    except (OSError, ValueError):
        return None
    return (name, key) if name.isidentifier() else None


def _remember_key(digest, name, key):
    path = _memo_path(digest)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w") as file_:
            file_.write(f"{name} {key}")
        # Renamed into place: processes writing at once never leave a partial entry.
        os.replace(temporary, path)
    except OSError as error:
        logger.debug("node key not remembered: %s", error)


def _full_key(key):
    return f"{key}_fastmath{int(config.numba__fastmath)}_{_KEY_SUFFIX}"


def _entry_point(name, key, jitable):
    """The Numba dispatcher of the function Python calls for a node whose code is
    `jitable` (None: not generated yet), stored in PyTensor's disk cache under `key`."""
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit

    # A function of its own, defined from a string, is what PyTensor's locator can key.
    wrapper = compile_numba_function_src(
        f"def {name}(*args): return jitable_func(*args)", name,
        # A module to name: the entry point's environment is rebuilt from it on loading.
        {"jitable_func": jitable, "__name__": __name__},
        cache_key=None if key is None else _full_key(key))
    return numba_njit(wrapper, final_function=True, cache=key is not None)


class _Deferred:
    """Stands in for Numba's compiler of an entry point whose node code was not
    generated (its key was remembered): the code is generated, from any live node of
    that key, only if Numba compiles rather than loads from its cache."""

    def __init__(self, compiler, wrapper, key):
        self.compiler, self.wrapper, self.key = compiler, wrapper, key
        self.nodes = []

    def add(self, node):
        self.nodes.append(weakref.ref(node))

    def compile(self, args, return_type):
        from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

        if self.wrapper.__globals__["jitable_func"] is None:
            node = next((n for n in (ref() for ref in self.nodes) if n is not None), None)
            if node is None:
                raise RuntimeError(
                    f"no graph holds a node of the remembered key {self.key} any more")
            jitable, key = numba_funcify_and_cache_key(node.op, node=node)
            if key is None or f"{key}_{node_digest(node)}" != self.key:
                # Never store another node's code under this key.
                raise RuntimeError(
                    f"the node's cache key {key} is not the remembered {self.key}")
            self.wrapper.__globals__["jitable_func"] = jitable
        return self.compiler.compile(args, return_type)

    def __getattr__(self, name):
        return getattr(self.compiler, name)


def node_function(node, memo=None, **kwargs):
    """A function computing `node` that Python can call: its Numba implementation behind
    an entry point, stored in PyTensor's disk cache when the op has a cache key.

    `memo` is the node's :func:`memo_digest`: a key remembered under it spares
    generating the node's code (the function is then loaded from the disk cache at its
    first call); a key found by generating the code is remembered there.
    """
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    remembered = remembered_key(memo) if memo is not None else None
    if remembered is not None:
        name, key = remembered
        function = _node_functions.get(key)
        if function is None:
            function = _node_functions[key] = _entry_point(name, key, None)
            function._compiler = _Deferred(function._compiler, function.py_func, key)
        if isinstance(function._compiler, _Deferred):
            function._compiler.add(node)
        return function
    jitable, key = numba_funcify_and_cache_key(node.op, node=node, **kwargs)
    if key is not None:
        key = f"{key}_{node_digest(node)}"
    name = getattr(jitable, "__name__", "node")
    if not name.isidentifier():
        name = "node"
    if key is not None and memo is not None:
        _remember_key(memo, name, key)
    if key in _node_functions:
        return _node_functions[key]
    function = _entry_point(name, key, jitable)
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
    memo = environment_digest() if config.numba__cache else None
    environment = {
        f"node_{index}": python_node_function(node) if runs_in_python(node)
        else node_function(node, memo=memo and memo_digest(node, memo),
                           storage_map=storage_map)
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
