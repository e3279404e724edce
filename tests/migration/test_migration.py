"""Blocks-era training scripts, ported by renaming theano to pytensor and fuel to
blocks.datasets, run unchanged (issue 18).

Each script is run as a program would be (``runpy``) in the test process, whose
PyTensor mode is FAST_COMPILE (conftest.py), and the state it leaves is checked.
"""

import os
import runpy

import numpy as np

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


def test_mnist_mlp_of_blocks_tutorial_monitored_with_aggregation_mean(
        tmp_path, monkeypatch, capsys):
    from blocks.config import config
    from tests.datasets.test_file_datasets import TEST_LABELS, write_mnist_idx

    write_mnist_idx(str(tmp_path))
    monkeypatch.setenv("BLOCKS_DATA_PATH", str(tmp_path))
    monkeypatch.delenv("FUEL_DATA_PATH", raising=False)
    try:  # the setting, where the configuration declares it
        monkeypatch.setattr(config, "data_path", str(tmp_path), raising=False)
    except AttributeError:
        pass
    namespace, out = run_script("blocks_mnist_mlp.py", capsys)
    main_loop = namespace["main_loop"]
    assert main_loop.status["epochs_done"] == 2 and main_loop.status["iterations_done"] == 6
    row = main_loop.log.current_row
    # aggregation.mean named its result after the numerator, so it could be monitored.
    assert namespace["error_rate"].name == "misclassified"
    # The test error rate, recomputed in numpy from the trained MLP.
    mlp = namespace["mlp"]
    from blocks.datasets.datasets import MNIST

    features, targets = MNIST(("test",)).get_data(None, slice(0, 3))
    features = features.reshape(3, -1)
    (W1, b1), (W2, b2) = [(layer.W.get_value(), layer.b.get_value())
                          for layer in mlp.linear_transformations]
    hidden = np.maximum(features @ W1 + b1, 0)
    predictions = (hidden @ W2 + b2).argmax(axis=1)
    expected = np.mean(predictions != TEST_LABELS)
    np.testing.assert_allclose(row["test_misclassified"], expected)
    assert 0 <= row["train_misclassified"] <= 1
    assert "\t test_misclassified: " in out
    assert row["time_train_this_epoch"] > 0
