"""Screenshots of built pages in headless Chromium, to look at them as a reader would.

    python docs/screenshots.py [OUTPUT_DIR]

Takes the index, the tutorial and an API page of ``docs/_build/html`` (build it first)
at a laptop's width and a phone's, into OUTPUT_DIR (``docs/_build/screenshots`` by
default; not committed). Needs Debian's ``chromium`` package.
"""

import shutil
import subprocess
import sys
from pathlib import Path

HTML = Path(__file__).resolve().parent / "_build" / "html"
PAGES = ["index", "tutorial", "api/blocks.bricks.simple", "sequence_generators"]
#: (label, width, height) of the windows.
WINDOWS = [("wide", 1280, 2400), ("narrow", 420, 2400)]


def screenshot(page, directory, label, width, height, browser):
    target = directory / f"{page.replace('/', '_')}-{label}.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},{height}", f"--screenshot={target}",
         (HTML / f"{page}.html").as_uri()],
        check=True, capture_output=True, timeout=120)
    return target


def main(argv):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("screenshots.py: no chromium on PATH (apt-get install -y chromium)")
    if not (HTML / "index.html").exists():
        sys.exit(f"screenshots.py: build the documentation first ({HTML} has no index.html)")
    directory = Path(argv[0]) if argv else HTML.parent / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        for label, width, height in WINDOWS:
            print(screenshot(page, directory, label, width, height, browser))


if __name__ == "__main__":
    main(sys.argv[1:])
