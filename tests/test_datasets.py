"""Offline data: IDX reader (gzipped or not, validated), 12-bit task, digits."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from infoscope.datasets import IDXFormatError, load_dataset, load_digits, load_mnist_subset, load_tishby, read_idx


def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def test_idx_plain_and_gzipped_roundtrip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx(arr))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(_idx(arr)))
    (tmp_path / "gz-without-suffix").write_bytes(gzip.compress(_idx(arr)))
    for name in ("a.idx", "a.idx.gz", "gz-without-suffix"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), arr)
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(3, 2)
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated inside its header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated or not this format"),
        (b"", "not an IDX file"),
    ],
)
def test_idx_validation(tmp_path, payload, message):
    (tmp_path / "bad").write_bytes(payload)
    with pytest.raises(IDXFormatError, match=message):
        read_idx(tmp_path / "bad")


def test_shipped_mnist_matches_its_published_shape():
    d = load_mnist_subset(8000, 2000)
    assert d.x_train.shape == (8000, 1, 28, 28) and d.x_test.shape == (2000, 1, 28, 28)
    assert d.x_train.min() >= 0 and d.x_train.max() <= 1
    assert set(np.unique(d.y_train)) == set(range(10))
    with pytest.raises(ValueError, match="add up to at most 10000"):
        load_mnist_subset(9000, 2000)


def test_user_idx_files_for_mnist_format(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 10
    (tmp_path / "i.gz").write_bytes(gzip.compress(_idx(imgs)))
    (tmp_path / "l").write_bytes(_idx(labels))
    d = load_mnist_subset(20, 10, images=tmp_path / "i.gz", labels=tmp_path / "l")
    assert d.x_train.shape == (20, 1, 28, 28)


def test_tishby_task():
    d = load_tishby()
    x = np.concatenate([d.x_train, d.x_test])
    assert x.shape == (4096, 12)
    assert len(np.unique(x, axis=0)) == 4096  # every 12-bit pattern once
    assert set(np.unique(np.concatenate([d.y_train, d.y_test]))) == {0, 1}


def test_digits_and_registry():
    assert load_digits().x_train.shape[1] == 64
    assert load_dataset("tishby").n_classes == 2
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet")


# --- CIFAR from its python batches --------------------------------------------------------------

from tests.fixtures.cifar import write_cifar as _write_cifar  # noqa: E402


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_fixture_shapes_dtype_and_labels(tmp_path, classes):
    from infoscope.datasets import load_cifar

    folder = _write_cifar(tmp_path, classes)
    for where in (tmp_path, folder):  # the parent folder or the batches' own folder
        d = load_cifar(where, classes=classes)
        n_train = 20 if classes == 10 else 4
        assert d.x_train.shape == (n_train, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
        assert d.x_train.dtype == np.float32 and 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
        assert d.y_train.dtype == np.int64 and 0 <= d.y_train.min() and d.y_train.max() < classes
        assert d.name == f"cifar{classes}" and d.n_classes == classes
    raw = __import__("pickle").loads((folder / ("test_batch" if classes == 10 else "test")).read_bytes())
    assert np.allclose(d.x_test.reshape(4, -1) * 255, raw[b"data"])  # pixel order kept: channel, row, column


def test_cifar_from_the_environment_variable(tmp_path, monkeypatch):
    from infoscope.datasets import cifar_or_synthetic, load_cifar

    _write_cifar(tmp_path)
    monkeypatch.setenv("INFOSCOPE_DATA", str(tmp_path))
    assert load_cifar().name == "cifar10" and cifar_or_synthetic(None).name == "cifar10"
    assert cifar_or_synthetic("synthetic", n_train=30, n_test=10).name == "cifar10-synthetic"
    monkeypatch.delenv("INFOSCOPE_DATA")
    assert cifar_or_synthetic(None, n_train=30, n_test=10).name == "cifar10-synthetic"


def test_cifar_errors_name_the_files(tmp_path, monkeypatch):
    from infoscope.datasets import CIFARFormatError, load_cifar

    monkeypatch.delenv("INFOSCOPE_DATA", raising=False)
    with pytest.raises(CIFARFormatError, match="pass --data PATH"):
        load_cifar()
    with pytest.raises(CIFARFormatError, match=r"holds no CIFAR-10 python batches: expected data_batch_1, .*test_batch"):
        load_cifar(tmp_path)
    folder = _write_cifar(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(CIFARFormatError, match="data_batch_3 is not a CIFAR python batch"):
        load_cifar(tmp_path)
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(CIFARFormatError, match="refers to posix.system"):
        load_cifar(tmp_path)


def test_synthetic_cifar_is_learnable_and_seeded():
    from infoscope.datasets import synthetic_cifar

    a, b = synthetic_cifar(200, 50, seed=3), synthetic_cifar(200, 50, seed=3)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    # nearest class mean on the training split classifies held-out images far above chance
    means = np.stack([a.x_train[a.y_train == c].mean(0).ravel() for c in range(10)])
    pred = np.argmin(((a.x_test.reshape(50, -1)[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == a.y_test).mean() > 0.5
