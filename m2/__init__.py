"""Semi-supervised models of Kingma et al. 2014: M2 (CVAE plus a classifier q(y|x)) and M1+M2 (M2 on a VAE's latents)."""
from m2.model import M1M2, M2  # noqa: F401
