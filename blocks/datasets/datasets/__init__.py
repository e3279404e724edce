"""Fuel's ``fuel.datasets`` at the path the rename ``fuel`` -> ``blocks.datasets`` gives.

``from fuel.datasets import MNIST`` becomes ``from blocks.datasets.datasets import
MNIST``, and ``from fuel.datasets.hdf5 import H5PYDataset`` becomes ``from
blocks.datasets.datasets.hdf5 import H5PYDataset``. The modules are those of
:mod:`blocks.datasets` (``base``, ``hdf5``, ``text``, ``toy``, ``billion``, ``mnist``,
``binarized_mnist``, ``cifar10``, ``cifar100``, ``svhn``), registered under this
package too, so the classes are the same objects whichever path imports them.
"""

import sys

from blocks.datasets import (
    base,
    billion,
    binarized_mnist,
    cifar10,
    cifar100,
    hdf5,
    mnist,
    svhn,
    text,
    toy,
)
from blocks.datasets.base import Dataset, IndexableDataset, IterableDataset
from blocks.datasets.billion import OneBillionWord
from blocks.datasets.binarized_mnist import BinarizedMNIST
from blocks.datasets.cifar10 import CIFAR10
from blocks.datasets.cifar100 import CIFAR100
from blocks.datasets.hdf5 import H5PYDataset
from blocks.datasets.mnist import MNIST
from blocks.datasets.svhn import SVHN
from blocks.datasets.text import TextFile

for _module in (base, billion, binarized_mnist, cifar10, cifar100, hdf5, mnist, svhn, text,
                toy):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

__all__ = ["Dataset", "IndexableDataset", "IterableDataset", "H5PYDataset", "MNIST",
           "BinarizedMNIST", "CIFAR10", "CIFAR100", "SVHN", "TextFile", "OneBillionWord"]
