"""The Python API for notebooks and scripts: load_run(run_dir) to use a trained model, train(**flags) to make one.

    from training.api import load_run, train
    run = load_run(train(model="vae", dim_z=2, num_epochs=5))
    images = run.sample(16)                       # [16, 28, 28] pixel probabilities

A bad argument is a ValueError, a folder that is not a finished, whole run a RunError (a ValueError too); each
with the one line the command line prints.
"""
import contextlib
import io
import numbers

import numpy as np
from scipy.special import expit

from data import streams
from data.mnist import IMAGE_SIZE, N_CLASSES
from runs.errors import RunError  # noqa: F401  (raised here for a folder that is not a finished run)
from runs.folder import RunFolder, parse_run_args
from training.flags import FLAGS, MODELS

MAX_IMAGES = 1_000_000  # one call's images: beyond it an array of n x 784 floats outgrows a laptop


def images(x):
    """Images as the model takes them: float32 [n, 784] in [0, 1], from [n, 28, 28] or [n, 784], uint8 or float."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        x = x / 255.0
    elif not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == bool:
        raise ValueError(f"images must be numbers (uint8 0-255 or floats in [0, 1]), got dtype {x.dtype}")
    if x.ndim not in (2, 3) or x.shape[1:] not in ((IMAGE_SIZE * IMAGE_SIZE,), (IMAGE_SIZE, IMAGE_SIZE)):
        raise ValueError(f"images must be [n, 28, 28] or [n, 784], got shape {x.shape}")
    x = x.reshape(len(x), -1).astype(np.float32)
    if not np.isfinite(x).all() or x.min(initial=0) < 0 or x.max(initial=0) > 1:
        raise ValueError("images must hold grey levels in [0, 1] (floats) or 0-255 (uint8), all finite")
    return x


def labels(y, n):
    """Labels as integers 0-9, [n] from one int or n of them; ValueError for any other value (-1, 3.7, 10)."""
    y = np.asarray(y)
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"labels must be integers 0-9, got dtype {y.dtype}")
    if y.ndim > 1 or (y.ndim == 1 and len(y) != n):
        raise ValueError(f"got {y.size} labels of shape {y.shape} for {n} inputs")
    if not np.isfinite(y).all() or (y != np.round(y)).any() or (y < 0).any() or (y >= N_CLASSES).any():
        bad = y.flat[np.flatnonzero(~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= N_CLASSES))[0]]
        raise ValueError(f"labels must be integers 0-9, got {bad}")
    return np.broadcast_to(y, (n,)).astype(int)


def count(n, name="n"):
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"{name} must be an integer from 1 to {MAX_IMAGES}, got {n!r}")
    return int(n)


class Run:
    """A finished run: its config, its metrics and its trained model, used through numpy arrays.

    Images are arrays of [n, 28, 28] or [n, 784] grey levels in [0, 1] (uint8 in 0-255 too); labels are [n]
    integers 0-9 (or one-hot [n, 10]), needed by a label-conditioned model (cvae, m2, m1m2).
    """

    def __init__(self, run_dir, config, metrics, history, model):
        self.run_dir, self.config, self.metrics, self.history, self.model = run_dir, config, metrics, history, model

    @property
    def conditioned(self):
        """Whether the model takes the label."""
        return MODELS[self.config["model"]].conditioned

    def _labels(self, y, n, needed):
        if y is None:
            if needed and self.conditioned:
                raise ValueError(f"a {self.config['model']} model decodes with a label: give y ([n] integers 0-9)")
            return None
        y_array = np.asarray(y)
        if y_array.ndim == 2:  # one-hot, or class probabilities
            if y_array.shape != (n, N_CLASSES) or not np.isfinite(y_array).all() or not (0 <= y_array).all() \
                    or not (y_array <= 1).all():
                raise ValueError(f"one-hot labels must be [{n}, {N_CLASSES}] values in [0, 1], got shape {y_array.shape}")
            one_hot = y_array.astype(np.float32)
        else:
            one_hot = np.eye(N_CLASSES, dtype=np.float32)[labels(y_array, n)]
        return one_hot if self.conditioned else None

    def encode(self, x, y=None):
        """The encoder means of the images x: [n, dim_z]. m2 and m1m2 without y use the label they predict."""
        x = images(x)
        z_mean, _ = self.model.encode(x, self._labels(y, len(x), needed=not hasattr(self.model, "classify")))
        return np.asarray(z_mean)

    def decode(self, z, y=None):
        """Pixel probabilities [n, 28, 28] decoded from the latent vectors z [n, dim_z]."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.config["dim_z"] or not np.isfinite(z).all():
            raise ValueError(f"z must be finite [n, {self.config['dim_z']}] (dim_z of this run), got shape {z.shape}")
        logits = np.asarray(self.model.decode(z, self._labels(y, len(z), needed=True)))
        return expit(logits).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)

    def reconstruct(self, x, y=None):
        """The images x decoded from their encoder means: [n, 28, 28] (m2, m1m2 without y: the predicted label)."""
        if y is None and hasattr(self.model, "classify"):
            y = np.asarray(self.model.classify(images(x))).argmax(axis=1)
        return self.decode(self.encode(x, y), y)

    def sample(self, n, label=None, seed=0):
        """n images [n, 28, 28] decoded from z ~ N(0, I) drawn with seed; label: one int 0-9 or [n] of them (a
        conditioned model without label: the labels 0-9 in turn)."""
        n = count(n)
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed < streams.SEED_LIMIT:
            raise ValueError(f"seed must be an integer from 0 to {streams.SEED_LIMIT - 1}, got {seed!r}")
        y = labels(label, n) if label is not None else None
        z = np.random.default_rng(streams.api_samples(int(seed))).standard_normal((n, self.config["dim_z"]))
        if self.conditioned and y is None:
            y = np.arange(n) % N_CLASSES
        return self.decode(z, y)


def load_run(run_dir):
    """The finished run in run_dir, every file it gives checked by the run folder (checksums, the weights against
    config.json's model, finite values); RunError, with the command line's one line, if the folder is not one."""
    if run_dir is None:
        raise ValueError("run_dir: give the folder of a finished run")
    folder = RunFolder(run_dir).pinned()  # every file against one manifest: one state of the run
    folder.expect("finished")
    metrics, history = folder.metrics(), folder.history()
    from training.families import load_trained_model  # TensorFlow loads only for a folder that can hold a run
    config, model = load_trained_model(folder)
    return Run(folder.path, config, metrics, history, model)


def flags_argv(flags):
    """Keyword flags as run_main.py's command line: ['--dim_z=2', ...], a value that starts with '-' included; a
    flag left None takes its default. Unknown names and values that are not one number, text or bool are a
    ValueError."""
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise ValueError(f"unknown flag {unknown[0]!r} (the names are run_main.py's: see docs/flags.md)")
    argv = []
    for name, value in flags.items():
        if value is None:
            continue
        if not isinstance(value, (str, numbers.Number, bool)) and not hasattr(value, "__fspath__"):
            raise ValueError(f"argument --{name}: expected one value, got {type(value).__name__} {value!r}")
        argv.append(f"--{name}={value}")
    return argv


def train(**flags):
    """Train as `python run_main.py --NAME VALUE ...` does, with the same flags, checks and run folder; returns
    the run folder. A bad flag is a ValueError with run_main.py's one-line message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parse_run_args(flags_argv(flags))
    except SystemExit:
        raise ValueError(err.getvalue().strip().removeprefix("run_main.py: error: ")) from None
    if args.restore:
        raise ValueError("train() trains; use --restore from the command line")
    from training.run_folder import FolderError, train_in_folder  # the run folder as run_main.py makes and locks it
    try:
        run_dir, _ = train_in_folder(args)
    except FolderError as error:
        raise ValueError(str(error)) from None
    return run_dir
