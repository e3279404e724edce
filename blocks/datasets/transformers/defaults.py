"""Default transformer pipelines of datasets (their ``default_transformers``)."""

from blocks.datasets.transformers.sourcewise import Cast, ScaleAndShift

__all__ = ["uint8_pixels_to_floatX"]


def uint8_pixels_to_floatX(which_sources):  # noqa: N802 -- Fuel's name
    """Scale byte pixels (0..255) of `which_sources` to [0, 1] and cast them to floatX.

    Examples
    --------
    >>> [transformer.__name__ for transformer, _, _ in uint8_pixels_to_floatX(('features',))]
    ['ScaleAndShift', 'Cast']
    """
    return ((ScaleAndShift, [1 / 255.0, 0], {"which_sources": which_sources}),
            (Cast, ["floatX"], {"which_sources": which_sources}))
