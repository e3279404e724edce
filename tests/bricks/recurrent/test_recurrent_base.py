"""The recurrent decorator and BaseRecurrent, on small custom transitions."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.scan.op import Scan

from blocks.bricks.base import application
from blocks.bricks.recurrent import BaseRecurrent, recurrent
from blocks.graph import ComputationGraph
from blocks.initialization import Constant
from blocks.utils import shared_floatx

floatX = pytensor.config.floatX


class Accumulator(BaseRecurrent):
    """total_t = total_{t-1} * scale + inputs_t (+ offset); also outputs the row sums."""

    def __init__(self, dim=2, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.scale = shared_floatx(2.0, name="scale")
        self.calls = []

    @recurrent(sequences=["inputs", "mask"], states=["total"], outputs=["total", "sums"],
               contexts=["offset"])
    def apply(self, inputs, total, mask=None, offset=None, application_call=None):
        self.calls.append(application_call)
        new = total * self.scale + inputs
        if offset is not None:
            new = new + offset
        if mask is not None:
            new = mask[:, None] * new + (1 - mask[:, None]) * total
        return new, new.sum(axis=1)

    def get_dim(self, name):
        if name in ("inputs", "total", "offset"):
            return self.dim
        return super().get_dim(name)


def accumulate(inputs, total, scale=2.0, offset=0.0, mask=None, reverse=False):
    steps = range(len(inputs))[::-1] if reverse else range(len(inputs))
    totals = []
    for t in steps:
        new = total * scale + inputs[t] + offset
        if mask is not None:
            new = mask[t][:, None] * new + (1 - mask[t][:, None]) * total
        total = new
        totals.append(total)
    return np.array(totals)


def data(shape=(3, 2, 2), seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, size=shape).astype(floatX)


def test_loop_with_contexts_mask_reverse_and_initial_states():
    brick = Accumulator()
    x, h0, offset, mask = pt.tensor3("x"), pt.matrix("h0"), pt.vector("o"), pt.matrix("m")
    totals, sums = brick.apply(x, total=h0, offset=offset, mask=mask, reverse=True,
                               return_initial_states=True)
    assert totals.name == "accumulator_apply_total"
    assert sums.name == "accumulator_apply_sums"
    xv, h0v, mv = data(), data((2, 2), 1), np.array([[1, 0], [1, 1], [0, 1]], dtype=floatX)
    ov = np.array([0.5, -0.5], dtype=floatX)
    result_totals, result_sums = pytensor.function([x, h0, offset, mask], [totals, sums])(
        xv, h0v, ov, mv)
    expected = accumulate(xv, h0v, offset=ov, mask=mv, reverse=True)
    np.testing.assert_allclose(result_totals[0], h0v)
    np.testing.assert_allclose(result_totals[1:], expected, rtol=1e-6)
    # Outputs that are not states get no initial step.
    np.testing.assert_allclose(result_sums, expected.sum(axis=2), rtol=1e-6)


def test_default_initial_states_are_zeros_of_get_dim():
    brick = Accumulator(dim=3)
    x = pt.tensor3("x")
    totals, _ = brick.apply(x, return_initial_states=True)
    xv = data((2, 4, 3))
    result = totals.eval({x: xv})
    np.testing.assert_allclose(result[0], np.zeros((4, 3)))
    np.testing.assert_allclose(result[1:], accumulate(xv, np.zeros((4, 3))), rtol=1e-6)
    assert brick.initial_states(5).eval().shape == (5, 3)
    assert brick.initial_states.outputs == ["total"]


def test_initial_state_from_ndarray_initialization_and_positional_arguments():
    brick = Accumulator()
    x = pt.tensor3("x")
    totals, _ = brick.apply(x, Constant(1.5))
    xv = data()
    np.testing.assert_allclose(totals.eval({x: xv}), accumulate(xv, np.full((2, 2), 1.5)),
                               rtol=1e-6)


def test_single_step():
    brick = Accumulator()
    x, h = pt.matrix("x"), pt.matrix("h")
    total, sums = brick.apply(x, total=h, iterate=False)
    xv, hv = data((2, 2)), data((2, 2), 1)
    np.testing.assert_allclose(total.eval({x: xv, h: hv}), hv * 2 + xv, rtol=1e-6)
    assert not any(isinstance(node.op, Scan)
                   for node in pytensor.graph.traversal.applys_between([x, h], [total]))


def test_no_sequences_needs_n_steps_and_batch_size():
    class Doubler(BaseRecurrent):
        @recurrent(sequences=[], states=["h"], outputs=["h"], contexts=[])
        def apply(self, h):
            return h * 2 + 1

        def get_dim(self, name):
            return 2 if name == "h" else super().get_dim(name)

    brick = Doubler()
    result = brick.apply(n_steps=3, batch_size=4).eval()
    assert result.shape == (3, 4, 2)
    np.testing.assert_allclose(result[:, 0, 0], [1, 3, 7])
    with pytest.raises(ValueError, match=r"Doubler 'doubler'.*no sequence.*n_steps and "
                                         r"batch_size"):
        brick.apply(n_steps=3)


def test_missing_initial_state_raises_key_error_naming_state_and_brick():
    class Partial(BaseRecurrent):
        @recurrent(sequences=["x"], states=["a", "b"], outputs=["a", "b"], contexts=[])
        def apply(self, x, a, b):
            return a + x, b + x

        @application(outputs=["a"])
        def initial_states(self, batch_size, *args, **kwargs):
            return pt.zeros((batch_size, 2))

    with pytest.raises(KeyError, match=r"no initial state for 'b' of the brick 'partial'"):
        Partial().apply(pt.tensor3("x"))
    # Giving it is enough.
    a, b = Partial().apply(pt.tensor3("x"), b=pt.matrix("b"))
    assert a.ndim == b.ndim == 3


def test_states_must_be_outputs():
    class Broken(BaseRecurrent):
        @recurrent(sequences=["x"], states=["h"], outputs=["y"], contexts=[])
        def apply(self, x, h):
            return x + h

    with pytest.raises(ValueError, match=r"Broken 'broken'.*states \['h'\].*not among its "
                                         r"outputs"):
        Broken().apply(pt.tensor3("x"), h=pt.matrix("h"))


def test_step_receives_its_application_call_and_graph_is_annotated():
    brick = Accumulator()
    x = pt.tensor3("x")
    totals, _ = brick.apply(x)
    outer_call = totals.tag.annotations[-1]
    inner_call = brick.calls[-1]
    assert inner_call is not None and inner_call is not outer_call
    assert outer_call.brick is brick
    cg = ComputationGraph(totals)
    assert len(cg.scans) == 1
    # The step's variables live in the scan's inner graph, named after the step call.
    assert any(var.name == "accumulator_apply_total" for var in cg.scan_variables)
    # The parameter is an explicit non-sequence of the scan.
    assert brick.scale in cg.shared_variables


def test_bare_decorator_reads_attributes_of_the_bound_application():
    class Late(BaseRecurrent):
        @recurrent
        def apply(self, x, h):
            return h + x

    brick = Late()
    brick.apply.sequences = ["x"]
    brick.apply.states = ["h"]
    brick.apply.contexts = []
    brick.apply.outputs = ["h"]
    result = brick.apply(pt.as_tensor(np.ones((3, 1, 2))), h=pt.as_tensor(np.zeros((1, 2))))
    np.testing.assert_allclose(result.eval()[:, 0, 0], [1, 2, 3])


def test_random_numbers_inside_the_step_advance_and_update_the_generator():
    class Noisy(BaseRecurrent):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rng_state = pytensor.shared(np.random.default_rng(3), name="noise_rng")

        @recurrent(sequences=["x"], states=["h"], outputs=["h"], contexts=[])
        def apply(self, x, h):
            next_rng, noise = pt.random.normal(0, 1, size=h.shape, rng=self.rng_state,
                                               return_next_rng=True)
            self.rng_state.default_update = next_rng
            return h + x + noise

        def get_dim(self, name):
            return 2 if name in ("x", "h") else super().get_dim(name)

    brick = Noisy()
    x = pt.tensor3("x")
    totals = brick.apply(x)
    cg = ComputationGraph(totals)
    assert list(cg.updates) == [brick.rng_state]
    function = cg.get_function()
    zeros = np.zeros((3, 1, 2), dtype=floatX)
    first, second = function(zeros)[0], function(zeros)[0]
    assert not np.allclose(np.diff(first, axis=0), 0)  # fresh noise at every step
    assert not np.allclose(first, second)  # and at every call
    grad = pytensor.grad(totals.sum(), x)
    np.testing.assert_allclose(grad.eval({x: zeros}), [[[3, 3]], [[2, 2]], [[1, 1]]])
