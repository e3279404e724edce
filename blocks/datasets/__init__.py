"""Datasets, data streams and transformers with Fuel's interface.

A *dataset* answers requests for examples; a *stream* iterates over it, epoch by epoch,
with the requests of an *iteration scheme* (sequential or shuffled minibatches);
*transformers* are streams that change another stream's data (batching, padding with
masks, arbitrary mappings). The main loop accepts any object with Fuel's stream interface
(``sources``, ``get_epoch_iterator(as_dict=...)``, ``reset``, ``next_epoch``, ``close``).

Everything is deterministic given the seeds of the shuffled schemes, and a stream pickles
with its position in the epoch and its random state.

>>> from blocks.datasets import IndexableDataset, DataStream, ShuffledScheme
>>> dataset = IndexableDataset({'features': np.random.RandomState(0).rand(10, 3),
...                             'targets': np.arange(10) % 2})
>>> stream = DataStream(dataset, iteration_scheme=ShuffledScheme(10, batch_size=4, rng=1))
>>> [batch['features'].shape for batch in stream.get_epoch_iterator(as_dict=True)]
[(4, 3), (4, 3), (2, 3)]

Fuel compatibility
------------------
This package is Fuel's API (the spec: mila-iqia/fuel). Code written for Fuel runs after
renaming ``fuel`` to ``blocks.datasets``: ``fuel.streams``, ``fuel.schemes``,
``fuel.server`` and ``fuel.transformers`` (with ``.sequences``, ``.defaults``,
``.image``) map to the modules of the same names here; ``fuel.datasets`` (``.hdf5``,
``.text``, ``.toy``, ``.billion``, ``.mnist``, ``.binarized_mnist``, ``.cifar10``,
``.cifar100``, ``.svhn``) maps to :mod:`blocks.datasets.datasets`, and the datasets are
also importable from :mod:`blocks.datasets` itself. Datasets read their files from the
data path, ``blocks.config.data_path`` or ``BLOCKS_DATA_PATH``. Where this differs from
Fuel:

- ``ServerDataStream`` talks to :func:`blocks.datasets.server.start_server` over
  :mod:`multiprocessing.connection`, not ZeroMQ: a Fuel server cannot feed it.
- ``MNIST``, ``BinarizedMNIST``, ``CIFAR10``, ``CIFAR100`` and ``SVHN`` (format 2) also
  read the files the data is distributed as (IDX files, CIFAR's Python batches, ...)
  when Fuel's ``.hdf5`` conversion is absent, and always hold the data in memory
  (Fuel's default).
- A ``DataStream`` over an ``IndexableDataset`` without an iteration scheme goes through
  its examples (Fuel raised); ``Filter`` honours ``as_dict``; ``Cache`` reads as many
  chunks as a request needs; ``Padding`` can also give time-major batches
  (``time_major=True``), the layout of Blocks' recurrent bricks; ``Batch`` makes an
  object array of examples of different shapes (numpy no longer does that implicitly).
- ``filter_sources`` and the datasets return sources in the order of ``sources`` as
  given (Fuel's ``filter_sources`` used the order of ``provides_sources``).
- Not provided: Fuel's other datasets (Iris, Adult, CalTech101, CelebA, ILSVRC, ...),
  its converters and downloaders, ``PytablesDataset``, and of ``fuel.utils`` all but
  ``do_not_pickle_attributes`` and ``find_in_data_path`` (:mod:`blocks.datasets.utils`).
"""

from blocks.datasets.base import Dataset, IndexableDataset, IterableDataset
from blocks.datasets.billion import OneBillionWord
from blocks.datasets.binarized_mnist import BinarizedMNIST
from blocks.datasets.cifar10 import CIFAR10
from blocks.datasets.cifar100 import CIFAR100
from blocks.datasets.hdf5 import H5PYDataset
from blocks.datasets.mnist import MNIST
from blocks.datasets.schemes import (
    BatchScheme,
    BatchSizeScheme,
    ConcatenatedScheme,
    ConstantScheme,
    IndexScheme,
    IterationScheme,
    SequentialExampleScheme,
    SequentialScheme,
    ShuffledExampleScheme,
    ShuffledScheme,
    cross_validation,
)
from blocks.datasets.streams import (
    AbstractDataStream,
    DataIterator,
    DataStream,
    ServerDataStream,
)
from blocks.datasets.svhn import SVHN
from blocks.datasets.text import TextFile
from blocks.datasets.toy import Spiral, SwissRoll
from blocks.datasets.transformers import (
    AgnosticSourcewiseTransformer,
    AgnosticTransformer,
    Batch,
    Cache,
    Cast,
    Filter,
    FilterSources,
    Flatten,
    ForceFloatX,
    Mapping,
    Merge,
    MultiProcessing,
    Padding,
    Rename,
    ScaleAndShift,
    SortMapping,
    SourcewiseTransformer,
    Transformer,
    Unpack,
)

__all__ = [
    "Dataset", "IndexableDataset", "IterableDataset", "H5PYDataset", "TextFile",
    "OneBillionWord", "MNIST", "BinarizedMNIST", "CIFAR10", "CIFAR100", "SVHN", "Spiral",
    "SwissRoll",
    "IterationScheme", "BatchSizeScheme", "ConstantScheme", "BatchScheme", "IndexScheme",
    "SequentialScheme", "ShuffledScheme", "SequentialExampleScheme", "ShuffledExampleScheme",
    "ConcatenatedScheme", "cross_validation",
    "AbstractDataStream", "DataStream", "DataIterator", "ServerDataStream",
    "Transformer", "AgnosticTransformer", "SourcewiseTransformer",
    "AgnosticSourcewiseTransformer", "Mapping", "SortMapping", "Filter", "Flatten",
    "ScaleAndShift", "Cast", "ForceFloatX", "Batch", "Unpack", "Cache", "Padding", "Rename",
    "FilterSources", "Merge", "MultiProcessing",
]
