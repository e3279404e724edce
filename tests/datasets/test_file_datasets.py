"""MNIST and CIFAR10 read from tiny files in their standard formats, in a data path."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytensor
import pytest

from blocks.datasets import (
    CIFAR10,
    CIFAR100,
    MNIST,
    SVHN,
    BinarizedMNIST,
    DataStream,
    SequentialScheme,
)
from blocks.datasets.mnist import read_idx

RNG = np.random.RandomState(0)
TRAIN_IMAGES = RNG.randint(0, 256, size=(5, 28, 28)).astype("uint8")
TRAIN_LABELS = np.array([5, 0, 4, 1, 9], dtype="uint8")
TEST_IMAGES = RNG.randint(0, 256, size=(3, 28, 28)).astype("uint8")
TEST_LABELS = np.array([7, 2, 1], dtype="uint8")


def write_idx(path, array):
    """An IDX file as LeCun distributes MNIST: magic 0x0000080N, big-endian sizes, bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype("uint8").tobytes())


def write_mnist_idx(directory):
    for name, array in [("train-images-idx3-ubyte.gz", TRAIN_IMAGES),
                        ("train-labels-idx1-ubyte.gz", TRAIN_LABELS),
                        ("t10k-images-idx3-ubyte.gz", TEST_IMAGES),
                        ("t10k-labels-idx1-ubyte.gz", TEST_LABELS)]:
        write_idx(os.path.join(directory, name), array)


def test_read_idx(tmp_path):
    path = str(tmp_path / "x.gz")
    write_idx(path, TEST_IMAGES)
    np.testing.assert_array_equal(read_idx(path), TEST_IMAGES)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(bad))


def test_mnist_from_the_distributed_files(data_path):
    write_mnist_idx(str(data_path))
    train = MNIST(("train",))
    assert train.sources == ("features", "targets") and train.num_examples == 5
    assert train.axis_labels["features"] == ("batch", "channel", "height", "width")
    features, targets = train.get_data(request=[1, 3])
    assert features.shape == (2, 1, 28, 28) and features.dtype == np.uint8
    np.testing.assert_array_equal(features[:, 0], TRAIN_IMAGES[[1, 3]])
    np.testing.assert_array_equal(targets, TRAIN_LABELS[[1, 3]].reshape(2, 1))
    both = MNIST(("test", "train"), subset=slice(4, 7), sources=("targets",))
    np.testing.assert_array_equal(both.get_data(request=slice(0, 3))[0].ravel(),
                                  [9, 7, 2])  # file order: train, then test
    # The default stream scales the bytes to [0, 1] in floatX, as Fuel's does.
    stream = DataStream.default_stream(MNIST(("test",)),
                                       iteration_scheme=SequentialScheme(3, 2))
    features, targets = next(stream.get_epoch_iterator())
    assert features.dtype == np.dtype(pytensor.config.floatX)
    np.testing.assert_allclose(features[:, 0], TEST_IMAGES[:2] / 255.0, rtol=1e-6)
    assert targets.dtype == np.uint8


def test_mnist_from_decompressed_files(data_path):
    write_mnist_idx(str(data_path))
    for name in os.listdir(data_path):
        with gzip.open(data_path / name) as compressed:
            (data_path / name[:-3]).write_bytes(compressed.read())
        os.remove(data_path / name)
    features, targets = MNIST(("test",)).get_data(request=[2])
    np.testing.assert_array_equal(features[0, 0], TEST_IMAGES[2])
    assert targets[0, 0] == TEST_LABELS[2]


def test_mnist_from_fuels_hdf5_file(data_path):
    h5py = pytest.importorskip("h5py")
    from blocks.datasets.hdf5 import H5PYDataset

    with h5py.File(str(data_path / "mnist.hdf5"), "w") as f:
        f["features"] = np.concatenate([TRAIN_IMAGES, TEST_IMAGES])[:, None]
        f["targets"] = np.concatenate([TRAIN_LABELS, TEST_LABELS])[:, None]
        f.attrs["split"] = H5PYDataset.create_split_array({
            "train": {"features": (0, 5), "targets": (0, 5)},
            "test": {"features": (5, 8), "targets": (5, 8)}})
    test = MNIST(("test",))
    features, targets = test.get_data(request=slice(None))
    np.testing.assert_array_equal(features[:, 0], TEST_IMAGES)
    np.testing.assert_array_equal(targets.ravel(), TEST_LABELS)


def test_mnist_without_files_names_the_expected_path(no_data_path):
    with pytest.raises(FileNotFoundError) as error:
        MNIST(("train",))
    message = str(error.value)
    assert os.path.join(str(no_data_path), "mnist.hdf5") in message
    assert "train-images-idx3-ubyte.gz" in message and "BLOCKS_DATA_PATH" in message
    with pytest.raises(ValueError, match=r"which_sets must be a sequence of split names among "
                                         r"\['train', 'test'\], got 'train'"):
        MNIST("train")


def test_mnist_without_a_data_path(monkeypatch):
    monkeypatch.delenv("BLOCKS_DATA_PATH", raising=False)
    monkeypatch.delenv("FUEL_DATA_PATH", raising=False)
    from blocks.config import config

    try:
        monkeypatch.setattr(config, "data_path", "", raising=False)
    except AttributeError:
        pass
    with pytest.raises(FileNotFoundError, match="the data path is not set; set "
                                                "blocks.config.data_path or the environment "
                                                "variable BLOCKS_DATA_PATH"):
        MNIST(("train",))


def test_cifar10_from_the_python_batches(data_path):
    folder = data_path / "cifar-10-batches-py"
    folder.mkdir()
    images, labels = {}, {}
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        images[name] = RNG.randint(0, 256, size=(2, 3072)).astype("uint8")
        labels[name] = [index, (index + 3) % 10]
        (folder / name).write_bytes(pickle.dumps(
            {b"data": images[name], b"labels": labels[name]}))
    train = CIFAR10(("train",))
    assert train.num_examples == 10
    features, targets = train.get_data(request=[2, 9])
    assert features.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(features[0], images["data_batch_2"][0].reshape(3, 32, 32))
    np.testing.assert_array_equal(features[1], images["data_batch_5"][1].reshape(3, 32, 32))
    np.testing.assert_array_equal(targets.ravel(), [1, 7])
    (test_targets,) = CIFAR10(("test",), sources=("targets",)).get_data(request=slice(None))
    np.testing.assert_array_equal(test_targets.ravel(), labels["test_batch"])
    os.remove(folder / "test_batch")
    with pytest.raises(FileNotFoundError, match="cifar10.hdf5"):
        CIFAR10(("test",))


def test_cifar100_from_the_python_files(data_path):
    folder = data_path / "cifar-100-python"
    folder.mkdir()
    content = {}
    for name, size in (("train", 4), ("test", 2)):
        content[name] = {b"data": RNG.randint(0, 256, size=(size, 3072)).astype("uint8"),
                         b"fine_labels": list(RNG.randint(0, 100, size=size)),
                         b"coarse_labels": list(RNG.randint(0, 20, size=size))}
        (folder / name).write_bytes(pickle.dumps(content[name]))
    both = CIFAR100(("train", "test"))
    assert both.sources == ("features", "coarse_labels", "fine_labels")
    assert both.num_examples == 6
    features, coarse, fine = both.get_data(request=[4])
    np.testing.assert_array_equal(features[0], content["test"][b"data"][0].reshape(3, 32, 32))
    assert (coarse[0, 0], fine[0, 0]) == (content["test"][b"coarse_labels"][0],
                                          content["test"][b"fine_labels"][0])


def test_binarized_mnist_from_the_amat_files(data_path):
    images = {split: RNG.randint(0, 2, size=(n, 784)) for split, n in
              (("train", 3), ("valid", 2), ("test", 1))}
    for split, pixels in images.items():
        np.savetxt(str(data_path / f"binarized_mnist_{split}.amat"), pixels, fmt="%d")
    valid = BinarizedMNIST(("valid",))
    assert valid.sources == ("features",) and valid.num_examples == 2
    (features,) = valid.get_data(request=slice(None))
    np.testing.assert_array_equal(features.reshape(2, 784), images["valid"])
    assert features.dtype == np.uint8 and features.shape == (2, 1, 28, 28)
    assert BinarizedMNIST(("test",)).num_examples == 1
    assert BinarizedMNIST.default_transformers == ()


def test_svhn_format_2_from_the_matlab_files(data_path):
    from scipy.io import savemat

    pictures = RNG.randint(0, 256, size=(32, 32, 3, 4)).astype("uint8")  # as distributed
    digits = np.array([[10], [1], [9], [10]], dtype="uint8")  # 10 stands for 0
    savemat(str(data_path / "test_32x32.mat"), {"X": pictures, "y": digits})
    test = SVHN(2, ("test",))
    features, targets = test.get_data(request=[0, 3])
    assert features.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(features[1], pictures[:, :, :, 3].transpose(2, 0, 1))
    np.testing.assert_array_equal(targets.ravel(), [0, 0])
    np.testing.assert_array_equal(SVHN(2, ("test",)).get_data(request=[1, 2])[1].ravel(),
                                  [1, 9])
    with pytest.raises(FileNotFoundError, match=r"'svhn_format_1.hdf5' \(Fuel's HDF5 file\) "
                                                r"in the data path"):
        SVHN(1, ("test",))
    with pytest.raises(ValueError, match="which_format must be 1 or 2, got 3"):
        SVHN(3, ("test",))
