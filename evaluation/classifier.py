"""The project's own MNIST classifier: a small Keras CNN that scores generated digits (never committed).

Train it once with `python -m tools.classifier` (a few minutes on 2 CPU cores, >= 99% test accuracy); the weights
go to ~/.cache/vae_mnist/classifier.weights.h5, or to the path in $VAE_MNIST_CLASSIFIER, or to --out.
"""
import json
import os
from pathlib import Path

import numpy as np

from evaluation.batches import in_batches

ENV_VAR = "VAE_MNIST_CLASSIFIER"
DEFAULT_PATH = Path.home() / ".cache" / "vae_mnist" / "classifier.weights.h5"
EPOCHS = 5
BATCH_SIZE = 128
CAS_N = 60_000  # generated images the CAS classifier trains on (quality.py): as many as MNIST's training set


class ClassifierMissing(Exception):
    """No trained classifier at the expected path; the message says how to make one."""


def default_path():
    """Where the classifier's weights live: $VAE_MNIST_CLASSIFIER, else ~/.cache/vae_mnist/."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def build_classifier(compile=True):
    """Two 3x3 conv blocks with max-pooling, a 128-unit dense layer with dropout, 10 logits."""
    import tf_setup  # noqa: F401  (TensorFlow loads only when needed: default_path() stays cheap for the CLI checks)
    import keras
    from keras import layers
    model = keras.Sequential([
        keras.Input((28 * 28,)),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10),
    ], name="mnist_classifier")
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def train_classifier(x, labels, epochs=EPOCHS, seed=0, verbose=0):
    """A classifier trained on float images x [N, 784] in [0, 1] with integer labels [N]."""
    import tf_setup  # noqa: F401
    import keras
    keras.utils.set_random_seed(seed)
    model = build_classifier()
    model.fit(x, labels, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=verbose)
    return model


def predict_labels(model, x):
    """The predicted digit of each image x [N, 784]."""
    return in_batches(lambda xb: np.argmax(model(xb, training=False).numpy(), axis=-1), x)


def accuracy(model, x, labels):
    """Fraction of images whose predicted digit is the label."""
    return float(np.mean(predict_labels(model, x) == np.asarray(labels)))


def load_classifier(path=None):
    """The trained classifier at path (default: default_path()); ClassifierMissing says how to make it."""
    path = Path(path) if path else default_path()
    if not path.exists():
        raise ClassifierMissing(f"no MNIST classifier at {path}; make one with 'python -m tools.classifier"
                                f"{'' if path == default_path() else f' --out {path}'}' (a few minutes on a CPU)")
    model = build_classifier(compile=False)
    model.load_weights(path)
    return model


def save_classifier(model, path, info):
    """Write the weights (and a JSON note of how they were made) beside each other, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}.weights.h5")  # keras wants the .weights.h5 suffix
    model.save_weights(tmp)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
