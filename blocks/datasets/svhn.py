"""SVHN: digits of house numbers in Street View images (Netzer et al., 2011)."""

from collections import OrderedDict

import numpy as np

from blocks.datasets.file_datasets import FileDataset

__all__ = ["SVHN"]

_SPLITS = ("train", "test", "extra")


class SVHN(FileDataset):
    """The Street View House Numbers: 73,257 training, 26,032 test, 531,131 extra images.

    Format 2, the cropped digits: sources ``features``, uint8 images of shape
    (3, 32, 32), and ``targets``, the digit (uint8, shape (1,); the files' 10 is 0, as
    in Fuel). Read from ``svhn_format_2.hdf5`` (Fuel's conversion) in the data path or,
    without it, from the distributed MATLAB files there: ``train_32x32.mat``,
    ``test_32x32.mat``, ``extra_32x32.mat``. Format 1, the full numbers with their
    bounding boxes, is read from ``svhn_format_1.hdf5`` only. The default stream gives
    the pixels in [0, 1], in floatX.

    Parameters
    ----------
    which_format : {1, 2}
    which_sets : sequence of {'train', 'test', 'extra'}
    subset, sources, axis_labels, load_in_memory
        See :class:`~blocks.datasets.file_datasets.FileDataset`.
    """

    image_axis_labels = {"features": ("batch", "channel", "height", "width"),
                         "targets": ("batch", "index")}

    def __init__(self, which_format, which_sets, **kwargs):
        if which_format not in (1, 2):
            raise ValueError(f"SVHN: which_format must be 1 or 2, got {which_format!r}")
        self.which_format = which_format
        self.filename = f"svhn_format_{which_format}.hdf5"
        self.splits = OrderedDict(
            (split, (f"{split}_32x32.mat",) if which_format == 2 else ())
            for split in _SPLITS)
        super().__init__(which_sets, **kwargs)

    def read_split(self, split, directory):
        from scipy.io import loadmat

        (file,) = self.splits[split]
        content = loadmat(self.find_file(directory, file))
        features = np.ascontiguousarray(content["X"].transpose(3, 2, 0, 1), dtype=np.uint8)
        targets = np.asarray(content["y"], dtype=np.uint8).reshape(-1, 1) % 10
        return OrderedDict([("features", features), ("targets", targets)])
