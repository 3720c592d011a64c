"""The negative ELBO of a Gaussian-encoder, Bernoulli-decoder VAE, as small pure functions of tensors."""
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
