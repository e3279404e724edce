"""Bricks: the building blocks of models."""

from blocks.bricks.activations import GELU, SiLU
from blocks.bricks.base import (
    Application,
    ApplicationCall,
    BoundApplication,
    Brick,
    application,
    lazy,
)
from blocks.bricks.bn import BatchNormalization, BatchNormalizedMLP, SpatialBatchNormalization
from blocks.bricks.interfaces import (
    Activation,
    Feedforward,
    Initializable,
    LinearLike,
    Random,
    RNGMixin,
)
from blocks.bricks.normalization import LayerNormalization, RMSNormalization
from blocks.bricks.sequences import MLP, FeedforwardSequence, Sequence
from blocks.bricks.simple import (
    Bias,
    Identity,
    LeakyRectifier,
    Linear,
    LinearMaxout,
    Logistic,
    Maxout,
    NDimensionalSoftmax,
    Rectifier,
    Softmax,
    Softplus,
    Tanh,
)
from blocks.bricks.transformer import (
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEmbedding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    TransformerTransition,
)
from blocks.bricks.wrappers import WithExtraDims

__all__ = [
    "Application", "ApplicationCall", "BoundApplication", "Brick", "application", "lazy",
    "Activation", "Feedforward", "Initializable", "LinearLike", "Random", "RNGMixin",
    "MLP", "FeedforwardSequence", "Sequence",
    "Identity", "LeakyRectifier", "Linear", "Logistic", "Rectifier", "Softplus", "Tanh",
    "Bias", "Maxout", "LinearMaxout", "Softmax", "NDimensionalSoftmax", "WithExtraDims",
    "BatchNormalization", "SpatialBatchNormalization", "BatchNormalizedMLP",
    "GELU", "SiLU", "LayerNormalization", "RMSNormalization",
    "MultiHeadAttention", "SinusoidalPositionalEmbedding", "LearnedPositionalEmbedding",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "TransformerTransition",
]
