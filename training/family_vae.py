"""The VAE and CVAE family: every training image in each epoch, the ELBO (or the IWAE bound), one device or mirrored."""
import contextlib

import numpy as np

from evaluation.metrics import TERMS
from training import mirrored
from training.loop import Training, make_optimizer
from training.steps import make_train_steps, train_epoch


class VAETraining(Training):
    """Training of a VAE or CVAE: its optimizer counts ceil(n_train / batch_size) steps an epoch."""

    terms = TERMS

    def __init__(self, family, cfg, data, run_dir):
        self.cfg, self.n_train = cfg, len(data.x_train)
        strategy = mirrored.make_strategy(cfg["distribute"])
        with strategy.scope() if strategy else contextlib.nullcontext():
            self.model = family.build_model(cfg)
            self.optimizer = make_optimizer(cfg, -(-self.n_train // cfg["batch_size"]))
            self.optimizer.build(self.model.trainable_variables)  # checkpoint.load assigns into its variables
        if strategy:
            self.steps = mirrored.make_mirrored_train_steps(strategy, self.model, self.optimizer, data.x_train,
                                                            data.y_train, cfg)
        else:
            self.steps = make_train_steps(self.model, self.optimizer, data.x_train, data.y_train, cfg)

    def train_epoch(self, position, label, stop):
        return train_epoch(self.steps, self.n_train, self.cfg, position, label, stop)

    def train_terms(self, sums):
        return dict(zip(TERMS, np.array(sums) / self.n_train))

    def line(self, label, train_terms, test_terms, extra, seconds):
        return (f"{label}  train recon {train_terms['recon']:7.2f}  kl {train_terms['kl']:6.2f}  "
                f"-elbo {train_terms['loss']:7.2f}  |  test recon {test_terms['recon']:7.2f}  "
                f"kl {test_terms['kl']:6.2f}  -elbo {test_terms['loss']:7.2f}  |  {seconds:5.1f}s")
