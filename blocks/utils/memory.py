"""How the process hands memory back to the system between training steps.

A compiled training step allocates its large temporaries (the columns of a convolution,
activations, gradients) afresh at every call and frees them at the end. glibc serves
each large allocation with a new ``mmap`` and trims the top of its heap when much of it
is free, so every step faults in its memory page by page again: in a LeNet step on 2
cores that was about as much system time as computation (38.7 ms a step at one thread,
28.1 ms with the memory kept; PyTorch's 25.5 ms). :func:`keep_freed_memory` tells glibc
to keep freed memory for the next step instead. ``import blocks`` calls it unless
``blocks.config.keep_freed_memory`` is off (``BLOCKS_KEEP_FREED_MEMORY=0`` in the
environment).

The price: the process holds on to the memory of its largest step (as PyTorch's caching
allocators do) instead of returning it to the system between steps; allocations above
32 MiB, glibc's limit, are still mapped and unmapped each time.
"""

import ctypes
import ctypes.util
import gc

__all__ = ["keep_freed_memory", "freed_memory_kept", "freeze_imported_objects",
           "imported_objects_frozen"]

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems.
_LARGEST_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 1 << 30

_kept = False
_frozen = False


def keep_freed_memory():
    """Make glibc keep freed memory in the process for later allocations.

    Serves allocations of up to 32 MiB from the heap instead of fresh mappings and
    trims the heap only when a GiB of it is free. Settings of the whole process; calling
    it again changes nothing.

    Returns
    -------
    bool
        Whether the settings are in force: False where the C library is not glibc (or
        refuses them), which is harmless.

    Examples
    --------
    >>> keep_freed_memory() in (True, False)
    True
    """
    global _kept
    if _kept:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _kept = bool(mallopt(_M_MMAP_THRESHOLD, _LARGEST_MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _kept


def freed_memory_kept():
    """Whether :func:`keep_freed_memory` has put its settings in force in this process.

    >>> freed_memory_kept() in (True, False)
    True
    """
    return _kept


def freeze_imported_objects():
    """Leave the objects of the process so far out of Python's full garbage collections.

    Importing PyTensor and Numba creates some 75,000 objects that live as long as the
    process (modules, functions, classes, types), and every full collection of the cyclic
    garbage collector went through them again: building and compiling the attention
    encoder-decoder's training step ran two full collections, 0.2 s of its warm start
    (0.07 s with those objects left out). ``import pytensor`` after ``import blocks``
    calls this once PyTensor and our ops are imported (``gc.freeze``), unless
    ``blocks.config.freeze_imported_objects`` is off (``BLOCKS_FREEZE_IMPORTED_OBJECTS=0``).

    The price: an object of that moment that later becomes garbage in a reference cycle
    is never freed. Imports leave next to no such garbage; objects a program created
    before importing PyTensor are frozen too.

    Returns
    -------
    bool
        Whether it froze them: False when called again.
    """
    global _frozen
    if _frozen:
        return False
    gc.freeze()
    _frozen = True
    return True


def imported_objects_frozen():
    """Whether :func:`freeze_imported_objects` has frozen the objects of this process.

    >>> imported_objects_frozen() in (True, False)
    True
    """
    return _frozen
