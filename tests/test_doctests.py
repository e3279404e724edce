"""Examples in the docstrings of application methods are collected and run as doctests.

An application method is an :class:`~blocks.bricks.base.Application` on its class, not
a function, and doctest skips class attributes it cannot place in the module being
searched. The bricks below carry examples of their own, so that losing the collection
is noticed even when no brick of ``blocks/`` has one.
"""

import doctest
import sys

from blocks.bricks.base import Brick, application
from blocks.bricks.recurrent import BaseRecurrent, recurrent


class Doubler(Brick):
    @application(inputs=["x"], outputs=["y"])
    def apply(self, x):
        """Double the input.

        >>> import pytensor.tensor as pt
        >>> float(Doubler().apply(pt.constant(3.0)).eval())
        6.0
        """
        return 2 * x


class Counter(BaseRecurrent):
    @recurrent(sequences=[], states=["count"], outputs=["count"], contexts=[])
    def apply(self, count):
        """Add one to the count at every step.

        >>> Counter.apply.states
        ['count']
        """
        return count + 1


def _application_doctests():
    tests = doctest.DocTestFinder().find(sys.modules[__name__])
    return {test.name: test for test in tests if test.examples}


def test_application_examples_are_collected_under_the_method_name():
    names = set(_application_doctests())
    assert {f"{__name__}.Doubler.apply", f"{__name__}.Counter.apply"} <= names


def test_application_examples_run():
    for name in ("Doubler.apply", "Counter.apply"):
        test = _application_doctests()[f"{__name__}.{name}"]
        runner = doctest.DocTestRunner(verbose=False)
        result = runner.run(test, out=lambda _: None)
        assert result == (0, len(test.examples)), name


def test_application_examples_report_their_lines():
    # Plain and recurrent applications wrap their function differently; a failure in
    # either must point at the example's own line.
    with open(__file__) as source:
        lines = source.read().splitlines()
    for name in ("Doubler.apply", "Counter.apply"):
        test = _application_doctests()[f"{__name__}.{name}"]
        assert test.lineno is not None, name
        for example in test.examples:
            line = lines[test.lineno + example.lineno].strip()
            assert line == ">>> " + example.source.strip(), name
