"""Load MNIST from the IDX files in data/, verifying each file's SHA-256 before use."""
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent
IMAGE_SIZE = 28
DIM_X = IMAGE_SIZE * IMAGE_SIZE  # pixels of one flattened image
N_CLASSES = 10
N_TRAIN_IMAGES = 60_000
N_TEST_IMAGES = 10_000

# SHA-256 of the uncompressed IDX files (shared/MNIST.md); the same bytes whatever gzip wrapped them.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
DOWNLOAD_TIMEOUT = 30  # seconds per mirror; an offline machine fails fast instead of hanging
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


class MNISTError(Exception):
    """A missing, damaged or altered MNIST file; the message says which and what to do."""


def restore_hint(path):
    """How to get a good copy of path back: git for the repository's own data/, a copy from it anywhere else."""
    path = Path(path).resolve()
    if path.is_relative_to(DATA_DIR):
        return f"restore it with 'git checkout -- data/{path.relative_to(DATA_DIR)}'"
    return f"copy {path.name} from this repository's data/ folder ({DATA_DIR})"


def _read_verified(path, name):
    """Return the uncompressed bytes of `path` if their SHA-256 is the canonical one."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise MNISTError(f"{path} is unreadable or truncated ({err}); {restore_hint(path)}, "
                         "or delete it to download it again") from None
    if hashlib.sha256(raw).hexdigest() != SHA256[name]:
        raise MNISTError(f"{path} does not match the canonical MNIST checksum (altered or truncated); "
                         f"{restore_hint(path)}, or delete it to download it again")
    return raw


def _download(name, data_dir):
    """Fetch name.gz from the public mirrors, verify it, and only then move it into place."""
    errors = []
    if not data_dir.is_dir():  # a mistyped folder is never created
        raise MNISTError(f"{data_dir / name}.gz is missing: {data_dir} is not a folder; fix the path or make it")
    for mirror in MIRRORS:
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{name}.", suffix=".part.gz")
        os.close(fd)
        tmp = Path(tmp)
        try:
            with urllib.request.urlopen(mirror + name + ".gz", timeout=DOWNLOAD_TIMEOUT) as response:
                tmp.write_bytes(response.read())
            raw = _read_verified(tmp, name)
            os.replace(tmp, data_dir / f"{name}.gz")
            return raw
        except (OSError, MNISTError) as err:
            errors.append(f"{mirror}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    raise MNISTError(f"{data_dir / name}.gz is missing and could not be downloaded ({errors[-1]}); "
                     f"{restore_hint(data_dir / (name + '.gz'))}")


def read_idx_bytes(name, data_dir=DATA_DIR, download=True):
    """Uncompressed bytes of one IDX file: name.gz, else name, else a verified download."""
    data_dir = Path(data_dir)
    for path in (data_dir / f"{name}.gz", data_dir / name):
        if path.exists():
            return _read_verified(path, name)
    if not download:
        raise MNISTError(f"{data_dir / name}.gz is missing; {restore_hint(data_dir / (name + '.gz'))}")
    return _download(name, data_dir)


def parse_idx(raw):
    """Decode IDX bytes (unsigned-byte data) into a numpy array."""
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise MNISTError("not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(data_dir=DATA_DIR, download=True):
    """Return (x_train, y_train), (x_test, y_test): uint8 images [N, 28, 28] and uint8 labels [N]."""
    def load(prefix):
        images = parse_idx(read_idx_bytes(f"{prefix}-images-idx3-ubyte", data_dir, download))
        labels = parse_idx(read_idx_bytes(f"{prefix}-labels-idx1-ubyte", data_dir, download))
        return images, labels
    return load("train"), load("t10k")
