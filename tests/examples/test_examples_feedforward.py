"""The feed-forward examples in tiny configurations: their costs decrease."""


import pytest

from blocks.examples import mnist, quickstart
from tests.examples.helpers import assert_cost_decreases, run


def test_quickstart(tmp_path):
    main_loop, figures, out = run(quickstart, [
        "--num-examples", "200", "--hidden-dim", "8", "--num-epochs", "2",
        "--save-to", str(tmp_path / "run.tar")])
    assert_cost_decreases(main_loop, "test_cross_entropy", 2)
    assert 0 <= figures["test_accuracy"] <= 1
    assert f"Test accuracy: {figures['test_accuracy']:.1%}" in out


def test_mnist(tmp_path):
    pytest.importorskip("sklearn")
    main_loop, figures, out = run(mnist, [
        "--num-train", "200", "--hidden-dim", "16", "--num-epochs", "2", "--batch-size", "10",
        "--learning-rate", "0.02", "--save-to", str(tmp_path / "run.tar")])
    assert_cost_decreases(main_loop, "test_cross_entropy", 2)
    # Two epochs on 200 digits already beat chance (10%) by far.
    assert figures["test_accuracy"] > 0.5
    assert "of 500 digits" in out


def test_digits_split_is_fixed_and_disjoint():
    pytest.importorskip("sklearn")
    train, test = mnist.load_digits()
    again, _ = mnist.load_digits()
    assert len(train["targets"]) == 1297 and len(test["targets"]) == 500
    assert (train["features"] == again["features"]).all()
    assert train["features"].dtype == "float32" and 0 <= train["features"].min()
    assert train["features"].max() <= 1
    train_rows = {row.tobytes() for row in train["features"]}
    # A few digits of the original set are exact duplicates; nearly all test rows are new.
    assert sum(row.tobytes() in train_rows for row in test["features"]) < 5


def test_mnist_without_scikit_learn(monkeypatch):
    import sys

    from blocks.examples._common import ExampleError

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ExampleError, match=r"pip install 'blocks\[examples\]'"):
        mnist.load_digits()


def test_lenet(tmp_path):
    pytest.importorskip("sklearn")
    from blocks.examples import lenet

    main_loop, figures, out = run(lenet, [
        "--num-train", "200", "--num-filters", "4", "8", "--hidden-dim", "16",
        "--batch-size", "10", "--learning-rate", "0.01", "--num-epochs", "2",
        "--save-to", str(tmp_path / "run.tar")])
    assert_cost_decreases(main_loop, "test_cross_entropy", 2)
    assert "/convolutions/conv_1.W" in main_loop.model.get_parameter_dict()
    assert 0 <= figures["test_accuracy"] <= 1 and "of 500 digits" in out
