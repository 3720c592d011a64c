"""The registry: --model names its family (model class and training). No other module switches on the name."""
from cvae.model import CVAE
from m2.model import M1M2, M2
from runs.folder import RunFolder
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


def build_model(cfg):
    """The untrained model cfg describes (run folders check a checkpoint's or weights' arrays against it)."""
    return FAMILIES[cfg["model"]].build_model(cfg)


def load_trained_model(run_dir):
    """The config and the trained model of a finished run folder (a path, or a runs.folder.RunFolder): config.json
    and model.weights.h5, each checked by the run folder (checksums, the weights against the model config.json
    describes); RunError says what is wrong."""
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir).pinned()
    folder.expect("finished")
    cfg = with_flag_defaults(folder.config())
    model = build_model(cfg)
    folder.load_weights(model)
    return cfg, model
