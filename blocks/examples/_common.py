"""What every example shares: its command line, main loop, checkpoints and plots.

An example module defines ``build(args)``, which returns an :class:`Experiment` (the
cost, the data and what to monitor), ``report(main_loop, args)``, which prints what the
trained model does and returns its figures, and ``parser()``, made with
:func:`make_parser`. :func:`run_example` does the rest:

- a checkpoint already at ``--save-to`` written by the same example is loaded and its
  training resumed (when it already holds ``--num-epochs`` epochs, only reported);
- otherwise the experiment is built and a :class:`~blocks.main_loop.MainLoop` assembled
  with a progress bar, monitoring of the training and held-out data, one line of figures
  per epoch, a plot of the training curves (``PATH.png`` beside the checkpoint
  ``PATH.tar``), :class:`~blocks.extensions.nan_guard.TerminateOnNaN` (a NaN or an
  infinity in the cost or the parameters stops training with a message, the last
  checkpoint kept) and checkpoints: after epochs (at most every
  :data:`CHECKPOINT_INTERVAL` seconds), at the end, and on Ctrl-C.

Examples compute in float32 (``floatX`` is set while they build and run) with PyTensor's
current mode (the Numba backend by default). Problems the user can fix (a path that
cannot be written, a checkpoint of another example) raise :class:`ExampleError`, which
the command line prints as one message.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time

import pytensor

from blocks import backend
from blocks.config import config
from blocks.extensions import SimpleExtension

__all__ = [
    "ExampleError", "Experiment", "make_parser", "positive_int", "run_example",
    "command_line", "last_records", "exact_mean", "training_curves", "plot_path",
    "shown_path", "EpochLine",
    "PlotCurves", "AtMostEvery",
]

#: The exit status of a run stopped by Ctrl-C (as a shell reports a SIGINT).
INTERRUPTED_STATUS = 130
#: At least this many seconds between two plots (or checkpoints) written after epochs.
PLOT_INTERVAL = 20.0
CHECKPOINT_INTERVAL = 10.0


class ExampleError(Exception):
    """A problem with an example's input that the user can fix; printed without traceback."""


def positive_int(text):
    """An argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def make_parser(name, description, num_epochs, seed=1, parser_class=argparse.ArgumentParser):
    """The argument parser of an example, with the options every example takes.

    ``--num-epochs``, ``--save-to`` (``NAME.tar`` in the current directory by default),
    ``--seed`` and ``--mode`` (the backend); the example adds its own options to the
    parser returned, an instance of `parser_class` (a subclass of
    ``argparse.ArgumentParser``, e.g. one that fills in defaults that depend on other
    options).

    >>> parser = make_parser('sqrt', 'Square roots.', num_epochs=5)
    >>> args = parser.parse_args(['--seed', '3', '--mode', 'jax'])
    >>> args.num_epochs, args.save_to, args.seed, args.mode
    (5, 'sqrt.tar', 3, 'jax')
    """
    parser = parser_class(
        prog=f"python -m blocks.examples {name}", description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--num-epochs", type=positive_int, default=num_epochs,
                        help="train until this many epochs are done in all")
    parser.add_argument("--save-to", default=f"{name}.tar", metavar="PATH",
                        help="checkpoint, written after epochs (at most every "
                             f"{CHECKPOINT_INTERVAL:g} s), at the end and on Ctrl-C; when it "
                             "exists, training resumes from it. The plot of the training "
                             "curves goes beside it, with the extension .png")
    parser.add_argument("--seed", type=int, default=seed,
                        help="seed of the initial parameters and of the order of the data")
    parser.add_argument("--mode", default=None, metavar="MODE",
                        help="backend to compile for: numba, jax, fast_compile, ... "
                             "(default: BLOCKS_MODE, else PyTensor's default, Numba)")
    return parser


class Experiment:
    """What an example trains: a cost, the data, a step rule, and what to monitor.

    Parameters
    ----------
    cost : TensorVariable
        The scalar minimized (named ``cost`` unless named already); averaged over the
        training batches of each epoch and logged as ``train_{name}``.
    train_stream : data stream
        The training batches, their sources named as the inputs of the cost.
    step_rule : :class:`~blocks.algorithms.StepRule`
    monitored : list of Variable, optional
        More named variables averaged over the training batches of each epoch.
    evaluations : list of (str, data stream, list of Variable), optional
        ``(prefix, stream, variables)``: the variables averaged over the whole stream
        before training and after every epoch, logged as ``{prefix}_{name}``.
    extras : dict, optional
        What the example's report needs later (bricks, vocabularies...); saved in the
        checkpoint as ``main_loop.example_extras``.
    """

    def __init__(self, cost, train_stream, step_rule, monitored=(), evaluations=(),
                 extras=None):
        if not getattr(cost, "name", None):
            cost.name = "cost"
        self.cost = cost
        self.train_stream = train_stream
        self.step_rule = step_rule
        self.monitored = [cost, *monitored]
        self.evaluations = [(prefix, stream, list(variables))
                            for prefix, stream, variables in evaluations]
        self.extras = dict(extras or {})

    def record_names(self):
        """The log records of the monitored quantities, training ones first."""
        names = [f"train_{variable.name}" for variable in self.monitored]
        for prefix, _, variables in self.evaluations:
            names += [f"{prefix}_{variable.name}" for variable in variables]
        return names


def exact_mean(variable, weight, name):
    """`variable`, a mean over `weight` items of a batch, monitored as an exact mean.

    Aggregated over the batches of an epoch it gives ``sum(variable * weight) /
    sum(weight)``: e.g. a cost per symbol weighted by the symbols of each batch, or a
    per-sequence cost of time-major batches weighted by their number of sequences
    (whose batch size the monitoring would otherwise take from the time axis).
    """
    from blocks.monitoring.aggregation import mean

    result = mean(variable * weight, weight)
    result.name = name
    return result


def shown_path(path):
    """`path` as the user is shown it: relative to the working directory when inside it.

    >>> shown_path(os.path.join(os.getcwd(), 'sqrt.tar'))
    'sqrt.tar'
    >>> shown_path('/')
    '/'
    """
    relative = os.path.relpath(path)
    return path if relative == os.pardir or relative.startswith(os.pardir + os.sep) \
        else relative


def plot_path(save_to):
    """The training-curves plot beside a checkpoint.

    >>> plot_path('/tmp/mnist.tar')
    '/tmp/mnist.png'
    """
    root, _ = os.path.splitext(save_to)
    return root + ".png"


def training_curves(log, record_names):
    """The per-epoch values of records of a training log.

    Epoch 0 is the state before training (the row of iteration 0), epoch k the row at
    which the k-th epoch ended.

    Returns
    -------
    dict
        Record name -> ``(epochs, values)``, for the records logged at least once.

    >>> from blocks.log import TrainingLog
    >>> log = TrainingLog()
    >>> log[0]['test_cost'] = 3.0
    >>> log.status['_epoch_ends'] = [5, 10]
    >>> log[5]['test_cost'], log[10]['test_cost'] = 2.0, 1.5
    >>> training_curves(log, ['test_cost', 'train_cost'])
    {'test_cost': ([0, 1, 2], [3.0, 2.0, 1.5])}
    """
    curves = {}
    for epoch, iteration in enumerate([0, *log.status["_epoch_ends"]]):
        row = log[iteration] if iteration in log else {}
        for name in record_names:
            if name in row:
                epochs, values = curves.setdefault(name, ([], []))
                epochs.append(epoch)
                values.append(float(row[name]))
    return curves


def last_records(main_loop):
    """The records of the row where the last epoch ended (or of iteration 0)."""
    log = main_loop.log
    ends = log.status["_epoch_ends"]
    return dict(log[ends[-1] if ends else 0])


def _format_value(value):
    return f"{float(value):.4g}"


class EpochLine(SimpleExtension):
    """Print one line of monitored records before training and after every epoch.

    The time of the epoch (from :class:`~blocks.extensions.Timing`'s records) leaves
    out the first batch that the process trains, which compiles the training step: the
    progress bar reports that as its own phase, and the line says ``(4.12 s; compiling
    41 s)``.

    Parameters
    ----------
    record_names : list of str
        The records printed, when present in the current row of the log.
    num_epochs : int
        The number of epochs of the run, printed as ``epoch 3/10``.
    """

    def __init__(self, record_names, num_epochs, **kwargs):
        kwargs.setdefault("before_first_epoch", True)
        kwargs.setdefault("after_epoch", True)
        super().__init__(**kwargs)
        self.record_names = list(record_names)
        self.num_epochs = num_epochs
        self._expect_compilation()

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._expect_compilation()  # in a new process the step compiles again

    def _expect_compilation(self):
        self._compile_pending = True
        self._compiling_since = None
        self._compile_seconds = 0.0

    def dispatch(self, callback_invoked, *from_main_loop):
        if self._compile_pending and callback_invoked == "before_batch":
            self._compiling_since = time.perf_counter()
        elif self._compile_pending and callback_invoked == "after_batch":
            self._compile_seconds = time.perf_counter() - self._compiling_since
            self._compile_pending = False
        super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback, *args):
        row = self.main_loop.log.current_row
        epochs = self.main_loop.status["epochs_done"]
        parts = [f"epoch {epochs:>{len(str(self.num_epochs))}}/{self.num_epochs}"]
        parts += [f"{name} {_format_value(row[name])}" for name in self.record_names
                  if name in row]
        if "time_train_this_epoch" in row:
            seconds = (row["time_train_this_epoch"] + row.get("time_read_data_this_epoch", 0)
                       - self._compile_seconds)
            text = f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
            if self._compile_seconds:
                text += f"; compiling {self._compile_seconds:.0f} s"
                self._compile_seconds = 0.0
            parts.append(f"({text})")
        print("  ".join(parts), flush=True)


class AtMostEvery:
    """A condition of extensions: true when `seconds` passed since it was last true.

    Picklable; in a new process (a resumed run) it starts over, true at its first call.

    >>> condition = AtMostEvery(3600)
    >>> condition(None), condition(None)
    (True, False)
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self._last = None

    def __call__(self, log):
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_last"] = None  # a monotonic time means nothing in another process
        return state


class PlotCurves(SimpleExtension):
    """Plot the per-epoch monitored records into a PNG file (with matplotlib's Agg).

    Records ``{prefix}_{quantity}`` share a panel per quantity (``train_cost`` and
    ``test_cost`` in "cost"). The file is replaced atomically. Without matplotlib a
    message says so, once, and training goes on. Give the triggers (e.g.
    ``after_training=True``), or add conditions with
    :meth:`~blocks.extensions.SimpleExtension.add_condition`.

    Parameters
    ----------
    path : str
    record_names : list of str
    title : str
    **kwargs
        Triggers of :class:`~blocks.extensions.SimpleExtension`.
    """

    def __init__(self, path, record_names, title="", **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self.record_names = list(record_names)
        self.title = title
        self.disabled = False

    def do(self, which_callback, *args):
        self.plot()

    def plot(self):
        """Write the plot now; returns whether a file was written."""
        if self.disabled:
            return False
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            self.disabled = True
            print("matplotlib is not installed, so the training curves are not plotted "
                  "(pip install 'blocks[examples]' to get the plot)", file=sys.stderr)
            return False
        curves = training_curves(self.main_loop.log, self.record_names)
        if not curves:
            return False
        panels = {}
        for name in self.record_names:
            if name in curves:
                prefix, _, quantity = name.partition("_")
                panels.setdefault(quantity, []).append((prefix, curves[name]))
        figure = Figure(figsize=(4 * len(panels), 3.2))
        FigureCanvasAgg(figure)
        for index, (quantity, lines) in enumerate(panels.items()):
            axes = figure.add_subplot(1, len(panels), index + 1)
            for prefix, (epochs, values) in lines:
                axes.plot(epochs, values, marker="o", markersize=3, label=prefix)
            values = [value for _, (_, curve) in lines for value in curve]
            if min(values) > 0 and max(values) > 100 * min(values):
                axes.set_yscale("log")
            axes.set_title(quantity.replace("_", " "))
            axes.set_xlabel("epoch")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(alpha=0.3)
            axes.legend()
        if self.title:
            figure.suptitle(self.title)
        # Fixed margins: tight_layout would cost more than drawing the plot.
        figure.subplots_adjust(left=0.08, right=0.97, bottom=0.15, top=0.82, wspace=0.3)
        _write_atomically(self.path, lambda file_: figure.savefig(file_, format="png", dpi=80))
        return True


def _write_atomically(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".plot-", suffix=".png")
    try:
        with os.fdopen(descriptor, "wb") as file_:
            write(file_)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


# Checkpoints


def _prepare_save_to(path):
    """The absolute checkpoint path, its directory created; ExampleError if unwritable."""
    from blocks.serialization import check_writable

    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        raise ExampleError(f"--save-to {path} is a directory; give the path of a file")
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        reason = ("a file is in its way" if isinstance(error, FileExistsError)
                  else error.strerror or error)
        raise ExampleError(
            f"cannot write the checkpoint --save-to {path}: cannot create the directory "
            f"{directory} ({reason})") from None
    try:
        check_writable(path)
    except OSError as error:
        raise ExampleError(f"--save-to: {error}") from None
    return path


def _load_checkpoint(path, name):
    """The main loop saved at `path` by the example `name`; None if there is no file."""
    from blocks.main_loop import MainLoop
    from blocks.safe_unpickling import ForbiddenGlobal
    from blocks.serialization import CheckpointError, load

    if not os.path.exists(path):
        return None
    advice = "delete it or choose another --save-to"
    try:
        # Safe loading: a file that names other code is refused before anything runs.
        main_loop = load(path)
    except CheckpointError as error:
        forbidden = error.__cause__
        if isinstance(forbidden, ForbiddenGlobal):
            raise ExampleError(
                f"{path} exists but was not resumed: it refers to "
                f"{forbidden.qualified_name}, which no checkpoint of a Blocks example "
                f"holds (it may be harmful; {advice})") from None
        raise ExampleError(
            f"{path} exists but cannot be resumed: {error} ({advice})") from None
    owner = getattr(main_loop, "example_name", None)
    if not isinstance(main_loop, MainLoop) or owner is None:
        raise ExampleError(f"{path} is not a checkpoint of a Blocks example ({advice})")
    if owner != name:
        raise ExampleError(
            f"{path} is a checkpoint of the example {owner!r}, not {name!r} ({advice}, "
            f"or resume it with: python -m blocks.examples {owner} --save-to {path})")
    return main_loop


def _adapt(main_loop, args, path):
    """Point a loaded main loop at this run's number of epochs and paths."""
    main_loop.find_extension("FinishAfter").set_conditions(after_n_epochs=args.num_epochs)
    main_loop.find_extension("Checkpoint").path = path
    main_loop.find_extension("PlotCurves").path = plot_path(path)
    main_loop.find_extension("EpochLine").num_epochs = args.num_epochs


def _assemble(name, experiment, args, path):
    from blocks.algorithms import GradientDescent
    from blocks.extensions import FinishAfter, ProgressBar, Timing
    from blocks.extensions.monitoring import DataStreamMonitoring, TrainingDataMonitoring
    from blocks.extensions.nan_guard import TerminateOnNaN
    from blocks.extensions.saveload import Checkpoint
    from blocks.main_loop import MainLoop
    from blocks.model import Model

    model = Model(experiment.cost)
    devices = getattr(args, "devices", None)
    algorithm = GradientDescent(cost=experiment.cost, parameters=model.parameters,
                                step_rule=experiment.step_rule, devices=devices)
    records = experiment.record_names()
    extensions = [
        Timing(),
        TrainingDataMonitoring(experiment.monitored, prefix="train", after_epoch=True),
        *[DataStreamMonitoring(variables, stream, prefix=prefix, devices=devices)
          for prefix, stream, variables in experiment.evaluations],
        ProgressBar(),
        EpochLine(records, args.num_epochs),
        # Drawing a plot and pickling a checkpoint take a while: not after every epoch
        # of an example whose epochs are short. Ctrl-C still writes the checkpoint.
        PlotCurves(plot_path(path), records, title=f"blocks example: {name}",
                   after_training=True, on_interrupt=True).add_condition(
                       ["after_epoch"], predicate=AtMostEvery(PLOT_INTERVAL)),
        # Before Checkpoint: a batch that makes the model non-finite stops training
        # before anything saves it.
        TerminateOnNaN(),
        Checkpoint(path, after_training=True, on_interrupt=True).add_condition(
            ["after_epoch"], predicate=AtMostEvery(CHECKPOINT_INTERVAL)),
        FinishAfter(after_n_epochs=args.num_epochs),
    ]
    main_loop = MainLoop(algorithm, experiment.train_stream, model=model,
                         extensions=extensions)
    main_loop.example_name = name
    main_loop.example_extras = experiment.extras
    return main_loop


def _one_blas_thread():
    """Limit BLAS to one thread while an example runs (when threadpoolctl is installed).

    The examples multiply small matrices, which a second BLAS thread hardly speeds up;
    on a machine busy with other work, BLAS threads waiting for a core made their
    training steps ten times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    # Compiled code calls the BLAS that SciPy bundles, loaded on first use: load it now,
    # so that the limit applies to it too.
    import scipy.linalg.cython_blas  # noqa: F401

    return threadpool_limits(limits=1, user_api="blas")


@contextlib.contextmanager
def _backend_mode(mode):
    """Make `mode` (if given) the mode of everything the example compiles."""
    previous = config.mode
    if mode:
        config.mode = backend.resolve_mode(mode)
    try:
        yield
    finally:
        config.mode = previous


def _train(main_loop, path):
    from blocks.extensions.nan_guard import NonFiniteError

    try:
        main_loop.run()
    except NonFiniteError as error:
        kept = (f"{path} keeps the checkpoint written before" if os.path.exists(path)
                else "No checkpoint had been written yet")
        raise ExampleError(f"{error} {kept}; a smaller --learning-rate may help.") from None


def run_example(name, args, build, report=None):
    """Build (or resume from ``args.save_to``), train and report an example.

    Parameters
    ----------
    name : str
        The example's name, recorded in its checkpoints.
    args : argparse.Namespace
        From the example's parser (``num_epochs``, ``save_to``, ``seed``, and its own).
    build : callable
        ``build(args)`` -> :class:`Experiment`; called only when not resuming.
    report : callable, optional
        ``report(main_loop, args)`` -> dict of figures, called after training.

    Returns
    -------
    main_loop : :class:`~blocks.main_loop.MainLoop`
    figures : dict or None
        The report's figures (with ``wall_time``), None if training was interrupted.

    Raises
    ------
    ExampleError
        If ``--save-to`` cannot be written or holds something else than a checkpoint
        of this example.
    """
    started = time.perf_counter()
    with pytensor.config.change_flags(floatX="float32"), _one_blas_thread(), \
            _backend_mode(getattr(args, "mode", None)):
        print(f"{name}: compiling for {backend.backend_name()}.", flush=True)
        path = _prepare_save_to(args.save_to)
        main_loop = _load_checkpoint(path, name)
        if main_loop is None:
            main_loop = _assemble(name, build(args), args, path)
        else:
            _adapt(main_loop, args, path)
            print(f"Resuming from {path}: {main_loop.status['epochs_done']} epoch(s) done "
                  f"(the checkpoint's model and options apply).", flush=True)
        done = main_loop.status["epochs_done"]
        if done >= args.num_epochs:
            print(f"Nothing to train: the checkpoint holds {done} epoch(s) and "
                  f"--num-epochs is {args.num_epochs}. Delete {path} to start afresh.")
        else:
            if done == 0:
                print(f"Training for {args.num_epochs} epochs, after compiling the model "
                      f"(minutes the first time on a machine, then cached).", flush=True)
            _train(main_loop, path)
        if main_loop.status["training_interrupted"]:
            print(f"\nTraining interrupted; the checkpoint {shown_path(path)} holds the state "
                  f"reached. Run the same command again to resume.", flush=True)
            return main_loop, None
        figures = dict(report(main_loop, args) if report is not None else {})
    figures["wall_time"] = time.perf_counter() - started
    plot = (f"training curves: {shown_path(plot_path(path))}; "
            if os.path.exists(plot_path(path)) else "")
    print(f"Checkpoint: {shown_path(path)}; {plot}wall time {figures['wall_time']:.1f} s.")
    return main_loop, figures


def command_line(name, parser, build, report, argv=None):
    """Parse `argv`, run the example, and return its exit status (0, or 130 if stopped)."""
    args = parser.parse_args(argv)
    _, figures = run_example(name, args, build, report)
    return INTERRUPTED_STATUS if figures is None else 0
