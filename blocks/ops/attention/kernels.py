"""Numba kernels of the fused attention decoder: a recurrent transition that attends to a
sequence.

One step of :class:`~blocks.bricks.attention.AttentionRecurrent` with a
:class:`~blocks.bricks.recurrent.SimpleRecurrent`, :class:`~blocks.bricks.recurrent.LSTM`
or :class:`~blocks.bricks.recurrent.GatedRecurrent` transition and the default
:class:`~blocks.bricks.attention.SequenceContentAttention` (the network of [BCB15]_), from
the previous state ``h`` ``(batch, dim)``:

1. ``match = tanh(preprocessed + h @ W_state)`` for every element of the attended
   (``preprocessed`` is ``(length, batch, match_dim)``);
2. ``energies = match @ w_energy`` ``(length, batch)``;
3. ``weights``: the softmax of the energies over the elements the attended mask keeps
   (exactly zero elsewhere; all zeros for an example whose elements are all masked);
4. ``averages = sum over elements of weights * attended`` ``(batch, attended_dim)``;
5. the transition's step, masked by the decoder's mask, with the averages distributed to
   its inputs: ``h = f(x + averages @ W_in + h @ W)`` for the simple transition, the
   LSTM step (states and cells) with inputs ``x + averages @ W_in``, the GRU step with
   inputs ``x + averages @ W_in`` and gate inputs ``gate_x + averages @ W_gates``.

Steps 1-4 (the *glimpse*) and their gradient are one piece of code for every transition;
the transitions' steps are the one-step kernels of :mod:`blocks.ops.recurrent.kernels`,
which work feature-major. The glimpse works on ``(length, batch, features)`` rows, the
layout of the attended, so that its inner loops run over contiguous features. The
backward kernels compute the gradients of every input exactly, the weight gradients as
matrix products over chunks of steps after the per-step work.

Every kernel takes the same six leading arguments: the decoder's mask ``(time, batch)``,
``has_mask``, the attended mask ``(length, batch)``, ``has_attended_mask`` (a mask is any
array when its flag is False), ``reverse`` and the activation ``code`` of
:data:`~blocks.ops.recurrent.kernels.ACTIVATIONS` (the GRU's activations are fixed).

.. [BCB15] Dzmitry Bahdanau, Kyunghyun Cho and Yoshua Bengio. Neural Machine Translation by
   Jointly Learning to Align and Translate.
"""

import math

import numba
import numpy as np

from blocks.ops.recurrent.kernels import (
    HELPER,
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
    gru_forward_work,
    gru_step,
    gru_step_backward,
    lstm_backward_arrays,
    lstm_forward_work,
    lstm_step,
    lstm_step_backward,
    simple_backward_arrays,
    simple_forward_work,
    simple_step,
    simple_step_backward,
)

__all__ = ["attention_gru_forward", "attention_gru_backward", "attention_simple_forward",
           "attention_simple_backward", "attention_lstm_forward", "attention_lstm_backward"]


@numba.njit(**HELPER)
def _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, h0, W, attended,
                  preprocessed, W_state, w_energy, W_in, multiple):
    """Refuse inputs that do not fit, but for the GRU's gate inputs and the LSTM's cells
    and peepholes: the inputs, the recurrent weights and the distribution weights have
    `multiple` * dim columns (1, or 4 for the LSTM)."""
    n_steps, batch, width = x.shape
    dim = h0.shape[1]
    length, attended_batch, attended_dim = attended.shape
    match_dim = preprocessed.shape[2]
    # Literal messages: building one at run time (a prefix + a message) makes Numba
    # compile its string functions, seconds of every cold compile.
    if h0.shape[0] != batch or width != multiple * dim:
        raise ValueError("fused attention loop: "
                         "the initial states must be (batch, dim), with the batch "
                         "and the dimension of the inputs (time, batch, dim), or (time, "
                         "batch, 4 * dim) for an LSTM")
    if W.shape[0] != dim or W.shape[1] != multiple * dim:
        raise ValueError("fused attention loop: "
                         "the recurrent weights (state to state) must be (dim, dim), or "
                         "(dim, 4 * dim) for an LSTM")
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
    if W_in.shape[0] != attended_dim or W_in.shape[1] != multiple * dim:
        raise ValueError("fused attention loop: "
                         "the weights that distribute the weighted averages to the "
                         "inputs must be (attended_dim, dim), or (attended_dim, 4 * dim) "
                         "for an LSTM")
    if has_mask and (mask.shape[0] != n_steps or mask.shape[1] != batch):
        raise ValueError("fused attention loop: "
                         "the mask must be (time, batch), like the first two "
                         "dimensions of the inputs")
    if has_attended_mask and (attended_mask.shape[0] != length
                              or attended_mask.shape[1] != batch):
        raise ValueError("fused attention loop: "
                         "the attended mask must be (length, batch), like the first "
                         "two dimensions of the attended")


# The glimpse, forward.


@numba.njit(**HELPER)
def _match_energies(match, energies, preprocessed, transformed, v):
    """match[s, b] = tanh(preprocessed[s, b] + transformed[b]); energies[s, b] =
    match[s, b] . v."""
    length, batch, match_dim = match.shape
    for s in range(length):
        for b in range(batch):
            row, p, q = match[s, b], preprocessed[s, b], transformed[b]
            for m in range(match_dim):
                row[m] = _tanh(p[m] + q[m])
    # The sums through BLAS: a loop of IEEE additions does not vectorize.
    np.dot(match.reshape((length * batch, match_dim)), v, energies.reshape(length * batch))


@numba.njit(**HELPER)
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


@numba.njit(**HELPER)
def _weighted_average(out, w, attended):
    """out[b] = sum over s of w[s, b] * attended[s, b]."""
    length, batch, attended_dim = attended.shape
    out[:] = 0
    for s in range(length):
        for b in range(batch):
            ws, a, o = w[s, b], attended[s, b], out[b]
            for e in range(attended_dim):
                o[e] += ws * a[e]


@numba.njit(**HELPER)
def _glimpse_setup(n_steps, attended_mask, has_attended_mask, attended, preprocessed,
                   W_state, w_energy):
    """What every step's glimpse reads: (the attended mask as ones and zeros, the attended,
    the preprocessed attended, the energy weights as a vector, the state transformation
    transposed); what it writes: (work arrays, then the match vectors (time, length,
    batch, match_dim), the weights (time, batch, length) and the weighted averages (time,
    batch, attended_dim) of every step)."""
    length, batch, attended_dim = attended.shape
    match_dim = preprocessed.shape[2]
    dtype = attended.dtype
    inputs = (_mask_rows(attended_mask, has_attended_mask, length, batch, attended),
              np.ascontiguousarray(attended), np.ascontiguousarray(preprocessed),
              np.ascontiguousarray(w_energy[:, 0]), _transposed(W_state))
    work = (np.empty((match_dim, batch), dtype=dtype), np.empty((batch, match_dim), dtype=dtype),
            np.empty((length, batch), dtype=dtype), np.empty((attended_dim, batch), dtype=dtype))
    outputs = (np.empty((n_steps, length, batch, match_dim), dtype=dtype),
               np.empty((n_steps, batch, length), dtype=dtype),
               np.empty((n_steps, batch, attended_dim), dtype=dtype))
    return inputs, work, outputs


@numba.njit(**HELPER)
def _distribute(out, W_T, average, x):
    """out = W_T @ average + x.T: a sequence's step (batch, features) plus the weighted
    average (attended_dim, batch) distributed to it, feature-major."""
    np.dot(W_T, average, out)
    _add_transposed(out, x)


@numba.njit(**HELPER)
def _take_glimpse(h, t, inputs, work, outputs):
    """The glimpse of step `t` from the state h (dim, batch), written to the step's rows of
    `outputs`; returns the weighted averages feature-major (attended_dim, batch)."""
    present, attended, preprocessed, v, W_state_T = inputs
    transformed, transformed_rows, energies, average = work
    match, weights, averages = outputs
    np.dot(W_state_T, h, transformed)
    _write_transposed(transformed_rows, transformed)
    _match_energies(match[t], energies, preprocessed, transformed_rows, v)
    _masked_softmax(energies, present)
    _write_transposed(weights[t], energies)
    _weighted_average(averages[t], energies, attended)
    _transpose_into(average, averages[t])
    return average


# The glimpse, backward.


@numba.njit(**HELPER)
def _weights_gradient(d_w, d_average, attended, w, d_weights, d_attended):
    """d_w[s, b] = d cost / d weight of element s for example b (through the average and
    the weights output); d_attended[s, b] += w[b, s] * d_average[b]."""
    length, batch, attended_dim = attended.shape
    for s in range(length):
        for b in range(batch):
            ws, a, da, q = w[b, s], attended[s, b], d_attended[s, b], d_average[b]
            for e in range(attended_dim):
                da[e] += ws * q[e]
            # Through BLAS: a loop of IEEE additions does not vectorize.
            d_w[s, b] = d_weights[b, s] + np.dot(q, a)


@numba.njit(**HELPER)
def _softmax_gradient(d_w, w):
    """d_w (length, batch) becomes d cost / d energies, for the weights w (batch, length)."""
    length, batch = d_w.shape
    for b in range(batch):
        total = 0 * d_w[0, b]
        for s in range(length):
            total += w[b, s] * d_w[s, b]
        for s in range(length):
            d_w[s, b] = w[b, s] * (d_w[s, b] - total)


@numba.njit(**HELPER)
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


@numba.njit(**HELPER)
def _glimpse_backward_setup(dim, batch, attended, W_state, w_energy, steps):
    """What the glimpse's gradient reads: (the attended, the state transformation, the
    energy weights as a vector); the gradients it sums: (attended, preprocessed attended,
    state transformation, energy weights as a vector); work arrays; and chunks of `steps`
    steps (features, steps * batch) of the averages, of d cost / d transformed state and
    of the previous states, for the weight gradients (the transition's too)."""
    length, _, attended_dim = attended.shape
    match_dim = W_state.shape[1]
    dtype = attended.dtype
    inputs = (np.ascontiguousarray(attended), np.ascontiguousarray(W_state),
              np.ascontiguousarray(w_energy[:, 0]))
    gradients = (np.zeros((length, batch, attended_dim), dtype=dtype),
                 np.zeros((length, batch, match_dim), dtype=dtype),
                 np.zeros((dim, match_dim), dtype=dtype), np.zeros(match_dim, dtype=dtype))
    work = (np.empty((attended_dim, batch), dtype=dtype),
            np.empty((batch, attended_dim), dtype=dtype), np.empty((length, batch), dtype=dtype),
            np.empty((batch, match_dim), dtype=dtype), np.empty((match_dim, batch), dtype=dtype))
    chunks = (np.empty((attended_dim, steps * batch), dtype=dtype),
              np.empty((match_dim, steps * batch), dtype=dtype),
              np.empty((dim, steps * batch), dtype=dtype))
    return inputs, gradients, work, chunks


@numba.njit(**HELPER)
def _glimpse_backward(d_h, h, d_average, t, k, outputs, output_grads, glimpse, buffer):
    """The gradient of step `t`'s glimpse, taken from the previous state h (dim, batch),
    from the forward pass's `outputs` (averages, weights, match vectors) and the gradients
    of the first two, `output_grads`; `glimpse` is what :func:`_glimpse_backward_setup`
    returns.
    `d_average` (attended_dim, batch) holds d cost / d the step's averages through the
    transition; the averages' own gradient is added to it, the gradients of the glimpse's
    inputs are summed into `gradients`, and d cost / d previous state through the glimpse
    is added to d_h (dim, batch). Stores the step's averages, d cost / d transformed state
    and h at column block `k` of the chunks."""
    averages, weights, match = outputs
    d_averages, d_weights = output_grads
    inputs, gradients, work, chunks = glimpse
    attended, W_state, v = inputs
    d_attended, d_preprocessed, _, d_v = gradients
    average, d_average_rows, d_w, d_transformed_rows, d_transformed = work
    _add_transposed(d_average, d_averages[t])
    _write_transposed(d_average_rows, d_average)
    _weights_gradient(d_w, d_average_rows, attended, weights[t], d_weights[t], d_attended)
    _softmax_gradient(d_w, weights[t])
    _match_gradient(d_transformed_rows, d_preprocessed, d_v, d_w, match[t], v)
    _transpose_into(d_transformed, d_transformed_rows)
    _add_product(d_h, W_state, d_transformed, buffer)
    _transpose_into(average, averages[t])
    _store_columns(chunks[0], k, average)
    _store_columns(chunks[1], k, d_transformed)
    _store_columns(chunks[2], k, h)


@numba.njit(**HELPER)
def _add_glimpse_products(gradients, chunks, columns):
    """The state transformation's gradient over a chunk of steps."""
    _add_chunk_product(gradients[2], chunks[2], chunks[1], columns)


@numba.njit(**HELPER)
def _chunk_columns(k, t, steps, batch):
    """The columns of a chunk whose last step is at column block `k`, processing step `t`
    (the backward loops run from the last step to 0): 0 while the chunk is not full."""
    return (k + 1) * batch if k + 1 == steps or t == 0 else 0


@numba.njit(**HELPER)
def _one_input_backward(d_h, h, delta, W_in, d_average, t, k, columns, outputs,
                        output_grads, glimpse, buffer, d_W, d_W_in, chunk_delta):
    """After the gradient of a step of a transition with one input sequence (the simple
    one, the LSTM): the gradient of step `t`'s glimpse (see :func:`_glimpse_backward`),
    whose averages reached the inputs' deltas `delta` (features, batch) through the
    distribution weights W_in. The deltas go to column block `k` of `chunk_delta`; with
    `columns` > 0, the weight gradients of the chunk's steps are added to the transition's
    d_W, to d_W_in and to the glimpse's."""
    _, gradients, _, chunks = glimpse
    np.dot(W_in, delta, d_average)
    _glimpse_backward(d_h, h, d_average, t, k, outputs, output_grads, glimpse, buffer)
    _store_columns(chunk_delta, k, delta)
    if columns > 0:
        _add_chunk_product(d_W, chunks[2], chunk_delta, columns)
        _add_chunk_product(d_W_in, chunks[0], chunk_delta, columns)
        _add_glimpse_products(gradients, chunks, columns)


@numba.njit(**HELPER)
def _glimpse_gradients(gradients):
    """The gradients of the attended, the preprocessed attended, the state transformation
    and the energy weights (match_dim, 1)."""
    d_attended, d_preprocessed, d_W_state, d_v = gradients
    return d_attended, d_preprocessed, d_W_state, d_v.reshape((d_v.shape[0], 1))


# The simple transition: h = f(x + averages @ W_in + h @ W).


@numba.njit(**JIT)
def attention_simple_forward(mask, has_mask, attended_mask, has_attended_mask, reverse, code,
                             x, h0, W, attended, preprocessed, W_state, w_energy, W_in):
    """Returns the states (time, batch, dim), the weighted averages (time, batch,
    attended_dim) and the weights (time, batch, length) and, for the backward pass, the
    new states before the mask (time, dim, batch) and the match vectors (time, length,
    batch, match_dim)."""
    _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, h0, W, attended,
                  preprocessed, W_state, w_energy, W_in, 1)
    n_steps, batch, dim = x.shape
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    glimpse_inputs, glimpse_work, glimpses = _glimpse_setup(
        n_steps, attended_mask, has_attended_mask, attended, preprocessed, W_state, w_energy)
    W_T, W_in_T, h = _transposed(W), _transposed(W_in), _transposed(h0)
    h_new, inputs, states, new = simple_forward_work(n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        average = _take_glimpse(h, t, glimpse_inputs, glimpse_work, glimpses)
        _distribute(inputs, W_in_T, average, x[s])
        simple_step(h, h_new, new[t], inputs, W_T, masks[s], has_mask, code)
        _write_transposed(states[t], h_new)
        h, h_new = h_new, h
    match, weights, averages = glimpses
    return states, averages, weights, new, match


@numba.njit(**JIT)
def attention_simple_backward(mask, has_mask, attended_mask, has_attended_mask, reverse, code,
                              h0, W, attended, preprocessed, W_state, w_energy, W_in, states,
                              averages, weights, new, match, d_states, d_averages, d_weights):
    """The gradients of the inputs of :func:`attention_simple_forward`, in their order:
    inputs, initial states, recurrent weights, attended, preprocessed attended, state
    transformation, energy weights, distribution weights, then the mask (meaningless
    without one)."""
    n_steps, batch, dim = states.shape
    attended_dim = attended.shape[2]
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    W, W_in, h0 = np.ascontiguousarray(W), np.ascontiguousarray(W_in), np.ascontiguousarray(h0)
    steps = _chunk_steps(batch)
    d_x, d_mask, d_W, d_h, work, chunk_delta = simple_backward_arrays(n_steps, batch, dim,
                                                                      steps, states)
    h, delta, buffer = work
    d_W_in = np.zeros((attended_dim, dim), dtype=states.dtype)
    d_average = np.empty((attended_dim, batch), dtype=states.dtype)
    glimpse = _glimpse_backward_setup(dim, batch, attended, W_state, w_energy, steps)
    outputs, output_grads = (averages, weights, match), (d_averages, d_weights)
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        simple_step_backward(d_h, d_states[t], states[t - 1] if t > 0 else h0, new[t],
                             masks[s], has_mask, code, W, work, d_mask[s], d_x[s])
        k = (n_steps - 1 - t) % steps
        _one_input_backward(d_h, h, delta, W_in, d_average, t, k, _chunk_columns(k, t, steps,
                                                                                batch),
                            outputs, output_grads, glimpse, buffer, d_W, d_W_in, chunk_delta)
    d_attended, d_preprocessed, d_W_state, d_energy = _glimpse_gradients(glimpse[1])
    return (d_x, _transposed(d_h), d_W, d_attended, d_preprocessed, d_W_state, d_energy,
            d_W_in, d_mask)


# The LSTM with peepholes: its states and cells, the glimpse taken from its states.


@numba.njit(**JIT)
def attention_lstm_forward(mask, has_mask, attended_mask, has_attended_mask, reverse, code,
                           x, h0, c0, W, w_in, w_forget, w_out, attended, preprocessed,
                           W_state, w_energy, W_in):
    """Returns the states and cells (time, batch, dim), the weighted averages (time,
    batch, attended_dim) and the weights (time, batch, length) and, for the backward pass,
    the LSTM's gate values (time, 4 * dim, batch), tanh of its cells (time, dim, batch)
    and the match vectors (time, length, batch, match_dim)."""
    _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, h0, W, attended,
                  preprocessed, W_state, w_energy, W_in, 4)
    n_steps, batch, dim = x.shape[0], x.shape[1], h0.shape[1]
    if c0.shape[0] != batch or c0.shape[1] != dim:
        raise ValueError("fused attention loop: "
                         "the initial cells must be (batch, dim), like the initial states")
    if w_in.shape[0] != dim or w_forget.shape[0] != dim or w_out.shape[0] != dim:
        raise ValueError("fused attention loop: "
                         "the peephole weights must have dim entries")
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    glimpse_inputs, glimpse_work, glimpses = _glimpse_setup(
        n_steps, attended_mask, has_attended_mask, attended, preprocessed, W_state, w_energy)
    W_T, W_in_T = _transposed(W), _transposed(W_in)
    h, c = _transposed(h0), _transposed(c0)
    h_new, c_new, inputs, states, cells, gates, tanh_cells = lstm_forward_work(
        n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        average = _take_glimpse(h, t, glimpse_inputs, glimpse_work, glimpses)
        _distribute(inputs, W_in_T, average, x[s])
        lstm_step(h, c, h_new, c_new, gates[t], tanh_cells[t], inputs, W_T, w_in, w_forget,
                  w_out, masks[s], has_mask, states[t], cells[t])
        h, h_new = h_new, h
        c, c_new = c_new, c
    match, weights, averages = glimpses
    return states, cells, averages, weights, gates, tanh_cells, match


@numba.njit(**JIT)
def attention_lstm_backward(mask, has_mask, attended_mask, has_attended_mask, reverse, code,
                            h0, c0, W, w_in, w_forget, w_out, attended, preprocessed, W_state,
                            w_energy, W_in, states, cells, averages, weights, gates,
                            tanh_cells, match, d_states, d_cells, d_averages, d_weights):
    """The gradients of the inputs of :func:`attention_lstm_forward`, in their order:
    inputs, initial states and cells, recurrent weights, the three peephole weights,
    attended, preprocessed attended, state transformation, energy weights, distribution
    weights, then the mask (meaningless without one)."""
    n_steps, batch, dim = states.shape
    attended_dim = attended.shape[2]
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    W, W_in = np.ascontiguousarray(W), np.ascontiguousarray(W_in)
    h0, c0 = np.ascontiguousarray(h0), np.ascontiguousarray(c0)
    steps = _chunk_steps(batch)
    gradients, d_h, d_c, work, chunk_delta = lstm_backward_arrays(n_steps, batch, dim, steps,
                                                                  states)
    h, delta, buffer = work[0], work[2], work[5]
    d_W_in = np.zeros((attended_dim, 4 * dim), dtype=states.dtype)
    d_average = np.empty((attended_dim, batch), dtype=states.dtype)
    glimpse = _glimpse_backward_setup(dim, batch, attended, W_state, w_energy, steps)
    outputs, output_grads = (averages, weights, match), (d_averages, d_weights)
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        lstm_step_backward(d_h, d_c, d_states[t], d_cells[t], states[t - 1] if t > 0 else h0,
                           cells[t - 1] if t > 0 else c0, gates[t], tanh_cells[t], masks[s],
                           has_mask, W, w_in, w_forget, w_out, work, gradients, s)
        k = (n_steps - 1 - t) % steps
        _one_input_backward(d_h, h, delta, W_in, d_average, t, k, _chunk_columns(k, t, steps,
                                                                                batch),
                            outputs, output_grads, glimpse, buffer, gradients[2], d_W_in,
                            chunk_delta)
    d_x, d_mask, d_W, d_in, d_forget, d_out = gradients
    d_attended, d_preprocessed, d_W_state, d_energy = _glimpse_gradients(glimpse[1])
    return (d_x, _transposed(d_h), _transposed(d_c), d_W, d_in, d_forget, d_out, d_attended,
            d_preprocessed, d_W_state, d_energy, d_W_in, d_mask)


# The gated recurrent unit.


@numba.njit(**JIT)
def attention_gru_forward(mask, has_mask, attended_mask, has_attended_mask, reverse, code, x,
                          gx, h0, U, Ug, attended, preprocessed, W_state, w_energy, W_in,
                          W_gates):
    """Returns the states (time, batch, dim), the weighted averages (time, batch,
    attended_dim) and the weights (time, batch, length) and, for the backward pass, the
    GRU's gate values (time, 2 * dim, batch), its candidate values (time, dim, batch) and
    the match vectors (time, length, batch, match_dim)."""
    _check_shapes(mask, has_mask, attended_mask, has_attended_mask, x, h0, U, attended,
                  preprocessed, W_state, w_energy, W_in, 1)
    n_steps, batch, dim = x.shape
    attended_dim = attended.shape[2]
    if gx.shape[0] != n_steps or gx.shape[1] != batch or gx.shape[2] != 2 * dim:
        raise ValueError("fused attention loop: "
                         "the gate inputs must be (time, batch, 2 * dim), like the "
                         "inputs (time, batch, dim) with twice their last dimension")
    if Ug.shape[0] != dim or Ug.shape[1] != 2 * dim:
        raise ValueError("fused attention loop: "
                         "the recurrent weights (state to gates) must be (dim, 2 * dim)")
    if W_gates.shape[0] != attended_dim or W_gates.shape[1] != 2 * dim:
        raise ValueError("fused attention loop: "
                         "the weights that distribute the weighted averages to the "
                         "gate inputs must be (attended_dim, 2 * dim)")
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    glimpse_inputs, glimpse_work, glimpses = _glimpse_setup(
        n_steps, attended_mask, has_attended_mask, attended, preprocessed, W_state, w_energy)
    U_T, Ug_T, h = _transposed(U), _transposed(Ug), _transposed(h0)
    W_in_T, W_gates_T = _transposed(W_in), _transposed(W_gates)
    h_new, inputs, gate_inputs, reset_states, states, gates, candidates = gru_forward_work(
        n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        average = _take_glimpse(h, t, glimpse_inputs, glimpse_work, glimpses)
        _distribute(inputs, W_in_T, average, x[s])
        _distribute(gate_inputs, W_gates_T, average, gx[s])
        gru_step(h, h_new, gates[t], candidates[t], inputs, gate_inputs, U_T, Ug_T,
                 reset_states, masks[s], has_mask)
        _write_transposed(states[t], h_new)
        h, h_new = h_new, h
    match, weights, averages = glimpses
    return states, averages, weights, gates, candidates, match


@numba.njit(**JIT)
def attention_gru_backward(mask, has_mask, attended_mask, has_attended_mask, reverse, code,
                           h0, U, Ug, attended, preprocessed, W_state, w_energy, W_in, W_gates,
                           states, averages, weights, gates, candidates, match, d_states,
                           d_averages, d_weights):
    """The gradients of the inputs of :func:`attention_gru_forward`, in their order:
    inputs, gate inputs, initial states, the two recurrent weights, attended,
    preprocessed attended, state transformation, energy weights, the two distribution
    weights, then the mask (meaningless without one)."""
    n_steps, batch, dim = states.shape
    attended_dim = attended.shape[2]
    dtype = states.dtype
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    U, Ug, h0 = np.ascontiguousarray(U), np.ascontiguousarray(Ug), np.ascontiguousarray(h0)
    W_in, W_gates = np.ascontiguousarray(W_in), np.ascontiguousarray(W_gates)
    d_x = np.empty((n_steps, batch, dim), dtype=dtype)
    d_gx = np.empty((n_steps, batch, 2 * dim), dtype=dtype)
    d_mask = np.empty((n_steps, batch), dtype=dtype)
    d_U = np.zeros((dim, dim), dtype=dtype)
    d_Ug = np.zeros((dim, 2 * dim), dtype=dtype)
    d_W_in = np.zeros((attended_dim, dim), dtype=dtype)
    d_W_gates = np.zeros((attended_dim, 2 * dim), dtype=dtype)
    d_h = np.zeros((dim, batch), dtype=dtype)
    d_average = np.empty((attended_dim, batch), dtype=dtype)
    average_buffer = np.empty((attended_dim, batch), dtype=dtype)
    work = gru_backward_work(dim, batch, states)
    h, d_candidate, d_gate, _, reset_state, buffer = work
    steps = _chunk_steps(batch)
    glimpse = _glimpse_backward_setup(dim, batch, attended, W_state, w_energy, steps)
    chunk_average, _, chunk_h = glimpse[3]
    outputs, output_grads = (averages, weights, match), (d_averages, d_weights)
    chunk_reset = np.empty((dim, steps * batch), dtype=dtype)
    chunk_candidate = np.empty((dim, steps * batch), dtype=dtype)
    chunk_gate = np.empty((2 * dim, steps * batch), dtype=dtype)
    k = 0
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        gru_step_backward(d_h, d_states[t], states[t - 1] if t > 0 else h0, gates[t],
                          candidates[t], masks[s], U, Ug, work, d_mask[s], d_x[s], d_gx[s])
        # The GRU's inputs received the weighted average through the distribution weights.
        np.dot(W_in, d_candidate, d_average)
        _add_product(d_average, W_gates, d_gate, average_buffer)
        _glimpse_backward(d_h, h, d_average, t, k, outputs, output_grads, glimpse, buffer)
        _store_columns(chunk_reset, k, reset_state)
        _store_columns(chunk_candidate, k, d_candidate)
        _store_columns(chunk_gate, k, d_gate)
        k += 1
        if k == steps or t == 0:
            columns = k * batch
            _add_chunk_product(d_U, chunk_reset, chunk_candidate, columns)
            _add_chunk_product(d_Ug, chunk_h, chunk_gate, columns)
            _add_chunk_product(d_W_in, chunk_average, chunk_candidate, columns)
            _add_chunk_product(d_W_gates, chunk_average, chunk_gate, columns)
            _add_glimpse_products(glimpse[1], glimpse[3], columns)
            k = 0
    d_attended, d_preprocessed, d_W_state, d_energy = _glimpse_gradients(glimpse[1])
    return (d_x, d_gx, _transposed(d_h), d_U, d_Ug, d_attended, d_preprocessed, d_W_state,
            d_energy, d_W_in, d_W_gates, d_mask)
