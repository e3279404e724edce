"""CIFAR10: 60,000 colour images of 32 x 32 pixels in 10 classes (Krizhevsky, 2009)."""

import os
import pickle
from collections import OrderedDict

import numpy as np

from blocks.datasets.file_datasets import FileDataset

__all__ = ["CIFAR10"]

_BATCHES = "cifar-10-batches-py"


class CIFAR10(FileDataset):
    """The CIFAR10 images: 50,000 for training, 10,000 for testing.

    Sources: ``features``, uint8 images of shape (3, 32, 32); ``targets``, the class
    (uint8, shape (1,)). Read from ``cifar10.hdf5`` (Fuel's conversion) in the data
    path or, without it, from the Python version of the data as distributed, extracted
    there: ``cifar-10-batches-py/data_batch_1`` to ``data_batch_5`` and ``test_batch``.
    The default stream (``DataStream.default_stream``) gives the pixels in [0, 1], in
    floatX. CIFAR10 has no validation split: make one with `subset`.

    Parameters
    ----------
    which_sets : sequence of {'train', 'test'}
    subset, sources, axis_labels, load_in_memory
        See :class:`~blocks.datasets.file_datasets.FileDataset`.
    """

    filename = "cifar10.hdf5"
    splits = OrderedDict([
        ("train", tuple(os.path.join(_BATCHES, f"data_batch_{i}") for i in range(1, 6))),
        ("test", (os.path.join(_BATCHES, "test_batch"),)),
    ])
    image_axis_labels = {"features": ("batch", "channel", "height", "width"),
                         "targets": ("batch", "index")}

    def read_split(self, split, directory):
        images, labels = [], []
        for file in self.splits[split]:
            with open(self.find_file(directory, file), "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"], dtype=np.uint8).reshape(-1, 1))
        return OrderedDict([("features", np.concatenate(images)),
                            ("targets", np.concatenate(labels))])
