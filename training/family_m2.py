"""The semi-supervised family (Kingma et al. 2014): M2 on pixels and M1+M2 on a VAE's latents, labelled and
unlabelled batches in every step."""
from pathlib import Path

import numpy as np

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

from data import streams
from evaluation.batches import in_batches
from evaluation.metrics import make_test_error
from m2.labels import balanced_labelled_indices, labelled_batches
from m2.losses import classification_nll, semi_supervised_loss
from m2.model import M2
from runs.files import create_run_dir
from runs.folder import RunFolder
from training import loop
from training.family_vae import VAETraining
from training.flags import M1_MODEL, M1_TRAINING
from training.loop import Training, make_optimizer
from training.steps import RNG, STEPS_PER_CALL, dynamic_binarize, epoch_batches, run_calls
from vae.model import VAE

SEMI_TERMS = ("neg_L", "neg_U", "class_nll", "loss")  # batch means: -L(x,y), -U(x), -log q(y|x), -J^alpha/N
ACTIVE_STD = 0.1  # M1+M2: a unit of M1 is active when its latent mean's std across training images exceeds this
M1_FAMILY = loop.Family(VAE, VAETraining)  # the M1 an m1m2 run trains for itself


def make_semi_train_steps(model, optimizer, x_lab, y_lab, x_unl, cfg, draw=None):
    """A compiled function running one step per row of the index matrices; returns the summed SEMI_TERMS.

    draw(rows, seed) turns gathered rows of x into the batch M2 sees (M1+M2: a sample of z1 from M1's posterior,
    whose mean and std the rows hold; M2 with --binarize dynamic: a fresh binarization); by default the rows themselves.
    """
    x_lab, y_lab, x_unl = tf.constant(x_lab), tf.constant(y_lab), tf.constant(x_unl)
    n_labeled, n_unlabeled = int(x_lab.shape[0]), int(x_unl.shape[0])
    alpha = cfg["alpha"] * (n_labeled + n_unlabeled)  # the paper's alpha = 0.1 N
    draw = draw or (lambda rows, seed: rows)
    key = {name: tf.constant(cfg["seed"] + offset, tf.int64) for name, offset in streams.SEMI_STEP.items()}

    # XLA and ThreeFry draws, as family_vae.make_train_steps: each step is one fused program
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([], tf.int64)],
                 jit_compile=True)
    def train_steps(lab_index, unl_index, first_step):
        sums = tf.zeros([len(SEMI_TERMS)])
        for i in tf.range(tf.shape(unl_index)[0]):
            step = first_step + tf.cast(i, tf.int64)
            xl = draw(tf.gather(x_lab, lab_index[i]), tf.stack([key["draw_labelled"], step]))
            xu = draw(tf.gather(x_unl, unl_index[i]), tf.stack([key["draw_unlabelled"], step]))
            yl = tf.gather(y_lab, lab_index[i])
            eps_l = tf.random.stateless_normal([tf.shape(xl)[0], model.dim_z], seed=tf.stack([key["eps_labelled"], step]),
                                               alg=RNG)
            eps_u = tf.random.stateless_normal([tf.shape(xu)[0], model.dim_z],
                                               seed=tf.stack([key["eps_unlabelled"], step]), alg=RNG)
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
    return in_batches(lambda xb: tuple(keras.ops.convert_to_numpy(p) for p in m1.encode(xb)), x)


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
    updating position as family_vae.train_epoch does; False if stop() ended it early."""
    unl, _ = epoch_batches(n_unlabeled, cfg["batch_size"], cfg["seed"], position.epoch)
    lab = labelled_batches(n_labeled, min(n_labeled, cfg["batch_size"]), len(unl), cfg["seed"], position.epoch)
    calls = [(lab[i:i + STEPS_PER_CALL], unl[i:i + STEPS_PER_CALL]) for i in range(0, len(unl), STEPS_PER_CALL)]
    return run_calls(train_steps, calls, position, label, stop, loss_count=lambda call: len(call[0]))  # batch means


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


class M2Training(Training):
    """M2 on pixels: --n_labeled balanced labelled images, the rest unlabelled; an epoch is one pass over the
    unlabelled images, each step with a labelled batch beside its unlabelled one (eq. 9)."""

    terms = SEMI_TERMS
    chosen_by = ("error", "error")  # the classifier's validation error picks the best epoch

    def __init__(self, family, cfg, data, run_dir):
        self.cfg = cfg
        self.lab_idx = balanced_labelled_indices(np.argmax(data.y_train, -1), cfg["n_labeled"], cfg["seed"])
        self.unl_idx = np.setdiff1d(np.arange(len(data.x_train)), self.lab_idx)
        np.savetxt(run_dir / "labelled_indices.txt", self.lab_idx, fmt="%d")
        self.model = family.build_model(cfg)
        self.extra = {}  # metrics.json entries of the setup (M1+M2: M1's active units)
        features, draw, m2 = self.m2_inputs(data, run_dir)
        self.optimizer = make_optimizer(cfg, len(self.unl_idx) // cfg["batch_size"])
        self.optimizer.build(m2.trainable_variables)  # checkpoint.load assigns into its variables
        self.steps = make_semi_train_steps(m2, self.optimizer, features[self.lab_idx], data.y_train[self.lab_idx],
                                           features[self.unl_idx], cfg, draw)
        self.test_error = make_test_error(self.model.classify)

    def m2_inputs(self, data, run_dir):
        """What M2 sees of each training image, how a step draws its batch from those rows, and the M2 to train.

        --binarize static binarized data.x_train once; dynamic draws anew at every step."""
        return data.x_train, dynamic_binarize if self.cfg["binarize"] == "dynamic" else None, self.model

    def train_epoch(self, position, label, stop):
        return train_semi_epoch(self.steps, len(self.lab_idx), len(self.unl_idx), self.cfg, position, label, stop)

    def train_terms(self, sums):
        return dict(zip(SEMI_TERMS, np.array(sums) / (len(self.unl_idx) // self.cfg["batch_size"])))

    def epoch_extra(self, data):
        errors = {"test_error": self.test_error(data.x_test, data.y_test)}
        if data.valid:
            errors["valid_error"] = self.test_error(*data.valid[1:3])
        return errors

    def line(self, label, train_terms, test_terms, valid_terms, extra, seconds):
        valid = f"valid error {extra['valid_error']:5.2f}%  " if "valid_error" in extra else ""
        return (f"{label}  train -L {train_terms['neg_L']:7.2f}  -U {train_terms['neg_U']:7.2f}  "
                f"-log q(y|x) {train_terms['class_nll']:6.3f}  |  {valid}test -elbo {test_terms['loss']:7.2f}  "
                f"error {extra['test_error']:5.2f}%  |  {seconds:5.1f}s")

    def run_metrics(self, rows):
        return {"n_labeled": len(self.lab_idx), "n_unlabeled": len(self.unl_idx), **self.extra}


class M1M2Training(M2Training):
    """M1+M2: M2 models the latents z1 of a VAE M1 (trained first, or --m1_run), drawn from q(z1|x) at every step."""

    def m2_inputs(self, data, run_dir):
        train_m1(self.cfg, self.model.m1, run_dir)
        z_mean, z_std = m1_posterior(self.model.m1, data.x_train)
        mask = active_units(z_mean)
        self.model.m2.x_mask.assign(mask)
        self.extra["m1_active_units"] = int(mask.sum())
        print(f"M1: {self.extra['m1_active_units']} of {len(mask)} latent units active (latent mean's std across "
              f"images > {ACTIVE_STD}); M2 models those, with z1 drawn from q(z1|x) at every step", flush=True)
        return np.concatenate([z_mean, z_std], axis=1), z1_sampler(mask), self.model.m2


def train_m1(cfg, m1, run_dir):
    """M1 of M1+M2: load --m1_run's VAE, or train one as a full vae run in run_dir/m1 (its own metrics, figures and
    checkpoints: a resumed M1+M2 run continues an unfinished M1, and reuses a finished one)."""
    m1_dir = Path(cfg["m1_run"]) if cfg["m1_run"] is not None else Path(run_dir) / "m1"
    if cfg["m1_run"] is None and not (m1_dir / "model.weights.h5").exists():
        if not m1_dir.exists():
            create_run_dir(run_dir, "m1")
        m1_cfg = cfg | M1_TRAINING | {  # M1's own optimiser, not M2's; M1 sees no validation image
            "model": M1_MODEL, "dim_z": cfg["m1_dim_z"], "num_epochs": cfg["m1_epochs"], "PMLR": False, "PARR": False,
            "run_dir": str(m1_dir), "m1_run": None, "resume": None, "n_train": cfg["n_train"] - cfg["n_valid"],
            "n_valid": 0}
        if not (m1_dir / "config.json").exists():  # a resumed M1+M2 run finds its M1's own
            RunFolder(m1_dir).start(m1_cfg)
        print(f"M1: training a {M1_MODEL} with dim_z {cfg['m1_dim_z']} in {m1_dir}", flush=True)
        loop.run(M1_FAMILY, m1_cfg, RunFolder(m1_dir))
    print(f"M1: the {M1_MODEL} of {m1_dir}", flush=True)
    RunFolder(m1_dir).load_weights(m1)  # checked first: a damaged or mismatched --m1_run is named in one line
