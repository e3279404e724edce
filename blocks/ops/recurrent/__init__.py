"""Fused recurrences: the whole loop of a standard transition as one node."""
