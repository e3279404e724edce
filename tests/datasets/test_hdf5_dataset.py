"""H5PYDataset on small files written in Fuel's HDF5 layout."""

import pickle

import numpy as np
import pytest

from blocks.datasets import DataStream, SequentialScheme, ShuffledScheme
from blocks.datasets.hdf5 import H5PYDataset

h5py = pytest.importorskip("h5py")

FEATURES = np.arange(30, dtype="float32").reshape(10, 3)
TARGETS = np.arange(10, dtype="uint8").reshape(10, 1) * 3
VALID_INDICES = [1, 4, 6]
SEQUENCES = [np.arange(2 * n, dtype="int32").reshape(n, 2) + 100 * n for n in (1, 3, 2, 4)]


@pytest.fixture
def fuel_file(tmp_path):
    """A file as Fuel's converters write it: 10 examples, train 0:7, test 7:10, and a
    'valid' split given by an indices dataset; a variable-length source in its own
    splits; dimension labels."""
    path = str(tmp_path / "toy.hdf5")
    with h5py.File(path, "w") as f:
        f["features"] = FEATURES
        f["targets"] = TARGETS
        f["valid_indices"] = np.array(VALID_INDICES)
        f["features"].dims[0].label = "batch"
        f["features"].dims[1].label = "feature"
        f["targets"].dims[0].label = "batch"
        f["targets"].dims[1].label = "index"
        sequences = f.create_dataset("sequences", (4,), dtype=h5py.vlen_dtype(np.int32))
        for i, sequence in enumerate(SEQUENCES):
            sequences[i] = sequence.ravel()
        f["sequences_shapes"] = np.array([s.shape for s in SEQUENCES])
        f["sequences_shape_labels"] = [b"time", b"feature"]
        sequences.dims.create_scale(f["sequences_shapes"], "shapes")
        sequences.dims[0].attach_scale(f["sequences_shapes"])
        sequences.dims.create_scale(f["sequences_shape_labels"], "shape_labels")
        sequences.dims[0].attach_scale(f["sequences_shape_labels"])
        sequences.dims[0].label = "batch"
        f.attrs["split"] = H5PYDataset.create_split_array({
            "train": {"features": (0, 7), "targets": (0, 7), "sequences": (0, 3)},
            "test": {"features": (7, 10), "targets": (7, 10), "sequences": (3, 4)},
            "valid": {"features": (0, 0, f["valid_indices"].ref),
                      "targets": (0, 0, f["valid_indices"].ref, "a few examples")},
        })
    return path


@pytest.mark.parametrize("load_in_memory", [False, True])
def test_splits_subsets_and_requests(fuel_file, load_in_memory):
    test = H5PYDataset(fuel_file, which_sets=("test",), load_in_memory=load_in_memory,
                       sources=("features", "targets"))
    assert test.num_examples == 3
    features, targets = test.get_data(request=slice(0, 3))
    np.testing.assert_array_equal(features, FEATURES[7:])
    np.testing.assert_array_equal(targets, TARGETS[7:])
    features, targets = test.get_data(request=[2, 0])  # unsorted: read sorted, reordered
    np.testing.assert_array_equal(features, FEATURES[[9, 7]])
    features, _ = test.get_data(request=1)
    np.testing.assert_array_equal(features, FEATURES[8])

    both = H5PYDataset(fuel_file, which_sets=("test", "train"), subset=slice(2, 9),
                       load_in_memory=load_in_memory, sources=("targets",))
    assert both.num_examples == 7
    (targets,) = both.get_data(request=list(range(7)))
    np.testing.assert_array_equal(targets, TARGETS[2:9])

    valid = H5PYDataset(fuel_file, which_sets=("valid",), load_in_memory=load_in_memory)
    assert valid.provides_sources == ("features", "targets")  # no sequences in 'valid'
    features, targets = valid.get_data(request=[0, 2, 1])
    np.testing.assert_array_equal(features, FEATURES[[1, 6, 4]])
    listed = H5PYDataset(fuel_file, which_sets=("train",), subset=[6, 0, 3],
                         load_in_memory=load_in_memory, sources=("features",))
    np.testing.assert_array_equal(listed.get_data(request=slice(None))[0],
                                  FEATURES[[0, 3, 6]])  # sorted, as Fuel sorts them


@pytest.mark.parametrize("load_in_memory", [False, True])
def test_variable_length_source(fuel_file, load_in_memory):
    train = H5PYDataset(fuel_file, which_sets=("train",), sources=("sequences",),
                        load_in_memory=load_in_memory)
    assert train.vlen_sources == ("sequences",) and train.num_examples == 3
    assert train.axis_labels["sequences"] == ("batch", "time", "feature")
    (batch,) = train.get_data(request=[2, 1])
    assert [s.shape for s in batch] == [(2, 2), (3, 2)]
    np.testing.assert_array_equal(batch[0], SEQUENCES[2])
    np.testing.assert_array_equal(batch[1], SEQUENCES[1])
    (single,) = train.get_data(request=0)
    np.testing.assert_array_equal(single, SEQUENCES[0])


def test_axis_labels_streams_and_pickling(fuel_file):
    train = H5PYDataset(fuel_file, which_sets=("train",), sources=("features", "targets"))
    assert train.axis_labels["features"] == ("batch", "feature")
    assert train.default_axis_labels["targets"] == ("batch", "index")
    assert train.get_all_splits(h5py.File(fuel_file, "r")) == ("test", "train", "valid")
    stream = DataStream(train, iteration_scheme=ShuffledScheme(7, 3, rng=2))
    seen = np.concatenate([targets for _, targets in stream.get_epoch_iterator()])
    assert sorted(seen.ravel().tolist()) == sorted(TARGETS[:7].ravel().tolist())
    examples = train.get_example_stream()
    assert examples.axis_labels["features"] == ("feature",)
    assert len(list(examples.get_epoch_iterator())) == 7
    copy = pickle.loads(pickle.dumps(train))
    np.testing.assert_array_equal(copy.get_data(request=[5])[0], FEATURES[[5]])
    with h5py.File(fuel_file, "r") as handle:
        external = H5PYDataset(handle, which_sets=("test",), sources=("targets",))
        batches = DataStream(external, iteration_scheme=SequentialScheme(3, 2))
        assert [t.ravel().tolist() for t, in batches.get_epoch_iterator()] == [[21, 24], [27]]


def test_errors(fuel_file, tmp_path):
    with pytest.raises(ValueError, match=r"split 'dev' is not provided by .*available splits "
                                         r"are \['test', 'train', 'valid'\]"):
        H5PYDataset(fuel_file, which_sets=("dev",))
    with pytest.raises(ValueError, match="which_sets should be an iterable of split names"):
        H5PYDataset(fuel_file, which_sets="train")
    with pytest.raises(FileNotFoundError, match="no HDF5 file at .*missing.hdf5"):
        H5PYDataset(str(tmp_path / "missing.hdf5"), which_sets=("train",))
    with pytest.raises(ValueError, match=r"unknown source\(s\) \['sequences'\]"):
        H5PYDataset(fuel_file, which_sets=("valid",), sources=("sequences",))
    with pytest.raises(ValueError, match=r"the sources have different lengths in \('train',\): "
                                         r"\{'features': 7, 'sequences': 3, 'targets': 7\}"):
        H5PYDataset(fuel_file, which_sets=("train",))
    with pytest.raises(ValueError, match="get_data needs a request"):
        H5PYDataset(fuel_file, which_sets=("train",), sources=("targets",)).get_data()
