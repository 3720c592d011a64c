"""The semi-supervised bounds of Kingma et al. 2014 (model M2), as small pure functions of tensors.

Sign convention: like vae.losses.negative_elbo, every function returns the NEGATIVE of the paper's bound, a
per-example loss in nats to minimise: -L(x,y), -U(x).
"""
import math

import tf_setup  # noqa: F401  (quiet TensorFlow import)
from keras import ops


def gaussian_nll(x, mean, std, weights=None):
    """-log N(x; mean, std^2) per example, summed over dimensions (the M2 likelihood on M1's latents); weights
    (one per dimension, 0 or 1) leave dimensions out of the sum."""
    per_dim = 0.5 * ops.square((x - mean) / std) + ops.log(std) + 0.5 * math.log(2 * math.pi)
    return ops.sum(per_dim if weights is None else per_dim * weights, axis=-1)


def negative_labelled_bound(x_nll, kl, n_classes):
    """-L(x,y) (Kingma et al. 2014, eq. 6): -log p(x|y,z) + KL(q(z|x,y)||p(z)) - log p(y), p(y) uniform."""
    return x_nll + kl + math.log(n_classes)


def negative_unlabelled_bound(neg_labelled, class_logits):
    """-U(x) (eq. 7) = sum_y q(y|x) (-L(x,y)) - H(q(y|x)); neg_labelled is [batch, n_classes], -L for every y."""
    log_q = ops.log_softmax(class_logits, axis=-1)
    q = ops.exp(log_q)
    return ops.sum(q * neg_labelled, axis=-1) + ops.sum(q * log_q, axis=-1)  # the second sum is -H(q)


def classification_nll(y, class_logits):
    """-log q(y|x) per example for one-hot y: the classification term of eq. 9."""
    return -ops.sum(y * ops.log_softmax(class_logits, axis=-1), axis=-1)


def semi_supervised_loss(neg_labelled, neg_unlabelled, class_nll, n_labeled, n_unlabeled, alpha):
    """-J^alpha / N (eq. 9): J sums L over the labelled and U over the unlabelled images, each batch mean
    standing for its set's sum, plus alpha times the mean classification term; N = n_labeled + n_unlabeled."""
    n = n_labeled + n_unlabeled
    return (n_labeled * ops.mean(neg_labelled) + n_unlabeled * ops.mean(neg_unlabelled)
            + alpha * ops.mean(class_nll)) / n
