"""A run folder as the training loop and the commands see it: its checkpoint and per-epoch rows, its finished
files, and the flags that name run folders (--resume and --restore take a folder's saved config; --m1_run's folder
must hold a matching finished VAE)."""
import argparse
import json
from pathlib import Path

from runs import checkpoint
from runs.files import write_csv, write_json
from training.flags import FIGURE_PREFIXES, FLAGS, M1_MODEL, build_parser, parse_args, with_flag_defaults


class RunFolder:
    """The run folder path as the epoch loop writes it: checkpoints (with metrics.csv in step), then, once the
    run has finished, its weights and metrics.json. Figures and TensorBoard events go under path."""

    def __init__(self, path):
        self.path = Path(path)

    def load_checkpoint(self, model, optimizer):
        """Load the folder's checkpoint into model and the (built) optimizer; its Position, or None without one."""
        return checkpoint.load(self.path, model, optimizer)

    def save_checkpoint(self, model, optimizer, position):
        """Write the checkpoint of position, then metrics.csv from its finished epochs' rows."""
        checkpoint.save(self.path, model, optimizer, position)
        if position.rows:
            write_csv(self.path / "metrics.csv", position.rows)

    def boundary(self, phase):
        """The loop passes a phase boundary that writes nothing of the folder: after setting up ('setup'), after an
        epoch's figures ('epoch_figures'), after the last epoch's figures ('final_figures')."""

    def finish(self, model, metrics):
        """The finished run's files: the trained weights, then metrics.json."""
        checkpoint.save_weights(model, self.path)
        write_json(self.path / "metrics.json", metrics)


def parse_run_args(argv=None):
    """run_main.py's flags, checked (training.flags.parse_args), with a --resume or --restore folder's saved
    config merged in and a --m1_run folder checked; exits with status 2 and one line on a bad one."""
    args = parse_args(argv, saved=saved_run_args)
    if args.m1_run is not None:
        check_m1_run(args, build_parser())
    return args


def saved_run_args(args, given, parser):
    """For --resume or --restore: the run's saved config, plus the flags given now that the mode lets change."""
    mode = "resume" if args.resume else "restore"
    run_dir = Path(getattr(args, mode))
    # A resumed run must replay the same run; a restored one may only draw its figures differently.
    allowed = {mode} | ({name for name in FLAGS if name.startswith(FIGURE_PREFIXES)} | {"quality", "ll_k"}
                        if mode == "restore" else {"num_epochs", "learn_rate"})
    if args.resume and args.restore:
        parser.error("arguments --resume and --restore: give one of them, not both")
    if given - allowed:
        parser.error(f"argument --{mode}: the run keeps its own config; drop --{sorted(given - allowed)[0]}"
                     + (" (only figure flags may change)" if mode == "restore" else ""))
    if not (run_dir / "config.json").is_file():
        parser.error(f"argument --{mode}: {run_dir} has no config.json, so it is not a run folder")
    finished = (run_dir / "metrics.json").exists()
    damaged = checkpoint.damaged_weights_message(run_dir) if finished or mode == "restore" else None
    if mode == "restore" and not finished:
        parser.error(f"argument --restore: {run_dir} has no metrics.json (an unfinished run: --resume it first)")
    if mode == "restore" and damaged:
        parser.error(f"argument --restore: {damaged}")
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as err:
        parser.error(f"argument --{mode}: {run_dir / 'config.json'} is damaged ({err}); the folder is left as it "
                     "is: mend the file from a copy, or start a new run")
    if mode == "resume":
        problem = checkpoint.checkpoint_problem(run_dir)
        if problem:
            parser.error(f"argument --resume: {run_dir / checkpoint.CHECKPOINT} is damaged ({problem}); the folder is "
                         f"left as it is: delete that file to train the run again from epoch 1, or start a new run")
        # a finished run resumes only to extend it or to rebuild damaged weights
        check_extension(run_dir, with_flag_defaults(saved), args.num_epochs if "num_epochs" in given else None,
                        finished and not damaged, parser)
        if "learn_rate" in given and with_flag_defaults(saved)["lr_decay"] != 1.0:
            parser.error(f"argument --learn_rate: cannot change the learning rate of a run with --lr_decay "
                         f"{saved['lr_decay']:g}: its schedule is fixed by its first learn_rate")
    merged = with_flag_defaults({k: v for k, v in saved.items() if k in FLAGS})
    return argparse.Namespace(**merged | {name: getattr(args, name) for name in given} | {mode: str(run_dir)})


def check_extension(run_dir, saved, num_epochs, finished, parser):
    """--resume [--num_epochs N]: a finished run only continues to a larger N, and only at a constant learning rate."""
    planned = saved["num_epochs"]
    if num_epochs is None or num_epochs == planned:
        if finished:
            parser.error(f"argument --resume: the run in {run_dir} has finished already (it has metrics.json); "
                         f"extend it with --num_epochs above {planned}")
    elif num_epochs < planned:
        parser.error(f"argument --num_epochs: --resume only extends a run; {run_dir} runs to {planned} epochs, got {num_epochs}")
    elif saved["lr_decay"] != 1.0:
        parser.error(f"argument --num_epochs: cannot extend a run with --lr_decay {saved['lr_decay']:g}: its learning rate "
                     f"schedule spans its {planned} epochs, so more epochs would change the ones it trained")


def check_m1_run(args, parser):
    """--m1_run names a finished VAE run whose sizes match this run's M1."""
    try:
        m1_cfg = json.loads((Path(args.m1_run) / "config.json").read_text())
    except (OSError, ValueError) as err:
        parser.error(f"argument --m1_run: no readable config.json in {args.m1_run!r} ({err})")
    if not (Path(args.m1_run) / "model.weights.h5").exists():
        parser.error(f"argument --m1_run: {args.m1_run!r} holds no model.weights.h5 (an unfinished run?)")
    m1_cfg = with_flag_defaults(m1_cfg)
    m1 = (m1_cfg["model"], m1_cfg["dim_z"], m1_cfg["n_hidden"], m1_cfg["activation"])
    if m1 != (M1_MODEL, args.m1_dim_z, args.n_hidden, args.activation):
        parser.error(f"argument --m1_run: need a {M1_MODEL} run with dim_z {args.m1_dim_z}, n_hidden {args.n_hidden} and "
                     f"activation {args.activation} (--m1_dim_z, --n_hidden, --activation), got model {m1[0]}, "
                     f"dim_z {m1[1]}, n_hidden {m1[2]}, activation {m1[3]}")


