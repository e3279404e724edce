"""Transformers that change the values of some sources: reshape, rescale, cast."""

import numpy as np
import pytensor

from blocks.datasets.transformers.base import (
    AgnosticSourcewiseTransformer,
    SourcewiseTransformer,
    stream_produces_examples,
)

__all__ = ["Flatten", "ScaleAndShift", "Cast", "ForceFloatX"]


class Flatten(SourcewiseTransformer):
    """Flatten the selected sources: a batch to ``(batch, features)``, an example to 1-d.

    Parameters
    ----------
    data_stream : stream
    which_sources : tuple of str, optional
        Defaults to all sources.

    Examples
    --------
    >>> from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    >>> images = np.arange(16).reshape(4, 1, 2, 2)
    >>> stream = DataStream(IndexableDataset({'features': images}), SequentialScheme(4, 3))
    >>> [features.shape for features, in Flatten(stream).get_epoch_iterator()]
    [(3, 4), (1, 4)]
    """

    def __init__(self, data_stream, **kwargs):
        if getattr(data_stream, "axis_labels", None):
            which_sources = kwargs.get("which_sources") or data_stream.sources
            kwargs.setdefault("axis_labels", _flattened_axis_labels(data_stream, which_sources))
        super().__init__(data_stream, **kwargs)

    def transform_source_example(self, source_example, _):
        return np.asarray(source_example).flatten()

    def transform_source_batch(self, source_batch, _):
        return np.asarray(source_batch).reshape((len(source_batch), -1))


def _flattened_axis_labels(data_stream, which_sources):
    """The axis labels after flattening: every non-batch axis becomes ``'feature'``."""
    examples = stream_produces_examples(data_stream)
    labels = {}
    for source, source_labels in data_stream.axis_labels.items():
        if source not in which_sources:
            labels[source] = source_labels
        elif not source_labels:
            labels[source] = None
        elif examples:
            labels[source] = ("feature",)
        else:
            labels[source] = (source_labels[0], "feature")
    return labels


class ScaleAndShift(AgnosticSourcewiseTransformer):
    """Multiply the selected sources by `scale`, then add `shift`.

    Parameters
    ----------
    data_stream : stream
    scale, shift : float
    which_sources : tuple of str, optional
        Defaults to all sources.

    Examples
    --------
    >>> from blocks.datasets import DataStream, IndexableDataset
    >>> stream = DataStream(IndexableDataset({'x': np.array([0., 1.]), 'y': [5, 6]}))
    >>> scaled = ScaleAndShift(stream, scale=10, shift=1, which_sources=('x',))
    >>> [(float(x), y) for x, y in scaled.get_epoch_iterator()]
    [(1.0, 5), (11.0, 6)]
    """

    def __init__(self, data_stream, scale, shift, **kwargs):
        self.scale = scale
        self.shift = shift
        super().__init__(data_stream, **kwargs)

    def transform_any_source(self, source_data, _):
        return np.asarray(source_data) * self.scale + self.shift


class Cast(AgnosticSourcewiseTransformer):
    """Cast the selected sources to `dtype`.

    Parameters
    ----------
    data_stream : stream
    dtype : str or numpy dtype
        ``'floatX'`` means PyTensor's ``floatX``.
    which_sources : tuple of str, optional
        Defaults to all sources.

    Examples
    --------
    >>> from blocks.datasets import DataStream, IndexableDataset
    >>> stream = DataStream(IndexableDataset({'x': np.array([1.7, 2.2])}))
    >>> [x.dtype.name for x, in Cast(stream, 'int32').get_epoch_iterator()]
    ['int32', 'int32']
    """

    def __init__(self, data_stream, dtype, **kwargs):
        self.dtype = pytensor.config.floatX if dtype == "floatX" else dtype
        try:
            np.dtype(self.dtype)
        except TypeError:
            raise TypeError(f"Cast: {dtype!r} is not a numpy dtype") from None
        super().__init__(data_stream, **kwargs)

    def transform_any_source(self, source_data, _):
        return np.asarray(source_data, dtype=self.dtype)


class ForceFloatX(AgnosticSourcewiseTransformer):
    """Cast the floating-point arrays of the selected sources to PyTensor's ``floatX``.

    Examples
    --------
    >>> from blocks.datasets import DataStream, IndexableDataset
    >>> stream = DataStream(IndexableDataset({'x': np.ones(2, dtype='float16'),
    ...                                       'y': np.array([1, 2])}))
    >>> x, y = next(ForceFloatX(stream).get_epoch_iterator())
    >>> x.dtype == pytensor.config.floatX, y.dtype.kind
    (True, 'i')
    """

    def transform_any_source(self, source_data, _):
        floatx = pytensor.config.floatX
        if (isinstance(source_data, (np.ndarray, np.floating)) and source_data.dtype.kind == "f"
                and source_data.dtype != floatx):
            return source_data.astype(floatx)
        return source_data
