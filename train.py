"""Training: the compiled training steps and the epoch loop that evaluates, logs and draws after each epoch."""
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

import checkpoint
import distribute
import figures
from config import SEMISUPERVISED, with_flag_defaults
from cvae import CVAE
from evaluate import TERMS, evaluate, load_run_data, make_evaluate
from likelihood import iwae_loss
from noise import salt_and_pepper
from rundir import write_csv, write_json
from vae import VAE

# Under XLA on this CPU, stateless draws with the default algorithm cost 17 ms per 128x784 batch, Philox
# 0.6 ms and ThreeFry 0.08 ms: the default made an --add_noise epoch 5x slower than one without noise.
RNG = "threefry"
STEPS_PER_CALL = 50  # training steps run inside one compiled call; the progress bar updates between calls


def build_model(cfg):
    """The model named by cfg['model'], built."""
    if cfg["model"] in SEMISUPERVISED:
        import semisup  # imported here: semisup imports this module
        return semisup.build_model(cfg)
    cls = {"vae": VAE, "cvae": CVAE}[cfg["model"]]
    return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], activation=cfg["activation"])


def make_optimizer(cfg, steps_per_epoch):
    """Adam at --learn_rate, decaying exponentially to lr_decay * learn_rate over the run's steps (--lr_decay)."""
    rate = cfg["learn_rate"]
    if cfg.get("lr_decay", 1.0) != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(rate, decay_steps=cfg["num_epochs"] * steps_per_epoch,
                                                           decay_rate=cfg["lr_decay"])
    return keras.optimizers.Adam(learning_rate=rate)


def load_trained_model(run_dir):
    """The config and the trained model of a finished run folder (config.json and model.weights.h5)."""
    cfg = with_flag_defaults(json.loads((Path(run_dir) / "config.json").read_text()))
    model = build_model(cfg)
    model.load_weights(Path(run_dir) / "model.weights.h5")
    return cfg, model


def dynamic_binarize(x, seed):
    """A fresh Bernoulli draw of every pixel, its grey level the probability, each time an image is used: dynamic
    binarization (Burda et al. 2015, sec. 5)."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed=seed, alg=RNG) < x, x.dtype)


def batch_inputs(x, step_seed, cfg):
    """What the encoder sees and what the decoder is scored against for one training batch (runs under XLA)."""
    if cfg.get("binarize") == "dynamic":
        x = dynamic_binarize(x, step_seed + 2)
    if cfg["add_noise"]:
        uniform = tf.random.stateless_uniform(tf.shape(x), seed=step_seed + 1, alg=RNG)
        return salt_and_pepper(x, uniform, cfg["noise_prob"]), x
    return x, x


def step_inputs(x, step_seed, cfg, dim_z):
    """Encoder input, loss target and sampling noise of one training batch, drawn from the step's seed."""
    eps = tf.random.stateless_normal([tf.shape(x)[0], dim_z], seed=step_seed, alg=RNG)
    return *batch_inputs(x, step_seed, cfg), eps


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
                if cfg.get("iw_k", 1) > 1:  # --iw_k: train on the IWAE bound; recon and kl stay the ELBO's terms
                    shape = [cfg["iw_k"], tf.shape(x)[0], model.dim_z]
                    eps_k = tf.random.stateless_normal(shape, seed=step_seed + 3, alg=RNG)
                    terms = terms | {"loss": iwae_loss(model, x_in, x_target, y, eps_k)}
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


def run_calls(train_steps, calls, position, label, stop, loss_count):
    """Run calls[position.calls_done:], each a tuple of index matrices whose rows are the call's steps, updating
    position (step, calls done, summed terms, whose last is the loss) after each; False if stop() ended it early.

    loss_count(call) is the number of terms the call's loss sum adds up, for the progress bar's mean loss.
    """
    progress = Progress(sum(len(c[0]) for c in calls), label)
    sums = np.array(position.sums)
    for k in range(position.calls_done, len(calls)):
        if stop():
            progress.close()
            return False
        sums += train_steps(*calls[k], np.int64(position.step)).numpy()
        position.step, position.calls_done, position.sums = position.step + len(calls[k][0]), k + 1, sums.tolist()
        progress.update(sum(len(c[0]) for c in calls[:k + 1]), sums[-1] / sum(map(loss_count, calls[:k + 1])))
    progress.close()
    return True


def train_epoch(train_steps, n, cfg, position, label, stop=lambda: False):
    """Run the rest of the epoch position.epoch, updating position; False if stop() ended it early."""
    full, rest = epoch_batches(n, cfg["batch_size"], cfg["seed"], position.epoch)
    calls = [(full[i:i + STEPS_PER_CALL],) for i in range(0, len(full), STEPS_PER_CALL)] + ([(rest,)] if rest.size else [])
    return run_calls(train_steps, calls, position, label, stop, loss_count=lambda call: call[0].size)  # per image


class Stopwatch:
    """Adds up the seconds spent inside `with stopwatch:` blocks."""

    seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start


def epoch_line(label, train_terms, test_terms, seconds):
    """The one summary line printed after each epoch."""
    return (f"{label}  train recon {train_terms['recon']:7.2f}  kl {train_terms['kl']:6.2f}  "
            f"-elbo {train_terms['loss']:7.2f}  |  test recon {test_terms['recon']:7.2f}  "
            f"kl {test_terms['kl']:6.2f}  -elbo {test_terms['loss']:7.2f}  |  {seconds:5.1f}s")


def epoch_metrics(epoch, train_terms, test_terms, seconds, extra=None):
    """A finished epoch's metrics.csv row (terms to 4 decimals, extra to 2) and its full-precision metrics, as
    checkpointed_epochs' end_epoch returns them; extra (M2: test_error) joins both."""
    extra = extra or {}
    row = {"epoch": epoch, **{f"train_{t}": round(v, 4) for t, v in train_terms.items()},
           **{f"test_{t}": round(v, 4) for t, v in test_terms.items()}, **{k: round(v, 2) for k, v in extra.items()},
           "seconds": round(seconds, 3)}
    return row, {**{f"train_{t}": float(v) for t, v in train_terms.items()},
                 **{f"test_{t}": float(v) for t, v in test_terms.items()}, **extra}


def checkpointed_epochs(cfg, run_dir, model, optimizer, position, train_one, end_epoch, on_epoch, start_time):
    """The epoch loop every model shares: train from position to --num_epochs, checkpointing after each epoch.

    train_one(position, label, stop) trains the rest of position's epoch (False if stop() ended it early);
    end_epoch(position, label, epoch_start) evaluates, prints and draws, returning the epoch's metrics.csv row
    and its full-precision metrics. metrics.csv is rewritten whole from the checkpoint after each epoch (no gaps,
    no repeats after a resume); on_epoch(row), if given, gets each row. A stop request (Ctrl-C, SIGTERM) saves
    the position, even inside an epoch, and raises checkpoint.Stopped. Returns the last position and the run's
    wall seconds in all, resumed parts included.
    """
    wall_before, num_epochs = position.wall_seconds, cfg["num_epochs"]

    def save(position):
        position.wall_seconds = wall_before + time.time() - start_time
        checkpoint.save(run_dir, model, optimizer, position)

    with checkpoint.ctrl_c_requests() as stop:
        while position.epoch <= num_epochs:
            epoch_start = time.time() - position.epoch_seconds
            label = f"epoch {position.epoch:>{len(str(num_epochs))}}/{num_epochs}"
            if not train_one(position, label, stop):
                position.epoch_seconds = time.time() - epoch_start
                save(position)
                raise checkpoint.Stopped(stop())
            row, position.final = end_epoch(position, label, epoch_start)
            position.rows.append(row)
            position = position.next_epoch()
            save(position)
            write_csv(run_dir / "metrics.csv", position.rows)
            if on_epoch:
                on_epoch(row)
            if stop():
                raise checkpoint.Stopped(stop())
    return position, wall_before + time.time() - start_time


def train_and_evaluate(cfg, run_dir, on_epoch=None):
    """Train the model cfg describes, evaluate on the test set each epoch, write everything into run_dir.

    Each epoch ends with a checkpoint; a run_dir that holds one is continued from it. on_epoch(row), if given,
    gets each epoch's metrics.csv row. Ctrl-C or SIGTERM saves a checkpoint, then raises checkpoint.Stopped.
    """
    if cfg["model"] in SEMISUPERVISED:
        import semisup  # imported here: semisup imports this module
        return semisup.train_semisupervised(cfg, run_dir, on_epoch)
    start_time = time.time()
    keras.utils.set_random_seed(cfg["seed"])
    data = load_run_data(cfg)
    strategy = distribute.make_strategy(cfg.get("distribute", "none"))
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build_model(cfg)
        optimizer = make_optimizer(cfg, -(-len(data.x_train) // cfg["batch_size"]))
        optimizer.build(model.trainable_variables)  # its variables must exist before a checkpoint loads into them
    if strategy:
        train_steps = distribute.make_mirrored_train_steps(strategy, model, optimizer, data.x_train, data.y_train, cfg)
    else:
        train_steps = make_train_steps(model, optimizer, data.x_train, data.y_train, cfg)
    eval_batch = make_evaluate(model)
    position = checkpoint.load(run_dir, model, optimizer) or checkpoint.Position()
    # Where the run's time goes, reported in metrics.json: figures must not dominate it (benchmarks/ read these).
    train_time, evaluate_time, figure_time = Stopwatch(), Stopwatch(), Stopwatch()
    if position.epoch == 1 and position.calls_done == 0:
        with figure_time:
            figures.start_figures(cfg, data, run_dir)

    def train_one(position, label, stop):
        with train_time:
            return train_epoch(train_steps, len(data.x_train), cfg, position, label, stop)

    def end_epoch(position, label, epoch_start):
        train_terms = dict(zip(TERMS, np.array(position.sums) / len(data.x_train)))
        with evaluate_time:
            test_terms = evaluate(eval_batch, data.x_test_in, data.x_test, data.y_test, data.eps_test)
        seconds = time.time() - epoch_start
        print(epoch_line(label, train_terms, test_terms, seconds), flush=True)
        with figure_time:
            figures.epoch_figures(cfg, model, data, run_dir, position.epoch)
        return epoch_metrics(position.epoch, train_terms, test_terms, seconds)

    position, wall_seconds = checkpointed_epochs(cfg, run_dir, model, optimizer, position, train_one, end_epoch,
                                                 on_epoch, start_time)
    model.save_weights(run_dir / "model.weights.h5")
    with figure_time:
        figures.final_figures(cfg, model, data, run_dir)
    metrics = {"epochs": cfg["num_epochs"], "n_train": len(data.x_train), "n_test": len(data.x_test), **position.final,
               "test_neg_elbo": position.final["test_loss"], "train_seconds": round(train_time.seconds, 2),
               "evaluate_seconds": round(evaluate_time.seconds, 2), "figure_seconds": round(figure_time.seconds, 2),
               "wall_seconds": round(wall_seconds, 2)}
    write_json(run_dir / "metrics.json", metrics)
    figures.write_index(cfg, run_dir)  # last: the page shows metrics.json
    return metrics
