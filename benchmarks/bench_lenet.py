"""LeNet training step: bricks vs the same hand-written PyTensor graph vs PyTorch eager.

The model: 28x28x1 images, convolution 5x5 with 20 filters, ReLU, max-pooling 2x2,
convolution 5x5 with 50 filters, ReLU, max-pooling 2x2, a 800-500 ReLU layer and a
500-10 layer, softmax cross-entropy (mean over the batch), batch 128, float32. One step is
forward, backward and an SGD update of every parameter (learning rate 0.01). All
candidates start from the same parameter values and data; the script checks that their
losses agree over two steps before timing them.

Run ``python -m benchmarks.run lenet`` (or ``python -m benchmarks.bench_lenet``). As in any
process that imports :mod:`blocks`, glibc keeps freed memory for the next step (see
:mod:`blocks.utils.memory`), for PyTorch too; ``BLOCKS_KEEP_FREED_MEMORY=0`` in the
environment measures with the allocator as it comes.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

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

BATCH = 128
IMAGE = (28, 28)
CONVS = ((20, 1, 5, 5), (50, 20, 5, 5))  # filters, channels, rows, columns
HIDDEN = (800, 500, 10)
LEARNING_RATE = 0.01


def _conv_flops():
    flops, size, backward_input = 0, IMAGE[0], False
    for filters, channels, rows, _ in CONVS:
        size = size - rows + 1
        one = 2 * BATCH * filters * size * size * channels * rows * rows
        # Forward and filter gradient; the input gradient except for the first layer.
        flops += one * (3 if backward_input else 2)
        backward_input = True
        size //= 2
    return flops


# Products of the two dense layers: forward, weight gradient, input gradient.
FLOPS = _conv_flops() + 3 * 2 * BATCH * sum(i * o for i, o in zip(HIDDEN[:-1], HIDDEN[1:]))


def initial_values(seed=1234):
    """Filters, weights (Glorot-uniform), biases, images and targets, all from `seed`."""
    rng = np.random.default_rng(seed)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype("float32")

    filters = [glorot(s, s[1] * s[2] * s[3], s[0] * s[2] * s[3]) for s in CONVS]
    weights = [glorot((i, o), i, o) for i, o in zip(HIDDEN[:-1], HIDDEN[1:])]
    biases = [rng.uniform(-0.1, 0.1, n).astype("float32")
              for n in [s[0] for s in CONVS] + list(HIDDEN[1:])]
    x = rng.standard_normal((BATCH, 1) + IMAGE).astype("float32")
    y = rng.integers(0, HIDDEN[-1], BATCH).astype("int64")
    return filters, weights, biases, x, y


def bricks_graph():
    """The model from bricks: a ``ConvolutionalSequence``, ``Flattener``, ``MLP``."""
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.conv import (
        Convolutional,
        ConvolutionalSequence,
        Flattener,
        MaxPooling,
    )
    from blocks.initialization import Constant

    filters, weights, biases, _, _ = initial_values()
    convs = [Convolutional(s[2:], s[0], name=f"conv_{i}") for i, s in enumerate(CONVS)]
    layers = []
    for conv in convs:
        layers += [conv, Rectifier(), MaxPooling((2, 2))]
    seq = ConvolutionalSequence(layers, num_channels=1, image_size=IMAGE, batch_size=BATCH,
                                weights_init=Constant(0), biases_init=Constant(0))
    mlp = MLP([Rectifier(), None], list(HIDDEN), weights_init=Constant(0),
              biases_init=Constant(0))
    seq.initialize()
    mlp.initialize()
    bricks = convs + mlp.linear_transformations
    parameters = []
    for brick, w, b in zip(bricks, filters + weights, biases):
        brick.W.set_value(w)
        brick.b.set_value(b)
        parameters += [brick.W, brick.b]
    x = pt.tensor4("x")
    y = pt.lvector("y")
    features = Flattener().apply(seq.apply(x))
    cost = Softmax().categorical_cross_entropy(y, mlp.apply(features)).mean()
    return x, y, cost, parameters


def handwritten_graph():
    """The same model written with PyTensor and the convolution and pooling ops."""
    from blocks.ops.conv.op import conv2d
    from blocks.ops.pool.op import pool_2d

    filters, weights, biases, _, _ = initial_values()
    x = pt.tensor4("x")
    y = pt.lvector("y")
    parameters = []
    h = x
    for i, (w, b) in enumerate(zip(filters, biases)):
        W, b = pytensor.shared(w, name=f"F{i}"), pytensor.shared(b, name=f"c{i}")
        parameters += [W, b]
        h = conv2d(h, W, filter_shape=w.shape) + b.dimshuffle("x", 0, "x", "x")
        h = pool_2d(pt.maximum(h, 0), (2, 2))
    h = h.flatten(2)
    for i, (w, b) in enumerate(zip(weights, biases[len(filters):])):
        W, b = pytensor.shared(w, name=f"W{i}"), pytensor.shared(b, name=f"b{i}")
        parameters += [W, b]
        h = pt.dot(h, W) + b
        if i < len(weights) - 1:
            h = pt.maximum(h, 0)
    log_p = pt.special.log_softmax(h, axis=1)
    cost = -log_p[pt.arange(y.shape[0]), y].mean()
    return x, y, cost, parameters


def _compile(graph, mode=None):
    x, y, cost, parameters = graph()
    return pytensor_sgd_step([x, y], cost, parameters, LEARNING_RATE, mode=mode)


def _builder(graph, mode=None):
    *_, x, y = initial_values()
    return (lambda: _compile(graph, mode)), (lambda fn: fn(x, y))


def build_bricks():
    """``(compile, run)`` for the compile-time measurement of the bricks candidate."""
    return _builder(bricks_graph)


def build_bricks_jax():
    """``(compile, run)`` for the compile-time measurement of the bricks under JAX."""
    return _builder(bricks_graph, mode="JAX")


def build_handwritten():
    """``(compile, run)`` for the compile-time measurement of the hand-written candidate."""
    return _builder(handwritten_graph)


def torch_step(device="cpu"):
    """A PyTorch eager training step with the same initial values (``torch.optim.SGD``)."""
    import torch

    filters, weights, biases, x, y = initial_values()
    layers = []
    for w, b in zip(filters, biases):
        conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:])
        with torch.no_grad():
            # PyTorch correlates; Blocks convolves (flips the filters).
            conv.weight.copy_(torch.from_numpy(w[:, :, ::-1, ::-1].copy()))
            conv.bias.copy_(torch.from_numpy(b))
        layers += [conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
    layers.append(torch.nn.Flatten())
    layers += torch_dense_layers(weights, biases[len(filters):])
    return torch_sgd_step(layers, x, y, LEARNING_RATE, device)


def main(argv=None):
    args = parse_args(argv, description=__doc__.splitlines()[0])
    *_, x, y = initial_values()
    bricks_fn = _compile(bricks_graph)
    handwritten_fn = _compile(handwritten_graph)
    step_torch, torch_version = torch_step()
    steps = {
        "bricks": lambda: bricks_fn(x, y),
        "handwritten": lambda: handwritten_fn(x, y),
        "pytorch": step_torch,
    }
    bricks_jax = jax_candidate("lenet", lambda: _compile(bricks_graph, mode="JAX"),
                               lambda fn: fn(x, y), FLOPS,
                               builder="benchmarks.bench_lenet:build_bricks_jax")
    if bricks_jax is not None:
        steps["bricks-jax"] = bricks_jax.step

    # Same computation: the losses of two steps from the same start must agree.
    losses = same_losses(steps)

    bricks_ops, handwritten_ops = compiled_ops(bricks_fn), compiled_ops(handwritten_fn)
    candidates = [
        Candidate("bricks", lambda: bricks_fn(x, y), FLOPS,
                  builder="benchmarks.bench_lenet:build_bricks",
                  info={"compiled_nodes": len(bricks_ops)}),
        Candidate("handwritten", lambda: handwritten_fn(x, y), FLOPS,
                  builder="benchmarks.bench_lenet:build_handwritten",
                  info={"compiled_nodes": len(handwritten_ops)}),
        Candidate("pytorch", step_torch, FLOPS, info={"torch": torch_version}),
    ]
    if bricks_jax is not None:
        candidates.insert(1, bricks_jax)
    payload = run_benchmark("lenet", candidates, args, reference="pytorch", extra={
        "model": {"image": IMAGE, "convolutions": CONVS, "pooling": (2, 2),
                  "hidden": HIDDEN, "batch": BATCH, "dtype": "float32",
                  "learning_rate": LEARNING_RATE, "flops_per_step": FLOPS},
        "losses_first_two_steps": losses,
    })
    rows = {r["name"]: r for r in payload["rows"]}
    ratio = rows["bricks"]["median_ms"] / rows["handwritten"]["median_ms"]
    print(f"bricks / hand-written: {ratio:.2f} ({len(bricks_ops)} vs "
          f"{len(handwritten_ops)} compiled nodes)")
    return payload


if __name__ == "__main__":
    main()
