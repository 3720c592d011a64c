"""The VAE of Kingma & Welling 2013: an MLP Gaussian encoder q(z|x) and an MLP Bernoulli decoder p(x|z)."""
from vae.model import VAE  # noqa: F401
