"""The quality measures' image scores: PSNR and SSIM, and the switching filter."""
import numpy as np

from evaluation.quality import image_scores, switched


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
