"""The imports of Fuel-era scripts, after renaming ``fuel`` to ``blocks.datasets``."""

import importlib

import pytest

FUEL_IMPORTS = [
    ("blocks.datasets.datasets", ["MNIST", "CIFAR10", "H5PYDataset", "IndexableDataset",
                                  "IterableDataset", "Dataset", "TextFile", "OneBillionWord"]),
    ("blocks.datasets.datasets.base", ["Dataset", "IndexableDataset", "IterableDataset"]),
    ("blocks.datasets.datasets.hdf5", ["H5PYDataset"]),
    ("blocks.datasets.datasets.text", ["TextFile"]),
    ("blocks.datasets.datasets.toy", ["Spiral", "SwissRoll"]),
    ("blocks.datasets.datasets.billion", ["OneBillionWord"]),
    ("blocks.datasets.datasets.mnist", ["MNIST"]),
    ("blocks.datasets.datasets.cifar10", ["CIFAR10"]),
    ("blocks.datasets.datasets.cifar100", ["CIFAR100"]),
    ("blocks.datasets.datasets.binarized_mnist", ["BinarizedMNIST"]),
    ("blocks.datasets.datasets.svhn", ["SVHN"]),
    ("blocks.datasets.server", ["start_server"]),
    ("blocks.datasets.utils", ["do_not_pickle_attributes", "find_in_data_path"]),
    ("blocks.datasets.iterator", ["DataIterator"]),
    ("blocks.datasets.exceptions", ["AxisLabelsMismatchError"]),
    ("blocks.datasets.streams", ["DataStream", "AbstractDataStream", "ServerDataStream"]),
    ("blocks.datasets.schemes", ["SequentialScheme", "ShuffledScheme", "ConstantScheme",
                                 "SequentialExampleScheme", "ShuffledExampleScheme",
                                 "ConcatenatedScheme", "cross_validation", "IterationScheme",
                                 "BatchScheme", "BatchSizeScheme", "IndexScheme"]),
    ("blocks.datasets.transformers", ["Flatten", "ScaleAndShift", "Cast", "ForceFloatX",
                                      "Cache", "SortMapping", "Unpack", "Merge", "Rename",
                                      "FilterSources", "SourcewiseTransformer",
                                      "AgnosticSourcewiseTransformer", "AgnosticTransformer",
                                      "Mapping", "Filter", "Batch", "Padding",
                                      "MultiProcessing", "Transformer"]),
    ("blocks.datasets.transformers.sequences", ["Window", "NGrams"]),
    ("blocks.datasets.transformers.defaults", ["uint8_pixels_to_floatX"]),
    ("blocks.datasets.transformers.image", ["ImagesFromBytes", "MinimumImageDimensions",
                                            "RandomFixedSizeCrop", "Random2DRotation"]),
]


@pytest.mark.parametrize("module, names", FUEL_IMPORTS)
def test_fuel_import_paths(module, names):
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing


@pytest.mark.parametrize("fuel_module, module, name", [
    ("blocks.datasets.datasets.hdf5", "blocks.datasets", "H5PYDataset"),
    ("blocks.datasets.datasets.mnist", "blocks.datasets", "MNIST"),
    ("blocks.datasets.datasets.text", "blocks.datasets.text", "TextFile"),
    ("blocks.datasets.datasets", "blocks.datasets", "IndexableDataset"),
])
def test_both_paths_give_the_same_classes(fuel_module, module, name):
    fuel_class = getattr(importlib.import_module(fuel_module), name)
    assert fuel_class is getattr(importlib.import_module(module), name)
