"""Runnable examples on embedded data: ``python -m blocks.examples NAME``."""

EXAMPLES = {
    "quickstart": ("blocks.examples.quickstart", "an MLP learns two spirals (generated data)"),
    "mnist": ("blocks.examples.mnist",
              "an MLP classifies handwritten digits (scikit-learn's bundled 8x8 digits)"),
    "sqrt": ("blocks.examples.sqrt", "an MLP learns square roots (generated numbers)"),
}
DEFAULT_EXAMPLE = "quickstart"
