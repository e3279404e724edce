"""MNIST: 70,000 handwritten digits, 28 x 28 grey pixels (LeCun et al.)."""

import gzip
import os
from collections import OrderedDict

import numpy as np

from blocks.datasets.file_datasets import FileDataset

__all__ = ["MNIST", "read_idx"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


def read_idx(path):
    """The array in an IDX file (MNIST's format), gzipped (``.gz``) or not.

    The header is two zero bytes, a type code, the number of dimensions, then each
    dimension as a big-endian 32-bit integer; the data follows in C order.
    """
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        content = f.read()
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
    ndim = content[3]
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    data = np.frombuffer(content, _IDX_TYPES[content[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"read_idx: {path} holds {data.size} values, its header says "
                         f"{shape}")
    return data.reshape(shape).astype(data.dtype.newbyteorder("="))


class MNIST(FileDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images.

    Sources: ``features``, uint8 images of shape (1, 28, 28); ``targets``, the digit
    (uint8, shape (1,)). Read from ``mnist.hdf5`` (Fuel's conversion) in the data path
    or, without it, from the distributed IDX files there:
    ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (or the same files
    decompressed, without ``.gz``). The default stream
    (``DataStream.default_stream``) gives the pixels in [0, 1], in floatX.

    Parameters
    ----------
    which_sets : sequence of {'train', 'test'}
    subset, sources, axis_labels, load_in_memory
        See :class:`~blocks.datasets.file_datasets.FileDataset`.
    """

    filename = "mnist.hdf5"
    splits = OrderedDict([
        ("train", ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")),
        ("test", ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    ])
    image_axis_labels = {"features": ("batch", "channel", "height", "width"),
                         "targets": ("batch", "index")}

    def read_split(self, split, directory):
        images, labels = (read_idx(self.find_file(directory, file))
                          for file in self.splits[split])
        return OrderedDict([("features", images.reshape(-1, 1, 28, 28).astype(np.uint8)),
                            ("targets", labels.reshape(-1, 1).astype(np.uint8))])
