"""Blocks-era training scripts, ported by renaming theano to pytensor and fuel to
blocks.datasets, run unchanged (issue 18).

Each script is run as a program would be (``runpy``) in the test process, whose
PyTensor mode is FAST_COMPILE (conftest.py), and the state it leaves is checked.
"""

import os
import runpy

import numpy as np
import pytest

HERE = os.path.dirname(__file__)


def run_script(name, capsys):
    namespace = runpy.run_path(os.path.join(HERE, name), run_name="__main__")
    return namespace, capsys.readouterr().out


def test_attention_encoder_decoder_with_a_custom_initial_state(capsys):
    namespace, out = run_script("blocks_attention_translation.py", capsys)
    main_loop = namespace["main_loop"]
    assert main_loop.status["iterations_done"] == 3
    costs = [main_loop.log[i]["decoder_cost"] for i in (1, 2, 3)]
    assert all(np.isfinite(costs))
    # Printing wrote Blocks' rows; Timing recorded the algorithm's initialization.
    assert "\t decoder_cost: " in out and "BEFORE FIRST EPOCH" in out
    assert main_loop.log[0]["time_initialization"] > 0
    assert min(costs) > 0
    # The decoder's initial state came from the attended sequence: its transformer
    # trained, and the decoder has no initial_state parameter of its own.
    decoder = namespace["decoder"]
    names = {p.name for p in decoder.transition.parameters}
    assert names == {"state_to_state", "state_to_gates"}
    initializer = decoder.transition.initial_transformer.linear_transformations[0]
    assert initializer.W in main_loop.algorithm.parameters
    # The readout's output keeps Blocks' undeclared name.
    assert "readout_readout_output_0" in [v.name for v in namespace["readouts"]]
