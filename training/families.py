"""The registry: --model names its family (model class and training). No other module switches on the name."""
import json
from pathlib import Path

from cvae.model import CVAE
from m2.model import M1M2, M2
from runs import checkpoint
from training import loop
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


def train_and_evaluate(cfg, folder, on_epoch=None):
    """Train the model cfg names into the run folder (a runs.folder.RunFolder) with the one recipe (loop.run);
    returns metrics.json's contents."""
    return loop.run(FAMILIES[cfg["model"]], cfg, folder, on_epoch)


def rebuild_weights(cfg, run_dir):
    """--resume of a finished run whose model.weights.h5 is damaged: write it again from the checkpoint's model
    arrays (nothing else of the run changes)."""
    model = FAMILIES[cfg["model"]].build_model(cfg)
    checkpoint.load_model(run_dir, model)
    checkpoint.save_weights(model, run_dir)


def load_trained_model(run_dir):
    """The config and the trained model of a finished run folder (config.json and model.weights.h5)."""
    cfg = with_flag_defaults(json.loads((Path(run_dir) / "config.json").read_text()))
    model = FAMILIES[cfg["model"]].build_model(cfg)
    checkpoint.load_weights(model, run_dir)  # checked whole first: Damaged says how to rebuild it
    return cfg, model
