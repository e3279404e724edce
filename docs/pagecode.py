"""The Python code of the documentation's pages, extracted to be run.

Every ``.. code-block:: python`` of a page is code a reader may copy; the blocks of one
page run in order in one namespace, like a session that follows the page. A block whose
first line is a comment starting with ``# not run:`` says why it cannot run here (e.g.
it needs several GPUs) and is skipped; one whose first line is ``# needs: package`` (a
comma-separated list of modules, from an optional extra) is skipped when one of them
cannot be imported. Used by the page-code test and by the build,
which runs the tutorial to draw its training curves.
"""

import contextlib
import importlib.util
import os
import re
from pathlib import Path

DOCS = Path(__file__).parent
_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: python\s*$")
SKIP_MARK = "# not run:"
NEEDS_MARK = "# needs:"


def python_blocks(page):
    """The Python code blocks of an reST page, as ``(line of the directive, source)`` pairs."""
    lines = Path(page).read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        index += 1
        if not match:
            continue
        start = index
        body = []
        # The block is the indented text after the directive (options, then a blank line).
        while index < len(lines) and (not lines[index].strip()
                                      or _indent(lines[index]) > len(match.group(1))):
            body.append(lines[index])
            index += 1
        code_lines = [line for line in body if not line.strip().startswith(":")]
        text = "\n".join(code_lines).strip("\n")
        indent = min((_indent(line) for line in code_lines if line.strip()), default=0)
        blocks.append((start, "\n".join(line[indent:] for line in text.splitlines())))
    return blocks


def _indent(line):
    return len(line) - len(line.lstrip())


def pages_with_code():
    """The pages of the documentation that hold Python code blocks."""
    return sorted(page for page in DOCS.glob("*.rst") if python_blocks(page))


def missing_modules(source):
    """The modules that a block marked ``# needs: ...`` names and that are not installed."""
    first_line = source.split("\n", 1)[0]
    if not first_line.startswith(NEEDS_MARK):
        return []
    names = [name.strip() for name in first_line[len(NEEDS_MARK):].split(",")]
    return [name for name in names if name and importlib.util.find_spec(name) is None]


def run_page(page, directory):
    """Run the code blocks of `page` in order with `directory` as the working directory.

    Returns the namespace they ran in. An exception names the page and the line of the
    block that raised it.
    """
    page = Path(page).resolve()
    namespace = {"__name__": "__docs__"}
    with contextlib.chdir(directory):
        for line, source in python_blocks(page):
            if source.startswith(SKIP_MARK) or missing_modules(source):
                continue
            code = compile(source, f"{Path(page).name}:{line}", "exec")
            try:
                exec(code, namespace)
            except Exception as error:
                raise RuntimeError(
                    f"the code block at {Path(page).name}, line {line}, failed: "
                    f"{type(error).__name__}: {error}") from error
    return namespace


__all__ = ["python_blocks", "pages_with_code", "missing_modules", "run_page", "SKIP_MARK",
           "NEEDS_MARK"]
os.environ.setdefault("MPLBACKEND", "Agg")
