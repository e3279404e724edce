"""Attention encoder-decoder training step: bricks vs PyTorch eager.

The model (as in Bahdanau et al.'s machine translation network, small): source tokens
are embedded, forked into the inputs and gate inputs of a bidirectional GRU encoder; a
GRU decoder built with :class:`~blocks.bricks.sequence_generators.SequenceGenerator`
attends to the encoder's annotations with
:class:`~blocks.bricks.attention.SequenceContentAttention` and reads out softmax
probabilities of the next target token from its state, the feedback of the previous
token and the attention's weighted average. Vocabulary 30, source and target length 20
(with padding: lengths vary between 12 and 20, masks on both sides), batch 32, dimension
128, float32. One step is the cost (summed over time, averaged over the batch), its
gradients and an SGD update of every parameter.

The PyTorch candidate is the same model written in PyTorch eager, with loops over time
as PyTorch users write custom cells (the GRU here applies the reset gate before the
recurrent product, which ``torch.nn.GRU`` does not). Both start from the same parameter
values and data; the script checks that their losses agree over two steps before timing.

The bricks build the decoder's loop as one
:class:`~blocks.ops.attention.op.FusedAttentionGRU` node (and the encoder's as
:class:`~blocks.ops.recurrent.op.FusedRecurrent` nodes); the ``bricks scan``
candidate (``--breakdown``) is the same model with ``fused = False`` on the attention
recurrent brick: the loop :func:`pytensor.scan` builds from the step.

Run ``python -m benchmarks.run seq2seq`` (or ``python -m benchmarks.bench_seq2seq``).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

from benchmarks.harness import (  # noqa: E402
    Candidate,
    jax_candidate,
    parse_args,
    pytensor_sgd_step,
    run_benchmark,
)

VOCABULARY, LENGTH, BATCH, DIM = 30, 20, 32, 128
MIN_LENGTH = 12
LEARNING_RATE = 0.01


def _flops():
    """Matrix-product FLOPs of one step: forward products, times 3 for the backward pass."""
    d, b, t, v = DIM, BATCH, LENGTH, VOCABULARY
    fork = 2 * t * b * d * 3 * d
    gru_step = 2 * b * d * 3 * d
    encoder = fork + 2 * t * gru_step
    attention_step = 2 * b * d * d + 2 * t * b * d + 2 * t * b * 2 * d
    decoder = (fork + 2 * t * b * 2 * d * d
               + t * (attention_step + 2 * b * 2 * d * 3 * d + gru_step)
               + 2 * t * b * 4 * d * v)
    return 3 * (encoder + decoder)


FLOPS = _flops()


def data(seed=0):
    """Source and target tokens ``(time, batch)`` with their float32 masks."""
    rng = np.random.default_rng(seed)

    def sequences():
        lengths = rng.integers(MIN_LENGTH, LENGTH + 1, BATCH)
        tokens = rng.integers(1, VOCABULARY, (LENGTH, BATCH)).astype("int64")
        mask = (np.arange(LENGTH)[:, None] < lengths[None, :]).astype("float32")
        return tokens * mask.astype("int64"), mask

    source, source_mask = sequences()
    target, target_mask = sequences()
    return source, source_mask, target, target_mask


def build_model():
    """The bricks of the model, initialized from a fixed seed."""
    from blocks.bricks.attention import SequenceContentAttention
    from blocks.bricks.lookup import LookupTable
    from blocks.bricks.parallel import Fork
    from blocks.bricks.recurrent import Bidirectional, GatedRecurrent
    from blocks.bricks.sequence_generators import (
        LookupFeedback,
        Readout,
        SequenceGenerator,
        SoftmaxEmitter,
    )
    from blocks.initialization import Constant, IsotropicGaussian, Orthogonal

    embedding = LookupTable(VOCABULARY, DIM, name="source_embedding")
    fork = Fork(["inputs", "gate_inputs"], input_dim=DIM, output_dims=[DIM, 2 * DIM],
                name="encoder_fork")
    encoder = Bidirectional(GatedRecurrent(dim=DIM), name="encoder")
    generator = SequenceGenerator(
        Readout(readout_dim=VOCABULARY,
                source_names=["states", "feedback", "weighted_averages"],
                emitter=SoftmaxEmitter(), feedback_brick=LookupFeedback(VOCABULARY, DIM)),
        GatedRecurrent(dim=DIM, name="decoder_transition"),
        attention=SequenceContentAttention(state_names=["states"], attended_dim=2 * DIM,
                                           match_dim=DIM),
        name="decoder")
    bricks = [embedding, fork, encoder, generator]
    for i, brick in enumerate(bricks):
        brick.weights_init = IsotropicGaussian(0.1)
        brick.biases_init = Constant(0.01)
        brick.seed = 100 + i
        brick.initialize()
    for recurrent in (encoder.forward, encoder.backward, generator.transition.transition):
        recurrent.weights_init = Orthogonal()
        recurrent.initialize()
    return embedding, fork, encoder, generator


def bricks_graph(fused=True):
    """The cost of the model built from bricks, and its parameters. With ``fused=False``
    the decoder's loop is a scan over the attention recurrent brick's step."""
    from blocks.graph import ComputationGraph

    embedding, fork, encoder, generator = build_model()
    generator.transition.fused = fused
    source, target = pt.lmatrix("source"), pt.lmatrix("target")
    source_mask, target_mask = pt.matrix("source_mask"), pt.matrix("target_mask")
    annotations = encoder.apply(**fork.apply(embedding.apply(source), return_dict=True),
                                mask=source_mask)
    cost = generator.cost(target, mask=target_mask, attended=annotations,
                          attended_mask=source_mask)
    parameters = ComputationGraph(cost).parameters
    return [source, source_mask, target, target_mask], cost, parameters, (
        embedding, fork, encoder, generator)


def training_step(inputs, cost, parameters, mode=None):
    """The compiled SGD step of the bricks model."""
    return pytensor_sgd_step(inputs, cost, parameters, LEARNING_RATE, mode=mode)


def compile_bricks(mode=None):
    return training_step(*bricks_graph()[:3], mode=mode)


def build_bricks():
    """``(compile, run)`` for the compile-time measurement of the bricks candidate."""
    values = data()
    return compile_bricks, (lambda fn: fn(*values))


def build_bricks_jax():
    """``(compile, run)`` for the compile-time measurement of the bricks under JAX."""
    values = data()
    return (lambda: compile_bricks("JAX")), (lambda fn: fn(*values))


def parameter_values(bricks):
    """The model's parameter values by role, for the PyTorch candidate."""
    embedding, fork, encoder, generator = bricks
    recurrent = generator.transition
    attention = recurrent.attention
    readout = generator.readout

    def linear(brick):
        return [brick.W.get_value()] + ([brick.b.get_value()] if brick.use_bias else [])

    def gru(brick):
        return [brick.state_to_gates.get_value(), brick.state_to_state.get_value(),
                brick.initial_state.get_value()]

    return {
        "source_embedding": embedding.W.get_value(),
        "encoder_fork": [linear(child) for child in fork.children],
        "encoder": [gru(encoder.forward), gru(encoder.backward)],
        "target_embedding": readout.feedback_brick.lookup.W.get_value(),
        "decoder_fork": [linear(child) for child in generator.fork.children],
        "decoder": gru(recurrent.transition),
        "state_transformer": attention.state_transformers.children[0].W.get_value(),
        "attended_transformer": linear(attention.attended_transformer),
        "energy": attention.energy_computer.children[1].W.get_value(),
        "distribute": [child.W.get_value() for child in recurrent.distribute.children],
        "merge": [child.W.get_value() for child in readout.merge.children],
        "readout_bias": readout.post_merge.b.get_value(),
    }


def torch_step(values):
    """A PyTorch eager training step of the same model, from the same values."""
    import torch

    def tensor(array):
        return torch.tensor(np.asarray(array), requires_grad=True)

    p = {name: (tensor(v) if isinstance(v, np.ndarray) else
                [[tensor(a) for a in item] if isinstance(item, list) else tensor(item)
                 for item in v])
         for name, v in values.items()}
    flat = []
    for value in p.values():
        if isinstance(value, torch.Tensor):
            flat.append(value)
        else:
            for item in value:
                flat.extend(item if isinstance(item, list) else [item])
    optimizer = torch.optim.SGD(flat, lr=LEARNING_RATE)
    source, source_mask, target, target_mask = (torch.from_numpy(a) for a in data())

    def gru_step(weights, x, xg, h, m):
        to_gates, to_state, _ = weights
        gates = torch.sigmoid(h @ to_gates + xg)
        update, reset = gates[:, :DIM], gates[:, DIM:]
        candidate = torch.tanh((h * reset) @ to_state + x)
        new = candidate * update + h * (1 - update)
        m = m[:, None]
        return m * new + (1 - m) * h

    def fork(weights, x):
        return [x @ w + b for w, b in weights]

    def loss():
        embedded = p["source_embedding"][source]
        x, xg = fork(p["encoder_fork"], embedded)
        directions = []
        for weights, steps in zip(p["encoder"], (range(LENGTH), range(LENGTH - 1, -1, -1))):
            h = weights[2][None, :].expand(BATCH, DIM)
            outputs = [None] * LENGTH
            for t in steps:
                h = gru_step(weights, x[t], xg[t], h, source_mask[t])
                outputs[t] = h
            directions.append(torch.stack(outputs))
        annotations = torch.cat(directions, dim=-1)
        w_pre, b_pre = p["attended_transformer"]
        preprocessed = annotations @ w_pre + b_pre
        feedback = p["target_embedding"][target]
        x, xg = fork(p["decoder_fork"], feedback)
        present = source_mask > 0
        h = p["decoder"][2][None, :].expand(BATCH, DIM)
        states, averages = [], []
        for t in range(LENGTH):
            states.append(h)
            match = torch.tanh(preprocessed + h @ p["state_transformer"])
            energies = (match @ p["energy"])[..., 0]
            energies = torch.where(present, energies, energies.min(dim=0).values)
            weights = torch.where(present, torch.exp(energies - energies.max(dim=0).values),
                                  torch.zeros_like(energies))
            weights = weights / weights.sum(dim=0)
            average = (weights[:, :, None] * annotations).sum(dim=0)
            averages.append(average)
            w_in, w_gates = p["distribute"]
            h = gru_step(p["decoder"], x[t] + average @ w_in, xg[t] + average @ w_gates, h,
                         target_mask[t])
        previous = torch.cat([p["target_embedding"][:1].expand(1, BATCH, DIM),
                              feedback[:-1]])
        w_states, w_feedback, w_averages = p["merge"]
        readouts = (torch.stack(states) @ w_states + previous @ w_feedback
                    + torch.stack(averages) @ w_averages + p["readout_bias"])
        costs = torch.nn.functional.cross_entropy(
            readouts.reshape(-1, VOCABULARY), target.reshape(-1),
            reduction="none").reshape(LENGTH, BATCH)
        return (costs * target_mask).sum(dim=0).mean()

    def step():
        optimizer.zero_grad(set_to_none=True)
        value = loss()
        value.backward()
        optimizer.step()
        return value.item()

    return step, torch.__version__


def main(argv=None):
    args = parse_args(argv, description=__doc__.splitlines()[0])
    values = data()
    inputs, cost, parameters, bricks = bricks_graph()
    reference = parameter_values(bricks)
    bricks_fn = training_step(inputs, cost, parameters)
    step_torch, torch_version = torch_step(reference)
    steps = {"bricks": lambda: float(bricks_fn(*values)), "pytorch": step_torch}
    bricks_jax = jax_candidate("seq2seq", lambda: compile_bricks("JAX"),
                               lambda fn: fn(*values), FLOPS,
                               builder="benchmarks.bench_seq2seq:build_bricks_jax",
                               families=("recurrent", "attention"))
    if bricks_jax is not None:
        steps["bricks-jax"] = lambda: float(bricks_jax.step())
    if args.breakdown:
        scan_fn = training_step(*bricks_graph(fused=False)[:3])
        steps["bricks scan"] = lambda: float(scan_fn(*values))

    losses = {name: [step() for _ in range(2)] for name, step in steps.items()}
    for history in losses.values():
        if not np.allclose(history, losses["pytorch"], rtol=1e-4, atol=1e-4):
            raise AssertionError(f"the candidates compute different losses: {losses}")

    candidates = [
        Candidate("bricks", lambda: bricks_fn(*values), FLOPS,
                  builder="benchmarks.bench_seq2seq:build_bricks",
                  info={"compiled_nodes": len(bricks_fn.maker.fgraph.apply_nodes)}),
        Candidate("pytorch", step_torch, FLOPS, info={"torch": torch_version}),
    ]
    if bricks_jax is not None:
        candidates.insert(1, bricks_jax)
    if args.breakdown:
        candidates.insert(1, Candidate("bricks scan", lambda: scan_fn(*values), FLOPS))
    return run_benchmark("seq2seq", candidates, args, reference="pytorch", extra={
        "model": {"vocabulary": VOCABULARY, "length": LENGTH, "batch": BATCH, "dim": DIM,
                  "dtype": "float32", "learning_rate": LEARNING_RATE,
                  "flops_per_step": FLOPS},
        "losses_first_two_steps": losses,
    })


if __name__ == "__main__":
    main()
