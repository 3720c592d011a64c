"""Quality measures of a trained model: test log-likelihood, CVAE conditional fidelity and CAS, denoising gain.

tools/measure.py applies them to a finished run folder and merges the numbers into its metrics.json.
"""
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf
from keras import ops

from data import streams
from data.mnist import IMAGE_SIZE, N_CLASSES
from data.noise import salt_and_pepper
from data.prepare import one_hot
from evaluation import classifier
from evaluation.batches import in_batches
from vae.likelihood import iw_log_likelihood

PER_LABEL = 1_000  # prior samples decoded with each label for the conditional accuracy: 10,000 images
DENOISE_LEVELS = (0.1, 0.3, 0.5)
QUALITY_BATCH = 5_000  # images per model call: the reported numbers were measured with it (the size moves last digits)


def decode_images(model, z, labels):
    """Pixel intensities p(x|z, y) of latent codes z decoded with integer labels (ignored by the VAE)."""
    return in_batches(lambda zb, yb: ops.convert_to_numpy(ops.sigmoid(model.decode(zb, yb))), z, one_hot(labels),
                      size=QUALITY_BATCH)


def log_likelihood_metrics(model, data, k, seed):
    """Importance-weighted test log-likelihood with K samples, as a negative mean in nats, and its standard error."""
    # The proposal is q(z | clean x) even for a denoiser: any proposal gives an estimate whose expectation is <= log p(x).
    ll = iw_log_likelihood(model, data.x_test, data.y_test, k, seed=seed)
    return {f"test_nll_k{k}": float(-ll.mean()), f"test_nll_k{k}_sem": float(ll.std() / np.sqrt(len(ll)))}


def conditional_accuracy(model, clf, seed):
    """(a) How often the classifier reads the conditioning label in images decoded from prior samples."""
    rng = np.random.default_rng(streams.quality(seed))
    labels = np.repeat(np.arange(N_CLASSES), PER_LABEL)
    z = rng.standard_normal((len(labels), model.dim_z), dtype=np.float32)
    return classifier.accuracy(clf, decode_images(model, z, labels), labels)


def style_transfer_accuracy(model, clf, x, y):
    """(b) Test images encoded with their own label and decoded with each of the 10: how often it reads the new one."""
    z_mean = in_batches(lambda xb, yb: ops.convert_to_numpy(model.encode(xb, yb)[0]), x, y, size=QUALITY_BATCH)
    hits = [np.sum(classifier.predict_labels(clf, decode_images(model, z_mean, np.full(len(x), t))) == t)
            for t in range(N_CLASSES)]
    return float(np.sum(hits) / (N_CLASSES * len(x)))


def generated_set(model, n, seed):
    """n labelled images decoded from prior samples, labels 0..9 in turn: uint8 [n, 28, 28] and uint8 [n]."""
    rng = np.random.default_rng(streams.quality(seed, 1))
    labels = np.arange(n) % N_CLASSES
    z = rng.standard_normal((n, model.dim_z), dtype=np.float32)
    images = np.rint(decode_images(model, z, labels) * 255).astype(np.uint8).reshape(n, IMAGE_SIZE, IMAGE_SIZE)
    return images, labels.astype(np.uint8)


def classification_accuracy_score(images, labels, x_real, y_real, seed):
    """CAS (Ravuri and Vinyals 2019): the classifier trained only on generated images, tested on real ones."""
    clf = classifier.train_classifier(images.reshape(len(images), -1).astype(np.float32) / 255.0, labels,
                                      seed=streams.quality(seed))
    return classifier.accuracy(clf, x_real, y_real)


def image_scores(restored, clean):
    """Mean PSNR (dB) and SSIM of restored against clean images, both [N, 784] in [0, 1]."""
    a = tf.reshape(tf.constant(restored, tf.float32), (-1, IMAGE_SIZE, IMAGE_SIZE, 1))
    b = tf.reshape(tf.constant(clean, tf.float32), (-1, IMAGE_SIZE, IMAGE_SIZE, 1))
    return float(tf.reduce_mean(tf.image.psnr(a, b, 1.0))), float(np.mean(ssim(restored, clean)))


def gaussian_blur(x, size=11, sigma=1.5):
    """x [N, H, W] filtered with tf.image.ssim's normalised Gaussian window, separably, 'valid' padding."""
    g = np.exp(-(np.arange(size) - (size - 1) / 2) ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    return sliding_window_view(sliding_window_view(x, size, axis=1) @ g, size, axis=2) @ g


def ssim(x, y, max_val=1.0, k1=0.01, k2=0.03):
    """Per-image SSIM of x against y ([N, 784]) as tf.image.ssim computes it (Wang et al. 2004), in float64 numpy:
    TensorFlow's depthwise 11x11 convolution takes ~20 s per 10,000 images on a CPU core, this ~1 s."""
    x, y = (np.asarray(a, np.float64).reshape(-1, IMAGE_SIZE, IMAGE_SIZE) for a in (x, y))
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mean_x, mean_y = gaussian_blur(x), gaussian_blur(y)
    num0, den0 = 2 * mean_x * mean_y, mean_x ** 2 + mean_y ** 2
    luminance = (num0 + c1) / (den0 + c1)
    contrast_structure = (2 * gaussian_blur(x * y) - num0 + c2) / (gaussian_blur(x * x + y * y) - den0 + c2)
    return (luminance * contrast_structure).mean(axis=(1, 2))


def switched(restored, noisy):
    """Keep every noisy pixel that salt-and-pepper noise cannot have made (grey levels strictly inside (0, 1)) and
    take the restoration's value for the 0s and 1s: a switching filter. Noise only ever writes 0 or 1, so this
    discards no information; on binarized test images every pixel is 0 or 1 and it changes nothing."""
    return np.where((noisy > 0) & (noisy < 1), noisy, restored)


def denoise_metrics(model, data, seed):
    """PSNR and SSIM of the model's restorations of salt-and-pepper noisy test images, beside a 3x3 median filter;
    and of both as switching filters (only the pixels that may be noise restored)."""
    out = {}
    for i, level in enumerate(DENOISE_LEVELS):
        uniform = np.random.default_rng(streams.quality(seed, 2, i)).random(data.x_test.shape, dtype=np.float32)
        noisy = ops.convert_to_numpy(salt_and_pepper(data.x_test, uniform, level))
        restored = in_batches(lambda xb, yb: ops.convert_to_numpy(ops.sigmoid(model(xb, yb))), noisy, data.y_test,
                              size=QUALITY_BATCH)
        median = ndimage.median_filter(noisy.reshape(-1, IMAGE_SIZE, IMAGE_SIZE), size=(1, 3, 3)).reshape(noisy.shape)
        for name, images in (("noisy", noisy), ("denoise", restored), ("median", median),
                             ("switch_denoise", switched(restored, noisy)), ("switch_median", switched(median, noisy))):
            out[f"{name}_psnr_{level}"], out[f"{name}_ssim_{level}"] = image_scores(images, data.x_test)
    return out


def save_generated(path, images, labels):
    """Export a generated labelled set as .npz: x uint8 [N, 28, 28], y uint8 [N]."""
    path = Path(path)
    with path.open("xb") as f:  # "x": never overwrite a file that exists
        np.savez_compressed(f, x=images, y=labels)
