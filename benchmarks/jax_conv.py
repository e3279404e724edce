"""How a convolution runs fastest under JAX: ``Im2Col`` plus a product, or XLA's own.

Times, in JAX alone, LeNet's two convolutions (batch 128, float32) forward and forward
with their gradients (filters, and the image for the second layer, as in a training
step) computed two ways: our ``Im2Col`` JAX implementation followed by one matrix
product (what a graph of :func:`blocks.ops.conv.op.conv2d` compiles to), and
``jax.lax.conv_general_dilated`` (what a rewrite to XLA's convolution would give).

Run ``python -m benchmarks.jax_conv`` (``JAX_PLATFORMS=cuda`` on a GPU).
"""

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from blocks.ops.conv.jax import im2col
from blocks.ops.conv.op import Im2Col

# batch, channels, image rows (= columns), filters, filter rows (= columns)
LAYERS = ((128, 1, 28, 20, 5), (128, 20, 12, 50, 5))


def _median_ms(function, *args, repeats=30):
    jax.block_until_ready(function(*args))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def _convolutions(batch, filters, kernel, out):
    op = Im2Col((kernel, kernel))

    def via_im2col(x, w):
        product = w.reshape(filters, -1) @ im2col(op, x)
        return product.reshape(filters, batch, out, out).transpose(1, 0, 2, 3)

    def via_xla(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    return {"im2col + dot": via_im2col, "conv_general_dilated": via_xla}


def main():
    rng = np.random.default_rng(0)
    print(f"JAX {jax.__version__} on {jax.devices()[0]}")
    for index, (batch, channels, size, filters, kernel) in enumerate(LAYERS):
        x = jnp.asarray(rng.standard_normal((batch, channels, size, size)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((filters, channels, kernel, kernel)),
                        jnp.float32)
        # The first layer's input needs no gradient in a training step.
        wrt = (1,) if index == 0 else (0, 1)
        results = {}
        for name, conv in _convolutions(batch, filters, kernel, size - kernel + 1).items():
            results[name] = conv(x, w)
            gradient = jax.grad(lambda x, w, conv=conv: (conv(x, w) ** 2).sum(), argnums=wrt)
            print(f"layer {index + 1} {name:<21} forward "
                  f"{_median_ms(jax.jit(conv), x, w):7.2f} ms, with gradients "
                  f"{_median_ms(jax.jit(gradient), x, w):7.2f} ms")
        first, second = results.values()
        np.testing.assert_allclose(first, second, rtol=1e-3, atol=1e-3)


if __name__ == "__main__":
    main()
