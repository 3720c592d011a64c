"""--distribute mirrored: the training steps under tf.distribute.MirroredStrategy, each replica taking a slice of a batch."""
import tf_setup  # noqa: F401  (quiet TensorFlow import)
import tensorflow as tf

from evaluation.metrics import TERMS
from training.steps import step_inputs


def make_strategy(name):
    """None for 'none'; for 'mirrored' a MirroredStrategy over all GPUs, or over all logical CPUs if there is no GPU."""
    if name == "none":
        return None
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def make_mirrored_train_steps(strategy, model, optimizer, x_all, y_all, cfg):
    """family_vae.make_train_steps under the strategy: the same batches, noise and mean loss, its gradient summed over replicas."""
    x_all, y_all = tf.constant(x_all), tf.constant(y_all)
    n_replicas = strategy.num_replicas_in_sync

    # One device runs its steps under XLA, whose stateless random draws differ from TensorFlow's kernels':
    # drawing through XLA here too gives the replicas exactly the noise one device sees.
    draw_inputs = tf.function(lambda x, step_seed: step_inputs(x, step_seed, cfg, model.dim_z), jit_compile=True)

    def replica_step(batch_idx, step_seed):
        x, y = tf.gather(x_all, batch_idx), tf.gather(y_all, batch_idx)
        # Each replica draws the whole batch's noise from the step's seed and keeps its own rows, so the
        # replicas together see exactly the inputs one device sees.
        x_in, x_target, eps = draw_inputs(x, step_seed)
        n, replica = tf.shape(batch_idx)[0], tf.distribute.get_replica_context().replica_id_in_sync_group
        lo, hi = n * replica // n_replicas, n * (replica + 1) // n_replicas
        with tf.GradientTape() as tape:
            terms = model.loss_terms(x_in[lo:hi], x_target[lo:hi], y[lo:hi], eps[lo:hi])
            loss = tf.reduce_sum(terms["loss"]) / tf.cast(n, tf.float32)  # summed over replicas: the batch mean
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)  # Keras all-reduces (sums) the gradients first
        return tf.stack([tf.reduce_sum(terms[t]) for t in TERMS])

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int64)])
    def train_steps(batch_index, first_step):
        sums = tf.zeros([len(TERMS)])
        for i in tf.range(tf.shape(batch_index)[0]):
            step_seed = tf.stack([tf.constant(cfg["seed"], tf.int64), first_step + tf.cast(i, tf.int64)])
            per_replica = strategy.run(replica_step, args=(batch_index[i], step_seed))
            sums += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return sums

    return train_steps
