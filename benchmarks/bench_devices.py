"""Data-parallel training step of an MLP on 1, 2 and 4 JAX devices.

On a CPU the devices are forced (``XLA_FLAGS=--xla_force_host_platform_device_count=4``)
and share the machine's cores, so these figures only show that the sharded step runs
and what splitting costs; they say nothing of the speed-up of several GPUs. On a machine
with several GPUs, run it without the flag.

Usage::

    python -m benchmarks.bench_devices [--rounds 20] [--batch-size 256]
"""

import argparse
import os
import subprocess
import sys
import time

DEVICE_COUNTS = (1, 2, 4)


def time_mlp_step(devices, batch_size, rounds):
    """Median seconds of one training step on `devices` devices (in this process)."""
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.graph import ComputationGraph
    from blocks.initialization import Constant, IsotropicGaussian

    with pytensor.config.change_flags(floatX="float32"):
        x, y = pt.matrix("features"), pt.lvector("targets")
        mlp = MLP([Rectifier(), Rectifier(), Softmax()], [784, 1024, 1024, 10],
                  weights_init=IsotropicGaussian(0.01), biases_init=Constant(0))
        mlp.initialize()
        cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
        algorithm = GradientDescent(
            cost=cost, parameters=ComputationGraph(cost).parameters, step_rule=Scale(0.01),
            mode="JAX", devices=devices, batch_axes={"features": 0, "targets": 0})
        rng = np.random.default_rng(0)
        batch = {"features": rng.random((batch_size, 784), dtype="float32"),
                 "targets": rng.integers(0, 10, batch_size)}
        def step():
            algorithm.process_batch(batch)
            # JAX returns before the step is done: wait for the updated parameters.
            for parameter in algorithm.parameters:
                np.asarray(parameter.get_value(borrow=True))

        started = time.perf_counter()
        step()
        compile_time = time.perf_counter() - started
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
    return float(np.median(times)), compile_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--devices", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.devices is not None:
        median, compile_time = time_mlp_step(args.devices, args.batch_size, args.rounds)
        print(f"{median} {compile_time}")
        return 0
    env = dict(os.environ)
    env.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    print(f"MLP 784-1024-1024-10 step, batch {args.batch_size}, float32, JAX "
          f"({env['XLA_FLAGS']})")
    print(f"{'devices':>8} {'step ms':>9} {'compile s':>10} {'vs 1':>6}")
    single = None
    for count in DEVICE_COUNTS:
        result = subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "benchmarks.bench_devices",
             "--devices", str(count), "--rounds", str(args.rounds),
             "--batch-size", str(args.batch_size)],
            env=env, capture_output=True, text=True, check=True)
        median, compile_time = map(float, result.stdout.split()[-2:])
        single = single or median
        print(f"{count:>8} {1000 * median:>9.2f} {compile_time:>10.2f} "
              f"{median / single:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
