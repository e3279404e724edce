from collections import OrderedDict

import pytest

from blocks.bricks import MLP, Brick, Linear, Tanh
from blocks.roles import WEIGHT
from blocks.select import Path, Selector


@pytest.fixture
def mlp():
    mlp = MLP([Tanh(), Tanh(), None], [4, 5, 3, 2])
    mlp.allocate()
    return mlp


# Path


@pytest.mark.parametrize("string, nodes", [
    ("/mlp", [("BrickName", "mlp")]),
    ("/mlp/linear_0", [("BrickName", "mlp"), ("BrickName", "linear_0")]),
    ("/mlp/linear_0.W",
     [("BrickName", "mlp"), ("BrickName", "linear_0"), ("ParameterName", "W")]),
    ("/a.b", [("BrickName", "a"), ("ParameterName", "b")]),
])
def test_path_parse_and_round_trip(string, nodes):
    path = Path.parse(string)
    assert [(type(node).__name__, str(node)) for node in path.nodes] == nodes
    assert str(path) == string
    assert Path.parse(str(path)) == path
    assert repr(path) == f"Path({string!r})"


def test_path_parts_and_parameter_name():
    assert Path.BrickName("mlp").part() == "/mlp"
    assert Path.ParameterName("W").part() == ".W"
    assert Path.parse("/mlp/linear_0.W").parameter_name == "W"
    assert Path.parse("/mlp/linear_0").parameter_name is None
    assert Path([]).parameter_name is None
    assert str(Path([])) == ""


def test_path_equality_and_hash():
    a = Path.parse("/mlp/linear_0.W")
    b = Path([Path.BrickName("mlp"), Path.BrickName("linear_0"), Path.ParameterName("W")])
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    # Same names, different kinds of node: not the same path.
    assert Path.parse("/a/b") != Path.parse("/a.b")
    assert Path.parse("/a") != Path.parse("/b")
    assert Path.parse("/a") != "/a"
    assert {Path.parse("/a/b"): 1}.get(Path.parse("/a.b")) is None


def test_path_add():
    assert Path.parse("/mlp") + Path.parse("/linear_0.W") == Path.parse("/mlp/linear_0.W")
    with pytest.raises(TypeError):
        Path.parse("/mlp") + "/linear_0"
    with pytest.raises(ValueError, match="must be the last node"):
        Path.parse("/a.W") + Path.parse("/b")


@pytest.mark.parametrize("string, message", [
    ("mlp/linear_0", "must start with '/'"),
    ("", "must start with '/'"),
    (".W", "must start with '/'"),
    ("/", "brick name is empty"),
    ("/mlp//linear_0", "brick name is empty"),
    ("/mlp/", "brick name is empty"),
    ("/.W", "brick name is empty"),
    ("/mlp.x/linear_0", "brick name 'mlp.x' contains '.'"),
    ("/mlp.", "parameter name is empty"),
    ("/mlp.W.x", "parameter name 'W.x' contains '.'"),
])
def test_path_parse_malformed(string, message):
    with pytest.raises(ValueError, match="malformed path") as error:
        Path.parse(string)
    assert message in str(error.value)
    assert repr(string) in str(error.value)


def test_path_bad_types():
    with pytest.raises(TypeError, match="expected a string"):
        Path.parse(["mlp"])
    with pytest.raises(TypeError, match="must be a Path.BrickName"):
        Path(["mlp"])


# Selector


def test_select_bricks(mlp):
    selector = Selector([mlp])
    assert selector.select("/mlp").bricks == [mlp]
    assert selector.select("/mlp/linear_1").bricks == [mlp.linear_transformations[1]]
    assert selector.select(Path.parse("/mlp/linear_2")).bricks == [
        mlp.linear_transformations[2]]
    # No match is an empty selection, not an error.
    assert selector.select("/linear_0").bricks == []
    assert selector.select("/mlp/nothing").bricks == []
    assert selector.select("/mlp/linear_0/deeper").bricks == []


def test_select_from_several_top_bricks():
    a, b = Linear(2, 3, name="a"), Linear(3, 4, name="b")
    selector = Selector([a, b])
    assert selector.select("/b").bricks == [b]
    assert Selector(a).bricks == [a]


def test_select_parameters(mlp):
    selector = Selector([mlp])
    linear_1 = mlp.linear_transformations[1]
    assert selector.select("/mlp/linear_1.W") == [linear_1.W]
    assert selector.select("/mlp/linear_1.b") == [linear_1.b]
    # Only the matched brick's own parameters, not those of its descendants.
    assert selector.select("/mlp.W") == []
    assert selector.select("/mlp/linear_1.nothing") == []


def test_select_wrong_path_type(mlp):
    with pytest.raises(TypeError, match="expected a path"):
        Selector([mlp]).select(3)
    with pytest.raises(ValueError, match="malformed path"):
        Selector([mlp]).select("mlp/linear_0")


def test_selector_refuses_non_bricks():
    with pytest.raises(TypeError, match="expected bricks, got str"):
        Selector(["mlp"])


def test_get_parameters_issue_example(mlp):
    linear_0 = mlp.linear_transformations[0]
    parameters = Selector([mlp]).select("/mlp/linear_0").get_parameters()
    assert isinstance(parameters, OrderedDict)
    assert list(parameters.items()) == [
        ("/mlp/linear_0.W", linear_0.W), ("/mlp/linear_0.b", linear_0.b)]


def test_get_parameters_whole_hierarchy(mlp):
    parameters = Selector([mlp]).get_parameters()
    expected = OrderedDict()
    for linear in mlp.linear_transformations:
        expected[f"/mlp/{linear.name}.W"] = linear.W
        expected[f"/mlp/{linear.name}.b"] = linear.b
    assert list(parameters.items()) == list(expected.items())
    # The names agree with Brick.get_hierarchical_name.
    for linear in mlp.linear_transformations:
        for parameter in linear.parameters:
            assert parameters["/" + linear.get_hierarchical_name(parameter)] is parameter


def test_get_parameters_by_name(mlp):
    weights = Selector([mlp]).get_parameters("W")
    assert list(weights) == ["/mlp/linear_0.W", "/mlp/linear_1.W", "/mlp/linear_2.W"]
    assert list(Selector([mlp]).get_parameters(Path.parse("/x.b"))) == [
        "/mlp/linear_0.b", "/mlp/linear_1.b", "/mlp/linear_2.b"]
    assert Selector([mlp]).get_parameters("nothing") == OrderedDict()


def test_get_parameters_skips_none_and_empty():
    linear = Linear(2, 3, use_bias=False)
    linear.allocate()
    linear.parameters.append(None)
    assert list(Selector([linear]).get_parameters()) == ["/linear.W"]
    assert Selector([]).get_parameters() == OrderedDict()


def test_get_parameters_name_collision():
    class TwoWeights(Brick):
        def _allocate(self):
            self.create_parameter("W", (2,), WEIGHT)
            self.create_parameter("W", (3,), WEIGHT)

    brick = TwoWeights()
    brick.allocate()
    with pytest.raises(ValueError, match="Name collision.*two different parameters are at "
                                         "the path '/twoweights.W'"):
        Selector([brick]).get_parameters()


def test_shared_child_reached_by_two_paths():
    shared = Linear(2, 2, name="shared")
    top = Brick(name="top", children=[Brick(name="a", children=[shared]),
                                      Brick(name="b", children=[shared])])
    top.allocate()
    parameters = Selector([top]).get_parameters()
    assert list(parameters) == ["/top/a/shared.W", "/top/a/shared.b",
                                "/top/b/shared.W", "/top/b/shared.b"]
    # A selection through one path keeps that path in its names.
    assert list(Selector([top]).select("/top/b/shared").get_parameters()) == [
        "/top/b/shared.W", "/top/b/shared.b"]


def test_selection_keeps_names_in_whole_hierarchy(mlp):
    linear_2 = Selector([mlp]).select("/mlp/linear_2")
    assert list(linear_2.get_parameters()) == ["/mlp/linear_2.W", "/mlp/linear_2.b"]
    # A selector built directly on a child names paths from that child.
    direct = Selector(mlp.linear_transformations[2])
    assert list(direct.get_parameters()) == ["/linear_2.W", "/linear_2.b"]
    # Selecting further from a selection extends the path.
    assert linear_2.select("/linear_2.W") == [mlp.linear_transformations[2].W]


def test_get_parameters_refuses_a_brick_selected_twice():
    linear = Linear(input_dim=2, output_dim=2, name="l")
    linear.allocate()
    with pytest.raises(ValueError, match="Name collision.*the same parameter is reached twice "
                                         "at the path '/l.W'"):
        Selector([linear, linear]).get_parameters()
