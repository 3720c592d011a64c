"""Command-line flags: every default lives here, and bad values are rejected before TensorFlow loads."""
import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from data import streams
from data.mnist import N_CLASSES, N_TEST_IMAGES, N_TRAIN_IMAGES


@dataclass(frozen=True)
class ModelKind:
    """What the flags need to know of a --model: the rest (how it trains) is its family's (training/families.py)."""
    text: str
    conditioned: bool  # its encoder and decoder take the label (PARR, the CVAE's fidelity measures)
    semi_supervised: bool = False  # trained on --n_labeled labels, classifies, reports a test error
    uses_m1: bool = False  # models the latents of a VAE M1 (--m1_run, --m1_dim_z), not pixels


MODELS = {
    "cvae": ModelKind("the VAE given the label (M2 of Kingma et al. 2014 with all labels)", conditioned=True),
    "vae": ModelKind("Kingma & Welling 2013", conditioned=False),
    "m2": ModelKind("M2 with --n_labeled labels", conditioned=True, semi_supervised=True),
    "m1m2": ModelKind("M1+M2 with --n_labeled labels", conditioned=True, semi_supervised=True, uses_m1=True),
}
DISTRIBUTE = ("none", "mirrored")
BINARIZE = ("none", "dynamic", "static")
ACTIVATIONS = ("elu_tanh", "softplus")  # vae/model.py's ACTIVATIONS, named here so no TensorFlow loads for --help
CHOICES = {"model": tuple(MODELS), "distribute": DISTRIBUTE, "binarize": BINARIZE, "activation": ACTIVATIONS}

# How an m1m2 run trains its own M1 (no --m1_run): the optimiser of the M1 that did best under M1+M2
# (docs/semi-supervised.md), independent of the --learn_rate, --batch_size and --lr_decay that M2 trains with.
M1_TRAINING = {"learn_rate": 1e-3, "batch_size": 128, "lr_decay": 0.1}
M1_MODEL = "vae"  # M1 of M1+M2 is a run of this model: trained by the m1m2 run itself, or given as --m1_run

# name: (type, default, help). Order is the order of config.json, of each --help group and of docs/flags.md.
FLAGS = {
    "model": (str, "cvae", "which model: " + "; ".join(f"{name}: {kind.text}" for name, kind in MODELS.items())),
    "dim_z": (int, 20, "dimension of the latent vector z"),
    "n_hidden": (int, 500, "hidden units in each of the two MLP layers of encoder and decoder"),
    "activation": (str, "elu_tanh", "hidden activations: 'elu_tanh' (the original runner's) or 'softplus' (Kingma et al.'s code); m2, m1m2: M1's too"),
    "learn_rate": (float, 1e-3, "learning rate of the Adam optimizer"),
    "lr_decay": (float, 1.0, "the learning rate decays exponentially to lr_decay * learn_rate by the last epoch; 1: constant"),
    "num_epochs": (int, 20, "number of passes over the training images"),
    "batch_size": (int, 128, "images per training step"),
    "add_noise": ("bool", False, "train a denoiser: the encoder sees salt-and-pepper noisy images, the loss targets the clean ones"),
    "noise_prob": (float, 0.5, "probability that --add_noise sets a pixel to 0 or 1 (half each)"),
    "binarize": (str, "none", "binary pixels: 'dynamic' draws each pixel ~ Bernoulli(grey level) anew at every use, 'static' once; the test set is one fixed draw"),
    "quality": ("bool", False, "after training, measure log-likelihood, CVAE fidelity and CAS, and denoising as tools.measure does"),
    "ll_k": (int, 100, "with --quality: importance samples K of the test log-likelihood (Burda et al. 2015); 5000 to compare with papers"),
    "iw_k": (int, 1, "training objective: 1 = the ELBO; K > 1 = the IWAE bound with K importance samples (Burda et al. 2015)"),
    "n_train": (int, N_TRAIN_IMAGES, "train on the first N training images (small N for smoke tests)"),
    "seed": (int, 0, f"random seed, 0 to {streams.SEED_LIMIT - 1}: the same seed on the same machine gives the same metrics"),
    "n_labeled": (int, 100, "m2, m1m2: labelled training images, balanced across the 10 classes and chosen by --seed"),
    "alpha": (float, None, "m2, m1m2: weight of the classification term as a fraction of the training images N (alpha*N, Kingma et al. 2014 eq. 9)"),
    "n_valid": (int, 0, "hold out the last N of the --n_train images for validation: each epoch reports their -ELBO (m2, m1m2: and error); metrics.json gives the test numbers at the best validation epoch"),
    "m2_hidden": (int, 0, "m2, m1m2: 0: two hidden layers of --n_hidden units; N > 0: one softplus layer of N units, as the authors' M2"),
    "m1_dim_z": (int, 50, "m1m2: latent size of the VAE M1 whose latent means M2 models"),
    "m1_epochs": (int, 30, "m1m2: epochs to train M1 before M2, with Adam at {learn_rate:g} decaying to {floor:g}, batches of {batch_size}".format(floor=M1_TRAINING["learn_rate"] * M1_TRAINING["lr_decay"], **M1_TRAINING)),
    "m1_run": (str, None, "m1m2: a finished '--model vae' run folder whose model is M1 (dim_z and n_hidden must match); skips training M1"),
    "data_dir": (str, None, "folder holding the MNIST IDX files (default: the data/ folder of this repository)"),
    "results_path": (str, "results", "folder under which each run writes a new folder of its own"),
    "run_name": (str, None, "name of this run's folder under --results_path (default: model, dim_z and a timestamp); must not exist yet"),
    "resume": (str, None, "continue the run in this folder from its last checkpoint, with its own config; a larger --num_epochs extends it, --learn_rate changes the rate (constant rates only)"),
    "restore": (str, None, "remake the figures and test metrics of the finished run in this folder without training (figure flags may differ)"),
    "distribute": (str, "none", "'none' (one device) or 'mirrored' (tf.distribute.MirroredStrategy over all GPUs, or all logical CPUs if none)"),
    "PRR": ("bool", True, "plot reproduce result: test images and their reconstructions"),
    "PRR_n_img_x": (int, 10, "PRR: images along x"),
    "PRR_n_img_y": (int, 10, "PRR: images along y"),
    "PRR_resize_factor": (float, 1.0, "PRR: resize factor of each image"),
    "PRR_every": (int, 0, "draw PRR (and PMLR, PARR when on) also after every K-th epoch; 0: after the first and the last only"),
    "PMLR": ("bool", False, "plot manifold learning result (needs --dim_z 2)"),
    "PMLR_n_img_x": (int, 10, "PMLR: images along x"),
    "PMLR_n_img_y": (int, 10, "PMLR: images along y"),
    "PMLR_resize_factor": (float, 1.0, "PMLR: resize factor of each image"),
    "PMLR_z_range": (float, 2.0, "PMLR: the grid covers [-range, range] in each latent dimension"),
    "PMLR_n_samples": (int, 5000, "PMLR: test images whose latent means are scattered in the latent map"),
    "PARR": ("bool", False, "plot analogical reasoning result: random z, and test images' z, decoded with every label (needs a label-conditioned model)"),
    "PARR_resize_factor": (float, 1.0, "PARR: resize factor of each image"),
    "PARR_z_range": (float, 2.0, "PARR: range of the uniform random latent vectors at dim_z 2; above, they come from the prior N(0, I)"),
    "interp": ("bool", True, "plot latent interpolation between test digits after the last epoch (PNG strip and GIF)"),
    "interp_n_steps": (int, 10, "interp: decoded points on each line, both ends included"),
}

# --help shows the flags in these groups, in this order.
GROUPS = {
    "model": ("model", "dim_z", "n_hidden", "activation"),
    "training": ("learn_rate", "lr_decay", "num_epochs", "batch_size", "iw_k", "seed", "distribute"),
    "data": ("n_train", "n_valid", "binarize", "add_noise", "noise_prob", "data_dir"),
    "semi-supervised (m2, m1m2)": ("n_labeled", "alpha", "m2_hidden", "m1_dim_z", "m1_epochs", "m1_run"),
    "output": ("results_path", "run_name", "quality", "ll_k"),
    "figures": tuple(name for name in FLAGS if name.startswith(("PRR", "PMLR", "PARR", "interp"))),
    "runs": ("resume", "restore"),
}

# Flags whose default depends on --model (FLAGS holds None for them); other models leave them None.
PER_MODEL_DEFAULTS = {"alpha": {"m2": 1000.0, "m1m2": 0.1}}

# Every int and float flag's range (low, high), both included; a flag added to FLAGS gets its row here too.
# The figure bounds keep a PNG below about 20 megapixels; sizes stay within what MNIST and a CPU can hold.
BOUNDS = {
    "dim_z": (1, 1000), "n_hidden": (1, 10_000), "learn_rate": (1e-10, 1e30), "lr_decay": (1e-10, 1.0),
    "num_epochs": (1, 100_000), "batch_size": (1, N_TRAIN_IMAGES), "noise_prob": (0.0, 1.0), "ll_k": (1, 100_000),
    "iw_k": (1, 1000), "n_train": (1, N_TRAIN_IMAGES), "seed": (0, streams.SEED_LIMIT - 1),
    "n_labeled": (1, N_TRAIN_IMAGES), "alpha": (1e-10, 1e6), "n_valid": (0, N_TRAIN_IMAGES), "m2_hidden": (0, 10_000),
    "m1_dim_z": (1, 1000), "m1_epochs": (1, 100_000),
    "PRR_n_img_x": (1, 50), "PRR_n_img_y": (1, 50), "PRR_resize_factor": (0.1, 5.0), "PRR_every": (0, 100_000),
    "PMLR_n_img_x": (1, 50), "PMLR_n_img_y": (1, 50), "PMLR_resize_factor": (0.1, 5.0), "PMLR_z_range": (1e-3, 100.0),
    "PMLR_n_samples": (1, N_TEST_IMAGES), "PARR_resize_factor": (0.1, 5.0), "PARR_z_range": (1e-3, 100.0),
    "interp_n_steps": (2, 100),
}

FIGURE_PREFIXES = ("PRR", "PMLR", "PARR", "interp")  # flags --restore may change: they only affect figures

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def str2bool(text):
    """Parse a boolean flag value; 'False', '0' and 'no' mean false (unlike argparse's type=bool)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True/False, 1/0 or yes/no, got {text!r}")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line (not the 16-line usage) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def shown_default(name):
    """A flag's default as --help and docs/flags.md show it: the value, or the value for each model."""
    if name in PER_MODEL_DEFAULTS:
        return ", ".join(f"{value:g} for {model}" for model, value in PER_MODEL_DEFAULTS[name].items())
    return FLAGS[name][1]


def with_flag_defaults(saved):
    """A run's saved config with the flags it predates at their defaults (a run saved before --activation: elu_tanh)."""
    return {name: default for name, (_, default, _) in FLAGS.items()} | saved


def apply_model_defaults(args):
    """Fill in the flags left at None whose default depends on --model."""
    for name, per_model in PER_MODEL_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, per_model.get(args.model))
    return args


def build_parser(defaults=True):
    """The argparse parser of run_main.py; each help text states its default (defaults=False leaves unset flags out)."""
    parser = Parser(
        prog="run_main.py", usage="%(prog)s [--FLAG VALUE ...]  (the flags, by group, below)",
        description="Train a VAE, a CVAE, M2 or M1+M2 on MNIST and write figures and metrics to a run folder of its own.",
    )
    groups = {group: parser.add_argument_group(f"{group} flags") for group in GROUPS}
    group_of = {name: groups[group] for group, names in GROUPS.items() for name in names}
    for name, (kind, default, text) in FLAGS.items():  # in FLAGS order, so config.json keeps its key order
        add = group_of[name].add_argument
        help_text = help_entry(name).replace("%", "%%")  # argparse formats help with %
        default = default if defaults else argparse.SUPPRESS
        if kind == "bool":
            add(f"--{name}", type=str2bool, nargs="?", const=True, default=default, metavar="BOOL", help=help_text)
        elif name in CHOICES:
            add(f"--{name}", choices=CHOICES[name], default=default, help=help_text)
        else:
            add(f"--{name}", type=kind, default=default, help=help_text)
    return parser


def help_entry(name):
    """A flag's --help text: what it does and its default."""
    return f"{FLAGS[name][2]} (default: {shown_default(name)})"


def validate(args, parser):
    """Reject impossible values with an argparse-style one-line error (exit status 2)."""
    if not 0 <= args.seed < streams.SEED_LIMIT:
        parser.error(f"argument --seed: must lie in 0..{streams.SEED_LIMIT - 1} (each random stream of a run is then "
                     f"apart from every other), got {args.seed}")
    for name, (low, high) in BOUNDS.items():  # the ranges: positive sizes, MNIST's image counts, probabilities
        value = getattr(args, name)
        if value is not None and not low <= value <= high:  # also refuses nan and inf
            parser.error(f"argument --{name}: must lie in [{low:g}, {high:g}], got {value}")
    if args.PMLR and args.dim_z != 2:
        parser.error(f"argument --PMLR: needs --dim_z 2 (the figure draws a 2-D latent space), got --dim_z {args.dim_z}")
    kind = MODELS[args.model]
    if args.PARR and not kind.conditioned:
        parser.error(f"argument --PARR: needs a label-conditioned model ({args.model} ignores the label), got --model {args.model}")
    if args.m2_hidden and not kind.semi_supervised:
        parser.error(f"argument --m2_hidden: only the semi-supervised models ({', '.join(semi_supervised())}) have it, "
                     f"got --model {args.model}")
    if args.n_valid >= args.n_train:
        parser.error(f"argument --n_valid: must leave training images, below --n_train ({args.n_train}), got {args.n_valid}")
    if kind.semi_supervised:
        validate_semisupervised(args, parser)
        if args.distribute != "none":
            parser.error(f"argument --distribute: not supported with --model {args.model} (one device only)")
        unsupported = (("iw_k", 1), ("quality", False)) + ((("binarize", "none"),) if kind.uses_m1 else ())
        for name, unset in unsupported:  # M2 on pixels takes --binarize; M1+M2 models M1's latents
            if getattr(args, name) != unset:
                parser.error(f"argument --{name}: not supported with --model {args.model}")
    if args.iw_k > 1 and args.distribute != "none":
        parser.error("argument --iw_k: not supported with --distribute mirrored (its train step optimises the ELBO)")
    n_fit = args.n_train - args.n_valid - (args.n_labeled if kind.semi_supervised else 0)
    if args.batch_size > n_fit:
        parser.error(f"argument --batch_size: must not exceed the {n_fit} training images a batch is drawn from "
                     f"(--n_train - --n_valid{' - --n_labeled' if kind.semi_supervised else ''}), got {args.batch_size}")
    validate_paths(args, parser)
    if args.run_name is not None and (args.run_name in ("", ".", "..") or os.sep in args.run_name):
        parser.error(f"argument --run_name: must be a plain folder name, got {args.run_name!r}")


def validate_paths(args, parser):
    """The folders a new run reads and writes, checked before any is made: nothing is created by mistake."""
    if args.resume or args.restore:
        return
    if args.results_path == "":
        parser.error("argument --results_path: must not be empty (runs would land in the current folder)")
    if Path(args.results_path).exists() and not Path(args.results_path).is_dir():
        parser.error(f"argument --results_path: {args.results_path} is a file, not a folder")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"argument --data_dir: {args.data_dir} is not a folder (make it, or fix the path)")


def validate_semisupervised(args, parser):
    """The flags of m2 and m1m2: balanced labels that leave unlabelled images (--m1_run's folder: runs.folder)."""
    n_fit = args.n_train - args.n_valid  # the training images left after the validation set
    if args.n_labeled % N_CLASSES or args.n_labeled >= n_fit:
        parser.error(f"argument --n_labeled: must be a multiple of {N_CLASSES} below --n_train - --n_valid ({n_fit}), "
                     f"got {args.n_labeled}")
    if args.add_noise:
        parser.error(f"argument --add_noise: not supported with --model {args.model}")
    if args.m1_run is not None and not MODELS[args.model].uses_m1:
        parser.error(f"argument --m1_run: only {', '.join(n for n, k in MODELS.items() if k.uses_m1)} uses M1")


def parse_args(argv=None, saved=None):
    """Parse and validate flags; exits with status 2 on a bad value. saved(args, given, parser), for --resume and
    --restore, returns the args with the run folder's saved config merged in (runs.folder.parse_run_args)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if saved is not None and (args.resume or args.restore):
        args = saved(args, set(vars(build_parser(defaults=False).parse_args(argv))), parser)
    validate(apply_model_defaults(args), parser)
    return args


def semi_supervised():
    """The names of the semi-supervised models."""
    return [name for name, kind in MODELS.items() if kind.semi_supervised]


def flag_table():
    """Markdown tables of every flag and its default, one per --help group, as docs/flags.md shows them."""
    rows = ["# Flags of run_main.py", "", "Generated by `python -m training.flags --table > docs/flags.md`; "
            "`python run_main.py --help` shows the same.", ""]
    for group, names in GROUPS.items():
        rows += [f"## {group[0].upper()}{group[1:]}", "", "| flag | default | meaning |", "|---|---|---|"]
        rows += [f"| `--{name}` | `{shown_default(name)}` | {FLAGS[name][2]} |" for name in names] + [""]
    return "\n".join(rows)


if __name__ == "__main__":
    print(flag_table() if sys.argv[1:] == ["--table"] else "usage: python -m training.flags --table")
