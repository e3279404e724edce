"""CIFAR100: 60,000 colour images of 32 x 32 pixels in 100 classes and 20 superclasses."""

import os
import pickle
from collections import OrderedDict

import numpy as np

from blocks.datasets.file_datasets import FileDataset

__all__ = ["CIFAR100"]

_FOLDER = "cifar-100-python"


class CIFAR100(FileDataset):
    """The CIFAR100 images (Krizhevsky, 2009): 50,000 for training, 10,000 for testing.

    Sources: ``features``, uint8 images of shape (3, 32, 32); ``coarse_labels``, the
    superclass, and ``fine_labels``, the class (uint8, shape (1,)). Read from
    ``cifar100.hdf5`` (Fuel's conversion) in the data path or, without it, from the
    Python version of the data as distributed, extracted there:
    ``cifar-100-python/train`` and ``cifar-100-python/test``. The default stream gives
    the pixels in [0, 1], in floatX.

    Parameters
    ----------
    which_sets : sequence of {'train', 'test'}
    subset, sources, axis_labels, load_in_memory
        See :class:`~blocks.datasets.file_datasets.FileDataset`.
    """

    filename = "cifar100.hdf5"
    splits = OrderedDict([("train", (os.path.join(_FOLDER, "train"),)),
                          ("test", (os.path.join(_FOLDER, "test"),))])
    image_axis_labels = {"features": ("batch", "channel", "height", "width"),
                         "coarse_labels": ("batch", "index"),
                         "fine_labels": ("batch", "index")}

    def read_split(self, split, directory):
        (file,) = self.splits[split]
        with open(self.find_file(directory, file), "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        return OrderedDict([
            ("features", np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)),
            ("coarse_labels", np.asarray(batch[b"coarse_labels"], np.uint8).reshape(-1, 1)),
            ("fine_labels", np.asarray(batch[b"fine_labels"], np.uint8).reshape(-1, 1))])
