"""The labelled images of M2 and M1+M2: a balanced subset, and the labelled batches of each step."""
import numpy as np

from data import streams
from data.mnist import N_CLASSES


def balanced_labelled_indices(labels, n_labeled, seed):
    """Indices of n_labeled images, n_labeled/10 of each class, drawn without replacement by the seed; sorted."""
    rng = np.random.default_rng(streams.labelled_subset(seed, n_labeled))
    per_class = n_labeled // N_CLASSES
    picked = []
    for k in range(N_CLASSES):
        candidates = np.flatnonzero(labels == k)
        if len(candidates) < per_class:
            raise ValueError(f"--n_labeled {n_labeled} needs {per_class} images of class {k} among the "
                             f"--n_train images, found {len(candidates)}")
        picked.append(rng.choice(candidates, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def labelled_batches(n_labeled, batch_size, n_steps, seed, epoch):
    """[n_steps, batch_size] indices into the labelled set: shuffled passes over it, repeated as needed."""
    rng = np.random.default_rng(streams.labelled_order(seed, epoch))
    n_passes = -(-n_steps * batch_size // n_labeled)
    order = np.concatenate([rng.permutation(n_labeled) for _ in range(n_passes)])
    return order[:n_steps * batch_size].astype(np.int32).reshape(n_steps, batch_size)
