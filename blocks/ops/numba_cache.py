"""Version stamps for the on-disk caches of compiled Numba code.

Two caches hold compiled code between processes: PyTensor's (``base_compiledir/numba``:
each node's function and each whole graph, keyed by ops and their properties) and
Numba's own, for our kernels declared with ``cache=True`` (``NUMBA_CACHE_DIR``, or
``__pycache__`` beside the kernels). Neither knows which version of the code it holds:
PyTensor stamps every entry 0, and Numba stamps a kernel with its own file's date while
our kernels inline functions of other files (``simd.py``, the recurrent kernels that the
attention kernels reuse). Code compiled by another version of blocks, PyTensor or Numba
could then be loaded and run.

:func:`register` puts locators in front of Numba's that stamp these entries with
:data:`VERSION`, a digest of those versions and of the sources of our ops: an entry
stamped otherwise is ignored (and overwritten) instead of loaded. It also compiles
PyTensor's nodes without fast-math flags (:func:`exact_arithmetic`), so that code loaded
from the caches computes the same bits as code compiled in the process.
"""

import hashlib
from pathlib import Path

import numba
import pytensor
from numba.core.caching import (
    CacheImpl,
    InTreeCacheLocator,
    UserProvidedCacheLocator,
    UserWideCacheLocator,
)
from pytensor.link.numba.cache import NumbaPyTensorCacheLocator

__all__ = ["VERSION", "exact_arithmetic", "register"]

OPS = Path(__file__).resolve().parent

#: The modules whose code ends up in compiled Numba code: kernels and their helpers, the
#: ops' Numba implementations and the ops themselves (what they pass to the kernels).
SOURCES = sorted(
    [path for pattern in ("*.py", "*/op.py", "*/numba.py", "*/kernels.py")
     for path in OPS.glob(pattern) if path.name != "__init__.py"])


def _version():
    import blocks

    digest = hashlib.sha256()
    for part in (getattr(blocks, "__version__", "?"), pytensor.__version__,
                 numba.__version__):
        digest.update(part.encode() + b"\0")
    for path in SOURCES:
        digest.update(path.relative_to(OPS).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


#: The stamp of every cache entry written by this version of the code.
VERSION = _version()


class VersionedPyTensorLocator(NumbaPyTensorCacheLocator):
    """PyTensor's locator, with entries stamped by :data:`VERSION` instead of 0."""

    def get_source_stamp(self):
        return VERSION


class _KernelStamp:
    """For functions of :mod:`blocks.ops` only: Numba's stamp, and :data:`VERSION`."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not getattr(py_func, "__module__", "").startswith("blocks.ops."):
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return super().get_source_stamp(), VERSION


class _UserProvidedKernelLocator(_KernelStamp, UserProvidedCacheLocator):
    pass


class _InTreeKernelLocator(_KernelStamp, InTreeCacheLocator):
    pass


class _UserWideKernelLocator(_KernelStamp, UserWideCacheLocator):
    pass


LOCATORS = [VersionedPyTensorLocator, _UserProvidedKernelLocator, _InTreeKernelLocator,
            _UserWideKernelLocator]


def exact_arithmetic():
    """Compile PyTensor's nodes without fast-math flags, unless the user set
    ``numba__fastmath`` (PYTENSOR_FLAGS, .pytensorrc).

    With those flags, how a function rounds depends on the code LLVM inlined it into,
    and a node's helpers (its scalar functions) exist in several copies: one compiled
    alone, one inside each node that calls it. Which copy runs depends on what the
    process compiled before and what it loaded from the cache, so a first run of the
    flagship and the next one on filled caches trained differently (parameters one ulp
    apart after an epoch, other results after two). Without the flags every copy
    computes the same bits; the steps measured ran as fast (MLP 12.4-13.3 ms either way,
    seq2seq 42.3 ms against 43.6 ms). Our kernels use no fast-math flags either.
    """
    settings = getattr(pytensor.config, "_config_var_dict", {})
    setting = settings.get("numba__fastmath")
    if setting is not None and setting.is_default:
        pytensor.config.numba__fastmath = False


def register():
    """Put the versioned locators first (idempotent), and compile without fast-math
    flags (:func:`exact_arithmetic`). Must run before our kernels are defined: Numba
    picks a function's locator when it is decorated."""
    exact_arithmetic()
    classes = CacheImpl._locator_classes
    if classes[:len(LOCATORS)] != LOCATORS:
        classes[:] = LOCATORS + [c for c in classes if c not in LOCATORS]
