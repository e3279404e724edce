"""Running an example quietly in a test, and checking that its cost went down."""

import contextlib
import io

from blocks.examples._common import run_example, training_curves
from blocks.serialization import load_main_loop


def run(module, argv):
    """Run example `module` with command line `argv`; return (main loop, figures, stdout).

    Also checks that the checkpoint written loads by safe loading (the examples resume
    with it), as a main loop of the same example.
    """
    out = io.StringIO()
    args = module.parser().parse_args(argv)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main_loop, figures = run_example(module.NAME, args, module.build, module.report)
    assert load_main_loop(args.save_to).example_name == module.NAME
    return main_loop, figures, out.getvalue()


def assert_cost_decreases(main_loop, record, epochs):
    done, values = training_curves(main_loop.log, [record])[record]
    assert done == list(range(epochs + 1))
    assert values[-1] < values[0]
