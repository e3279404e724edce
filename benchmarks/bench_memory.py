"""Long runs: does the resident memory of a training process stay flat?

Trains a small MLP (32-128-128-10, softmax cross-entropy, Adam, batch 20, float32) for
20,000 batches (200 epochs of 2,000 synthetic examples) with what a real run has:
training-data monitoring after every epoch, held-out monitoring every 10 epochs,
TerminateOnNaN after every batch, a Timing extension, and a checkpoint (the whole main
loop, pickled) every 1,000 batches. Every 1,000 batches it reads the process's resident
set size (``VmRSS`` in ``/proc/self/status``) and prints it; the figure that matters is
the growth from 1,000 batches (compilation and the first checkpoint done) to the end,
which should stay within 5%.

Run ``python -m benchmarks.bench_memory`` (``--batches N``, ``--every N``); the figures
go to ``benchmarks/results/memory.json``. Linux only (``/proc``). No PyTorch needed.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

from benchmarks.harness import write_json  # noqa: E402
from blocks.extensions import SimpleExtension  # noqa: E402

DIMS = (32, 128, 128, 10)
EXAMPLES, HELD_OUT, BATCH = 2000, 500, 20


def resident_bytes():
    """The resident set size of this process (``VmRSS``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmRSS in /proc/self/status")


class MemoryProbe(SimpleExtension):
    """Record the resident memory and the time whenever a condition holds."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.samples = []
        self._started = time.perf_counter()

    def do(self, which_callback, *args):
        iterations = self.main_loop.status["iterations_done"]
        rss = resident_bytes()
        elapsed = time.perf_counter() - self._started
        self.samples.append({"batches": iterations, "rss_bytes": rss, "seconds": elapsed})
        print(f"{iterations:>7} batches  {rss / 2**20:8.1f} MiB  {elapsed:7.1f} s", flush=True)


def build(batches, every, checkpoint_path, seed=1):
    """The main loop of the run, and its memory probe."""
    from blocks.algorithms import Adam, GradientDescent
    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy, MisclassificationRate
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme, ShuffledScheme
    from blocks.extensions import FinishAfter, Timing
    from blocks.extensions.monitoring import DataStreamMonitoring, TrainingDataMonitoring
    from blocks.extensions.nan_guard import TerminateOnNaN
    from blocks.extensions.saveload import Checkpoint
    from blocks.initialization import Constant, IsotropicGaussian
    from blocks.main_loop import MainLoop
    from blocks.model import Model

    rng = np.random.RandomState(seed)
    centers = rng.randn(DIMS[-1], DIMS[0]).astype("float32")

    def data(count):
        labels = rng.randint(DIMS[-1], size=count)
        features = centers[labels] + rng.randn(count, DIMS[0]).astype("float32")
        return {"features": features, "targets": labels[:, None].astype("int64")}

    mlp = MLP([Rectifier(), Rectifier(), Softmax()], list(DIMS),
              weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=seed)
    mlp.initialize()
    features, targets = pt.matrix("features"), pt.lmatrix("targets")
    probabilities = mlp.apply(features)
    cost = CategoricalCrossEntropy().apply(targets.flatten(), probabilities)
    cost.name = "cost"
    error = MisclassificationRate().apply(targets.flatten(), probabilities)
    error.name = "error_rate"
    model = Model(cost)
    train = DataStream(IndexableDataset(data(EXAMPLES)),
                       iteration_scheme=ShuffledScheme(EXAMPLES, BATCH, rng=seed))
    held_out = DataStream(IndexableDataset(data(HELD_OUT)),
                          iteration_scheme=SequentialScheme(HELD_OUT, 250))
    probe = MemoryProbe(every_n_batches=every)
    extensions = [
        Timing(),
        TrainingDataMonitoring([cost, error], prefix="train", after_epoch=True),
        DataStreamMonitoring([cost, error], held_out, prefix="test", every_n_epochs=10),
        TerminateOnNaN(),
        Checkpoint(checkpoint_path, every_n_batches=every, after_training=False,
                   on_interrupt=False),
        probe,
        FinishAfter(after_n_batches=batches),
    ]
    algorithm = GradientDescent(cost=cost, parameters=model.parameters,
                                step_rule=Adam(learning_rate=1e-3))
    return MainLoop(algorithm, train, model=model, extensions=extensions), probe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20000)
    parser.add_argument("--every", type=int, default=1000,
                        help="batches between a memory sample (and a checkpoint)")
    # Options that benchmarks.run passes to every script (--rounds...) do not apply.
    args, _ = parser.parse_known_args(argv)
    if not os.path.exists("/proc/self/status"):
        print("bench_memory needs Linux's /proc", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as directory:
        main_loop, probe = build(args.batches, args.every,
                                 os.path.join(directory, "memory.tar"))
        print(f"resident memory before training: {resident_bytes() / 2**20:.1f} MiB")
        main_loop.run()
        checkpoint_size = os.path.getsize(os.path.join(directory, "memory.tar"))
    first, last = probe.samples[0], probe.samples[-1]
    growth = last["rss_bytes"] / first["rss_bytes"] - 1
    log = main_loop.log
    print(f"from {first['batches']} to {last['batches']} batches: "
          f"{first['rss_bytes'] / 2**20:.1f} -> {last['rss_bytes'] / 2**20:.1f} MiB "
          f"({100 * growth:+.1f}%; goal within 5%); final train cost "
          f"{float(log[log.status['_epoch_ends'][-1]]['train_cost']):.3f}; "
          f"checkpoint {checkpoint_size / 2**10:.0f} KiB")
    path = write_json("memory", {
        "batches": args.batches, "every": args.every, "samples": probe.samples,
        "growth": growth, "checkpoint_bytes": checkpoint_size,
        "mode": str(pytensor.config.mode),
    })
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
