"""Our Numba implementation of PyTensor's IncSubtensor: adding to and setting slices,
with integer and slice indices, steps, broadcasting, against NumPy; and bad shapes."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

# Our Numba implementation, which the linker uses inside a Scan's inner graphs.
pytestmark = [pytest.mark.numba, pytest.mark.usefixtures("every_node_compiled")]

rng = np.random.default_rng(5)


def _numpy(x, index, y, set_instead):
    z = x.copy()
    if set_instead:
        z[index] = y
    else:
        z[index] += y
    return z


@pytest.mark.parametrize("set_instead", [False, True])
def test_slices_integers_steps_and_broadcasting_match_numpy(set_instead):
    x, i = pt.tensor3("x"), pt.iscalar("i")
    cases = [  # (symbolic index, numpy index, y)
        ((slice(1, i), 2), (slice(1, 3), 2), rng.standard_normal((2, 5))),
        ((slice(None, None, 2),), (slice(None, None, 2),), rng.standard_normal((2, 4, 5))),
        ((i, slice(None), slice(-2, None)), (3, slice(None), slice(-2, None)),
         rng.standard_normal((1, 2))),                           # broadcast at run time
        ((0, 1, i), (0, 1, 3), np.array(2.5)),                    # one element
        ((slice(None), 0), (slice(None), 0), rng.standard_normal(5)),   # broadcast rows
    ]
    x_value = rng.standard_normal((4, 4, 5))
    ys = [pt.tensor(f"y{k}", shape=(None,) * y.ndim) for k, (_, _, y) in enumerate(cases)]
    update = pt.set_subtensor if set_instead else pt.inc_subtensor
    outputs = [update(x[index], y) for (index, _, _), y in zip(cases, ys)]
    function = pytensor.function([x, i, *ys], outputs)
    results = function(x_value, 3, *(y for _, _, y in cases))
    for result, (_, index, y) in zip(results, cases):
        np.testing.assert_allclose(result, _numpy(x_value, index, y, set_instead))


def test_a_value_of_the_wrong_shape_is_refused():
    x, y = pt.matrix("x"), pt.vector("y")
    function = pytensor.function([x, y], pt.inc_subtensor(x[:, 1:], y))
    np.testing.assert_allclose(function(np.zeros((2, 3)), np.ones(2)), [[0, 1, 1], [0, 1, 1]])
    with pytest.raises(ValueError, match=r"IncSubtensor: the value does not broadcast to "
                                         r"the shape of the selected part"):
        function(np.zeros((2, 3)), np.ones(3))
