"""The base of datasets read from standard files in the data path (MNIST, CIFAR10).

Such a dataset reads either Fuel's HDF5 conversion of the data (e.g. ``mnist.hdf5``,
as ``fuel-convert`` writes it; needs h5py) or, without it, the files the data is
distributed as (e.g. MNIST's IDX files), from the first directory of the data path
(``blocks.config.data_path`` / ``BLOCKS_DATA_PATH``) that has them. Either way the
examples are the same: the images as bytes, with the dataset's
``default_transformers`` scaling them to [0, 1] in floatX
(:meth:`~blocks.datasets.DataStream.default_stream`). The data is held in memory.
"""

import os
from collections import OrderedDict

import numpy as np

from blocks.datasets.base import IndexableDataset
from blocks.datasets.data_path import data_path_directories, missing_message
from blocks.datasets.transformers.defaults import uint8_pixels_to_floatX

__all__ = ["FileDataset"]


class FileDataset(IndexableDataset):
    """A dataset read from Fuel's HDF5 file or from the distributed files.

    Subclasses set :attr:`filename`, :attr:`splits` (split -> the distributed files
    it needs; none when only the HDF5 file is read), :attr:`image_axis_labels` (those
    of the distributed files' data; the HDF5 file has its own) and implement
    :meth:`read_split`.

    Parameters
    ----------
    which_sets : sequence of str
        The splits, e.g. ``('train',)``; several are concatenated (in file order).
    subset : slice or list of int, optional
        Use only these examples of the selected splits.
    sources, axis_labels
        See :class:`~blocks.datasets.Dataset`.
    load_in_memory : bool, optional
        Accepted for Fuel's signature; the data is always held in memory.
    **h5py_kwargs
        Other arguments of :class:`~blocks.datasets.hdf5.H5PYDataset` (``driver``,
        ``sort_indices``), used when reading the HDF5 file.
    """

    filename = None
    splits = {}
    image_axis_labels = {}
    default_transformers = uint8_pixels_to_floatX(("features",))

    def __init__(self, which_sets, subset=None, sources=None, axis_labels=None,
                 load_in_memory=True, **h5py_kwargs):
        name = type(self).__name__
        if isinstance(which_sets, str) or not all(s in self.splits for s in which_sets):
            raise ValueError(f"{name}: which_sets must be a sequence of split names among "
                             f"{list(self.splits)}, got {which_sets!r}")
        self.which_sets = tuple(which_sets)
        data, file_axis_labels = self._read(self.which_sets, h5py_kwargs)
        if subset is not None:
            data = OrderedDict((source, array[subset]) for source, array in data.items())
        super().__init__(data, sources=sources, axis_labels=axis_labels or file_axis_labels)

    def _read(self, which_sets, h5py_kwargs):
        directories = data_path_directories()
        for directory in directories:
            path = os.path.join(directory, self.filename)
            if os.path.exists(path):
                return self._read_hdf5(path, which_sets, h5py_kwargs)
        needed = [file for split in which_sets for file in self.splits[split]]
        for directory in directories if needed else ():
            if all(self.find_file(directory, file) for file in needed):
                parts = [self.read_split(split, directory)
                         for split in self.splits if split in which_sets]
                data = OrderedDict((source, np.concatenate([part[source] for part in parts]))
                                   for source in parts[0])
                return data, dict(self.image_axis_labels)
        what = f"{self.filename!r} (Fuel's HDF5 file)"
        if needed:
            what += f", nor the distributed files {', '.join(repr(file) for file in needed)}"
        raise FileNotFoundError(missing_message(type(self).__name__, what, self.filename,
                                                directories))

    def _read_hdf5(self, path, which_sets, h5py_kwargs):
        from blocks.datasets.hdf5 import H5PYDataset

        dataset = H5PYDataset(path, which_sets, load_in_memory=True, **h5py_kwargs)
        values = dataset.get_data(request=slice(None))
        labels = {source: dataset.axis_labels.get(source) for source in dataset.sources}
        return OrderedDict(zip(dataset.sources, values)), labels

    @staticmethod
    def find_file(directory, file):
        """The path of `file` in `directory`, or of its decompressed twin; None if neither.

        A ``.gz`` file may have been decompressed where it was downloaded.
        """
        for name in (file, file[:-3]) if file.endswith(".gz") else (file,):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                return path
        return None

    def read_split(self, split, directory):
        """Source name -> array of the examples of `split`, from the files in `directory`."""
        raise NotImplementedError(f"{type(self).__name__} must implement read_split")
