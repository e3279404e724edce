"""Recurrent layers, forward and backward: GatedRecurrent and LSTM bricks vs PyTorch.

One step runs a GRU (or a peephole LSTM) over a sequence of length 50, batch 32,
dimension 256, float32, and computes the gradients of the sum of its states with respect
to its recurrent weights (and, to reach them, through the whole recurrence). The inputs
(and gate inputs) are given, as produced by a fork of the layer below.

Candidates:

- ``bricks``: the brick as users apply it; the loop is one fused recurrent op with a
  hand-derived backward pass (:mod:`blocks.ops.recurrent.op`);
- ``bricks-scan``: the same brick with ``fused = False``: the loop is a
  :func:`pytensor.scan` over the one-step application and its gradient is scan's;
- ``pytorch``: the same recurrence written in PyTorch eager, a loop over time as PyTorch
  users write custom cells (the reference of the ratios);
- ``torch.nn.GRU`` / ``torch.nn.LSTM``: PyTorch's built-in layers, which compute a
  slightly different recurrence (the GRU resets after the recurrent product, the LSTM has
  no peepholes, both have biases and their own input projection, included here): "where
  comparable".

All candidates of one layer start from the same weights and data; the script checks that
the gradients of ``bricks``, ``bricks-scan`` and ``pytorch`` agree before timing them.

Run ``python -m benchmarks.run recurrent`` (or ``python -m benchmarks.bench_recurrent``);
``--layers gru`` or ``--layers lstm`` for one of them, ``--no-scan`` to leave out the slow
scan candidate.
"""

import argparse
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

from benchmarks.harness import (  # noqa: E402
    Candidate,
    jax_skip_message,
    parse_args,
    run_benchmark,
)

LENGTH, BATCH, DIM = 50, 32, 256
MODE = "NUMBA"


def flops(layer):
    """Matrix-product FLOPs of one step: the recurrent products of the forward pass, the
    same products in the backward pass for the state gradients, and for the weight
    gradients (PyTorch's built-in layers do more: their input projection)."""
    per_step = 2 * BATCH * DIM * DIM * (3 if layer == "gru" else 4)
    return 3 * LENGTH * per_step


def values(layer, seed=0):
    """Weights and inputs (float32) shared by all candidates of `layer`."""
    rng = np.random.default_rng(seed)

    def uniform(*shape, scale=1.0):
        return (rng.uniform(-1, 1, shape) * scale).astype("float32")

    scale = 1 / np.sqrt(DIM)
    if layer == "gru":
        return {"state_to_state": uniform(DIM, DIM, scale=scale),
                "state_to_gates": uniform(DIM, 2 * DIM, scale=scale),
                "inputs": uniform(LENGTH, BATCH, DIM),
                "gate_inputs": uniform(LENGTH, BATCH, 2 * DIM)}
    return {"W_state": uniform(DIM, 4 * DIM, scale=scale),
            "W_cell_to_in": uniform(DIM, scale=scale),
            "W_cell_to_forget": uniform(DIM, scale=scale),
            "W_cell_to_out": uniform(DIM, scale=scale),
            "inputs": uniform(LENGTH, BATCH, 4 * DIM)}


def brick_function(layer, fused=True, mode=MODE):
    """Compiled ``f(*sequences) -> [cost, *weight gradients]`` and the sequence values
    (under JAX compiled, per input shape, at the first call)."""
    from blocks.backend import function as compile_function
    from blocks.bricks.recurrent import LSTM, GatedRecurrent
    from blocks.initialization import Constant

    brick = (GatedRecurrent if layer == "gru" else LSTM)(dim=DIM, weights_init=Constant(0))
    brick.initialize()
    brick.fused = fused
    given = values(layer)
    weights = [p for p in brick.parameters if p.name in given]
    for parameter in weights:
        parameter.set_value(given[parameter.name])
    sequences = {name: pt.tensor3(name) for name in ("inputs", "gate_inputs")
                 if name in given}
    states = brick.apply(**sequences, return_list=True)[0]
    cost = states.sum()
    gradients = pytensor.grad(cost, weights)
    function = compile_function(list(sequences.values()), [cost] + gradients, mode=mode)
    return function, [given[name] for name in sequences], [p.name for p in weights]


def _builder(layer, fused, mode=MODE):
    def compile_():
        return brick_function(layer, fused, mode)

    def run(built):
        function, arguments, _ = built
        function(*arguments)

    return compile_, run


def build_gru():
    return _builder("gru", True)


def build_gru_scan():
    return _builder("gru", False)


def build_lstm():
    return _builder("lstm", True)


def build_lstm_scan():
    return _builder("lstm", False)


def build_gru_jax():
    return _builder("gru", True, "JAX")


def build_lstm_jax():
    return _builder("lstm", True, "JAX")


def torch_loop(layer, device="cpu"):
    """A PyTorch eager step of the same recurrence (a loop over time) and its weights."""
    import torch

    given = {k: torch.from_numpy(v).to(device) for k, v in values(layer).items()}
    weights = {k: v.clone().requires_grad_(True) for k, v in given.items()
               if k not in ("inputs", "gate_inputs")}
    zeros = torch.zeros(BATCH, DIM, device=device)
    x = given["inputs"]

    def gru():
        h, states = zeros, []
        U, Ug, gx = weights["state_to_state"], weights["state_to_gates"], given["gate_inputs"]
        for t in range(LENGTH):
            gates = torch.sigmoid(gx[t] + h @ Ug)
            z, r = gates[:, :DIM], gates[:, DIM:]
            candidate = torch.tanh(x[t] + (h * r) @ U)
            h = z * candidate + (1 - z) * h
            states.append(h)
        return torch.stack(states)

    def lstm():
        h, c, states = zeros, zeros, []
        W = weights["W_state"]
        w_in, w_forget, w_out = (weights[f"W_cell_to_{n}"] for n in ("in", "forget", "out"))
        for t in range(LENGTH):
            a = x[t] + h @ W
            i = torch.sigmoid(a[:, :DIM] + c * w_in)
            f = torch.sigmoid(a[:, DIM:2 * DIM] + c * w_forget)
            c = f * c + i * torch.tanh(a[:, 2 * DIM:3 * DIM])
            o = torch.sigmoid(a[:, 3 * DIM:] + c * w_out)
            h = o * torch.tanh(c)
            states.append(h)
        return torch.stack(states)

    forward = gru if layer == "gru" else lstm

    def step():
        for w in weights.values():
            w.grad = None
        cost = forward().sum()
        cost.backward()
        return [cost.item()] + [w.grad.cpu().numpy() for w in weights.values()]

    return step, list(weights)


def torch_builtin(layer):
    """A step of ``torch.nn.GRU`` / ``torch.nn.LSTM`` on the same sizes."""
    import torch

    torch.manual_seed(0)
    module = (torch.nn.GRU if layer == "gru" else torch.nn.LSTM)(DIM, DIM)
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (LENGTH, BATCH, DIM))
                         .astype("float32"))

    def step():
        module.zero_grad(set_to_none=True)
        cost = module(x)[0].sum()
        cost.backward()
        return cost.item()

    return step


def _check_same(layer, results):
    """The costs and gradients of all candidates must agree (float32, 1e-3 relative)."""
    reference = results["pytorch"]
    for name, result in results.items():
        for i, (a, b) in enumerate(zip(result, reference)):
            scale = np.abs(b).max()
            error = np.abs(np.asarray(a) - np.asarray(b)).max() / scale
            if error > 1e-3:
                raise AssertionError(f"{layer}: {name} differs from pytorch in output {i} "
                                     f"(max error {error:.2e} relative to {scale:.3g})")


def run_layer(layer, args):
    step_torch, torch_names = torch_loop(layer)
    candidates = []
    results = {"pytorch": step_torch()}
    variants = [("bricks", True, MODE)]
    variants += [] if args.no_scan else [("bricks-scan", False, MODE)]
    message = jax_skip_message(layer, "recurrent")
    if message is None:
        variants.append(("bricks-jax", True, "JAX"))
    else:
        print(message)
    for name, fused, mode in variants:
        function, arguments, names = brick_function(layer, fused, mode)
        assert names == torch_names, (names, torch_names)
        results[name] = function(*arguments)
        ops = sorted({type(node.op).__name__ for node in function.maker.fgraph.toposort()})
        suffix = "_jax" if mode == "JAX" else "" if fused else "_scan"
        builder = f"benchmarks.bench_recurrent:build_{layer}{suffix}"
        candidates.append(Candidate(
            name, (lambda f=function, a=arguments: f(*a)), flops(layer), builder=builder,
            info={"compiled_nodes": len(function.maker.fgraph.apply_nodes), "ops": ops}))
    _check_same(layer, results)
    candidates.append(Candidate("pytorch", step_torch, flops(layer)))
    builtin = f"torch.nn.{layer.upper()}"
    candidates.append(Candidate(builtin, torch_builtin(layer), flops(layer),
                                info={"note": "different recurrence, input projection "
                                              "and biases included"}))
    return run_benchmark(f"recurrent_{layer}", candidates, args, reference="pytorch", extra={
        "model": {"layer": layer, "length": LENGTH, "batch": BATCH, "dim": DIM,
                  "dtype": "float32", "flops_per_step": flops(layer), "mode": MODE},
    })


_MEMORY_SCRIPT = """
import resource, sys, json
import numpy as np
from benchmarks.bench_recurrent import brick_function
layer, fused, length = sys.argv[1], sys.argv[2] == "fused", int(sys.argv[3])
function, arguments, _ = brick_function(layer, fused)
function(*arguments)
long = [np.resize(a, (length,) + a.shape[1:]) for a in arguments]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
function(*long)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("MEMORY", json.dumps({"peak_increase_mb": (after - before) / 1024,
                            "inputs_mb": sum(a.nbytes for a in long) / 2 ** 20}))
"""


def memory(layers, variants, lengths=(250, 500, 1000)):
    """Peak memory (maximum resident set size) added by one forward and backward pass over
    long sequences, in fresh processes, in units of one float32 (time, batch, dim) array:
    what a loop keeps for its gradient grows with the length, nothing else should."""
    import json
    import subprocess

    from benchmarks.harness import ROOT, write_json

    rows = []
    for layer in layers:
        for variant in variants:
            for length in lengths:
                done = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, layer, variant,
                                       str(length)], cwd=ROOT, capture_output=True, text=True)
                line = next((x for x in done.stdout.splitlines() if x.startswith("MEMORY ")),
                            None)
                if line is None:
                    raise RuntimeError(done.stderr[-3000:])
                result = json.loads(line.split(" ", 1)[1])
                state_mb = length * BATCH * DIM * 4 / 2 ** 20
                rows.append({"layer": layer, "variant": variant, "length": length,
                             "state_mb": state_mb, **result})
                peak = result["peak_increase_mb"]
                print(f"{layer:4s} {variant:5s} T={length:5d}: peak +{peak:7.1f} MB = "
                      f"{peak / state_mb:5.1f} x one (T, B, D) array ({state_mb:.1f} MB)",
                      flush=True)
    write_json("recurrent_memory", {"batch": BATCH, "dim": DIM, "rows": rows})
    return rows


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--layers", nargs="+", choices=["gru", "lstm"], default=["gru", "lstm"])
    own.add_argument("--no-scan", action="store_true")
    own.add_argument("--memory", action="store_true",
                     help="measure peak memory over sequences of 250 to 1000 steps instead")
    extra, rest = own.parse_known_args(argv)
    if extra.memory:
        return memory(extra.layers, ["fused"] + ([] if extra.no_scan else ["scan"]))
    args = parse_args(rest, description=__doc__.splitlines()[0])
    args.no_scan = extra.no_scan
    return [run_layer(layer, args) for layer in extra.layers]


if __name__ == "__main__":
    main()
