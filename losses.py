"""The negative ELBO of a Gaussian-encoder, Bernoulli-decoder VAE, and the semi-supervised bounds of M2, as small pure functions."""
import math

import tf_setup  # noqa: F401  (quiet TensorFlow import)
from keras import ops


def reparameterize(z_mean, z_std, eps):
    """z = mu + sigma * eps with eps ~ N(0, I): the reparameterisation trick (Kingma & Welling 2013, eq. 4)."""
    return z_mean + z_std * eps


def gaussian_kl(z_mean, z_std):
    """KL(N(mu, sigma^2) || N(0, I)) per example, summed over z (Kingma & Welling 2013, appendix B)."""
    return 0.5 * ops.sum(ops.square(z_mean) + ops.square(z_std) - 1.0 - 2.0 * ops.log(z_std), axis=-1)


def bernoulli_nll(x, logits):
    """-log p(x|z) per example for Bernoulli pixels given logits, summed over pixels.

    Uses max(l, 0) - l*x + log(1 + exp(-|l|)), exact for grey-level targets x in [0, 1] and free of log(0).
    """
    per_pixel = ops.relu(logits) - logits * x + ops.softplus(-ops.abs(logits))
    return ops.sum(per_pixel, axis=-1)


def negative_elbo(x, logits, z_mean, z_std):
    """Per-example loss terms: 'recon' = -log p(x|z), 'kl' = KL(q(z|x)||p(z)), 'loss' = their sum (the negative ELBO)."""
    recon = bernoulli_nll(x, logits)
    kl = gaussian_kl(z_mean, z_std)
    return {"recon": recon, "kl": kl, "loss": recon + kl}


# Semi-supervised bounds of Kingma et al. 2014 (model M2). Sign convention: like negative_elbo, every function
# returns the NEGATIVE of the paper's bound, a per-example loss in nats to minimise: -L(x,y), -U(x).

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
