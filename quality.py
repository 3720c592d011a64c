"""Measured quality of a finished run: test log-likelihood, CVAE conditional fidelity and CAS, denoising gain.

evaluate_run(run_dir) loads the run's saved model, measures on the 10,000 test images, and merges the numbers
(and the settings that produced them) into the run's metrics.json.
"""
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf
from keras import ops

import classifier
from classifier import CAS_N
from config import FLAGS, N_TEST_IMAGES
from data.mnist import DATA_DIR, N_CLASSES, load_mnist
from evaluate import load_run_data, prepare
from likelihood import iw_log_likelihood
from noise import salt_and_pepper
from rundir import write_json
from train import load_trained_model

LL_K = FLAGS["ll_k"][1]  # about a minute for the default model on 2 CPU cores; 5000 for comparison with papers
PER_LABEL = 1_000  # prior samples decoded with each label for the conditional accuracy: 10,000 images
DENOISE_LEVELS = (0.1, 0.3, 0.5)
QUALITY_SEED_OFFSET = 50_000  # the draws below come from seed + this, apart from training's and the test ELBO's
DECODE_BATCH = 5_000


def decode_images(model, z, labels):
    """Pixel intensities p(x|z, y) of latent codes z decoded with integer labels (ignored by the VAE)."""
    y = np.eye(N_CLASSES, dtype=np.float32)[labels]
    return np.concatenate([ops.convert_to_numpy(ops.sigmoid(model.decode(z[i:i + DECODE_BATCH], y[i:i + DECODE_BATCH])))
                           for i in range(0, len(z), DECODE_BATCH)])


def log_likelihood_metrics(model, data, k, seed):
    """Importance-weighted test log-likelihood with K samples, as a negative mean in nats, and its standard error."""
    # The proposal is q(z | clean x) even for a denoiser: any proposal gives an estimate whose expectation is <= log p(x).
    ll = iw_log_likelihood(model, data.x_test, data.y_test, k, seed=seed)
    return {f"test_nll_k{k}": float(-ll.mean()), f"test_nll_k{k}_sem": float(ll.std() / np.sqrt(len(ll)))}


def conditional_accuracy(model, clf, seed):
    """(a) How often the classifier reads the conditioning label in images decoded from prior samples."""
    rng = np.random.default_rng(seed + QUALITY_SEED_OFFSET)
    labels = np.repeat(np.arange(N_CLASSES), PER_LABEL)
    z = rng.standard_normal((len(labels), model.dim_z), dtype=np.float32)
    return classifier.accuracy(clf, decode_images(model, z, labels), labels)


def style_transfer_accuracy(model, clf, x, y):
    """(b) Test images encoded with their own label and decoded with each of the 10: how often it reads the new one."""
    z_mean = np.concatenate([ops.convert_to_numpy(model.encode(x[i:i + DECODE_BATCH], y[i:i + DECODE_BATCH])[0])
                             for i in range(0, len(x), DECODE_BATCH)])
    hits = [np.sum(classifier.predict_labels(clf, decode_images(model, z_mean, np.full(len(x), t))) == t)
            for t in range(N_CLASSES)]
    return float(np.sum(hits) / (N_CLASSES * len(x)))


def generated_set(model, n, seed):
    """n labelled images decoded from prior samples, labels 0..9 in turn: uint8 [n, 28, 28] and uint8 [n]."""
    rng = np.random.default_rng([seed + QUALITY_SEED_OFFSET, 1])
    labels = np.arange(n) % N_CLASSES
    z = rng.standard_normal((n, model.dim_z), dtype=np.float32)
    images = np.rint(decode_images(model, z, labels) * 255).astype(np.uint8).reshape(n, 28, 28)
    return images, labels.astype(np.uint8)


def classification_accuracy_score(images, labels, x_real, y_real, seed):
    """CAS (Ravuri and Vinyals 2019): the classifier trained only on generated images, tested on real ones."""
    clf = classifier.train_classifier(images.reshape(len(images), -1).astype(np.float32) / 255.0, labels,
                                      seed=seed + QUALITY_SEED_OFFSET)
    return classifier.accuracy(clf, x_real, y_real)


def image_scores(restored, clean):
    """Mean PSNR (dB) and SSIM of restored against clean images, both [N, 784] in [0, 1]."""
    a = tf.reshape(tf.constant(restored, tf.float32), (-1, 28, 28, 1))
    b = tf.reshape(tf.constant(clean, tf.float32), (-1, 28, 28, 1))
    return float(tf.reduce_mean(tf.image.psnr(a, b, 1.0))), float(tf.reduce_mean(tf.image.ssim(a, b, 1.0)))


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
        uniform = np.random.default_rng([seed + QUALITY_SEED_OFFSET, 2, i]).random(data.x_test.shape, dtype=np.float32)
        noisy = ops.convert_to_numpy(salt_and_pepper(data.x_test, uniform, level))
        restored = np.concatenate([ops.convert_to_numpy(ops.sigmoid(model(noisy[j:j + DECODE_BATCH], data.y_test[j:j + DECODE_BATCH])))
                                   for j in range(0, len(noisy), DECODE_BATCH)])
        median = ndimage.median_filter(noisy.reshape(-1, 28, 28), size=(1, 3, 3)).reshape(noisy.shape)
        for name, images in (("noisy", noisy), ("denoise", restored), ("median", median),
                             ("switch_denoise", switched(restored, noisy)), ("switch_median", switched(median, noisy))):
            out[f"{name}_psnr_{level}"], out[f"{name}_ssim_{level}"] = image_scores(images, data.x_test)
    return out


def save_generated(path, images, labels):
    """Export a generated labelled set as .npz: x uint8 [N, 28, 28], y uint8 [N]."""
    path = Path(path)
    with path.open("xb") as f:  # "x": never overwrite a file that exists
        np.savez_compressed(f, x=images, y=labels)


def evaluate_run(run_dir, ll_k=LL_K, cas_n=CAS_N, classifier_path=None, export=None, n_test=None, log=print):
    """Measure a finished run's quality and merge the numbers into its metrics.json; returns the new metrics.

    ll_k = 0 skips the log-likelihood, cas_n = 0 the CAS. For a CVAE the classifier must exist
    (classifier.ClassifierMissing says how to make it); export writes the CAS's generated set as .npz.
    n_test measures on the first n_test test images only, for smoke tests; the default is all 10,000.
    """
    run_dir = Path(run_dir)
    cfg, model = load_trained_model(run_dir)
    conditional = model.n_classes > 0
    clf = classifier.load_classifier(classifier_path) if conditional else None  # fails here, before any long work
    data = load_run_data(cfg)
    data.x_test, data.y_test, data.x_test_in = data.x_test[:n_test], data.y_test[:n_test], data.x_test_in[:n_test]
    seed = cfg["seed"]
    metrics, settings = {}, {"binarize": cfg.get("binarize", "none"), "seed": seed, "n_test": len(data.x_test)}

    start = time.time()
    if ll_k:
        metrics |= log_likelihood_metrics(model, data, ll_k, seed)
        settings["ll_k"] = ll_k
        log(f"test log-likelihood (K = {ll_k}): -{metrics[f'test_nll_k{ll_k}']:.2f} nats "
            f"(negative ELBO {json.loads((run_dir / 'metrics.json').read_text())['test_neg_elbo']:.2f})  {time.time() - start:.0f}s")
    if conditional:
        (_, _), (test_images, test_labels) = load_mnist(cfg.get("data_dir") or DATA_DIR)
        test_images, test_labels = test_images[:n_test], test_labels[:n_test]
        x_real, _ = prepare(test_images, test_labels)  # the real grey-level test set, whatever the run trained on
        metrics["classifier_test_acc"] = classifier.accuracy(clf, x_real, test_labels)
        metrics["cond_acc_prior"] = conditional_accuracy(model, clf, seed)
        metrics["cond_acc_transfer"] = style_transfer_accuracy(model, clf, data.x_test, data.y_test)
        settings |= {"classifier": str(classifier_path or classifier.default_path()), "per_label": PER_LABEL}
        log(f"conditional accuracy: prior samples {metrics['cond_acc_prior']:.4f}, style transfer "
            f"{metrics['cond_acc_transfer']:.4f} (classifier {metrics['classifier_test_acc']:.4f} on real test images)")
        if cas_n:
            images, labels = generated_set(model, cas_n, seed)
            if export:
                save_generated(export, images, labels)
                log(f"generated labelled set: {export}")
            metrics["cas_acc"] = classification_accuracy_score(images, labels, x_real, test_labels, seed)
            settings |= {"cas_n": cas_n, "cas_epochs": classifier.EPOCHS}
            log(f"classification accuracy score (CAS, {cas_n} generated images): {metrics['cas_acc']:.4f}")
    metrics |= denoise_metrics(model, data, seed)
    settings["denoise_levels"] = list(DENOISE_LEVELS)
    log("denoising PSNR (model / 3x3 median / noisy): " + ", ".join(
        f"{p}: {metrics[f'denoise_psnr_{p}']:.2f} / {metrics[f'median_psnr_{p}']:.2f} / {metrics[f'noisy_psnr_{p}']:.2f}"
        for p in DENOISE_LEVELS))
    log("as switching filters, restoring only 0 and 1 pixels (model / median): " + ", ".join(
        f"{p}: {metrics[f'switch_denoise_psnr_{p}']:.2f} / {metrics[f'switch_median_psnr_{p}']:.2f}"
        for p in DENOISE_LEVELS))

    metrics["quality_seconds"] = round(time.time() - start, 1)
    saved = json.loads((run_dir / "metrics.json").read_text())
    if len(data.x_test) < N_TEST_IMAGES:
        # A subset's numbers go under a key of their own: they never replace those measured on all test images.
        key = f"quality_first_{len(data.x_test)}_test_images"
        write_json(run_dir / "metrics.json", saved | {key: metrics | {"quality_settings": settings}})
        return metrics
    # An earlier evaluation's numbers stay (test_nll_k100 beside test_nll_k5000); its settings merge with these.
    metrics["quality_settings"] = saved.get("quality_settings", {}) | settings
    write_json(run_dir / "metrics.json", saved | metrics)
    return metrics
