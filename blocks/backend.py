"""Which backend compiles a function, and compiling for it.

Every place of the library that compiles a function (the training algorithms, the
monitoring evaluators, beam search, the examples) calls :func:`function`, which picks the
PyTensor mode in this order:

1. the ``mode`` argument of the call (or of the object that compiles, e.g.
   ``GradientDescent(..., mode="JAX")``, or Blocks' ``theano_func_kwargs={'mode': ...}``);
2. :data:`blocks.config.mode <blocks.config.config>`, set in code or by the environment
   variable ``BLOCKS_MODE`` (``JAX``, ``NUMBA``, ``FAST_COMPILE``, ...);
3. PyTensor's own default, ``pytensor.config.mode`` (the Numba linker on a CPU).

Under JAX a function is compiled once per combination of its inputs' shapes (see
:class:`ShapeSpecializedFunction`): XLA needs static shapes — PyTensor's JAX ``Scan``
needs the number of steps, allocations need their sizes — and a graph built on inputs of
unknown length gives it none. Giving every input its static shape is what ``jax.jit``
itself does when it retraces for new shapes.

>>> import numpy as np
>>> import pytensor.tensor as pt
>>> x = pt.vector('x')
>>> double = function([x], 2 * x, mode="FAST_COMPILE")
>>> double(np.array([1.0, 2.0])).tolist()
[2.0, 4.0]
"""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import get_mode
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import graph_inputs
from pytensor.link.jax.linker import JAXLinker
from pytensor.link.numba.linker import NumbaLinker
from pytensor.link.vm import VMLinker
from pytensor.tensor import specify_shape
from pytensor.tensor.type import TensorType

__all__ = ["ShapeSpecializedFunction", "backend_name", "function", "is_jax", "resolve_mode"]

#: Lower-case spellings accepted for PyTensor's named modes.
_MODE_NAMES = {"jax": "JAX", "numba": "NUMBA", "fast_compile": "FAST_COMPILE",
               "fast_run": "FAST_RUN", "c": "FAST_RUN", "py": "FAST_COMPILE",
               "pytorch": "PYTORCH", "mlx": "MLX"}

#: Distinct input shapes after which a JAX function warns that it keeps recompiling.
MANY_SHAPES = 8


def resolve_mode(mode=None):
    """The PyTensor mode to compile with (a name or a ``Mode``), by the order above.

    >>> resolve_mode("jax")
    'JAX'
    >>> resolve_mode() == resolve_mode(None)
    True
    """
    from blocks.config import config

    if mode is None or (isinstance(mode, str) and not mode):
        mode = config.mode or None
    if mode is None:
        return pytensor.config.mode
    if isinstance(mode, str):
        return _MODE_NAMES.get(mode.lower(), mode)
    return mode


def is_jax(mode=None):
    """Whether `mode` (resolved as by :func:`resolve_mode`) compiles with JAX.

    >>> is_jax("JAX"), is_jax("FAST_COMPILE")
    (True, False)
    """
    return isinstance(get_mode(resolve_mode(mode)).linker, JAXLinker)


def backend_name(mode=None):
    """A short description of the backend a mode compiles for, for a user to read.

    >>> backend_name("NUMBA"), backend_name("FAST_COMPILE")
    ('Numba (CPU)', 'Python (FAST_COMPILE)')
    """
    linker = get_mode(resolve_mode(mode)).linker
    if isinstance(linker, JAXLinker):
        import jax

        devices = jax.devices()
        return f"JAX ({len(devices)} {devices[0].platform.upper()} device(s))"
    if isinstance(linker, NumbaLinker):
        return "Numba (CPU)"
    if isinstance(linker, VMLinker) and not linker.use_cloop:
        return "Python (FAST_COMPILE)"
    return type(linker).__name__


def function(inputs, outputs=None, mode=None, updates=None, sharding=None, **kwargs):
    """Compile a function as :func:`pytensor.function` does, for the resolved mode.

    Parameters
    ----------
    inputs : list of Variable
    outputs : Variable or list of Variable, optional
    mode : str or Mode, optional
        See :func:`resolve_mode`.
    updates : dict or list of pairs, optional
    sharding : :class:`~blocks.devices.BatchSharding`, optional
        Split each call's inputs over several devices (JAX only).
    **kwargs
        Passed to :func:`pytensor.function`.

    Returns
    -------
    callable
        A PyTensor function, or under JAX a :class:`ShapeSpecializedFunction`.
    """
    mode = resolve_mode(mode)
    if is_jax(mode):
        return ShapeSpecializedFunction(inputs, outputs, mode=mode, updates=updates,
                                        sharding=sharding, **kwargs)
    if sharding is not None:
        raise ValueError(
            f"several devices need the JAX backend (mode='JAX'), but the mode is {mode!r}")
    return pytensor.function(inputs, outputs, mode=mode, updates=updates, **kwargs)


def _is_size(variable):
    """Whether an input may be a size: an integer scalar."""
    return variable.ndim == 0 and variable.dtype.startswith(("int", "uint"))


def _default_updates(outputs, updates):
    """The default updates (e.g. of random generators) of the shared variables of a graph
    that `updates` does not update.

    PyTensor would take them from the original graph, whose inputs are not those of a
    shape-specialized copy, so the copy is given them explicitly.
    """
    updated = {shared for shared, _ in updates}
    return [(variable, variable.default_update)
            for variable in graph_inputs(outputs + [value for _, value in updates])
            if isinstance(variable, SharedVariable) and variable not in updated
            and getattr(variable, "default_update", None) is not None]


class ShapeSpecializedFunction:
    """A function compiled once per combination of its inputs' shapes.

    At a call with shapes not seen before, the graph is copied with inputs whose types
    carry those static shapes, and with the shapes of the shared variables (parameters)
    specified as they are at that call, and compiled; later calls with the same shapes
    reuse that compiled function. A graph whose shapes also depend on the values of
    integer scalar inputs (the batch size of ``generate``, a number of steps) fails to
    trace; it is then compiled once per value of those inputs, as ``jax.jit`` does for
    static arguments. Sequences of many lengths compile many times, so
    pad them to a few lengths (bucketing); past :data:`MANY_SHAPES` versions a warning
    says so.

    Parameters
    ----------
    inputs, outputs, mode, updates, **kwargs
        As for :func:`pytensor.function`.
    sharding : :class:`~blocks.devices.BatchSharding`, optional
        Split the inputs of each call over several devices along their batch axes, and
        replicate the parameters; the compiled JAX function is called with the placed
        arrays (a plain call would gather them on one device), and the updated
        parameters come back to the host as NumPy arrays.

    Attributes
    ----------
    last_arguments : list
        With a `sharding`, the arrays of the last call as placed on the devices.
    """

    def __init__(self, inputs, outputs=None, mode=None, updates=None, sharding=None,
                 **kwargs):
        for variable in inputs:
            if not isinstance(variable, Variable):
                raise TypeError(
                    f"{type(self).__name__}: inputs must be symbolic variables, got "
                    f"{type(variable).__name__} {variable!r}")
        self.inputs = list(inputs)
        self.single_output = outputs is not None and not isinstance(outputs, list | tuple)
        self.outputs = ([] if outputs is None else
                        [outputs] if self.single_output else list(outputs))
        if updates is None:
            updates = []
        self.updates = list(updates.items() if isinstance(updates, dict) else updates)
        self.mode = mode
        self.kwargs = kwargs
        self.compiled = {}
        self.by_value = False
        self.sharding = sharding
        self.last_arguments = None
        self.update_pairs = self.updates + _default_updates(self.outputs, self.updates)
        self.shared_tensors = [
            variable for variable in graph_inputs(
                self.outputs + [value for _, value in self.update_pairs])
            if isinstance(variable, SharedVariable) and isinstance(variable.type, TensorType)]

    def _compile(self, key, args):
        shapes = key[:len(self.inputs) + len(self.shared_tensors)]
        static, kept = {}, []
        for index, (variable, arg) in enumerate(zip(self.inputs, args)):
            if self.by_value and _is_size(variable):
                static[variable] = pt.constant(np.asarray(arg, dtype=variable.dtype))
            else:
                static[variable] = variable.type.clone(shape=shapes[index])(name=variable.name)
                kept.append(index)
        # A length of 1 is left unknown: PyTensor takes it for a broadcastable axis, and a
        # parameter's update must keep the parameter's own type.
        static.update({variable: specify_shape(variable, [None if n == 1 else n for n in shape])
                       for variable, shape in zip(self.shared_tensors,
                                                  shapes[len(self.inputs):])})
        pairs = self.update_pairs
        replaced = clone_replace(self.outputs + [value for _, value in pairs], replace=static)
        outputs = replaced[:len(self.outputs)]
        updates = list(zip([shared for shared, _ in pairs], replaced[len(outputs):]))
        compiled = pytensor.function(
            [static[self.inputs[index]] for index in kept],
            outputs[0] if self.single_output else outputs,
            mode=self.mode, updates=updates, **self.kwargs)
        call = compiled if self.sharding is None else self._sharded_call(compiled)
        return compiled, call, kept

    def function_for(self, *args):
        """The compiled function for the shapes of `args` (compiled on first need), what
        to call to run it (itself, or its placement on the devices of a sharding), and the
        indices of the arguments it takes."""
        if len(args) != len(self.inputs):
            raise TypeError(
                f"{type(self).__name__}: expected {len(self.inputs)} arguments "
                f"({[v.name for v in self.inputs]}), got {len(args)}")
        key = tuple(np.shape(arg) for arg in args)
        for variable, shape in zip(self.inputs, key):
            if len(shape) != variable.ndim:
                raise TypeError(
                    f"{type(self).__name__}: input {variable.name!r} expects "
                    f"{variable.ndim} dimensions, got an array of shape {shape}")
        key += tuple(variable.get_value(borrow=True).shape
                     for variable in self.shared_tensors)
        if self.by_value:
            key += tuple(int(arg) for variable, arg in zip(self.inputs, args)
                         if _is_size(variable))
        if key not in self.compiled:
            self.compiled[key] = self._compile(key, args)
            if len(self.compiled) == MANY_SHAPES + 1:
                warnings.warn(
                    f"a JAX function has been compiled for {len(self.compiled)} different "
                    f"input shapes (XLA compiles once per shape); pad sequences to a few "
                    f"lengths and keep the batch size fixed to compile less",
                    stacklevel=3)
        return self.compiled[key]

    def __call__(self, *args):
        _, call, kept = self.function_for(*args)
        try:
            results = call(*[args[index] for index in kept])
        except TypeError as error:
            # JAX traces at the first call; a shape that depends on a value fails there.
            if "concrete" not in str(error):
                raise
            sizes = [variable.name for variable in self.inputs if _is_size(variable)]
            if self.by_value or not sizes:
                raise ValueError(
                    "under JAX every shape must be known when a function is compiled, but "
                    "a shape of this graph depends on the values of its inputs "
                    f"{[variable.name for variable in self.inputs]}; give sizes and numbers "
                    "of steps as Python ints (e.g. generate(n_steps=10)) or fix the "
                    "shapes of inputs with pytensor.tensor.specify_shape"
                ) from error
            # Integer scalars are sizes here (a batch size, a number of steps): compile
            # once per value of them, as jax.jit does for static arguments.
            self.by_value = True
            self.compiled.clear()
            return self(*args)
        # JAX returns its own immutable arrays; callers of the library get NumPy's.
        if isinstance(results, list | tuple):
            return [np.array(result) for result in results]
        return np.array(results)

    def _sharded_call(self, compiled):
        """A callable that runs `compiled` on the devices of :attr:`sharding`."""
        cells = compiled.vm.inputs
        fgraph = compiled.maker.fgraph
        explicit = [variable.name for variable in fgraph.inputs[:len(compiled.maker.inputs)]
                    if not isinstance(variable, SharedVariable)]

        def call(*args):
            placed = [self.sharding.split(name, arg) for name, arg in zip(explicit, args)]
            placed += [self.sharding.replicated(cell[0]) for cell in cells[len(args):]]
            self.last_arguments = placed
            results = compiled.vm.jit_fn(*placed)
            for output_index, input_index in fgraph.update_mapping.items():
                value = results[output_index]
                # Parameters come back to the host; random keys stay JAX's.
                cells[input_index][0] = value if isinstance(value, dict) else np.array(value)
            n_outputs = len(fgraph.outputs) - len(fgraph.update_mapping)
            outputs = list(results[:n_outputs])
            return outputs[0] if self.single_output else outputs

        return call

    @property
    def maker(self):
        """The ``maker`` of the function compiled last (for inspecting its graph)."""
        if not self.compiled:
            raise ValueError(f"{type(self).__name__}: nothing compiled yet; call it first")
        return list(self.compiled.values())[-1][0].maker
