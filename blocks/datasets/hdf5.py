"""H5PYDataset: datasets stored in HDF5 files in Fuel's format (needs h5py: ``blocks[hdf5]``).

Fuel's format: every source is a dataset in the file's root group, holding all the
examples of every split along its first axis; the root's ``split`` attribute, a table
with one row per (split, source) pair, says which examples belong to which split --
``start:stop``, or the example indices in a dataset the row references -- and whether
the split provides the source at all. Axis labels are the datasets' dimension labels.
A variable-length source stores each example flattened in a 1-d vlen dataset, with
its shape in the dimension scale ``shapes`` (and the axis labels of its examples in
``shape_labels``). Files written by Fuel's converters read unchanged, and
:meth:`H5PYDataset.create_split_array` writes the ``split`` table.
"""

import numbers
import os

import numpy as np

from blocks.datasets.base import Dataset
from blocks.datasets.schemes import SequentialExampleScheme

__all__ = ["H5PYDataset"]


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "H5PYDataset needs h5py: pip install h5py (or the extra: pip install "
            "'blocks[hdf5]')") from None
    return h5py


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read(indexable, indices, sort_indices=True):
    """``indexable[indices]`` for an array of indices, as h5py allows it.

    h5py reads contiguous ranges as slices and fancy-indexes only with increasing,
    unique indices; other requests are read sorted and put back in their order.
    """
    if len(indices) and np.all(np.diff(indices) == 1):
        return indexable[int(indices[0]):int(indices[-1]) + 1]
    if not sort_indices or isinstance(indexable, np.ndarray):
        return indexable[indices]
    unique, inverse = np.unique(indices, return_inverse=True)
    return indexable[unique][inverse]


class H5PYDataset(Dataset):
    """A dataset in an HDF5 file in Fuel's format, with its splits.

    Parameters
    ----------
    file_or_path : str or h5py.File
        The file, or its path.
    which_sets : sequence of str
        The splits to use, e.g. ``('train',)``; with several, their examples together
        (in file order), and only the sources all of them provide.
    subset : slice or list of int, optional
        Use only these examples of the selected splits (a list is sorted first, as
        Fuel does).
    load_in_memory : bool, optional
        Read the data once into memory. Otherwise (the default) every request reads
        the file.
    driver : str, optional
        The h5py driver to open the file with.
    sort_indices : bool, optional
        Read requests of unordered indices sorted and restore their order (HDF5 only
        reads increasing indices). Defaults to True; with False, requests must be
        sorted.
    sources, axis_labels
        See :class:`~blocks.datasets.Dataset`; `axis_labels` default to the file's.

    Attributes
    ----------
    provides_sources : tuple of str
        The sources the selected splits provide, sorted.
    vlen_sources : tuple of str
        The variable-length sources of the file.
    default_axis_labels : dict
        Source -> the file's axis labels.
    num_examples : int

    Examples
    --------
    >>> import os, tempfile
    >>> h5py = __import__('pytest').importorskip('h5py')
    >>> path = os.path.join(tempfile.mkdtemp(), 'data.hdf5')
    >>> with h5py.File(path, 'w') as f:
    ...     f['features'] = np.arange(10.).reshape(5, 2)
    ...     f['targets'] = np.arange(5).reshape(5, 1)
    ...     f.attrs['split'] = H5PYDataset.create_split_array({
    ...         'train': {'features': (0, 3), 'targets': (0, 3)},
    ...         'test': {'features': (3, 5), 'targets': (3, 5)}})
    >>> test = H5PYDataset(path, which_sets=('test',))
    >>> test.sources, test.num_examples
    (('features', 'targets'), 2)
    >>> features, targets = test.get_data(request=[1, 0])
    >>> features.tolist(), targets.ravel().tolist()
    ([[8.0, 9.0], [6.0, 7.0]], [4, 3])
    """

    interface_version = "0.3"

    def __init__(self, file_or_path, which_sets, subset=None, load_in_memory=False,
                 driver=None, sort_indices=True, **kwargs):
        h5py = _import_h5py()
        if isinstance(file_or_path, h5py.File):
            self.path = file_or_path.filename
            self.external_file_handle = file_or_path
        else:
            self.path = os.fspath(file_or_path)
            self.external_file_handle = None
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"H5PYDataset: no HDF5 file at {self.path}")
        if isinstance(which_sets, str) or not all(isinstance(s, str) for s in which_sets):
            raise ValueError(f"H5PYDataset: which_sets should be an iterable of split names "
                             f"(strings), e.g. ('train',), got {which_sets!r}")
        self.which_sets = tuple(which_sets)
        self.user_given_subset = slice(None) if subset is None else subset
        self.load_in_memory = load_in_memory
        self.driver = driver
        self.sort_indices = sort_indices
        with self._opened() as handle:
            self._parse_dataset_info(handle)
        kwargs.setdefault("axis_labels", self.default_axis_labels)
        super().__init__(**kwargs)
        self.load()
        self.example_iteration_scheme = SequentialExampleScheme(self.num_examples)

    # The file's layout

    @staticmethod
    def create_split_array(split_dict):
        """The ``split`` attribute table describing `split_dict`, to store in a file.

        Parameters
        ----------
        split_dict : dict
            Split name -> {source name -> ``(start, stop)``, ``(start, stop, indices)``
            or ``(start, stop, indices, comment)``}, where `indices` is an h5py reference
            to a dataset of example indices (or None to use ``start:stop``). A source a
            split does not list is unavailable in that split.
        """
        h5py = _import_h5py()
        sources = sorted({source for split in split_dict.values() for source in split})
        comments = [value[3] for split in split_dict.values() for value in split.values()
                    if len(value) > 3 and value[3]]
        dtype = np.dtype([
            ("split", "S", max(len(split.encode("utf8")) for split in split_dict)),
            ("source", "S", max(len(source.encode("utf8")) for source in sources)),
            ("start", np.int64), ("stop", np.int64), ("indices", h5py.ref_dtype),
            ("available", bool),
            ("comment", "S", max([1] + [len(c.encode("utf8")) for c in comments]))])
        rows = []
        for split, split_sources in split_dict.items():
            for source in sources:
                value = split_sources.get(source)
                if value is None:
                    rows.append((split.encode("utf8"), source.encode("utf8"), 0, 0,
                                 h5py.Reference(), False, b"."))
                    continue
                indices = value[2] if len(value) > 2 and value[2] is not None else (
                    h5py.Reference())
                comment = value[3] if len(value) > 3 and value[3] else "."
                rows.append((split.encode("utf8"), source.encode("utf8"), value[0],
                             value[1], indices, True, comment.encode("utf8")))
        return np.array(rows, dtype=dtype)

    @staticmethod
    def get_all_splits(h5file):
        """The names of the splits of a file."""
        return tuple(sorted({_text(row["split"]) for row in h5file.attrs["split"]}))

    @staticmethod
    def get_all_sources(h5file):
        """The names of the sources of a file."""
        return tuple(sorted({_text(row["source"]) for row in h5file.attrs["split"]}))

    @staticmethod
    def get_provided_sources(h5file, split):
        """The sources `split` provides."""
        return tuple(_text(row["source"]) for row in h5file.attrs["split"]
                     if _text(row["split"]) == split and row["available"])

    @staticmethod
    def get_vlen_sources(h5file):
        """The variable-length sources of a file (those with a ``shapes`` scale)."""
        vlen = []
        for source in H5PYDataset.get_all_sources(h5file):
            dims = h5file[source].dims
            if len(dims) and "shapes" in dims[0].keys():
                if len(dims) > 1:
                    raise ValueError(f"H5PYDataset: variable-length source {source!r} must "
                                     f"have only one dimension, has {len(dims)}")
                vlen.append(source)
        return tuple(vlen)

    @staticmethod
    def get_axis_labels(h5file):
        """Source -> axis labels, from the dimension labels of a file."""
        labels = {}
        vlen = H5PYDataset.get_vlen_sources(h5file)
        for source in H5PYDataset.get_all_sources(h5file):
            dims = h5file[source].dims
            if source in vlen:
                labels[source] = (dims[0].label,) + tuple(
                    _text(label) for label in dims[0]["shape_labels"])
            else:
                labels[source] = tuple(dim.label for dim in dims)
        return labels

    @staticmethod
    def get_split_indices(h5file, splits, source):
        """The sorted indices of the examples of `source` in the union of `splits`."""
        parts = []
        for split in splits:
            rows = [row for row in h5file.attrs["split"]
                    if _text(row["split"]) == split and _text(row["source"]) == source]
            if len(rows) != 1:
                raise ValueError(f"H5PYDataset: the split table has {len(rows)} rows for "
                                 f"split {split!r} and source {source!r}, expected one")
            (row,) = rows
            if row["indices"]:
                parts.append(np.asarray(h5file[row["indices"]][()], dtype=np.int64).ravel())
            else:
                parts.append(np.arange(row["start"], row["stop"], dtype=np.int64))
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def _parse_dataset_info(self, handle):
        available = self.get_all_splits(handle)
        provides = None
        for split in self.which_sets:
            if split not in available:
                raise ValueError(f"H5PYDataset: split {split!r} is not provided by "
                                 f"{self.path}; available splits are {list(available)}")
            split_sources = set(self.get_provided_sources(handle, split))
            provides = split_sources if provides is None else provides & split_sources
        self.provides_sources = tuple(sorted(provides or ()))
        self.vlen_sources = self.get_vlen_sources(handle)
        self.default_axis_labels = self.get_axis_labels(handle)

    # Opening, loading, pickling

    def _opened(self):
        """A context manager giving an open handle (the external one is left open)."""
        h5py = _import_h5py()
        if self.external_file_handle is not None:
            return _Borrowed(self.external_file_handle)
        return h5py.File(self.path, mode="r", driver=self.driver)

    def load(self):
        """Compute the examples of the selection; read them if ``load_in_memory``."""
        with self._opened() as handle:
            subsets = []
            for source in self.sources:
                indices = self.get_split_indices(handle, self.which_sets, source)
                selected = indices[self.user_given_subset]
                if not isinstance(self.user_given_subset, slice):
                    selected = np.unique(selected)  # as Fuel: a list subset is sorted
                subsets.append(selected)
            lengths = {source: len(s) for source, s in zip(self.sources, subsets)}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"H5PYDataset: the sources have different lengths in "
                                 f"{self.which_sets}: {lengths}")
            self.subsets = subsets
            self.data_sources = self.source_shapes = None
            if self.load_in_memory:
                self.data_sources = tuple(
                    _read(handle[source], subset) for source, subset in zip(self.sources,
                                                                             subsets))
                self.source_shapes = tuple(
                    _read(handle[source].dims[0]["shapes"], subset)
                    if source in self.vlen_sources else None
                    for source, subset in zip(self.sources, subsets))

    def __getstate__(self):
        state = self.__dict__.copy()
        # Handles do not pickle, and the data is read again from the file.
        for name in ("external_file_handle", "data_sources", "source_shapes", "_handle"):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.external_file_handle = None
        self.load()

    @property
    def num_examples(self):
        return len(self.subsets[0])

    def open(self):
        return None

    def close(self, state):
        handle = self.__dict__.pop("_handle", None)
        if handle is not None:
            handle.close()

    def _file(self):
        if self.external_file_handle is not None:
            return self.external_file_handle
        if self.__dict__.get("_handle") is None:
            self._handle = _import_h5py().File(self.path, mode="r", driver=self.driver)
        return self._handle

    # Reading

    def get_data(self, state=None, request=None):
        if request is None:
            raise ValueError("H5PYDataset: get_data needs a request (an index, a slice or a "
                             "list of indices); give the stream an iteration scheme")
        single = isinstance(request, numbers.Integral)
        positions = np.arange(self.num_examples)[request]
        positions = np.atleast_1d(positions)
        if len(positions) == 0 and not isinstance(request, slice):
            raise ValueError("H5PYDataset: an empty list of indices requests no data")
        data = []
        for i, source in enumerate(self.sources):
            if self.load_in_memory:
                values = self.data_sources[i][positions]
                shapes = (self.source_shapes[i][positions]
                          if self.source_shapes[i] is not None else None)
            else:
                dataset = self._file()[source]
                absolute = self.subsets[i][positions]
                values = _read(dataset, absolute, self.sort_indices)
                shapes = (_read(dataset.dims[0]["shapes"], absolute, self.sort_indices)
                          if source in self.vlen_sources else None)
            if shapes is not None:
                values = _reshaped(values, shapes)
            data.append(values[0] if single else values)
        return tuple(data)


def _reshaped(flat_examples, shapes):
    """Variable-length examples, each given back its shape, as an object array."""
    result = np.empty(len(flat_examples), dtype=object)
    for i, (example, shape) in enumerate(zip(flat_examples, shapes)):
        result[i] = np.asarray(example).reshape(tuple(int(d) for d in shape))
    return result


class _Borrowed:
    """A context manager around a handle that someone else closes."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc_info):
        return False
