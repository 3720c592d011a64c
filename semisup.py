"""Semi-supervised training of M2 and M1+M2 (Kingma et al. 2014): labelled and unlabelled batches in every step."""
import time
from pathlib import Path

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

import checkpoint
import figures
from config import M1_TRAINING
from data.mnist import N_CLASSES
from evaluate import EVAL_BATCH, VALID_BINARIZE_SEED, binarize, evaluate, load_run_data, make_evaluate
from losses import classification_nll, semi_supervised_loss
from m2 import M1M2, M2
from rundir import create_run_dir, write_json
from train import (RNG, STEPS_PER_CALL, checkpointed_epochs, dynamic_binarize, epoch_batches, epoch_metrics,
                   make_optimizer, run_calls, train_and_evaluate)

SEMI_TERMS = ("neg_L", "neg_U", "class_nll", "loss")  # batch means: -L(x,y), -U(x), -log q(y|x), -J^alpha/N
ACTIVE_STD = 0.1  # M1+M2: a unit of M1 is active when its latent mean's std across training images exceeds this


def build_model(cfg):
    """An untrained M2 or M1+M2, as cfg describes."""
    if cfg["model"] == "m1m2":
        return M1M2(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], m1_dim_z=cfg["m1_dim_z"],
                    m2_hidden=cfg["m2_hidden"], activation=cfg["activation"])
    return M2(dim_z=cfg["dim_z"], n_hidden=cfg["n_hidden"], m2_hidden=cfg["m2_hidden"],
              activation=cfg["activation"])


def balanced_labelled_indices(labels, n_labeled, seed):
    """Indices of n_labeled images, n_labeled/10 of each class, drawn without replacement by the seed; sorted."""
    rng = np.random.default_rng([seed, n_labeled])
    per_class = n_labeled // N_CLASSES
    picked = []
    for k in range(N_CLASSES):
        candidates = np.flatnonzero(labels == k)
        if len(candidates) < per_class:
            raise ValueError(f"--n_labeled {n_labeled} needs {per_class} images of class {k} among the "
                             f"--n_train images, found {len(candidates)}")
        picked.append(rng.choice(candidates, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def hold_out(data, n_valid, binarize_mode="none"):
    """Split the last n_valid training images off data (in place): the validation set (x, y), or None for 0.

    With --binarize dynamic it is one fixed binary draw, as the test set is (static: already the training draw)."""
    if not n_valid:
        return None
    x_valid, y_valid = data.x_train[-n_valid:], data.y_train[-n_valid:]
    data.x_train, data.y_train = data.x_train[:-n_valid], data.y_train[:-n_valid]
    return (binarize(x_valid, VALID_BINARIZE_SEED) if binarize_mode == "dynamic" else x_valid), y_valid


def best_by_validation(rows):
    """The metrics.csv row of the epoch with the lowest validation error (the first of equals)."""
    return min(rows, key=lambda row: float(row["valid_error"]))


def labelled_batches(n_labeled, batch_size, n_steps, seed, epoch):
    """[n_steps, batch_size] indices into the labelled set: shuffled passes over it, repeated as needed."""
    rng = np.random.default_rng([seed, epoch, 1])
    n_passes = -(-n_steps * batch_size // n_labeled)
    order = np.concatenate([rng.permutation(n_labeled) for _ in range(n_passes)])
    return order[:n_steps * batch_size].astype(np.int32).reshape(n_steps, batch_size)


def make_semi_train_steps(model, optimizer, x_lab, y_lab, x_unl, cfg, draw=None):
    """A compiled function running one step per row of the index matrices; returns the summed SEMI_TERMS.

    draw(rows, seed) turns gathered rows of x into the batch M2 sees (M1+M2: a sample of z1 from M1's posterior,
    whose mean and std the rows hold; M2 with --binarize dynamic: a fresh binarization); by default the rows themselves.
    """
    x_lab, y_lab, x_unl = tf.constant(x_lab), tf.constant(y_lab), tf.constant(x_unl)
    n_labeled, n_unlabeled = int(x_lab.shape[0]), int(x_unl.shape[0])
    alpha = cfg["alpha"] * (n_labeled + n_unlabeled)  # the paper's alpha = 0.1 N
    draw = draw or (lambda rows, seed: rows)

    # XLA and ThreeFry draws, as train.make_train_steps: each step is one fused program
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([], tf.int64)],
                 jit_compile=True)
    def train_steps(lab_index, unl_index, first_step):
        sums = tf.zeros([len(SEMI_TERMS)])
        for i in tf.range(tf.shape(unl_index)[0]):
            step = first_step + tf.cast(i, tf.int64)
            seed = tf.constant(cfg["seed"], tf.int64)
            xl = draw(tf.gather(x_lab, lab_index[i]), tf.stack([seed + 2, step]))
            xu = draw(tf.gather(x_unl, unl_index[i]), tf.stack([seed + 3, step]))
            yl = tf.gather(y_lab, lab_index[i])
            eps_l = tf.random.stateless_normal([tf.shape(xl)[0], model.dim_z], seed=tf.stack([seed, step]), alg=RNG)
            eps_u = tf.random.stateless_normal([tf.shape(xu)[0], model.dim_z], seed=tf.stack([seed + 1, step]), alg=RNG)
            with tf.GradientTape() as tape:
                neg_l = model.loss_terms(xl, xl, yl, eps_l)["loss"]
                neg_u = model.unlabelled_loss(xu, eps_u)
                class_nll = classification_nll(yl, model.classify(xl))
                loss = semi_supervised_loss(neg_l, neg_u, class_nll, n_labeled, n_unlabeled, alpha)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            sums += tf.stack([tf.reduce_mean(neg_l), tf.reduce_mean(neg_u), tf.reduce_mean(class_nll), loss])
        return sums

    return train_steps


def m1_posterior(m1, x):
    """M1's posterior q(z1|x) of the images x: means and standard deviations, [N, m1_dim_z] each."""
    parts = [m1.encode(x[s:s + EVAL_BATCH]) for s in range(0, len(x), EVAL_BATCH)]
    return (np.concatenate([keras.ops.convert_to_numpy(p[0]) for p in parts]),
            np.concatenate([keras.ops.convert_to_numpy(p[1]) for p in parts]))


def active_units(z_mean):
    """M1's active units, as the authors' code picks them: latent means whose std across images exceeds 0.1."""
    return (np.std(z_mean, axis=0) > ACTIVE_STD).astype(np.float32)


def z1_sampler(mask):
    """draw() for M1+M2: rows hold [mean, std] of q(z1|x); a fresh z1 every step, inactive units zeroed."""
    mask = tf.constant(mask)
    d = int(mask.shape[0])

    def draw(rows, seed):
        eps = tf.random.stateless_normal(tf.shape(rows[:, :d]), seed=seed, alg=RNG)
        return (rows[:, :d] + rows[:, d:] * eps) * mask
    return draw


def train_semi_epoch(train_steps, n_labeled, n_unlabeled, cfg, position, label, stop=lambda: 0):
    """The rest of epoch position.epoch, one pass over the unlabelled images (dropping the last partial batch),
    updating position as train.train_epoch does; False if stop() ended it early."""
    unl, _ = epoch_batches(n_unlabeled, cfg["batch_size"], cfg["seed"], position.epoch)
    lab = labelled_batches(n_labeled, min(n_labeled, cfg["batch_size"]), len(unl), cfg["seed"], position.epoch)
    calls = [(lab[i:i + STEPS_PER_CALL], unl[i:i + STEPS_PER_CALL]) for i in range(0, len(unl), STEPS_PER_CALL)]
    return run_calls(train_steps, calls, position, label, stop, loss_count=lambda call: len(call[0]))  # batch means


def make_test_error(classify):
    """A function giving the error rate (in %) of a classifier (images to logits) on images x, one-hot labels y."""
    predict = tf.function(lambda x: tf.argmax(classify(x), axis=-1))

    def test_error(x, y):
        wrong = sum(int(np.sum(predict(x[s:s + EVAL_BATCH]).numpy() != np.argmax(y[s:s + EVAL_BATCH], -1)))
                    for s in range(0, len(x), EVAL_BATCH))
        return 100.0 * wrong / len(x)
    return test_error


def supervised_baseline_error(x_lab, y_lab, x_test, y_test, n_hidden, steps, seed, batch_size=100):
    """Test error (%) of M2's classifier MLP trained on the labelled images alone (Adam, 1e-3, `steps` steps): the
    NN row of the paper's Table 1, what the unlabelled images must improve on. x may be any features, e.g. M1's."""
    keras.utils.set_random_seed(seed)
    classifier = M2(dim_z=2, n_hidden=n_hidden, dim_x=x_lab.shape[1]).classifier
    optimizer = keras.optimizers.Adam(1e-3)
    x_lab, y_lab = tf.constant(x_lab), tf.constant(y_lab)

    @tf.function(jit_compile=True)
    def step(index):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(classification_nll(tf.gather(y_lab, index), classifier(tf.gather(x_lab, index))))
        optimizer.apply(tape.gradient(loss, classifier.trainable_variables), classifier.trainable_variables)

    for index in labelled_batches(len(x_lab), min(len(x_lab), batch_size), steps, seed, epoch=0):
        step(tf.constant(index))
    return make_test_error(classifier)(x_test, y_test)


def train_m1(cfg, m1, run_dir):
    """M1 of M1+M2: load --m1_run's VAE, or train one as a full vae run in run_dir/m1 (its own metrics, figures and
    checkpoints: a resumed M1+M2 run continues an unfinished M1, and reuses a finished one)."""
    m1_dir = Path(cfg["m1_run"]) if cfg["m1_run"] is not None else Path(run_dir) / "m1"
    if cfg["m1_run"] is None and not (m1_dir / "model.weights.h5").exists():
        if not m1_dir.exists():
            create_run_dir(run_dir, "m1")
        m1_cfg = cfg | M1_TRAINING | {  # M1's own optimiser, not M2's; M1 sees no validation image
            "model": "vae", "dim_z": cfg["m1_dim_z"], "num_epochs": cfg["m1_epochs"], "PMLR": False, "PARR": False,
            "run_dir": str(m1_dir), "m1_run": None, "resume": None, "n_train": cfg["n_train"] - cfg.get("n_valid", 0),
            "n_valid": 0}
        write_json(m1_dir / "config.json", m1_cfg)
        print(f"M1: training a vae with dim_z {cfg['m1_dim_z']} in {m1_dir}", flush=True)
        train_and_evaluate(m1_cfg, m1_dir)
    print(f"M1: the vae of {m1_dir}", flush=True)
    m1.load_weights(m1_dir / "model.weights.h5")


def semi_epoch_line(label, train_terms, test_terms, test_error, seconds, valid_error=None):
    """The one summary line printed after each epoch of M2."""
    valid = "" if valid_error is None else f"valid error {valid_error:5.2f}%  "
    return (f"{label}  train -L {train_terms['neg_L']:7.2f}  -U {train_terms['neg_U']:7.2f}  "
            f"-log q(y|x) {train_terms['class_nll']:6.3f}  |  {valid}test -elbo {test_terms['loss']:7.2f}  "
            f"error {test_error:5.2f}%  |  {seconds:5.1f}s")


def train_semisupervised(cfg, run_dir, on_epoch=None):
    """Train M2 (or M1+M2) on --n_labeled labels, report test error each epoch, write everything into run_dir."""
    start_time = time.time()
    keras.utils.set_random_seed(cfg["seed"])
    data = load_run_data(cfg)
    valid = hold_out(data, cfg.get("n_valid", 0), cfg["binarize"])  # runs made before --n_valid held none out
    lab_idx = balanced_labelled_indices(np.argmax(data.y_train, -1), cfg["n_labeled"], cfg["seed"])
    unl_idx = np.setdiff1d(np.arange(len(data.x_train)), lab_idx)
    np.savetxt(run_dir / "labelled_indices.txt", lab_idx, fmt="%d")
    model = build_model(cfg)
    extra, draw = {}, None
    if cfg["model"] == "m1m2":
        train_m1(cfg, model.m1, run_dir)
        z_mean, z_std = m1_posterior(model.m1, data.x_train)
        mask = active_units(z_mean)
        model.m2.x_mask.assign(mask)
        extra["m1_active_units"] = int(mask.sum())
        print(f"M1: {extra['m1_active_units']} of {len(mask)} latent units active (latent mean's std across "
              f"images > {ACTIVE_STD}); M2 models those, with z1 drawn from q(z1|x) at every step", flush=True)
        features, draw, m2 = np.concatenate([z_mean, z_std], axis=1), z1_sampler(mask), model.m2
    else:  # --binarize static binarized data.x_train once; dynamic draws anew at every step, as z1 above
        features, m2 = data.x_train, model
        draw = dynamic_binarize if cfg["binarize"] == "dynamic" else None
    optimizer = make_optimizer(cfg, len(unl_idx) // cfg["batch_size"])
    optimizer.build(m2.trainable_variables)  # its variables must exist before a checkpoint loads into them
    train_steps = make_semi_train_steps(m2, optimizer, features[lab_idx], data.y_train[lab_idx], features[unl_idx],
                                        cfg, draw)
    eval_batch, test_error = make_evaluate(model), make_test_error(model.classify)
    position = checkpoint.load(run_dir, model, optimizer) or checkpoint.Position(sums=[0.0] * len(SEMI_TERMS))
    if position.epoch == 1 and position.calls_done == 0:
        figures.start_figures(cfg, data, run_dir)

    def train_one(position, label, stop):
        return train_semi_epoch(train_steps, len(lab_idx), len(unl_idx), cfg, position, label, stop)

    def end_epoch(position, label, epoch_start):
        train_terms = dict(zip(SEMI_TERMS, np.array(position.sums) / (len(unl_idx) // cfg["batch_size"])))
        test_terms = evaluate(eval_batch, data.x_test_in, data.x_test, data.y_test, data.eps_test)
        errors = {"test_error": test_error(data.x_test, data.y_test)}
        if valid is not None:
            errors["valid_error"] = test_error(*valid)
        seconds = time.time() - epoch_start
        print(semi_epoch_line(label, train_terms, test_terms, errors["test_error"], seconds,
                              errors.get("valid_error")), flush=True)
        figures.epoch_figures(cfg, model, data, run_dir, position.epoch)
        return epoch_metrics(position.epoch, train_terms, test_terms, seconds, errors)

    position, wall_seconds = checkpointed_epochs(cfg, run_dir, model, optimizer, position, train_one, end_epoch,
                                                 on_epoch, start_time)
    model.save_weights(run_dir / "model.weights.h5")
    figures.final_figures(cfg, model, data, run_dir)
    if valid is not None:  # the epoch one would stop at, chosen without the test set
        best = best_by_validation(position.rows)
        extra |= {"n_valid": len(valid[0]), "best_valid_epoch": int(best["epoch"]),
                  "valid_error_at_best": float(best["valid_error"]), "test_error_at_best": float(best["test_error"])}
    metrics = {"epochs": cfg["num_epochs"], "n_train": len(data.x_train), "n_test": len(data.x_test),
               "n_labeled": len(lab_idx), "n_unlabeled": len(unl_idx), **extra, **position.final,
               "test_neg_elbo": position.final["test_loss"], "wall_seconds": round(wall_seconds, 2)}
    write_json(run_dir / "metrics.json", metrics)
    figures.write_index(cfg, run_dir)
    return metrics
