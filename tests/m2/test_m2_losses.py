"""The semi-supervised bounds of M2 (m2.losses) at their limits and by hand."""
import numpy as np
from scipy.stats import norm

import tf_setup  # noqa: F401
from keras import ops

from m2.losses import (classification_nll, gaussian_nll, negative_labelled_bound, negative_unlabelled_bound,
                       semi_supervised_loss)


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def test_unlabelled_bound_limits():
    neg_l = np.float32([[3.0, 5.0, 9.0]])
    uniform = negative_unlabelled_bound(neg_l, np.zeros((1, 3), np.float32))
    np.testing.assert_allclose(np_(uniform), [17.0 / 3 - np.log(3)], rtol=1e-6)
    certain = negative_unlabelled_bound(neg_l, np.float32([[0.0, 60.0, 0.0]]))
    np.testing.assert_allclose(np_(certain), [5.0], rtol=1e-6)


def test_labelled_bound_includes_log_prior_of_the_label():
    np.testing.assert_allclose(np_(negative_labelled_bound(np.float32([100.0]), np.float32([7.0]), 10)),
                               [107.0 + np.log(10)], rtol=1e-6)


def test_classification_nll_and_gaussian_nll_by_hand():
    logits = np.float32([[1.0, 2.0, 0.5]])
    y = np.float32([[0, 1, 0]])
    np.testing.assert_allclose(np_(classification_nll(y, logits)), [-np.log(np.exp(2) / np.exp(logits).sum())], rtol=1e-6)
    x, mean, std = np.float32([[0.3, -1.0]]), np.float32([[0.0, 0.5]]), np.float32([[0.5, 2.0]])
    np.testing.assert_allclose(np_(gaussian_nll(x, mean, std)), [-norm.logpdf(x, mean, std).sum()], rtol=1e-5)


def test_semi_supervised_loss_weights_sets_by_their_size():
    loss = semi_supervised_loss(np.float32([10.0, 20.0]), np.float32([30.0, 50.0]), np.float32([1.0, 3.0]),
                                n_labeled=100, n_unlabeled=900, alpha=0.1 * 1000)
    np.testing.assert_allclose(np_(loss), (100 * 15.0 + 900 * 40.0 + 100 * 2.0) / 1000, rtol=1e-6)
