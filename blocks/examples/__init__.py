"""Runnable examples on embedded data: ``python -m blocks.examples NAME``."""

EXAMPLES = {
    "quickstart": ("blocks.examples.quickstart", "an MLP learns two spirals (generated data)"),
}
DEFAULT_EXAMPLE = "quickstart"
