"""M2's training step with the unlabelled bound as the model computes it, against the plain way, interleaved.

    python benchmarks/m2_step.py                      # image M2: --n_hidden 500, --dim_z 50, batch 128
    python benchmarks/m2_step.py --n_hidden 256 --batch_size 100

The unlabelled bound needs q(z|x,y) for all ten labels. "shared" is M2.unlabelled_loss, which multiplies x by the
encoder's first layer once per image; "repeated" feeds the image ten times, once with each label, through
M2.loss_terms. Both run in the one compiled step training/family_m2.py trains with, on random images, alternating
(A, B, A, B) so that a busy machine slows both alike; the medians and their ratio are printed, after the mean
loss of each over its first steps from the same initial weights, which should agree.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402

import tf_setup  # noqa: E402,F401  (quiet TensorFlow import)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from m2.losses import negative_unlabelled_bound  # noqa: E402
from m2.model import M2  # noqa: E402
from training import family_m2  # noqa: E402


class RepeatedM2(M2):
    """M2 whose unlabelled bound runs the whole encoder on each (image, label) pair."""

    def unlabelled_loss(self, x, eps):
        batch, n = ops.shape(x)[0], self.n_classes
        x_rep = ops.repeat(x, n, axis=0)
        y_rep = ops.tile(ops.eye(n, dtype=x.dtype), [batch, 1])
        neg_l = self.loss_terms(x_rep, x_rep, y_rep, ops.repeat(eps, n, axis=0))["loss"]
        return negative_unlabelled_bound(ops.reshape(neg_l, (batch, n)), self.classify(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n_hidden", type=int, default=500)
    parser.add_argument("--dim_z", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed call (default: 40)")
    parser.add_argument("--repeats", type=int, default=6, help="timed calls of each variant (default: 6)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x_lab = (rng.uniform(size=(100, 784)) < 0.2).astype(np.float32)
    y_lab = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]
    x_unl = (rng.uniform(size=(5000, 784)) < 0.2).astype(np.float32)
    lab = tf.constant(rng.integers(0, 100, (args.steps, args.batch_size)), tf.int32)
    unl = tf.constant(rng.integers(0, 5000, (args.steps, args.batch_size)), tf.int32)
    cfg = {"alpha": 1000.0, "seed": 0}
    steps = {}
    for name, cls in (("shared", M2), ("repeated", RepeatedM2)):
        keras.utils.set_random_seed(0)  # the same initial weights, so both should train alike
        model = cls(dim_z=args.dim_z, n_hidden=args.n_hidden)
        steps[name] = family_m2.make_semi_train_steps(model, keras.optimizers.Adam(3e-4), x_lab, y_lab, x_unl, cfg)
        loss = steps[name](lab, unl, tf.constant(0, tf.int64)).numpy()[-1] / args.steps  # compiles, too
        print(f"{name:9s} mean loss over the first {args.steps} steps {loss:.6f}")
    ms = {name: [] for name in steps}
    for r in range(args.repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step(lab, unl, tf.constant(r + 1, tf.int64)).numpy()
            ms[name].append((time.perf_counter() - start) / args.steps * 1000)
    for name, times in ms.items():
        print(f"{name:9s} {statistics.median(times):7.2f} ms/step (median of {args.repeats}; "
              f"min {min(times):.2f}, max {max(times):.2f})")
    print(f"repeated / shared: {statistics.median(ms['repeated']) / statistics.median(ms['shared']):.2f}x")


if __name__ == "__main__":
    main()
