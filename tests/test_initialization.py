"""Tests for blocks.initialization."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from blocks.initialization import (
    Constant,
    Identity,
    IsotropicGaussian,
    NdarrayInitialization,
    Orthogonal,
    Sparse,
    SparseND,
    Uniform,
)

FLOATX = pytensor.config.floatX
# Tolerance for exact linear-algebra identities in floatX.
ATOL = 1e-5 if FLOATX == "float32" else 1e-10


def rng(seed=1234):
    return np.random.RandomState(seed)


ALL_SCHEMES = [
    (Constant(0.5), (3, 4)),
    (Constant(np.arange(4)), (3, 4)),
    (IsotropicGaussian(0.1, 2.0), (3, 4)),
    (Uniform(mean=1.0, width=2.0), (3, 4)),
    (Uniform(std=0.3), (2, 3, 4)),
    (Identity(3), (3, 4)),
    (Orthogonal(2.0), (4, 3)),
    (Sparse(2, IsotropicGaussian()), (3, 4)),
    (SparseND(0, 3, Uniform(width=1.0)), (2, 3, 4)),
]


# --------------------------------------------------------------------- general


@pytest.mark.parametrize(("init", "shape"), ALL_SCHEMES,
                         ids=lambda x: str(x) if isinstance(x, tuple) else type(x).__name__)
def test_dtype_shape_and_reproducibility(init, shape):
    first = init.generate(rng(7), shape)
    second = init.generate(rng(7), shape)
    assert isinstance(first, np.ndarray)
    assert first.dtype == FLOATX
    assert first.shape == shape
    np.testing.assert_array_equal(first, second)


def test_generator_rng_is_accepted():
    gen = np.random.default_rng(3)
    for init, shape in ALL_SCHEMES:
        assert init.generate(gen, shape).shape == shape
    np.testing.assert_array_equal(
        IsotropicGaussian().generate(np.random.default_rng(5), (4,)),
        IsotropicGaussian().generate(np.random.default_rng(5), (4,)),
    )


def test_different_seeds_differ():
    init = IsotropicGaussian()
    assert not np.array_equal(init.generate(rng(1), (5, 5)), init.generate(rng(2), (5, 5)))


def test_base_generate_is_abstract():
    with pytest.raises(NotImplementedError, match="NdarrayInitialization"):
        NdarrayInitialization().generate(rng(), (2, 2))


def test_repr_as_blocks_printed_it():
    # Blocks: <blocks.initialization.Constant object at 0x...: constant=3>
    constant = Constant(3)
    assert repr(constant) == (
        f"<blocks.initialization.Constant object at {id(constant):#x}: constant=3>")
    for init, fields in ((IsotropicGaussian(0.01, 2), "mean=2, std=0.01"),
                         (Uniform(mean=1, width=2), "mean=1, width=2"),
                         (Identity(), "mult=1"), (Orthogonal(0.5), "scale=0.5"),
                         (IsotropicGaussian(np.float64(0.5)), "mean=0, std=0.5")):
        assert repr(init).startswith(f"<blocks.initialization.{type(init).__name__} object at")
        assert repr(init).endswith(f": {fields}>")
    assert "axis=1, num_init=0.5, weights_init=<blocks.initialization.Constant" in repr(
        SparseND(1, 0.5, Constant(1)))


def test_shape_argument_validation():
    init = IsotropicGaussian()
    assert init.generate(rng(), 5).shape == (5,)
    assert init.generate(rng(), [2, np.int64(3)]).shape == (2, 3)
    assert init.generate(rng(), ()).shape == ()
    with pytest.raises(ValueError, match="IsotropicGaussian: shape entries must be non-negative"):
        init.generate(rng(), (2, -1))
    with pytest.raises(TypeError, match="IsotropicGaussian: shape entries must be ints"):
        init.generate(rng(), (2, 1.5))
    with pytest.raises(TypeError, match="IsotropicGaussian: shape must be"):
        init.generate(rng(), None)


# ------------------------------------------------------------------ initialize


def test_initialize_sets_value_from_current_shape():
    var = pytensor.shared(np.zeros((3, 2), dtype=FLOATX))
    IsotropicGaussian(mean=5.0).initialize(var, rng(0))
    value = var.get_value()
    assert value.shape == (3, 2)
    assert value.dtype == FLOATX
    np.testing.assert_array_equal(value, IsotropicGaussian(mean=5.0).generate(rng(0), (3, 2)))


def test_initialize_with_explicit_shape():
    var = pytensor.shared(np.zeros((1, 1), dtype=FLOATX))
    Constant(2.0).initialize(var, rng(), shape=(2, 5))
    np.testing.assert_array_equal(var.get_value(), np.full((2, 5), 2.0))


def test_initialize_casts_to_variable_dtype():
    other = "float32" if FLOATX == "float64" else "float64"
    var = pytensor.shared(np.zeros((2, 2), dtype=other))
    Uniform(width=1.0).initialize(var, rng())
    assert var.get_value().dtype == other
    int_var = pytensor.shared(np.zeros(3, dtype="int64"))
    Constant(4).initialize(int_var, rng())
    np.testing.assert_array_equal(int_var.get_value(), [4, 4, 4])


def test_initialize_rejects_shape_mismatch():
    class WrongShape(NdarrayInitialization):
        def generate(self, rng, shape):
            return np.zeros((1,), dtype=FLOATX)

    var = pytensor.shared(np.zeros((2, 2), dtype=FLOATX), name="W")
    with pytest.raises(ValueError, match=r"WrongShape.initialize: .*'W'.*\(2, 2\)"):
        WrongShape().initialize(var, rng())
    np.testing.assert_array_equal(var.get_value(), np.zeros((2, 2)))


@pytest.mark.parametrize(
    "var", [np.zeros((2, 2)), pt.matrix("x"), [[0.0, 0.0]]], ids=["ndarray", "symbolic", "list"]
)
def test_initialize_rejects_non_shared(var):
    with pytest.raises(TypeError, match=r"Constant\.initialize: var must be a PyTensor shared"):
        Constant(1).initialize(var, rng())


# -------------------------------------------------------------------- Constant


def test_constant_exact_fill():
    values = Constant(-1.25).generate(rng(), (4, 3, 2))
    np.testing.assert_array_equal(values, np.full((4, 3, 2), -1.25))


def test_constant_broadcasts_array():
    column = np.array([[1.0], [2.0]])
    values = Constant(column).generate(rng(), (2, 3))
    np.testing.assert_array_equal(values, [[1, 1, 1], [2, 2, 2]])
    values[0, 0] = 9  # the result is a writable copy, not a view of the constant
    assert column[0, 0] == 1.0


def test_constant_errors():
    with pytest.raises(ValueError, match=r"Constant: constant of shape \(3,\) cannot be broadcast"):
        Constant([1, 2, 3]).generate(rng(), (2, 2))
    with pytest.raises(TypeError, match="Constant: constant must be"):
        Constant("abc")


# ----------------------------------------------------------- IsotropicGaussian


def test_gaussian_statistics():
    mean, std = -0.5, 0.2
    n = 400 * 500
    values = IsotropicGaussian(std=std, mean=mean).generate(rng(0), (400, 500)).astype("float64")
    # Standard error of the mean is std / sqrt(n); of the std about std / sqrt(2 n).
    assert abs(values.mean() - mean) < 5 * std / np.sqrt(n)
    assert abs(values.std() - std) < 5 * std / np.sqrt(2 * n)
    # Roughly 68.3 % of the mass lies within one standard deviation.
    within = np.mean(np.abs(values - mean) < std)
    assert abs(within - 0.6827) < 0.01


def test_gaussian_zero_std_is_constant():
    np.testing.assert_array_equal(
        IsotropicGaussian(0, 3).generate(rng(), (2, 2)), np.full((2, 2), 3)
    )


def test_gaussian_errors():
    with pytest.raises(ValueError, match="IsotropicGaussian: std must be non-negative"):
        IsotropicGaussian(-1)
    with pytest.raises(TypeError, match="IsotropicGaussian: mean must be a real number"):
        IsotropicGaussian(1, "0")
    with pytest.raises(ValueError, match="IsotropicGaussian: std must be finite"):
        IsotropicGaussian(np.inf)


# --------------------------------------------------------------------- Uniform


def test_uniform_width_bounds_and_std():
    mean, width = 2.0, 3.0
    values = Uniform(mean=mean, width=width).generate(rng(0), (300, 300)).astype("float64")
    assert values.min() >= mean - width / 2
    assert values.max() <= mean + width / 2
    # With 90 000 samples the extremes come very close to the bounds.
    assert values.min() < mean - width / 2 + 0.01
    assert values.max() > mean + width / 2 - 0.01
    assert abs(values.mean() - mean) < 0.02
    assert abs(values.std() - width / np.sqrt(12)) < 0.01


def test_uniform_from_std():
    init = Uniform(std=0.5)
    assert init.width == pytest.approx(0.5 * np.sqrt(12))
    assert init.std == pytest.approx(0.5)
    values = init.generate(rng(0), (300, 300)).astype("float64")
    assert abs(values.std() - 0.5) < 0.01
    assert np.abs(values).max() <= 0.5 * np.sqrt(3)


def test_uniform_errors():
    with pytest.raises(ValueError, match="Uniform: give exactly one of width and std"):
        Uniform()
    with pytest.raises(ValueError, match="Uniform: give exactly one of width and std"):
        Uniform(width=1.0, std=1.0)
    with pytest.raises(ValueError, match="Uniform: std must be non-negative"):
        Uniform(std=-0.1)
    with pytest.raises(ValueError, match="Uniform: width must be non-negative"):
        Uniform(width=-2)
    with pytest.raises(TypeError, match="Uniform: mean must be a real number"):
        Uniform(mean=None, width=1)


# -------------------------------------------------------------------- Identity


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_identity(shape):
    values = Identity(mult=0.5).generate(rng(), shape)
    expected = np.zeros(shape)
    for i in range(min(shape)):
        expected[i, i] = 0.5
    np.testing.assert_array_equal(values, expected)


def test_identity_errors():
    with pytest.raises(ValueError, match=r"Identity: only 2-D shapes .* \(3,\)"):
        Identity().generate(rng(), (3,))
    with pytest.raises(ValueError, match="Identity: only 2-D shapes"):
        Identity().generate(rng(), (2, 2, 2))
    with pytest.raises(TypeError, match="Identity: mult must be a real number"):
        Identity(mult=[1, 2])


# ------------------------------------------------------------------ Orthogonal


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (3, 7), (1, 4), (4, 1)])
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_orthogonal(shape, scale):
    w = Orthogonal(scale).generate(rng(0), shape).astype("float64")
    rows, cols = shape
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, scale**2 * np.eye(rows), atol=ATOL)
    if cols <= rows:
        np.testing.assert_allclose(w.T @ w, scale**2 * np.eye(cols), atol=ATOL)


def test_orthogonal_is_not_biased():
    # With the sign correction the distribution is Haar: each entry of a random
    # orthogonal matrix has mean zero; without it the diagonal would be biased.
    n, trials = 4, 400
    r = rng(0)
    diag = np.array([np.diag(Orthogonal().generate(r, (n, n))) for _ in range(trials)])
    # Each entry has variance 1 / n, so the standard error of the mean is 1/sqrt(n trials).
    assert np.all(np.abs(diag.mean(axis=0)) < 5 / np.sqrt(n * trials))


def test_orthogonal_empty_and_errors():
    assert Orthogonal().generate(rng(), (0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match="Orthogonal: only 2-D shapes"):
        Orthogonal().generate(rng(), (2, 2, 2))
    with pytest.raises(TypeError, match="Orthogonal: scale must be a real number"):
        Orthogonal(scale="1")


# ---------------------------------------------------------------------- Sparse


@pytest.mark.parametrize(("num_init", "expected"), [(3, 3), (1, 1), (10, 10), (0.25, 2), (1.0, 10)])
def test_sparse_nonzeros_per_row(num_init, expected):
    w = Sparse(num_init, IsotropicGaussian(1.0, 5.0)).generate(rng(0), (20, 10))
    np.testing.assert_array_equal((w != 0).sum(axis=1), np.full(20, expected))


def test_sparse_values_come_from_the_two_schemes():
    init = Sparse(2, weights_init=Constant(7), sparse_init=Constant(-1))
    w = init.generate(rng(0), (50, 6))
    assert set(np.unique(w).tolist()) == {-1.0, 7.0}
    np.testing.assert_array_equal((w == 7).sum(axis=1), np.full(50, 2))


def test_sparse_positions_are_random():
    w = Sparse(1, Constant(1)).generate(rng(0), (600, 3))
    counts = w.sum(axis=0)
    # Each column is chosen with probability 1/3 in each of 600 rows.
    assert counts.sum() == 600
    assert np.all(np.abs(counts - 200) < 5 * np.sqrt(600 * (1 / 3) * (2 / 3)))


def test_sparse_uses_weights_generator():
    w = Sparse(4, Uniform(mean=10, width=1)).generate(rng(0), (30, 8))
    nonzero = w[w != 0]
    assert nonzero.size == 120
    assert nonzero.min() >= 9.5 and nonzero.max() <= 10.5


def test_sparse_errors():
    with pytest.raises(ValueError, match="Sparse: num_init=5 is larger than the row length 4"):
        Sparse(5, Constant(1)).generate(rng(), (3, 4))
    with pytest.raises(ValueError, match="Sparse: only 2-D shapes"):
        Sparse(1, Constant(1)).generate(rng(), (3, 4, 5))
    with pytest.raises(ValueError, match=r"Sparse: a float num_init .* \(0, 1\]"):
        Sparse(1.5, Constant(1))
    with pytest.raises(ValueError, match=r"Sparse: a float num_init"):
        Sparse(0.0, Constant(1))
    with pytest.raises(ValueError, match="Sparse: num_init must be non-negative"):
        Sparse(-1, Constant(1))
    with pytest.raises(TypeError, match="Sparse: num_init must be an int or a float"):
        Sparse("2", Constant(1))
    with pytest.raises(TypeError, match="Sparse: weights_init must be an NdarrayInitialization"):
        Sparse(2, 1.0)
    with pytest.raises(TypeError, match="Sparse: sparse_init must be an NdarrayInitialization"):
        Sparse(2, Constant(1), sparse_init=0)


# -------------------------------------------------------------------- SparseND


def test_sparse_nd_axis_is_the_unit_as_in_blocks():
    # Blocks: SparseND(axis=0) gives each slice W[i, ...] num_init nonzeros.
    w = SparseND(axis=0, num_init=1, weights_init=Constant(1)).generate(rng(0), (3, 4))
    np.testing.assert_array_equal((w != 0).sum(axis=1), [1, 1, 1])
    w = SparseND(axis=1, num_init=2, weights_init=Constant(1)).generate(rng(0), (3, 5, 4))
    np.testing.assert_array_equal((w != 0).sum(axis=(0, 2)), np.full(5, 2))


def test_sparse_nd_3d_two_unit_axes():
    # axis=(0, 2): for every (i, k) exactly num_init entries w[i, :, k] are set.
    w = SparseND(axis=(0, 2), num_init=2, weights_init=Constant(1)).generate(rng(0), (3, 5, 4))
    assert w.shape == (3, 5, 4)
    np.testing.assert_array_equal(w.sum(axis=1), np.full((3, 4), 2))


def test_sparse_nd_4d_filters():
    # Each of the 6 filters of a (6, 3, 2, 2) bank gets 5 nonzero weights.
    init = SparseND(axis=0, num_init=5, weights_init=IsotropicGaussian(1, 3))
    w = init.generate(rng(0), (6, 3, 2, 2))
    np.testing.assert_array_equal((w != 0).sum(axis=(1, 2, 3)), np.full(6, 5))


def test_sparse_nd_non_adjacent_and_negative_axes():
    shape = (4, 3, 5, 2)
    w = SparseND(axis=(1, -2), num_init=3, weights_init=Constant(1)).generate(rng(0), shape)
    np.testing.assert_array_equal(w.sum(axis=(0, 3)), np.full((3, 5), 3))


def test_sparse_nd_fraction_of_slice_size():
    w = SparseND(axis=1, num_init=0.5, weights_init=Constant(1)).generate(rng(0), (2, 3, 4))
    np.testing.assert_array_equal(w.sum(axis=(0, 2)), np.full(3, 4))


def test_sparse_nd_all_axes():
    # Every entry is its own unit: num_init=1 sets them all.
    w = SparseND(axis=(0, 1), num_init=1, weights_init=Constant(1)).generate(rng(0), (3, 3))
    np.testing.assert_array_equal(w, np.ones((3, 3)))


def test_sparse_nd_matches_sparse_in_2d():
    sparse = Sparse(3, IsotropicGaussian()).generate(rng(5), (7, 6))
    sparse_nd = SparseND(0, 3, IsotropicGaussian()).generate(rng(5), (7, 6))
    np.testing.assert_array_equal(sparse, sparse_nd)
    transposed = SparseND(1, 3, Constant(1)).generate(rng(5), (6, 7))
    np.testing.assert_array_equal(transposed.sum(axis=0), np.full(7, 3))


def test_sparse_nd_broadcast_sparse_init_keeps_axes():
    # sparse_init sees the full shape, so a per-axis pattern stays aligned.
    pattern = np.arange(4).reshape(1, 1, 4) + 10
    init = SparseND(axis=(0, 2), num_init=1, weights_init=Constant(0),
                    sparse_init=Constant(pattern))
    w = init.generate(rng(0), (2, 3, 4))
    unset = w != 0
    np.testing.assert_array_equal(w[unset], np.broadcast_to(pattern, w.shape)[unset])
    np.testing.assert_array_equal((~unset).sum(axis=1), np.ones((2, 4)))


def test_sparse_nd_errors():
    with pytest.raises(ValueError, match="SparseND: axis 3 is out of range for a 3-D shape"):
        SparseND(3, 1, Constant(1)).generate(rng(), (2, 2, 2))
    with pytest.raises(ValueError, match=r"SparseND: axis .* repeats an axis"):
        SparseND((1, -2), 1, Constant(1)).generate(rng(), (2, 2, 2))
    with pytest.raises(ValueError, match="SparseND: num_init=5 is larger than the row length 4"):
        SparseND(0, 5, Constant(1)).generate(rng(), (3, 2, 2))
    with pytest.raises(ValueError, match="SparseND: axis must name at least one axis"):
        SparseND((), 1, Constant(1))
    with pytest.raises(TypeError, match="SparseND: axis must be an int or a tuple of ints"):
        SparseND(1.0, 1, Constant(1))
    with pytest.raises(TypeError, match="SparseND: axis must be an int or a tuple of ints"):
        SparseND((1, "a"), 1, Constant(1))
    with pytest.raises(TypeError, match="SparseND: weights_init must be an NdarrayInitialization"):
        SparseND(1, 1, None)
