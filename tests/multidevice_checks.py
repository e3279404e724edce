"""Checks of data-parallel training, run by tests/test_devices.py in a process of their
own that sees 4 CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=4 must be
set before JAX is imported). Usage: ``python tests/multidevice_checks.py CHECK [DIR]``.
"""

import sys


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    assert len(jax.devices()) == 4, jax.devices()
    return jax


def mlp_problem():
    """A small classifier's cost, with fixed parameter values, and 5 batches of 8."""
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks import MLP, Rectifier, Softmax
    from blocks.bricks.cost import CategoricalCrossEntropy
    from blocks.graph import ComputationGraph
    from blocks.initialization import Constant, IsotropicGaussian

    x, y = pt.matrix("features"), pt.lvector("targets")
    mlp = MLP([Rectifier(), Softmax()], [4, 6, 3], weights_init=IsotropicGaussian(0.5),
              biases_init=Constant(0.1))
    mlp.initialize()
    values = np.random.default_rng(0)
    for parameter in ComputationGraph(mlp.apply(x)).parameters:
        parameter.set_value(values.normal(size=parameter.get_value().shape))
    cost = CategoricalCrossEntropy().apply(y, mlp.apply(x))
    cost.name = "cost"
    data = np.random.default_rng(1)
    batches = [{"features": data.normal(size=(8, 4)), "targets": data.integers(0, 3, 8)}
               for _ in range(5)]
    return cost, batches


def _gru_problem():
    import numpy as np
    import pytensor.tensor as pt

    from blocks.bricks import Linear
    from blocks.bricks.recurrent import GatedRecurrent
    from blocks.graph import ComputationGraph
    from blocks.initialization import Constant, IsotropicGaussian

    x, mask = pt.tensor3("features"), pt.matrix("features_mask")
    to_inputs = Linear(input_dim=2, output_dim=9, weights_init=IsotropicGaussian(0.5),
                       biases_init=Constant(0), name="to_inputs")
    gru = GatedRecurrent(dim=3, weights_init=IsotropicGaussian(0.5))
    for brick in (to_inputs, gru):
        brick.initialize()
    projected = to_inputs.apply(x)
    states = gru.apply(inputs=projected[:, :, :3], gate_inputs=projected[:, :, 3:],
                       mask=mask)
    cost = ((states ** 2).sum(axis=2) * mask).sum() / mask.sum()
    cost.name = "cost"
    values = np.random.default_rng(0)
    for parameter in ComputationGraph(cost).parameters:
        parameter.set_value(values.normal(scale=0.5, size=parameter.get_value().shape))
    data = np.random.default_rng(1)
    batches = []
    for _ in range(5):
        lengths = data.integers(1, 6, 8)
        batch_mask = (np.arange(5)[:, None] < lengths[None, :]).astype(float)
        batches.append({"features": data.normal(size=(5, 8, 2)),
                        "features_mask": batch_mask})
    return cost, batches


def _train(problem, devices, batch_axes):
    from blocks.algorithms import GradientDescent, Scale
    from blocks.graph import ComputationGraph

    cost, batches = problem()
    parameters = ComputationGraph(cost).parameters
    algorithm = GradientDescent(cost=cost, parameters=parameters, step_rule=Scale(0.1),
                                mode="JAX", devices=devices, batch_axes=batch_axes)
    for batch in batches:
        algorithm.process_batch(batch)
    return algorithm, [parameter.get_value() for parameter in parameters]


def check_equal_to_one_device():
    """5 steps on 4 devices equal 5 steps on one, for an MLP and a time-major GRU (its
    fused loop), and each device holds a quarter of every batch."""
    import numpy as np

    _jax()
    for problem, axes in ((mlp_problem, {"features": 0, "targets": 0}),
                          (_gru_problem, {"features": 1, "features_mask": 1})):
        _, single = _train(problem, None, None)
        algorithm, sharded = _train(problem, 4, axes)
        for expected, got in zip(single, sharded):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
        for name, array in zip([v.name for v in algorithm.inputs],
                               algorithm._function.last_arguments):
            axis = axes[name]
            shards = array.addressable_shards
            assert len(shards) == 4, name
            for shard in shards:
                assert shard.data.shape[axis] == array.shape[axis] // 4, (name, shard)
    print("equal to one device")


def _main_loop(path, num_batches, devices):
    import numpy as np

    from blocks.algorithms import GradientDescent, Scale
    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    from blocks.extensions import FinishAfter
    from blocks.extensions.saveload import Checkpoint
    from blocks.graph import ComputationGraph
    from blocks.main_loop import MainLoop
    from blocks.model import Model

    cost, _ = mlp_problem()
    data = np.random.default_rng(2)
    dataset = IndexableDataset(
        {"features": data.normal(size=(32, 4)), "targets": data.integers(0, 3, 32)},
        axis_labels={"features": ("batch", "feature"), "targets": ("batch",)})
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(32, batch_size=8))
    algorithm = GradientDescent(cost=cost, parameters=ComputationGraph(cost).parameters,
                                step_rule=Scale(0.1), mode="JAX", devices=devices)
    return MainLoop(algorithm, stream, model=Model(cost), extensions=[
        FinishAfter(after_n_batches=num_batches),
        Checkpoint(path, after_batch=True)])


def check_checkpoint_and_resume(directory):
    """A 4-device run checkpoints, resumes on 4 devices exactly as an uninterrupted run,
    and its checkpoint loads on one device (batch axes from the stream's axis labels)."""
    import numpy as np

    from blocks.serialization import load

    _jax()
    straight = _main_loop(f"{directory}/straight.tar", 6, 4)
    straight.run()
    expected = {name: p.get_value() for name, p in
                straight.model.get_parameter_dict().items()}

    first = _main_loop(f"{directory}/resumed.tar", 3, 4)
    first.run()
    resumed = load(f"{directory}/resumed.tar")
    resumed.find_extension("FinishAfter").set_conditions(after_n_batches=6)
    resumed.run()
    assert resumed.status["iterations_done"] == 6
    for name, parameter in resumed.model.get_parameter_dict().items():
        np.testing.assert_allclose(parameter.get_value(), expected[name], atol=1e-6)
        assert isinstance(parameter.get_value(), np.ndarray)

    # On one device: the same checkpoint, its algorithm told to use one device.
    single = load(f"{directory}/resumed.tar")
    single.algorithm.devices = None
    single.algorithm.process_batch({"features": np.ones((8, 4)),
                                    "targets": np.zeros(8, dtype="int64")})
    print("checkpoint and resume")


def check_monitoring_on_devices():
    """DataStreamMonitoring splits its batches over the devices and gives the exact
    mean."""
    import numpy as np
    import pytensor.tensor as pt

    from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
    from blocks.extensions.monitoring import DataStreamMonitoring

    _jax()
    x = pt.matrix("x")
    average = x.mean()
    average.name = "average"
    values = np.arange(32.0).reshape(16, 2)
    stream = DataStream(IndexableDataset({"x": values}, axis_labels={"x": ("batch", "f")}),
                        iteration_scheme=SequentialScheme(16, batch_size=8))
    monitor = DataStreamMonitoring([average], stream, mode="JAX", devices=4)
    assert float(monitor.evaluate()["average"]) == values.mean()
    placed = monitor._evaluator._function.last_arguments[0]
    assert [s.data.shape for s in placed.addressable_shards] == [(2, 2)] * 4
    print("monitoring on devices")


def check_errors():
    """An uneven batch, a source without a batch axis, and too many devices are refused
    with messages that say what to do."""
    import numpy as np

    from blocks.devices import resolve_devices

    _jax()
    algorithm, _ = _train(mlp_problem, 4, {"features": 0, "targets": 0})
    for batch, words in (
            ({"features": np.ones((6, 4)), "targets": np.zeros(6, dtype="int64")},
             "does not split evenly over 4 devices"),):
        try:
            algorithm.process_batch(batch)
        except ValueError as error:
            assert words in str(error), error
        else:
            raise AssertionError("an uneven batch was accepted")
    algorithm, _ = _train(mlp_problem, 4, {"features": 0, "targets": 0})
    algorithm.batch_axes = {"features": 0}
    algorithm._function = None
    try:
        algorithm.process_batch({"features": np.ones((8, 4)),
                                 "targets": np.zeros(8, dtype="int64")})
    except ValueError as error:
        assert "no batch axis is known for the input 'targets'" in str(error), error
    else:
        raise AssertionError("a source without a batch axis was accepted")
    try:
        resolve_devices(5)
    except ValueError as error:
        assert "JAX sees only 4 device(s)" in str(error), error
    else:
        raise AssertionError("5 devices of 4 were accepted")
    print("errors")


if __name__ == "__main__":
    check = globals()[f"check_{sys.argv[1]}"]
    check(*sys.argv[2:])
