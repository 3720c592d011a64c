"""A training step's inputs: dynamic binarization and noise drawn from the step's seed, inside the compiled step."""
import numpy as np

import tf_setup  # noqa: F401
import tensorflow as tf

from data.prepare import load_run_data
from training.flags import with_flag_defaults
from training.steps import Progress, batch_inputs, duration

# Every flag at its default (binarize none, data_dir None) but these.
CFG = with_flag_defaults({"n_train": 500, "seed": 0, "dim_z": 2, "add_noise": False, "noise_prob": 0.5})


def compiled_batch_inputs(x, seed, cfg):
    """batch_inputs as training runs it: inside an XLA-compiled step (its ThreeFry draws need XLA)."""
    return tf.function(lambda x, seed: batch_inputs(x, seed, cfg), jit_compile=True)(x, seed)


def test_dynamic_binarization_draws_anew_each_step():
    batch_inputs = compiled_batch_inputs
    x = tf.constant(load_run_data(CFG).x_train[:64])
    cfg = CFG | {"binarize": "dynamic"}
    seed = tf.constant([0, 7], tf.int64)
    x_in, target = batch_inputs(x, seed, cfg)
    again, _ = batch_inputs(x, seed, cfg)
    later, _ = batch_inputs(x, seed + [0, 1], cfg)
    assert set(np.unique(x_in.numpy())) == {0.0, 1.0} and np.array_equal(x_in, target)
    assert np.array_equal(x_in, again) and not np.array_equal(x_in, later)
    assert abs(float(tf.reduce_mean(x_in)) - float(tf.reduce_mean(x))) < 0.01
    noisy_in, clean_target = batch_inputs(x, seed, cfg | {"add_noise": True})
    assert np.array_equal(clean_target, x_in) and not np.array_equal(noisy_in, clean_target)
    np.testing.assert_array_equal(batch_inputs(x, seed, CFG)[0], x)  # binarize none: grey levels as before


class Stream(list):
    """A stderr stand-in that records what is written; isatty as asked."""

    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty

    def write(self, text):
        self.append(text)

    def flush(self):
        pass


def test_progress_bar_shows_rate_and_time_left_on_a_terminal_only():
    times = iter([100.0, 102.0, 104.0])
    stream = Stream(tty=True)
    bar = Progress(40, "epoch 1/5", done=0, stream=stream, clock=lambda: next(times))
    bar.update(10, 150.25, images=1280)  # 2 s for 10 of 40 steps: 640 img/s, 6 s left
    assert stream[-1] == "\repoch 1/5 [=======.......................] 10/40  loss 150.25  640 img/s  ETA 6s"
    bar.update(20, 140.0, images=2560)
    assert stream[-1].endswith("20/40  loss 140.00  640 img/s  ETA 4s")
    bar.close()
    assert stream[-1].strip() == ""  # the line cleared for the epoch's summary line
    quiet = Stream(tty=False)
    bar = Progress(40, "epoch 1/5", stream=quiet, clock=lambda: 0.0)
    bar.update(10, 150.0, images=1280)
    bar.close()
    assert quiet == []  # a log file gets only the loop's one line per epoch
    assert [duration(s) for s in (7.4, 125, 3725)] == ["7s", "2:05", "1:02:05"]
