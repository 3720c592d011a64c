"""Checkpoints and weights, each written atomically and checked whole when read back; the stop on a non-finite loss."""
import contextlib
import errno
import json
import math
import os
import shutil
import signal
import threading
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from runs.files import atomic_path, write_json

CHECKPOINT = "checkpoint.npz"
WEIGHTS = "model.weights.h5"


@dataclass
class Position:
    """Where training stands: the epoch in progress, its step calls done and their summed loss terms, rows so far.

    Training draws all its randomness statelessly from (seed, epoch) and (seed, step), so epoch, calls_done
    and step are the whole random state a resumed run needs to replay an uninterrupted one exactly.
    """
    epoch: int = 1
    step: int = 0
    calls_done: int = 0
    sums: list = field(default_factory=list)  # one per training term of the model's family
    epoch_seconds: float = 0.0  # time spent on the epoch in progress before the checkpoint
    wall_seconds: float = 0.0  # time spent on the run before the checkpoint
    rows: list = field(default_factory=list)  # the metrics.csv rows of the finished epochs
    final: dict = field(default_factory=dict)  # the last finished epoch's metrics at full precision

    def next_epoch(self):
        """The position at the start of the next epoch."""
        return Position(self.epoch + 1, self.step, sums=[0.0] * len(self.sums), wall_seconds=self.wall_seconds,
                        rows=self.rows, final=self.final)


def save(run_dir, model, optimizer, position):
    """Write the checkpoint to a temporary file in run_dir, then rename it: a kill leaves the last complete one."""
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(optimizer.variables)}
    with atomic_path(Path(run_dir) / CHECKPOINT) as tmp, open(tmp, "wb") as f:
        np.savez(f, position=np.array(json.dumps(asdict(position))), **arrays)


def checkpoint_problem(run_dir):
    """Why run_dir's checkpoint cannot be read whole (cut off, bit-flipped, not one), or None if it can or is absent."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        with np.load(path) as f:  # reading every array checks each one's CRC-32
            for name in f.files:
                f[name]
            Position(**json.loads(str(f["position"])))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def load(run_dir, model, optimizer):
    """Load run_dir's checkpoint into the model and the (built) optimizer; its Position, or None if there is none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    with np.load(path) as f:
        n_model = sum(name.startswith("model_") for name in f.files)
        model.set_weights([f[f"model_{i}"] for i in range(n_model)])
        if sum(name.startswith("optimizer_") for name in f.files) != len(optimizer.variables):
            raise ValueError(f"{path}: the optimizer state does not match this model's optimizer")
        for i, variable in enumerate(optimizer.variables):
            variable.assign(f[f"optimizer_{i}"])
        return Position(**json.loads(str(f["position"])))


def load_model(run_dir, model):
    """Set the model's weights from run_dir's checkpoint, leaving the optimizer state aside."""
    with np.load(Path(run_dir) / CHECKPOINT) as f:
        model.set_weights([f[f"model_{i}"] for i in range(sum(name.startswith("model_") for name in f.files))])


def amend(run_dir, num_epochs, learn_rate):
    """--resume with --num_epochs past the run's own count, or another --learn_rate: config.json takes them, the
    earlier counts listed in extended_from, the rate changes in learn_rate_changes (epoch, from, to), and a
    finished run's metrics.json is kept as metrics_<epochs>_epochs.json. Nothing else changes."""
    path = Path(run_dir) / "config.json"
    cfg = json.loads(path.read_text())
    new = dict(cfg)
    if num_epochs != cfg["num_epochs"]:
        finished = Path(run_dir) / "metrics.json"
        if finished.exists():
            os.replace(finished, finished.with_name(f"metrics_{cfg['num_epochs']}_epochs.json"))
        new |= {"num_epochs": num_epochs, "extended_from": cfg.get("extended_from", []) + [cfg["num_epochs"]]}
    if learn_rate != cfg["learn_rate"]:
        epoch = 1
        if (Path(run_dir) / CHECKPOINT).exists():
            with np.load(Path(run_dir) / CHECKPOINT) as f:
                epoch = json.loads(str(f["position"]))["epoch"]
        change = {"epoch": epoch, "from": cfg["learn_rate"], "to": learn_rate}
        new |= {"learn_rate": learn_rate, "learn_rate_changes": cfg.get("learn_rate_changes", []) + [change]}
    if new != cfg:
        write_json(path, new)


class NonFinite(ArithmeticError):
    """A loss term went nan or inf: the run stopped before saving that epoch (like Keras' TerminateOnNaN)."""


def check_finite(run_dir, epoch, terms):
    """Raise NonFinite naming the epoch and the terms that are not finite; the checkpoint on disk stays the last good one."""
    bad = {name: value for name, value in terms.items() if not math.isfinite(value)}
    if bad:
        kept = (f"the checkpoint after epoch {epoch - 1} stays: continue from it with a lower rate, "
                f"python run_main.py --resume {run_dir} --learn_rate RATE" if epoch > 1
                else "there was no checkpoint to keep; start again with a lower --learn_rate")
        raise NonFinite(f"epoch {epoch}: {', '.join(f'{k} is {v}' for k, v in bad.items())}; the run stopped and {kept}")


class Damaged(Exception):
    """A run's file that cannot be read back whole; the message names it and says what to do."""


def save_weights(model, run_dir):
    """Write the model's weights as checkpoints are written (temporary file, fsync, rename): whole or absent."""
    path = Path(run_dir) / WEIGHTS
    # HDF5 can crash the process when the disk fills during a save (a segfault was seen): look first.
    if shutil.disk_usage(path.parent).free < sum(w.nbytes for w in model.get_weights()) + 2 ** 20:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    with atomic_path(path, f".tmp.{WEIGHTS}") as tmp:  # Keras needs the .weights.h5 ending
        model.save_weights(tmp)


def weights_problem(run_dir):
    """Why run_dir's model.weights.h5 cannot be read whole (missing, cut off, not HDF5), or None if it can."""
    import h5py
    path = Path(run_dir) / WEIGHTS
    if not path.is_file():
        return "it is missing"
    try:
        with h5py.File(path, "r") as f:  # reading every array finds a cut-off file
            f.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def damaged_weights_message(run_dir):
    """One line: run_dir's weights are damaged, why, and how --resume rebuilds them from the checkpoint."""
    problem = weights_problem(run_dir)
    if problem is None:
        return None
    fix = (f"'python run_main.py --resume {run_dir}' rebuilds it from {CHECKPOINT}"
           if (Path(run_dir) / CHECKPOINT).is_file() else f"there is no {CHECKPOINT} to rebuild it from")
    return f"{Path(run_dir) / WEIGHTS} is damaged or missing ({problem}); {fix}"


def load_weights(model, run_dir):
    """Load run_dir's model.weights.h5 into model; Damaged (one line, what to do) if it cannot be read whole."""
    message = damaged_weights_message(run_dir)
    if message:
        raise Damaged(message)
    model.load_weights(Path(run_dir) / WEIGHTS)


class Stopped(KeyboardInterrupt):
    """Training stopped at a signal's request after saving a checkpoint; signum says which signal."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and kill / a scheduler ending a job


@contextlib.contextmanager
def ctrl_c_requests():
    """Within the block, Ctrl-C or SIGTERM only records a request the loop polls: it yields a function returning
    the signal number (0 while none came). A second Ctrl-C interrupts at once."""
    received = []
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread only
        yield lambda: 0
        return

    def handler(signum, frame):
        received.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield lambda: received[0] if received else 0
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
