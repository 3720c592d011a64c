"""What a run feeds its model: the images as floats, one-hot labels, the fixed test inputs, binarization, hold-out."""
from dataclasses import dataclass

import numpy as np

from data import streams
from data.mnist import DATA_DIR, N_CLASSES, load_mnist
from data.noise import salt_and_pepper


@dataclass
class RunData:
    """The arrays of one run: float32 images [N, 784] in [0, 1], one-hot labels [N, 10], fixed test inputs."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_test_in: np.ndarray  # what the encoder sees at test time: x_test, or its fixed noisy copy with --add_noise
    eps_test: np.ndarray  # fixed N(0, I) draws for the test set's z samples
    valid: tuple = None  # --n_valid: (x_in, x, y, eps) of the held-out images, fixed as the test set's; else None


def prepare(images, labels):
    """uint8 [N, 28, 28] images and labels -> float32 [N, 784] in [0, 1] and one-hot float32 [N, 10]."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return x, one_hot(labels)


def one_hot(labels):
    """Integer labels -> one-hot float32 [N, 10]."""
    return np.eye(N_CLASSES, dtype=np.float32)[np.asarray(labels)]


def fixed_test_inputs(cfg, x_test, key=None):
    """Encoder inputs and sampling noise for evaluation, drawn once so every epoch sees the same ones."""
    rng = np.random.default_rng(streams.test_inputs(cfg["seed"]) if key is None else key)
    x_in = x_test
    if cfg["add_noise"]:
        uniform = rng.random(x_test.shape, dtype=np.float32)
        x_in = np.asarray(salt_and_pepper(x_test, uniform, cfg["noise_prob"]))
    eps = rng.standard_normal((len(x_test), cfg["dim_z"]), dtype=np.float32)
    return x_in, eps


def binarize(x, key):
    """One Bernoulli draw of every pixel with its grey level as probability, float32 0/1."""
    return (np.random.default_rng(key).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def load_run_data(cfg):
    """Load MNIST, keep the first n_train training images (the last n_valid of them held out), and draw the fixed
    test (and validation) inputs."""
    (train_images, train_labels), (test_images, test_labels) = load_mnist(cfg["data_dir"] or DATA_DIR)
    x_train, y_train = prepare(train_images[:cfg["n_train"]], train_labels[:cfg["n_train"]])
    x_test, y_test = prepare(test_images, test_labels)
    if cfg["binarize"] != "none":
        x_test = binarize(x_test, streams.TEST_BINARIZATION)
    if cfg["binarize"] == "static":
        x_train = binarize(x_train, streams.static_binarization(cfg["seed"]))
    data = RunData(x_train, y_train, x_test, y_test, *fixed_test_inputs(cfg, x_test))
    valid = hold_out(data, cfg["n_valid"], cfg["binarize"])
    if valid is not None:
        x_in, eps = fixed_test_inputs(cfg, valid[0], streams.valid_inputs(cfg["seed"]))
        data.valid = (x_in, valid[0], valid[1], eps)
    return data


def hold_out(data, n_valid, binarize_mode="none"):
    """Split the last n_valid training images off data (in place): the validation set (x, y), or None for 0.

    With --binarize dynamic it is one fixed binary draw, as the test set is (static: already the training draw)."""
    if not n_valid:
        return None
    x_valid, y_valid = data.x_train[-n_valid:], data.y_train[-n_valid:]
    data.x_train, data.y_train = data.x_train[:-n_valid], data.y_train[:-n_valid]
    return (binarize(x_valid, streams.VALID_BINARIZATION) if binarize_mode == "dynamic" else x_valid), y_valid
