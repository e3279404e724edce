"""Sphinx extension: draws the documentation's pictures from code when the build starts.

- ``_generated/lifecycle.png``: the life cycle of a brick, from its description below;
- ``_generated/sequence_generator.png``: the parts of a sequence generator and what
  flows between them;
- ``_generated/training_curves.png``: the curves of the tutorial, by running the
  tutorial's own code blocks (:mod:`pagecode`), so the picture is what the page's code
  draws. It is redrawn only when the tutorial's code changes.

Nothing here is hand-made: change the text below or the tutorial, and the pictures
follow at the next build.
"""

import contextlib
import hashlib
import io
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pagecode  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

#: Boxes of the life cycle: name -> (x, y, label); arrows: (from, to, label).
LIFECYCLE_BOXES = {
    "construct": (0.0, 1.0, "construct\nLinear(input_dim=?,\nweights_init=?)"),
    "push_alloc": (2.6, 1.0, "push_allocation_config()\nparent -> children:\ndims"),
    "allocate": (5.2, 1.0, "allocate()\nshared variables\n(W, b) created"),
    "push_init": (5.2, -0.6,
                  "push_initialization_config()\nparent -> children:\nweights_init, ..."),
    "initialize": (2.6, -0.6, "initialize()\nvalues drawn\nfrom the schemes"),
    "apply": (0.0, -0.6, "apply(x)\nannotated graph;\nallocates if needed"),
}
LIFECYCLE_ARROWS = [
    ("construct", "push_alloc", ""),
    ("push_alloc", "allocate", ""),
    ("allocate", "push_init", ""),
    ("push_init", "initialize", ""),
    ("construct", "apply", "lazily: apply first,\ninitialize later"),
]

GENERATOR_BOXES = {
    "feedback": (0.0, -0.4, "feedback brick\n(LookupFeedback)\nembeds the last output"),
    "transition": (0.0, 1.2, "transition\n(a recurrent brick,\ne.g. GatedRecurrent)"),
    "attention": (2.6, -0.4, "attention\n(SequenceContentAttention)\nover the attended sequence"),
    "readout": (2.6, 1.2, "readout\nmerges states, glimpses\nand feedback"),
    "emitter": (5.2, 1.2, "emitter\n(SoftmaxEmitter)\ncosts or samples y_t"),
}
#: An arrow may go through waypoints (a list of (x, y)) before reaching its end.
GENERATOR_ARROWS = [
    ("feedback", "transition", "inputs"),
    ("transition", "readout", "states"),
    ("transition", "attention", "states"),
    ("attention", "readout", "glimpses"),
    ("readout", "emitter", "readouts"),
    ("emitter", "feedback", "y_t, fed back at step t+1", [(5.2, -1.35), (0.0, -1.35)]),
]


def draw_boxes(boxes, arrows, path, size):
    """Draw named boxes and labelled arrows between them into `path`."""
    figure, axes = plt.subplots(figsize=size)
    width, height = 2.1, 1.0
    for x, y, label in boxes.values():
        axes.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                      boxstyle="round,pad=0.05", facecolor="#e8f0fe",
                                      edgecolor="#3a5a9a"))
        axes.text(x, y, label, ha="center", va="center", fontsize=9.5)
    ys = [y for _, y, _ in boxes.values()]
    for start, end, label, *route in arrows:
        points = [boxes[start][:2], *(route[0] if route else []), boxes[end][:2]]
        # Lines start and end on the edges of the boxes, not at their centres.
        points[0] = _edge(points[0], points[1], width, height)
        points[-1] = _edge(points[-1], points[-2], width, height)
        for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
            axes.plot([x0, x1], [y0, y1], color="#555555", linewidth=1.2)
        axes.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>",
                                       mutation_scale=14, color="#555555"))
        if label:
            (x0, y0), (x1, y1) = points[len(points) // 2 - 1], points[len(points) // 2]
            vertical = x0 == x1
            axes.text((x0 + x1) / 2 + 0.06, (y0 + y1) / 2 + (0 if vertical else 0.04), label,
                      fontsize=8.5, color="#333333", ha="left" if vertical else "center",
                      va="center" if vertical else "bottom")
        ys += [y for _, y in points]
    xs = [x for x, _, _ in boxes.values()]
    axes.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    axes.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    axes.set_aspect("equal")
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _edge(centre, toward, width, height):
    """Where the line from a box's `centre` toward a point leaves the box."""
    (x, y), (tx, ty) = centre, toward
    dx, dy = tx - x, ty - y
    half_w, half_h = width / 2 + 0.08, height / 2 + 0.08
    scale = min(half_w / abs(dx) if dx else float("inf"),
                half_h / abs(dy) if dy else float("inf"))
    return (x + dx * scale, y + dy * scale)


def draw_training_curves(directory):
    """Run the tutorial's code and keep the plot it saves; skipped if its code is unchanged."""
    page = pagecode.DOCS / "tutorial.rst"
    code = "\n".join(source for _, source in pagecode.python_blocks(page))
    digest = hashlib.sha256(code.encode()).hexdigest()
    target = directory / "training_curves.png"
    stamp = directory / "training_curves.sha256"
    if target.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    from blocks.config import config

    previous = config.mode
    # The interpreted mode compiles this small model in seconds; the curves are the same.
    config.mode = "FAST_COMPILE"
    try:
        # What the tutorial prints belongs to its reader, not to the build's output.
        with tempfile.TemporaryDirectory() as work, \
                contextlib.redirect_stdout(io.StringIO()):
            pagecode.run_page(page, work)
            shutil.copy(Path(work) / "training_curves.png", target)
    finally:
        config.mode = previous
    stamp.write_text(digest)


def draw_all(app):
    directory = Path(app.srcdir) / "_generated"
    directory.mkdir(exist_ok=True)
    draw_boxes(LIFECYCLE_BOXES, LIFECYCLE_ARROWS, directory / "lifecycle.png", (8, 3.4))
    draw_boxes(GENERATOR_BOXES, GENERATOR_ARROWS, directory / "sequence_generator.png",
               (8, 3.8))
    draw_training_curves(directory)


def setup(app):
    app.connect("builder-inited", draw_all)
    return {"parallel_read_safe": True}
