"""Image transformers: decode, upscale, crop and rotate images of ``(channel, height, width)``.

Fuel's ``fuel.transformers.image``. Images are arrays of layout ``(channel, height,
width)``; a batch is a 4-d array ``(batch, channel, height, width)`` or a list (or
object array) of images, possibly of different sizes, and keeps its form. Decoding,
resizing and rotating use Pillow (the ``images`` extra: ``pip install 'blocks[images]'``);
cropping needs only numpy. The random transformers draw from `rng` (by default a
``RandomState`` seeded with ``blocks.config.default_seed``) as Fuel does, so a seed gives
Fuel's crops.
"""

import io
import logging
import math

import numpy as np

from blocks.datasets.exceptions import AxisLabelsMismatchError
from blocks.datasets.schemes import _as_rng
from blocks.datasets.transformers.base import SourcewiseTransformer, stream_produces_examples

__all__ = ["AxisLabelsMismatchError", "ExpectsAxisLabels", "ImagesFromBytes",
           "MinimumImageDimensions", "RandomFixedSizeCrop", "Random2DRotation"]

logger = logging.getLogger(__name__)

_BATCH_LABELS = ("batch", "channel", "height", "width")
_EXAMPLE_LABELS = ("channel", "height", "width")


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("this image transformer needs Pillow: pip install pillow (or the "
                          "extra: pip install 'blocks[images]')") from None
    return Image


def _resample_filter(resample):
    filters = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC"}
    if not isinstance(resample, str) or resample.lower() not in filters:
        raise ValueError(f"unknown resampling filter {resample!r}; use one of {list(filters)}")
    return getattr(_pil_image().Resampling, filters[resample.lower()])


class ExpectsAxisLabels:
    """Mixin of transformers that check the axis labels of the sources they transform.

    The check is made once per source: missing labels are logged as a warning,
    different ones raise :class:`AxisLabelsMismatchError`.
    """

    def verify_axis_labels(self, expected, actual, source_name):
        checked = self.__dict__.setdefault("_checked_axis_labels", set())
        if source_name in checked:
            return
        if actual is None:
            logger.warning("%s could not verify the axis labels of source %r: expected %s, "
                           "got None", type(self).__name__, source_name, expected)
        elif tuple(actual) != tuple(expected):
            raise AxisLabelsMismatchError(f"{type(self).__name__} expected axis labels "
                                          f"{expected} for source {source_name!r}, got "
                                          f"{tuple(actual)}")
        checked.add(source_name)

    def _check_labels(self, source_name, batch):
        labels = (getattr(self.data_stream, "axis_labels", None) or {}).get(source_name)
        self.verify_axis_labels(_BATCH_LABELS if batch else _EXAMPLE_LABELS, labels,
                                source_name)


def _check_image(owner, image):
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise ValueError(f"{type(owner).__name__}: uninterpretable example format; expected "
                         f"an ndarray with ndim = 3 (channel, height, width), got "
                         f"{getattr(image, 'shape', type(image).__name__)}")


def _map_batch(owner, batch, transform_image):
    """`transform_image` applied to every image of a batch, the batch keeping its form."""
    if isinstance(batch, np.ndarray) and batch.ndim == 4:
        return np.stack([transform_image(image) for image in batch]).astype(batch.dtype)
    if not all(isinstance(image, np.ndarray) and image.ndim == 3 for image in batch):
        raise ValueError(f"{type(owner).__name__}: uninterpretable batch format; expected a "
                         f"list of arrays with ndim = 3, or an array with ndim = 4")
    images = [transform_image(image) for image in batch]
    if isinstance(batch, np.ndarray):  # an object array of images of different sizes
        result = np.empty(len(images), dtype=object)
        for i, image in enumerate(images):
            result[i] = image
        return result
    return images


def _per_channel(image, transform_plane):
    """`transform_plane` (a PIL image -> PIL image) applied to each channel of `image`."""
    Image = _pil_image()
    planes = [np.asarray(transform_plane(Image.fromarray(plane))) for plane in image]
    return np.stack(planes).astype(image.dtype)


class ImagesFromBytes(SourcewiseTransformer):
    """Decode images (PNG, JPEG, ...) given as bytes into ``(channel, height, width)`` arrays.

    Parameters
    ----------
    data_stream : stream
    color_mode : str or None, optional
        The Pillow mode to convert to, ``'RGB'`` by default; None keeps the file's.
        Single-channel images get a channel axis of length 1.
    which_sources : tuple of str, optional

    Notes
    -----
    A batch (a sequence of bytes objects) becomes a list of images.
    """

    def __init__(self, data_stream, color_mode="RGB", **kwargs):
        produces = kwargs.setdefault("produces_examples", stream_produces_examples(data_stream))
        which = kwargs.get("which_sources") or data_stream.sources
        known = getattr(data_stream, "axis_labels", None) or {}
        kwargs.setdefault("axis_labels", {
            source: ((_EXAMPLE_LABELS if produces else _BATCH_LABELS) if source in which
                     else known.get(source))
            for source in data_stream.sources})
        super().__init__(data_stream, **kwargs)
        self.color_mode = color_mode

    def transform_source_example(self, example, source_name):
        if not isinstance(example, bytes):
            raise TypeError(f"ImagesFromBytes: source {source_name!r}: expected a bytes "
                            f"object, got {type(example).__name__}")
        image = _pil_image().open(io.BytesIO(example))
        if self.color_mode is not None:
            image = image.convert(self.color_mode)
        array = np.array(image)
        if array.ndim == 2:
            return array[np.newaxis]
        if array.ndim == 3:
            return array.transpose(2, 0, 1)
        raise ValueError(f"ImagesFromBytes: unexpected image of {array.ndim} axes")

    def transform_source_batch(self, batch, source_name):
        return [self.transform_source_example(example, source_name) for example in batch]


class MinimumImageDimensions(SourcewiseTransformer, ExpectsAxisLabels):
    """Upscale images smaller than `minimum_shape`, keeping their aspect ratio.

    An image whose height or width is below the minimum is enlarged by the smallest
    factor that brings both to at least the minimum; larger images pass as they are.

    Parameters
    ----------
    data_stream : stream
    minimum_shape : (int, int)
        The minimum ``(height, width)``.
    resample : {'nearest', 'bilinear', 'bicubic'}, optional
    which_sources : tuple of str, optional
    """

    def __init__(self, data_stream, minimum_shape, resample="nearest", **kwargs):
        self.minimum_shape = tuple(minimum_shape)
        self.resample = _resample_filter(resample)
        kwargs.setdefault("produces_examples", stream_produces_examples(data_stream))
        super().__init__(data_stream, **kwargs)

    def transform_source_batch(self, batch, source_name):
        self._check_labels(source_name, batch=True)
        return [self._upscale(image) for image in batch]

    def transform_source_example(self, example, source_name):
        self._check_labels(source_name, batch=False)
        return self._upscale(example)

    def _upscale(self, image):
        if image.ndim not in (2, 3):
            raise NotImplementedError(f"MinimumImageDimensions: images of {image.ndim} axes")
        min_height, min_width = self.minimum_shape
        height, width = image.shape[-2:]
        if height >= min_height and width >= min_width:
            return image
        factor = max(1, min_width / width, min_height / height)
        size = (int(math.ceil(width * factor)), int(math.ceil(height * factor)))
        planes = image if image.ndim == 3 else image[np.newaxis]
        resized = _per_channel(planes, lambda plane: plane.resize(size, self.resample))
        return resized if image.ndim == 3 else resized[0]


class RandomFixedSizeCrop(SourcewiseTransformer, ExpectsAxisLabels):
    """Crop a window of `window_shape` at a random position of every image.

    Parameters
    ----------
    data_stream : stream
    window_shape : (int, int)
        The ``(height, width)`` of the crops.
    rng : int or RandomState, optional
    which_sources : tuple of str, optional

    Examples
    --------
    >>> from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    >>> images = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4)
    >>> stream = DataStream(IndexableDataset({'images': images},
    ...                     axis_labels={'images': ('batch', 'channel', 'height', 'width')}),
    ...                     SequentialScheme(2, 2))
    >>> crops, = next(RandomFixedSizeCrop(stream, (2, 3), rng=0).get_epoch_iterator())
    >>> crops.shape
    (2, 1, 2, 3)
    """

    def __init__(self, data_stream, window_shape, rng=None, **kwargs):
        self.window_shape = tuple(window_shape)
        self.rng = _as_rng(rng)
        kwargs.setdefault("produces_examples", stream_produces_examples(data_stream))
        super().__init__(data_stream, **kwargs)

    def transform_source_batch(self, source, source_name):
        self._check_labels(source_name, batch=True)
        if isinstance(source, np.ndarray) and source.ndim == 4:
            height, width = self.window_shape
            slack_h, slack_w = source.shape[2] - height, source.shape[3] - width
            if slack_h < 0 or slack_w < 0:
                raise ValueError(f"RandomFixedSizeCrop: got a batch of images of size "
                                 f"{source.shape[2:]}, smaller than the window "
                                 f"{self.window_shape}")
            # Fuel's order: all the horizontal offsets, then all the vertical ones.
            offsets_w = self.rng.randint(0, slack_w + 1, size=len(source))
            offsets_h = self.rng.randint(0, slack_h + 1, size=len(source))
            return np.stack([image[:, h:h + height, w:w + width]
                             for image, h, w in zip(source, offsets_h, offsets_w)])
        return _map_batch(self, source, self._crop)

    def transform_source_example(self, example, source_name):
        self._check_labels(source_name, batch=False)
        return self._crop(example)

    def _crop(self, image):
        _check_image(self, image)
        height, width = self.window_shape
        slack_h, slack_w = image.shape[1] - height, image.shape[2] - width
        if slack_h < 0 or slack_w < 0:
            raise ValueError(f"RandomFixedSizeCrop: can't obtain a ({height}, {width}) window "
                             f"from an image of size {image.shape[1:]}")
        top = self.rng.randint(0, slack_h + 1) if slack_h > 0 else 0
        left = self.rng.randint(0, slack_w + 1) if slack_w > 0 else 0
        return image[:, top:top + height, left:left + width]


class Random2DRotation(SourcewiseTransformer, ExpectsAxisLabels):
    """Rotate every image by a random angle in ``[-maximum_rotation, maximum_rotation]``.

    The image keeps its size; corners rotated in are zeros.

    Parameters
    ----------
    data_stream : stream
    maximum_rotation : float, optional
        In radians, in (0, pi]. Defaults to pi.
    resample : {'nearest', 'bilinear', 'bicubic'}, optional
    rng : int or RandomState, optional
    which_sources : tuple of str, optional
    """

    def __init__(self, data_stream, maximum_rotation=math.pi, resample="nearest", rng=None,
                 **kwargs):
        if not 0 < maximum_rotation <= math.pi:
            raise ValueError(f"Random2DRotation: maximum_rotation ({maximum_rotation:.5f}) "
                             f"must be in the range (0, math.pi]")
        self.maximum_rotation = np.rad2deg(maximum_rotation)
        self.resample = _resample_filter(resample)
        self.rng = _as_rng(rng)
        kwargs.setdefault("produces_examples", stream_produces_examples(data_stream))
        super().__init__(data_stream, **kwargs)

    def transform_source_batch(self, source, source_name):
        self._check_labels(source_name, batch=True)
        angles = iter(self.rng.uniform(-self.maximum_rotation, self.maximum_rotation,
                                       len(source)))
        return _map_batch(self, source, lambda image: self._rotate(image, next(angles)))

    def transform_source_example(self, example, source_name):
        self._check_labels(source_name, batch=False)
        _check_image(self, example)
        angle = self.rng.uniform(-self.maximum_rotation, self.maximum_rotation)
        return self._rotate(example, angle)

    def _rotate(self, image, angle):
        _check_image(self, image)
        return _per_channel(image, lambda plane: plane.rotate(angle, resample=self.resample))
