"""A disk cache of PyTensor's rewritten graphs: a warm process skips graph rewriting.

Compiling a function runs PyTensor's rewrites on its graph
(``FunctionMaker.prepare_fgraph``): seconds for a recurrent model, paid again by every
process even when each node's compiled code comes from the disk cache. :func:`install`
(run when PyTensor is first imported after ``import blocks``) wraps ``prepare_fgraph``:

- a *key* digests everything the rewritten graph depends on: the structure of the graph
  (ops and their properties, the inputs' types and positions, constants by value, the
  outputs and updates; not the variables' names or ids), the inputs' and outputs'
  ``mutable``/``borrow`` flags, the mode's rewrite query and linker, the rewrites
  registered with PyTensor (by name), PyTensor's flags, and the versions of PyTensor and
  of blocks (:data:`blocks.ops.numba_cache.VERSION` digests the sources of our ops and
  rewrites);
- on a miss the graph is rewritten as PyTensor does (its rewrites, then its
  ``insert_deepcopy``), then stored in ``<compiledir>/blocks_rewritten/<key>.pkl``: the
  prepared graph's nodes in order, each input named by its position in the graph (inputs
  and shared variables are never copied), with the variables' names but not their tags
  (traces, the bricks' annotations). A flat list rather than the pickled output
  variables: a deep graph would exceed Python's recursion limit in pickle. It is written
  to a temporary file and renamed, so that processes writing at once are safe;
- on a hit the stored nodes replace the graph's outputs, PyTensor's ``DestroyHandler`` is
  attached (the linker and the function ask it which inputs are destroyed in place) and
  the graph is validated, which refuses a stored in-place op that would destroy an input
  the function must keep. Where PyTensor's ``insert_deepcopy`` copies outputs follows
  from the rewritten graph and the outputs' flags, so the stored graph has its copies.

A graph the key cannot describe (an op that neither has ``__props__`` nor pickles), a
mode other than a plain ``Mode`` (``DebugMode`` exists to run the rewrites) or a rewriter
given as an object rather than a query is rewritten without the cache; an entry that
cannot be read or validated is discarded and the graph rewritten. Compiling never fails
because of the cache. ``BLOCKS_REWRITE_CACHE=0`` (or ``blocks.config.rewrite_cache =
False``) turns it off; :data:`counters` counts hits, misses and the rest in this process.

The inner graph of a ``Scan`` is rewritten when PyTensor's Numba dispatch converts the
``Scan`` node, not by ``prepare_fgraph``: the rewriter that dispatch asks for goes
through the cache as well (keyed by the inner graph, the inputs it may destroy and the
same environment). The features other than the ``DestroyHandler`` that rewrites attach
(``ShapeFeature``, ``MergeFeature``...) are not attached on a hit: they serve the
rewrites, not the linker.

Rewrites are keyed by the code versions of PyTensor and blocks, and by the names, tags
and positions of all the rewrites registered with PyTensor: a rewrite of your own that
you edit without renaming it is not seen to change (run with ``BLOCKS_REWRITE_CACHE=0``
while you work on one, or delete the cache folder). The folder is never pruned; its
entries take from a kilobyte to a megabyte per compiled function.

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> from blocks.rewrite_cache import graph_key
>>> x = pt.vector('x')
>>> fgraph = pytensor.graph.FunctionGraph([x], [2 * x])
>>> y = pt.vector('y')
>>> graph_key(fgraph) == graph_key(pytensor.graph.FunctionGraph([y], [2 * y]))
True
>>> graph_key(fgraph) == graph_key(pytensor.graph.FunctionGraph([y], [3 * y]))
False
"""

import dataclasses
import hashlib
import logging
import os
import pickle
import tempfile
import time
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pytensor
from pytensor.compile import maker
from pytensor.compile.debug import profiling as compile_profiling
from pytensor.compile.mode import Mode, get_mode
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.destroyhandler import DestroyHandler
from pytensor.graph.fg import AbstractFunctionGraph, FunctionGraph
from pytensor.graph.op import Op
from pytensor.graph.rewriting.db import RewriteDatabase, RewriteDatabaseQuery
from pytensor.graph.type import Type

from blocks.config import config
from blocks.ops.kernel_compile import prefetch_graph

__all__ = ["counters", "graph_key", "install", "cache_directory", "FORMAT"]

logger = logging.getLogger(__name__)

#: Enters every key: changed when what an entry holds, or how keys are made, changes.
FORMAT = "blocks-rewritten-1"

#: What the cache did in this process: ``hits``, ``misses`` (rewritten), ``stored``,
#: ``unstored`` (rewritten, but the result did not pickle), ``discarded`` (an entry that
#: could not be loaded), ``uncacheable`` (no key could be made) and ``off``.
counters = Counter()

#: PyTensor flags left out of the key: where files go, and ``blas__ldflags``, whose first
#: reading looks for a BLAS library (half a second) and which only the C backend's
#: rewrites read; ``cxx`` and ``PYTENSOR_FLAGS`` (both in the key) cover what sets it.
_FLAGS_LEFT_OUT = {"base_compiledir", "compiledir", "blas__ldflags"}


class Uncacheable(Exception):
    """The key cannot describe something in the graph or its compilation."""


def cache_directory():
    """Where entries are stored: ``blocks_rewritten`` in PyTensor's ``compiledir``."""
    return os.path.join(str(pytensor.config.compiledir), "blocks_rewritten")


class _Digest:
    """Feeds values to a hash in a canonical, unambiguous form."""

    def __init__(self):
        self.hash = hashlib.sha256()
        self._ops = {}

    def text(self, tag, value=""):
        data = str(value).encode()
        self.hash.update(b"%s%d:" % (tag.encode(), len(data)) + data)

    def value(self, value):
        """Any value the key may hold; raises :class:`Uncacheable` for what it cannot."""
        if value is None or isinstance(value, bool | int | float | complex | str):
            self.text(type(value).__name__, repr(value))
        elif isinstance(value, bytes):
            self.text("bytes", value.hex())
        elif isinstance(value, tuple | list):
            self.text(type(value).__name__, len(value))
            for item in value:
                self.value(item)
        elif isinstance(value, Mapping):
            # PyTensor's frozendict (an Elemwise's inplace_pattern) too: its pickle holds
            # its hash once computed, which differs before and after.
            self.text("dict", len(value))
            for key_digest, item in sorted(
                    (_digest_of(key), item) for key, item in value.items()):
                self.text("key", key_digest)
                self.value(item)
        elif isinstance(value, set | frozenset):
            self.text("set", ",".join(sorted(_digest_of(item) for item in value)))
        elif isinstance(value, np.ndarray | np.generic):
            array = np.ascontiguousarray(value)
            if array.dtype.hasobject:
                raise Uncacheable("an array of Python objects")
            self.text("array", f"{array.dtype.str}{array.shape}")
            self.hash.update(array.tobytes())
        elif isinstance(value, np.dtype):
            self.text("dtype", value.str)
        elif isinstance(value, Op):
            self.op(value)
        elif isinstance(value, Type):
            self.type(value)
        elif isinstance(value, AbstractFunctionGraph):
            # The inner graphs of Composite and other scalar ops (frozen graphs) too: by
            # structure, as their pickles name variables by counters of the process.
            self.graph(value)
        elif isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
            if "<" in value.__qualname__:
                raise Uncacheable(f"{value.__qualname__}, a local function or class")
            self.text("named", f"{value.__module__}.{value.__qualname__}")
        elif dataclasses.is_dataclass(value):
            self.text("dataclass", _qualname(value))
            self.value([getattr(value, field.name) for field in dataclasses.fields(value)])
        else:
            self.pickled(value)

    def pickled(self, value):
        try:
            data = pickle.dumps(value, protocol=5)
        except Exception as error:
            raise Uncacheable(f"{type(value).__name__} does not pickle: {error}") from None
        self.text("pickle", data.hex())

    def op(self, op):
        # Ops are shared by many nodes: each is digested once per key.
        digest = self._ops.get(id(op))
        if digest is None:
            digest = self._ops[id(op)] = _op_digest(op)
        self.text("op", digest)

    def type(self, type_):
        self.text("type", _qualname(type_))
        props = getattr(type_, "__props__", None)
        if props is not None:
            self.value([getattr(type_, prop) for prop in props])
        else:
            self.text("str", type_)

    def graph(self, fgraph):
        """The structure of `fgraph`: variables are numbered, never named."""
        numbers = {}
        for variable in fgraph.inputs:
            numbers[variable] = len(numbers)
            self.text("input", _qualname(variable))
            self.type(variable.type)

        def number(variable):
            if variable not in numbers:
                if not isinstance(variable, Constant):
                    raise Uncacheable(f"{variable} is neither an input nor a constant")
                self.text("constant", _qualname(variable))
                self.type(variable.type)
                self.value(variable.data)
                numbers[variable] = len(numbers)
            return numbers[variable]

        for node in fgraph.toposort():
            inputs = [number(variable) for variable in node.inputs]
            self.op(node.op)
            self.text("inputs", inputs)
            for output in node.outputs:
                numbers[output] = len(numbers)
                self.type(output.type)
        self.text("outputs", [number(variable) for variable in fgraph.outputs])
        self.value(getattr(fgraph, "update_mapping", None) or {})
        # The inputs that in-place rewrites must leave intact.
        supervisor = getattr(fgraph, "_supervisor", None)
        protected = set(supervisor.protected) if supervisor is not None else set()
        self.text("protected", [numbers[variable] for variable in fgraph.inputs
                                if variable in protected])

    def hexdigest(self):
        return self.hash.hexdigest()


def _qualname(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _digest_of(value):
    digest = _Digest()
    digest.value(value)
    return digest.hexdigest()


def _op_digest(op):
    digest = _Digest()
    digest.text("class", _qualname(op))
    props = getattr(op, "__props__", None)
    inner = getattr(op, "fgraph", None)
    if props is not None:
        try:
            digest.value([getattr(op, prop) for prop in props])
            return digest.hexdigest()
        except Uncacheable:
            pass
    elif isinstance(inner, FunctionGraph) and hasattr(op, "info"):
        # Scan: what its equality compares (its inner graph's structure instead of the
        # variables, whose pickled auto-names differ between processes), and its mode.
        digest.graph(inner)
        digest.value([op.info, op.profile, op.truncate_gradient, op.name, op.allow_gc])
        _mode(digest, getattr(op, "mode", None))
        return digest.hexdigest()
    digest.pickled(op)
    return digest.hexdigest()


def _registered_rewrites(database, digest, seen):
    """The rewrites registered with `database`: each tag's members by name, positions,
    and the databases inside, recursively."""
    if id(database) in seen:
        return
    seen.add(id(database))
    digest.text("database", _qualname(database))
    for tag, members in sorted(database.__db__.items()):
        # A query adds the tags it looks up, empty, to the database (a defaultdict).
        if members:
            digest.text(tag, sorted(str(getattr(member, "name", None)) for member in members))
    digest.text("positions", sorted(getattr(database, "__position__", {}).items()))
    for name in sorted(database._names):
        for rewriter in database.__db__[name]:
            if isinstance(rewriter, RewriteDatabase):
                _registered_rewrites(rewriter, digest, seen)


def _query(digest, query):
    digest.text("query", _qualname(query))
    for field in ("include", "require", "exclude"):
        digest.text(field, sorted(getattr(query, field)))
    digest.text("position_cutoff", query.position_cutoff)
    for name, subquery in sorted(query.subquery.items()):
        digest.text("subquery", name)
        _query(digest, subquery)
    digest.value([(type(rewriter).__name__, position)
                  for rewriter, position in query.extra_rewrites])
    if query.extra_rewrites:
        digest.pickled(query.extra_rewrites)


def _mode(digest, mode):
    """A mode given by name, or a plain ``Mode`` whose rewrites are a query."""
    if mode is None or isinstance(mode, str):
        digest.text("mode", mode)
        return
    if type(mode) is not Mode:
        raise Uncacheable(f"mode {type(mode).__name__}")
    if not isinstance(mode._optimizer, RewriteDatabaseQuery):
        raise Uncacheable("a rewriter given as an object, not as a query")
    digest.text("linker", _qualname(mode.linker))
    _query(digest, mode._optimizer)


def _environment(digest, mode):
    """The mode, the registered rewrites, PyTensor's flags and the code's versions."""
    # PyTensor imports these modules, which register rewrites, while rewriting some
    # graphs: a process that loaded its first graphs would otherwise key the next ones
    # with fewer registered rewrites than the process that rewrote them (0.1 s, once).
    import pytensor.sparse  # noqa: F401
    import pytensor.typed_list  # noqa: F401

    from blocks import __version__
    from blocks.ops.numba_cache import VERSION

    digest.text("versions", f"{FORMAT} {pytensor.__version__} {__version__} {VERSION}")
    _mode(digest, mode)
    _registered_rewrites(mode.optdb, digest, set())
    flags = pytensor.config
    for name in sorted(set(flags._config_var_dict) - _FLAGS_LEFT_OUT):
        digest.text("flag", name)
        digest.value(getattr(flags, name))
    digest.text("PYTENSOR_FLAGS", os.environ.get("PYTENSOR_FLAGS", ""))


def graph_key(fgraph, inputs=(), outputs=(), additional_outputs=(), mode=None):
    """The key of `fgraph`'s rewritten form, or None where the graph has no key.

    Parameters
    ----------
    fgraph : FunctionGraph
        The graph before rewriting.
    inputs, outputs, additional_outputs : sequences of ``In`` and ``Out``
        Their ``mutable``, ``borrow`` and ``implicit`` flags, and whether an input has an
        update, enter the key.
    mode : Mode, optional
        With one, the key covers the environment too (see the module documentation);
        without, the graph and the flags only.
    """
    digest = _Digest()
    try:
        digest.graph(fgraph)
        for spec in inputs:
            digest.text("in", (spec.mutable, spec.borrow, spec.update is not None,
                               spec.implicit))
        for spec in [*outputs, *additional_outputs]:
            digest.text("out", spec.borrow)
        if mode is not None:
            _environment(digest, mode)
    except Uncacheable as reason:
        logger.debug("graph not cached: %s", reason)
        return None
    return digest.hexdigest()[:40]




# Entries: the rewritten graph's nodes in order. A reference to a variable is ("input",
# position), ("constant", index in the entry's constants) or ("node", node index, output
# index); names are kept, tags (traces, annotations of bricks) are not.

def _encode(fgraph):
    references = {variable: ("input", index) for index, variable in enumerate(fgraph.inputs)}
    constants, nodes = [], []

    def reference(variable):
        if variable not in references:
            if not isinstance(variable, Constant):
                raise Uncacheable(f"{variable} is neither an input nor a constant")
            references[variable] = ("constant", len(constants))
            constants.append((type(variable), variable.type, variable.data, variable.name))
        return references[variable]

    for node in fgraph.toposort():
        node_inputs = [reference(variable) for variable in node.inputs]
        for index, output in enumerate(node.outputs):
            references[output] = ("node", len(nodes), index)
        nodes.append((node.op, node_inputs,
                      [(type(output), output.type, output.name) for output in node.outputs]))
    graph_outputs = [reference(variable) for variable in fgraph.outputs]
    return {"format": FORMAT, "constants": constants, "nodes": nodes,
            "outputs": graph_outputs}


def _decode(entry, fgraph):
    if entry.get("format") != FORMAT:
        raise ValueError(f"an entry of format {entry.get('format')!r}")
    constants = [cls(type_, data, name) for cls, type_, data, name in entry["constants"]]
    node_outputs = []

    def variable(reference):
        kind, *where = reference
        if kind == "input":
            return fgraph.inputs[where[0]]
        if kind == "constant":
            return constants[where[0]]
        return node_outputs[where[0]][where[1]]

    for op, references, outputs in entry["nodes"]:
        new_outputs = [cls(type_, None, name=name) for cls, type_, name in outputs]
        Apply(op, [variable(reference) for reference in references], new_outputs)
        node_outputs.append(new_outputs)
    loaded = [variable(reference) for reference in entry["outputs"]]
    if len(loaded) != len(fgraph.outputs):
        raise ValueError(f"{len(loaded)} outputs stored, {len(fgraph.outputs)} expected")
    return loaded


def _store(path, fgraph):
    try:
        data = pickle.dumps(_encode(fgraph), protocol=5)
    except Exception as error:
        counters["unstored"] += 1
        logger.debug("rewritten graph not stored: %s", error)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file_:
            file_.write(data)
        os.replace(temporary, path)
    except OSError as error:
        logger.debug("rewritten graph not stored: %s", error)
        if os.path.exists(temporary):
            os.unlink(temporary)
        return
    counters["stored"] += 1


def _load(path, fgraph):
    """Replace `fgraph`'s graph by the entry at `path`; False (graph unchanged) if none."""
    try:
        with open(path, "rb") as file_:
            data = file_.read()
    except FileNotFoundError:
        return False
    original = list(fgraph.outputs)
    attached = None
    try:
        loaded = _decode(pickle.loads(data), fgraph)
        for index, variable in enumerate(loaded):
            fgraph.change_node_input(*fgraph.get_output_client(index), variable,
                                     reason="blocks_rewrite_cache")
        if not hasattr(fgraph, "destroyers"):
            attached = DestroyHandler()
            fgraph.attach_feature(attached)
        fgraph.execute_callbacks("on_validate")
    except Exception as error:
        logger.warning("discarding the unusable rewritten graph %s: %s: %s",
                       path, type(error).__name__, error)
        counters["discarded"] += 1
        if attached is not None:
            fgraph.remove_feature(attached)
        for index, variable in enumerate(original):
            fgraph.change_node_input(*fgraph.get_output_client(index), variable,
                                     reason="blocks_rewrite_cache", import_missing=True)
        try:
            os.unlink(path)
        except OSError:
            pass
        return False
    counters["hits"] += 1
    return True


def _through_cache(fgraph, key, rewrite):
    """Load `fgraph`'s rewritten form for `key`, or ``rewrite()`` it and store the result;
    ``(True, None)`` on a hit, else ``(False, rewrite's result)``."""
    path = key and os.path.join(cache_directory(), key + ".pkl")
    if path is not None and _load(path, fgraph):
        return True, None
    counters["misses" if key else "uncacheable"] += 1
    result = rewrite()
    if key:
        _store(path, fgraph)
    return False, result


_prepare_fgraph = maker.FunctionMaker.prepare_fgraph


def prepare_fgraph(inputs, outputs, additional_outputs, fgraph, mode, profile):
    """``FunctionMaker.prepare_fgraph`` with the prepared graph taken from, or stored in,
    the cache (see the module documentation)."""

    def rewrite():
        return _prepare_fgraph(inputs, outputs, additional_outputs, fgraph, mode, profile)

    # Our kernels that the graph will call start compiling elsewhere while it is rewritten.
    prefetch_graph(fgraph, mode)
    if not config.rewrite_cache:
        counters["off"] += 1
        return rewrite()
    start = time.perf_counter()
    key = graph_key(fgraph, inputs, outputs, additional_outputs, mode)
    # The graph after PyTensor's insert_deepcopy too is stored: where it copies an output
    # follows from the rewritten graph and the outputs' borrow flags, both in the key.
    hit, result = _through_cache(fgraph, key, rewrite)
    if hit:
        # Counted as rewriting, as PyTensor counts the rewrites it runs.
        seconds = time.perf_counter() - start
        compile_profiling.total_graph_rewrite_time += seconds
        if profile:
            profile.rewriting_time += seconds
    return result


class _CachedRewriter:
    """The rewriter of `mode`, applied through the cache."""

    def __init__(self, mode):
        self.mode = mode

    def __call__(self, fgraph):
        if not config.rewrite_cache:
            counters["off"] += 1
            return self.mode.optimizer(fgraph)
        return _through_cache(fgraph, graph_key(fgraph, mode=self.mode),
                              lambda: self.mode.optimizer(fgraph))[1]


class _ModeOfScan:
    """What the Numba dispatch of ``Scan`` asks ``get_mode`` for: the mode, whose rewriter
    goes through the cache."""

    def __init__(self, mode):
        self.mode = mode

    def including(self, *tags):
        return _ModeOfScan(self.mode.including(*tags))

    def excluding(self, *tags):
        return _ModeOfScan(self.mode.excluding(*tags))

    @property
    def optimizer(self):
        return _CachedRewriter(self.mode)

    def __getattr__(self, name):
        return getattr(self.mode, name)


def _cache_inner_graphs_of_scan():
    # The dispatch rewrites a Scan's inner graph with get_mode(op.mode)...optimizer.
    from pytensor.link.numba.dispatch import scan

    if getattr(scan, "get_mode", None) is get_mode:
        scan.get_mode = lambda mode: _ModeOfScan(get_mode(mode))


def install():
    """Put :func:`prepare_fgraph` in PyTensor's ``FunctionMaker``, and the cache in the
    Numba dispatch of ``Scan`` once PyTensor loads it (idempotent)."""
    from blocks.import_hooks import after_import

    maker.FunctionMaker.prepare_fgraph = staticmethod(prepare_fgraph)
    after_import("pytensor.link.numba.dispatch.scan", _cache_inner_graphs_of_scan)


install()
