"""The documentation's pages: their code runs, and every public module has an API page.

The code blocks of each page run in order in a fresh directory (under the suite's
FAST_COMPILE mode), so a page whose code breaks fails here, not in a reader's hands.
Building the HTML itself (``python -m sphinx -W -b html docs docs/_build/html``) needs
the ``docs`` extra and runs in ``.ci/run``.
"""

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS))

import api_pages  # noqa: E402
import pagecode  # noqa: E402

#: Pages whose code needs optional packages.
NEEDS = {"tutorial.rst": ["sklearn", "matplotlib"]}


@pytest.mark.parametrize("page", pagecode.pages_with_code(), ids=lambda page: page.name)
def test_page_code_runs(page, tmp_path):
    for module in NEEDS.get(page.name, []):
        pytest.importorskip(module)
    pagecode.run_page(page, tmp_path)


def test_guides_listed_in_the_index_exist_and_hold_code():
    entries = []
    in_toctree = False
    for line in (DOCS / "index.rst").read_text().splitlines():
        if line.startswith(".. toctree::"):
            in_toctree = True
        elif line and not line.startswith(" "):
            in_toctree = False
        elif in_toctree and line.strip() and not line.strip().startswith(":"):
            entries.append(line.strip())
    entries.remove("api/index")
    assert len(entries) >= 13
    with_code = {page.stem for page in pagecode.pages_with_code()}
    for entry in entries:
        assert (DOCS / f"{entry}.rst").exists(), entry
    # Every guide shows runnable code, except the one about reading benchmark tables.
    assert set(entries) - with_code == {"performance"}


def test_every_public_module_has_an_api_page():
    # Enumerate the modules from the files, independently of the generator's own walk.
    root = DOCS.parent / "blocks"
    expected = set()
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(part.startswith("_") for part in parts) or "__pycache__" in path.parts:
            continue
        expected.add(".".join(parts))
    generated = set(api_pages.public_modules())
    assert expected - generated == set(), "public modules without an API page"
    assert generated - expected == set()
    assert "blocks.bricks.recurrent.architectures" in generated
    assert ".. automodule:: blocks.bricks.simple" in api_pages.page_text("blocks.bricks.simple")


def test_python_blocks_are_extracted_with_their_options_left_out(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n.. code-block:: python\n   :caption: one\n\n"
        "   x = 1\n   if x:\n       y = 2\n\ntext\n\n.. code-block:: console\n\n   ls\n\n"
        ".. code-block:: python\n\n   # not run: needs a GPU\n   raise SystemExit\n")
    blocks = pagecode.python_blocks(page)
    assert [source for _, source in blocks] == [
        "x = 1\nif x:\n    y = 2", "# not run: needs a GPU\nraise SystemExit"]
    namespace = pagecode.run_page(page, tmp_path)
    assert namespace["y"] == 2


def test_blocks_that_need_a_missing_module_are_skipped(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        ".. code-block:: python\n\n   # needs: json, no_such_module_here\n   x = 1\n\n"
        ".. code-block:: python\n\n   # needs: json\n   y = 2\n\n"
        ".. code-block:: python\n\n   z = 3\n")
    namespace = pagecode.run_page(page, tmp_path)
    assert "x" not in namespace and namespace["y"] == 2 and namespace["z"] == 3
    assert pagecode.missing_modules("# needs: json, no_such_module_here\nx = 1") == [
        "no_such_module_here"]


def test_a_failing_block_names_its_page_and_line(tmp_path):
    page = tmp_path / "broken.rst"
    page.write_text("T\n=\n\n.. code-block:: python\n\n   1 / 0\n")
    with pytest.raises(RuntimeError, match=r"broken.rst, line 4.*ZeroDivisionError"):
        pagecode.run_page(page, tmp_path)
