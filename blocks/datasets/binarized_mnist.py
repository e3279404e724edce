"""BinarizedMNIST: MNIST digits with pixels sampled to 0 or 1 (Salakhutdinov & Murray)."""

from collections import OrderedDict

import numpy as np

from blocks.datasets.file_datasets import FileDataset

__all__ = ["BinarizedMNIST"]


class BinarizedMNIST(FileDataset):
    """The binarized MNIST of the DBN, NADE and VAE papers: 50,000 / 10,000 / 10,000.

    One source, ``features``: uint8 images of shape (1, 28, 28) with values 0 and 1.
    Read from ``binarized_mnist.hdf5`` (Fuel's conversion) in the data path or,
    without it, from the distributed text files there:
    ``binarized_mnist_train.amat``, ``binarized_mnist_valid.amat``,
    ``binarized_mnist_test.amat`` (one image per line, 784 numbers).

    Parameters
    ----------
    which_sets : sequence of {'train', 'valid', 'test'}
    subset, sources, axis_labels, load_in_memory
        See :class:`~blocks.datasets.file_datasets.FileDataset`.
    """

    filename = "binarized_mnist.hdf5"
    splits = OrderedDict((split, (f"binarized_mnist_{split}.amat",))
                         for split in ("train", "valid", "test"))
    image_axis_labels = {"features": ("batch", "channel", "height", "width")}
    default_transformers = ()  # already 0 and 1

    def read_split(self, split, directory):
        (file,) = self.splits[split]
        pixels = np.loadtxt(self.find_file(directory, file), ndmin=2)
        return OrderedDict([("features", pixels.reshape(-1, 1, 28, 28).astype(np.uint8))])
