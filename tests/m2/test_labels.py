"""The labelled images of M2 and M1+M2: a balanced subset fixed by the seed, and even passes over it."""
import numpy as np
import pytest

from m2.labels import balanced_labelled_indices, labelled_batches


@pytest.fixture(scope="module")
def train_labels():
    from data.mnist import load_mnist
    return load_mnist()[0][1]


@pytest.mark.parametrize("n_labeled", [100, 600, 1000, 3000])
def test_labelled_images_are_balanced_and_fixed_by_the_seed(train_labels, n_labeled):
    idx = balanced_labelled_indices(train_labels, n_labeled, seed=0)
    assert len(np.unique(idx)) == n_labeled
    assert np.bincount(train_labels[idx], minlength=10).tolist() == [n_labeled // 10] * 10
    np.testing.assert_array_equal(idx, balanced_labelled_indices(train_labels, n_labeled, seed=0))
    assert not np.array_equal(idx, balanced_labelled_indices(train_labels, n_labeled, seed=1))


def test_labelled_batches_cycle_through_every_label_evenly():
    lab = labelled_batches(100, 30, 10, seed=0, epoch=1)
    assert lab.shape == (10, 30)
    assert np.bincount(lab.ravel(), minlength=100).tolist() == [3] * 100
