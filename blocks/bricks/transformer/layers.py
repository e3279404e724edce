"""Transformer layers and stacks over time-major sequences ``(time, batch, dim)``."""

import copy

from blocks.bricks.activations import GELU
from blocks.bricks.base import Brick, application, describe, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.normalization import LayerNormalization
from blocks.bricks.sequences import MLP
from blocks.bricks.simple import Rectifier
from blocks.bricks.transformer.attention import MultiHeadAttention
from blocks.bricks.validation import (
    BOOLEAN,
    NON_NEGATIVE_NUMBER,
    POSITIVE_INTEGER,
    PROBABILITY_BELOW_ONE,
    ArgumentCheck,
    check_argument,
)

__all__ = [
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder",
]

_ACTIVATIONS = {"gelu": GELU, "relu": Rectifier}
ACTIVATION = ArgumentCheck("'gelu', 'relu' or an activation brick",
                           lambda value: isinstance(value, (str, Brick)),
                           lambda value: isinstance(value, Brick) or value in _ACTIVATIONS)
#: What the layers and the stacks check; the stacks pass the last four on to their layers.
_LAYER_CHECKS = {
    "dim": POSITIVE_INTEGER, "num_heads": POSITIVE_INTEGER,
    "feedforward_dim": POSITIVE_INTEGER, "activation": ACTIVATION, "norm_first": BOOLEAN,
    "epsilon": NON_NEGATIVE_NUMBER, "attention_dropout": PROBABILITY_BELOW_ONE,
}


def _check_layer_arguments(brick, **arguments):
    """Refuse wrong constructor arguments naming `brick`, before its children get them."""
    for name, value in arguments.items():
        check_argument(brick, name, value)


def _make_activation(activation):
    """A new activation brick from a name ('gelu', 'relu') or a copy of a prototype."""
    if isinstance(activation, Brick):
        return copy.deepcopy(activation)
    return _ACTIVATIONS[activation]()


class _TransformerLayer(Initializable):
    """What encoder and decoder layers share: attentions, a feed-forward network, their
    layer normalizations and the residual connections around them."""

    _attention_names = ()
    argument_checks = _LAYER_CHECKS

    def __init__(self, dim, num_heads, feedforward_dim, activation="gelu", norm_first=True,
                 epsilon=1e-5, attention_dropout=0, **kwargs):
        super().__init__(**kwargs)
        _check_layer_arguments(self, activation=activation, norm_first=norm_first,
                               epsilon=epsilon, attention_dropout=attention_dropout)
        children = []
        for name in self._attention_names:
            attention = MultiHeadAttention(dropout=attention_dropout, name=name)
            norm = LayerNormalization(epsilon=epsilon, name=f"{name}_norm")
            setattr(self, name, attention)
            setattr(self, f"{name}_norm", norm)
            children += [attention, norm]
        self.feedforward = MLP([_make_activation(activation), None], name="feedforward")
        self.feedforward_norm = LayerNormalization(epsilon=epsilon, name="feedforward_norm")
        self.children = children + [self.feedforward, self.feedforward_norm] + list(
            self.children)
        self.dim = dim
        self.num_heads = num_heads
        self.feedforward_dim = feedforward_dim
        self.norm_first = norm_first

    def _push_allocation_config(self):
        for name in self._attention_names:
            attention = getattr(self, name)
            attention.dim, attention.num_heads = self.dim, self.num_heads
            getattr(self, f"{name}_norm").dim = self.dim
        self.feedforward.dims = [self.dim, self.feedforward_dim, self.dim]
        self.feedforward_norm.dim = self.dim
        super()._push_allocation_config()

    def _residual(self, inputs, norm, sublayer):
        """``inputs + sublayer(norm(inputs))`` (norm first) or ``norm(inputs +
        sublayer(inputs))``; `sublayer` may return more than its output (e.g. caches),
        which are passed on after the result."""
        results = sublayer(norm.apply(inputs) if self.norm_first else inputs)
        output, *others = results if isinstance(results, (list, tuple)) else [results]
        output = inputs + output
        if not self.norm_first:
            output = norm.apply(output)
        return (output, *others) if others else output

    def _feedforward(self, inputs):
        return self._residual(inputs, self.feedforward_norm, self.feedforward.apply)

    def get_dim(self, name):
        if name in ("inputs", "output", "attended"):
            return self.dim
        return super().get_dim(name)


class TransformerEncoderLayer(_TransformerLayer):
    """A Transformer encoder layer ([VSP17]_): self-attention, then a feed-forward network.

    Each of the two is wrapped in a residual connection with a layer normalization,
    before it (``norm_first=True``, the default: "pre-norm") or after the sum
    (``norm_first=False``, the original "post-norm" layer).

    Parameters
    ----------
    dim : int
        The dimension of the sequence elements. Required by :meth:`allocate`.
    num_heads : int
        The number of attention heads. Required by :meth:`allocate`.
    feedforward_dim : int
        The hidden dimension of the feed-forward network. Required by :meth:`allocate`.
    activation : {'gelu', 'relu'} or Brick, optional
        The activation of the feed-forward network (a brick is copied); 'gelu' by default.
    norm_first : bool, optional
        True by default.
    epsilon : float, optional
        The epsilon of the layer normalizations; 1e-5 by default.
    attention_dropout : float, optional
        The ``dropout`` of the attention (see
        :func:`~blocks.bricks.transformer.apply_attention_dropout`).

    Notes
    -----
    The children are ``self_attention`` (:class:`MultiHeadAttention`),
    ``feedforward`` (an :class:`~blocks.bricks.MLP` ``dim -> feedforward_dim -> dim``) and
    their normalizations ``self_attention_norm`` and ``feedforward_norm``. See
    :class:`~blocks.bricks.Initializable` for the initialization parameters.

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> layer = TransformerEncoderLayer(dim=4, num_heads=2, feedforward_dim=8,
    ...                                 weights_init=IsotropicGaussian(0.3),
    ...                                 biases_init=Constant(0))
    >>> layer.initialize()
    >>> x = pytensor.tensor.tensor3('x')
    >>> layer.apply(x).eval({x: np.ones((3, 2, 4))}).shape
    (3, 2, 4)
    """

    _attention_names = ("self_attention",)

    @lazy(allocation=["dim", "num_heads", "feedforward_dim"])
    def __init__(self, dim, num_heads, feedforward_dim, **kwargs):
        super().__init__(dim, num_heads, feedforward_dim, **kwargs)

    @application(inputs=["inputs", "mask"], outputs=["output"])
    def apply(self, inputs, mask=None, causal=False):
        """Encode `inputs` ``(time, batch, dim)``; `mask` ``(time, batch)`` marks the valid
        steps (the others are not attended to). Returns ``(time, batch, dim)``."""
        hidden = self._residual(
            inputs, self.self_attention_norm,
            lambda x: self.self_attention.apply(x, x, x, mask=mask, causal=causal))
        return self._feedforward(hidden)


class TransformerDecoderLayer(_TransformerLayer):
    """A Transformer decoder layer ([VSP17]_): causal self-attention, attention to an
    encoded sequence (the attended), then a feed-forward network.

    Parameters
    ----------
    dim, num_heads, feedforward_dim, activation, norm_first, epsilon, attention_dropout
        As for :class:`TransformerEncoderLayer`.

    Notes
    -----
    The children are those of an encoder layer plus ``cross_attention`` and
    ``cross_attention_norm``. :meth:`apply` decodes whole sequences; :meth:`apply_cached`
    decodes new steps given a cache of the self-attention's keys and values, as a
    generator does step by step (see
    :class:`~blocks.bricks.transformer.TransformerTransition`).

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> layer = TransformerDecoderLayer(dim=4, num_heads=2, feedforward_dim=8,
    ...                                 weights_init=IsotropicGaussian(0.3),
    ...                                 biases_init=Constant(0))
    >>> layer.initialize()
    >>> x, attended = pytensor.tensor.tensor3('x'), pytensor.tensor.tensor3('attended')
    >>> layer.apply(x, attended).eval({x: np.ones((3, 2, 4)),
    ...                                attended: np.ones((5, 2, 4))}).shape
    (3, 2, 4)
    """

    _attention_names = ("self_attention", "cross_attention")

    @lazy(allocation=["dim", "num_heads", "feedforward_dim"])
    def __init__(self, dim, num_heads, feedforward_dim, **kwargs):
        super().__init__(dim, num_heads, feedforward_dim, **kwargs)

    def _attend_and_feedforward(self, hidden, attended, attended_mask):
        hidden = self._residual(
            hidden, self.cross_attention_norm,
            lambda x: self.cross_attention.apply(x, attended, attended, mask=attended_mask))
        return self._feedforward(hidden)

    @application(inputs=["inputs", "attended", "mask", "attended_mask"], outputs=["output"])
    def apply(self, inputs, attended, mask=None, attended_mask=None):
        """Decode `inputs` ``(time, batch, dim)`` attending to `attended` ``(attended
        time, batch, dim)``.

        The self-attention is causal: the output at time ``t`` depends on the inputs up
        to ``t`` only. `mask` ``(time, batch)`` and `attended_mask` ``(attended time,
        batch)`` mark the valid steps of each sequence.
        """
        hidden = self._residual(
            inputs, self.self_attention_norm,
            lambda x: self.self_attention.apply(x, x, x, mask=mask, causal=True))
        return self._attend_and_feedforward(hidden, attended, attended_mask)

    @application(inputs=["inputs", "key_cache", "value_cache", "position", "attended",
                         "attended_mask"],
                 outputs=["output", "key_cache", "value_cache"])
    def apply_cached(self, inputs, key_cache, value_cache, position, attended,
                     attended_mask=None):
        """Decode new steps at positions ``position, position + 1, ...`` with the
        self-attention's keys and values of the earlier positions in the caches.

        See :meth:`MultiHeadAttention.apply_cached` for the caches. Returns the output
        ``(time, batch, dim)`` and the updated caches.
        """
        hidden, key_cache, value_cache = self._residual(
            inputs, self.self_attention_norm,
            lambda x: self.self_attention.apply_cached(x, key_cache, value_cache, position))
        output = self._attend_and_feedforward(hidden, attended, attended_mask)
        return output, key_cache, value_cache


class _TransformerStack(Initializable):
    """Layers applied one after the other, with an optional positional embedding first and
    a final layer normalization after pre-norm layers."""

    _layer_class = None
    argument_checks = dict(_LAYER_CHECKS, num_layers=POSITIVE_INTEGER)

    def __init__(self, num_layers, dim, num_heads, feedforward_dim, positional_embedding=None,
                 activation="gelu", norm_first=True, epsilon=1e-5, attention_dropout=0,
                 **kwargs):
        super().__init__(**kwargs)
        _check_layer_arguments(self, num_layers=num_layers, activation=activation,
                               norm_first=norm_first, epsilon=epsilon,
                               attention_dropout=attention_dropout)
        self.layers = [
            self._layer_class(activation=activation, norm_first=norm_first, epsilon=epsilon,
                              attention_dropout=attention_dropout, name=f"layer_{i}")
            for i in range(num_layers)]
        children = list(self.layers)
        # Pre-norm layers leave their sum unnormalized: the stack normalizes it once.
        self.final_norm = None
        if norm_first:
            self.final_norm = LayerNormalization(epsilon=epsilon, name="final_norm")
            children.append(self.final_norm)
        self.positional_embedding = positional_embedding
        if positional_embedding is not None:
            children.insert(0, positional_embedding)
        self.children = children + list(self.children)
        self.num_layers = num_layers
        self.dim = dim
        self.num_heads = num_heads
        self.feedforward_dim = feedforward_dim
        self.norm_first = norm_first

    def _push_allocation_config(self):
        for layer in self.layers:
            layer.dim, layer.num_heads = self.dim, self.num_heads
            layer.feedforward_dim = self.feedforward_dim
        if self.final_norm is not None:
            self.final_norm.dim = self.dim
        if self.positional_embedding is not None:
            self.positional_embedding.dim = self.dim
        super()._push_allocation_config()

    def _embed(self, inputs, offset=0):
        if self.positional_embedding is None:
            return inputs
        return self.positional_embedding.apply(inputs, offset=offset)

    def _finish(self, hidden):
        return hidden if self.final_norm is None else self.final_norm.apply(hidden)

    def get_dim(self, name):
        if name in ("inputs", "output", "attended"):
            return self.dim
        return super().get_dim(name)


class TransformerEncoder(_TransformerStack):
    """A stack of :class:`TransformerEncoderLayer`.

    Parameters
    ----------
    num_layers : int
        The number of layers, named ``layer_0``, ``layer_1``...
    dim, num_heads, feedforward_dim : int
        Pushed to every layer. Required by :meth:`allocate`.
    positional_embedding : Brick, optional
        E.g. :class:`~blocks.bricks.transformer.SinusoidalPositionalEmbedding`, added to
        the inputs first (its ``dim`` is pushed).
    activation, norm_first, epsilon, attention_dropout
        Given to every layer (see :class:`TransformerEncoderLayer`). With ``norm_first``
        a final :class:`~blocks.bricks.LayerNormalization` (``final_norm``) normalizes
        the output of the last layer.

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> encoder = TransformerEncoder(2, dim=4, num_heads=2, feedforward_dim=8,
    ...                              weights_init=IsotropicGaussian(0.3),
    ...                              biases_init=Constant(0))
    >>> encoder.initialize()
    >>> [child.name for child in encoder.children]
    ['layer_0', 'layer_1', 'final_norm']
    >>> x = pytensor.tensor.tensor3('x')
    >>> encoder.apply(x).eval({x: np.ones((3, 2, 4))}).shape
    (3, 2, 4)
    """

    _layer_class = TransformerEncoderLayer

    @lazy(allocation=["dim", "num_heads", "feedforward_dim"])
    def __init__(self, num_layers, dim, num_heads, feedforward_dim, **kwargs):
        super().__init__(num_layers, dim, num_heads, feedforward_dim, **kwargs)

    @application(inputs=["inputs", "mask"], outputs=["output"])
    def apply(self, inputs, mask=None, causal=False):
        """Encode `inputs` ``(time, batch, dim)`` (see
        :meth:`TransformerEncoderLayer.apply`)."""
        hidden = self._embed(inputs)
        for layer in self.layers:
            hidden = layer.apply(hidden, mask=mask, causal=causal)
        return self._finish(hidden)


class TransformerDecoder(_TransformerStack):
    """A stack of :class:`TransformerDecoderLayer`.

    Parameters are those of :class:`TransformerEncoder`.

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> decoder = TransformerDecoder(2, dim=4, num_heads=2, feedforward_dim=8,
    ...                              weights_init=IsotropicGaussian(0.3),
    ...                              biases_init=Constant(0))
    >>> decoder.initialize()
    >>> x, attended = pytensor.tensor.tensor3('x'), pytensor.tensor.tensor3('attended')
    >>> decoder.apply(x, attended).eval({x: np.ones((3, 2, 4)),
    ...                                  attended: np.ones((5, 2, 4))}).shape
    (3, 2, 4)
    """

    _layer_class = TransformerDecoderLayer

    @lazy(allocation=["dim", "num_heads", "feedforward_dim"])
    def __init__(self, num_layers, dim, num_heads, feedforward_dim, **kwargs):
        super().__init__(num_layers, dim, num_heads, feedforward_dim, **kwargs)

    @application(inputs=["inputs", "attended", "mask", "attended_mask"], outputs=["output"])
    def apply(self, inputs, attended, mask=None, attended_mask=None):
        """Decode whole sequences (see :meth:`TransformerDecoderLayer.apply`)."""
        hidden = self._embed(inputs)
        for layer in self.layers:
            hidden = layer.apply(hidden, attended, mask=mask, attended_mask=attended_mask)
        return self._finish(hidden)

    @application
    def apply_cached(self, inputs, position, attended, attended_mask=None, **caches):
        """Decode new steps from position `position` on, with a cache per layer.

        `caches` holds ``key_cache_{i}`` and ``value_cache_{i}`` for every layer ``i``
        (see :meth:`MultiHeadAttention.apply_cached`). Returns the output ``(time, batch,
        dim)`` followed by the updated caches, in the order of :attr:`cache_names`.
        """
        missing = [name for name in self.cache_names if name not in caches]
        if missing or len(caches) != len(self.cache_names):
            raise ValueError(
                f"{describe(self)}: apply_cached() expects the caches {self.cache_names}, "
                f"got {sorted(caches)}"
            )
        hidden = self._embed(inputs, offset=position)
        updated = []
        for i, layer in enumerate(self.layers):
            hidden, key_cache, value_cache = layer.apply_cached(
                hidden, caches[f"key_cache_{i}"], caches[f"value_cache_{i}"], position,
                attended, attended_mask)
            updated += [key_cache, value_cache]
        return [self._finish(hidden)] + updated

    @apply_cached.property("inputs")
    def apply_cached_inputs(self):
        return ["inputs", "position", "attended", "attended_mask"] + self.cache_names

    @apply_cached.property("outputs")
    def apply_cached_outputs(self):
        return ["output"] + self.cache_names

    @property
    def cache_names(self):
        """``key_cache_0, value_cache_0, key_cache_1, ...``: one pair per layer."""
        return [f"{kind}_cache_{i}" for i in range(self.num_layers)
                for kind in ("key", "value")]
