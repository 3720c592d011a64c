"""Evaluation on the test set: fixed inputs and the negative ELBO over all test images."""
from dataclasses import dataclass

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from data.mnist import DATA_DIR, N_CLASSES, load_mnist
from noise import salt_and_pepper

TERMS = ("recon", "kl", "loss")
EVAL_BATCH = 2000
TEST_SEED_OFFSET = 10_000  # the test set's fixed noise and eps come from seed + this, apart from training's
TEST_BINARIZE_SEED = 20_151  # one binary test set for every run and seed, so their log-likelihoods compare
VALID_BINARIZE_SEED = 20_152  # --n_valid with --binarize dynamic: the validation set's one draw, as the test set's
STATIC_SEED_OFFSET = 30_000  # --binarize static: the training set's one draw comes from seed + this


@dataclass
class RunData:
    """The arrays of one run: float32 images [N, 784] in [0, 1], one-hot labels [N, 10], fixed test inputs."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_test_in: np.ndarray  # what the encoder sees at test time: x_test, or its fixed noisy copy with --add_noise
    eps_test: np.ndarray  # fixed N(0, I) draws for the test set's z samples


def prepare(images, labels):
    """uint8 [N, 28, 28] images and labels -> float32 [N, 784] in [0, 1] and one-hot float32 [N, 10]."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = np.eye(N_CLASSES, dtype=np.float32)[labels]
    return x, y


def fixed_test_inputs(cfg, x_test):
    """Encoder inputs and sampling noise for evaluation, drawn once so every epoch sees the same ones."""
    rng = np.random.default_rng(cfg["seed"] + TEST_SEED_OFFSET)
    x_in = x_test
    if cfg["add_noise"]:
        uniform = rng.random(x_test.shape, dtype=np.float32)
        x_in = np.asarray(salt_and_pepper(x_test, uniform, cfg["noise_prob"]))
    eps = rng.standard_normal((len(x_test), cfg["dim_z"]), dtype=np.float32)
    return x_in, eps


def binarize(x, seed):
    """One Bernoulli draw of every pixel with its grey level as probability, float32 0/1."""
    return (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def load_run_data(cfg):
    """Load MNIST, keep the first n_train training images, and draw the fixed test inputs."""
    (train_images, train_labels), (test_images, test_labels) = load_mnist(cfg.get("data_dir") or DATA_DIR)
    x_train, y_train = prepare(train_images[:cfg["n_train"]], train_labels[:cfg["n_train"]])
    x_test, y_test = prepare(test_images, test_labels)
    mode = cfg.get("binarize", "none")  # runs made before --binarize existed trained on grey levels
    if mode != "none":
        x_test = binarize(x_test, TEST_BINARIZE_SEED)
    if mode == "static":
        x_train = binarize(x_train, cfg["seed"] + STATIC_SEED_OFFSET)
    return RunData(x_train, y_train, x_test, y_test, *fixed_test_inputs(cfg, x_test))


def make_evaluate(model):
    """A compiled function summing the loss terms over one evaluation batch."""
    @tf.function
    def eval_batch(x_in, x, y, eps):
        terms = model.loss_terms(x_in, x, y, eps)
        return tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
    return eval_batch


def evaluate(eval_batch, x_in, x, y, eps):
    """Mean loss terms over all images, in batches of EVAL_BATCH."""
    sums = np.zeros(len(TERMS))
    for start in range(0, len(x), EVAL_BATCH):
        end = start + EVAL_BATCH
        sums += eval_batch(x_in[start:end], x[start:end], y[start:end], eps[start:end]).numpy()
    return dict(zip(TERMS, sums / len(x)))

