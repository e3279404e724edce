"""Recurrent bricks: the recurrent decorator, standard transitions and helpers."""

from blocks.bricks.recurrent.architectures import LSTM, GatedRecurrent, SimpleRecurrent
from blocks.bricks.recurrent.base import BaseRecurrent, recurrent

__all__ = ["BaseRecurrent", "recurrent", "SimpleRecurrent", "LSTM", "GatedRecurrent"]
