"""A stand-in for the model families that needs no TensorFlow: a tiny numpy "model" trained by a loop that makes the
same calls to the run folder as training/loop.py does (load_checkpoint, boundary, save_checkpoint, finish), so that
run_main.py's folder handling (create, resume, extend, stops, roll-back) can be stopped at every boundary in a
fraction of a second.

    python tests/fake_training.py RUN_MAIN_ARGS...    # run_main.main with these stand-ins for the families
"""
import sys
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runs import checkpoint  # noqa: E402
from runs.files import atomic_path  # noqa: E402

CALLS = 3  # step calls in an epoch: a stop may land between any two
ARGS = ["--model", "vae", "--dim_z", "3", "--n_hidden", "4", "--num_epochs", "2"]


class Model:
    """Two arrays, saved in a Keras-like .weights.h5 layout."""

    def __init__(self, cfg):
        rng = np.random.default_rng(cfg["seed"])
        self.weights = [rng.standard_normal((cfg["dim_z"], cfg["n_hidden"])).astype(np.float32),
                        np.zeros(cfg["n_hidden"], np.float32)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save_weights(self, path):
        with h5py.File(path, "w") as f:
            for i, w in enumerate(self.weights):
                f[f"layers/dense/vars/{i}"] = w

    def load_weights(self, path):
        with h5py.File(path, "r") as f:
            self.weights = [f[f"layers/dense/vars/{i}"][()] for i in range(len(self.weights))]


class Variable:
    def __init__(self, value):
        self.value = np.asarray(value)

    def assign(self, value):
        self.value = np.asarray(value)

    def __array__(self, dtype=None, copy=None):
        return self.value


class Optimizer:
    def __init__(self, model):
        self.variables = [Variable(np.zeros((), np.int64))] + [Variable(np.zeros_like(w)) for w in model.weights]


def step(model, optimizer, position):
    """One deterministic 'step call': depends only on the state and (epoch, call), as a real run's randomness does."""
    factor = 0.9 + 0.01 * position.epoch + 0.001 * position.calls_done
    model.weights = [(w * factor + 0.1).astype(np.float32) for w in model.weights]
    optimizer.variables[0].assign(optimizer.variables[0].value + 1)
    for v, w in zip(optimizer.variables[1:], model.weights):
        v.assign((0.5 * v.value + w).astype(np.float32))
    position.sums[0] += float(np.sum(model.weights[0]))
    position.step += 1


def draw(path):
    """A 'figure': written as figures are, through atomic_path."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(b"\x89PNG fake " + path.name.encode())


def train_and_evaluate(cfg, folder, on_epoch=None):
    """The loop's calls to the folder, in the loop's order."""
    model = Model(cfg)
    optimizer = Optimizer(model)
    position = folder.load_checkpoint(model, optimizer) or checkpoint.Position(sums=[0.0])
    if position.epoch == 1 and position.calls_done == 0:
        draw(folder.path / "start.png")
    folder.boundary("setup")
    with checkpoint.ctrl_c_requests() as stop:
        while position.epoch <= cfg["num_epochs"]:
            while position.calls_done < CALLS:
                if stop():
                    folder.save_checkpoint(model, optimizer, position)
                    raise checkpoint.Stopped(stop())
                step(model, optimizer, position)
                position.calls_done += 1
            loss = round(float(np.sum(model.weights[0])), 4)
            row = {"epoch": position.epoch, "train_loss": round(position.sums[0], 4), "test_loss": loss, "seconds": 0.001}
            position.final = {"train_loss": position.sums[0], "test_loss": float(np.sum(model.weights[0]))}
            draw(folder.path / f"samples_epoch_{position.epoch:02d}.png")
            folder.boundary("epoch_figures")
            position.rows.append(row)
            position = position.next_epoch()
            folder.save_checkpoint(model, optimizer, position)
            if on_epoch:
                on_epoch(row)
            if stop():
                raise checkpoint.Stopped(stop())
    draw(folder.path / "learning_curves.png")
    folder.boundary("final_figures")
    metrics = {"epochs": cfg["num_epochs"], **position.final, "test_neg_elbo": position.final["test_loss"],
               "wall_seconds": time.time() % 1}
    folder.finish(model, metrics)
    with atomic_path(folder.path / "index.html") as tmp:
        Path(tmp).write_text(f"<p>{metrics['test_neg_elbo']}</p>")
    return metrics


class Models:
    """training.run_folder.Models' stand-in."""

    def __init__(self):
        self.train_and_evaluate, self.build_model = train_and_evaluate, Model
        self.device = lambda: "the fake CPU"


def patch(monkeypatch=None):
    """Make run_main.py train with these stand-ins (in this process)."""
    from training import run_folder
    if monkeypatch is None:
        run_folder.Models = Models
    else:
        monkeypatch.setattr(run_folder, "Models", Models)


if __name__ == "__main__":
    patch()
    import run_main
    sys.exit(run_main.main(sys.argv[1:]))
