"""The exceptions of Fuel's ``fuel.exceptions`` that streams raise."""

__all__ = ["AxisLabelsMismatchError"]


class AxisLabelsMismatchError(ValueError):
    """A stream's axis labels are not those a transformer expects."""
