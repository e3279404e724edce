"""Small helpers used throughout the library, under the names Blocks user code calls.

The helpers live in submodules, as in Blocks: :mod:`blocks.utils.utils` (plain Python),
:mod:`blocks.utils.theano_utils` (shared variables and checks on PyTensor variables),
:mod:`blocks.utils.random` (:class:`RNGStream`), :mod:`blocks.utils.containers` and
:mod:`blocks.utils.testing`. This package imports a submodule only when one of its names
is first used, so that ``import blocks.utils`` does not import PyTensor:

>>> from blocks.utils import pack, dict_union
>>> pack((1, 2)), dict_union({'a': 1}, b=2)
([1, 2], OrderedDict([('a', 1), ('b', 2)]))
"""

import importlib

_NAMES = {
    "utils": (
        "pack", "unpack", "reraise_as", "dict_subset", "dict_union", "repr_attrs",
        "ipdb_breakpoint", "print_sum", "print_shape", "change_recursion_limit",
        "extract_args", "find_bricks",
    ),
    "theano_utils": (
        "shared_floatx", "shared_floatx_zeros", "shared_floatx_nans",
        "shared_floatx_zeros_matching", "shared_like", "is_shared_variable", "is_graph_input",
        "check_variable", "check_theano_variable", "put_hook",
    ),
    "random": ("RNGStream",),
}
_SUBMODULE_OF = {name: submodule for submodule, names in _NAMES.items() for name in names}

__all__ = sorted(_SUBMODULE_OF)


_SUBMODULES = ("utils", "theano_utils", "random", "containers", "testing", "memory", "profile")


def __getattr__(name):
    if name in _SUBMODULES:
        # ``blocks.utils.testing`` after ``import blocks.utils``, as a package's own
        # imports would have made it available.
        return importlib.import_module(f"{__name__}.{name}")
    try:
        submodule = _SUBMODULE_OF[name]
    except KeyError:
        raise AttributeError(f"module 'blocks.utils' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    # Cached so that the next lookup is an ordinary attribute access.
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
