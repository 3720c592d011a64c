"""Salt-and-pepper corruption for training a denoiser."""
import tf_setup  # noqa: F401  (quiet TensorFlow import)
from keras import ops


def salt_and_pepper(x, uniform, prob):
    """Set each pixel to 1 where uniform < prob/2 and to 0 where prob/2 <= uniform < prob, else keep it.

    `uniform` holds U[0, 1) draws of x's shape, passed in so the function stays pure and seedable.
    A pixel is corrupted with probability prob, half of those to salt (1), half to pepper (0).
    """
    salt = ops.cast(uniform < prob / 2, x.dtype)
    corrupted = ops.cast(uniform < prob, x.dtype)
    return x * (1 - corrupted) + salt
