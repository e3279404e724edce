"""Pooling and its exact gradients."""
