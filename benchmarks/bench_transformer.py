"""Transformer encoder training step: bricks vs PyTorch eager (``nn.TransformerEncoderLayer``).

The model: two post-norm encoder layers (``norm_first=False``, PyTorch's default), model
dimension 256, 4 heads, feed-forward 1024 with ReLU, no dropout, on a sequence of 64 steps
and a batch of 32, float32, time-major. The loss is the mean squared difference between
the encoder's output and a fixed target; one step is forward, backward and an SGD update
of every parameter (learning rate 0.01). Both candidates start from the same parameter
values and data, and the script checks that their losses agree over two steps before
timing them.

Run ``python -m benchmarks.run transformer`` (or ``python -m benchmarks.bench_transformer``).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

import blocks  # noqa: E402, F401  (registers the library's rewrites with PyTensor)
from benchmarks.harness import (  # noqa: E402
    Candidate,
    compiled_ops,
    parse_args,
    pytensor_sgd_step,
    run_benchmark,
    same_losses,
)

LAYERS, DIM, HEADS, HIDDEN, TIME, BATCH = 2, 256, 4, 1024, 64, 32
LEARNING_RATE = 0.01

# Matrix-product FLOPs of one step: per layer, the four projections (4 T B D^2), the
# energies and the weighted average (2 B T^2 D) and the feed-forward network (2 T B D H),
# each a multiply-add (x2) in the forward pass and twice that in the backward pass (x3).
_FORWARD = LAYERS * 2 * (4 * TIME * BATCH * DIM ** 2 + 2 * BATCH * TIME ** 2 * DIM
                         + 2 * TIME * BATCH * DIM * HIDDEN)
FLOPS = 3 * _FORWARD


def initial_values(seed=1234):
    """Inputs, targets and, per layer, the parameters in our layout (``x @ W``)."""
    rng = np.random.default_rng(seed)

    def uniform(*shape):
        bound = np.sqrt(6 / sum(shape[-2:])) if len(shape) > 1 else 0.1
        return rng.uniform(-bound, bound, shape).astype("float32")

    layers = []
    for _ in range(LAYERS):
        layer = {name: uniform(DIM, DIM) for name in ("query", "key", "value", "output")}
        layer.update({f"{name}_b": uniform(DIM) for name in ("query", "key", "value",
                                                              "output")})
        layer.update(ff1=uniform(DIM, HIDDEN), ff1_b=uniform(HIDDEN),
                     ff2=uniform(HIDDEN, DIM), ff2_b=uniform(DIM))
        layer.update(norm1_scale=1 + uniform(DIM), norm1_shift=uniform(DIM),
                     norm2_scale=1 + uniform(DIM), norm2_shift=uniform(DIM))
        layers.append(layer)
    x = rng.standard_normal((TIME, BATCH, DIM)).astype("float32")
    y = rng.standard_normal((TIME, BATCH, DIM)).astype("float32")
    return layers, x, y


def bricks_graph():
    """The model from bricks: ``TransformerEncoder(norm_first=False, activation='relu')``."""
    from blocks.bricks.transformer import TransformerEncoder
    from blocks.initialization import Constant

    values, _, _ = initial_values()
    encoder = TransformerEncoder(LAYERS, DIM, HEADS, HIDDEN, activation="relu",
                                 norm_first=False, weights_init=Constant(0),
                                 biases_init=Constant(0))
    encoder.initialize()
    for layer, value in zip(encoder.layers, values):
        attention = layer.self_attention
        for name in ("query", "key", "value", "output"):
            linear = getattr(attention, f"{name}_transformer")
            linear.W.set_value(value[name])
            linear.b.set_value(value[f"{name}_b"])
        first, second = layer.feedforward.linear_transformations
        for linear, name in ((first, "ff1"), (second, "ff2")):
            linear.W.set_value(value[name])
            linear.b.set_value(value[f"{name}_b"])
        for norm, name in ((layer.self_attention_norm, "norm1"),
                           (layer.feedforward_norm, "norm2")):
            norm.scale.set_value(value[f"{name}_scale"])
            norm.shift.set_value(value[f"{name}_shift"])
    x, y = pt.tensor3("x"), pt.tensor3("y")
    cost = pt.sqr(encoder.apply(x) - y).mean()
    from blocks.graph import ComputationGraph

    return x, y, cost, ComputationGraph(cost).parameters


def _compile():
    x, y, cost, parameters = bricks_graph()
    return pytensor_sgd_step([x, y], cost, parameters, LEARNING_RATE)


def build_bricks():
    """``(compile, run)`` for the compile-time measurement of the bricks candidate."""
    _, x, y = initial_values()
    return _compile, (lambda fn: fn(x, y))


def torch_step():
    """``(step, torch version)``: the same model with ``torch.nn.TransformerEncoderLayer``."""
    import torch

    values, x, y = initial_values()
    layers = []
    for value in values:
        layer = torch.nn.TransformerEncoderLayer(DIM, HEADS, HIDDEN, dropout=0.0,
                                                 activation="relu", norm_first=False)
        attention = layer.self_attn

        def load(parameter, array):
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(array)))

        with torch.no_grad():
            load(attention.in_proj_weight, np.concatenate(
                [value[name].T for name in ("query", "key", "value")]))
            load(attention.in_proj_bias, np.concatenate(
                [value[f"{name}_b"] for name in ("query", "key", "value")]))
            load(attention.out_proj.weight, value["output"].T)
            load(attention.out_proj.bias, value["output_b"])
            load(layer.linear1.weight, value["ff1"].T)
            load(layer.linear1.bias, value["ff1_b"])
            load(layer.linear2.weight, value["ff2"].T)
            load(layer.linear2.bias, value["ff2_b"])
            for norm, name in ((layer.norm1, "norm1"), (layer.norm2, "norm2")):
                load(norm.weight, value[f"{name}_scale"])
                load(norm.bias, value[f"{name}_shift"])
        layers.append(layer)
    model = torch.nn.Sequential(*layers).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(tx), ty)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch.__version__


def main(argv=None):
    args = parse_args(argv, description=__doc__.splitlines()[0])
    _, x, y = initial_values()
    bricks_fn = _compile()
    step_torch, torch_version = torch_step()
    losses = same_losses({"bricks": lambda: bricks_fn(x, y), "pytorch": step_torch})
    candidates = [
        Candidate("bricks", lambda: bricks_fn(x, y), FLOPS,
                  builder="benchmarks.bench_transformer:build_bricks",
                  info={"compiled_nodes": len(compiled_ops(bricks_fn))}),
        Candidate("pytorch", step_torch, FLOPS, info={"torch": torch_version}),
    ]
    return run_benchmark("transformer", candidates, args, reference="pytorch", extra={
        "model": {"layers": LAYERS, "dim": DIM, "heads": HEADS, "feedforward": HIDDEN,
                  "time": TIME, "batch": BATCH, "dtype": "float32",
                  "learning_rate": LEARNING_RATE, "flops_per_step": FLOPS},
        "losses_first_two_steps": losses,
    })


if __name__ == "__main__":
    main()
