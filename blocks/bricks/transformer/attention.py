"""Multi-head scaled dot-product attention over time-major sequences."""

import warnings

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from blocks.bricks.base import NoneAllocation, application, describe, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.simple import Linear, check_last_dim, match_shape
from blocks.bricks.validation import POSITIVE_INTEGER, PROBABILITY_BELOW_ONE

__all__ = ["MultiHeadAttention", "masked_softmax", "apply_attention_dropout"]


def check_time_major(brick, argument, variable, dim):
    """Refuse `variable` unless it is a symbolic ``(time, batch, dim)`` sequence."""
    if not isinstance(variable, Variable) or variable.ndim != 3:
        raise ValueError(
            f"{describe(brick)}: argument {argument!r}: expected a time-major sequence "
            f"(time, batch, {dim}), found ndim={getattr(variable, 'ndim', None)}"
        )
    check_last_dim(brick, argument, variable, dim)


def masked_softmax(energies, valid=None):
    """The softmax of `energies` over the last axis, restricted to where `valid` is true.

    Invalid entries get weight zero; a row without any valid entry gets zeros (not the
    NaN of a softmax over nothing), and so does its gradient.

    Parameters
    ----------
    energies : TensorVariable
    valid : TensorVariable of bool, optional
        Broadcastable to `energies`.

    Examples
    --------
    >>> e = pt.matrix('e')
    >>> valid = np.array([[True, True], [False, False]])
    >>> masked_softmax(e, valid).eval({e: [[0., np.log(3)], [1., 2.]]}).tolist()
    [[0.25, 0.75], [0.0, 0.0]]
    """
    if valid is None:
        return pt.special.softmax(energies, axis=-1)
    # A large finite stand-in for minus infinity: exp() of it is 0 and, unlike -inf, a
    # row of nothing but it does not make (x - max) NaN.
    lowest = np.asarray(np.finfo(energies.dtype).min / 2, dtype=energies.dtype)
    energies = pt.switch(valid, energies, lowest)
    exponentials = pt.exp(energies - energies.max(axis=-1, keepdims=True))
    exponentials = pt.switch(valid, exponentials, 0)
    totals = exponentials.sum(axis=-1, keepdims=True)
    return exponentials / pt.switch(pt.gt(totals, 0), totals, 1)


class MultiHeadAttention(Initializable):
    r"""Multi-head scaled dot-product attention ([VSP17]_).

    Queries, keys and values are projected into `num_heads` heads of size `key_dim`;
    each head attends with weights
    :math:`\mathrm{softmax}(q k^\top / \sqrt{\text{key\_dim}})` over the valid keys, and
    the heads' results are concatenated and projected back to `dim`.

    Parameters
    ----------
    dim : int
        The dimension of the queries, keys, values and output. Required by
        :meth:`allocate`.
    num_heads : int
        The number of heads. Required by :meth:`allocate`.
    key_dim : int, optional
        The size of each head; ``dim // num_heads`` by default (``dim`` must then be a
        multiple of `num_heads`).
    dropout : float, optional
        The probability with which :func:`apply_attention_dropout` drops attention
        weights in a training graph (0 by default). The graphs :meth:`apply` builds are
        the inference graphs, as everywhere in Blocks: dropout is applied afterwards.

    Notes
    -----
    The children are four :class:`~blocks.bricks.Linear` bricks, ``query_transformer``,
    ``key_transformer``, ``value_transformer`` (``dim`` to ``num_heads * key_dim``) and
    ``output_transformer`` (back to ``dim``); see :class:`~blocks.bricks.Initializable`
    for the initialization parameters pushed to them.

    The attention weights ``(batch, heads, query time, key time)`` of every call are an
    auxiliary variable named ``attention_weights`` (e.g.
    ``multiheadattention_apply_attention_weights``): ``VariableFilter(name=
    'attention_weights')`` finds them in a computation graph.

    References
    ----------
    .. [VSP17] Ashish Vaswani, Noam Shazeer, Niki Parmar et al., *Attention is all you
       need*, NeurIPS (2017).

    Examples
    --------
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> attention = MultiHeadAttention(dim=4, num_heads=2,
    ...                                weights_init=IsotropicGaussian(0.5),
    ...                                biases_init=Constant(0))
    >>> attention.initialize()
    >>> x = pt.tensor3('x')
    >>> y = attention.apply(x, x, x, causal=True)
    >>> y.eval({x: np.ones((3, 2, 4))}).shape
    (3, 2, 4)
    """

    argument_checks = {"dim": POSITIVE_INTEGER, "num_heads": POSITIVE_INTEGER,
                       "key_dim": POSITIVE_INTEGER, "dropout": PROBABILITY_BELOW_ONE}

    @lazy(allocation=["dim", "num_heads"])
    def __init__(self, dim, num_heads, key_dim=None, dropout=0, **kwargs):
        self.query_transformer = Linear(name="query_transformer")
        self.key_transformer = Linear(name="key_transformer")
        self.value_transformer = Linear(name="value_transformer")
        self.output_transformer = Linear(name="output_transformer")
        kwargs["children"] = [self.query_transformer, self.key_transformer,
                              self.value_transformer, self.output_transformer] + list(
            kwargs.get("children") or [])
        super().__init__(**kwargs)
        self.dim = dim
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout

    @property
    def head_dim(self):
        """The size of each head: `key_dim`, or ``dim // num_heads``."""
        self._check_dims()
        return self.key_dim if self.key_dim is not None else self.dim // self.num_heads

    def _check_dims(self):
        missing = [name for name in ("dim", "num_heads") if getattr(self, name) is NoneAllocation]
        if missing:
            raise ValueError(f"{describe(self)}: the size of the heads needs {missing}, "
                             f"not given yet")
        # Each value was checked when set; what is left is how they fit together.
        if self.key_dim is None and self.dim % self.num_heads:
            raise ValueError(
                f"{describe(self)}: dim must be a multiple of num_heads={self.num_heads} "
                f"(each head gets dim // num_heads features), got dim={self.dim}; give "
                f"key_dim to choose the size of the heads yourself"
            )

    def _push_allocation_config(self):
        projected = self.num_heads * self.head_dim
        for transformer in (self.query_transformer, self.key_transformer,
                            self.value_transformer):
            transformer.input_dim, transformer.output_dim = self.dim, projected
        self.output_transformer.input_dim = projected
        self.output_transformer.output_dim = self.dim
        super()._push_allocation_config()

    def get_dim(self, name):
        if name in ("queries", "keys", "values", "output"):
            return self.dim
        return super().get_dim(name)

    # Checks of the inputs

    def _check_batch(self, argument, variable, axis, reference_argument, reference):
        """Refuse a batch size that differs, statically, from the reference's (axis 1)."""
        found, expected = variable.type.shape[axis], reference.type.shape[1]
        if found is not None and expected is not None and found != expected:
            raise ValueError(
                f"{describe(self)}: argument {argument!r} has batch size {found} (axis "
                f"{axis}) but {reference_argument!r} has batch size {expected}; expected "
                f"them equal (static shapes {variable.type.shape} and "
                f"{reference.type.shape})"
            )

    def _check_mask(self, mask, keys):
        if not isinstance(mask, Variable):
            mask = pt.as_tensor_variable(mask)
        if mask.ndim != 2:
            raise ValueError(
                f"{describe(self)}: argument 'mask': expected (key time, batch) of 1 for "
                f"valid keys and 0 for padding, found ndim={mask.ndim} (static shape "
                f"{mask.type.shape})"
            )
        return match_shape(self, "mask", mask, "keys", keys, ndim=2)

    # Computation

    def _split_heads(self, projected, batch_axis):
        """``(time, batch, heads * key_dim)`` (or batch first) to ``(batch, heads, time,
        key_dim)``."""
        if batch_axis == 0:
            projected = projected.dimshuffle(1, 0, 2)
        time, batch = projected.shape[0], projected.shape[1]
        split = projected.reshape((time, batch, self.num_heads, self.head_dim), ndim=4)
        return split.dimshuffle(1, 2, 0, 3)

    def _attend(self, queries, keys, values, valid, application_call):
        """Attention of heads ``(batch, heads, time, key_dim)``; output ``(time, batch,
        dim)``."""
        scale = np.asarray(1 / np.sqrt(self.head_dim), dtype=queries.dtype)
        energies = pt.matmul(queries * scale, keys.swapaxes(-1, -2))
        weights = masked_softmax(energies, valid)
        application_call.add_auxiliary_variable(weights, name="attention_weights")
        heads = pt.matmul(weights, values)
        time, batch = heads.shape[2], heads.shape[0]
        merged = heads.dimshuffle(2, 0, 1, 3).reshape(
            (time, batch, self.num_heads * self.head_dim), ndim=3)
        return self.output_transformer.apply(merged)

    @application(inputs=["queries", "keys", "values", "mask"], outputs=["output"])
    def apply(self, queries, keys, values, mask=None, causal=False, *, application_call):
        """Attend from every query to the keys, and average the values.

        Parameters
        ----------
        queries : TensorVariable
            ``(query time, batch, dim)``.
        keys, values : TensorVariable
            ``(key time, batch, dim)``.
        mask : TensorVariable, optional
            ``(key time, batch)``: 1 for the keys to attend to, 0 for padding. A query
            with no valid key gets a zero average (then the output projection's bias).
        causal : bool, optional
            If True, the query at time ``t`` attends only to the keys at times ``<= t``
            (times counted from 0 in both sequences), so the output at ``t`` does not
            depend on the inputs after ``t``.

        Returns
        -------
        output : TensorVariable
            ``(query time, batch, dim)``.
        """
        for argument, variable in (("queries", queries), ("keys", keys), ("values", values)):
            check_time_major(self, argument, variable, self.dim)
        self._check_batch("keys", keys, 1, "queries", queries)
        values = match_shape(self, "values", values, "keys", keys, ndim=2)
        if not isinstance(causal, bool):
            raise TypeError(
                f"{describe(self)}: argument 'causal': expected True or False, got "
                f"{causal!r}"
            )
        valid = None
        if mask is not None:
            mask = self._check_mask(mask, keys)
            valid = pt.gt(mask.T, 0)[:, None, None, :]
        if causal:
            order = pt.ge(pt.arange(queries.shape[0])[:, None],
                          pt.arange(keys.shape[0])[None, :])
            valid = order if valid is None else pt.and_(valid, order)
        return self._attend(
            self._split_heads(self.query_transformer.apply(queries), 1),
            self._split_heads(self.key_transformer.apply(keys), 1),
            self._split_heads(self.value_transformer.apply(values), 1),
            valid, application_call)

    @application(inputs=["queries", "key_cache", "value_cache", "position"],
                 outputs=["output", "key_cache", "value_cache"])
    def apply_cached(self, queries, key_cache, value_cache, position, *, application_call):
        """Causal self-attention of new steps, with the keys and values of the past cached.

        The projected keys and values of `queries` are written into the caches at
        positions ``position, position + 1, ...``; the query at position ``p`` attends to
        the cached keys at positions ``<= p``. Applied step by step from position 0 it
        gives the outputs of :meth:`apply` with ``causal=True`` on the whole sequence.

        Parameters
        ----------
        queries : TensorVariable
            The new steps, ``(time, batch, dim)``.
        key_cache, value_cache : TensorVariable
            ``(batch, max_length, num_heads * key_dim)``: the projected keys and values
            of the earlier positions (what is beyond them is ignored).
        position : int or integer scalar variable
            The position of the first new step.

        Returns
        -------
        output : TensorVariable
            ``(time, batch, dim)``.
        key_cache, value_cache : TensorVariable
            The caches with the new steps written in.
        """
        check_time_major(self, "queries", queries, self.dim)
        projected = self.num_heads * self.head_dim
        for argument, cache in (("key_cache", key_cache), ("value_cache", value_cache)):
            if cache.ndim != 3 or cache.type.shape[2] not in (None, projected):
                raise ValueError(
                    f"{describe(self)}: argument {argument!r}: expected (batch, max_length, "
                    f"{projected}) (num_heads * key_dim), found static shape "
                    f"{cache.type.shape}"
                )
            self._check_batch(argument, cache, 0, "queries", queries)
        position = pt.as_tensor_variable(position)
        if position.ndim != 0 or not position.dtype.startswith(("int", "uint")):
            raise TypeError(
                f"{describe(self)}: argument 'position': expected an integer scalar, found "
                f"ndim={position.ndim} and dtype {position.dtype}"
            )
        steps = queries.shape[0]
        new_keys = self.key_transformer.apply(queries).dimshuffle(1, 0, 2)
        new_values = self.value_transformer.apply(queries).dimshuffle(1, 0, 2)
        key_cache = _write_steps(key_cache, new_keys, position)
        value_cache = _write_steps(value_cache, new_values, position)
        valid = pt.le(pt.arange(key_cache.shape[1])[None, :],
                      (position + pt.arange(steps))[:, None])
        output = self._attend(
            self._split_heads(self.query_transformer.apply(queries), 1),
            self._split_heads(key_cache, 0), self._split_heads(value_cache, 0),
            valid, application_call)
        return output, key_cache, value_cache


def _write_steps(cache, steps, position):
    """`cache` ``(batch, max_length, d)`` with `steps` ``(batch, time, d)`` written at the
    positions ``position, position + 1, ...``.

    A one-hot product rather than ``set_subtensor`` over a slice: JAX refuses slices whose
    bounds are symbolic, and the product gives the same values exactly (each entry is one
    value times one plus zeros).

    >>> cache, steps = pt.tensor3('cache'), pt.tensor3('steps')
    >>> written = _write_steps(cache, steps, 1)
    >>> written.eval({cache: np.zeros((1, 4, 1)), steps: [[[5.], [6.]]]})[0, :, 0].tolist()
    [0.0, 5.0, 6.0, 0.0]
    """
    targets = pt.eq(pt.arange(cache.shape[1])[:, None],
                    (position + pt.arange(steps.shape[1]))[None, :])   # (max_length, time)
    placed = pt.tensordot(steps, targets.astype(steps.dtype), axes=[[1], [1]])
    written = targets.any(axis=1)[None, :, None]
    return pt.switch(written, placed.dimshuffle(0, 2, 1), cache)


def apply_attention_dropout(computation_graph, seed=None):
    """A graph in which the attention weights of every :class:`MultiHeadAttention` with a
    non-zero ``dropout`` are dropped out at that rate (with
    :func:`~blocks.graph.apply_dropout`).

    Parameters
    ----------
    computation_graph : ComputationGraph
    seed : int, optional
        Seed of the random masks.

    Returns
    -------
    ComputationGraph
    """
    # Imported here: blocks.filter and blocks.graph import the bricks package.
    from blocks.filter import get_application_call
    from blocks.graph.regularization import apply_dropout

    by_rate = {}
    for variable in computation_graph.auxiliary_variables:
        call = get_application_call(variable)
        brick = call.brick if call is not None else None
        if isinstance(brick, MultiHeadAttention) and brick.dropout > 0 and \
                getattr(variable.tag, "name", None) == "attention_weights":
            by_rate.setdefault(brick.dropout, []).append(variable)
    for rate, variables in by_rate.items():
        with warnings.catch_warnings():
            # The weights are auxiliary variables on purpose (for VariableFilter) and also
            # on the output's path: replacing them is what is wanted, not a mistake.
            warnings.filterwarnings("ignore", message=".*that is an auxiliary variable")
            computation_graph = apply_dropout(computation_graph, variables, rate, seed=seed)
    return computation_graph
