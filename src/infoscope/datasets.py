"""Offline data sets: IDX (MNIST-format) files, the 12-bit task, scikit-learn's digits.

Everything here reads files that ship with the package or that the user points at; nothing
downloads. The shipped files are the MNIST test set (10,000 images, from which the train and
held-out subsets are drawn) and Shwartz-Ziv & Tishby's 12-bit task (``var_u.mat``).
"""

from __future__ import annotations

import dataclasses
import gzip
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "Dataset",
    "IDXFormatError",
    "read_idx",
    "load_mnist_subset",
    "load_tishby",
    "load_digits",
    "DATASETS",
    "load_dataset",
]

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXFormatError(ValueError):
    """A file is not a valid IDX file (bad magic number, type code or size)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and held-out splits of a classification data set.

    Attributes
    ----------
    name : str
    x_train, x_test : numpy.ndarray, float32, shape (N, ...)
        Inputs (images are (N, 1, H, W) scaled to [0, 1]).
    y_train, y_test : numpy.ndarray, int64, shape (N,)
        Class labels.
    n_classes : int
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


def _data_file(*parts: str) -> Path:
    return Path(str(resources.files("infoscope").joinpath("data", *parts)))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST / Kuzushiji-MNIST format), gzipped or not.

    Parameters
    ----------
    path : str or Path
        ``*.gz`` files are decompressed (detected by content, not by name).

    Returns
    -------
    numpy.ndarray
        Shape and dtype as declared in the header (e.g. (10000, 28, 28) uint8).

    Raises
    ------
    IDXFormatError
        If the magic number, type code, or the size of the data do not match the header.

    Examples
    --------
    >>> from infoscope.datasets import _data_file
    >>> read_idx(_data_file("mnist-t10k", "t10k-labels-idx1-ubyte.gz")).shape
    (10000,)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IDXFormatError(f"{path} looks gzipped but could not be decompressed: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXFormatError(
            f"{path} is not an IDX file: its magic number should start with two zero bytes "
            f"(got {raw[:4].hex() or 'an empty file'})"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise IDXFormatError(f"{path} has unknown IDX type code 0x{code:02x}; expected one of 08 09 0B 0C 0D 0E")
    if ndim == 0:
        raise IDXFormatError(f"{path} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path} is truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXFormatError(
            f"{path}: header declares shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes; the file is truncated or not this format"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _split(n_total: int, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n_train < 1 or n_test < 1 or n_train + n_test > n_total:
        raise ValueError(
            f"n_train={n_train} and n_test={n_test} must be >= 1 and add up to at most {n_total}"
        )
    order = np.random.default_rng(seed).permutation(n_total)
    return order[:n_train], order[n_train : n_train + n_test]


def load_mnist_subset(
    n_train: int = 8000,
    n_test: int = 2000,
    seed: int = 0,
    images: str | Path | None = None,
    labels: str | Path | None = None,
) -> Dataset:
    """An MNIST-format subset: ``n_train`` training and ``n_test`` held-out images.

    Parameters
    ----------
    n_train, n_test : int
        Disjoint subsets drawn (seeded) from the file's images.
    seed : int
        Seed of the split.
    images, labels : path, optional
        IDX files to read instead of the shipped MNIST test set (for example Fashion-MNIST).

    Returns
    -------
    Dataset
        Images as float32 (N, 1, 28, 28) in [0, 1], labels int64.

    Examples
    --------
    >>> d = load_mnist_subset(100, 50)
    >>> d.x_train.shape, d.y_test.shape, d.n_classes
    ((100, 1, 28, 28), (50,), 10)
    """
    xi = read_idx(images or _data_file("mnist-t10k", "t10k-images-idx3-ubyte.gz"))
    yi = read_idx(labels or _data_file("mnist-t10k", "t10k-labels-idx1-ubyte.gz"))
    if xi.ndim != 3 or yi.ndim != 1 or len(xi) != len(yi):
        raise IDXFormatError(
            f"expected images (N, H, W) and labels (N,), got {xi.shape} and {yi.shape}"
        )
    tr, te = _split(len(xi), n_train, n_test, seed)
    x = (xi.astype(np.float32) / 255.0)[:, None]
    y = yi.astype(np.int64)
    return Dataset("mnist", x[tr], y[tr], x[te], y[te], int(y.max()) + 1)


def load_tishby(test_fraction: float = 0.15, seed: int = 0) -> Dataset:
    """Shwartz-Ziv & Tishby's 12-bit task: 4,096 binary patterns, binary labels.

    Parameters
    ----------
    test_fraction : float
        Fraction held out (the paper trains on 85%).
    seed : int

    Returns
    -------
    Dataset
        Inputs float32 (N, 12) in {0, 1}, labels int64 in {0, 1}.

    Examples
    --------
    >>> d = load_tishby()
    >>> d.x_train.shape[1], len(d.x_train) + len(d.x_test)
    (12, 4096)
    """
    from scipy.io import loadmat

    mat = loadmat(str(_data_file("tishby", "var_u.mat")))
    x = np.asarray(mat["F"], dtype=np.float32)
    y = np.asarray(mat["y"], dtype=np.int64).reshape(-1)
    n_test = int(round(len(x) * test_fraction))
    tr, te = _split(len(x), len(x) - n_test, n_test, seed)
    return Dataset("tishby", x[tr], y[tr], x[te], y[te], 2)


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 digits (1,797 images, shipped with scikit-learn).

    Returns
    -------
    Dataset
        Inputs float32 (N, 64) in [0, 1], labels int64 0–9.

    Examples
    --------
    >>> load_digits().x_train.shape[1]
    64
    """
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    n_test = int(round(len(x) * test_fraction))
    tr, te = _split(len(x), len(x) - n_test, n_test, seed)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], 10)


DATASETS = {"mnist": load_mnist_subset, "tishby": load_tishby, "digits": load_digits}


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a shipped data set by name (``"mnist"``, ``"tishby"``, ``"digits"``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)
