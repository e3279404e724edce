"""Numba kernels of the fused recurrent ops: whole loops over time, forward and backward.

Arrays are time-major: ``x`` is ``(time, batch, features)``. Every kernel takes the same
four leading arguments: the mask ``(time, batch)`` (any array when ``has_mask`` is False),
``has_mask``, ``reverse`` and the activation ``code`` (see :data:`ACTIVATIONS`; only the
simple transition uses it, LSTM and GRU have tanh and logistic activations).

Every kernel processes the steps in order (or from the last to the first with
``reverse``) and writes its outputs in processing order, like :func:`pytensor.scan` with
``go_backwards``. A forward kernel also returns what its backward kernel needs (the
states, the gate values...); a backward kernel computes the gradients of every input
exactly, the products of one step running through BLAS, and the weight gradients as one
matrix product over all steps after the loop.

Inside, the kernels work feature-major: one step's values are ``(features, batch)``
matrices, so that the per-step products have the batch as the last dimension of their
results, the shape the BLAS shipped with SciPy runs fastest (a third faster than
``(batch, features)`` results for a batch of 32). One step's inputs and results are
transposed on the way in and out. The values kept for the backward pass (gates...) are
``(time, features, batch)`` arrays; memory grows with the length of the sequences by what
the gradient needs, and no more (the weight gradients are summed a chunk of steps at a
time).

Transcendentals: in float32, ``tanh`` (and the logistic function through it) is a
clamped rational function, accurate to 4e-7, that LLVM vectorizes, where calls to libm
are not; in float64 the kernels call libm."""

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

__all__ = [
    "ACTIVATIONS", "simple_forward", "simple_backward", "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
]

#: Codes of the elementwise activations a fused simple recurrent transition supports.
ACTIVATIONS = {"tanh": 0, "logistic": 1, "identity": 2, "rectifier": 3}

# IEEE arithmetic, no fast-math flags. With them (reassociation, contraction), what a
# function computes depends on the code LLVM inlines it into: a helper compiled on its own
# and its copy inside a kernel round differently, and which copy a kernel calls depends on
# what the process compiled or loaded from the cache before. The same kernel then gave
# other gradients in a first process than in the next one. Without them, every copy
# computes the same values; the kernels run as fast (their products are BLAS calls).
_OPTIONS = {"boundscheck": False, "error_model": "numpy"}
#: Options of the kernels the ops call: cached on disk, each with everything it calls.
JIT = {"cache": True, **_OPTIONS}
#: Options of the functions the kernels call: compiled into the kernels, neither cached on
#: their own (a cached kernel holds their code) nor callable from Python (wrappers cost
#: compile time).
HELPER = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True, **_OPTIONS}

# tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (tanh is 1 to float32 precision beyond): a
# least-squares fit of the relative error, computed for this module.
_P = tuple(np.float32(c) for c in (
    9.999999780812628e-01, 1.292271445035135e-01, 2.924337683711364e-03,
    9.296652493227166e-06, -1.285546253199529e-08, 1.841634596297050e-11))
_Q = tuple(np.float32(c) for c in (
    1.0, 4.625601289565202e-01, 2.377827371051208e-02, 2.285714239508449e-04))
_P0, _P1, _P2, _P3, _P4, _P5 = _P
_Q0, _Q1, _Q2, _Q3 = _Q
_CLAMP = np.float32(9.0)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


def _tanh(x):
    return math.tanh(x)


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@numba.njit(**HELPER)
def _tanh_float32(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    t = x * x
    numerator = ((((_P5 * t + _P4) * t + _P3) * t + _P2) * t + _P1) * t + _P0
    denominator = ((_Q3 * t + _Q2) * t + _Q1) * t + _Q0
    # Rounding can take the ratio one ulp past 1 near the clamp.
    return min(max(x * numerator / denominator, -_ONE), _ONE)


@overload(_tanh)
def _overload_tanh(x):
    if x == types.float32:
        return lambda x: _tanh_float32(x)
    return lambda x: math.tanh(x)


@overload(_sigmoid)
def _overload_sigmoid(x):
    if x == types.float32:
        return lambda x: _HALF + _HALF * _tanh_float32(_HALF * x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@numba.njit(**HELPER)
def _activate(code, x):
    if code == 0:
        return _tanh(x)
    if code == 1:
        return _sigmoid(x)
    if code == 2:
        return x
    return max(x, 0 * x)


@numba.njit(**HELPER)
def _derivative(code, y):
    """The activation's derivative, from its output `y`."""
    if code == 0:
        return 1 - y * y
    if code == 1:
        return y * (1 - y)
    if code == 2:
        return 1 + 0 * y
    return (y > 0) + 0 * y


# Elementwise operations on one step's (features, batch) matrices, flattened when every
# operand has that shape. Each loop touches few arrays, so that LLVM can check at run time
# that they do not overlap, and vectorize it. `out` may be one of the other arguments.
# Per-feature vectors (peephole weights) apply to rows, the mask (one value per example)
# to columns.


@numba.njit(**HELPER)
def _add(out, a):
    for j in range(out.shape[0]):
        out[j] += a[j]


@numba.njit(**HELPER)
def _multiply(out, a, b):
    for j in range(out.shape[0]):
        out[j] = a[j] * b[j]


@numba.njit(**HELPER)
def _activate_sum(out, a, code):
    """out = f(out + a) for the activation `code`."""
    for j in range(out.shape[0]):
        out[j] = _activate(code, out[j] + a[j])


@numba.njit(**HELPER)
def _sigmoid_sum(out, a):
    for j in range(out.shape[0]):
        out[j] = _sigmoid(out[j] + a[j])


@numba.njit(**HELPER)
def _tanh_of(out, a):
    for j in range(out.shape[0]):
        out[j] = _tanh(a[j])


@numba.njit(**HELPER)
def _interpolate(out, z, new, old):
    """out = z * new + (1 - z) * old."""
    for j in range(out.shape[0]):
        out[j] = z[j] * new[j] + (1 - z[j]) * old[j]


@numba.njit(**HELPER)
def _sigmoid_peephole(out, cells, weights):
    """out = logistic(out + cells * weights), the weights one per row."""
    for i in range(out.shape[0]):
        w = weights[i]
        for b in range(out.shape[1]):
            out[i, b] = _sigmoid(out[i, b] + cells[i, b] * w)


@numba.njit(**HELPER)
def _keep(out, old, m):
    """out = m * out + (1 - m) * old: masked examples (columns) keep their previous value."""
    for i in range(out.shape[0]):
        for b in range(out.shape[1]):
            out[i, b] = m[b] * out[i, b] + (1 - m[b]) * old[i, b]


@numba.njit(**HELPER)
def _scale_columns(out, m):
    """out *= 1 - m, column by column."""
    for i in range(out.shape[0]):
        for b in range(out.shape[1]):
            out[i, b] *= 1 - m[b]


@numba.njit(**HELPER)
def _column_sums_of_product(out, a, b_minus, c):
    """out[b] = sum over rows of a * (b_minus - c): the gradient of a mask."""
    out[:] = 0
    for i in range(a.shape[0]):
        for b in range(a.shape[1]):
            out[b] += a[i, b] * (b_minus[i, b] - c[i, b])


@numba.njit(**HELPER)
def _row_sums_of_product(out, a, b):
    """out[i] += sum over columns of a * b: the gradient of a per-feature weight."""
    for i in range(a.shape[0]):
        total = 0 * out[i]
        for b_ in range(a.shape[1]):
            total += a[i, b_] * b[i, b_]
        out[i] += total


@numba.njit(**HELPER)
def _source(t, n_steps, reverse):
    """The time index of the inputs read at processing step `t`."""
    return n_steps - 1 - t if reverse else t


# Transposed copies of one step, between (batch, features) rows of the op's inputs and
# outputs and the kernels' (features, batch) matrices; blocks of features stay in cache.

_BLOCK = 16


@numba.njit(**HELPER)
def _transpose_into(out, a):
    """out = a.T, for a (batch, features) and out (features, batch)."""
    batch, features = a.shape
    for f0 in range(0, features, _BLOCK):
        for b in range(batch):
            for f in range(f0, min(f0 + _BLOCK, features)):
                out[f, b] = a[b, f]


@numba.njit(**HELPER)
def _add_transposed(out, a):
    """out += a.T, for a (batch, features) and out (features, batch)."""
    batch, features = a.shape
    for f0 in range(0, features, _BLOCK):
        for b in range(batch):
            for f in range(f0, min(f0 + _BLOCK, features)):
                out[f, b] += a[b, f]


@numba.njit(**HELPER)
def _write_transposed(out, a):
    """out = a.T, for a (features, batch) and out (batch, features)."""
    features, batch = a.shape
    for f0 in range(0, features, _BLOCK):
        for b in range(batch):
            for f in range(f0, min(f0 + _BLOCK, features)):
                out[b, f] = a[f, b]


@numba.njit(**HELPER)
def _transposed(a):
    return np.ascontiguousarray(a.T)


@numba.njit(**HELPER)
def _mask_rows(mask, has_mask, n_steps, batch, dtype_of):
    """The mask as a contiguous (time, batch) array: ones without a mask."""
    if has_mask:
        return np.ascontiguousarray(mask).astype(dtype_of.dtype)
    return np.ones((n_steps, batch), dtype=dtype_of.dtype)


@numba.njit(**HELPER)
def _add_product(target, a, b, buffer):
    """target += a @ b, the product through BLAS."""
    np.dot(a, b, buffer)
    _add(target.ravel(), buffer.ravel())


@numba.njit(**HELPER)
def _previous_state_gradient(d_h, W, delta, buffer, m, has_mask):
    """d_h becomes d cost / d previous state: (1 - m) * d_h (the masked examples keep it)
    plus W @ delta (the products of the step)."""
    if has_mask:
        _scale_columns(d_h, m)
        _add_product(d_h, W, delta, buffer)
    else:
        np.dot(W, delta, d_h)


# Weight gradients: sum over steps of previous[t] @ deltas[t].T. The backward loops gather
# the (features, batch) matrices of a chunk of steps side by side and add the chunk's
# product: products over hundreds of columns run at BLAS speed, and memory does not grow
# with the length of the sequences.

_CHUNK_COLUMNS = 512


@numba.njit(**HELPER)
def _chunk_steps(batch):
    return max(1, _CHUNK_COLUMNS // max(batch, 1))


@numba.njit(**HELPER)
def _store_columns(chunk, k, a):
    """Put the (features, batch) matrix `a` at step `k` of a (features, steps * batch) chunk."""
    batch = a.shape[1]
    for i in range(a.shape[0]):
        for b in range(batch):
            chunk[i, k * batch + b] = a[i, b]


@numba.njit(**HELPER)
def _add_chunk_product(out, left, right, columns):
    """out += left[:, :columns] @ right[:, :columns].T."""
    if columns == left.shape[1]:
        out += np.dot(left, right.T)
    else:
        left = np.ascontiguousarray(left[:, :columns])
        right = np.ascontiguousarray(right[:, :columns])
        out += np.dot(left, right.T)


def check_shapes(mask, has_mask, x, h0, W, multiple):
    """Refuse inputs that do not fit: x (time, batch, multiple * dim), h0 (batch, dim),
    W (dim, ...), the mask (time, batch).

    Python, called before a forward kernel (:func:`blocks.ops.recurrent.op.run_kernel`):
    the kernels index without bounds checks, and the messages give the shapes, which
    compiled code would format with Numba's string functions (a second or more of every
    cold compile).
    """
    n_steps, batch, width = x.shape
    dim = h0.shape[1]
    if h0.shape[0] != batch:
        raise ValueError(f"fused recurrent loop: the initial states must have one row per "
                         f"example of the batch (batch = second dimension of the "
                         f"sequences): found {h0.shape[0]} rows for a batch of {batch}")
    if width != multiple * dim:
        raise ValueError(f"fused recurrent loop: inputs of shape {x.shape} do not fit the "
                         f"brick's dim {dim} (the last dimension must be dim for "
                         f"SimpleRecurrent and GatedRecurrent inputs, 2 * dim for "
                         f"gate_inputs, 4 * dim for LSTM inputs)")
    if W.shape[0] != dim:
        raise ValueError(f"fused recurrent loop: the recurrent weights must have dim = {dim} "
                         f"rows, found {W.shape[0]}")
    if has_mask and mask.shape != (n_steps, batch):
        raise ValueError(f"fused recurrent loop: the mask must be (time, batch) = "
                         f"{(n_steps, batch)}, like the first two dimensions of the "
                         f"sequences, found {mask.shape}")


# Simple recurrent transition: h_t = f(x_t + h_{t-1} W)


@numba.njit(**HELPER)
def simple_forward_work(n_steps, batch, dim, dtype_of):
    """The arrays of a simple transition's forward loop: the next state and one step's
    inputs (dim, batch), then the outputs: the states (time, batch, dim) and the new
    states before the mask (time, dim, batch)."""
    dtype = dtype_of.dtype
    return (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((n_steps, batch, dim), dtype=dtype),
            np.empty((n_steps, dim, batch), dtype=dtype))


@numba.njit(**HELPER)
def simple_step(h, h_new, new, inputs, W_T, m, has_mask, code):
    """One step of the simple transition, feature-major: h_new from the state h and the
    transposed inputs (dim, batch). Writes the new states before the mask to `new` (the
    backward pass needs them)."""
    np.dot(W_T, h, new)
    _activate_sum(new.ravel(), inputs.ravel(), code)
    h_new[:] = new
    if has_mask:
        _keep(h_new, h, m)


@numba.njit(**JIT)
def simple_forward(mask, has_mask, reverse, code, x, h0, W):
    """Returns the states and, for the backward pass, the unmasked new states
    (time, dim, batch)."""
    n_steps, batch, dim = x.shape
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    W_T = _transposed(W)
    h = _transposed(h0)
    h_new, inputs, states, new = simple_forward_work(n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        _transpose_into(inputs, x[s])
        simple_step(h, h_new, new[t], inputs, W_T, masks[s], has_mask, code)
        _write_transposed(states[t], h_new)
        h, h_new = h_new, h
    return states, new


@numba.njit(**HELPER)
def _simple_delta(out, grad, new, m, code):
    for i in range(out.shape[0]):
        for b in range(out.shape[1]):
            out[i, b] = m[b] * grad[i, b] * _derivative(code, new[i, b])


@numba.njit(**HELPER)
def simple_backward_arrays(n_steps, batch, dim, steps, dtype_of):
    """The arrays of a simple transition's backward loop: the gradients of the inputs
    (time, batch, dim), of the mask (time, batch) and of the recurrent weights; d cost / d
    state (dim, batch); the work of :func:`simple_step_backward` (the previous state, the
    deltas of the inputs and a buffer, (dim, batch) each); a chunk of the deltas of
    `steps` steps (dim, steps * batch)."""
    dtype = dtype_of.dtype
    work = (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((dim, batch), dtype=dtype))
    return (np.empty((n_steps, batch, dim), dtype=dtype), np.empty((n_steps, batch), dtype=dtype),
            np.zeros((dim, dim), dtype=dtype), np.zeros((dim, batch), dtype=dtype), work,
            np.empty((dim, steps * batch), dtype=dtype))


@numba.njit(**HELPER)
def simple_step_backward(d_h, d_state, previous, new, m, has_mask, code, W, work, d_mask,
                         d_x):
    """The gradients of one step of the simple transition. `d_h` (dim, batch) holds d cost
    / d new state without the step's own output gradient `d_state` (batch, dim) and
    becomes d cost / d previous state `previous` (batch, dim); `new` holds the step's new
    states before the mask. Writes d_mask (batch,) and the deltas of the inputs d_x
    (batch, dim); `work` (see :func:`simple_backward_arrays`) then holds the previous
    state and the deltas (dim, batch)."""
    h, delta, buffer = work
    _transpose_into(h, previous)
    _add_transposed(d_h, d_state)
    _column_sums_of_product(d_mask, d_h, new, h)
    _simple_delta(delta, d_h, new, m, code)
    _previous_state_gradient(d_h, W, delta, buffer, m, has_mask)
    _write_transposed(d_x, delta)


@numba.njit(**JIT)
def simple_backward(mask, has_mask, reverse, code, h0, W, states, new, d_states):
    n_steps, batch, dim = states.shape
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    W, h0 = np.ascontiguousarray(W), np.ascontiguousarray(h0)
    steps = _chunk_steps(batch)
    d_x, d_mask, d_W, d_h, work, chunk_delta = simple_backward_arrays(n_steps, batch, dim,
                                                                      steps, states)
    h, delta, _ = work
    chunk_h = np.empty((dim, steps * batch), dtype=states.dtype)
    k = 0
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        simple_step_backward(d_h, d_states[t], states[t - 1] if t > 0 else h0, new[t],
                             masks[s], has_mask, code, W, work, d_mask[s], d_x[s])
        _store_columns(chunk_h, k, h)
        _store_columns(chunk_delta, k, delta)
        k += 1
        if k == steps or t == 0:
            _add_chunk_product(d_W, chunk_h, chunk_delta, k * batch)
            k = 0
    return d_x, _transposed(d_h), d_W, d_mask


# LSTM with peepholes; inputs and gates ordered input gate, forget gate, cells, output gate.


@numba.njit(**HELPER)
def _lstm_cells(out, i, f, candidate, c_prev):
    for j in range(out.shape[0]):
        out[j] = f[j] * c_prev[j] + i[j] * candidate[j]


@numba.njit(**JIT)
def lstm_forward(mask, has_mask, reverse, code, x, h0, c0, W, w_in, w_forget, w_out):
    """Returns states and cells and, for the backward pass, the four gate values
    (time, 4 * dim, batch) and tanh of the new cells (time, dim, batch)."""
    n_steps, batch, width = x.shape
    dim = width // 4
    if w_in.shape[0] != dim or w_forget.shape[0] != dim or w_out.shape[0] != dim:
        raise ValueError("fused recurrent loop: the peephole weights must have dim entries")
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    W_T = _transposed(W)
    h, c = _transposed(h0), _transposed(c0)
    h_new, c_new, inputs, states, cells, gates, tanh_cells = lstm_forward_work(
        n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        _transpose_into(inputs, x[s])
        lstm_step(h, c, h_new, c_new, gates[t], tanh_cells[t], inputs, W_T, w_in, w_forget,
                  w_out, masks[s], has_mask, states[t], cells[t])
        h, h_new = h_new, h
        c, c_new = c_new, c
    return states, cells, gates, tanh_cells


@numba.njit(**HELPER)
def lstm_forward_work(n_steps, batch, dim, dtype_of):
    """The arrays of an LSTM's forward loop: the next states and cells (dim, batch), one
    step's inputs (4 * dim, batch), then the outputs: the states and cells (time, batch,
    dim), the gates (time, 4 * dim, batch) and tanh of the cells (time, dim, batch)."""
    dtype = dtype_of.dtype
    return (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((4 * dim, batch), dtype=dtype),
            np.empty((n_steps, batch, dim), dtype=dtype),
            np.empty((n_steps, batch, dim), dtype=dtype),
            np.empty((n_steps, 4 * dim, batch), dtype=dtype),
            np.empty((n_steps, dim, batch), dtype=dtype))


@numba.njit(**HELPER)
def lstm_step(h, c, h_new, c_new, g, tc, inputs, W_T, w_in, w_forget, w_out, m, has_mask,
              state_rows, cell_rows):
    """One LSTM step, feature-major: h_new and c_new from the states h and cells c and the
    transposed inputs (4 * dim, batch), also written to state_rows and cell_rows (batch,
    dim). Writes the gate values to g and tanh of the new cells to tc (the backward pass
    needs them)."""
    dim = h.shape[0]
    np.dot(W_T, h, g)
    _add(g.ravel(), inputs.ravel())
    i, f, candidate, o = g[:dim], g[dim:2 * dim], g[2 * dim:3 * dim], g[3 * dim:]
    _sigmoid_peephole(i, c, w_in)
    _sigmoid_peephole(f, c, w_forget)
    _tanh_of(candidate.ravel(), candidate.ravel())
    _lstm_cells(c_new.ravel(), i.ravel(), f.ravel(), candidate.ravel(), c.ravel())
    _sigmoid_peephole(o, c_new, w_out)
    _tanh_of(tc.ravel(), c_new.ravel())
    _multiply(h_new.ravel(), o.ravel(), tc.ravel())
    if has_mask:
        _keep(h_new, h, m)
        _keep(c_new, c, m)
    _write_transposed(state_rows, h_new)
    _write_transposed(cell_rows, c_new)


@numba.njit(**HELPER)
def _lstm_mask_gradient(out, grad_h, grad_c, g, tc, h_prev, c_prev, dim):
    """out[b] = grad_h . (h_new - h_prev) + grad_c . (c_new - c_prev), per example."""
    out[:] = 0
    for j in range(dim):
        for b in range(out.shape[0]):
            c_new = g[dim + j, b] * c_prev[j, b] + g[j, b] * g[2 * dim + j, b]
            out[b] += (grad_h[j, b] * (g[3 * dim + j, b] * tc[j, b] - h_prev[j, b])
                       + grad_c[j, b] * (c_new - c_prev[j, b]))


@numba.njit(**HELPER)
def _lstm_output_delta(out, grad_h, o, tc, m):
    for i in range(out.shape[0]):
        for b in range(out.shape[1]):
            out[i, b] = m[b] * grad_h[i, b] * tc[i, b] * o[i, b] * (1 - o[i, b])


@numba.njit(**HELPER)
def _lstm_cell_delta(out, grad_h, grad_c, o, tc, da_o, w_out, m):
    """d cost / d new cells, through the state, the output gate's peephole and the cells."""
    for i in range(out.shape[0]):
        w = w_out[i]
        for b in range(out.shape[1]):
            out[i, b] = (m[b] * (grad_c[i, b] + grad_h[i, b] * o[i, b] * (1 - tc[i, b] ** 2))
                         + da_o[i, b] * w)


@numba.njit(**HELPER)
def _gate_delta(out, d_cells, other, gate):
    """out = d_cells * other * gate * (1 - gate): a logistic gate's pre-activation delta."""
    for j in range(out.shape[0]):
        out[j] = d_cells[j] * other[j] * gate[j] * (1 - gate[j])


@numba.njit(**HELPER)
def _candidate_delta(out, d_cells, i, candidate):
    for j in range(out.shape[0]):
        out[j] = d_cells[j] * i[j] * (1 - candidate[j] * candidate[j])


@numba.njit(**HELPER)
def _lstm_previous_cells(grad_c, d_cells, f, da_i, w_in, da_f, w_forget, m):
    """grad_c becomes d cost / d previous cells (without the next step's contribution)."""
    for i in range(grad_c.shape[0]):
        wi, wf = w_in[i], w_forget[i]
        for b in range(grad_c.shape[1]):
            grad_c[i, b] = ((1 - m[b]) * grad_c[i, b] + d_cells[i, b] * f[i, b]
                            + da_i[i, b] * wi + da_f[i, b] * wf)


@numba.njit(**HELPER)
def lstm_backward_arrays(n_steps, batch, dim, steps, dtype_of):
    """The arrays of an LSTM's backward loop: the gradients of the inputs (time, batch, 4 *
    dim), of the mask (time, batch), of the recurrent weights and of the three peephole
    weights; d cost / d states and d cost / d cells (dim, batch); the work of
    :func:`lstm_step_backward` (the previous states and cells, the deltas of the inputs,
    then buffers); a chunk of the deltas of `steps` steps (4 * dim, steps * batch)."""
    dtype = dtype_of.dtype
    width = 4 * dim
    work = (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((width, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype))
    gradients = (np.empty((n_steps, batch, width), dtype=dtype),
                 np.empty((n_steps, batch), dtype=dtype), np.zeros((dim, width), dtype=dtype),
                 np.zeros(dim, dtype=dtype), np.zeros(dim, dtype=dtype),
                 np.zeros(dim, dtype=dtype))
    return (gradients, np.zeros((dim, batch), dtype=dtype), np.zeros((dim, batch), dtype=dtype),
            work, np.empty((width, steps * batch), dtype=dtype))


@numba.njit(**HELPER)
def lstm_step_backward(d_h, d_c, d_state, d_cell, previous, previous_cells, g, tc, m,
                       has_mask, W, w_in, w_forget, w_out, work, gradients, s):
    """The gradients of one LSTM step. `d_h` and `d_c` (dim, batch) hold d cost / d new
    states and cells without the step's own output gradients `d_state` and `d_cell`
    (batch, dim), and become d cost / d previous states and cells `previous` and
    `previous_cells` (batch, dim); `g` and `tc` are the step's gate values and tanh of its
    new cells. Writes the deltas of the inputs and the mask's gradient at row `s` of the
    gradients of :func:`lstm_backward_arrays`, and adds to the peephole weights'; `work`
    then holds the previous states and cells and the deltas (4 * dim, batch)."""
    h, c, delta, d_new_cells, new_cells, buffer = work
    d_x, d_mask, _, d_in, d_forget, d_out = gradients
    dim = h.shape[0]
    _transpose_into(h, previous)
    _transpose_into(c, previous_cells)
    i, f, candidate, o = g[:dim], g[dim:2 * dim], g[2 * dim:3 * dim], g[3 * dim:]
    da_i, da_f = delta[:dim], delta[dim:2 * dim]
    da_c, da_o = delta[2 * dim:3 * dim], delta[3 * dim:]
    _add_transposed(d_h, d_state)
    _add_transposed(d_c, d_cell)
    _lstm_mask_gradient(d_mask[s], d_h, d_c, g, tc, h, c, dim)
    _lstm_output_delta(da_o, d_h, o, tc, m)
    _lstm_cell_delta(d_new_cells, d_h, d_c, o, tc, da_o, w_out, m)
    _gate_delta(da_i.ravel(), d_new_cells.ravel(), candidate.ravel(), i.ravel())
    _gate_delta(da_f.ravel(), d_new_cells.ravel(), c.ravel(), f.ravel())
    _candidate_delta(da_c.ravel(), d_new_cells.ravel(), i.ravel(), candidate.ravel())
    _lstm_previous_cells(d_c, d_new_cells, f, da_i, w_in, da_f, w_forget, m)
    _row_sums_of_product(d_in, da_i, c)
    _row_sums_of_product(d_forget, da_f, c)
    _lstm_cells(new_cells.ravel(), i.ravel(), f.ravel(), candidate.ravel(), c.ravel())
    _row_sums_of_product(d_out, da_o, new_cells)
    _previous_state_gradient(d_h, W, delta, buffer, m, has_mask)
    _write_transposed(d_x[s], delta)


@numba.njit(**JIT)
def lstm_backward(mask, has_mask, reverse, code, h0, c0, W, w_in, w_forget, w_out,
                  states, cells, gates, tanh_cells, d_states, d_cells):
    n_steps, batch, dim = states.shape
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    W, h0, c0 = np.ascontiguousarray(W), np.ascontiguousarray(h0), np.ascontiguousarray(c0)
    steps = _chunk_steps(batch)
    gradients, d_h, d_c, work, chunk_delta = lstm_backward_arrays(n_steps, batch, dim, steps,
                                                                  states)
    h, delta = work[0], work[2]
    chunk_h = np.empty((dim, steps * batch), dtype=states.dtype)
    k = 0
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        lstm_step_backward(d_h, d_c, d_states[t], d_cells[t], states[t - 1] if t > 0 else h0,
                           cells[t - 1] if t > 0 else c0, gates[t], tanh_cells[t], masks[s],
                           has_mask, W, w_in, w_forget, w_out, work, gradients, s)
        _store_columns(chunk_h, k, h)
        _store_columns(chunk_delta, k, delta)
        k += 1
        if k == steps or t == 0:
            _add_chunk_product(gradients[2], chunk_h, chunk_delta, k * batch)
            k = 0
    d_x, d_mask, d_W, d_in, d_forget, d_out = gradients
    return (d_x, _transposed(d_h), _transposed(d_c), d_W, d_in, d_forget, d_out, d_mask)


# Gated recurrent unit; gate inputs ordered update gate, reset gate.


@numba.njit(**HELPER)
def gru_step(h, h_new, g, candidate, inputs, gate_inputs, U_T, Ug_T, reset_states, m,
             has_mask):
    """One step of the gated recurrent unit, feature-major: h_new from the state h and the
    transposed inputs (dim, batch) and gate inputs (2 * dim, batch). Writes the gate
    values to g and the candidate values to `candidate` (the backward pass needs them);
    `gate_inputs` and `reset_states` are overwritten."""
    dim = h.shape[0]
    np.dot(Ug_T, h, g)
    _sigmoid_sum(g.ravel(), gate_inputs.ravel())
    _multiply(reset_states.ravel(), h.ravel(), g[dim:].ravel())
    np.dot(U_T, reset_states, candidate)
    _activate_sum(candidate.ravel(), inputs.ravel(), 0)
    _interpolate(h_new.ravel(), g[:dim].ravel(), candidate.ravel(), h.ravel())
    if has_mask:
        _keep(h_new, h, m)


@numba.njit(**HELPER)
def gru_forward_work(n_steps, batch, dim, dtype_of):
    """The arrays of a GRU's forward loop: the next state, one step's inputs, gate inputs
    and reset states (features, batch), then the outputs: the states (time, batch, dim),
    the gates (time, 2 * dim, batch) and the candidates (time, dim, batch)."""
    dtype = dtype_of.dtype
    return (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((2 * dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((n_steps, batch, dim), dtype=dtype),
            np.empty((n_steps, 2 * dim, batch), dtype=dtype),
            np.empty((n_steps, dim, batch), dtype=dtype))


@numba.njit(**JIT)
def gru_forward(mask, has_mask, reverse, code, x, gx, h0, U, Ug):
    """Returns the states and, for the backward pass, the gate values (time, 2 * dim,
    batch) and the candidate values (time, dim, batch)."""
    n_steps, batch, dim = x.shape
    masks = _mask_rows(mask, has_mask, n_steps, batch, x)
    U_T, Ug_T = _transposed(U), _transposed(Ug)
    h = _transposed(h0)
    h_new, inputs, gate_inputs, reset_states, states, gates, candidates = gru_forward_work(
        n_steps, batch, dim, x)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        _transpose_into(inputs, x[s])
        _transpose_into(gate_inputs, gx[s])
        gru_step(h, h_new, gates[t], candidates[t], inputs, gate_inputs, U_T, Ug_T,
                 reset_states, masks[s], has_mask)
        _write_transposed(states[t], h_new)
        h, h_new = h_new, h
    return states, gates, candidates


@numba.njit(**HELPER)
def _gru_deltas(d_update, d_candidate, grad, z, candidate, h, m):
    """The deltas of the update gate and the candidate; grad becomes d cost / d previous
    state through the interpolation and the mask."""
    for i in range(grad.shape[0]):
        for b in range(grad.shape[1]):
            g = grad[i, b]
            zi = z[i, b]
            ci = candidate[i, b]
            d_update[i, b] = m[b] * g * (ci - h[i, b]) * zi * (1 - zi)
            d_candidate[i, b] = m[b] * g * zi * (1 - ci * ci)
            grad[i, b] = g * ((1 - m[b]) + m[b] * (1 - zi))


@numba.njit(**HELPER)
def _gru_mask_gradient(out, grad, z, candidate, h):
    out[:] = 0
    for i in range(grad.shape[0]):
        for b in range(grad.shape[1]):
            out[b] += grad[i, b] * z[i, b] * (candidate[i, b] - h[i, b])


@numba.njit(**HELPER)
def _gru_reset(d_reset_gate, d_h, reset_states, d_reset, h, r):
    for j in range(d_h.shape[0]):
        d_reset_gate[j] = d_reset[j] * h[j] * r[j] * (1 - r[j])
        d_h[j] += d_reset[j] * r[j]
        reset_states[j] = h[j] * r[j]


@numba.njit(**HELPER)
def gru_backward_work(dim, batch, dtype_of):
    """The (features, batch) arrays of :func:`gru_step_backward`: the previous state, the
    deltas of the inputs and gate inputs, then buffers."""
    dtype = dtype_of.dtype
    return (np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((2 * dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype),
            np.empty((dim, batch), dtype=dtype), np.empty((dim, batch), dtype=dtype))


@numba.njit(**HELPER)
def gru_step_backward(d_h, d_state, previous, g, candidate, m, U, Ug, work, d_mask, d_x,
                      d_gx):
    """The gradients of one GRU step. `d_h` (dim, batch) holds d cost / d new state without
    the step's own output gradient `d_state` (batch, dim) and becomes d cost / d previous
    state `previous` (batch, dim); `g` and `candidate` are the step's gate and candidate
    values. Writes d_mask (batch,) and the deltas of the inputs d_x (batch, dim) and gate
    inputs d_gx (batch, 2 * dim); `work` (see :func:`gru_backward_work`) then holds the
    previous state, the deltas (features, batch) and the reset previous state."""
    h, d_candidate, d_gate, d_reset, reset_state, buffer = work
    dim = h.shape[0]
    z, r = g[:dim], g[dim:]
    _transpose_into(h, previous)
    _add_transposed(d_h, d_state)
    # The state moved by z * (candidate - h) where the mask is 1.
    _gru_mask_gradient(d_mask, d_h, z, candidate, h)
    _gru_deltas(d_gate[:dim], d_candidate, d_h, z, candidate, h, m)
    np.dot(U, d_candidate, d_reset)
    _gru_reset(d_gate[dim:].ravel(), d_h.ravel(), reset_state.ravel(), d_reset.ravel(),
               h.ravel(), r.ravel())
    _add_product(d_h, Ug, d_gate, buffer)
    _write_transposed(d_x, d_candidate)
    _write_transposed(d_gx, d_gate)


@numba.njit(**JIT)
def gru_backward(mask, has_mask, reverse, code, h0, U, Ug, states, gates, candidates,
                 d_states):
    n_steps, batch, dim = states.shape
    dtype = states.dtype
    masks = _mask_rows(mask, has_mask, n_steps, batch, states)
    U, Ug, h0 = np.ascontiguousarray(U), np.ascontiguousarray(Ug), np.ascontiguousarray(h0)
    d_x = np.empty((n_steps, batch, dim), dtype=dtype)
    d_gx = np.empty((n_steps, batch, 2 * dim), dtype=dtype)
    d_mask = np.empty((n_steps, batch), dtype=dtype)
    d_U = np.zeros((dim, dim), dtype=dtype)
    d_Ug = np.zeros((dim, 2 * dim), dtype=dtype)
    d_h = np.zeros((dim, batch), dtype=dtype)
    work = gru_backward_work(dim, batch, states)
    h, d_candidate, d_gate, _, reset_state, _ = work
    steps = _chunk_steps(batch)
    chunk_h = np.empty((dim, steps * batch), dtype=dtype)
    chunk_reset = np.empty((dim, steps * batch), dtype=dtype)
    chunk_candidate = np.empty((dim, steps * batch), dtype=dtype)
    chunk_gate = np.empty((2 * dim, steps * batch), dtype=dtype)
    k = 0
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        gru_step_backward(d_h, d_states[t], states[t - 1] if t > 0 else h0, gates[t],
                          candidates[t], masks[s], U, Ug, work, d_mask[s], d_x[s], d_gx[s])
        _store_columns(chunk_h, k, h)
        _store_columns(chunk_reset, k, reset_state)
        _store_columns(chunk_candidate, k, d_candidate)
        _store_columns(chunk_gate, k, d_gate)
        k += 1
        if k == steps or t == 0:
            _add_chunk_product(d_U, chunk_reset, chunk_candidate, k * batch)
            _add_chunk_product(d_Ug, chunk_h, chunk_gate, k * batch)
            k = 0
    return d_x, d_gx, _transposed(d_h), d_U, d_Ug, d_mask
