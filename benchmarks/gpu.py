"""Training steps under JAX (bricks, ``mode="JAX"``) against PyTorch eager, on one device.

Usage::

    python -m benchmarks.gpu                      # on the GPU JAX and PyTorch find
    python -m benchmarks.gpu --device cpu --quick # smoke test on a machine without one

For each step (the MLP and LeNet training steps of ``bench_mlp`` and ``bench_lenet``, the
GRU and LSTM cost-and-gradients steps of ``bench_recurrent``: same models, same initial
values) the script compiles the bricks' step for JAX, builds PyTorch's eager step on the
same device, checks that both give the same losses over two steps,
times them in alternation (as :func:`benchmarks.harness.alternate`), and prints the
median time of each, their ratio (below 1: JAX faster) and JAX's compile time (tracing
and XLA compilation: the first call less the median call). The seq2seq step is not
included yet (its PyTorch step is CPU-only).
The whole run takes a few minutes (under 8 on a GPU; ``--quick`` for under one). On a
machine with several devices it also times the MLP step data-parallel over all of them
(``GradientDescent(devices=N)``, see :mod:`benchmarks.bench_devices`).

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
    parser.add_argument("--steps", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    return parser.parse_args(argv)


#: The steps, and whether each is a training step (SGD) or a cost and its gradients.
STEPS = {"mlp": "sgd", "lenet": "sgd", "gru": "gradients", "lstm": "gradients"}


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


def _timed_first(function, arguments):
    """``(step, first)``: calls ``function(*arguments)`` and returns the cost (the first
    output) as a float; ``first`` receives the seconds of the first call."""
    first = []

    def step():
        start = time.perf_counter()
        result = function(*arguments)
        loss = float(result[0] if isinstance(result, list) else result)
        if not first:
            first.append(time.perf_counter() - start)
        return loss

    return step, first


def _jax_sgd_step(module, jax, device):
    """The bricks' SGD step of `module` (``bench_mlp``, ``bench_lenet``) under JAX."""
    from benchmarks.harness import pytensor_sgd_step

    *_, x, y = module.initial_values()
    graph = module.bricks_graph()
    fn = pytensor_sgd_step(list(graph[:2]), graph[2], graph[3], module.LEARNING_RATE,
                           mode="JAX")
    return _timed_first(fn, [jax.device_put(x, device), jax.device_put(y, device)])


def _steps(name, jax, jax_device, torch_device):
    """``((jax step, first-call seconds), torch step, flops)`` of one benchmark."""
    from benchmarks import bench_lenet, bench_mlp, bench_recurrent

    if STEPS[name] == "sgd":
        module = {"mlp": bench_mlp, "lenet": bench_lenet}[name]
        return (_jax_sgd_step(module, jax, jax_device), module.torch_step(torch_device)[0],
                module.FLOPS)
    function, arguments, _ = bench_recurrent.brick_function(name, True, "JAX")
    torch_step = bench_recurrent.torch_loop(name, torch_device)[0]
    return (_timed_first(function, [jax.device_put(a, jax_device) for a in arguments]),
            lambda: torch_step()[0], bench_recurrent.flops(name))


def run(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    jax, jax_device = _setup_jax(args.device)
    import pytensor

    pytensor.config.floatX = "float32"
    import torch

    from benchmarks.harness import Candidate, alternate, jax_skip_message, same_losses

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("PyTorch finds no CUDA device")
    rounds = args.rounds or (3 if args.quick else 20)
    calls = args.calls or (2 if args.quick else 5)
    print(f"JAX {jax.__version__} on {jax_device}; PyTorch {torch.__version__} on "
          f"{torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu'}; "
          f"{rounds} rounds x {calls} calls", flush=True)
    rows = []
    for name in args.steps:
        family = "recurrent" if STEPS[name] == "gradients" else "conv"
        message = jax_skip_message(name, family)
        if message is not None:
            print(message)
            continue
        (jax_step, first_call), torch_step, flops = _steps(name, jax, jax_device, args.device)
        # TF32 products on recent GPUs (JAX's default, PyTorch's for convolutions) round
        # differently: the losses agree to about 1e-3 there.
        same_losses({"bricks-jax": jax_step, "pytorch": torch_step}, rtol=2e-2, atol=1e-3)
        candidates = [Candidate("bricks-jax", jax_step, flops),
                      Candidate("pytorch", torch_step, flops)]
        alternate(candidates, rounds=rounds, calls=calls, pause=0.05)
        jax_ms, torch_ms = (statistics.median(c.times) * 1e3 for c in candidates)
        compile_s = max(first_call[0] - jax_ms / 1e3, 0.0)
        rows.append((name, jax_ms, torch_ms, jax_ms / torch_ms, compile_s))
        print(f"[{name}] bricks-jax {jax_ms:.2f} ms, pytorch {torch_ms:.2f} ms", flush=True)
    print("[seq2seq] not in this script yet: its PyTorch step runs on the CPU only")
    print(f"\nstep    bricks-jax ms  pytorch ms  jax/pytorch  jax compile s  ({args.device})")
    for name, jax_ms, torch_ms, ratio, compile_s in rows:
        print(f"{name:<6}  {jax_ms:13.2f}  {torch_ms:10.2f}  {ratio:11.2f}  {compile_s:13.1f}")
    _several_devices(jax, rounds)
    return rows


def _several_devices(jax, rounds):
    """The MLP step data-parallel on all devices against one, where there are several."""
    from benchmarks.bench_devices import time_mlp_step

    count = len(jax.devices())
    if count < 2:
        print("\n[devices] one device only: no data-parallel row")
        return
    print("\nMLP step, batch 256, data-parallel (GradientDescent(devices=N))")
    single, _ = time_mlp_step(None, 256, rounds)
    median, compile_s = time_mlp_step(count, 256, rounds)
    print(f"1 device {1000 * single:.2f} ms; {count} devices {1000 * median:.2f} ms "
          f"({single / median:.2f}x); compile {compile_s:.1f} s")


if __name__ == "__main__":
    run()
