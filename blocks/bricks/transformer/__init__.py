"""Transformer bricks: multi-head attention, positional embeddings, encoder and decoder
layers and stacks, and a cached decoder usable as a sequence generator's transition.

Sequences are time-major, ``(time, batch, dim)``, with ``(time, batch)`` masks, as
everywhere in Blocks.
"""

from blocks.bricks.transformer.attention import (
    MultiHeadAttention,
    apply_attention_dropout,
    masked_softmax,
)
from blocks.bricks.transformer.decoding import TransformerTransition
from blocks.bricks.transformer.layers import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from blocks.bricks.transformer.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEmbedding,
)

__all__ = [
    "MultiHeadAttention", "apply_attention_dropout", "masked_softmax",
    "SinusoidalPositionalEmbedding", "LearnedPositionalEmbedding",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "TransformerTransition",
]
