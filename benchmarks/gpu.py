"""Training steps under JAX (bricks, ``mode="JAX"``) against PyTorch eager, on one device.

Usage::

    python -m benchmarks.gpu                      # on the GPU JAX and PyTorch find
    python -m benchmarks.gpu --device cpu --quick # smoke test on a machine without one

For each step (the MLP and LeNet steps of ``bench_mlp`` and ``bench_lenet``: same models,
same initial values) the script compiles the bricks' SGD step for JAX, builds PyTorch's
eager step on the same device, checks that both give the same losses over two steps,
times them in alternation (as :func:`benchmarks.harness.alternate`), and prints the
median time of each, their ratio (below 1: JAX faster) and JAX's compile time (tracing
and XLA compilation: the first call less the median call). The recurrent steps
are listed with the reason they are skipped until their ops have JAX implementations.
The whole run takes a few minutes (under 8 on a GPU; ``--quick`` for under one).

Inputs are placed on the device once, for both frameworks, so that a step times the
step and not a copy of the batch; each step returns its loss to the host (one sync).
"""

import argparse
import os
import statistics
import sys
import time


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="where both frameworks run (default cuda)")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 2 calls: a smoke test, not a measurement")
    parser.add_argument("--steps", nargs="+", choices=["mlp", "lenet"],
                        default=["mlp", "lenet"])
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    return parser.parse_args(argv)


def _setup_jax(device):
    # Before JAX is imported: which platform it starts, and no preallocation of 75% of the
    # GPU's memory, which PyTorch in the same process needs too.
    os.environ["JAX_PLATFORMS"] = "cpu" if device == "cpu" else "cuda"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    devices = jax.devices()
    if device == "cuda" and devices[0].platform != "gpu":
        raise SystemExit(f"JAX found no GPU (devices: {devices}); install jax[cuda12]")
    return jax, devices[0]


def _jax_step(module, jax, device):
    """``(step, seconds of the first call)``: the bricks' SGD step compiled for JAX; its
    first call (tracing and XLA compilation, then the step) is timed."""
    from benchmarks.harness import pytensor_sgd_step

    *_, x, y = module.initial_values()
    graph = module.bricks_graph()
    fn = pytensor_sgd_step(list(graph[:2]), graph[2], graph[3], module.LEARNING_RATE,
                           mode="JAX")
    x, y = jax.device_put(x, device), jax.device_put(y, device)
    first = []

    def step():
        start = time.perf_counter()
        loss = float(fn(x, y))
        if not first:
            first.append(time.perf_counter() - start)
        return loss

    return step, first


def run(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    jax, jax_device = _setup_jax(args.device)
    import pytensor

    pytensor.config.floatX = "float32"
    import torch

    from benchmarks import bench_lenet, bench_mlp
    from benchmarks.harness import Candidate, alternate, jax_skip_message, same_losses

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("PyTorch finds no CUDA device")
    rounds = args.rounds or (3 if args.quick else 20)
    calls = args.calls or (2 if args.quick else 5)
    print(f"JAX {jax.__version__} on {jax_device}; PyTorch {torch.__version__} on "
          f"{torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'}; "
          f"{rounds} rounds x {calls} calls", flush=True)
    modules = {"mlp": bench_mlp, "lenet": bench_lenet}
    rows = []
    for name in args.steps:
        module = modules[name]
        jax_step, first_call = _jax_step(module, jax, jax_device)
        torch_step, _ = module.torch_step(args.device)
        # TF32 products on recent GPUs (JAX's default, PyTorch's for convolutions) round
        # differently: the losses agree to about 1e-3 there.
        same_losses({"bricks-jax": jax_step, "pytorch": torch_step}, rtol=2e-2, atol=1e-3)
        candidates = [Candidate("bricks-jax", jax_step, module.FLOPS),
                      Candidate("pytorch", torch_step, module.FLOPS)]
        alternate(candidates, rounds=rounds, calls=calls, pause=0.05)
        jax_ms, torch_ms = (statistics.median(c.times) * 1e3 for c in candidates)
        compile_s = max(first_call[0] - jax_ms / 1e3, 0.0)
        rows.append((name, jax_ms, torch_ms, jax_ms / torch_ms, compile_s))
        print(f"[{name}] bricks-jax {jax_ms:.2f} ms, pytorch {torch_ms:.2f} ms", flush=True)
    for message in (jax_skip_message("gru/lstm", "recurrent"),
                    jax_skip_message("seq2seq", "recurrent", "attention")):
        if message:
            print(message)
    print(f"\nstep    bricks-jax ms  pytorch ms  jax/pytorch  jax compile s  ({args.device})")
    for name, jax_ms, torch_ms, ratio, compile_s in rows:
        print(f"{name:<6}  {jax_ms:13.2f}  {torch_ms:10.2f}  {ratio:11.2f}  {compile_s:13.1f}")
    return rows


if __name__ == "__main__":
    run()
