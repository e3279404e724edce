"""Running an example quietly in a test, and checking that its cost went down."""

import contextlib
import io

from blocks.examples._common import run_example, training_curves


def run(module, argv):
    """Run example `module` with command line `argv`; return (main loop, figures, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main_loop, figures = run_example(module.NAME, module.parser().parse_args(argv),
                                         module.build, module.report)
    return main_loop, figures, out.getvalue()


def assert_cost_decreases(main_loop, record, epochs):
    done, values = training_curves(main_loop.log, [record])[record]
    assert done == list(range(epochs + 1))
    assert values[-1] < values[0]
