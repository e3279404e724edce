"""Extensions that write checkpoints of the training and load them back."""

import logging
import os

import numpy as np

from blocks.extensions import SimpleExtension, set_default_trigger
from blocks.serialization import (
    _named_parameters,
    check_writable,
    load_main_loop,
    load_parameters,
    secure_dump,
)

__all__ = ["Checkpoint", "Load", "SAVED_TO", "LOADED_FROM"]

logger = logging.getLogger(__name__)

#: The log record where :class:`Checkpoint` writes the paths it saved to.
SAVED_TO = "saved_to"
#: The log record where :class:`Load` writes the path it loaded from.
LOADED_FROM = "loaded_from"


def _parameter_dict(main_loop):
    """The trained parameters by hierarchical name: the model's, else the algorithm's."""
    model = main_loop.model
    if model is not None and hasattr(model, "get_parameter_dict"):
        return model.get_parameter_dict()
    return _named_parameters(getattr(main_loop.algorithm, "parameters", None))


class Checkpoint(SimpleExtension):
    """Save the main loop and the parameter values to one file, atomically.

    The checkpoint is written by :func:`~blocks.serialization.secure_dump`: a tar file
    holding the pickled main loop and the parameter values in ``.npz`` format keyed by
    hierarchical names (``/mlp/linear_0.W``), readable without unpickling by
    :func:`~blocks.serialization.load_parameters`. The previous checkpoint is replaced
    only once the new one is completely on disk.

    By default it saves after training and when training is interrupted (so that a
    Ctrl-C keeps the state reached); add triggers such as ``every_n_epochs=1`` to save
    during training. When training starts (or resumes) the extension checks that the
    path can be written, so a bad path fails before any training time is spent. The path
    saved to is recorded in the current log row as ``saved_to`` (before dumping, so the
    checkpoint contains it).

    Resuming: ``main_loop = blocks.serialization.load(path); main_loop.run()``
    (or :func:`~blocks.serialization.continue_training`) continues training with the
    state of the algorithm (e.g. momentum) and of the data stream. Loading is safe by
    default: it builds the classes of blocks, pytensor and numpy only, so a main loop
    that holds classes of your own (an extension, a stream mapping) loads with
    ``load(path, allowed=[MyExtension])``.

    Parameters
    ----------
    path : str
        The checkpoint file.
    parameters : list or dict of shared variables, optional
        The parameters whose values go to the ``.npz`` part; by default those of the main
        loop's model (``model.get_parameter_dict()``), else the algorithm's
        ``parameters``.
    save_separately : list of str, optional
        Attributes of the main loop (e.g. ``['log']``) also saved each in its own file,
        ``{root}_{attribute}{ext}`` for ``path = root + ext``.
    save_main_loop : bool
        If False, only the parameter values are saved.
    use_cpickle : bool
        Accepted for compatibility.
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`.
    """

    def __init__(self, path, parameters=None, save_separately=None, save_main_loop=True,
                 use_cpickle=False, **kwargs):
        kwargs.setdefault("after_training", True)
        kwargs.setdefault("on_interrupt", True)
        super().__init__(**kwargs)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Checkpoint: path must be a str or path; received {path!r}")
        self.path = os.fspath(path)
        self.parameters = parameters
        self.save_separately = list(save_separately or [])
        self.save_main_loop = save_main_loop
        self.use_cpickle = use_cpickle

    def save_separately_filenames(self, path):
        """The files of the attributes saved separately, by attribute name."""
        root, ext = os.path.splitext(path)
        return {attribute: f"{root}_{attribute}{ext}" for attribute in self.save_separately}

    def dispatch(self, callback_invoked, *from_main_loop):
        if callback_invoked in ("before_training", "on_resumption"):
            for path in [self.path, *self.save_separately_filenames(self.path).values()]:
                check_writable(path)
            missing = [attribute for attribute in self.save_separately
                       if not hasattr(self.main_loop, attribute)]
            if missing:
                raise ValueError(
                    f"Checkpoint: save_separately names {missing}, which the main loop "
                    f"does not have"
                )
        super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback, *args):
        _, from_user = self.parse_args(which_callback, args)
        path = from_user[0] if from_user else self.path
        filenames = self.save_separately_filenames(path)
        parameters = self.parameters
        if parameters is None:
            parameters = _parameter_dict(self.main_loop)
        row = self.main_loop.log.current_row
        row[SAVED_TO] = (path, *filenames.values())
        try:
            secure_dump(self.main_loop if self.save_main_loop else None, path,
                        parameters=parameters, use_cpickle=self.use_cpickle)
            for attribute, filename in filenames.items():
                secure_dump(getattr(self.main_loop, attribute), filename,
                            use_cpickle=self.use_cpickle)
        except BaseException:
            del row[SAVED_TO]
            raise


class Load(SimpleExtension):
    """Load parameter values (and optionally the log and the iteration state) at start.

    Meant for a freshly built main loop whose model has the same parameter names as the
    checkpoint's. Parameter values are read with
    :func:`~blocks.serialization.load_parameters`, without unpickling; the log and the
    iteration state need the pickled main loop. The state of the algorithm (e.g.
    momentum) is not loaded: to resume training exactly, load the whole main loop with
    :func:`~blocks.serialization.load` instead.

    A missing file is logged and skipped (training starts from scratch); a corrupt one,
    one that does not hold a main loop (when the log or the iteration state is asked
    for) or one that refers to code safe loading does not run raises
    :class:`~blocks.serialization.CheckpointError`.

    Parameters
    ----------
    path : str
    load_iteration_state : bool
        Also take the data stream and epoch iterator of the saved main loop.
    load_log : bool
        Also take the saved log: training then resumes from the saved counters.
    trusted : bool
        Unpickle the main loop without restriction (see
        :func:`~blocks.serialization.load`); by default only what checkpoints of this
        library are made of is unpickled.
    allowed : list of classes or functions, optional
        Also unpickled: e.g. the classes of your own extensions in the saved main loop
        (see :func:`~blocks.serialization.load`).
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension` (``before_training``
        when none is given).
    """

    def __init__(self, path, load_iteration_state=False, load_log=False, trusted=False,
                 allowed=(), **kwargs):
        set_default_trigger(kwargs, "before_training")
        super().__init__(**kwargs)
        self.path = os.fspath(path)
        self.trusted = trusted
        self.allowed = list(allowed)
        self.load_iteration_state = load_iteration_state
        self.load_log = load_log

    def load_to(self, main_loop):
        """Set the parameters (and log, iteration state) of `main_loop` from the file."""
        values = load_parameters(self.path)
        model = main_loop.model
        if model is not None and hasattr(model, "set_parameter_values"):
            model.set_parameter_values(values)
        else:
            targets = _parameter_dict(main_loop)
            unknown = sorted(set(values) - set(targets))
            if unknown:
                raise KeyError(
                    f"Load: the checkpoint {self.path!r} has parameters {unknown} that the "
                    f"main loop's algorithm does not train"
                )
            for name, value in values.items():
                old = targets[name].get_value(borrow=True)
                if np.shape(old) != value.shape:
                    raise ValueError(
                        f"Load: parameter {name!r} has shape {np.shape(old)}, the checkpoint "
                        f"holds shape {value.shape}"
                    )
                targets[name].set_value(value.astype(old.dtype, copy=False))
        if self.load_iteration_state or self.load_log:
            loaded = load_main_loop(self.path, trusted=self.trusted, allowed=self.allowed)
            if self.load_log:
                main_loop.log = loaded.log
            if self.load_iteration_state:
                main_loop.iteration_state = loaded.iteration_state

    def do(self, which_callback, *args):
        if not os.path.exists(self.path):
            logger.warning("Load: no checkpoint at %r, nothing loaded", self.path)
            return
        self.load_to(self.main_loop)
        self.main_loop.log.current_row[LOADED_FROM] = self.path
