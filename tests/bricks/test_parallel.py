"""Routing bricks (Parallel, Fork, Distribute, Merge) against numpy references."""

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad
from pytensor.graph.replace import clone_replace

from blocks.bricks import MLP, Linear, Tanh
from blocks.bricks.parallel import Distribute, Fork, Merge, Parallel
from blocks.initialization import Constant, IsotropicGaussian

RNG = np.random.default_rng(3)
GAUSSIAN = {"weights_init": IsotropicGaussian(), "biases_init": IsotropicGaussian()}


def affine(brick, value):
    return value @ brick.W.get_value() + (
        brick.b.get_value() if brick.use_bias else 0)


def test_parallel_matches_numpy():
    parallel = Parallel(input_names=["x", "y"], input_dims=[2, 3], output_dims=[4, 5],
                        prototype=Linear(), seed=1, **GAUSSIAN)
    parallel.initialize()
    first, second = parallel.children
    assert [child.name for child in parallel.children] == ["transform_x", "transform_y"]
    assert (first.input_dim, first.output_dim, second.input_dim, second.output_dim) \
        == (2, 4, 3, 5)
    assert parallel.apply.inputs == parallel.apply.outputs == ["x", "y"]
    assert parallel.get_dim("y") == 3
    x, y = pt.matrix("x"), pt.matrix("y")
    xv, yv = RNG.normal(size=(2, 2)), RNG.normal(size=(2, 3))
    for new_x, new_y in (parallel.apply(x=x, y=y), parallel.apply(x, y=y),
                         parallel.apply(x, y)):
        np.testing.assert_allclose(new_x.eval({x: xv}), affine(first, xv))
        np.testing.assert_allclose(new_y.eval({y: yv}), affine(second, yv))
    result = parallel.apply(x=x, y=y, return_dict=True)
    assert list(result) == ["x", "y"] and result["y"].name == "parallel_apply_y"


def test_parallel_grad():
    parallel = Parallel(input_names=["x"], input_dims=[2], output_dims=[3],
                        prototype=Linear(), seed=2, **GAUSSIAN)
    parallel.initialize()
    W, b = parallel.children[0].parameters

    def function(x, W_value, b_value):
        return clone_replace(parallel.apply(x=x), {W: W_value, b: b_value})

    verify_grad(function, [RNG.normal(size=(2, 2)), W.get_value(), b.get_value()],
                rng=np.random.default_rng(0))


def test_parallel_with_mlp_prototype_and_child_prefix():
    parallel = Parallel(input_names=["a", "b"], input_dims=[2, 2], output_dims=[3, 1],
                        prototype=MLP([Tanh()], [2, 2]), child_prefix="branch",
                        weights_init=Constant(1), biases_init=Constant(0))
    parallel.initialize()
    assert [child.name for child in parallel.children] == ["branch_a", "branch_b"]
    assert parallel.children[1].dims == [2, 1]
    a = pt.matrix()
    np.testing.assert_allclose(parallel.apply(a=a, b=a)[1].eval({a: [[1., 2.]]}),
                               np.tanh([[3.]]))


def test_parallel_errors():
    with pytest.raises(TypeError, match="prototype must be a Feedforward brick"):
        Parallel(input_names=["x"], prototype=Tanh())
    with pytest.raises(ValueError, match="input names must be unique"):
        Parallel(input_names=["x", "x"], prototype=Linear())
    parallel = Parallel(input_names=["x", "y"], input_dims=[2], output_dims=[4, 5],
                        prototype=Linear())
    with pytest.raises(ValueError, match="Parallel 'parallel': input_dims must hold one "
                                         "dimension per input name"):
        parallel.allocate()
    parallel.input_dims = [2, 3]
    with pytest.raises(TypeError, match=r"apply\(\) is missing inputs \['y'\]"):
        parallel.apply(x=pt.matrix())
    with pytest.raises(TypeError, match="unexpected input 'z'"):
        parallel.apply(x=pt.matrix(), y=pt.matrix(), z=pt.matrix())
    with pytest.raises(TypeError, match="got input 'x' twice"):
        parallel.apply(pt.matrix(), x=pt.matrix(), y=pt.matrix())
    with pytest.raises(TypeError, match="takes 2 inputs"):
        parallel.apply(pt.matrix(), pt.matrix(), pt.matrix())
    with pytest.raises(ValueError, match="output_dims is not set"):
        Parallel(input_names=["x"], input_dims=[2], prototype=Linear()).allocate()


def test_fork_matches_numpy():
    fork = Fork(output_names=["y", "z"], input_dim=2, output_dims=[3, 4], seed=3, **GAUSSIAN)
    fork.initialize()
    assert [child.name for child in fork.children] == ["fork_y", "fork_z"]
    assert fork.input_dims == [2, 2]
    assert fork.apply.inputs == ["input_"] and fork.apply.outputs == ["y", "z"]
    assert fork.get_dim("input_") == 2 and fork.get_dim("z") == 4
    x = pt.matrix("x")
    xv = RNG.normal(size=(3, 2))
    y, z = fork.apply(x)
    assert (y.name, z.name) == ("fork_apply_y", "fork_apply_z")
    np.testing.assert_allclose(y.eval({x: xv}), affine(fork.children[0], xv))
    np.testing.assert_allclose(z.eval({x: xv}), affine(fork.children[1], xv))


def test_fork_lazy_configuration():
    fork = Fork(output_names=["a", "b"], prototype=Linear(use_bias=False))
    with pytest.raises(ValueError, match="Fork 'fork' cannot .*: input_dim, output_dims are "
                                         "not set"):
        fork.allocate()
    fork.input_dim = 3
    fork.output_dims = [1, 2]
    fork.allocate()
    assert [c.W.get_value().shape for c in fork.children] == [(3, 1), (3, 2)]
    fork.input_dims = [4, 4]
    assert fork.input_dim == 4
    with pytest.raises(ValueError, match="all input dims are input_dim"):
        fork.input_dims = [4, 5]


def test_distribute_matches_numpy():
    distribute = Distribute(target_names=["x", "y"], source_name="z", target_dims=[2, 3],
                            source_dim=3, weights_init=IsotropicGaussian(), seed=4)
    distribute.initialize()
    assert all(not child.use_bias for child in distribute.children)
    assert [child.name for child in distribute.children] == ["fork_x", "fork_y"]
    assert distribute.apply.inputs == ["x", "y", "z"]
    assert distribute.apply.outputs == ["x", "y"]
    assert (distribute.source_dim, distribute.target_dims) == (3, [2, 3])
    assert distribute.get_dim("z") == 3 and distribute.get_dim("y") == 3
    x, y, z = pt.matrix("x"), pt.matrix("y"), pt.matrix("z")
    xv, yv, zv = (RNG.normal(size=(2, d)) for d in (2, 3, 3))
    for new_x, new_y in (distribute.apply(x=x, y=y, z=z), distribute.apply(x, y, z)):
        np.testing.assert_allclose(new_x.eval({x: xv, z: zv}),
                                   xv + affine(distribute.children[0], zv))
        np.testing.assert_allclose(new_y.eval({y: yv, z: zv}),
                                   yv + affine(distribute.children[1], zv))
    with pytest.raises(TypeError, match=r"missing inputs \['z'\]"):
        distribute.apply(x=x, y=y)


def test_distribute_lazy_dims():
    distribute = Distribute(target_names=["a"], source_name="s")
    distribute.source_dim = 2
    distribute.target_dims = [5]
    distribute.allocate()
    assert distribute.children[0].W.get_value().shape == (2, 5)


def test_merge_matches_numpy_and_bias_on_first_child():
    merge = Merge(input_names=["a", "b"], input_dims=[3, 4], output_dim=2,
                  weights_init=IsotropicGaussian(), biases_init=Constant(0.5), seed=5)
    assert merge.output_dims == [2, 2]
    assert merge.apply.inputs == ["a", "b"] and merge.apply.outputs == ["output"]
    merge.children[0].use_bias = True
    merge.initialize()
    first, second = merge.children
    assert first.use_bias and not second.use_bias
    a, b = pt.matrix("a"), pt.matrix("b")
    av, bv = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 4))
    c = merge.apply(a=a, b=b)
    assert c.name == "merge_apply_output"
    np.testing.assert_allclose(c.eval({a: av, b: bv}), affine(first, av) + affine(second, bv))
    np.testing.assert_allclose(first.b.get_value(), [0.5, 0.5])
    assert merge.get_dim("output") == 2 and merge.get_dim("b") == 4


def test_merge_lazy_dims_and_errors():
    merge = Merge(input_names=["a", "b"], child_prefix="m")
    assert [child.name for child in merge.children] == ["m_a", "m_b"]
    with pytest.raises(ValueError, match="Merge 'merge' cannot .*: input_dims, output_dim"):
        merge.allocate()
    merge.input_dims = [1, 2]
    merge.output_dims = [3, 3]
    merge.allocate()
    assert merge.output_dim == 3
    with pytest.raises(ValueError, match="all output dims are output_dim"):
        merge.output_dims = [3, 4]
