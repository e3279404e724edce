"""Command line entry point: ``python -m blocks.examples [NAME] [options]``."""

import importlib
import sys

from blocks.examples import DEFAULT_EXAMPLE, EXAMPLES


def usage():
    """The list of examples printed by ``--help``, one line each."""
    lines = ["usage: python -m blocks.examples [NAME] [options]", "",
             "Runnable examples on data that needs no download. Every example takes",
             "--num-epochs N, --save-to PATH (checkpoint; running the same command again",
             "resumes from it) and --seed S.", "", "examples:"]
    width = max(map(len, EXAMPLES))
    for name, (_, summary) in EXAMPLES.items():
        default = " (default)" if name == DEFAULT_EXAMPLE else ""
        lines.append(f"  {name:<{width}}  {summary}{default}")
    lines.append("")
    lines.append("python -m blocks.examples NAME --help shows the options of one example.")
    return "\n".join(lines)


def main(argv=None):
    """Run the example named by the first argument; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name = DEFAULT_EXAMPLE
    if argv and not argv[0].startswith("-"):
        name = argv.pop(0)
    if name not in EXAMPLES:
        print(f"error: unknown example {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from blocks.examples._common import ExampleError

    try:
        module = importlib.import_module(EXAMPLES[name][0])
        return module.main(argv) or 0
    except ExampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
