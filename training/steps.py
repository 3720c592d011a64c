"""What every family's training steps share: the seeded inputs of a step, an epoch's batch order, calls and progress."""
import sys
import time

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from data import streams
from data.noise import salt_and_pepper

# Under XLA on this CPU, stateless draws with the default algorithm cost 17 ms per 128x784 batch, Philox
# 0.6 ms and ThreeFry 0.08 ms: the default made an --add_noise epoch 5x slower than one without noise.
RNG = "threefry"
STEPS_PER_CALL = 50  # training steps run inside one compiled call; the progress bar updates between calls


def dynamic_binarize(x, seed):
    """A fresh Bernoulli draw of every pixel, its grey level the probability, each time an image is used: dynamic
    binarization (Burda et al. 2015, sec. 5)."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed=seed, alg=RNG) < x, x.dtype)


def batch_inputs(x, step_seed, cfg):
    """What the encoder sees and what the decoder is scored against for one training batch (runs under XLA)."""
    if cfg["binarize"] == "dynamic":
        x = dynamic_binarize(x, step_seed + streams.STEP["binarize"])
    if cfg["add_noise"]:
        uniform = tf.random.stateless_uniform(tf.shape(x), seed=step_seed + streams.STEP["noise"], alg=RNG)
        return salt_and_pepper(x, uniform, cfg["noise_prob"]), x
    return x, x


def step_inputs(x, step_seed, cfg, dim_z):
    """Encoder input, loss target and sampling noise of one training batch, drawn from the step's seed."""
    eps = tf.random.stateless_normal([tf.shape(x)[0], dim_z], seed=step_seed + streams.STEP["eps"], alg=RNG)
    return *batch_inputs(x, step_seed, cfg), eps


def epoch_batches(n, batch_size, seed, epoch):
    """The epoch's shuffled index batches: a full-batch matrix and the leftover batch (possibly empty)."""
    perm = np.random.default_rng(streams.epoch_order(seed, epoch)).permutation(n).astype(np.int32)
    n_full = n // batch_size
    return perm[:n_full * batch_size].reshape(n_full, batch_size), perm[n_full * batch_size:][None, :]


def duration(seconds):
    """'7s', '2:05' or '1:02:05', as keras.utils.Progbar writes the time left."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """A one-line progress bar on stderr with the mean loss, the rate in images/s and the time left, drawn only
    when stderr is a terminal (elsewhere the loop's one line per epoch is all)."""

    def __init__(self, total, label, done=0, stream=sys.stderr, width=30, clock=time.perf_counter):
        self.total, self.label, self.stream, self.width, self.clock = total, label, stream, width, clock
        self.active = stream.isatty()
        self.start, self.start_done, self.shown = clock(), done, 0  # a resumed epoch counts from where it stood

    def text(self, done, loss, images):
        """The bar after done of total steps, images of them trained since the bar began."""
        elapsed = max(self.clock() - self.start, 1e-9)
        left = (self.total - done) * elapsed / max(done - self.start_done, 1)
        filled = int(self.width * done / self.total)
        return (f"{self.label} [{'=' * filled}{'.' * (self.width - filled)}] {done}/{self.total}  "
                f"loss {loss:.2f}  {images / elapsed:,.0f} img/s  ETA {duration(left)}")

    def update(self, done, loss, images):
        if self.active:
            line = self.text(done, loss, images)
            self.stream.write("\r" + line.ljust(self.shown))
            self.shown = len(line)
            self.stream.flush()

    def close(self):
        if self.active:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()


def run_calls(train_steps, calls, position, label, stop, loss_count):
    """Run calls[position.calls_done:], each a tuple of index matrices whose rows are the call's steps, updating
    position (step, calls done, summed terms, whose last is the loss) after each; False if stop() ended it early.

    loss_count(call) is the number of terms the call's loss sum adds up, for the progress bar's mean loss.
    """
    progress = Progress(sum(len(c[0]) for c in calls), label, done=sum(len(c[0]) for c in calls[:position.calls_done]))
    sums, images = np.array(position.sums), 0
    for k in range(position.calls_done, len(calls)):
        if stop():
            progress.close()
            return False
        sums += train_steps(*calls[k], np.int64(position.step)).numpy()
        position.step, position.calls_done, position.sums = position.step + len(calls[k][0]), k + 1, sums.tolist()
        images += sum(index.size for index in calls[k])
        progress.update(sum(len(c[0]) for c in calls[:k + 1]), sums[-1] / sum(map(loss_count, calls[:k + 1])), images)
    progress.close()
    return True
