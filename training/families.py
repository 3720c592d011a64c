"""The registry: --model names its family (model class and training). No other module switches on the name."""
import json
from pathlib import Path

from cvae.model import CVAE
from m2.model import M1M2, M2
from training import checkpoint, loop
from training.family_m2 import M1M2Training, M2Training
from training.family_vae import VAETraining
from training.flags import with_flag_defaults
from vae.model import VAE

FAMILIES = {
    "cvae": loop.Family(CVAE, VAETraining),
    "vae": loop.Family(VAE, VAETraining),
    "m2": loop.Family(M2, M2Training),
    "m1m2": loop.Family(M1M2, M1M2Training),
}


def train_and_evaluate(cfg, run_dir, on_epoch=None):
    """Train the model cfg names into run_dir with the one recipe (loop.run); returns metrics.json's contents."""
    return loop.run(FAMILIES[cfg["model"]], cfg, run_dir, on_epoch)


def load_trained_model(run_dir):
    """The config and the trained model of a finished run folder (config.json and model.weights.h5)."""
    cfg = with_flag_defaults(json.loads((Path(run_dir) / "config.json").read_text()))
    model = FAMILIES[cfg["model"]].build_model(cfg)
    checkpoint.load_weights(model, run_dir)  # checked whole first: Damaged says how to rebuild it
    return cfg, model
