"""What a checkpoint and a weights file hold, written whole and checked when read back: every array read (a cut or
flipped file fails), its shapes against the model config.json describes, its values finite. The run folder
(runs.folder) decides where they go and checks their checksums; the stop on a non-finite loss lives here too."""
import errno
import hashlib
import io
import json
import math
import os
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from runs.errors import Damaged  # noqa: F401  (a damaged file: one line naming it; imported here by older callers)
from runs.stops import STOP_SIGNALS, Stopped, ctrl_c_requests  # noqa: F401  (the loop's stops, under their old names)

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


def write(path, model, optimizer, position):
    """Write the checkpoint of model, optimizer and position into path (a new file the caller renames)."""
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    arrays |= {f"optimizer_{i}": value(v) for i, v in enumerate(optimizer.variables)}
    with open(path, "wb") as f:
        np.savez(f, position=np.array(json.dumps(asdict(position))), **arrays)


def value(variable):
    """A variable's value as a numpy array (a Keras variable's own numpy(), else its array)."""
    return variable.numpy() if hasattr(variable, "numpy") else np.asarray(variable)


def save(run_dir, model, optimizer, position):
    """Write run_dir's checkpoint on its own, atomically (benchmarks time this; a run goes through its folder)."""
    from runs.files import atomic_path
    with atomic_path(Path(run_dir) / CHECKPOINT) as tmp:
        write(tmp, model, optimizer, position)


@dataclass
class Checkpoint:
    """A checkpoint read whole from its bytes: its arrays by name and its position."""
    arrays: dict
    position: Position

    def model_arrays(self):
        return [self.arrays[f"model_{i}"] for i in range(sum(name.startswith("model_") for name in self.arrays))]

    def optimizer_arrays(self):
        count = sum(name.startswith("optimizer_") for name in self.arrays)
        return [self.arrays[f"optimizer_{i}"] for i in range(count)]


def read(data):
    """The Checkpoint in data (a checkpoint.npz's bytes); ValueError saying why if it cannot be read whole
    (reading every array checks each one's CRC-32)."""
    try:
        with np.load(io.BytesIO(data)) as f:
            arrays = {name: f[name] for name in f.files}
        position = Position(**json.loads(str(arrays.pop("position"))))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    return Checkpoint(arrays, position)


def mismatch(arrays, model_arrays, what):
    """Why arrays (in the model's order) cannot be the model's weights, or None: count, shapes, finite values."""
    if len(arrays) != len(model_arrays):
        return f"it holds {len(arrays)} {what} arrays where config.json's model has {len(model_arrays)}"
    for i, (a, b) in enumerate(zip(arrays, model_arrays)):
        if a.shape != b.shape:
            return f"its {what} array {i} has shape {a.shape} where config.json's model has {b.shape}"
    return non_finite(arrays, what)


def non_finite(arrays, what):
    """Why arrays hold a value that is not finite, or None."""
    for i, a in enumerate(arrays):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            return f"its {what} array {i} holds non-finite values (nan or inf)"
    return None


def check_against(checkpoint, model, optimizer=None):
    """Why checkpoint does not fit model (and the built optimizer), or None."""
    problem = mismatch(checkpoint.model_arrays(), model.get_weights(), "model")
    if problem is None and optimizer is not None:
        problem = mismatch(checkpoint.optimizer_arrays(), [value(v) for v in optimizer.variables], "optimizer")
    return problem


def load_into(checkpoint, model, optimizer=None):
    """Set model (and the built optimizer) from a checkpoint that check_against found fitting."""
    model.set_weights(checkpoint.model_arrays())
    if optimizer is not None:
        for variable, value in zip(optimizer.variables, checkpoint.optimizer_arrays()):
            variable.assign(value)


def write_weights(model, path):
    """Write the model's weights into path (a new file the caller renames; Keras needs the .weights.h5 ending)."""
    # HDF5 can crash the process when the disk fills during a save (a segfault was seen): look first.
    if shutil.disk_usage(Path(path).parent).free < sum(w.nbytes for w in model.get_weights()) + 2 ** 20:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    model.save_weights(path)


def weights_arrays(data):
    """Every array of a model.weights.h5 given its bytes, by path in the file; ValueError saying why if it
    cannot be read whole (a cut file, not HDF5)."""
    import h5py
    arrays = {}
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            f.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                         if isinstance(item, h5py.Dataset) else None)
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise ValueError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    return arrays


def weights_mismatch(arrays, model):
    """Why the arrays of a weights file cannot be model's weights (count, shapes, finite values), or None. Keras
    matches them to the model's variables by path, so shapes are compared as a multiset."""
    mine = sorted(map(np.shape, model.get_weights()))
    theirs = sorted(np.shape(a) for a in arrays.values())
    if len(mine) != len(theirs):
        return f"it holds {len(theirs)} arrays where config.json's model has {len(mine)}"
    if mine != theirs:
        extra = sorted(set(theirs) - set(mine)) or sorted(set(mine) - set(theirs))
        return f"its arrays' shapes differ from those of config.json's model (first differing: {extra[0]})"
    return non_finite(list(arrays.values()), "weights")


def digests(arrays):
    """The multiset of arrays' contents, to check that loading gave the model every array of the file."""
    return sorted(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() + str(np.shape(a)) for a in arrays)


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
