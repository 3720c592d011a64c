"""The MNIST files: checksums, the published facts of the arrays, damaged, altered, missing and downloaded files."""
import gzip
import hashlib
import io
import shutil
import urllib.request

import numpy as np
import pytest

from data import mnist
from data.mnist import SHA256, MNISTError, load_mnist, read_idx_bytes

NAMES = list(SHA256)


@pytest.fixture(scope="module")
def mnist_arrays():
    return load_mnist()


def test_repository_files_match_canonical_checksums():
    for name in NAMES:
        with gzip.open(mnist.DATA_DIR / f"{name}.gz", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == SHA256[name]


def test_loaded_arrays_match_published_facts(mnist_arrays):
    (x_train, y_train), (x_test, y_test) = mnist_arrays
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8
    assert list(y_train[:5]) == [5, 0, 4, 1, 9]
    assert list(np.bincount(y_train)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert list(np.bincount(y_test)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(x_train.mean() / 255 - 0.1306604762738429) < 1e-9


def _copy_data(tmp_path, names=NAMES):
    for name in names:
        shutil.copy(mnist.DATA_DIR / f"{name}.gz", tmp_path / f"{name}.gz")


def test_uncompressed_files_are_accepted(tmp_path):
    name = "t10k-labels-idx1-ubyte"
    with gzip.open(mnist.DATA_DIR / f"{name}.gz", "rb") as f:
        (tmp_path / name).write_bytes(f.read())
    assert hashlib.sha256(read_idx_bytes(name, tmp_path, download=False)).hexdigest() == SHA256[name]


def test_truncated_file_names_the_file(tmp_path):
    name = "t10k-images-idx3-ubyte"
    data = (mnist.DATA_DIR / f"{name}.gz").read_bytes()
    (tmp_path / f"{name}.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(MNISTError, match=name):
        read_idx_bytes(name, tmp_path, download=False)


def test_altered_file_fails_the_checksum(tmp_path):
    name = "t10k-labels-idx1-ubyte"
    with gzip.open(mnist.DATA_DIR / f"{name}.gz", "rb") as f:
        raw = bytearray(f.read())
    raw[100] ^= 1
    (tmp_path / name).write_bytes(bytes(raw))
    with pytest.raises(MNISTError, match="checksum"):
        read_idx_bytes(name, tmp_path, download=False)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(MNISTError, match="missing"):
        read_idx_bytes("t10k-labels-idx1-ubyte", tmp_path, download=False)


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(MNISTError, match="could not be downloaded"):
        read_idx_bytes("t10k-labels-idx1-ubyte", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_of_wrong_bytes_is_rejected_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(gzip.compress(b"not mnist")))
    with pytest.raises(MNISTError):
        read_idx_bytes("t10k-labels-idx1-ubyte", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_verified_download_is_kept(tmp_path, monkeypatch):
    name = "t10k-labels-idx1-ubyte"
    good = (mnist.DATA_DIR / f"{name}.gz").read_bytes()
    urls = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: urls.append(url) or io.BytesIO(good))
    raw = read_idx_bytes(name, tmp_path)
    assert hashlib.sha256(raw).hexdigest() == SHA256[name]
    assert urls[0].endswith(f"{name}.gz")
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.gz"]
