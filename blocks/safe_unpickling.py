"""Unpickling that builds only what checkpoints of this library are made of.

A pickle is a small program: its ``GLOBAL`` instructions import any name, its
``REDUCE`` instructions call what was imported and its ``BUILD`` instructions set the
state of objects. :class:`RestrictedUnpickler` runs that program with three limits:

- **Imports** (:func:`allowed_global`): classes of :mod:`blocks`, of PyTensor's graph,
  tensor, scalar and scan packages and of NumPy's core and random packages; the safe
  builtin types and exceptions; a few standard-library value types
  (``collections.OrderedDict``, ``pathlib`` paths, ``datetime``...); and, by name, the
  functions that those objects are rebuilt with (NumPy's array reconstructors, Blocks'
  ``_rebuild_*`` helpers, PyTensor's scalar output-type rules, ``copyreg._reconstructor``
  and ``_codecs.encode`` from Latin-1 for protocols 0-2) and NumPy's ufuncs
  (``numpy.add``: arithmetic, which PyTensor's Ops keep). No module, no other
  function, no module-level object. Refused although their packages are allowed:
  classes that touch files when they are created or run (``numpy.memmap``,
  ``pytensor.tensor.io``), and classes that unpickle data from a source the checkpoint
  names (:class:`~blocks.datasets.ServerDataStream`, a server;
  :class:`~blocks.log.sqlite.SQLiteLog`, a database file): pass those in ``allowed``
  when you trust their source. PyTensor's C linker and compiled functions are outside
  the allowed packages.
- **Calls**: ``REDUCE`` (and protocol 0/1's ``INST`` and ``OBJ``) calls only what an
  import returned; ``NEWOBJ`` creates instances of imported classes only.
  ``builtins.getattr``, which pickles the applications of bricks (``brick.apply``), is
  replaced by a version that returns only the
  :class:`~blocks.bricks.base.Application` attributes of bricks.
- **State**: ``BUILD`` sets the state of instances only, never of a class or a function
  (which would patch the library for the rest of the process).

Anything else raises :class:`ForbiddenGlobal` (an :class:`pickle.UnpicklingError`) naming
what the pickle asked for. What this does not cover: the graphs in a checkpoint are
compiled when training resumes, and PyTensor's backends turn the attributes of Ops into
generated code, which a crafted file could aim at; and a loaded main loop does what its
extensions say (a Checkpoint writes where its path points). Load files you do not trust
with :func:`blocks.serialization.load_parameters` (no unpickling at all).

Examples
--------
>>> import io, os, pickle
>>> RestrictedUnpickler(io.BytesIO(pickle.dumps([1, (2.0, 'three')]))).load()
[1, (2.0, 'three')]
>>> RestrictedUnpickler(io.BytesIO(pickle.dumps(os.system))).load()
Traceback (most recent call last):
...
blocks.safe_unpickling.ForbiddenGlobal: the pickle refers to posix.system, ...
"""

import _compat_pickle
import builtins
import codecs
import importlib
import pickle
import sys
import types

__all__ = ["ForbiddenGlobal", "RestrictedUnpickler", "allowed_global"]


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle asked for something that restricted unpickling does not build.

    Attributes
    ----------
    qualified_name : str
        What the pickle asked for, ``module.name``.
    """

    def __init__(self, qualified_name, reason):
        super().__init__(f"the pickle refers to {qualified_name}, {reason}")
        self.qualified_name = qualified_name


#: Packages (and modules) whose classes checkpoints are made of.
_CLASS_PACKAGES = (
    "blocks",
    "pytensor.graph", "pytensor.tensor", "pytensor.scalar", "pytensor.scan",
    "pytensor.sparse", "pytensor.typed_list", "pytensor.xtensor", "pytensor.assumptions",
    "pytensor.misc.frozendict", "pytensor.misc.ordered_set", "pytensor.raise_op",
    "pytensor.ifelse", "pytensor.gradient", "pytensor.compile.sharedvalue",
    "pytensor.compile.ops", "pytensor.compile.builders",
    "numpy._core", "numpy.core", "numpy.random", "numpy.dtypes", "numpy.ma",
)
#: Modules whose classes are allowed, without their subpackages (numpy.lib, numpy.f2py,
#: numpy.testing... are not).
_CLASS_MODULES = ("numpy",)

#: Inside the packages above, what reads or writes files or compiles code.
_REFUSED_PACKAGES = (
    "pytensor.tensor.io",  # LoadFromDisk reads any file when the graph runs
    "blocks.serialization", "blocks.safe_unpickling",  # readers and writers of files
)
_REFUSED_CLASSES = {
    ("numpy", "memmap"): "which reads or writes files",
    ("numpy._core.memmap", "memmap"): "which reads or writes files",
    ("numpy.core.memmap", "memmap"): "which reads or writes files",
    ("numpy", "DataSource"): "which reads or writes files",
    # Both unpickle what they receive: from the host named in the checkpoint, from the
    # database file named in the checkpoint. Allowed only when asked (allowed=[...]).
    ("blocks.datasets.streams", "ServerDataStream"):
        "which unpickles what a server sends (allow it with allowed=[ServerDataStream] "
        "if you trust the server)",
    ("blocks.log.sqlite", "SQLiteLog"):
        "which unpickles the values of a database file (allow it with "
        "allowed=[SQLiteLog] if you trust the database)",
}

#: Standard-library value types that checkpoints may hold.
_STANDARD_CLASSES = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("collections", "deque"), ("collections", "Counter"),
    ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("pathlib", "PurePosixPath"),
    ("pathlib", "PureWindowsPath"), ("pathlib", "Path"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"),
    ("datetime", "timedelta"), ("datetime", "timezone"),
    ("uuid", "UUID"), ("fractions", "Fraction"), ("decimal", "Decimal"),
    ("pytensor.link.basic", "Container"),
}
_BUILTIN_TYPES = {
    "dict", "list", "set", "frozenset", "tuple", "bytes", "bytearray", "str", "int",
    "float", "complex", "bool", "slice", "range", "object",
}

#: Functions that rebuild objects of the classes above, by module and name.
_REBUILDING_FUNCTIONS = {
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    # Protocols 0 and 1 rebuild objects with copyreg._reconstructor(cls, base, state):
    # base.__new__(cls) and base.__init__(obj, state), cls and base imported (allowed).
    ("copyreg", "_reconstructor"),
    ("blocks.bricks.base", "_rebuild_annotating_list"),
    ("blocks.log.log", "_rebuild_training_log"),
    ("pytensor.graph.basic", "_get_frozen_output"),
    ("pytensor.tensor.type", "values_eq_approx"),
    ("pytensor.tensor.type", "values_eq_approx_remove_inf"),
    ("pytensor.tensor.type", "values_eq_approx_remove_nan"),
    ("pytensor.tensor.type", "values_eq_approx_remove_inf_nan"),
    ("pytensor.tensor.type", "values_eq_approx_always_true"),
}
#: PyTensor's scalar Ops keep the rule that gives their output type as a module-level
#: function of ``pytensor.scalar.basic``: pure functions of types.
_SCALAR_TYPE_RULES = {
    "upcast_out", "upcast_out_nobool", "upcast_out_min8", "upcast_out_no_complex",
    "same_out", "same_out_nobool", "same_out_min8", "same_out_nocomplex",
    "same_out_float_only", "upgrade_to_float", "upgrade_to_float64",
    "upgrade_to_float_no_complex", "float_out", "int_out", "bool_out", "complex_out",
    "float_out_nocomplex", "unary_out_lookup",
}
#: Module-level constants of blocks that checkpoints refer to by name.
_CONSTANTS = {("blocks.bricks.base", "NoneAllocation"),
              ("blocks.bricks.base", "NoneInitialization")}


def _in_packages(module, packages):
    return any(module == package or module.startswith(package + ".") for package in packages)


def _classes_allowed_in(module):
    return module in _CLASS_MODULES or _in_packages(module, _CLASS_PACKAGES)


def _is_numpy_ufunc(obj):
    # NumPy's elementwise functions (numpy.add...): pure arithmetic, pickled by name
    # (PyTensor's Elemwise Ops keep the one they compute).
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(obj, numpy.ufunc)


def _resolve(module, name):
    if module not in sys.modules:
        importlib.import_module(module)
    obj = sys.modules[module]
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _reason_refused(module, name):
    """Why ``module.name`` is refused before importing anything, or None."""
    if name.startswith("__") and (module, name) not in _REBUILDING_FUNCTIONS:
        return "a special attribute"
    if _in_packages(module, _REFUSED_PACKAGES):
        return "which reads or writes files"
    return _REFUSED_CLASSES.get((module, name))


def allowed_global(module, name):
    """The object ``module.name`` if checkpoints may refer to it; else ForbiddenGlobal.

    >>> allowed_global('collections', 'OrderedDict')
    <class 'collections.OrderedDict'>
    >>> allowed_global('builtins', 'eval')
    Traceback (most recent call last):
    ...
    blocks.safe_unpickling.ForbiddenGlobal: the pickle refers to builtins.eval, ...
    """
    qualified = f"{module}.{name}"
    reason = _reason_refused(module, name)
    if reason is not None:
        raise ForbiddenGlobal(qualified, reason)
    if (module, name) == ("_codecs", "encode"):
        return _latin1_encode
    if module == "builtins":
        if name == "getattr":
            return _application_getattr
        obj = getattr(builtins, name, None)
        if name in _BUILTIN_TYPES or (
                isinstance(obj, type) and issubclass(obj, BaseException)):
            return obj
        raise ForbiddenGlobal(qualified, "a builtin that checkpoints do not need")
    listed = ((module, name) in _STANDARD_CLASSES or (module, name) in _REBUILDING_FUNCTIONS
              or (module, name) in _CONSTANTS
              or (module == "pytensor.scalar.basic" and name in _SCALAR_TYPE_RULES))
    if not listed and not _classes_allowed_in(module):
        raise ForbiddenGlobal(
            qualified, "outside the packages whose classes checkpoints are made of "
                       "(blocks, pytensor, numpy)")
    try:
        obj = _resolve(module, name)
    except (ImportError, AttributeError) as error:
        raise ForbiddenGlobal(qualified, f"which cannot be imported ({error})") from None
    if listed or _is_numpy_ufunc(obj):
        return obj
    if not isinstance(obj, type):
        raise ForbiddenGlobal(
            qualified, f"a {type(obj).__name__}, not a class (only classes and the "
                       f"functions that rebuild them are allowed)")
    # A class imported into an allowed module from elsewhere (subprocess.Popen in a
    # blocks module) is judged by where it is defined.
    home = getattr(obj, "__module__", "") or ""
    if not _classes_allowed_in(home):
        raise ForbiddenGlobal(qualified, f"a class defined in {home}, which is not allowed")
    reason = _reason_refused(home, obj.__name__)
    if reason is not None:
        raise ForbiddenGlobal(qualified, reason)
    return obj


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode``, with which protocols 0-2 pickle bytes, for Latin-1 only."""
    if encoding not in ("latin1", "latin-1") or errors != "strict":
        raise ForbiddenGlobal(f"_codecs.encode(..., {encoding!r}, {errors!r})",
                              "and restricted unpickling decodes bytes from Latin-1 only")
    return codecs.encode(text, "latin1")


def _application_getattr(obj, name, *default):
    """``getattr`` restricted to the applications of bricks (``brick.apply``)."""
    from blocks.bricks.base import Application, Brick

    owner = obj if isinstance(obj, type) else type(obj)
    if (not default and isinstance(name, str) and issubclass(owner, Brick)
            and isinstance(getattr(owner, name, None), Application)):
        return getattr(obj, name)
    described = obj.__qualname__ if isinstance(obj, type) else f"a {type(obj).__name__}"
    raise ForbiddenGlobal(
        f"getattr({described}, {name!r})",
        "and restricted unpickling gets only the applications of bricks")


_NOT_INSTANCES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                  types.MethodType)


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that imports, calls and sets the state of allowed objects only.

    Built on the pure-Python unpickler so that calls (``REDUCE``) and state settings
    (``BUILD``) can be checked, not only imports; see the module's documentation.

    Parameters
    ----------
    file_ : binary file object
    allowed : iterable of classes or functions, optional
        Also allowed: e.g. the classes of one's own extensions, saved with the main
        loop. Only what one trusts to be created with any arguments.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file_, allowed=()):
        super().__init__(file_)
        self._callables = set()
        self._allowed = {(obj.__module__, obj.__qualname__): obj for obj in allowed}

    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:  # Python 2's names, as pickle maps them
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        obj = self._allowed.get((module, name))
        if obj is None:
            obj = allowed_global(module, name)
        self._callables.add(id(obj))
        return obj

    def _check_callable(self, function):
        if id(function) not in self._callables:
            raise ForbiddenGlobal(
                f"a call of a {type(function).__name__}",
                "and restricted unpickling calls only the allowed classes and functions")

    def _load_reduce(self):
        self._check_callable(self.stack[-2])
        pickle._Unpickler.load_reduce(self)

    def _instantiate(self, klass, args):
        # The INST and OBJ instructions (protocols 0 and 1) call what they instantiate.
        self._check_callable(klass)
        super()._instantiate(klass, args)

    def _load_newobj(self):
        self._check_class(self.stack[-2])
        pickle._Unpickler.load_newobj(self)

    def _load_newobj_ex(self):
        self._check_class(self.stack[-3])
        pickle._Unpickler.load_newobj_ex(self)

    def _check_class(self, cls):
        if not isinstance(cls, type) or id(cls) not in self._callables:
            raise ForbiddenGlobal(
                f"a new instance of a {type(cls).__name__}",
                "and restricted unpickling creates instances of allowed classes only")

    def _load_build(self):
        target = self.stack[-2]
        if isinstance(target, _NOT_INSTANCES):
            raise ForbiddenGlobal(
                f"the state of {target!r}",
                "and restricted unpickling sets the state of instances only")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
