"""The conditional VAE: model M2 of Kingma et al. 2014 trained with every label given."""
from cvae.model import CVAE  # noqa: F401
