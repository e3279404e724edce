"""Numba kernels of the fused attention decoder: a GRU that attends to a sequence.

One step of :class:`~blocks.bricks.attention.AttentionRecurrent` with a
:class:`~blocks.bricks.recurrent.GatedRecurrent` transition and the default
:class:`~blocks.bricks.attention.SequenceContentAttention` (the network of [BCB15]_), from
the previous state ``h`` ``(batch, dim)``:

1. ``match = tanh(preprocessed + h @ W_state)`` for every element of the attended
   (``preprocessed`` is ``(length, batch, match_dim)``);
2. ``energies = match @ w_energy`` ``(length, batch)``;
3. ``weights``: the softmax of the energies over the elements the attended mask keeps
   (exactly zero elsewhere; all zeros for an example whose elements are all masked);
4. ``averages = sum over elements of weights * attended`` ``(batch, attended_dim)``;
5. the GRU step with inputs ``x + averages @ W_in`` and gate inputs
   ``gate_x + averages @ W_gates``, masked by the decoder's mask.

The GRU part works feature-major and reuses the one-step kernels of
:mod:`blocks.ops.recurrent.kernels`; the attention part works on ``(length, batch,
features)`` rows, the layout of the attended, so that its inner loops run over
contiguous features. The backward kernel computes the gradients of every input exactly,
the weight gradients as matrix products over chunks of steps after the per-step work.

.. [BCB15] Dzmitry Bahdanau, Kyunghyun Cho and Yoshua Bengio. Neural Machine Translation by
   Jointly Learning to Align and Translate.
"""

import math

import numba
import numpy as np

from blocks.ops.recurrent.kernels import (
    JIT,
    _add_chunk_product,
    _add_product,
    _add_transposed,
    _chunk_steps,
    _mask_rows,
    _source,
    _store_columns,
    _tanh,
    _transpose_into,
    _transposed,
    _write_transposed,
    gru_backward_work,
    gru_step,
    gru_step_backward,
)

__all__ = ["attention_gru_forward", "attention_gru_backward"]


@numba.njit(**JIT)
def _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, gx, h0, U, Ug,
                  attended, preprocessed, W_state, w_energy, W_in, W_gates):
    n_steps, batch, dim = x.shape
    length, attended_batch, attended_dim = attended.shape
    match_dim = preprocessed.shape[2]
    # Literal messages: building one at run time (a prefix + a message) makes Numba
    # compile its string functions, seconds of every cold compile.
    if gx.shape[0] != n_steps or gx.shape[1] != batch or gx.shape[2] != 2 * dim:
        raise ValueError("fused attention loop: "
                         "the gate inputs must be (time, batch, 2 * dim), like the "
                         "inputs (time, batch, dim) with twice their last dimension")
    if h0.shape[0] != batch or h0.shape[1] != dim:
        raise ValueError("fused attention loop: "
                         "the initial states must be (batch, dim), with the batch "
                         "and the dimension of the inputs")
    if U.shape[0] != dim or U.shape[1] != dim or Ug.shape[0] != dim or Ug.shape[1] != 2 * dim:
        raise ValueError("fused attention loop: "
                         "the recurrent weights must be (dim, dim) and (dim, 2 * dim)")
    if attended_batch != batch:
        raise ValueError("fused attention loop: "
                         "the attended (length, batch, attended_dim) must have the "
                         "batch of the inputs as its second dimension")
    if preprocessed.shape[0] != length or preprocessed.shape[1] != batch:
        raise ValueError("fused attention loop: "
                         "the preprocessed attended must be (length, batch, "
                         "match_dim), with the length and the batch of the attended")
    if W_state.shape[0] != dim or W_state.shape[1] != match_dim:
        raise ValueError("fused attention loop: "
                         "the state transformation must be (dim, match_dim)")
    if w_energy.shape[0] != match_dim or w_energy.shape[1] != 1:
        raise ValueError("fused attention loop: "
                         "the energy weights must be (match_dim, 1)")
    if (W_in.shape[0] != attended_dim or W_in.shape[1] != dim
            or W_gates.shape[0] != attended_dim or W_gates.shape[1] != 2 * dim):
        raise ValueError("fused attention loop: "
                         "the distribution weights must be (attended_dim, dim) and "
                         "(attended_dim, 2 * dim)")
    if has_mask and (mask.shape[0] != n_steps or mask.shape[1] != batch):
        raise ValueError("fused attention loop: "
                         "the mask must be (time, batch), like the first two "
                         "dimensions of the inputs")
    if has_attended_mask and (attended_mask.shape[0] != length
                              or attended_mask.shape[1] != batch):
        raise ValueError("fused attention loop: "
                         "the attended mask must be (length, batch), like the first "
                         "two dimensions of the attended")


@numba.njit(**JIT)
def _match_energies(match, energies, preprocessed, transformed, v):
    """match[s, b] = tanh(preprocessed[s, b] + transformed[b]); energies[s, b] =
    match[s, b] . v."""
    length, batch, match_dim = match.shape
    for s in range(length):
        for b in range(batch):
            row, p, q = match[s, b], preprocessed[s, b], transformed[b]
            total = 0 * v[0]
            for m in range(match_dim):
                y = _tanh(p[m] + q[m])
                row[m] = y
                total += y * v[m]
            energies[s, b] = total


@numba.njit(**JIT)
def _masked_softmax(e, present):
    """e (length, batch) becomes the softmax of each column over its present elements:
    zero where `present` is 0, all zeros in a column with no present element."""
    length, batch = e.shape
    for b in range(batch):
        largest = -np.inf
        for s in range(length):
            if present[s, b] > 0 and e[s, b] > largest:
                largest = e[s, b]
        total = 0 * e[0, b]
        for s in range(length):
            if present[s, b] > 0:
                w = math.exp(e[s, b] - largest)
                e[s, b] = w
                total += w
            else:
                e[s, b] = 0
        if total > 0:
            for s in range(length):
                e[s, b] /= total


@numba.njit(**JIT)
def _weighted_average(out, w, attended):
    """out[b] = sum over s of w[s, b] * attended[s, b]."""
    length, batch, attended_dim = attended.shape
    out[:] = 0
    for s in range(length):
        for b in range(batch):
            ws, a, o = w[s, b], attended[s, b], out[b]
            for e in range(attended_dim):
                o[e] += ws * a[e]


@numba.njit(**JIT)
def attention_gru_forward(mask, has_mask, attended_mask, has_attended_mask, reverse, x, gx,
                          h0, U, Ug, attended, preprocessed, W_state, w_energy, W_in,
                          W_gates):
    """Returns the states (time, batch, dim), the weighted averages (time, batch,
    attended_dim) and the weights (time, batch, length) and, for the backward pass, the
    GRU's gate values (time, 2 * dim, batch), its candidate values (time, dim, batch) and
    the match vectors (time, length, batch, match_dim)."""
    _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, gx, h0, U, Ug,
                  attended, preprocessed, W_state, w_energy, W_in, W_gates)
    n_steps, batch, dim = x.shape
    length, _, attended_dim = attended.shape
    match_dim = preprocessed.shape[2]
    dtype = x.dtype
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    present = _mask_rows(attended_mask, has_attended_mask, length, batch, x)
    attended = np.ascontiguousarray(attended)
    preprocessed = np.ascontiguousarray(preprocessed)
    v = np.ascontiguousarray(w_energy[:, 0])
    U_T, Ug_T, W_state_T = _transposed(U), _transposed(Ug), _transposed(W_state)
    W_in_T, W_gates_T = _transposed(W_in), _transposed(W_gates)
    h, h_new = _transposed(h0), np.empty((dim, batch), dtype=dtype)
    inputs = np.empty((dim, batch), dtype=dtype)
    gate_inputs = np.empty((2 * dim, batch), dtype=dtype)
    reset_states = np.empty((dim, batch), dtype=dtype)
    transformed = np.empty((match_dim, batch), dtype=dtype)
    transformed_rows = np.empty((batch, match_dim), dtype=dtype)
    energies = np.empty((length, batch), dtype=dtype)
    average = np.empty((attended_dim, batch), dtype=dtype)
    states = np.empty((n_steps, batch, dim), dtype=dtype)
    averages = np.empty((n_steps, batch, attended_dim), dtype=dtype)
    weights = np.empty((n_steps, batch, length), dtype=dtype)
    gates = np.empty((n_steps, 2 * dim, batch), dtype=dtype)
    candidates = np.empty((n_steps, dim, batch), dtype=dtype)
    match = np.empty((n_steps, length, batch, match_dim), dtype=dtype)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        np.dot(W_state_T, h, transformed)
        _write_transposed(transformed_rows, transformed)
        _match_energies(match[t], energies, preprocessed, transformed_rows, v)
        _masked_softmax(energies, present)
        _write_transposed(weights[t], energies)
        _weighted_average(averages[t], energies, attended)
        _transpose_into(average, averages[t])
        np.dot(W_in_T, average, inputs)
        _add_transposed(inputs, x[s])
        np.dot(W_gates_T, average, gate_inputs)
        _add_transposed(gate_inputs, gx[s])
        gru_step(h, h_new, gates[t], candidates[t], inputs, gate_inputs, U_T, Ug_T,
                 reset_states, masks[s], has_mask)
        _write_transposed(states[t], h_new)
        h, h_new = h_new, h
    return states, averages, weights, gates, candidates, match


@numba.njit(**JIT)
def _weights_gradient(d_w, d_average, attended, w, d_weights, d_attended):
    """d_w[s, b] = d cost / d weight of element s for example b (through the average and
    the weights output); d_attended[s, b] += w[b, s] * d_average[b]."""
    length, batch, attended_dim = attended.shape
    for s in range(length):
        for b in range(batch):
            ws, a, da, q = w[b, s], attended[s, b], d_attended[s, b], d_average[b]
            total = d_weights[b, s]
            for e in range(attended_dim):
                total += q[e] * a[e]
                da[e] += ws * q[e]
            d_w[s, b] = total


@numba.njit(**JIT)
def _softmax_gradient(d_w, w):
    """d_w (length, batch) becomes d cost / d energies, for the weights w (batch, length)."""
    length, batch = d_w.shape
    for b in range(batch):
        total = 0 * d_w[0, b]
        for s in range(length):
            total += w[b, s] * d_w[s, b]
        for s in range(length):
            d_w[s, b] = w[b, s] * (d_w[s, b] - total)


@numba.njit(**JIT)
def _match_gradient(d_transformed, d_preprocessed, d_v, d_energies, match, v):
    """From d cost / d energies: d_transformed (batch, match_dim) = d cost / d h @ W_state;
    adds to d_preprocessed (length, batch, match_dim) and d_v (match_dim,)."""
    length, batch, match_dim = match.shape
    d_transformed[:] = 0
    for s in range(length):
        for b in range(batch):
            de = d_energies[s, b]
            if de == 0:  # a masked element
                continue
            row, dp, dt = match[s, b], d_preprocessed[s, b], d_transformed[b]
            for m in range(match_dim):
                y = row[m]
                d_v[m] += de * y
                d_pre = de * v[m] * (1 - y * y)
                dp[m] += d_pre
                dt[m] += d_pre


@numba.njit(**JIT)
def attention_gru_backward(mask, has_mask, attended_mask, has_attended_mask, reverse, h0, U,
                           Ug, attended, preprocessed, W_state, w_energy, W_in, W_gates,
                           states, averages, weights, gates, candidates, match, d_states,
                           d_averages, d_weights):
    """The gradients of the inputs of :func:`attention_gru_forward`, in their order:
    inputs, gate inputs, initial states, the two recurrent weights, attended,
    preprocessed attended, state transformation, energy weights, the two distribution
    weights, then the mask (meaningless without one)."""
    n_steps, batch, dim = states.shape
    length, _, attended_dim = attended.shape
    match_dim = preprocessed.shape[2]
    dtype = states.dtype
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    attended = np.ascontiguousarray(attended)
    U, Ug, h0 = np.ascontiguousarray(U), np.ascontiguousarray(Ug), np.ascontiguousarray(h0)
    W_state = np.ascontiguousarray(W_state)
    W_in, W_gates = np.ascontiguousarray(W_in), np.ascontiguousarray(W_gates)
    v = np.ascontiguousarray(w_energy[:, 0])
    d_x = np.empty((n_steps, batch, dim), dtype=dtype)
    d_gx = np.empty((n_steps, batch, 2 * dim), dtype=dtype)
    d_mask = np.empty((n_steps, batch), dtype=dtype)
    d_U = np.zeros((dim, dim), dtype=dtype)
    d_Ug = np.zeros((dim, 2 * dim), dtype=dtype)
    d_attended = np.zeros((length, batch, attended_dim), dtype=dtype)
    d_preprocessed = np.zeros((length, batch, match_dim), dtype=dtype)
    d_W_state = np.zeros((dim, match_dim), dtype=dtype)
    d_v = np.zeros(match_dim, dtype=dtype)
    d_W_in = np.zeros((attended_dim, dim), dtype=dtype)
    d_W_gates = np.zeros((attended_dim, 2 * dim), dtype=dtype)
    d_h = np.zeros((dim, batch), dtype=dtype)
    work = gru_backward_work(dim, batch, states)
    h, d_candidate, d_gate, _, reset_state, buffer = work
    average = np.empty((attended_dim, batch), dtype=dtype)
    d_average = np.empty((attended_dim, batch), dtype=dtype)
    d_average_rows = np.empty((batch, attended_dim), dtype=dtype)
    average_buffer = np.empty((attended_dim, batch), dtype=dtype)
    d_w = np.empty((length, batch), dtype=dtype)
    d_transformed_rows = np.empty((batch, match_dim), dtype=dtype)
    d_transformed = np.empty((match_dim, batch), dtype=dtype)
    steps = _chunk_steps(batch)
    chunk_h = np.empty((dim, steps * batch), dtype=dtype)
    chunk_reset = np.empty((dim, steps * batch), dtype=dtype)
    chunk_candidate = np.empty((dim, steps * batch), dtype=dtype)
    chunk_gate = np.empty((2 * dim, steps * batch), dtype=dtype)
    chunk_average = np.empty((attended_dim, steps * batch), dtype=dtype)
    chunk_transformed = np.empty((match_dim, steps * batch), dtype=dtype)
    k = 0
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        gru_step_backward(d_h, d_states[t], states[t - 1] if t > 0 else h0, gates[t],
                          candidates[t], masks[s], U, Ug, work, d_mask[s], d_x[s], d_gx[s])
        # The GRU's inputs received the weighted average through the distribution weights.
        np.dot(W_in, d_candidate, d_average)
        _add_product(d_average, W_gates, d_gate, average_buffer)
        _add_transposed(d_average, d_averages[t])
        _write_transposed(d_average_rows, d_average)
        _weights_gradient(d_w, d_average_rows, attended, weights[t], d_weights[t],
                          d_attended)
        _softmax_gradient(d_w, weights[t])
        _match_gradient(d_transformed_rows, d_preprocessed, d_v, d_w, match[t], v)
        _transpose_into(d_transformed, d_transformed_rows)
        _add_product(d_h, W_state, d_transformed, buffer)
        _transpose_into(average, averages[t])
        _store_columns(chunk_h, k, h)
        _store_columns(chunk_reset, k, reset_state)
        _store_columns(chunk_candidate, k, d_candidate)
        _store_columns(chunk_gate, k, d_gate)
        _store_columns(chunk_average, k, average)
        _store_columns(chunk_transformed, k, d_transformed)
        k += 1
        if k == steps or t == 0:
            columns = k * batch
            _add_chunk_product(d_U, chunk_reset, chunk_candidate, columns)
            _add_chunk_product(d_Ug, chunk_h, chunk_gate, columns)
            _add_chunk_product(d_W_state, chunk_h, chunk_transformed, columns)
            _add_chunk_product(d_W_in, chunk_average, chunk_candidate, columns)
            _add_chunk_product(d_W_gates, chunk_average, chunk_gate, columns)
            k = 0
    return (d_x, d_gx, _transposed(d_h), d_U, d_Ug, d_attended, d_preprocessed, d_W_state,
            d_v.reshape((match_dim, 1)), d_W_in, d_W_gates, d_mask)
