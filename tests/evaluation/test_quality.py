"""The quality measures' image scores: PSNR and SSIM, and the switching filter."""
import numpy as np

from evaluation.quality import image_scores, ssim, switched


def test_image_scores():
    rng = np.random.default_rng(0)
    clean = rng.random((20, 784)).astype(np.float32)
    near, far = np.clip(clean + 0.01, 0, 1), rng.random((20, 784)).astype(np.float32)
    psnr_near, ssim_near = image_scores(near, clean)
    psnr_far, ssim_far = image_scores(far, clean)
    assert 39 < psnr_near < 41  # 10 log10(1 / 0.01^2) = 40 dB, less the clipped pixels
    assert ssim_near > 0.99 and ssim_far < 0.1 and psnr_far < 10


def test_switched_keeps_grey_pixels_and_restores_only_zeros_and_ones():
    noisy = np.array([[0.0, 1.0, 0.5, 0.01, 0.99]])
    restored = np.full_like(noisy, 0.3)
    np.testing.assert_array_equal(switched(restored, noisy), [[0.3, 0.3, 0.5, 0.01, 0.99]])


def test_ssim_matches_tensorflows():
    import tensorflow as tf
    rng = np.random.default_rng(1)
    clean = rng.random((30, 784)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1).astype(np.float32)
    for other in (noisy, rng.random((30, 784)).astype(np.float32), clean):
        images = [tf.reshape(tf.constant(a), (-1, 28, 28, 1)) for a in (other, clean)]
        np.testing.assert_allclose(ssim(other, clean), tf.image.ssim(*images, 1.0).numpy(), atol=1e-5)
