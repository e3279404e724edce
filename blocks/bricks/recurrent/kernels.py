"""Numba kernels of the fused recurrent ops: whole loops over time, forward and backward.

Arrays are time-major: ``x`` is ``(time, batch, features)``. Every kernel takes the same
four leading arguments: the mask ``(time, batch)`` (any array when ``has_mask`` is False),
``has_mask``, ``reverse`` and the activation ``code`` (see :data:`ACTIVATIONS`; only the
simple transition uses it, LSTM and GRU have tanh and logistic activations).

Every kernel processes the steps in order (or from the last to the first with
``reverse``) and writes its outputs in processing order, like :func:`pytensor.scan` with
``go_backwards``. A forward kernel also keeps what its backward kernel needs (the gate
values, the candidate values); a backward kernel computes the gradients of every input
exactly, the products of one step running through BLAS, and the weight gradients as one
matrix product over all steps after the loop.

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

# Allow reassociation and contraction, so that loops vectorize; keep NaN/inf semantics.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
JIT = {"cache": True, "fastmath": FASTMATH, "boundscheck": False, "error_model": "numpy"}

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


@numba.njit(**JIT)
def _tanh_float32(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    t = x * x
    numerator = ((((_P5 * t + _P4) * t + _P3) * t + _P2) * t + _P1) * t + _P0
    denominator = ((_Q3 * t + _Q2) * t + _Q1) * t + _Q0
    # Rounding can take the ratio one ulp past 1 near the clamp.
    return min(max(x * numerator / denominator, -_ONE), _ONE)


@overload(_tanh, jit_options={"fastmath": FASTMATH})
def _overload_tanh(x):
    if x == types.float32:
        return lambda x: _tanh_float32(x)
    return lambda x: math.tanh(x)


@overload(_sigmoid, jit_options={"fastmath": FASTMATH})
def _overload_sigmoid(x):
    if x == types.float32:
        return lambda x: _HALF + _HALF * _tanh_float32(_HALF * x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@numba.njit(**JIT)
def _activate(code, x):
    if code == 0:
        return _tanh(x)
    if code == 1:
        return _sigmoid(x)
    if code == 2:
        return x
    return max(x, 0 * x)


@numba.njit(**JIT)
def _derivative(code, y):
    """The activation's derivative, from its output `y`."""
    if code == 0:
        return 1 - y * y
    if code == 1:
        return y * (1 - y)
    if code == 2:
        return 1 + 0 * y
    return (y > 0) + 0 * y


# Row operations. The kernels below apply them to one example (a row) at a time: each
# loop touches few arrays, so that LLVM can check at run time that they do not overlap
# and vectorize it. `out` may be one of the other arguments.


@numba.njit(**JIT)
def _add(out, a):
    for j in range(out.shape[0]):
        out[j] += a[j]


@numba.njit(**JIT)
def _scale(out, factor):
    for j in range(out.shape[0]):
        out[j] *= factor


@numba.njit(**JIT)
def _multiply(out, a, b):
    for j in range(out.shape[0]):
        out[j] = a[j] * b[j]


@numba.njit(**JIT)
def _activate_sum(out, a, code):
    """out = f(out + a) for the activation `code`."""
    for j in range(out.shape[0]):
        out[j] = _activate(code, out[j] + a[j])


@numba.njit(**JIT)
def _sigmoid_sum(out, a):
    for j in range(out.shape[0]):
        out[j] = _sigmoid(out[j] + a[j])


@numba.njit(**JIT)
def _tanh_of(out, a):
    for j in range(out.shape[0]):
        out[j] = _tanh(a[j])


@numba.njit(**JIT)
def _sigmoid_peephole(out, cells, weights):
    """out = logistic(out + cells * weights)."""
    for j in range(out.shape[0]):
        out[j] = _sigmoid(out[j] + cells[j] * weights[j])


@numba.njit(**JIT)
def _keep(out, old, m):
    """out = m * out + (1 - m) * old: masked examples keep their previous value."""
    for j in range(out.shape[0]):
        out[j] = m * out[j] + (1 - m) * old[j]


@numba.njit(**JIT)
def _interpolate(out, z, new, old):
    """out = z * new + (1 - z) * old."""
    for j in range(out.shape[0]):
        out[j] = z[j] * new[j] + (1 - z[j]) * old[j]


@numba.njit(**JIT)
def _dot_difference(a, b, c):
    """sum(a * (b - c))."""
    total = 0 * a[0]
    for j in range(a.shape[0]):
        total += a[j] * (b[j] - c[j])
    return total


@numba.njit(**JIT)
def _source(t, n_steps, reverse):
    """The time index of the inputs read at processing step `t`."""
    return n_steps - 1 - t if reverse else t


@numba.njit(**JIT)
def _previous(sequence, t, initial):
    return sequence[t - 1] if t > 0 else initial


@numba.njit(**JIT)
def _mask_value(mask, has_mask, s, b, one):
    return mask[s, b] if has_mask else one


@numba.njit(**JIT)
def _add_product(target, a, b, buffer):
    """target += a @ b, the product through BLAS."""
    np.dot(a, b, buffer)
    for i in range(target.shape[0]):
        _add(target[i], buffer[i])


@numba.njit(**JIT)
def _weight_gradient(initial, states, deltas, out):
    """out = sum over t of previous_state[t].T @ deltas[t]: one product over all steps."""
    n_steps, batch, dim = states.shape
    width = deltas.shape[2]
    out[:] = 0
    if n_steps == 0:
        return
    np.dot(initial.T, deltas[0], out)
    if n_steps > 1:
        previous = states[:-1].reshape((n_steps - 1) * batch, dim)
        rest = deltas[1:].reshape((n_steps - 1) * batch, width)
        out += np.dot(previous.T, rest)


@numba.njit(**JIT)
def _in_processing_order(sequence, reverse):
    return sequence[::-1].copy() if reverse else sequence


@numba.njit(**JIT)
def _check_shapes(mask, has_mask, x, h0, W, multiple):
    """Refuse inputs that do not fit: x (time, batch, multiple * dim), h0 (batch, dim)..."""
    n_steps, batch, width = x.shape
    dim = h0.shape[1]
    if h0.shape[0] != batch:
        raise ValueError("fused recurrent loop: the initial states must have one row per "
                         "example of the batch (batch = second dimension of the sequences)")
    if width != multiple * dim:
        raise ValueError("fused recurrent loop: the last dimension of the inputs does not fit "
                         "the brick (dim for SimpleRecurrent and GatedRecurrent inputs, "
                         "2 * dim for gate_inputs, 4 * dim for LSTM inputs)")
    if W.shape[0] != dim:
        raise ValueError("fused recurrent loop: the recurrent weights must have dim rows")
    if has_mask and (mask.shape[0] != n_steps or mask.shape[1] != batch):
        raise ValueError("fused recurrent loop: the mask must be (time, batch), like the "
                         "first two dimensions of the sequences")


# Simple recurrent transition: h_t = f(x_t + h_{t-1} W)


@numba.njit(**JIT)
def simple_forward(mask, has_mask, reverse, code, x, h0, W):
    """Returns the states and the unmasked new states (for the backward pass)."""
    _check_shapes(mask, has_mask, x, h0, W, 1)
    n_steps, batch, dim = x.shape
    h0 = np.ascontiguousarray(h0)
    W = np.ascontiguousarray(W)
    states = np.empty((n_steps, batch, dim), dtype=x.dtype)
    new = np.empty((n_steps, batch, dim), dtype=x.dtype)
    one = x.dtype.type(1)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        previous = _previous(states, t, h0)
        np.dot(previous, W, new[t])
        for b in range(batch):
            _activate_sum(new[t, b], x[s, b], code)
            states[t, b] = new[t, b]
            _keep(states[t, b], previous[b], _mask_value(mask, has_mask, s, b, one))
    return states, new


@numba.njit(**JIT)
def _simple_delta(out, grad, new, m, code):
    for j in range(out.shape[0]):
        out[j] = m * grad[j] * _derivative(code, new[j])


@numba.njit(**JIT)
def simple_backward(mask, has_mask, reverse, code, h0, W, states, new, d_states):
    n_steps, batch, dim = states.shape
    h0 = np.ascontiguousarray(h0)
    W = np.ascontiguousarray(W)
    d_x = np.empty((n_steps, batch, dim), dtype=states.dtype)
    d_mask = np.zeros((n_steps, batch), dtype=states.dtype)
    d_h = np.zeros((batch, dim), dtype=states.dtype)
    buffer = np.empty((batch, dim), dtype=states.dtype)
    one = states.dtype.type(1)
    W_T = W.T
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        previous = _previous(states, t, h0)
        for b in range(batch):
            m = _mask_value(mask, has_mask, s, b, one)
            grad = d_h[b]
            _add(grad, d_states[t, b])
            d_mask[s, b] = _dot_difference(grad, new[t, b], previous[b])
            _simple_delta(d_x[s, b], grad, new[t, b], m, code)
            _scale(grad, 1 - m)
        _add_product(d_h, d_x[s], W_T, buffer)
    d_W = np.empty_like(W)
    _weight_gradient(h0, states, _in_processing_order(d_x, reverse), d_W)
    return d_x, d_h, d_W, d_mask


# LSTM with peepholes; inputs and gates ordered input gate, forget gate, cells, output gate.


@numba.njit(**JIT)
def _lstm_cells(out, i, f, candidate, c_prev):
    for j in range(out.shape[0]):
        out[j] = f[j] * c_prev[j] + i[j] * candidate[j]


@numba.njit(**JIT)
def lstm_forward(mask, has_mask, reverse, code, x, h0, c0, W, w_in, w_forget, w_out):
    """Returns states, cells, the four gate values and tanh of the new cells."""
    _check_shapes(mask, has_mask, x, h0, W, 4)
    _check_shapes(mask, has_mask, x, c0, W, 4)
    n_steps, batch, width = x.shape
    dim = width // 4
    if w_in.shape[0] != dim or w_forget.shape[0] != dim or w_out.shape[0] != dim:
        raise ValueError("fused recurrent loop: the peephole weights must have dim entries")
    h0 = np.ascontiguousarray(h0)
    c0 = np.ascontiguousarray(c0)
    W = np.ascontiguousarray(W)
    w_in = np.ascontiguousarray(w_in)
    w_forget = np.ascontiguousarray(w_forget)
    w_out = np.ascontiguousarray(w_out)
    states = np.empty((n_steps, batch, dim), dtype=x.dtype)
    cells = np.empty((n_steps, batch, dim), dtype=x.dtype)
    gates = np.empty((n_steps, batch, width), dtype=x.dtype)
    tanh_cells = np.empty((n_steps, batch, dim), dtype=x.dtype)
    one = x.dtype.type(1)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        h_prev = _previous(states, t, h0)
        c_prev = _previous(cells, t, c0)
        np.dot(h_prev, W, gates[t])
        for b in range(batch):
            m = _mask_value(mask, has_mask, s, b, one)
            g = gates[t, b]
            i, f = g[:dim], g[dim:2 * dim]
            candidate, o = g[2 * dim:3 * dim], g[3 * dim:]
            c, c_new = c_prev[b], cells[t, b]
            _add(g, x[s, b])
            _sigmoid_peephole(i, c, w_in)
            _sigmoid_peephole(f, c, w_forget)
            _tanh_of(candidate, candidate)
            _lstm_cells(c_new, i, f, candidate, c)
            _sigmoid_peephole(o, c_new, w_out)
            _tanh_of(tanh_cells[t, b], c_new)
            _multiply(states[t, b], o, tanh_cells[t, b])
            _keep(states[t, b], h_prev[b], m)
            _keep(c_new, c, m)
    return states, cells, gates, tanh_cells


@numba.njit(**JIT)
def _lstm_mask_gradient(grad_h, grad_c, g, tc, h_prev, c_prev, dim):
    """d cost / d mask of one example: grad_h . (h_new - h_prev) + grad_c . (c_new - c_prev)."""
    total = 0 * tc[0]
    for j in range(dim):
        c_new = g[dim + j] * c_prev[j] + g[j] * g[2 * dim + j]
        total += (grad_h[j] * (g[3 * dim + j] * tc[j] - h_prev[j])
                  + grad_c[j] * (c_new - c_prev[j]))
    return total


@numba.njit(**JIT)
def _lstm_output_delta(out, grad_h, o, tc, m):
    for j in range(out.shape[0]):
        out[j] = m * grad_h[j] * tc[j] * o[j] * (1 - o[j])


@numba.njit(**JIT)
def _lstm_cell_delta(out, grad_h, grad_c, o, tc, da_o, w_out, m):
    """d cost / d new cells, through the state, the output gate's peephole and the cells."""
    for j in range(out.shape[0]):
        out[j] = m * (grad_c[j] + grad_h[j] * o[j] * (1 - tc[j] * tc[j])) + da_o[j] * w_out[j]


@numba.njit(**JIT)
def _gate_delta(out, d_cells, other, gate):
    """out = d_cells * other * gate * (1 - gate): a logistic gate's pre-activation delta."""
    for j in range(out.shape[0]):
        out[j] = d_cells[j] * other[j] * gate[j] * (1 - gate[j])


@numba.njit(**JIT)
def _candidate_delta(out, d_cells, i, candidate):
    for j in range(out.shape[0]):
        out[j] = d_cells[j] * i[j] * (1 - candidate[j] * candidate[j])


@numba.njit(**JIT)
def _lstm_previous_cells(grad_c, d_cells, f, da_i, w_in, da_f, w_forget, m):
    """grad_c becomes d cost / d previous cells (without the next step's contribution)."""
    for j in range(grad_c.shape[0]):
        grad_c[j] = ((1 - m) * grad_c[j] + d_cells[j] * f[j] + da_i[j] * w_in[j]
                     + da_f[j] * w_forget[j])


@numba.njit(**JIT)
def _accumulate_product(out, a, b):
    for j in range(out.shape[0]):
        out[j] += a[j] * b[j]


@numba.njit(**JIT)
def lstm_backward(mask, has_mask, reverse, code, h0, c0, W, w_in, w_forget, w_out,
                  states, cells, gates, tanh_cells, d_states, d_cells):
    n_steps, batch, dim = states.shape
    width = 4 * dim
    dtype = states.dtype
    h0 = np.ascontiguousarray(h0)
    c0 = np.ascontiguousarray(c0)
    W = np.ascontiguousarray(W)
    w_in = np.ascontiguousarray(w_in)
    w_forget = np.ascontiguousarray(w_forget)
    w_out = np.ascontiguousarray(w_out)
    d_x = np.empty((n_steps, batch, width), dtype=dtype)
    d_mask = np.zeros((n_steps, batch), dtype=dtype)
    d_h = np.zeros((batch, dim), dtype=dtype)
    d_c = np.zeros((batch, dim), dtype=dtype)
    d_new_cells = np.empty(dim, dtype=dtype)
    new_cells = np.empty(dim, dtype=dtype)
    d_in = np.zeros(dim, dtype=dtype)
    d_forget = np.zeros(dim, dtype=dtype)
    d_out = np.zeros(dim, dtype=dtype)
    buffer = np.empty((batch, dim), dtype=dtype)
    one = dtype.type(1)
    W_T = W.T
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        h_prev = _previous(states, t, h0)
        c_prev = _previous(cells, t, c0)
        for b in range(batch):
            m = _mask_value(mask, has_mask, s, b, one)
            g, tc, c = gates[t, b], tanh_cells[t, b], c_prev[b]
            i, f = g[:dim], g[dim:2 * dim]
            candidate, o = g[2 * dim:3 * dim], g[3 * dim:]
            delta = d_x[s, b]
            da_i, da_f = delta[:dim], delta[dim:2 * dim]
            da_c, da_o = delta[2 * dim:3 * dim], delta[3 * dim:]
            grad_h, grad_c = d_h[b], d_c[b]
            _add(grad_h, d_states[t, b])
            _add(grad_c, d_cells[t, b])
            d_mask[s, b] = _lstm_mask_gradient(grad_h, grad_c, g, tc, h_prev[b], c, dim)
            _lstm_output_delta(da_o, grad_h, o, tc, m)
            _lstm_cell_delta(d_new_cells, grad_h, grad_c, o, tc, da_o, w_out, m)
            _gate_delta(da_i, d_new_cells, candidate, i)
            _gate_delta(da_f, d_new_cells, c, f)
            _candidate_delta(da_c, d_new_cells, i, candidate)
            _lstm_previous_cells(grad_c, d_new_cells, f, da_i, w_in, da_f, w_forget, m)
            _scale(grad_h, 1 - m)
            _accumulate_product(d_in, da_i, c)
            _accumulate_product(d_forget, da_f, c)
            _lstm_cells(new_cells, i, f, candidate, c)
            _accumulate_product(d_out, da_o, new_cells)
        _add_product(d_h, d_x[s], W_T, buffer)
    d_W = np.empty_like(W)
    _weight_gradient(h0, states, _in_processing_order(d_x, reverse), d_W)
    return d_x, d_h, d_c, d_W, d_in, d_forget, d_out, d_mask


# Gated recurrent unit; gate inputs ordered update gate, reset gate.


@numba.njit(**JIT)
def gru_forward(mask, has_mask, reverse, code, x, gx, h0, U, Ug):
    """Returns the states, the gate values and the candidate values."""
    _check_shapes(mask, has_mask, x, h0, U, 1)
    _check_shapes(mask, has_mask, gx, h0, Ug, 2)
    n_steps, batch, dim = x.shape
    h0 = np.ascontiguousarray(h0)
    U = np.ascontiguousarray(U)
    Ug = np.ascontiguousarray(Ug)
    states = np.empty((n_steps, batch, dim), dtype=x.dtype)
    gates = np.empty((n_steps, batch, 2 * dim), dtype=x.dtype)
    candidates = np.empty((n_steps, batch, dim), dtype=x.dtype)
    reset_states = np.empty((batch, dim), dtype=x.dtype)
    one = x.dtype.type(1)
    for t in range(n_steps):
        s = _source(t, n_steps, reverse)
        previous = _previous(states, t, h0)
        np.dot(previous, Ug, gates[t])
        for b in range(batch):
            _sigmoid_sum(gates[t, b], gx[s, b])
            _multiply(reset_states[b], previous[b], gates[t, b, dim:])
        np.dot(reset_states, U, candidates[t])
        for b in range(batch):
            _activate_sum(candidates[t, b], x[s, b], 0)
            _interpolate(states[t, b], gates[t, b, :dim], candidates[t, b], previous[b])
            _keep(states[t, b], previous[b], _mask_value(mask, has_mask, s, b, one))
    return states, gates, candidates


@numba.njit(**JIT)
def _gru_update_delta(out, grad, z, candidate, h, m):
    for j in range(out.shape[0]):
        out[j] = m * grad[j] * (candidate[j] - h[j]) * z[j] * (1 - z[j])


@numba.njit(**JIT)
def _gru_candidate_delta(out, grad, z, candidate, m):
    for j in range(out.shape[0]):
        out[j] = m * grad[j] * z[j] * (1 - candidate[j] * candidate[j])


@numba.njit(**JIT)
def _gru_previous_state(grad, z, m):
    """grad becomes d cost / d previous state through the interpolation and the mask."""
    for j in range(grad.shape[0]):
        grad[j] = grad[j] * ((1 - m) + m * (1 - z[j]))


@numba.njit(**JIT)
def _gru_mask_gradient(grad, z, candidate, h):
    total = 0 * grad[0]
    for j in range(grad.shape[0]):
        total += grad[j] * z[j] * (candidate[j] - h[j])
    return total


@numba.njit(**JIT)
def gru_backward(mask, has_mask, reverse, code, h0, U, Ug, states, gates, candidates,
                 d_states):
    n_steps, batch, dim = states.shape
    dtype = states.dtype
    h0 = np.ascontiguousarray(h0)
    U = np.ascontiguousarray(U)
    Ug = np.ascontiguousarray(Ug)
    d_x = np.empty((n_steps, batch, dim), dtype=dtype)
    d_gx = np.empty((n_steps, batch, 2 * dim), dtype=dtype)
    d_mask = np.zeros((n_steps, batch), dtype=dtype)
    d_h = np.zeros((batch, dim), dtype=dtype)
    d_reset = np.empty((batch, dim), dtype=dtype)
    buffer = np.empty((batch, dim), dtype=dtype)
    reset_states = np.empty((n_steps, batch, dim), dtype=dtype)
    one = dtype.type(1)
    U_T = U.T
    Ug_T = Ug.T
    for t in range(n_steps - 1, -1, -1):
        s = _source(t, n_steps, reverse)
        previous = _previous(states, t, h0)
        for b in range(batch):
            m = _mask_value(mask, has_mask, s, b, one)
            grad, z, r = d_h[b], gates[t, b, :dim], gates[t, b, dim:]
            candidate, h = candidates[t, b], previous[b]
            _add(grad, d_states[t, b])
            # The state moved by z * (candidate - h) where the mask is 1.
            d_mask[s, b] = _gru_mask_gradient(grad, z, candidate, h)
            _gru_update_delta(d_gx[s, b, :dim], grad, z, candidate, h, m)
            _gru_candidate_delta(d_x[s, b], grad, z, candidate, m)
            _gru_previous_state(grad, z, m)
        np.dot(d_x[s], U_T, d_reset)
        for b in range(batch):
            r, h = gates[t, b, dim:], previous[b]
            _gate_delta(d_gx[s, b, dim:], d_reset[b], h, r)
            _accumulate_product(d_h[b], d_reset[b], r)
            _multiply(reset_states[t, b], h, r)
        _add_product(d_h, d_gx[s], Ug_T, buffer)
    d_U = np.empty_like(U)
    d_Ug = np.empty_like(Ug)
    d_x_ordered = _in_processing_order(d_x, reverse)
    if n_steps > 0:
        flat = reset_states.reshape(n_steps * batch, dim)
        np.dot(flat.T, d_x_ordered.reshape(n_steps * batch, dim), d_U)
    else:
        d_U[:] = 0
    _weight_gradient(h0, states, _in_processing_order(d_gx, reverse), d_Ug)
    return d_x, d_gx, d_h, d_U, d_Ug, d_mask
