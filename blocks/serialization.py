"""Checkpoints: one tar file holding a pickled object and the values of its parameters.

A checkpoint written by :func:`dump` is a tar archive with two members:

``_pkl``
    The pickled object (usually a :class:`~blocks.main_loop.MainLoop`). The values of
    the parameters are not repeated there: the pickle refers to them by name.
``_parameters``
    An ``.npz`` archive of the parameter values keyed by hierarchical names such as
    ``/mlp/linear_0.W``. :func:`load_parameters` reads it without unpickling anything, so
    parameter values can be read from a checkpoint written by code one does not have or
    does not trust.

:func:`secure_dump` writes atomically: a temporary file in the destination directory,
flushed and synced to disk, then renamed over the destination. Killing the process at
any moment leaves either the old checkpoint or the new one, never a partial file; the
temporary file a killed write leaves is removed by the next successful write.

Examples
--------
>>> import os, tempfile
>>> from blocks.bricks import MLP, Tanh
>>> from blocks.initialization import Constant
>>> mlp = MLP([Tanh()], [2, 3], weights_init=Constant(1), biases_init=Constant(0))
>>> mlp.initialize()
>>> path = os.path.join(tempfile.mkdtemp(), 'mlp.tar')
>>> parameters = mlp.linear_transformations[0].parameters
>>> secure_dump(mlp, path, parameters=parameters)
>>> sorted(load_parameters(path))
['/mlp/linear_0.W', '/mlp/linear_0.b']
>>> load(path).linear_transformations[0].W.get_value().tolist()
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""

import contextlib
import io
import os
import pickle
import tarfile
import tempfile
import time
import zipfile
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from blocks.filter import get_brick
from blocks.safe_unpickling import ForbiddenGlobal, RestrictedUnpickler
from blocks.utils import change_recursion_limit, is_shared_variable

__all__ = [
    "dump", "load", "load_main_loop", "load_parameters", "secure_dump",
    "continue_training", "add_to_dump", "dump_and_add_to_dump", "stale_temporaries",
    "CheckpointError", "PICKLE_MEMBER", "PARAMETERS_MEMBER", "BRICK_DELIMITER",
]

#: What separates the bricks in the hierarchical names of parameters (``/mlp/linear_0.W``).
BRICK_DELIMITER = "/"
PICKLE_MEMBER = "_pkl"
PARAMETERS_MEMBER = "_parameters"
_PERSISTENT_PREFIX = "blocks.parameter:"
_RECURSION_LIMIT = 50000


class CheckpointError(ValueError):
    """A file is not a readable Blocks checkpoint (truncated, corrupt or foreign)."""


# Pickling deep PyTensor graphs recurses once per node.
_recursion_limit = change_recursion_limit


def _parameter_name(variable):
    brick = get_brick(variable)
    if brick is not None:
        try:
            return BRICK_DELIMITER + brick.get_hierarchical_name(variable)
        except ValueError:  # several parents: no unique path
            pass
    if variable.name is None:
        raise ValueError(
            f"cannot name the parameter {variable!r} in a checkpoint: it has no name and "
            f"no brick; give it a name or pass parameters as a dict of names to variables"
        )
    return variable.name


def _named_parameters(parameters):
    """An OrderedDict name -> shared variable from a list or dict of shared variables."""
    if parameters is None:
        return OrderedDict()
    if isinstance(parameters, dict):
        named = OrderedDict(parameters)
    else:
        named = OrderedDict()
        for variable in parameters:
            name = _parameter_name(variable)
            if name in named and named[name] is not variable:
                raise ValueError(
                    f"two parameters share the name {name!r} in a checkpoint; pass "
                    f"parameters as a dict of unique names to variables"
                )
            named[name] = variable
    for name, variable in named.items():
        if not is_shared_variable(variable):
            raise TypeError(
                f"checkpoint parameter {name!r} must be a shared variable; received "
                f"{type(variable).__name__}"
            )
    return named


class _Pickler(pickle.Pickler):
    """Refers to the storage of listed parameters by name instead of pickling it."""

    def __init__(self, file_, protocol, arrays):
        super().__init__(file_, protocol=protocol)
        self._ids = {id(array): name for name, array in arrays.items()}
        self._arrays = arrays

    def persistent_id(self, obj):
        if isinstance(obj, np.ndarray) or _is_jax_array(obj):
            name = self._ids.get(id(obj))
            if name is not None and self._arrays[name] is obj:
                return _PERSISTENT_PREFIX + name
        return None

    def reducer_override(self, obj):
        # Shared variables trained under the JAX backend hold JAX arrays: they are saved
        # as NumPy arrays, so that a checkpoint loads without JAX and with safe loading.
        if _is_jax_array(obj):
            return np.asarray(obj).__reduce__()
        return NotImplemented


def _is_jax_array(obj):
    """Whether `obj` is an array of JAX (told without importing JAX)."""
    return (type(obj).__module__.split(".")[0] in ("jax", "jaxlib")
            and hasattr(obj, "__array__") and hasattr(obj, "shape"))


def _persistent_array(arrays, pid):
    """The parameter value that a pickle refers to by persistent id."""
    if not isinstance(pid, str) or not pid.startswith(_PERSISTENT_PREFIX):
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
    name = pid[len(_PERSISTENT_PREFIX):]
    try:
        return arrays[name]
    except KeyError:
        raise pickle.UnpicklingError(
            f"the pickle refers to parameter {name!r}, absent from the checkpoint"
        ) from None


class _Unpickler(pickle.Unpickler):
    """Unpickles anything (``load(..., trusted=True)``)."""

    def __init__(self, file_, arrays):
        super().__init__(file_)
        self._arrays = arrays

    def persistent_load(self, pid):
        return _persistent_array(self._arrays, pid)


class _SafeUnpickler(RestrictedUnpickler):
    """Unpickles only what checkpoints of this library are made of (the default)."""

    def __init__(self, file_, arrays, allowed=()):
        super().__init__(file_, allowed=allowed)
        self._arrays = arrays

    def persistent_load(self, pid):
        return _persistent_array(self._arrays, pid)


def _add_member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def dump(object_, file_, parameters=None, use_cpickle=False,
         protocol=pickle.HIGHEST_PROTOCOL, **kwargs):
    """Write `object_` and the values of `parameters` to `file_` as a tar archive.

    Parameters
    ----------
    object_ : object
        What to pickle (``None`` for a parameters-only checkpoint).
    file_ : file object
        Opened for writing in binary mode.
    parameters : list or dict of shared variables, optional
        Their values go to the ``_parameters`` member, keyed by hierarchical names
        (``/mlp/linear_0.W``, from the brick that owns each parameter; a dict gives the
        names explicitly). The pickle refers to these values instead of repeating them.
    use_cpickle : bool
        Accepted for compatibility: Python 3's pickle is the C implementation already.
    protocol : int
        The pickle protocol.
    **kwargs
        Not used; accepted for compatibility.
    """
    named = _named_parameters(parameters)
    arrays = OrderedDict(
        (name, variable.get_value(borrow=True, return_internal_type=True))
        for name, variable in named.items()
    )
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(value) for name, value in arrays.items()})
    parameter_bytes = buffer.getvalue()
    pickle_bytes = _pickle(object_, arrays, protocol)
    with tarfile.open(fileobj=file_, mode="w") as tar:
        _add_member(tar, PARAMETERS_MEMBER, parameter_bytes)
        _add_member(tar, PICKLE_MEMBER, pickle_bytes)


def _pickle(object_, arrays, protocol):
    """The pickle of `object_`, referring to the `arrays` (name -> array) by name."""
    pickle_buffer = io.BytesIO()
    try:
        with _recursion_limit(_RECURSION_LIMIT):
            _Pickler(pickle_buffer, protocol, arrays).dump(object_)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise pickle.PicklingError(
            f"cannot pickle the {type(object_).__name__} for the checkpoint: {error}. "
            f"Lambdas and locally defined functions or classes (e.g. in extensions or "
            f"predicates) do not pickle: use module-level ones, or save only the "
            f"parameters (Checkpoint(..., save_main_loop=False))"
        ) from error
    return pickle_buffer.getvalue()


@contextmanager
def _open_for_reading(file_):
    if isinstance(file_, (str, os.PathLike)):
        with open(file_, "rb") as opened:
            yield opened
    else:
        # From the start, so that several objects can be read from one open file.
        if file_.seekable():
            file_.seek(0)
        yield file_


def _describe(file_):
    return repr(os.fspath(file_)) if isinstance(file_, (str, os.PathLike)) else repr(
        getattr(file_, "name", file_))


def _read_members(file_, names):
    """The bytes of the tar members `names`, or a CheckpointError saying what is wrong."""
    try:
        with _open_for_reading(file_) as opened, tarfile.open(fileobj=opened, mode="r") as tar:
            members = {}
            for name in names:
                try:
                    member = tar.getmember(name)
                except KeyError:
                    raise CheckpointError(
                        f"{_describe(file_)} is not a Blocks checkpoint: it has no "
                        f"{name!r} member (found {tar.getnames()})"
                    ) from None
                data = tar.extractfile(member).read()
                if len(data) != member.size:
                    raise CheckpointError(
                        f"{_describe(file_)} is truncated: member {name!r} has "
                        f"{len(data)} of its {member.size} bytes"
                    )
                members[name] = data
            return members
    except (tarfile.TarError, EOFError) as error:
        raise CheckpointError(
            f"{_describe(file_)} is not a Blocks checkpoint, or is truncated or corrupt "
            f"(it does not read as a tar archive: {error})"
        ) from error


def _read_arrays(file_, data):
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return OrderedDict((name, npz[name]) for name in npz.files)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(
            f"the parameter values in {_describe(file_)} are corrupt: {error}"
        ) from error


def load_parameters(file_):
    """The parameter values of a checkpoint, without unpickling anything.

    Parameters
    ----------
    file_ : str, path or file object
        A checkpoint written by :func:`dump` or :func:`secure_dump`.

    Returns
    -------
    OrderedDict
        Hierarchical name (``/mlp/linear_0.W``) to numpy array.

    Raises
    ------
    CheckpointError
        If the file is truncated, corrupt or not a checkpoint.
    """
    members = _read_members(file_, [PARAMETERS_MEMBER])
    return _read_arrays(file_, members[PARAMETERS_MEMBER])


_TRUST_ADVICE = (
    "Safe loading builds only the classes of blocks, pytensor and numpy and the standard "
    "containers that checkpoints of this library hold. If you trust this file (you wrote "
    "it, or know who did), load it with blocks.serialization.load(path, trusted=True), "
    "which runs whatever code the file names, or allow your own classes with "
    "load(path, allowed=[MyExtension]); "
    "blocks.serialization.load_parameters(path) reads its parameter values without "
    "unpickling anything"
)


def load(file_, name=PICKLE_MEMBER, use_cpickle=False, trusted=False, allowed=(), **kwargs):
    """The object pickled in a checkpoint, its parameters holding the saved values.

    By default the pickle is read by a restricted unpickler
    (:class:`~blocks.safe_unpickling.RestrictedUnpickler`): it builds the classes of
    blocks, pytensor and numpy and the standard containers, calls only the functions
    that rebuild them, and refuses anything else (``os.system``, ``eval``...) with a
    :class:`CheckpointError` naming what the file asked for.

    Parameters
    ----------
    file_ : str, path or file object
    name : str
        Which object: the one written by :func:`dump` by default, or one added by
        :func:`add_to_dump` under that name.
    use_cpickle : bool
        Accepted for compatibility.
    trusted : bool
        Unpickle without restriction: for files you trust that hold objects of other
        libraries (unpickling runs whatever code the file names).
    allowed : iterable of classes or functions, optional
        Allowed besides those of blocks, pytensor and numpy: e.g. the classes of your
        own extensions saved with a main loop (``allowed=[MyExtension]``).

    Raises
    ------
    CheckpointError
        If the file is truncated, corrupt or not a checkpoint, or (unless `trusted`)
        refers to something safe loading does not build.

    Examples
    --------
    >>> import io, pickle
    >>> class Payload:
    ...     def __reduce__(self):
    ...         return (print, ('this should not run',))
    >>> buffer = io.BytesIO()
    >>> dump(Payload(), buffer)
    >>> _ = buffer.seek(0)
    >>> load(buffer)
    Traceback (most recent call last):
    ...
    blocks.serialization.CheckpointError: ... refers to builtins.print, ...
    """
    members = _read_members(file_, [PARAMETERS_MEMBER, name])
    arrays = _read_arrays(file_, members[PARAMETERS_MEMBER])
    # Arrays read from an npz are read-only views; parameters must be writable.
    arrays = OrderedDict((key, np.array(value)) for key, value in arrays.items())
    pickled = io.BytesIO(members[name])
    unpickler = (_Unpickler(pickled, arrays) if trusted
                 else _SafeUnpickler(pickled, arrays, allowed=allowed))
    try:
        with _recursion_limit(_RECURSION_LIMIT):
            return unpickler.load()
    except ForbiddenGlobal as error:
        raise CheckpointError(
            f"{_describe(file_)} was not loaded: {error}. {_TRUST_ADVICE}"
        ) from error
    except Exception as error:  # whatever a damaged pickle makes the unpickler raise
        raise CheckpointError(
            f"the pickled object in {_describe(file_)} is corrupt or was written by "
            f"other code: {type(error).__name__}: {error}"
        ) from error


def load_main_loop(file_, trusted=False, allowed=()):
    """The :class:`~blocks.main_loop.MainLoop` of a checkpoint; CheckpointError if none.

    Parameters
    ----------
    file_ : str, path or file object
    trusted, allowed
        See :func:`load`.
    """
    from blocks.main_loop import MainLoop

    loaded = load(file_, trusted=trusted, allowed=allowed)
    if not isinstance(loaded, MainLoop):
        raise CheckpointError(
            f"{_describe(file_)} holds a {type(loaded).__name__}, not a main loop "
            f"(was it written by Checkpoint(..., save_main_loop=False)?)"
        )
    return loaded


def _check_directory_writable(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OSError(
            f"cannot write the checkpoint {path!r}: directory {directory!r} does not exist"
        )
    if os.path.isdir(path):
        raise OSError(f"cannot write the checkpoint {path!r}: it is a directory")
    return directory


def check_writable(path):
    """Raise ``OSError`` now if a checkpoint could not be written to `path` later.

    Creates and removes a temporary file beside `path`, as :func:`secure_dump` would.
    """
    directory = _check_directory_writable(path)
    try:
        descriptor, probe = tempfile.mkstemp(dir=directory, prefix=".blocks-probe-")
    except OSError as error:
        raise OSError(
            f"cannot write the checkpoint {path!r}: cannot create files in {directory!r} "
            f"({error.strerror or error})"
        ) from error
    os.close(descriptor)
    os.remove(probe)


def _fsync_directory(directory):
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on every platform
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


_TEMPORARY_SUFFIX = ".tmp"


def _temporary_prefix(path):
    return "." + os.path.basename(path) + "."


def stale_temporaries(path, before=None):
    """The temporary files of earlier writes of the checkpoint `path` left behind.

    A process killed while :func:`secure_dump` writes leaves its temporary file
    ``.NAME.XXXXXXXX.tmp`` beside the checkpoint ``NAME``. Only files of that pattern
    (``XXXXXXXX``: the 8 characters :func:`tempfile.mkstemp` draws) count, and, with
    `before`, only those last modified before that time (a write in progress keeps its
    file fresh).

    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> for name in ['.a.tar.k2x_9abc.tmp', '.a.tar.x.tmp', '.b.tar.k2x_9abc.tmp', 'a.tar']:
    ...     open(os.path.join(directory, name), 'w').close()
    >>> [os.path.basename(f) for f in stale_temporaries(os.path.join(directory, 'a.tar'))]
    ['.a.tar.k2x_9abc.tmp']
    """
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in sorted(names):
        middle = name[len(prefix):-len(_TEMPORARY_SUFFIX)]
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)
                and len(middle) == 8 and _TEMPORARY_CHARACTERS.issuperset(middle)):
            continue
        candidate = os.path.join(directory, name)
        try:
            if before is None or os.stat(candidate).st_mtime < before:
                found.append(candidate)
        except OSError:  # removed meanwhile
            pass
    return found


_TEMPORARY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _remove_stale_temporaries(path, before):
    for stale in stale_temporaries(path, before):
        try:
            os.remove(stale)
        except OSError:  # removed by another writer, or not ours to remove
            pass


def secure_dump(object_, path, dump_function=dump, **kwargs):
    """Write a checkpoint to `path` atomically.

    The checkpoint is written to a temporary file in the same directory, flushed and
    synced to disk, then renamed to `path` (an atomic replacement). If anything fails
    (or the process is killed) on the way, `path` still holds its previous content and
    the temporary file is removed when possible; the temporary files that killed
    writes left behind (:func:`stale_temporaries`) are removed after the next
    successful write.

    Parameters
    ----------
    object_ : object
    path : str or path
    dump_function : callable
        Called as ``dump_function(object_, file_, **kwargs)``; :func:`dump` by default.
    **kwargs
        Passed to `dump_function` (e.g. ``parameters``).

    Raises
    ------
    OSError
        If `path` cannot be written; the message names the path.
    """
    path = os.fspath(path)
    directory = _check_directory_writable(path)
    started = time.time()
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix=_temporary_prefix(path), suffix=_TEMPORARY_SUFFIX)
    except OSError as error:
        raise OSError(
            f"cannot write the checkpoint {path!r}: cannot create files in {directory!r} "
            f"({error.strerror or error})"
        ) from error
    try:
        with os.fdopen(descriptor, "wb") as file_:
            dump_function(object_, file_, **kwargs)
            file_.flush()
            os.fsync(file_.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
    _remove_stale_temporaries(path, started)


def continue_training(path, trusted=False, allowed=()):
    """Load the main loop checkpointed at `path` and resume its training.

    Parameters
    ----------
    path : str or path
    trusted, allowed
        See :func:`load`.

    Raises
    ------
    CheckpointError
        If the file cannot be loaded or does not hold a main loop.
    """
    main_loop = load_main_loop(path, trusted=trusted, allowed=allowed)
    main_loop.run()
    return main_loop


def _open_for_update(file_):
    if isinstance(file_, (str, os.PathLike)):
        return open(file_, "r+b")
    return contextlib.nullcontext(file_)


def add_to_dump(object_, file_, name, parameters=None, use_cpickle=False,
                protocol=pickle.HIGHEST_PROTOCOL, **kwargs):
    """Add `object_` to a checkpoint written by :func:`dump`, as the member `name`.

    Read it back with ``load(file_, name)``. Parameters of `object_` that the checkpoint
    already holds, given in `parameters`, are not stored again: the new pickle refers to
    the values in the checkpoint, so the loaded object shares them with the main object.

    Parameters
    ----------
    object_ : object
    file_ : str, path or file object
        A checkpoint; a file object must be open for reading and writing (``'r+b'``).
    name : str
        The member's name; ``_pkl`` and ``_parameters`` are reserved.
    parameters : list or dict of shared variables, optional
        Must all be in the checkpoint's parameters, under the same names.
    use_cpickle : bool
        Accepted for compatibility.
    protocol : int

    Examples
    --------
    >>> import io
    >>> from blocks.bricks import Linear
    >>> from blocks.initialization import Constant
    >>> linear = Linear(2, 3, weights_init=Constant(1), biases_init=Constant(0))
    >>> linear.initialize()
    >>> file_ = io.BytesIO()
    >>> dump(linear, file_, parameters=linear.parameters)
    >>> add_to_dump({'note': 'the first one'}, file_, 'info')
    >>> load(file_, 'info')
    {'note': 'the first one'}
    """
    if name in (PICKLE_MEMBER, PARAMETERS_MEMBER):
        raise ValueError(f"add_to_dump: {PICKLE_MEMBER!r} and {PARAMETERS_MEMBER!r} are "
                         f"reserved names and can't be used as the name of an object")
    named = _named_parameters(parameters)
    with _open_for_update(file_) as opened:
        stored = load_parameters(opened)
        missing = [key for key in named if key not in stored]
        if missing:
            raise ValueError(
                f"add_to_dump: the set of parameters is different from the one in the "
                f"archive: {missing} are not in {_describe(file_)}, which holds "
                f"{list(stored)}"
            )
        arrays = OrderedDict(
            (key, variable.get_value(borrow=True, return_internal_type=True))
            for key, variable in named.items())
        data = _pickle(object_, arrays, protocol)
        opened.seek(0)
        with tarfile.open(fileobj=opened, mode="a") as tar:
            if name in tar.getnames():
                raise ValueError(f"add_to_dump: {_describe(file_)} already holds an object "
                                 f"named {name!r}")
            _add_member(tar, name, data)


def dump_and_add_to_dump(object_, file_, parameters=None, to_add=None, use_cpickle=False,
                         protocol=pickle.HIGHEST_PROTOCOL, **kwargs):
    """:func:`dump` `object_`, then :func:`add_to_dump` each item of `to_add`.

    Works with files open for writing only (as :func:`secure_dump` gives), so that
    ``secure_dump(main_loop, path, dump_and_add_to_dump, to_add={'log': log})`` writes
    everything atomically.

    Parameters
    ----------
    object_ : object
        ``None`` to save only the parameters and the added objects.
    file_ : file object
    parameters : list or dict of shared variables, optional
        Stored once; the added objects refer to those they share.
    to_add : dict, optional
        Name to object.
    use_cpickle : bool
        Accepted for compatibility.
    protocol : int
    """
    buffer = io.BytesIO()
    dump(object_, buffer, parameters=parameters, protocol=protocol)
    for name, added in (to_add or {}).items():
        add_to_dump(added, buffer, name, parameters=parameters, protocol=protocol)
    file_.write(buffer.getvalue())
