"""Offline data sets: IDX (MNIST-format) files, CIFAR-10/100, the 12-bit task, scikit-learn's digits.

Everything here reads files that ship with the package or that the user points at; nothing
downloads. The shipped files are the MNIST test set (10,000 images, from which the train and
held-out subsets are drawn) and Shwartz-Ziv & Tishby's 12-bit task (``var_u.mat``). CIFAR-10
and CIFAR-100 are read from the standard "python version" folders wherever the user keeps them
(``--data PATH`` or the ``INFOSCOPE_DATA`` environment variable); without them, experiments
use :func:`synthetic_cifar`, CIFAR-shaped data that is stored and shown as synthetic.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import io
import os
import pickle
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
    "load_cifar",
    "synthetic_cifar",
    "cifar_or_synthetic",
    "majority_tokens",
    "CIFARFormatError",
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
    x_train, x_test : numpy.ndarray, float32, shape (N, ...), or dict of str to numpy.ndarray
        Inputs (images are (N, 1, H, W) scaled to [0, 1]); token data sets give named arrays
        (``input_ids``, ``attention_mask``), fed to a model as ``model(**x)``.
    y_train, y_test : numpy.ndarray, int64, shape (N,)
        Class labels.
    n_classes : int
    """

    name: str
    x_train: np.ndarray | dict[str, np.ndarray]
    y_train: np.ndarray
    x_test: np.ndarray | dict[str, np.ndarray]
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
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            return _read_idx_stream(fh, path)
    except (OSError, EOFError) as exc:  # a gzip stream that breaks off
        raise IDXFormatError(f"{path} looks gzipped but could not be decompressed: {exc}") from None


#: The most data an IDX file may declare (16 GiB): a header is checked against it before any data is read.
MAX_IDX_BYTES = 2**34


def _read_idx_stream(fh, path: Path) -> np.ndarray:
    """The array of an IDX stream, its header checked before its data is read (and only as much
    data as the header declares is read: a gzip bomb with a wrong header costs nothing)."""
    head = fh.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise IDXFormatError(
            f"{path} is not an IDX file: its magic number should start with two zero bytes "
            f"(got {head.hex() or 'an empty file'})"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        raise IDXFormatError(f"{path} has unknown IDX type code 0x{code:02x}; expected one of 08 09 0B 0C 0D 0E")
    if ndim == 0:
        raise IDXFormatError(f"{path} declares 0 dimensions")
    dims = fh.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXFormatError(f"{path} is truncated inside its header")
    shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no wrap-around
    if expected > MAX_IDX_BYTES:
        raise IDXFormatError(f"{path}: header declares shape {shape} ({expected} bytes of data), more than infoscope "
                             f"reads ({MAX_IDX_BYTES} bytes); the file is corrupt or not this format")
    raw = fh.read(expected + 1)
    if len(raw) != expected:
        held = f"{len(raw)} bytes" if len(raw) <= expected else "more bytes than that"
        raise IDXFormatError(
            f"{path}: header declares shape {shape} ({expected} bytes of data) but the file holds "
            f"{held}; the file is truncated or not this format"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


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


class CIFARFormatError(ValueError):
    """A CIFAR folder or batch file that is missing or not in the expected format."""


#: The files of each CIFAR variant's "python version" folder, and its label key.
_CIFAR = {
    10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
    100: ("cifar-100-python", ["train"], ["test"], b"fine_labels"),
}
#: What a CIFAR batch file may contain besides plain Python values: NumPy arrays.
_ALLOWED_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Reads a CIFAR batch without running anything a batch file has no reason to contain."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR batch never holds")


def _read_cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data, labels = batch[b"data"], batch[label_key]
        # sizes before anything is materialised: a small file of nested shared references can
        # stand for a huge list
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
            raise TypeError(f"b'data' is a {type(data).__name__}{' of ' + str(data.dtype) if isinstance(data, np.ndarray) else ''}, "
                            "not an array of bytes")
        if not isinstance(labels, (list, np.ndarray)) or len(labels) != len(data):
            raise TypeError(f"{label_key!r} is not a list of {len(data)} labels")
        if isinstance(labels, list) and not all(type(v) is int for v in labels):
            raise TypeError(f"{label_key!r} holds other things than integer labels")
        labels = np.asarray(labels, dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CIFARFormatError(f"{path} is not a CIFAR python batch ({exc}); expected a pickled dict with "
                               f"b'data' (N×3072 bytes) and {label_key!r}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise CIFARFormatError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape} and {labels.shape}")
    return (data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0), labels


def _cifar_folder(path: str | Path | None, classes: int) -> Path:
    """The folder holding the batches: ``path`` (or ``$INFOSCOPE_DATA``) itself or its standard subfolder."""
    folder_name, train, test, _ = _CIFAR[classes]
    given = path if path is not None else os.environ.get("INFOSCOPE_DATA")
    if not given:
        raise CIFARFormatError(f"no CIFAR-{classes} folder given: pass --data PATH (or set INFOSCOPE_DATA) to the "
                               f"folder {folder_name}/ with {', '.join(train + test)}, or use --data synthetic")
    root = Path(given).expanduser()
    for folder in (root, root / folder_name):
        if all((folder / f).is_file() for f in train + test):
            return folder
    missing = [f for f in train + test if not (root / f).is_file() and not (root / folder_name / f).is_file()]
    raise CIFARFormatError(f"{root} holds no CIFAR-{classes} python batches: expected {', '.join(train + test)} in it "
                           f"or in {root / folder_name}; missing {', '.join(missing)}")


def load_cifar(
    path: str | Path | None = None, classes: int = 10, n_train: int | None = None, n_test: int | None = None, seed: int = 0
) -> Dataset:
    """CIFAR-10 or CIFAR-100 from its standard python batches (nothing is downloaded).

    Parameters
    ----------
    path : path, optional
        The ``cifar-10-batches-py`` / ``cifar-100-python`` folder or the folder above it;
        default: the ``INFOSCOPE_DATA`` environment variable.
    classes : {10, 100}
    n_train, n_test : int, optional
        Seeded subsets (default: all 50,000 and 10,000 images).
    seed : int

    Returns
    -------
    Dataset
        Images float32 (N, 3, 32, 32) in [0, 1], labels int64 (fine labels for CIFAR-100).

    Raises
    ------
    CIFARFormatError
        Naming the files expected, for a missing folder or a malformed batch.
    """
    if classes not in _CIFAR:
        raise ValueError(f"classes must be 10 or 100, got {classes!r}")
    folder = _cifar_folder(path, classes)
    _, train, test, key = _CIFAR[classes]
    parts = {name: [_read_cifar_batch(folder / f, key) for f in files] for name, files in (("train", train), ("test", test))}
    (x_tr, y_tr), (x_te, y_te) = ((np.concatenate([p[0] for p in v]), np.concatenate([p[1] for p in v])) for v in parts.values())
    rng = np.random.default_rng(seed)
    if n_train is not None:
        keep = np.sort(rng.permutation(len(x_tr))[:n_train])
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if n_test is not None:
        keep = np.sort(rng.permutation(len(x_te))[:n_test])
        x_te, y_te = x_te[keep], y_te[keep]
    return Dataset(f"cifar{classes}", x_tr, y_tr, x_te, y_te, classes)


def synthetic_cifar(n_train: int = 5000, n_test: int = 1000, classes: int = 10, seed: int = 0) -> Dataset:
    """CIFAR-shaped synthetic images: each class a smooth random colour pattern, each image its
    class's pattern, randomly shifted, scaled and noised, in [0, 1] (a learnable stand-in for
    CIFAR when the real data is not at hand; its name says it is synthetic).

    Examples
    --------
    >>> d = synthetic_cifar(20, 10)
    >>> d.name, d.x_train.shape, d.x_train.dtype, int(d.y_train.max()) < 10
    ('cifar10-synthetic', (20, 3, 32, 32), dtype('float32'), True)
    """
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(classes, 3, 4, 4))
    patterns = np.kron(coarse, np.ones((1, 1, 8, 8)))  # blocky class templates, 32×32

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, n)
        shift = rng.integers(-4, 5, size=(n, 2))
        x = np.stack([np.roll(patterns[c], tuple(s), axis=(1, 2)) for c, s in zip(y, shift)])
        x = x * rng.uniform(0.5, 1.5, size=(n, 1, 1, 1)) + rng.normal(scale=1.0, size=x.shape)
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32), y.astype(np.int64)

    x_tr, y_tr = draw(n_train)
    x_te, y_te = draw(n_test)
    return Dataset(f"cifar{classes}-synthetic", x_tr, y_tr, x_te, y_te, classes)


def cifar_or_synthetic(data: str | Path | None, classes: int = 10, seed: int = 0, n_train: int | None = None,
                       n_test: int | None = None) -> Dataset:
    """Real CIFAR from ``data`` (or ``$INFOSCOPE_DATA``), or :func:`synthetic_cifar` when ``data``
    is ``"synthetic"`` or neither is given."""
    if str(data) == "synthetic" or (data is None and not os.environ.get("INFOSCOPE_DATA")):
        return synthetic_cifar(n_train or 5000, n_test or 1000, classes, seed)
    return load_cifar(data, classes, n_train, n_test, seed)


#: The token ids of :func:`majority_tokens`: padding, the leading [CLS], and 2 × TOKEN_HALF content tokens.
PAD_ID, CLS_ID, TOKEN_HALF = 0, 1, 10


def majority_tokens(n_train: int = 4000, n_test: int = 1000, seed: int = 0, max_content: int = 15) -> Dataset:
    """A synthetic token task with a known rule and padded variable lengths.

    Each sequence is [CLS] followed by an odd number (5 to ``max_content``) of content tokens
    drawn uniformly from 2 × :data:`TOKEN_HALF` ids, right-padded with :data:`PAD_ID` to a
    common length; its label is 1 when more of its tokens come from the upper half of the ids
    than from the lower half (odd lengths: never a tie). So Y is a deterministic function of
    X: I(X;Y) = H(Y) ≈ 1 bit, and a network that learns the rule has I(T;Y) → H(Y) in its
    last layers.

    Returns
    -------
    Dataset
        Inputs as ``{"input_ids": int64 (N, L), "attention_mask": int64 (N, L)}``, L = max_content + 1;
        labels int64 in {0, 1}.

    Examples
    --------
    >>> d = majority_tokens(50, 10)
    >>> d.x_train["input_ids"].shape, int(d.x_train["attention_mask"].sum(1).min()) >= 6, d.n_classes
    ((50, 16), True, 2)
    """
    if max_content < 5 or max_content % 2 == 0:
        raise ValueError(f"max_content must be an odd number >= 5, got {max_content}")
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        lengths = rng.choice(np.arange(5, max_content + 1, 2), n)
        content = rng.integers(2, 2 + 2 * TOKEN_HALF, (n, max_content))
        real = np.arange(max_content)[None] < lengths[:, None]
        high = ((content >= 2 + TOKEN_HALF) & real).sum(1)
        y = (2 * high > lengths).astype(np.int64)
        ids = np.concatenate([np.full((n, 1), CLS_ID), np.where(real, content, PAD_ID)], axis=1).astype(np.int64)
        mask = np.concatenate([np.ones((n, 1), dtype=bool), real], axis=1).astype(np.int64)
        return {"input_ids": ids, "attention_mask": mask}, y

    x_tr, y_tr = draw(n_train)
    x_te, y_te = draw(n_test)
    return Dataset("majority-tokens", x_tr, y_tr, x_te, y_te, 2)


DATASETS = {"mnist": load_mnist_subset, "tishby": load_tishby, "digits": load_digits, "cifar": load_cifar,
            "cifar-synthetic": synthetic_cifar, "majority-tokens": majority_tokens}


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a data set by name (``"mnist"``, ``"tishby"``, ``"digits"``, ``"cifar"``, ``"cifar-synthetic"``,
    ``"majority-tokens"``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)
