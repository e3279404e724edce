"""Compile time of the default (Numba) backend, cold and warm, model by model.

For each model, a fresh process compiles the model's step and runs it once with empty
caches (a fresh temporary PyTensor ``base_compiledir``, which holds PyTensor's Numba
cache, and a fresh ``NUMBA_CACHE_DIR``): the *cold* figures. Then fresh processes compile
the same model on the caches the first one filled: the *warm* figures (their median).
Each process reports

- **rewrites s**: PyTensor's graph rewriting (``FunctionMaker.prepare_fgraph``, inner
  graphs of ``Scan`` included),
- **numba s**: the linker (``make_thunk``) plus what the first call takes more than the
  second one (Numba compiles, or loads from its cache, at the first call),
- **total s**: from building the graph to the end of the first call, minus one ordinary
  call (graph building, gradients and the rest included),
- **cpu s**: the processor time of the process over the same span (other processes'
  load lengthens the total, not this; Numba compiles on one thread),
- **helper cpu s**: the processor time of the helper process that compiled our fused
  ops' kernels meanwhile (:mod:`blocks.ops.kernel_compile`; 0 when they were cached). On
  a machine with a core to spare it shortens the total; the work is cpu s plus this,
- **compiled**: functions Numba compiled rather than loaded from its cache (a warm
  process should compile none),
- **new files**: files the process added to the caches. A warm process that adds files
  compiled something the cold one did not store, or stored under a key it does not find.

The one-time costs of a process (importing blocks, PyTensor and Numba, Numba's set-up)
are paid first by a trivial function and left out.

The processes run BLAS on one thread (``OPENBLAS_NUM_THREADS=1``; ``--blas-threads`` to
change it): the figures subtract an ordinary call from the first, and with NumPy's and
SciPy's OpenBLAS on two threads each, on a 2-core machine that another process kept
busy, the seq2seq step took from 0.1 to 3.6 s (0.05 s on one thread), so that one cache
gave warm cpu s from 0.0 to 2.8.

Usage::

    python -m benchmarks.compile                       # every model, 2 warm runs
    python -m benchmarks.compile --models mlp,lstm     # some of them
    python -m benchmarks.compile --quick               # smaller models, 1 warm run
    python -m benchmarks.compile --blas-threads 0      # BLAS threads left as they are

The machine's load (``uptime``) is printed beside the table: on a shared machine, compare
rows of one run only.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Model name -> (description, builder in this module).
MODELS = {
    "mlp": "MLP 784-1024-1024-10, SGD step",
    "seq2seq": "attention encoder-decoder (GRU, fused), SGD step",
    "lstm": "LSTM (fused) forward and weight gradients",
    "lenet": "LeNet, conv + pool + batch normalization, SGD step",
    "beam_search": "beam search over a GRU attention decoder, one search",
    "simple_attention": "SimpleRecurrent + SequenceContentAttention, CompositeRule step",
    "tiny_fused": "tiny bidirectional SimpleRecurrent + attending GRU (the cache test's)",
}


def _sgd(inputs, cost, parameters, learning_rate=0.01):
    import pytensor

    from blocks import backend

    gradients = pytensor.grad(cost, parameters)
    return backend.function(inputs, cost, updates=[
        (p, p - learning_rate * g) for p, g in zip(parameters, gradients)])


def build_mlp(quick):
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.initialization import Constant, IsotropicGaussian

    dims = [784, 256, 256, 10] if quick else [784, 1024, 1024, 10]
    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((256, dims[0])).astype("float32")
    y_value = rng.integers(0, 10, 256)

    def compile_():
        mlp = MLP([Rectifier(), Rectifier(), None], dims, weights_init=IsotropicGaussian(0.01),
                  biases_init=Constant(0))
        mlp.initialize()
        x, y = pt.matrix("x", dtype="float32"), pt.lvector("y")
        cost = Softmax().categorical_cross_entropy(y, mlp.apply(x)).mean()
        return _sgd([x, y], cost, mlp.parameters)

    return compile_, lambda fn: fn(x_value, y_value)


def _tokens(rng, length, batch, vocabulary):
    import numpy as np

    lengths = rng.integers(length // 2, length + 1, batch)
    mask = (np.arange(length)[:, None] < lengths[None, :]).astype("float32")
    return rng.integers(1, vocabulary, (length, batch)) * mask.astype("int64"), mask


def _encoder_decoder(transition, dim, vocabulary):
    """Embedding, Fork, a bidirectional encoder and an attending SequenceGenerator, as
    Blocks' machine translation scripts build them; `transition` makes a recurrent brick
    from a dimension and a name."""
    from blocks.bricks import Tanh
    from blocks.bricks.attention import SequenceContentAttention
    from blocks.bricks.lookup import LookupTable
    from blocks.bricks.parallel import Fork
    from blocks.bricks.recurrent import Bidirectional
    from blocks.bricks.sequence_generators import (
        LookupFeedback,
        Readout,
        SequenceGenerator,
        SoftmaxEmitter,
    )
    from blocks.initialization import Constant, IsotropicGaussian, Orthogonal

    encoder = Bidirectional(transition(dim, "encoder_transition"), name="encoder")
    names = [name for name in encoder.prototype.apply.sequences if name != "mask"]
    embedding = LookupTable(vocabulary, dim, name="embedding")
    fork = Fork(names, input_dim=dim, name="fork",
                output_dims=[encoder.prototype.get_dim(name) for name in names])
    generator = SequenceGenerator(
        Readout(readout_dim=vocabulary, source_names=["states", "feedback",
                                                      "weighted_averages"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(vocabulary, dim)),
        transition(dim, "decoder_transition"),
        attention=SequenceContentAttention(state_names=["states"], attended_dim=2 * dim,
                                           match_dim=dim),
        name="decoder")
    for i, brick in enumerate((embedding, fork, encoder, generator)):
        brick.weights_init = IsotropicGaussian(0.1)
        brick.biases_init = Constant(0)
        brick.seed = 100 + i
        brick.initialize()
    for recurrent in (encoder.forward, encoder.backward, generator.transition.transition):
        if not isinstance(getattr(recurrent, "activation", None), Tanh):
            recurrent.weights_init = Orthogonal()
            recurrent.initialize()
    return embedding, fork, encoder, generator


def _encode(embedding, fork, encoder, source, source_mask):
    return encoder.apply(**fork.apply(embedding.apply(source), return_dict=True),
                         mask=source_mask)


def _translation_step(transition, step_rule, dim, vocabulary, length, batch):
    import numpy as np
    import pytensor.tensor as pt

    from blocks.algorithms import GradientDescent

    rng = np.random.default_rng(0)
    source_value, source_mask_value = _tokens(rng, length, batch, vocabulary)
    target_value, target_mask_value = _tokens(rng, length, batch, vocabulary)
    batch_values = {"source": source_value, "source_mask": source_mask_value,
                    "target": target_value, "target_mask": target_mask_value}

    def compile_():
        embedding, fork, encoder, generator = _encoder_decoder(transition, dim, vocabulary)
        source, target = pt.lmatrix("source"), pt.lmatrix("target")
        source_mask, target_mask = pt.matrix("source_mask"), pt.matrix("target_mask")
        attended = _encode(embedding, fork, encoder, source, source_mask)
        cost = generator.cost(target, mask=target_mask, attended=attended,
                              attended_mask=source_mask)
        from blocks.graph import ComputationGraph

        algorithm = GradientDescent(cost=cost, parameters=ComputationGraph(cost).parameters,
                                    step_rule=step_rule())
        algorithm.initialize()
        return algorithm

    return compile_, lambda algorithm: algorithm.process_batch(batch_values)


def _gru(dim, name):
    from blocks.bricks.recurrent import GatedRecurrent

    return GatedRecurrent(dim=dim, name=name)


def _simple(dim, name):
    from blocks.bricks import Tanh
    from blocks.bricks.recurrent import SimpleRecurrent

    return SimpleRecurrent(dim=dim, activation=Tanh(), name=name)


def build_seq2seq(quick):
    from blocks.algorithms import Adam

    return _translation_step(_gru, Adam, 32 if quick else 100, 30 if quick else 100,
                             10 if quick else 20, 8 if quick else 32)


def build_simple_attention(quick):
    from blocks.algorithms import CompositeRule, Scale, StepClipping

    def step_rule():
        return CompositeRule([StepClipping(10.0), Scale(0.01)])

    return _translation_step(_simple, step_rule, 32 if quick else 100,
                             30 if quick else 100, 10 if quick else 20, 8 if quick else 32)


def build_lstm(quick):
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks.recurrent import LSTM
    from blocks.initialization import Constant, IsotropicGaussian

    dim, length, batch = (32, 10, 8) if quick else (256, 50, 32)
    inputs_value = np.random.default_rng(0).standard_normal(
        (length, batch, 4 * dim)).astype("float32")

    def compile_():
        lstm = LSTM(dim=dim, weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
        lstm.initialize()
        inputs = pt.tensor3("inputs", dtype="float32")
        cost = lstm.apply(inputs, return_list=True)[0].sum()
        return _sgd([inputs], cost, lstm.parameters)

    return compile_, lambda fn: fn(inputs_value)


def build_lenet(quick):
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.bn import SpatialBatchNormalization
    from blocks.bricks.conv import Convolutional, ConvolutionalSequence, Flattener, MaxPooling
    from blocks.graph import ComputationGraph
    from blocks.graph.bn import apply_batch_normalization
    from blocks.initialization import Constant, IsotropicGaussian

    batch = 16 if quick else 128
    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((batch, 1, 28, 28)).astype("float32")
    y_value = rng.integers(0, 10, batch)

    def compile_():
        layers = []
        for i, filters in enumerate((20, 50)):
            layers += [Convolutional((5, 5), filters, name=f"conv_{i}"),
                       SpatialBatchNormalization(name=f"bn_{i}"), Rectifier(),
                       MaxPooling((2, 2))]
        convolutions = ConvolutionalSequence(
            layers, num_channels=1, image_size=(28, 28), weights_init=IsotropicGaussian(0.1),
            biases_init=Constant(0))
        mlp = MLP([Rectifier(), None], [800, 500, 10], weights_init=IsotropicGaussian(0.01),
                  biases_init=Constant(0))
        convolutions.initialize()
        mlp.initialize()
        x, y = pt.tensor4("x", dtype="float32"), pt.lvector("y")
        cost = Softmax().categorical_cross_entropy(
            y, mlp.apply(Flattener().apply(convolutions.apply(x)))).mean()
        graph = apply_batch_normalization(ComputationGraph(cost))
        return _sgd([x, y], graph.outputs[0], graph.parameters)

    return compile_, lambda fn: fn(x_value, y_value)


def build_beam_search(quick):
    import numpy as np
    import pytensor.tensor as pt

    from blocks.search import BeamSearch

    dim, vocabulary, length, beam = (32, 30, 10, 5) if quick else (100, 100, 20, 10)
    source_value = _tokens(np.random.default_rng(0), length, 1, vocabulary)[0]

    def compile_():
        embedding, fork, encoder, generator = _encoder_decoder(_gru, dim, vocabulary)
        source = pt.lmatrix("source")
        attended = _encode(embedding, fork, encoder, source, None)
        samples = generator.generate(n_steps=2 * source.shape[0], batch_size=source.shape[1],
                                     attended=attended,
                                     attended_mask=pt.ones(source.shape))[1]
        search = BeamSearch(samples)
        search.compile()
        return search, source

    def run(built):
        search, source = built
        search.search({source: np.repeat(source_value, beam, axis=1)}, eol_symbol=0,
                      max_length=2 * length)

    return compile_, run


def build_tiny_fused(quick):
    """Our fused ops (simple recurrence both ways, masked; GRU attention) and their
    gradients in a graph small enough to compile quickly."""
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks.attention import AttentionRecurrent, SequenceContentAttention
    from blocks.bricks.recurrent import Bidirectional
    from blocks.initialization import Constant, IsotropicGaussian

    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((3, 2, 4)).astype("float32")
    mask_value = np.array([[1, 1], [1, 1], [1, 0]], dtype="float32")

    def compile_():
        encoder = Bidirectional(_simple(4, "encoder_transition"), name="encoder")
        decoder = AttentionRecurrent(
            _gru(4, "decoder_transition"),
            SequenceContentAttention(state_names=["states"], attended_dim=8, match_dim=4),
            name="decoder")
        for brick in (encoder, decoder):
            brick.weights_init = IsotropicGaussian(0.1)
            brick.biases_init = Constant(0)
            brick.initialize()
        x, mask = pt.tensor3("x", dtype="float32"), pt.matrix("mask", dtype="float32")
        attended = encoder.apply(x, mask=mask)
        states = decoder.apply(inputs=x, gate_inputs=pt.concatenate([x, x], axis=2),
                               attended=attended, attended_mask=mask, mask=mask)[0]
        # tanh(s) * s: a fused elementwise node (with its gradient's), which Numba
        # compiles; the other nodes run with NumPy or call our kernels.
        cost = (pt.tanh(states) * states).sum()
        from blocks.graph import ComputationGraph

        # The parameters of the graph: the bricks' children hold them.
        return _sgd([x, mask], cost, ComputationGraph(cost).parameters)

    return compile_, lambda fn: fn(x_value, mask_value)


def cache_files(cache_dir):
    """The paths of the files under `cache_dir`, relative to it."""
    return {os.path.relpath(os.path.join(folder, name), cache_dir)
            for folder, _, names in os.walk(cache_dir) for name in names}


def numba_compilations():
    """A list that receives, from now on, the name of every function that Numba compiles
    to machine code rather than loads from its cache, nested ones included.

    Left out: the object-mode blocks through which a graph calls our kernels
    (:func:`~blocks.ops.numba_glue.objmode_function`), which Numba rebuilds in every
    process (in milliseconds: they only call Python) even when the graph around them
    comes from the cache.
    """
    from numba.core import event
    from numba.core.dispatcher import ObjModeLiftedWith

    names = []

    class Listener(event.Listener):
        def on_start(self, event):
            dispatcher = event.data["dispatcher"]
            if not isinstance(dispatcher, ObjModeLiftedWith):
                function = dispatcher.py_func
                names.append(f"{function.__module__}.{function.__qualname__}")

        def on_end(self, event):
            pass

    event.register("numba:compile", Listener())
    return names


def _digest(outputs):
    """A digest of the arrays a call returned (None if it returned none)."""
    import hashlib

    import numpy as np

    if isinstance(outputs, np.ndarray):
        outputs = [outputs]
    if not isinstance(outputs, (list, tuple)) or not outputs:
        return None
    digest = hashlib.sha256()
    for output in outputs:
        digest.update(np.ascontiguousarray(output).tobytes())
    return digest.hexdigest()[:16]


def process_setup_function():
    """A trivial function that Numba compiles: calling it once pays the one-time costs of
    a process (importing PyTensor's Numba dispatch and our kernels' modules, setting up
    Numba's compiler; about 0.3 s on a warm cache).

    ``exp(v) * 2`` rather than ``2 * v``: a node of one ufunc runs with NumPy
    (:mod:`blocks.ops.python_nodes`) and would leave Numba's set-up to the model's
    figures.
    """
    import pytensor
    import pytensor.tensor as pt

    v = pt.vector("v")
    return pytensor.function([v], pt.exp(v) * 2)


def pay_process_setup():
    """Pay the one-time costs of a process before the model's figures are taken."""
    import numpy as np

    function = process_setup_function()
    function(np.ones(2, dtype=function.maker.fgraph.inputs[0].dtype))


def child(model, quick):
    """Compile and run `model` in this process; print its figures as JSON."""
    from pytensor.compile.debug import profiling

    import blocks  # noqa: F401
    from blocks.rewrite_cache import counters

    pay_process_setup()
    compile_, run = globals()[f"build_{model}"](quick)
    compiled_functions = numba_compilations()
    rewrites, linker = profiling.total_graph_rewrite_time, profiling.total_time_linker
    cpu = time.process_time()
    start = time.perf_counter()
    built = compile_()
    compiled = time.perf_counter()
    run(built)
    first = time.perf_counter()
    first_cpu = time.process_time()
    second_outputs = run(built)
    second = time.perf_counter() - first
    second_cpu = time.process_time() - first_cpu
    # The helper process that compiled our kernels ahead (blocks.ops.kernel_compile):
    # stopped, so that its processor time is counted.
    from blocks.ops import kernel_compile

    kernel_compile.shutdown()
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)
    rewrites = profiling.total_graph_rewrite_time - rewrites
    linker = profiling.total_time_linker - linker
    # Compiling at the first call, or loading from the cache.
    first_call = max(first - compiled - second, 0.0)
    print("COMPILE_FIGURES", json.dumps({
        "rewrites_s": rewrites, "numba_s": linker + first_call,
        "total_s": max(first - start - second, 0.0), "call_s": second,
        "cpu_s": max(first_cpu - cpu - second_cpu, 0.0),
        "helper_cpu_s": helper.ru_utime + helper.ru_stime,
        "numba_compilations": compiled_functions,
        # Graphs loaded from (hits) or rewritten and stored in the rewrite cache.
        "rewrite_cache": dict(counters),
        # What the second call computed (after the first one's update), bit for bit.
        "result": _digest(second_outputs)}), flush=True)


def run_process(model, quick, cache_dir, timeout, blas_threads=1):
    """Figures of one fresh process compiling `model` on the caches in `cache_dir`, with
    BLAS on `blas_threads` threads (0: as the environment has it)."""
    env = dict(os.environ)
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",")
             if f and not f.startswith(("base_compiledir=", "compiledir="))]
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    before = cache_files(cache_dir)
    command = [sys.executable, "-m", "benchmarks.compile", "--child", model]
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("COMPILE_FIGURES "):
            figures = json.loads(line.split(" ", 1)[1])
            figures["new_files"] = sorted(cache_files(cache_dir) - before)
            return figures
    raise RuntimeError(f"compiling {model} failed:\n{done.stderr[-3000:]}")


def measure(model, quick=False, warm_runs=2, timeout=1800, blas_threads=1):
    """Cold figures (empty caches) and warm ones (median over `warm_runs` processes on
    the caches the cold one filled) of `model`."""
    with tempfile.TemporaryDirectory(prefix="blocks-compile-") as cache_dir:
        cold = run_process(model, quick, cache_dir, timeout, blas_threads)
        warm = [run_process(model, quick, cache_dir, timeout, blas_threads)
                for _ in range(warm_runs)]
    keys = ("rewrites_s", "numba_s", "total_s", "cpu_s", "helper_cpu_s")
    return {"cold": cold,
            "warm": {key: statistics.median(w[key] for w in warm) for key in keys},
            "warm_runs": warm}


def format_table(results):
    lines = [f"{'model':<18} {'':<5} {'rewrites s':>10} {'numba s':>8} {'total s':>8} "
             f"{'cpu s':>7} {'helper cpu s':>12} {'compiled':>8} {'new files':>9}",
             "-" * 93]
    for model, figures in results.items():
        for when in ("cold", "warm"):
            row = figures[when]
            runs = [figures["cold"]] if when == "cold" else figures["warm_runs"]
            files = "+".join(str(len(r["new_files"])) for r in runs)
            compiled = "+".join(str(len(r["numba_compilations"])) for r in runs)
            lines.append(f"{model if when == 'cold' else '':<18} {when:<5} "
                         f"{row['rewrites_s']:>10.1f} {row['numba_s']:>8.1f} "
                         f"{row['total_s']:>8.1f} {row['cpu_s']:>7.1f} "
                         f"{row['helper_cpu_s']:>12.1f} {compiled:>8} {files:>9}")
    return "\n".join(lines)


def _load():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--quick", action="store_true",
                        help="smaller models and one warm run")
    parser.add_argument("--warm-runs", type=int, default=None)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads of the processes (0: as the environment has it)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.quick)
        return 0
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    warm_runs = args.warm_runs or (1 if args.quick else 2)
    print(f"load before: {_load()}", flush=True)
    results = {}
    for model in models:
        results[model] = measure(model, args.quick, warm_runs,
                                 blas_threads=args.blas_threads)
        # Each model's rows as soon as they are measured: a whole run takes long.
        print(f"{model}: {MODELS[model]}; load {_load()}", flush=True)
        print(format_table({model: results[model]}).split("\n", 2)[2], flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"load after: {_load()}")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
