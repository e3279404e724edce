"""Watch a run in TensorBoard: the scalars of the log written as TensorBoard events.

Needs the ``tensorboard`` extra (``pip install blocks[tensorboard]``, which brings
tensorboardX); then ``tensorboard --logdir logs`` shows the curves while training runs.
"""

import numbers
import uuid

import numpy as np

from blocks.extensions import SimpleExtension, set_default_trigger

__all__ = ["TensorBoard"]


def _summary_writer(log_dir):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "TensorBoard: the tensorboardX package is needed to write TensorBoard events; "
            "install the extra: pip install 'blocks[tensorboard]'"
        ) from None
    # Event files are named after the second they are opened in; the suffix keeps a run
    # resumed (or a second writer opened) in the same second from overwriting one.
    return SummaryWriter(logdir=log_dir, filename_suffix=f".{uuid.uuid4().hex[:8]}")


def _scalar(value):
    """`value` as a float if it is a single number (a Python or numpy scalar, or an
    array of one element), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        return float(value.reshape(()))
    return None


class TensorBoard(SimpleExtension):
    """Write the numeric records of the log to TensorBoard event files.

    Every record of the current log row that is a single number (cost, monitored
    quantities, learning rate...) is written as a scalar whose step is the number of
    iterations done; records whose name starts with ``_`` are left out, and a record is
    written once per iteration however many times the extension runs in it. Event files
    are flushed at each call and closed when training ends, so TensorBoard shows a run as
    it goes.

    Parameters
    ----------
    log_dir : str, optional
        The folder of the event files (created if needed), ``'logs'`` by default; give
        each run its own folder to compare runs in TensorBoard.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`; by default after every
        batch and every epoch, and after training.

    Notes
    -----
    Needs tensorboardX (the ``tensorboard`` extra). The writer is not pickled with a
    checkpoint: a resumed run opens a new event file in the same folder, which
    TensorBoard reads as the continuation of the run.

    Examples
    --------
    >>> extension = TensorBoard(log_dir='logs/run_1', every_n_batches=10)
    >>> extension.log_dir
    'logs/run_1'
    """

    def __init__(self, log_dir="logs", **kwargs):
        if len(set_default_trigger(dict(kwargs), "after_batch")) > len(kwargs):
            # No trigger was given: every batch, and every epoch for the monitored records.
            kwargs.update(after_batch=True, after_epoch=True)
        kwargs.setdefault("after_training", True)
        super().__init__(**kwargs)
        self.log_dir = log_dir
        self._writer = None
        self._written = (None, set())

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_writer"] = None
        return state

    @property
    def writer(self):
        """The tensorboardX ``SummaryWriter``, opened at first use."""
        if self._writer is None:
            self._writer = _summary_writer(self.log_dir)
        return self._writer

    def do(self, which_callback, *args):
        log = self.main_loop.log
        iteration = log.status["iterations_done"]
        written_iteration, written = self._written
        if written_iteration != iteration:
            written = set()
        for name, value in log.current_row.items():
            scalar = _scalar(value)
            if name.startswith("_") or name in written or scalar is None:
                continue
            self.writer.add_scalar(name, scalar, global_step=iteration)
            written.add(name)
        self._written = (iteration, written)
        if self._writer is not None:
            self._writer.flush()

    def dispatch(self, callback_invoked, *from_main_loop):
        super().dispatch(callback_invoked, *from_main_loop)
        if str(callback_invoked) in ("after_training", "on_interrupt", "on_error"):
            self.close()

    def close(self):
        """Flush and close the event file (a later write opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
