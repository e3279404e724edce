"""Where the time goes: nested timed sections, summed over calls, and a report.

The main loop times its sections with them when ``blocks.config.profile`` is on and
prints the report at the end of :meth:`~blocks.main_loop.MainLoop.run`.
"""

import sys
import time
from collections import OrderedDict

__all__ = ["Profile", "Timer"]


class Profile:
    """Total times of nested sections, keyed by their path (``('training', 'epoch')``).

    Examples
    --------
    >>> profile = Profile()
    >>> with Timer('training', profile):
    ...     with Timer('epoch', profile):
    ...         pass
    >>> list(profile.total)
    [('training',), ('training', 'epoch')]
    """

    def __init__(self):
        self.total = OrderedDict()
        self.current = []

    def enter(self, name):
        """Start the section `name` inside the current one."""
        self.current.append(name)
        # Registered on entry so that the report lists sections in the order they began.
        self.total.setdefault(tuple(self.current), 0.0)

    def exit(self, elapsed):
        """End the current section, adding `elapsed` seconds to its total."""
        self.total[tuple(self.current)] += elapsed
        self.current.pop()

    def report(self, file=None):
        """Print one line per section, indented by depth: seconds and share of the total.

        The share is of the total of all outermost sections.

        >>> profile = Profile()
        >>> profile.enter('training'); profile.enter('epoch')
        >>> profile.exit(1.0); profile.exit(4.0)
        >>> profile.report(sys.stdout)
        Section                                       Time   % of total
        ---------------------------------------------------------------
        training                                    4.00 s      100.00%
          epoch                                     1.00 s       25.00%
        """
        file = file if file is not None else sys.stdout
        whole = sum(total for path, total in self.total.items() if len(path) == 1) or 1.0
        lines = [f"{'Section':<40}{'Time':>10}{'% of total':>13}", "-" * 63]
        for path in self._ordered():
            label = "  " * (len(path) - 1) + str(path[-1])
            total = self.total[path]
            lines.append(f"{label:<40}{total:>8.2f} s{100 * total / whole:>12.2f}%")
        print("\n".join(lines), file=file)

    def _ordered(self):
        # Depth first, children in the order they began: each path after its parent.
        children = OrderedDict()
        for path in self.total:
            children.setdefault(path[:-1], []).append(path)
        ordered, stack = [], list(reversed(children.get((), [])))
        while stack:
            path = stack.pop()
            ordered.append(path)
            stack.extend(reversed(children.get(path, [])))
        return ordered


class Timer:
    """A context manager timing the section `name` of `profile`.

    Parameters
    ----------
    name : str
    profile : Profile
    """

    def __init__(self, name, profile):
        self.name = name
        self.profile = profile

    def __enter__(self):
        self.profile.enter(self.name)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.profile.exit(time.perf_counter() - self.started)
