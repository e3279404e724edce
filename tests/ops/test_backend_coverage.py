"""Every Op defined under ``blocks/`` has an implementation of its own in each backend.

PyTensor falls back on an op's ``perform`` (Numba, through object mode) or refuses it
(JAX) when no implementation is registered for the op's class: both fallbacks are
found through the dispatcher's entry for the base class ``Op``, which is what these
tests tell apart from a real registration (one for the class or a base class other
than ``Op``).
"""

import importlib
import pkgutil

import pytest
from pytensor.graph.op import Op

import blocks


def _jax_available():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _import_every_module():
    with_jax = _jax_available()
    for module in pkgutil.walk_packages(blocks.__path__, prefix="blocks."):
        last = module.name.rsplit(".", 1)[-1]
        if last == "__main__" or (last.startswith("jax") and not with_jax):
            continue
        importlib.import_module(module.name)


def _subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def blocks_ops():
    """Every concrete Op subclass defined in a module of blocks, by qualified name."""
    _import_every_module()
    # Private classes (``_PoolBase``...) are shared bases, never in a graph themselves.
    ops = {f"{c.__module__}.{c.__qualname__}": c for c in _subclasses(Op)
           if c.__module__.split(".")[0] == "blocks" and not c.__name__.startswith("_")}
    return dict(sorted(ops.items()))


def missing(dispatcher, ops):
    """The names among `ops` (name to class) that `dispatcher` has nothing of its own for."""
    fallback = dispatcher.dispatch(Op)
    return [name for name, cls in ops.items() if dispatcher.dispatch(cls) is fallback]


def test_ops_are_found():
    # The walk must see the families of blocks.ops; an empty list would pass the others.
    names = blocks_ops()
    for expected in ("blocks.ops.conv.op.Im2Col", "blocks.ops.pool.op.Pool",
                     "blocks.ops.blas.op.BlasGemm"):
        assert expected in names


def test_every_op_has_a_numba_implementation():
    from pytensor.link.numba.dispatch import numba_funcify

    assert missing(numba_funcify, blocks_ops()) == []


def test_every_op_has_a_jax_implementation():
    pytest.importorskip("jax")
    from pytensor.link.jax.dispatch import jax_funcify

    assert missing(jax_funcify, blocks_ops()) == []


@pytest.mark.parametrize("backend", ["numba", "jax"])
def test_an_op_without_implementation_is_reported(backend):
    pytest.importorskip(backend)
    dispatcher = importlib.import_module(f"pytensor.link.{backend}.dispatch")
    funcify = getattr(dispatcher, f"{backend}_funcify")
    from blocks.ops.pool.op import MaxPoolGrad, Pool

    class Unregistered(Op):
        def make_node(self, *inputs):
            raise NotImplementedError

        def perform(self, node, inputs, outputs):
            raise NotImplementedError

    class PoolVariant(Pool):  # inherits Pool's registration
        pass

    ops = {"unregistered": Unregistered, "pool": PoolVariant, "grad": MaxPoolGrad}
    assert missing(funcify, ops) == ["unregistered"]
