"""MLP training step: bricks vs the same hand-written PyTensor graph vs PyTorch eager.

The model: 784-1024-1024-10, ReLU, softmax cross-entropy (mean over the batch), batch 256,
float32. One step is forward, backward and an SGD update of every parameter (learning
rate 0.01). All candidates start from the same parameter values and data; the script
checks that their losses agree over two steps before timing them.

Both PyTensor candidates compile with the default (Numba) mode, including the rewrites
that ``import blocks`` registers; a fourth candidate, "pytensor plain", compiles the
hand-written graph without them (PyTensor as it comes), to show what they bring.

Run ``python -m benchmarks.run mlp`` (or ``python -m benchmarks.bench_mlp``).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

import blocks  # noqa: E402, F401  (registers the library's rewrites with PyTensor)
from benchmarks.harness import (  # noqa: E402
    Candidate,
    compiled_ops,
    jax_candidate,
    parse_args,
    pytensor_sgd_step,
    run_benchmark,
    same_losses,
    torch_dense_layers,
    torch_sgd_step,
)

DIMS = (784, 1024, 1024, 10)
BATCH = 256
LEARNING_RATE = 0.01

# Matrix-product FLOPs of one step (elementwise work is negligible next to them):
# forward x @ W for every layer, backward dW = h.T @ g for every layer and dh = g @ W.T for
# every layer but the first.
_LAYERS = list(zip(DIMS[:-1], DIMS[1:]))
FLOPS = 2 * BATCH * (2 * sum(i * o for i, o in _LAYERS) + sum(i * o for i, o in _LAYERS[1:]))


def initial_values(seed=1234):
    """Weights (Glorot-uniform), biases, inputs and integer targets, all from `seed`."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, (i, o)).astype("float32") * np.float32(np.sqrt(6 / (i + o)))
               for i, o in _LAYERS]
    biases = [rng.uniform(-0.1, 0.1, o).astype("float32") for _, o in _LAYERS]
    x = rng.standard_normal((BATCH, DIMS[0])).astype("float32")
    y = rng.integers(0, DIMS[-1], BATCH).astype("int64")
    return weights, biases, x, y



def plain_pytensor_mode():
    """PyTensor's default mode without the rewrites of :mod:`blocks.ops.rewrites`."""
    from pytensor.compile.mode import get_default_mode

    return get_default_mode().excluding("blocks")


def bricks_graph():
    """The model from bricks: ``MLP`` of ``Rectifier``\\ s, ``Softmax`` cross-entropy."""
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.initialization import Constant

    weights, biases, _, _ = initial_values()
    mlp = MLP(activations=[Rectifier(), Rectifier(), None], dims=list(DIMS),
              weights_init=Constant(0), biases_init=Constant(0))
    mlp.initialize()
    parameters = []
    for linear, w, b in zip(mlp.linear_transformations, weights, biases):
        linear.W.set_value(w)
        linear.b.set_value(b)
        parameters += [linear.W, linear.b]
    x = pt.matrix("x")
    y = pt.lvector("y")
    cost = Softmax().categorical_cross_entropy(y, mlp.apply(x)).mean()
    return x, y, cost, parameters


def handwritten_graph():
    """The same model written directly with PyTensor."""
    weights, biases, _, _ = initial_values()
    x = pt.matrix("x")
    y = pt.lvector("y")
    parameters = []
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        W = pytensor.shared(w, name=f"W{i}")
        b = pytensor.shared(b, name=f"b{i}")
        parameters += [W, b]
        h = pt.dot(h, W) + b
        if i < len(weights) - 1:
            h = pt.maximum(h, 0)
    log_p = pt.special.log_softmax(h, axis=1)
    cost = -log_p[pt.arange(y.shape[0]), y].mean()
    return x, y, cost, parameters


def _compile(graph, plain=False, mode=None):
    x, y, cost, parameters = graph()
    return pytensor_sgd_step([x, y], cost, parameters, LEARNING_RATE,
                             mode=plain_pytensor_mode() if plain else mode)


def _builder(graph, plain=False, mode=None):
    _, _, x, y = initial_values()
    return (lambda: _compile(graph, plain, mode)), (lambda fn: fn(x, y))


def build_bricks():
    """``(compile, run)`` for the compile-time measurement of the bricks candidate."""
    return _builder(bricks_graph)


def build_handwritten():
    """``(compile, run)`` for the compile-time measurement of the hand-written candidate."""
    return _builder(handwritten_graph)


def build_bricks_jax():
    """``(compile, run)`` for the compile-time measurement of the bricks under JAX."""
    return _builder(bricks_graph, mode="JAX")


def build_plain():
    """``(compile, run)`` for the compile-time measurement of plain PyTensor."""
    return _builder(handwritten_graph, plain=True)


def torch_step(device="cpu"):
    """A PyTorch eager training step with the same initial values (``torch.optim.SGD``)."""
    weights, biases, x, y = initial_values()
    return torch_sgd_step(torch_dense_layers(weights, biases), x, y, LEARNING_RATE, device)


def _extra_ops(ops, reference_ops):
    """The ops of `ops` beyond those of `reference_ops` (multiset difference)."""
    extra = list(ops)
    for op in reference_ops:
        if op in extra:
            extra.remove(op)
    return extra


def breakdown_candidates():
    """Forward-only and forward+gradient timings, PyTensor and PyTorch (``--breakdown``).

    They show which part of the step a gap comes from.
    """
    import torch

    _, _, x_value, y_value = initial_values()
    x, y, cost, parameters = handwritten_graph()
    forward = pytensor.function([x, y], cost)
    gradients = pytensor.function([x, y], [cost, *pytensor.grad(cost, parameters)])

    weights, biases, _, _ = initial_values()
    tensors = [torch.from_numpy(v.copy()).requires_grad_() for v in weights + biases]
    tx, ty = torch.from_numpy(x_value), torch.from_numpy(y_value)

    def torch_loss():
        h = tx
        for i in range(len(weights)):
            h = torch.addmm(tensors[len(weights) + i], h, tensors[i])
            if i < len(weights) - 1:
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, ty)

    def torch_forward():
        with torch.no_grad():
            return torch_loss()

    def torch_gradients():
        return torch.autograd.grad(torch_loss(), tensors)

    forward_flops = 2 * BATCH * sum(i * o for i, o in _LAYERS)
    return [
        Candidate("handwritten forward", lambda: forward(x_value, y_value), forward_flops),
        Candidate("pytorch forward", torch_forward, forward_flops),
        Candidate("handwritten fwd+grad", lambda: gradients(x_value, y_value), FLOPS),
        Candidate("pytorch fwd+grad", torch_gradients, FLOPS),
    ]


def main(argv=None):
    args = parse_args(argv, description=__doc__.splitlines()[0])
    _, _, x, y = initial_values()
    bricks_fn = _compile(bricks_graph)
    handwritten_fn = _compile(handwritten_graph)
    plain_fn = _compile(handwritten_graph, plain=True)
    step_torch, torch_version = torch_step()
    steps = {
        "bricks": lambda: bricks_fn(x, y),
        "handwritten": lambda: handwritten_fn(x, y),
        "pytensor plain": lambda: plain_fn(x, y),
        "pytorch": step_torch,
    }
    bricks_jax = jax_candidate("mlp", lambda: _compile(bricks_graph, mode="JAX"),
                               lambda fn: fn(x, y), FLOPS,
                               builder="benchmarks.bench_mlp:build_bricks_jax")
    if bricks_jax is not None:
        steps["bricks-jax"] = bricks_jax.step

    # Same computation: the losses of two steps from the same start must agree.
    losses = same_losses(steps)

    bricks_ops, handwritten_ops = compiled_ops(bricks_fn), compiled_ops(handwritten_fn)
    candidates = [
        Candidate("bricks", lambda: bricks_fn(x, y), FLOPS,
                  builder="benchmarks.bench_mlp:build_bricks",
                  info={"compiled_nodes": len(bricks_ops)}),
        Candidate("handwritten", lambda: handwritten_fn(x, y), FLOPS,
                  builder="benchmarks.bench_mlp:build_handwritten",
                  info={"compiled_nodes": len(handwritten_ops)}),
        Candidate("pytensor plain", lambda: plain_fn(x, y), FLOPS,
                  builder="benchmarks.bench_mlp:build_plain",
                  info={"compiled_nodes": len(compiled_ops(plain_fn))}),
        Candidate("pytorch", step_torch, FLOPS, info={"torch": torch_version}),
    ]
    if bricks_jax is not None:
        candidates.insert(1, bricks_jax)
    if args.breakdown:
        candidates += breakdown_candidates()
    extra_ops = _extra_ops(bricks_ops, handwritten_ops)
    payload = run_benchmark("mlp", candidates, args, reference="pytorch", extra={
        "model": {"dims": DIMS, "batch": BATCH, "dtype": "float32",
                  "learning_rate": LEARNING_RATE, "flops_per_step": FLOPS},
        "losses_first_two_steps": losses,
        "bricks_extra_compiled_ops": extra_ops,
        "handwritten_extra_compiled_ops": _extra_ops(handwritten_ops, bricks_ops),
    })
    rows = {r["name"]: r for r in payload["rows"]}
    ratio = rows["bricks"]["median_ms"] / rows["handwritten"]["median_ms"]
    print(f"bricks / hand-written: {ratio:.2f}; compiled nodes {len(bricks_ops)} vs "
          f"{len(handwritten_ops)}; ops only in the bricks graph: {extra_ops or 'none'}")
    return payload


if __name__ == "__main__":
    main()
