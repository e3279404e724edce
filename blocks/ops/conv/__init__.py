"""Convolution as im2col plus one matrix product, with exact gradients."""
