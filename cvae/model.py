"""CVAE: the VAE with the one-hot label concatenated to the encoder's and the decoder's input."""
from data.mnist import N_CLASSES
from vae.model import VAE


class CVAE(VAE):
    """q(z|x,y) and p(x|y,z) as in model M2 of Kingma et al. 2014, with all labels observed."""

    n_classes = N_CLASSES
