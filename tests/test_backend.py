"""The backend switch and compiling under JAX: training, monitoring, the scan path of
recurrent bricks, generation and beam search give what the default backend gives."""

import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks import backend
from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import Tanh
from blocks.bricks.recurrent import GatedRecurrent, SimpleRecurrent
from blocks.bricks.sequence_generators import (
    LookupFeedback,
    Readout,
    SequenceGenerator,
    SoftmaxEmitter,
)
from blocks.config import config
from blocks.datasets import DataStream, IndexableDataset, SequentialScheme
from blocks.extensions.monitoring import DataStreamMonitoring
from blocks.graph import ComputationGraph, apply_dropout
from blocks.initialization import Constant, IsotropicGaussian
from blocks.search import BeamSearch
from tests.multidevice_checks import mlp_problem

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(5)


@pytest.fixture
def blocks_mode():
    previous = config.mode
    yield
    config.mode = previous


def test_mode_resolution_order(blocks_mode):
    config.mode = ""
    assert backend.resolve_mode() == pytensor.config.mode
    config.mode = "jax"
    assert backend.resolve_mode() == "JAX" and backend.is_jax()
    assert backend.resolve_mode("fast_compile") == "FAST_COMPILE"
    assert not backend.is_jax("NUMBA")
    assert backend.backend_name("JAX").startswith("JAX (")


def test_blocks_mode_environment_variable():
    code = "from blocks.config import config; print(config.mode)"
    env = dict(os.environ, BLOCKS_MODE="JAX")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "JAX"


BATCHES = [{"features": RNG.normal(size=(5, 4)), "targets": RNG.integers(0, 3, 5)}
           for _ in range(3)] + [{"features": RNG.normal(size=(2, 4)),
                                  "targets": RNG.integers(0, 3, 2)}]


def _train(mode, **kwargs):
    cost, _ = mlp_problem()
    parameters = ComputationGraph(cost).parameters
    algorithm = GradientDescent(cost=cost, parameters=parameters, step_rule=Scale(0.3),
                                mode=mode, **kwargs)
    for batch in BATCHES:
        algorithm.process_batch(batch)
    return algorithm, [p.get_value() for p in parameters]


def test_training_under_jax_equals_the_default_backend():
    _, reference = _train("FAST_COMPILE")
    algorithm, values = _train("JAX")
    for expected, got in zip(reference, values):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    # One compiled function per batch shape: (5, 4) and (2, 4).
    assert isinstance(algorithm._function, backend.ShapeSpecializedFunction)
    assert len(algorithm._function.compiled) == 2


def test_theano_func_kwargs_mode_is_honoured():
    algorithm, _ = _train(None, theano_func_kwargs={"mode": "JAX"})
    assert isinstance(algorithm._function, backend.ShapeSpecializedFunction)


def test_config_mode_is_honoured_by_training_and_monitoring(blocks_mode):
    config.mode = "JAX"
    algorithm, _ = _train(None)
    assert isinstance(algorithm._function, backend.ShapeSpecializedFunction)
    x = pt.vector("x")
    average = x.mean()
    average.name = "average"
    stream = DataStream(IndexableDataset({"x": np.arange(5.0)}),
                        iteration_scheme=SequentialScheme(5, batch_size=2))
    monitor = DataStreamMonitoring([average], stream)
    assert float(monitor.evaluate()["average"]) == 2.0
    assert isinstance(monitor._evaluator._function, backend.ShapeSpecializedFunction)


def test_dropout_under_jax_draws_new_masks_at_every_call():
    x = pt.matrix("x")
    dropped = apply_dropout(ComputationGraph(2 * x), [x], 0.25, seed=3).outputs[0]
    f = backend.function([x], dropped, mode="JAX")
    ones = np.ones((200, 50))
    first, second = f(ones), f(ones)
    assert set(np.unique(first)) <= {0.0, 2 / 0.75}
    assert not np.array_equal(first, second)
    assert abs((first != 0).mean() - 0.75) < 0.02


def test_dropout_keeps_its_distribution_under_the_default_backend():
    x = pt.matrix("x")
    dropped = apply_dropout(ComputationGraph(x), [x], 0.4, seed=3).outputs[0]
    values = pytensor.function([x], dropped)(np.ones((300, 100)))
    assert abs((values != 0).mean() - 0.6) < 0.01


@pytest.mark.parametrize("brick", [
    lambda: SimpleRecurrent(dim=3, activation=Tanh()),
    lambda: GatedRecurrent(dim=3),
])
def test_scan_path_of_recurrent_bricks_under_jax(brick):
    transition = brick()
    transition.weights_init = IsotropicGaussian(0.5)
    transition.fused = False
    transition.initialize()
    x, mask = pt.tensor3("x"), pt.matrix("mask")
    sequences = {"inputs": x}
    if isinstance(transition, GatedRecurrent):
        sequences["gate_inputs"] = pt.concatenate([x, x], axis=2)
    states = transition.apply(mask=mask, **sequences)
    cost = (states ** 2).sum()
    outputs = [cost] + pytensor.grad(cost, transition.parameters + [x])
    values = RNG.normal(size=(5, 2, 3))
    mask_values = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=float).T
    expected = pytensor.function([x, mask], outputs, mode="FAST_COMPILE")(values, mask_values)
    got = backend.function([x, mask], outputs, mode="JAX")(values, mask_values)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-10)


def _language_model():
    generator = SequenceGenerator(
        Readout(readout_dim=4, source_names=["states", "feedback"],
                emitter=SoftmaxEmitter(theano_seed=2), feedback_brick=LookupFeedback(4, 3)),
        SimpleRecurrent(dim=5, activation=Tanh()),
        weights_init=IsotropicGaussian(0.8), biases_init=Constant(0.1), seed=4)
    generator.initialize()
    return generator


def test_generate_with_fixed_steps_and_beam_search_under_jax():
    generator = _language_model()
    batch_size = pt.iscalar("batch_size")
    samples = generator.generate(n_steps=6, batch_size=batch_size, return_dict=True)
    generate = backend.function([batch_size], samples["outputs"], mode="JAX")
    drawn = generate(3)
    assert drawn.shape == (6, 3) and drawn.min() >= 0 and drawn.max() < 4
    results = {}
    for mode in ("FAST_COMPILE", "JAX"):
        search = BeamSearch(samples["outputs"], mode=mode)
        results[mode] = search.search({batch_size: 3}, eol_symbol=0, max_length=6)
    (outputs, costs), (jax_outputs, jax_costs) = results["FAST_COMPILE"], results["JAX"]
    assert [list(o) for o in jax_outputs] == [list(o) for o in outputs]
    np.testing.assert_allclose(jax_costs, costs, rtol=1e-6)


def test_shape_specialized_function_compiles_once_per_shape_and_warns(monkeypatch):
    x = pt.vector("x")
    f = backend.ShapeSpecializedFunction([x], x * 2, mode="JAX")
    for length in (2, 3, 2, 3):
        assert f(np.ones(length)).tolist() == [2.0] * length
    assert len(f.compiled) == 2
    assert f.maker.fgraph.inputs[0].type.shape in ((2,), (3,))
    monkeypatch.setattr(backend, "MANY_SHAPES", 2)
    with pytest.warns(UserWarning, match="compiled for 3 different input shapes"):
        f(np.ones(4))


def test_shape_specialized_function_refuses_bad_calls():
    x = pt.matrix("x")
    f = backend.ShapeSpecializedFunction([x], x.sum(), mode="JAX")
    with pytest.raises(TypeError, match="expected 1 arguments"):
        f()
    with pytest.raises(TypeError, match="input 'x' expects 2 dimensions"):
        f(np.ones(3))
    with pytest.raises(TypeError, match="inputs must be symbolic variables"):
        backend.ShapeSpecializedFunction([np.ones(3)], x, mode="JAX")
    with pytest.raises(ValueError, match="nothing compiled yet"):
        _ = f.maker


def test_checkpoint_of_a_jax_trained_model_holds_numpy_arrays(tmp_path):
    from blocks.serialization import dump, load

    algorithm, _ = _train("JAX")
    parameters = algorithm.parameters
    assert any(type(p.get_value(borrow=True)).__module__.startswith(("jax", "jaxlib"))
               for p in parameters)
    path = tmp_path / "jax.tar"
    with open(path, "wb") as destination:
        dump(algorithm, destination, parameters=parameters)
    loaded = load(str(path))  # safe loading: no JAX class may appear in the file
    for original, restored in zip(parameters, loaded.parameters):
        assert isinstance(restored.get_value(), np.ndarray)
        np.testing.assert_array_equal(restored.get_value(), np.asarray(original.get_value()))
