import pytensor.tensor as pt

from blocks.bricks import MLP, Linear, Tanh
from blocks.bricks.bn import BatchNormalizedMLP
from blocks.bricks.conv import Convolutional, ConvolutionalSequence, Flattener, MaxPooling
from blocks.bricks.recurrent import SimpleRecurrent
from blocks.model import Model
from blocks.summary import summary_rows


def _rows_by_name(model):
    rows, totals = summary_rows(model)
    return {brick.name: (depth, shapes, count) for depth, brick, shapes, count in rows}, totals


def test_mlp_rows_shapes_and_counts():
    dims = [3, 4, 2]
    mlp = MLP([Tanh(), None], dims)
    rows, totals = _rows_by_name(Model(mlp.apply(pt.matrix("x")).sum()))
    layer_sizes = [dims[i] * dims[i + 1] + dims[i + 1] for i in range(2)]
    assert rows["linear_0"] == (1, [(None, 4)], layer_sizes[0])
    assert rows["tanh"] == (1, [(None, 4)], 0)
    assert rows["linear_1"] == (1, [(None, 2)], layer_sizes[1])
    assert rows["mlp"] == (0, [(None, 2)], sum(layer_sizes))
    assert totals == {"total": sum(layer_sizes), "trainable": sum(layer_sizes),
                      "non_trainable": 0}


def test_population_statistics_are_not_trainable():
    mlp = BatchNormalizedMLP([Tanh(), None], [3, 4, 2])
    _, totals = _rows_by_name(Model(mlp.apply(pt.matrix("x")).sum()))
    weights = 3 * 4 + 4 * 2  # no biases: the normalization shifts
    scales_and_shifts = 2 * (4 + 2)
    means_and_stdevs = 2 * (4 + 2)
    assert totals == {"total": weights + scales_and_shifts + means_and_stdevs,
                      "trainable": weights + scales_and_shifts,
                      "non_trainable": means_and_stdevs}


def test_convolutional_shapes_and_a_brick_outside_the_graph():
    conv = ConvolutionalSequence([Convolutional((3, 3), 4, name="conv"),
                                  MaxPooling((2, 2), name="pool")],
                                 num_channels=1, image_size=(8, 8))
    unused = Linear(input_dim=2, output_dim=2, name="unused")
    rnn = SimpleRecurrent(dim=3, activation=Tanh(), name="rnn")
    rnn.children.append(unused)
    features = Flattener().apply(conv.apply(pt.tensor4("x")))
    states = rnn.apply(pt.tensor3("inputs"))
    rows, totals = _rows_by_name(Model(features.sum() + states.sum()))
    assert rows["conv"] == (1, [(None, 4, 6, 6)], 4 * 1 * 3 * 3 + 4)
    assert rows["pool"] == (1, [(None, 4, 3, 3)], 0)
    assert rows["unused"] == (1, [], 2 * 2 + 2)
    assert (None, None, 3) in rows["rnn"][1]
    assert totals["total"] == 40 + 3 * 3 + 3 + 6


def test_summary_prints_a_table_with_totals():
    mlp = MLP([Tanh(), None], [300, 400, 2], name="wide")
    lines = []
    Model(mlp.apply(pt.matrix("x")).sum()).summary(print_fn=lines.append)
    assert lines[0].split() == ["Brick", "(type)", "Output", "shape", "Parameters"]
    assert set(lines[1]) == {"="}
    assert lines[2].split() == ["wide", "(MLP)", "(None,", "2)", "121,202"]
    assert lines[3].startswith("  linear_0 (Linear)")
    assert lines[-3:] == ["Total parameters: 121,202", "Trainable parameters: 121,202",
                          "Non-trainable parameters: 0"]
    assert len({len(line) for line in lines[1:2] + [lines[-4]]}) == 1
