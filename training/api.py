"""The Python API for notebooks and scripts: load_run(run_dir) to use a trained model, train(**flags) to make one.

    from training.api import load_run, train
    run = load_run(train(model="vae", dim_z=2, num_epochs=5))
    images = run.sample(16)                       # [16, 28, 28] pixel probabilities
"""
import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
from scipy.special import expit

from data import streams
from data.mnist import IMAGE_SIZE, N_CLASSES
from runs.folder import parse_run_args
from training.flags import FLAGS, MODELS


def images(x):
    """Images as the model takes them: float32 [n, 784] in [0, 1], from [n, 28, 28] or [n, 784], uint8 or float."""
    x = np.asarray(x)
    return (x / 255.0 if x.dtype == np.uint8 else x).reshape(len(x), -1).astype(np.float32)


class RunError(ValueError):
    """A folder that is not a finished run: the message says what is missing."""


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
        y = np.asarray(y)
        y = y.astype(np.float32) if y.ndim == 2 else np.eye(N_CLASSES, dtype=np.float32)[y.astype(int)]
        if len(y) != n:
            raise ValueError(f"got {len(y)} labels for {n} inputs")
        return y if self.conditioned else None

    def encode(self, x, y=None):
        """The encoder means of the images x: [n, dim_z]. m2 and m1m2 without y use the label they predict."""
        x = images(x)
        z_mean, _ = self.model.encode(x, self._labels(y, len(x), needed=not hasattr(self.model, "classify")))
        return np.asarray(z_mean)

    def decode(self, z, y=None):
        """Pixel probabilities [n, 28, 28] decoded from the latent vectors z [n, dim_z]."""
        z = np.asarray(z, np.float32).reshape(-1, self.config["dim_z"])
        logits = np.asarray(self.model.decode(z, self._labels(y, len(z), needed=True)))
        return expit(logits).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)

    def reconstruct(self, x, y=None):
        """The images x decoded from their encoder means: [n, 28, 28] (m2, m1m2 without y: the predicted label)."""
        if y is None and hasattr(self.model, "classify"):
            y = np.asarray(self.model.classify(images(x))).argmax(axis=1)
        return self.decode(self.encode(x, y), y)

    def sample(self, n, label=None, seed=0):
        """n images [n, 28, 28] decoded from z ~ N(0, I) drawn with seed; label: one int or [n] ints (a
        conditioned model without label: the labels 0-9 in turn)."""
        z = np.random.default_rng(streams.api_samples(seed)).standard_normal((n, self.config["dim_z"]))
        if self.conditioned:
            label = np.arange(n) % N_CLASSES if label is None else np.broadcast_to(label, (n,))
        return self.decode(z, label)


def load_run(run_dir):
    """The finished run in run_dir (config.json, metrics.json, metrics.csv, model.weights.h5); RunError if the
    folder is not one, or a file of it is damaged."""
    run_dir = Path(run_dir)
    missing = [name for name in ("config.json", "metrics.json", "metrics.csv", "model.weights.h5")
               if not (run_dir / name).is_file()]
    if missing:
        what = "not a run folder" if "config.json" in missing else "an unfinished run (--resume it first)"
        raise RunError(f"{run_dir}: {what}; missing {', '.join(missing)}")
    try:
        config = json.loads((run_dir / "config.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader((run_dir / "metrics.csv").open())]
        from training.families import load_trained_model  # TensorFlow loads only for a folder that can hold a run
        config, model = load_trained_model(run_dir)
    except Exception as err:  # noqa: BLE001  (a damaged file fails in its reader's own way; the user needs one error)
        raise RunError(f"{run_dir}: a damaged run ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from err
    return Run(run_dir, config, metrics, history, model)


def flags_argv(flags):
    """Keyword flags as run_main.py's command line: ['--dim_z', '2', ...]; unknown names are a ValueError."""
    unknown = sorted(set(flags) - set(FLAGS))
    if unknown:
        raise ValueError(f"unknown flag {unknown[0]!r} (the names are run_main.py's: see docs/flags.md)")
    return [item for name, value in flags.items() for item in (f"--{name}", str(value))]


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
    from training.run_folder import train_in_folder  # the run folder as run_main.py makes, locks and cleans it
    run_dir, _ = train_in_folder(args)
    return run_dir
