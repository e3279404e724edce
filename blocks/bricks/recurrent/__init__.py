"""Recurrent bricks: the recurrent decorator, standard transitions and helpers."""

from blocks.bricks.recurrent.architectures import LSTM, GatedRecurrent, SimpleRecurrent
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent
from blocks.bricks.recurrent.misc import RECURRENTSTACK_SEPARATOR, Bidirectional, RecurrentStack

__all__ = [
    "BaseRecurrent", "recurrent", "SimpleRecurrent", "LSTM", "GatedRecurrent",
    "Bidirectional", "RecurrentStack", "RECURRENTSTACK_SEPARATOR",
]
