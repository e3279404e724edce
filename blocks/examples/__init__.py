"""Runnable examples on embedded data: ``python -m blocks.examples NAME``.

:data:`EXAMPLES` maps each name to its module and a one-line summary; every module has
``parser()``, ``build(args)``, ``report(main_loop, args)`` and ``main(argv)`` (see
:mod:`blocks.examples._common`).
"""

EXAMPLES = {
    "reverse_words": ("blocks.examples.reverse_words",
                      "an attention encoder-decoder learns to reverse the letters of words"),
    "markov_chain": ("blocks.examples.markov_chain",
                     "a sequence generator learns a known Markov chain"),
    "mnist": ("blocks.examples.mnist",
              "an MLP classifies handwritten digits (scikit-learn's bundled 8x8 digits)"),
    "lenet": ("blocks.examples.lenet", "a convolutional network classifies the same digits"),
    "sqrt": ("blocks.examples.sqrt", "an MLP learns square roots (generated numbers)"),
    "quickstart": ("blocks.examples.quickstart", "an MLP learns two spirals (generated data)"),
}
DEFAULT_EXAMPLE = "reverse_words"
