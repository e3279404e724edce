"""MLP training step: bricks vs the same hand-written PyTensor graph vs PyTorch eager.

The model: 784-1024-1024-10, ReLU, softmax cross-entropy (mean over the batch), batch 256,
float32. One step is forward, backward and an SGD update of every parameter (learning
rate 0.01). All candidates start from the same parameter values and data; the script
checks that their losses agree over two steps before timing them.

Run ``python -m benchmarks.run mlp`` (or ``python -m benchmarks.bench_mlp``).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

from benchmarks.harness import Candidate, parse_args, run_benchmark  # noqa: E402

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


def _sgd_step(x, y, cost, parameters):
    lr = np.float32(LEARNING_RATE)
    grads = pytensor.grad(cost, parameters)
    return pytensor.function([x, y], cost,
                             updates=[(p, p - lr * g) for p, g in zip(parameters, grads)])


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


def _compile(graph):
    x, y, cost, parameters = graph()
    return _sgd_step(x, y, cost, parameters)


def _builder(graph):
    _, _, x, y = initial_values()
    return (lambda: _compile(graph)), (lambda fn: fn(x, y))


def build_bricks():
    """``(compile, run)`` for the compile-time measurement of the bricks candidate."""
    return _builder(bricks_graph)


def build_handwritten():
    """``(compile, run)`` for the compile-time measurement of the hand-written candidate."""
    return _builder(handwritten_graph)


def torch_step():
    """A PyTorch eager training step with the same initial values (``torch.optim.SGD``)."""
    import torch

    weights, biases, x, y = initial_values()
    layers = []
    for i, (w, b) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(tx), ty)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch.__version__


def _ops(fn):
    return [str(node.op) for node in fn.maker.fgraph.toposort()]


def main(argv=None):
    args = parse_args(argv, description=__doc__.splitlines()[0])
    _, _, x, y = initial_values()
    bricks_fn = _compile(bricks_graph)
    handwritten_fn = _compile(handwritten_graph)
    step_torch, torch_version = torch_step()

    # Same computation: the losses of two steps from the same start must agree.
    losses = {
        "bricks": [float(bricks_fn(x, y)) for _ in range(2)],
        "handwritten": [float(handwritten_fn(x, y)) for _ in range(2)],
        "pytorch": [step_torch() for _ in range(2)],
    }
    for name, values in losses.items():
        if not np.allclose(values, losses["pytorch"], rtol=1e-3, atol=1e-4):
            raise AssertionError(f"{name} computes different losses: {losses}")

    bricks_ops, handwritten_ops = _ops(bricks_fn), _ops(handwritten_fn)
    candidates = [
        Candidate("bricks", lambda: bricks_fn(x, y), FLOPS,
                  builder="benchmarks.bench_mlp:build_bricks",
                  info={"compiled_nodes": len(bricks_ops)}),
        Candidate("handwritten", lambda: handwritten_fn(x, y), FLOPS,
                  builder="benchmarks.bench_mlp:build_handwritten",
                  info={"compiled_nodes": len(handwritten_ops)}),
        Candidate("pytorch", step_torch, FLOPS, info={"torch": torch_version}),
    ]
    payload = run_benchmark("mlp", candidates, args, reference="pytorch", extra={
        "model": {"dims": DIMS, "batch": BATCH, "dtype": "float32",
                  "learning_rate": LEARNING_RATE, "flops_per_step": FLOPS},
        "losses_first_two_steps": losses,
        "same_compiled_graph": bricks_ops == handwritten_ops,
    })
    rows = {r["name"]: r for r in payload["rows"]}
    ratio = rows["bricks"]["median_ms"] / rows["handwritten"]["median_ms"]
    print(f"bricks / hand-written: {ratio:.2f}; compiled graphs identical: "
          f"{bricks_ops == handwritten_ops} ({len(bricks_ops)} vs {len(handwritten_ops)} "
          f"nodes)")
    return payload


if __name__ == "__main__":
    main()
