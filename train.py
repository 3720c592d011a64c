"""Training: the compiled training steps and the epoch loop that evaluates, logs and draws after each epoch."""
import json
import sys
import time
from pathlib import Path

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

import figures
from cvae import CVAE
from evaluate import TERMS, evaluate, load_run_data, make_evaluate
from noise import salt_and_pepper
from rundir import append_csv_row, write_json
from vae import VAE

STEPS_PER_CALL = 50  # training steps run inside one compiled call; the progress bar updates between calls


def build_model(cfg):
    """The model named by cfg['model'], built."""
    cls = {"vae": VAE, "cvae": CVAE}[cfg["model"]]
    return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"])


def load_trained_model(run_dir):
    """The config and the trained model of a finished run folder (config.json and model.weights.h5)."""
    cfg = json.loads((Path(run_dir) / "config.json").read_text())
    model = build_model(cfg)
    model.load_weights(Path(run_dir) / "model.weights.h5")
    return cfg, model


def batch_inputs(x, step_seed, cfg):
    """What the encoder sees and what the decoder is scored against for one training batch."""
    if cfg["add_noise"]:
        return salt_and_pepper(x, tf.random.stateless_uniform(tf.shape(x), seed=step_seed + 1), cfg["noise_prob"]), x
    return x, x


def make_train_steps(model, optimizer, x_all, y_all, cfg):
    """A compiled function running one training step per row of an index matrix; returns summed loss terms."""
    x_all, y_all = tf.constant(x_all), tf.constant(y_all)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int64)])
    def train_steps(batch_index, first_step):
        sums = tf.zeros([len(TERMS)])
        for i in tf.range(tf.shape(batch_index)[0]):
            idx = batch_index[i]
            x, y = tf.gather(x_all, idx), tf.gather(y_all, idx)
            # Stateless draws keyed by (seed, global step): the same run replays exactly, and a resumed one too.
            step_seed = tf.stack([tf.constant(cfg["seed"], tf.int64), first_step + tf.cast(i, tf.int64)])
            eps = tf.random.stateless_normal([tf.shape(x)[0], model.dim_z], seed=step_seed)
            x_in, x_target = batch_inputs(x, step_seed, cfg)
            with tf.GradientTape() as tape:
                terms = model.loss_terms(x_in, x_target, y, eps)
                loss = tf.reduce_mean(terms["loss"])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            sums += tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
        return sums

    return train_steps


def epoch_batches(n, batch_size, seed, epoch):
    """The epoch's shuffled index batches: a full-batch matrix and the leftover batch (possibly empty)."""
    perm = np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)
    n_full = n // batch_size
    return perm[:n_full * batch_size].reshape(n_full, batch_size), perm[n_full * batch_size:][None, :]


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total, label, stream=sys.stderr, width=30):
        self.total, self.label, self.stream, self.width = total, label, stream, width
        self.active = stream.isatty()

    def update(self, done, loss):
        if self.active:
            filled = int(self.width * done / self.total)
            self.stream.write(f"\r{self.label} [{'=' * filled}{'.' * (self.width - filled)}] "
                              f"{done}/{self.total} loss {loss:.2f} ")
            self.stream.flush()

    def close(self):
        if self.active:
            self.stream.write("\r" + " " * (len(self.label) + self.width + 40) + "\r")
            self.stream.flush()


def train_epoch(train_steps, n, cfg, epoch, first_step, label):
    """One pass over the shuffled training images; returns the epoch's mean loss terms and the next step."""
    full, rest = epoch_batches(n, cfg["batch_size"], cfg["seed"], epoch)
    calls = [full[i:i + STEPS_PER_CALL] for i in range(0, len(full), STEPS_PER_CALL)] + ([rest] if rest.size else [])
    progress = Progress(len(full) + (rest.size > 0), label)
    sums, seen, step = np.zeros(len(TERMS)), 0, first_step
    for batch_index in calls:
        sums += train_steps(batch_index, np.int64(step)).numpy()
        step, seen = step + len(batch_index), seen + batch_index.size
        progress.update(step - first_step, sums[TERMS.index("loss")] / seen)
    progress.close()
    return dict(zip(TERMS, sums / n)), step


def timed(seconds, key, fn, *args):
    """fn(*args), adding its wall time to seconds[key]."""
    start = time.perf_counter()
    out = fn(*args)
    seconds[key] += time.perf_counter() - start
    return out


def epoch_line(label, train_terms, test_terms, seconds):
    """The one summary line printed after each epoch."""
    return (f"{label}  train recon {train_terms['recon']:7.2f}  kl {train_terms['kl']:6.2f}  "
            f"-elbo {train_terms['loss']:7.2f}  |  test recon {test_terms['recon']:7.2f}  "
            f"kl {test_terms['kl']:6.2f}  -elbo {test_terms['loss']:7.2f}  |  {seconds:5.1f}s")


def train_and_evaluate(cfg, run_dir):
    """Train the model cfg describes, evaluate on the test set each epoch, write everything into run_dir."""
    start_time = time.time()
    keras.utils.set_random_seed(cfg["seed"])
    data = load_run_data(cfg)
    model = build_model(cfg)
    optimizer = keras.optimizers.Adam(learning_rate=cfg["learn_rate"])
    train_steps = make_train_steps(model, optimizer, data.x_train, data.y_train, cfg)
    eval_batch = make_evaluate(model)
    figures.start_figures(cfg, data, run_dir)

    num_epochs, step = cfg["num_epochs"], 0
    seconds_in = dict.fromkeys(("train", "evaluate", "figures"), 0.0)  # where the run's time goes (benchmarks/)
    for epoch in range(1, num_epochs + 1):
        epoch_start = time.time()
        label = f"epoch {epoch:>{len(str(num_epochs))}}/{num_epochs}"
        train_terms, step = timed(seconds_in, "train", train_epoch, train_steps, len(data.x_train), cfg, epoch, step,
                                  label)
        test_terms = timed(seconds_in, "evaluate", evaluate, eval_batch, data.x_test_in, data.x_test, data.y_test,
                           data.eps_test)
        seconds = time.time() - epoch_start
        append_csv_row(run_dir / "metrics.csv", {
            "epoch": epoch, **{f"train_{t}": round(v, 4) for t, v in train_terms.items()},
            **{f"test_{t}": round(v, 4) for t, v in test_terms.items()}, "seconds": round(seconds, 3)})
        print(epoch_line(label, train_terms, test_terms, seconds), flush=True)
        timed(seconds_in, "figures", figures.epoch_figures, cfg, model, data, run_dir, epoch)

    model.save_weights(run_dir / "model.weights.h5")
    metrics = {"epochs": num_epochs, "n_train": len(data.x_train), "n_test": len(data.x_test),
               **{f"train_{t}": float(v) for t, v in train_terms.items()},
               **{f"test_{t}": float(v) for t, v in test_terms.items()},
               "test_neg_elbo": float(test_terms["loss"]),
               **{f"{key}_seconds": round(value, 2) for key, value in seconds_in.items()},
               "wall_seconds": round(time.time() - start_time, 2)}
    write_json(run_dir / "metrics.json", metrics)
    return metrics
