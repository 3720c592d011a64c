"""The speed limit of an epoch: its matrix-multiply work, and this machine's fp32 matmul throughput on those shapes."""
import time

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from data.mnist import DIM_X, N_CLASSES
from training.flags import MODELS

UNROLL = 8  # matmuls per loop iteration, so the loop's own overhead is spread thin


def layer_shapes(model, dim_z, n_hidden):
    """(fan_in, fan_out) of the six Dense layers: encoder then decoder, as vae/model.py builds them."""
    c = N_CLASSES if MODELS[model].conditioned else 0
    return [(DIM_X + c, n_hidden), (n_hidden, n_hidden), (n_hidden, 2 * dim_z),
            (dim_z + c, n_hidden), (n_hidden, n_hidden), (n_hidden, DIM_X)]


def step_matmuls(model, dim_z, n_hidden, batch):
    """The matmuls of one training step as (m, k, n, kind); each costs 2*m*k*n flops.

    Forward x @ W, and backward dY @ W^T (input gradient) and x^T @ dY (weight gradient) for every layer,
    except the encoder's first layer, whose input is the data and needs no gradient.
    """
    mms = []
    for i, (fan_in, fan_out) in enumerate(layer_shapes(model, dim_z, n_hidden)):
        mms.append((batch, fan_in, fan_out, "forward"))
        if i != 0:
            mms.append((batch, fan_out, fan_in, "input_grad"))
        mms.append((fan_in, batch, fan_out, "weight_grad"))
    return mms


def epoch_flops(model, dim_z, n_hidden, batch, n_train):
    """Matmul flops of one training epoch (full batches plus the leftover batch)."""
    n_full, rest = divmod(n_train, batch)
    def step(b):
        return sum(2 * m * k * n for m, k, n, _ in step_matmuls(model, dim_z, n_hidden, b)) if b else 0
    return n_full * step(batch) + step(rest)


def matmul_seconds(m, k, n, min_seconds=0.2, tries=3, jit=False):
    """Wall seconds of one fp32 [m, k] @ [k, n] matmul, the best of `tries` timings of a loop of dependent matmuls.

    jit=False times TensorFlow's own matmul kernel (oneDNN on this CPU), the limit; jit=True the kernel XLA
    emits, which the training step runs (benchmarks/speed.py's breakdown compares the two).
    """
    a = tf.random.stateless_normal([m, k], seed=[0, 1])
    b = tf.random.stateless_normal([k, n], seed=[0, 2])
    scale_a = m * k <= k * n  # scale the smaller operand: the dependency costs at most 1/128 of the matmul

    @tf.function(jit_compile=jit)
    def loop(iters):
        # Each product feeds a scale factor of exactly 1.0 (in fp32) into the next, so no matmul can be skipped,
        # merged with another or hoisted out of the loop.
        def body(i, y):
            for _ in range(UNROLL):
                s = 1.0 + 1e-30 * y[0, 0]
                y = tf.matmul(a * s, b) if scale_a else tf.matmul(a, b * s)
            return i + 1, y
        return tf.while_loop(lambda i, y: i < iters, body, (tf.constant(0), tf.zeros([m, n])))[1]

    def timed(iters):
        start = time.perf_counter()
        loop(tf.constant(iters)).numpy()
        return time.perf_counter() - start

    timed(1)  # trace and warm up
    iters = 1
    while (seconds := timed(iters)) < min_seconds:
        iters *= min(8, max(2, int(min_seconds / max(seconds, 1e-6)) + 1))
    return min([seconds] + [timed(iters) for _ in range(tries - 1)]) / (iters * UNROLL)


def epoch_limit(model, dim_z, n_hidden, batch, n_train, cache=None, min_seconds=0.2, tries=3):
    """Seconds of one epoch's matmuls at the best measured throughput of each shape; returns (seconds, flops)."""
    cache = {} if cache is None else cache
    n_full, rest = divmod(n_train, batch)
    seconds = 0.0
    for b, count in ((batch, n_full), (rest, 1)):
        if not b:
            continue
        for m, k, n, _ in step_matmuls(model, dim_z, n_hidden, b):
            if (m, k, n) not in cache:
                cache[(m, k, n)] = matmul_seconds(m, k, n, min_seconds, tries)
            seconds += count * cache[(m, k, n)]
    return seconds, epoch_flops(model, dim_z, n_hidden, batch, n_train)
