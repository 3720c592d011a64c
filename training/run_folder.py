"""A training run in its own folder, as run_main.py and training.api.train start it: made or reopened, locked
for its life, and removed again if it fails before its first checkpoint."""
import json
import shutil
from pathlib import Path

from runs.files import create_run_dir, default_run_name, lock_run_dir, write_json
from runs.checkpoint import CHECKPOINT, amend
from runs.folder import RunFolder


class FolderError(ValueError):
    """The run folder cannot be made; the message names the flag and why."""


def train_in_folder(args, announce=print):
    """Train and evaluate the run the checked flags describe in its folder; returns (run_dir, metrics).

    --resume reopens (and with a larger --num_epochs extends, with --learn_rate changes) its folder, otherwise a new folder is made. An
    exception leaving here carries run_dir and removed (True if the run failed before its first checkpoint and
    the folder it made is gone)."""
    if args.resume:
        run_dir = Path(args.resume)  # its config.json stays as written when the run began, but for an extension
        lock = lock_run_dir(run_dir)  # before TensorFlow: a second process is refused at once
        amend(run_dir, args.num_epochs, args.learn_rate)  # an extension, or a new rate (after a loss went nan, say)
    from training.families import rebuild_weights, train_and_evaluate  # TensorFlow loads once the flags are good
    if not args.resume:
        try:
            run_dir = create_run_dir(args.results_path, args.run_name, default_run_name(args))
        except FileExistsError:
            raise FolderError(f"argument --run_name: {args.results_path}/{args.run_name} exists already; "
                              "choose another name (runs never overwrite each other)") from None
        except OSError as err:
            raise FolderError(f"argument --results_path: cannot create a run folder in {args.results_path!r} "
                              f"({err.strerror})") from None
        lock = lock_run_dir(run_dir)
    cfg = vars(args) | {"run_dir": str(run_dir)}
    try:
        if not args.resume:
            write_json(run_dir / "config.json", cfg)
        announce(f"run folder: {run_dir}")
        if args.resume and (run_dir / "metrics.json").exists():  # a finished run resumed: its weights were damaged
            rebuild_weights(cfg, run_dir)
            return run_dir, json.loads((run_dir / "metrics.json").read_text())
        return run_dir, train_and_evaluate(cfg, RunFolder(run_dir))
    except BaseException as err:
        err.run_dir, err.removed = run_dir, not args.resume and not any(run_dir.rglob(CHECKPOINT))
        if err.removed:  # failed before its first checkpoint: the folder it made holds nothing to keep
            shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(err, OSError) and err.filename is None:  # a figure's writer does not name its file
            err.filename = f"a file in {run_dir}"
        raise
    finally:
        lock.close()
