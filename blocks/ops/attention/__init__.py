"""The fused attention decoder: a GRU attending to a sequence as one node."""
