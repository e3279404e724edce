"""Exceptions that compiled code raises with run-time values, formatted in Python.

Building a message in Numba code (``"shape " + str(n)``) makes Numba compile its string
functions into every kernel that does it: about four seconds for the first such kernel
of a process, and more code for LLVM to optimize in every graph that links it. Numba
raises an exception with run-time arguments without any of that, so our kernels raise
these with a template and the values, and the message is formatted only when Python
prints it.

>>> str(FormattedValueError("shapes {} and {} differ", (2, 3), (2, 4)))
'shapes (2, 3) and (2, 4) differ'
>>> isinstance(FormattedIndexError("index {}", 5), IndexError)
True
"""

__all__ = ["FormattedIndexError", "FormattedValueError", "literal"]


def literal(text):
    """`text` as a part of a template that formats to `text` itself.

    >>> literal("MLP{0}.apply") + ": {}"
    'MLP{{0}}.apply: {}'
    """
    return text.replace("{", "{{").replace("}", "}}")


class _Formatted:
    """Its message is ``args[0].format(*args[1:])``."""

    def __str__(self):
        if self.args and isinstance(self.args[0], str):
            return self.args[0].format(*self.args[1:])
        return super().__str__()


class FormattedValueError(_Formatted, ValueError):
    """A ``ValueError`` whose message is a template formatted with the other arguments."""


class FormattedIndexError(_Formatted, IndexError):
    """An ``IndexError`` whose message is a template formatted with the other arguments."""
