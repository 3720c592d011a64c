"""Test-set metrics of every epoch: the negative ELBO's terms over all test images, and a classifier's error."""
import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from evaluation.batches import in_batches

TERMS = ("recon", "kl", "loss")


def make_evaluate(model):
    """A compiled function summing the loss terms over one evaluation batch."""
    @tf.function
    def eval_batch(x_in, x, y, eps):
        terms = model.loss_terms(x_in, x, y, eps)
        return tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])
    return eval_batch


def evaluate(eval_batch, x_in, x, y, eps):
    """Mean loss terms over all images, in batches."""
    per_batch = in_batches(lambda *batch: eval_batch(*batch).numpy()[None], x_in, x, y, eps)
    sums = per_batch.astype(np.float64).sum(axis=0)  # float64, batch after batch
    return dict(zip(TERMS, sums / len(x)))


def make_test_error(classify):
    """A function giving the error rate (in %) of a classifier (images to logits) on images x, one-hot labels y."""
    predict = tf.function(lambda x: tf.argmax(classify(x), axis=-1))

    def test_error(x, y):
        wrong = in_batches(lambda xb, yb: np.sum(predict(xb).numpy() != np.argmax(yb, -1))[None], x, y).sum()
        return 100.0 * int(wrong) / len(x)
    return test_error
