"""Plain numpy loops that the recurrent bricks are checked against (time-major arrays)."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _keep(mask, t, new, old):
    if mask is None:
        return new
    m = mask[t][:, None]
    return m * new + (1 - m) * old


def _time_order(n_steps, reverse):
    return range(n_steps - 1, -1, -1) if reverse else range(n_steps)


def simple_loop(x, h0, W, mask=None, reverse=False, activation=np.tanh):
    """States of h_t = f(x_t + h_{t-1} W), in processing order."""
    h, out = h0, []
    for t in _time_order(len(x), reverse):
        h = _keep(mask, t, activation(x[t] + h @ W), h)
        out.append(h)
    return np.array(out)


def lstm_loop(x, h0, c0, W, w_in, w_forget, w_out, mask=None, reverse=False):
    """(states, cells) of the peephole LSTM; gates ordered in, forget, cell, out."""
    d = h0.shape[1]
    h, c, hs, cs = h0, c0, [], []
    for t in _time_order(len(x), reverse):
        a = x[t] + h @ W
        i = sigmoid(a[:, :d] + c * w_in)
        f = sigmoid(a[:, d:2 * d] + c * w_forget)
        c_new = f * c + i * np.tanh(a[:, 2 * d:3 * d])
        o = sigmoid(a[:, 3 * d:] + c_new * w_out)
        h_new = o * np.tanh(c_new)
        h, c = _keep(mask, t, h_new, h), _keep(mask, t, c_new, c)
        hs.append(h)
        cs.append(c)
    return np.array(hs), np.array(cs)


def gru_loop(x, gx, h0, U, Ug, mask=None, reverse=False):
    """States of the gated recurrent unit; gate inputs ordered update, reset."""
    d = h0.shape[1]
    h, out = h0, []
    for t in _time_order(len(x), reverse):
        g = sigmoid(gx[t] + h @ Ug)
        z, r = g[:, :d], g[:, d:]
        candidate = np.tanh(x[t] + (h * r) @ U)
        h = _keep(mask, t, z * candidate + (1 - z) * h, h)
        out.append(h)
    return np.array(out)
