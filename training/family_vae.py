"""The VAE and CVAE family: every training image in each epoch, the ELBO (or the IWAE bound), one device or mirrored."""
import contextlib

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from data import streams
from evaluation.metrics import TERMS
from training import mirrored
from training.loop import Training, make_optimizer
from training.steps import RNG, STEPS_PER_CALL, epoch_batches, run_calls, step_inputs
from vae.likelihood import iwae_loss


def make_train_steps(model, optimizer, x_all, y_all, cfg):
    """A compiled function running one training step per row of an index matrix; returns summed loss terms."""
    x_all, y_all = tf.constant(x_all), tf.constant(y_all)

    # XLA fuses each step into a few kernels: 1.56x faster epochs here (benchmarks/speed.py, levers); it compiles
    # once per shape of index matrix (full calls, the last call, the leftover batch).
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int64)],
                 jit_compile=True)
    def train_steps(batch_index, first_step):
        sums = tf.zeros([len(TERMS)])
        for i in tf.range(tf.shape(batch_index)[0]):
            idx = batch_index[i]
            x, y = tf.gather(x_all, idx), tf.gather(y_all, idx)
            # Stateless draws keyed by (seed, global step): the same run replays exactly, and a resumed one too.
            step_seed = tf.stack([tf.constant(cfg["seed"], tf.int64), first_step + tf.cast(i, tf.int64)])
            x_in, x_target, eps = step_inputs(x, step_seed, cfg, model.dim_z)
            with tf.GradientTape() as tape:
                terms = model.loss_terms(x_in, x_target, y, eps)
                if cfg["iw_k"] > 1:  # --iw_k: train on the IWAE bound; recon and kl stay the ELBO's terms
                    shape = [cfg["iw_k"], tf.shape(x)[0], model.dim_z]
                    eps_k = tf.random.stateless_normal(shape, seed=step_seed + streams.STEP["iw_eps"], alg=RNG)
                    terms = terms | {"loss": iwae_loss(model, x_in, x_target, y, eps_k)}
                loss = tf.reduce_mean(terms["loss"])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            sums += tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
        return sums

    return train_steps


def train_epoch(train_steps, n, cfg, position, label, stop=lambda: False):
    """Run the rest of the epoch position.epoch, updating position; False if stop() ended it early."""
    full, rest = epoch_batches(n, cfg["batch_size"], cfg["seed"], position.epoch)
    calls = [(full[i:i + STEPS_PER_CALL],) for i in range(0, len(full), STEPS_PER_CALL)] + ([(rest,)] if rest.size else [])
    return run_calls(train_steps, calls, position, label, stop, loss_count=lambda call: call[0].size)  # per image



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

    def line(self, label, train_terms, test_terms, valid_terms, extra, seconds):
        valid = f"valid -elbo {valid_terms['loss']:7.2f}  |  " if valid_terms else ""
        return (f"{label}  train recon {train_terms['recon']:7.2f}  kl {train_terms['kl']:6.2f}  "
                f"-elbo {train_terms['loss']:7.2f}  |  {valid}test recon {test_terms['recon']:7.2f}  "
                f"kl {test_terms['kl']:6.2f}  -elbo {test_terms['loss']:7.2f}  |  {seconds:5.1f}s")
