"""Fuel's image transformers, against numpy computations of the same crops and rotations."""

import io
import logging

import numpy as np
import pytest

from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.datasets.transformers.image import (
    AxisLabelsMismatchError,
    ImagesFromBytes,
    MinimumImageDimensions,
    Random2DRotation,
    RandomFixedSizeCrop,
)

Image = pytest.importorskip("PIL.Image")

IMAGES = np.random.RandomState(0).randint(0, 256, size=(3, 2, 5, 6)).astype("uint8")
LABELS = {"images": ("batch", "channel", "height", "width")}


def batches(images=IMAGES, labels=LABELS, batch_size=3):
    return DataStream(IndexableDataset({"images": images}, axis_labels=labels),
                      SequentialScheme(len(images), batch_size))


def test_random_crops_of_a_4d_batch_follow_fuels_draws():
    (crops,) = next(RandomFixedSizeCrop(batches(), (3, 4), rng=7).get_epoch_iterator())
    assert crops.shape == (3, 2, 3, 4) and crops.dtype == np.uint8
    rng = np.random.RandomState(7)
    offsets_w = rng.randint(0, 3, size=3)
    offsets_h = rng.randint(0, 3, size=3)
    for crop, image, h, w in zip(crops, IMAGES, offsets_h, offsets_w):
        np.testing.assert_array_equal(crop, image[:, h:h + 3, w:w + 4])


def window_positions(image, crop):
    height, width = crop.shape[1:]
    return [(h, w) for h in range(image.shape[1] - height + 1)
            for w in range(image.shape[2] - width + 1)
            if np.array_equal(image[:, h:h + height, w:w + width], crop)]


def test_random_crops_of_examples_and_lists():
    examples = DataStream(IndexableDataset({"images": IMAGES}, axis_labels={
        "images": ("channel", "height", "width")}))
    crops = [crop for crop, in RandomFixedSizeCrop(examples, (5, 2), rng=1)
             .get_epoch_iterator()]
    for crop, image in zip(crops, IMAGES):
        assert crop.shape == (2, 5, 2) and window_positions(image, crop)
    sizes = [np.zeros((1, 4, 4), "uint8") + 1, np.arange(30, dtype="uint8").reshape(1, 5, 6)]
    ragged = DataStream(IndexableDataset({"images": sizes}, axis_labels=LABELS),
                        SequentialScheme(2, 2))
    (crops,) = next(RandomFixedSizeCrop(ragged, (3, 3), rng=2).get_epoch_iterator())
    assert isinstance(crops, list) and [c.shape for c in crops] == [(1, 3, 3)] * 2
    assert window_positions(sizes[1], crops[1])
    with pytest.raises(ValueError, match=r"images of size \(5, 6\), smaller than the window "
                                         r"\(6, 6\)"):
        next(RandomFixedSizeCrop(batches(), (6, 6)).get_epoch_iterator())


def test_axis_labels_are_checked(caplog):
    wrong = {"images": ("batch", "height", "width", "channel")}
    with pytest.raises(AxisLabelsMismatchError, match="expected axis labels"):
        next(RandomFixedSizeCrop(batches(labels=wrong), (2, 2)).get_epoch_iterator())
    with caplog.at_level(logging.WARNING):
        next(RandomFixedSizeCrop(batches(labels=None), (2, 2)).get_epoch_iterator())
    assert "could not verify the axis labels of source 'images'" in caplog.text


class QuarterTurns(np.random.RandomState):
    """Draws angles of exactly 90 degrees."""

    def uniform(self, low=0.0, high=1.0, size=None):
        return 90.0 if size is None else np.full(size, 90.0)


def test_rotation_by_a_quarter_turn_is_rot90():
    square = np.random.RandomState(1).randint(0, 256, size=(2, 3, 4, 4)).astype("uint8")
    rotated_stream = Random2DRotation(batches(square, batch_size=2), rng=QuarterTurns(0))
    (rotated,) = next(rotated_stream.get_epoch_iterator())
    np.testing.assert_array_equal(rotated, np.rot90(square, k=1, axes=(2, 3)))
    (angles_used,) = next(Random2DRotation(batches(), maximum_rotation=0.1, rng=3)
                          .get_epoch_iterator())
    assert angles_used.shape == IMAGES.shape
    with pytest.raises(ValueError, match=r"must be in the range \(0, math.pi\]"):
        Random2DRotation(batches(), maximum_rotation=4)
    with pytest.raises(ValueError, match="unknown resampling filter 'cubic'"):
        Random2DRotation(batches(), resample="cubic")


def test_minimum_image_dimensions():
    small = np.arange(2 * 2 * 3, dtype="uint8").reshape(2, 2, 3)
    images = [small, np.zeros((2, 8, 9), "uint8")]
    stream = DataStream(IndexableDataset({"images": images}, axis_labels=LABELS),
                        SequentialScheme(2, 2))
    (resized,) = next(MinimumImageDimensions(stream, (4, 4)).get_epoch_iterator())
    # Upscaled by 2 (the larger of 4/2 and 4/3): nearest neighbours repeat each pixel.
    np.testing.assert_array_equal(resized[0], small.repeat(2, axis=1).repeat(2, axis=2))
    assert resized[1] is images[1]


def test_images_from_bytes():
    rgb = IMAGES[0, :, :, :].repeat(2, axis=0)[:3]  # 3 channels
    buffer = io.BytesIO()
    Image.fromarray(rgb.transpose(1, 2, 0)).save(buffer, format="PNG")
    grey = io.BytesIO()
    Image.fromarray(IMAGES[1, 0]).save(grey, format="PNG")
    stream = DataStream(IndexableDataset({"png": [buffer.getvalue(), grey.getvalue()]}))
    decoded = ImagesFromBytes(stream, color_mode=None)
    assert decoded.axis_labels == {"png": ("channel", "height", "width")}
    first, second = [image for image, in decoded.get_epoch_iterator()]
    np.testing.assert_array_equal(first, rgb)
    np.testing.assert_array_equal(second, IMAGES[1, :1])
    (as_rgb,) = list(ImagesFromBytes(stream).get_epoch_iterator())[1]
    assert as_rgb.shape == (3, 5, 6)
    with pytest.raises(TypeError, match="expected a bytes object, got int"):
        next(ImagesFromBytes(DataStream(IndexableDataset({"png": [1]}))).get_epoch_iterator())
