"""Schemes for filling parameters with initial values.

Every scheme is an :class:`NdarrayInitialization`. It produces a NumPy
array of a requested shape from a random number generator
(:meth:`~NdarrayInitialization.generate`), and can write such an array
straight into a PyTensor shared variable
(:meth:`~NdarrayInitialization.initialize`).

The random number generator may be a :class:`numpy.random.RandomState` or a
:class:`numpy.random.Generator`; only ``normal``, ``uniform`` and
``permutation`` are used. Generated arrays always have the dtype
``pytensor.config.floatX``.

Weight matrices follow the Blocks convention: a matrix of shape
``(rows, columns)``; :class:`Sparse` treats every *row* as one unit whose
connections are sparse.

"""

import numbers

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable

from blocks.utils import repr_attrs

__all__ = [
    "Constant",
    "Identity",
    "IsotropicGaussian",
    "NdarrayInitialization",
    "Orthogonal",
    "Sparse",
    "SparseND",
    "Uniform",
]


def _floatx(value):
    """Return `value` as an array of dtype ``floatX`` (no copy if possible)."""
    return np.asarray(value, dtype=pytensor.config.floatX)


def _as_shape(shape, owner):
    """Normalise `shape` to a tuple of non-negative Python ints."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{owner}: shape must be an int or a sequence of ints, got {shape!r}"
        ) from None
    result = []
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{owner}: shape entries must be ints, got {shape!r}")
        if dim < 0:
            raise ValueError(f"{owner}: shape entries must be non-negative, got {shape!r}")
        result.append(int(dim))
    return tuple(result)


def _require_2d(shape, owner):
    shape = _as_shape(shape, owner)
    if len(shape) != 2:
        raise ValueError(f"{owner}: only 2-D shapes are supported, got shape {shape}")
    return shape


def _check_real(value, owner, name, non_negative=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    if non_negative and value < 0:
        raise ValueError(f"{owner}: {name} must be non-negative, got {value!r}")
    return value


class NdarrayInitialization:
    """Base class for schemes producing initial values as NumPy arrays.

    Subclasses implement :meth:`generate`. Each subclass lists the names
    of its configuration attributes in ``_repr_fields``; they are shown by
    ``repr``.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> var = pytensor.shared(np.zeros((2, 3), dtype=pytensor.config.floatX))
    >>> Constant(1.5).initialize(var, np.random.RandomState(0))
    >>> var.get_value().tolist()
    [[1.5, 1.5, 1.5], [1.5, 1.5, 1.5]]

    """

    _repr_fields = ()

    def generate(self, rng, shape):
        """Generate an array of initial values.

        Parameters
        ----------
        rng : numpy.random.RandomState or numpy.random.Generator
            Source of randomness.
        shape : tuple of ints
            Shape of the array to produce.

        Returns
        -------
        numpy.ndarray
            An array of the given shape and dtype ``floatX``.

        """
        raise NotImplementedError(f"{type(self).__name__} does not implement generate(rng, shape)")

    def initialize(self, var, rng, shape=None):
        """Fill a shared variable with freshly generated values.

        Parameters
        ----------
        var : pytensor shared variable
            The variable to fill. Its value is replaced by the generated
            array, cast to ``var.dtype``.
        rng : numpy.random.RandomState or numpy.random.Generator
            Source of randomness.
        shape : tuple of ints, optional
            Shape to generate. Defaults to the shape of the current value of
            `var`.

        Raises
        ------
        TypeError
            If `var` is not a PyTensor shared variable.
        ValueError
            If the generated array does not have the requested shape.

        """
        name = type(self).__name__
        if not isinstance(var, SharedVariable):
            raise TypeError(
                f"{name}.initialize: var must be a PyTensor shared variable, "
                f"got {type(var).__name__}"
            )
        if shape is None:
            shape = var.get_value(borrow=True, return_internal_type=True).shape
        shape = _as_shape(shape, f"{name}.initialize")
        value = self.generate(rng, shape)
        if np.shape(value) != shape:
            raise ValueError(
                f"{name}.initialize: generated an array of shape {np.shape(value)} "
                f"for variable {var.name!r}, expected shape {shape}"
            )
        var.set_value(np.asarray(value, dtype=var.dtype))

    def __repr__(self):
        # Blocks' layout: <blocks.initialization.Constant object at 0x...: constant=1>
        return repr_attrs(self, *self._repr_fields)


class Constant(NdarrayInitialization):
    """Fill with a constant value.

    Parameters
    ----------
    constant : float or array_like
        The value to fill with. An array must be broadcastable to the
        requested shape (e.g. a per-column bias pattern).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(1)
    >>> Constant(3).generate(rng, (2, 2)).tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    >>> Constant([1, 2, 3]).generate(rng, (2, 3)).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]

    """

    _repr_fields = ("constant",)

    def __init__(self, constant):
        try:
            np.asarray(constant, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"Constant: constant must be a number or a numeric array, got {constant!r}"
            ) from None
        self.constant = constant

    def generate(self, rng, shape):
        shape = _as_shape(shape, "Constant")
        constant = _floatx(self.constant)
        try:
            filled = np.broadcast_to(constant, shape)
        except ValueError:
            raise ValueError(
                f"Constant: constant of shape {constant.shape} cannot be broadcast to shape {shape}"
            ) from None
        return np.array(filled, dtype=pytensor.config.floatX)


class IsotropicGaussian(NdarrayInitialization):
    """Draw independent values from a normal distribution.

    Parameters
    ----------
    std : float, optional
        Standard deviation, non-negative. Defaults to 1.
    mean : float, optional
        Mean. Defaults to 0.

    Examples
    --------
    >>> import numpy as np
    >>> init = IsotropicGaussian(0.01)
    >>> init  # doctest: +ELLIPSIS
    <blocks.initialization.IsotropicGaussian object at 0x...: mean=0, std=0.01>
    >>> init.generate(np.random.RandomState(1), (2, 3)).shape
    (2, 3)

    """

    _repr_fields = ("mean", "std")

    def __init__(self, std=1, mean=0):
        self.std = _check_real(std, "IsotropicGaussian", "std", non_negative=True)
        self.mean = _check_real(mean, "IsotropicGaussian", "mean")

    def generate(self, rng, shape):
        shape = _as_shape(shape, "IsotropicGaussian")
        return _floatx(rng.normal(self.mean, self.std, size=shape))


class Uniform(NdarrayInitialization):
    """Draw independent values from a uniform distribution.

    The interval is ``[mean - width / 2, mean + width / 2]``. Give exactly
    one of `width` and `std`; a standard deviation ``std`` corresponds to
    ``width = std * sqrt(12)``.

    Parameters
    ----------
    mean : float, optional
        Centre of the interval. Defaults to 0.
    width : float, optional
        Length of the interval, non-negative.
    std : float, optional
        Standard deviation of the distribution, non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> init = Uniform(mean=1.0, width=0.5)
    >>> values = init.generate(np.random.RandomState(1), (10, 20))
    >>> bool(values.min() >= 0.75 and values.max() <= 1.25)
    True
    >>> bool(np.isclose(Uniform(std=1.0).width, np.sqrt(12)))
    True

    """

    _repr_fields = ("mean", "width")

    def __init__(self, mean=0.0, width=None, std=None):
        if (width is None) == (std is None):
            raise ValueError("Uniform: give exactly one of width and std")
        self.mean = _check_real(mean, "Uniform", "mean")
        if std is not None:
            std = _check_real(std, "Uniform", "std", non_negative=True)
            width = std * 12**0.5
        else:
            width = _check_real(width, "Uniform", "width", non_negative=True)
        self.width = width

    @property
    def std(self):
        """Standard deviation of the distribution, ``width / sqrt(12)``."""
        return self.width / 12**0.5

    def generate(self, rng, shape):
        shape = _as_shape(shape, "Uniform")
        half = self.width / 2
        values = _floatx(rng.uniform(self.mean - half, self.mean + half, size=shape))
        # Rounding to a low-precision floatX must not leave the interval.
        return np.clip(values, self.mean - half, self.mean + half, out=values)


class Identity(NdarrayInitialization):
    """Initialize a matrix to a multiple of the identity.

    Non-square shapes get ones on the main diagonal (``numpy.eye(rows,
    cols)``).

    Parameters
    ----------
    mult : float, optional
        Value on the diagonal. Defaults to 1.

    Examples
    --------
    >>> import numpy as np
    >>> Identity(2).generate(np.random.RandomState(1), (2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]

    """

    _repr_fields = ("mult",)

    def __init__(self, mult=1):
        self.mult = _check_real(mult, "Identity", "mult")

    def generate(self, rng, shape):
        rows, cols = _require_2d(shape, "Identity")
        return _floatx(self.mult * np.eye(rows, cols))


class Orthogonal(NdarrayInitialization):
    """Draw a random matrix with orthonormal rows or columns.

    For a square matrix the result is orthogonal. For a tall matrix
    (``rows > cols``) the columns are orthonormal; for a wide matrix the
    rows are. The result is then multiplied by `scale`.

    The matrix is the ``Q`` factor of the QR decomposition of a Gaussian
    matrix, with each column multiplied by the sign of the matching diagonal
    entry of ``R``; this makes the distribution uniform (Haar) over such
    matrices.

    Parameters
    ----------
    scale : float, optional
        Multiplier applied to the orthonormal matrix. Defaults to 1.

    Examples
    --------
    >>> import numpy as np
    >>> W = Orthogonal().generate(np.random.RandomState(1), (3, 5))
    >>> bool(np.allclose(W @ W.T, np.eye(3), atol=1e-5))
    True

    """

    _repr_fields = ("scale",)

    def __init__(self, scale=1):
        self.scale = _check_real(scale, "Orthogonal", "scale")

    def generate(self, rng, shape):
        rows, cols = _require_2d(shape, "Orthogonal")
        tall = rows >= cols
        big, small = (rows, cols) if tall else (cols, rows)
        if small == 0:
            return _floatx(np.zeros((rows, cols)))
        gaussian = rng.normal(0.0, 1.0, size=(big, small))
        q, r = np.linalg.qr(gaussian, mode="reduced")
        signs = np.sign(np.diag(r))
        signs[signs == 0] = 1
        q = q * signs
        if not tall:
            q = q.T
        return _floatx(self.scale * q)


class Sparse(NdarrayInitialization):
    """Initialize a matrix so that every row has few nonzero entries.

    In each row, `num_init` distinct columns are chosen uniformly at random
    and filled with values drawn from `weights_init`; all other entries come
    from `sparse_init` (zero by default).

    Parameters
    ----------
    num_init : int or float
        Number of entries per row taken from `weights_init`. An int is a
        count (at most the number of columns); a float in ``(0, 1]`` is a
        fraction of the number of columns, rounded to the nearest int.
    weights_init : NdarrayInitialization
        Scheme for the chosen entries. It is asked for an array of shape
        ``(rows, count)``.
    sparse_init : NdarrayInitialization, optional
        Scheme for the remaining entries, asked for the full shape.
        Defaults to ``Constant(0)``.

    Examples
    --------
    >>> import numpy as np
    >>> init = Sparse(num_init=2, weights_init=Constant(1))
    >>> W = init.generate(np.random.RandomState(1), (3, 5))
    >>> (W != 0).sum(axis=1).tolist()
    [2, 2, 2]

    """

    _repr_fields = ("num_init", "weights_init", "sparse_init")

    def __init__(self, num_init, weights_init, sparse_init=None):
        name = type(self).__name__
        if isinstance(num_init, bool) or not isinstance(num_init, numbers.Real):
            raise TypeError(f"{name}: num_init must be an int or a float, got {num_init!r}")
        if isinstance(num_init, numbers.Integral):
            if num_init < 0:
                raise ValueError(f"{name}: num_init must be non-negative, got {num_init!r}")
        elif not 0 < num_init <= 1:
            raise ValueError(
                f"{name}: a float num_init is a fraction and must lie in (0, 1], got {num_init!r}"
            )
        if sparse_init is None:
            sparse_init = Constant(0)
        for arg, value in (("weights_init", weights_init), ("sparse_init", sparse_init)):
            if not isinstance(value, NdarrayInitialization):
                raise TypeError(f"{name}: {arg} must be an NdarrayInitialization, got {value!r}")
        self.num_init = num_init
        self.weights_init = weights_init
        self.sparse_init = sparse_init

    def _count(self, row_length):
        """Number of nonzero (`weights_init`) entries per row of `row_length`."""
        name = type(self).__name__
        if isinstance(self.num_init, numbers.Integral):
            count = int(self.num_init)
        else:
            count = int(np.rint(self.num_init * row_length))
        if count > row_length:
            raise ValueError(
                f"{name}: num_init={self.num_init!r} is larger than the row length {row_length}"
            )
        return count

    def _fill(self, rng, shape, sparse_axes):
        """Fill `shape`, choosing connections over the product of `sparse_axes`.

        The other axes are enumerated; for each of their index combinations
        the entries spanned by `sparse_axes` form one row.
        """
        name = type(self).__name__
        other_axes = tuple(i for i in range(len(shape)) if i not in sparse_axes)
        order = other_axes + tuple(sparse_axes)
        n_rows = int(np.prod([shape[i] for i in other_axes], dtype=np.int64))
        row_length = int(np.prod([shape[i] for i in sparse_axes], dtype=np.int64))
        count = self._count(row_length)

        background = _floatx(self.sparse_init.generate(rng, shape))
        if background.shape != shape:
            raise ValueError(
                f"{name}: sparse_init produced shape {background.shape}, expected {shape}"
            )
        # Rows of `matrix` enumerate the other axes, columns the sparse axes.
        matrix = np.transpose(background, order).reshape(n_rows, row_length).copy()
        if count > 0 and n_rows > 0:
            weights = _floatx(self.weights_init.generate(rng, (n_rows, count)))
            if weights.shape != (n_rows, count):
                raise ValueError(
                    f"{name}: weights_init produced shape {weights.shape}, "
                    f"expected {(n_rows, count)}"
                )
            chosen = np.stack([rng.permutation(row_length)[:count] for _ in range(n_rows)])
            np.put_along_axis(matrix, chosen, weights, axis=1)
        permuted_shape = tuple(shape[i] for i in order)
        return np.ascontiguousarray(matrix.reshape(permuted_shape).transpose(np.argsort(order)))

    def generate(self, rng, shape):
        shape = _require_2d(shape, type(self).__name__)
        return self._fill(rng, shape, (1,))


class SparseND(Sparse):
    """Sparse initialization for arrays of any number of dimensions.

    As in Blocks, the axes in `axis` are treated as the *unit*: for every combination
    of indices along them (every slice ``W[i, ...]`` for ``axis=0``), `num_init`
    distinct positions are chosen uniformly at random among the entries spanned by the
    remaining axes and filled from `weights_init`. Everything else comes from
    `sparse_init`.

    For example, with a convolution filter bank of shape ``(out_channels,
    in_channels, height, width)`` and ``axis=0``, each output filter gets `num_init`
    nonzero weights; with ``axis=(0, 1)`` each (output, input) channel pair gets
    `num_init`. ``SparseND(axis=0, ...)`` on a 2-D shape is :class:`Sparse` (rows are
    the units).

    Parameters
    ----------
    axis : int or tuple of ints
        The axes whose index combinations each get `num_init` entries. Negative
        values count from the end. Must not be empty or repeat an axis.
    num_init : int or float
        Number of entries taken from `weights_init` per index combination of `axis`.
        An int is a count; a float in ``(0, 1]`` is a fraction of the number of
        entries of one slice, rounded.
    weights_init : NdarrayInitialization
        Scheme for the chosen entries; asked for a 2-D array of shape
        ``(number of index combinations of axis, count)``.
    sparse_init : NdarrayInitialization, optional
        Scheme for the remaining entries, asked for the full shape.
        Defaults to ``Constant(0)``.

    Examples
    --------
    >>> import numpy as np
    >>> init = SparseND(axis=0, num_init=3, weights_init=Constant(1))
    >>> W = init.generate(np.random.RandomState(1), (4, 2, 5))
    >>> (W != 0).sum(axis=(1, 2)).tolist()
    [3, 3, 3, 3]
    """

    _repr_fields = ("axis", "num_init", "weights_init", "sparse_init")

    def __init__(self, axis, num_init, weights_init, sparse_init=None):
        axes = (axis,) if isinstance(axis, numbers.Integral) else axis
        try:
            axes = tuple(axes)
        except TypeError:
            raise TypeError(
                f"SparseND: axis must be an int or a tuple of ints, got {axis!r}"
            ) from None
        if not axes:
            raise ValueError("SparseND: axis must name at least one axis")
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, numbers.Integral):
                raise TypeError(f"SparseND: axis must be an int or a tuple of ints, got {axis!r}")
        self.axis = axis
        self._axes = tuple(int(a) for a in axes)
        super().__init__(num_init, weights_init, sparse_init)

    def _normalized_axes(self, ndim):
        normalized = []
        for a in self._axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"SparseND: axis {a} is out of range for a {ndim}-D shape")
            normalized.append(a % ndim)
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"SparseND: axis {self.axis!r} repeats an axis")
        return tuple(normalized)

    def generate(self, rng, shape):
        shape = _as_shape(shape, "SparseND")
        units = self._normalized_axes(len(shape))
        return self._fill(rng, shape, tuple(i for i in range(len(shape)) if i not in units))
