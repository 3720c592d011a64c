"""The importance-weighted estimate of the test log-likelihood (Burda et al. 2015, eq. 8).

log p(x) ~ log (1/K) sum_k p(x, z_k) / q(z_k | x) with z_k ~ q(z | x). Its expectation is never below the
ELBO (the K = 1 case) and rises toward log p(x) as K grows. For the CVAE every term is conditioned on the
label, so it estimates log p(x | y).
"""
import math
import weakref

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf
from keras import ops

from data import streams
from vae.losses import bernoulli_nll

LOG_2PI = math.log(2 * math.pi)
MAX_ROWS = 50_000  # decoder rows (images x samples) per compiled call: about 160 MB of logits
_COMPILED = weakref.WeakKeyDictionary()  # one traced function per model, not one per call


def log_weights(model, x, y, eps, x_in=None):
    """log p(x, z_k) - log q(z_k | x) for z_k = mu + sigma * eps_k; eps [K, B, dim_z] -> [K, B].

    With x_in (a denoiser's noisy input) the proposal is q(z | x_in) and x is the target scored.
    """
    z_mean, z_std = model.encode(x if x_in is None else x_in, y)
    z = z_mean + z_std * eps
    k, b = ops.shape(eps)[0], ops.shape(eps)[1]
    logits = model.decode(ops.reshape(z, (k * b, model.dim_z)), ops.tile(y, (k, 1)))
    log_px_z = -ops.reshape(bernoulli_nll(ops.tile(x, (k, 1)), logits), (k, b))
    log_pz = -0.5 * ops.sum(ops.square(z) + LOG_2PI, axis=-1)
    # log q(z|x) from eps itself: (z - mu) / sigma is eps exactly, with no cancellation error.
    log_qz = -ops.sum(0.5 * ops.square(eps) + ops.log(z_std) + 0.5 * LOG_2PI, axis=-1)
    return log_px_z + log_pz - log_qz


def iwae_loss(model, x_in, x, y, eps):
    """Per-example negative IWAE bound, -log (1/K) sum_k w_k (Burda et al. 2015, eq. 8); eps [K, B, dim_z]."""
    k = ops.cast(ops.shape(eps)[0], "float32")
    return -(ops.logsumexp(log_weights(model, x, y, eps, x_in), axis=0) - ops.log(k))


def make_log_weights(model):
    """A compiled log_weights drawing its own K x B standard normals from a stateless seed."""
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32),
                                  tf.TensorSpec([2], tf.int64), tf.TensorSpec([], tf.int32)])
    def compiled(x, y, seed, k):
        eps = tf.random.stateless_normal(tf.stack([k, tf.shape(x)[0], model.dim_z]), seed=seed)
        return log_weights(model, x, y, eps)
    return compiled


def iw_log_likelihood(model, x, y, k, seed=0, max_rows=MAX_ROWS):
    """Per-image importance-weighted log p(x) (log p(x|y) for the CVAE) with K samples, in nats.

    Images go in batches and the K samples in chunks, so memory stays bounded for K = 5000; the chunks
    are combined by a running log-sum-exp, which never exponentiates a large log-weight.
    """
    if model not in _COMPILED:
        _COMPILED[model] = make_log_weights(model)
    compiled = _COMPILED[model]
    k_chunk = min(k, max_rows)
    batch = max(1, max_rows // k_chunk)
    n_chunks = math.ceil(k / k_chunk)
    out = []
    for batch_no, start in enumerate(range(0, len(x), batch)):
        xb, yb = x[start:start + batch], y[start:start + batch]
        total = np.full(len(xb), -np.inf, np.float64)
        for chunk in range(n_chunks):
            kc = min(k_chunk, k - chunk * k_chunk)
            seed_pair = np.array([seed + streams.LIKELIHOOD, batch_no * n_chunks + chunk], np.int64)
            lw = compiled(xb, yb, seed_pair, np.int32(kc))
            total = np.logaddexp(total, ops.convert_to_numpy(ops.logsumexp(ops.cast(lw, "float64"), axis=0)))
        out.append(total - math.log(k))
    return np.concatenate(out)
