"""Loop nests for the Python source of the Numba implementations that replace some of
PyTensor's (:mod:`blocks.ops.reduce`, :mod:`blocks.ops.alloc`,
:mod:`blocks.ops.subtensor`): one loop per axis, the last axis innermost, which Numba
compiles quickly and LLVM vectorizes."""

__all__ = ["indices", "loop_nest"]


def indices(ndim):
    """``i0, i1, ...``: the loop variables of a nest over `ndim` axes.

    >>> indices(3)
    'i0, i1, i2'
    """
    return ", ".join(f"i{axis}" for axis in range(ndim))


def loop_nest(extents, body):
    """Code tokens (for PyTensor's ``build_source_code``) of nested loops, ``i<k>`` running
    over ``range(extents[k])`` (source expressions), around the lines of `body`."""
    # Imported here: importing Numba's dispatch package registers the modules that
    # import this one.
    from pytensor.link.numba.dispatch.string_codegen import CODE_TOKEN

    code = []
    for axis, extent in enumerate(extents):
        code += [f"for i{axis} in range({extent}):", CODE_TOKEN.INDENT]
    return code + list(body) + [CODE_TOKEN.DEDENT] * len(extents)
