"""Plain numpy implementations of the Transformer bricks, for the tests to compare with."""

import numpy as np
from pytensor.graph.replace import clone_replace
from scipy.special import erf


def parameters(brick):
    """The parameters of `brick` and of its descendants, children first."""
    return [p for child in brick.children for p in parameters(child)] + list(brick.parameters)


def function_of_parameters(brick, build):
    """``f(*inputs, *parameters)``: `build`'s graph with the brick's parameters as inputs,
    for verify_grad."""
    shared = parameters(brick)

    def function(*inputs):
        count = len(inputs) - len(shared)
        return clone_replace(build(*inputs[:count]), dict(zip(shared, inputs[count:])))
    return function


def linear(brick, x):
    return x @ brick.W.get_value() + (brick.b.get_value() if brick.use_bias else 0)


def attention(brick, queries, keys, values, mask=None, causal=False):
    """Output (Tq, B, dim) and weights (B, heads, Tq, Tk) of a MultiHeadAttention."""
    heads, size = brick.num_heads, brick.head_dim
    q, k, v = (linear(transformer, x) for transformer, x in (
        (brick.query_transformer, queries), (brick.key_transformer, keys),
        (brick.value_transformer, values)))
    (tq, batch, _), tk = q.shape, k.shape[0]
    weights = np.zeros((batch, heads, tq, tk))
    merged = np.zeros((tq, batch, heads * size))
    for b in range(batch):
        for h in range(heads):
            part = slice(h * size, (h + 1) * size)
            energies = q[:, b, part] @ k[:, b, part].T / np.sqrt(size)
            valid = np.ones((tq, tk), dtype=bool)
            if mask is not None:
                valid &= mask[:, b][None, :] > 0
            if causal:
                valid &= np.arange(tk)[None, :] <= np.arange(tq)[:, None]
            for i in range(tq):
                if valid[i].any():
                    e = np.exp(energies[i][valid[i]] - energies[i][valid[i]].max())
                    weights[b, h, i, valid[i]] = e / e.sum()
            merged[:, b, part] = weights[b, h] @ v[:, b, part]
    return linear(brick.output_transformer, merged), weights


def layer_norm(brick, x):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(variance + brick.epsilon) * brick.scale.get_value()
            + brick.shift.get_value())


def gelu(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def relu(x):
    return np.maximum(x, 0)


def feedforward(mlp, x, activation=gelu):
    first, second = mlp.linear_transformations
    return linear(second, activation(linear(first, x)))


def residual(layer, x, norm, sublayer):
    if layer.norm_first:
        return x + sublayer(layer_norm(norm, x))
    return layer_norm(norm, x + sublayer(x))


def encoder_layer(layer, x, mask=None, activation=gelu):
    x = residual(layer, x, layer.self_attention_norm,
                 lambda y: attention(layer.self_attention, y, y, y, mask)[0])
    return residual(layer, x, layer.feedforward_norm,
                    lambda y: feedforward(layer.feedforward, y, activation))


def decoder_layer(layer, x, attended, attended_mask=None):
    x = residual(layer, x, layer.self_attention_norm,
                 lambda y: attention(layer.self_attention, y, y, y, causal=True)[0])
    x = residual(layer, x, layer.cross_attention_norm,
                 lambda y: attention(layer.cross_attention, y, attended, attended,
                                     attended_mask)[0])
    return residual(layer, x, layer.feedforward_norm,
                    lambda y: feedforward(layer.feedforward, y))


def sinusoids(length, dim, first=0, base=10000.0):
    table = np.zeros((length, dim))
    for p in range(length):
        for i in range(dim):
            angle = (first + p) / base ** (2 * (i // 2) / dim)
            table[p, i] = np.sin(angle) if i % 2 == 0 else np.cos(angle)
    return table
