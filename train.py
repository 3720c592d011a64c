"""Training and evaluation: the epoch loop, the test-set negative ELBO, metrics and figures of one run."""
import sys
import time

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

import plot_utils
from cvae import CVAE
from data.mnist import DATA_DIR, N_CLASSES, load_mnist
from noise import salt_and_pepper
from rundir import append_csv_row, write_json
from vae import VAE

TERMS = ("recon", "kl", "loss")
EVAL_BATCH = 2000
STEPS_PER_CALL = 50  # training steps run inside one compiled call; the progress bar updates between calls
TEST_SEED_OFFSET = 10_000  # the test set's fixed noise and eps come from seed + this, apart from training's


def prepare(images, labels):
    """uint8 [N, 28, 28] images and labels -> float32 [N, 784] in [0, 1] and one-hot float32 [N, 10]."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = np.eye(N_CLASSES, dtype=np.float32)[labels]
    return x, y


def build_model(cfg):
    """The model named by cfg['model'], built."""
    cls = {"vae": VAE, "cvae": CVAE}[cfg["model"]]
    return cls(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"])


def fixed_test_inputs(cfg, x_test):
    """Encoder inputs and sampling noise for evaluation, drawn once so every epoch sees the same ones."""
    rng = np.random.default_rng(cfg["seed"] + TEST_SEED_OFFSET)
    x_in = x_test
    if cfg["add_noise"]:
        uniform = rng.random(x_test.shape, dtype=np.float32)
        x_in = np.asarray(salt_and_pepper(x_test, uniform, cfg["noise_prob"]))
    eps = rng.standard_normal((len(x_test), cfg["dim_z"]), dtype=np.float32)
    return x_in, eps


def make_train_steps(model, optimizer, x_all, y_all, cfg):
    """A compiled function running one training step per row of an index matrix; returns summed loss terms."""
    x_all, y_all = tf.constant(x_all), tf.constant(y_all)
    add_noise, prob, seed = cfg["add_noise"], cfg["noise_prob"], cfg["seed"]

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int64)])
    def train_steps(batch_index, first_step):
        sums = tf.zeros([len(TERMS)])
        for i in tf.range(tf.shape(batch_index)[0]):
            idx = batch_index[i]
            x, y = tf.gather(x_all, idx), tf.gather(y_all, idx)
            step_seed = tf.stack([tf.constant(seed, tf.int64), first_step + tf.cast(i, tf.int64)])
            # Stateless draws keyed by (seed, global step): the same run replays exactly, and a resumed one too.
            eps = tf.random.stateless_normal([tf.shape(x)[0], model.dim_z], seed=step_seed)
            x_in = x
            if add_noise:
                x_in = salt_and_pepper(x, tf.random.stateless_uniform(tf.shape(x), seed=step_seed + 1), prob)
            with tf.GradientTape() as tape:
                terms = model.loss_terms(x_in, x, y, eps)
                loss = tf.reduce_mean(terms["loss"])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            sums += tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
        return sums

    return train_steps


def make_evaluate(model):
    """A compiled function summing the loss terms over one evaluation batch."""
    @tf.function
    def eval_batch(x_in, x, y, eps):
        terms = model.loss_terms(x_in, x, y, eps)
        return tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
    return eval_batch


def evaluate(eval_batch, x_in, x, y, eps):
    """Mean loss terms over all images, in batches of EVAL_BATCH."""
    sums = np.zeros(len(TERMS))
    for start in range(0, len(x), EVAL_BATCH):
        end = start + EVAL_BATCH
        sums += eval_batch(x_in[start:end], x[start:end], y[start:end], eps[start:end]).numpy()
    return dict(zip(TERMS, sums / len(x)))


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


def reconstruct(model, x_in, y):
    """Pixel intensities of the reconstructions of x_in, decoding the posterior mean."""
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(model(x_in, y)))


def train_and_evaluate(cfg, run_dir):
    """Train the model cfg describes, evaluate on the test set each epoch, write everything into run_dir."""
    start_time = time.time()
    keras.utils.set_random_seed(cfg["seed"])
    (train_images, train_labels), (test_images, test_labels) = load_mnist(cfg.get("data_dir") or DATA_DIR)
    x_train, y_train = prepare(train_images[:cfg["n_train"]], train_labels[:cfg["n_train"]])
    x_test, y_test = prepare(test_images, test_labels)
    x_test_in, eps_test = fixed_test_inputs(cfg, x_test)

    model = build_model(cfg)
    optimizer = keras.optimizers.Adam(learning_rate=cfg["learn_rate"])
    train_steps = make_train_steps(model, optimizer, x_train, y_train, cfg)
    eval_batch = make_evaluate(model)

    n_prr = cfg["PRR_n_img_x"] * cfg["PRR_n_img_y"]
    if cfg["PRR"]:
        prr = (cfg["PRR_n_img_x"], cfg["PRR_n_img_y"], cfg["PRR_resize_factor"])
        plot_utils.save_grid(run_dir / "PRR_input.png", x_test[:n_prr], *prr)
        if cfg["add_noise"]:
            plot_utils.save_grid(run_dir / "PRR_input_noisy.png", x_test_in[:n_prr], *prr)

    n, num_epochs, width = len(x_train), cfg["num_epochs"], len(str(cfg["num_epochs"]))
    step = 0
    for epoch in range(1, num_epochs + 1):
        epoch_start = time.time()
        full, rest = epoch_batches(n, cfg["batch_size"], cfg["seed"], epoch)
        progress = Progress(len(full) + (rest.size > 0), f"epoch {epoch:>{width}}/{num_epochs}")
        sums, seen = np.zeros(len(TERMS)), 0
        chunks = [full[i:i + STEPS_PER_CALL] for i in range(0, len(full), STEPS_PER_CALL)]
        for done, chunk in enumerate(chunks + ([rest] if rest.size else []), start=1):
            sums += train_steps(chunk, np.int64(step)).numpy()
            step, seen = step + len(chunk), seen + chunk.size
            progress.update(min(done * STEPS_PER_CALL, progress.total), sums[2] / seen)
        progress.close()
        train_terms = dict(zip(TERMS, sums / n))
        test_terms = evaluate(eval_batch, x_test_in, x_test, y_test, eps_test)
        seconds = time.time() - epoch_start
        row = {"epoch": epoch, **{f"train_{t}": round(v, 4) for t, v in train_terms.items()},
               **{f"test_{t}": round(v, 4) for t, v in test_terms.items()}, "seconds": round(seconds, 3)}
        append_csv_row(run_dir / "metrics.csv", row)
        print(f"epoch {epoch:>{width}}/{num_epochs}  train recon {train_terms['recon']:7.2f}  "
              f"kl {train_terms['kl']:6.2f}  -elbo {train_terms['loss']:7.2f}  |  "
              f"test recon {test_terms['recon']:7.2f}  kl {test_terms['kl']:6.2f}  "
              f"-elbo {test_terms['loss']:7.2f}  |  {seconds:5.1f}s", flush=True)
        if cfg["PRR"] and (epoch == 1 or epoch == num_epochs):
            plot_utils.save_grid(run_dir / f"PRR_epoch_{epoch:0{max(2, width)}d}.png",
                                 reconstruct(model, x_test_in[:n_prr], y_test[:n_prr]), *prr)

    model.save_weights(run_dir / "model.weights.h5")
    metrics = {"epochs": num_epochs, "n_train": n, "n_test": len(x_test),
               **{f"train_{t}": float(v) for t, v in train_terms.items()},
               **{f"test_{t}": float(v) for t, v in test_terms.items()},
               "test_neg_elbo": float(test_terms["loss"]),
               "wall_seconds": round(time.time() - start_time, 2)}
    write_json(run_dir / "metrics.json", metrics)
    return metrics
