"""The one batched-apply loop: a function over arrays too large for one call, a batch at a time."""
import numpy as np

BATCH = 2_000  # rows per call where a caller names no size: 2000 images of the default MLP fit easily in memory


def in_batches(fn, *arrays, size=BATCH):
    """fn applied to consecutive row slices of the arrays, its numpy results concatenated along the first axis.

    fn may return one array or a tuple of arrays (then a tuple comes back). The batch size can change the last
    float digit of a matmul's result, so a caller whose numbers are reported keeps the size it was measured with.
    """
    parts = [fn(*(a[start:start + size] for a in arrays)) for start in range(0, len(arrays[0]), size)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(len(parts[0])))
    return np.concatenate([np.asarray(p) for p in parts])
