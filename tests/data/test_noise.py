"""Salt-and-pepper noise: the fraction of pixels it sets, half to 0 and half to 1, and the pixels it keeps."""
import numpy as np

import tf_setup  # noqa: F401
from keras import ops

from data.noise import salt_and_pepper


def test_salt_and_pepper_fraction_range_and_kept_pixels():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(200, 784)).astype(np.float32)  # no pixel is 0 or 1 before noise
    for prob in (0.1, 0.5, 0.9):
        u = rng.random(x.shape, dtype=np.float32)
        noisy = np.asarray(ops.convert_to_numpy(salt_and_pepper(x, u, prob)))
        salt, pepper = noisy == 1.0, noisy == 0.0
        assert abs((salt | pepper).mean() - prob) < 0.01
        assert abs(salt.mean() - prob / 2) < 0.01 and abs(pepper.mean() - prob / 2) < 0.01
        assert noisy.min() >= 0.0 and noisy.max() <= 1.0
        kept = ~(salt | pepper)
        np.testing.assert_array_equal(noisy[kept], x[kept])


def test_zero_probability_changes_nothing():
    x = np.random.default_rng(1).uniform(size=(3, 784)).astype(np.float32)
    u = np.random.default_rng(2).random(x.shape, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(ops.convert_to_numpy(salt_and_pepper(x, u, 0.0))), x)
