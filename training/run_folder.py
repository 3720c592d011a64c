"""A training run in its run folder, as run_main.py, training.api.train and tools.tune start it, and a finished
run's model loaded for use: every step goes through runs.folder.RunFolder's checks and transitions."""
import shutil
from pathlib import Path

from runs import stops
from runs.checkpoint import CHECKPOINT
from runs.files import default_run_name
from runs.folder import RunFolder, plan_resume


class FolderError(ValueError):
    """The run folder cannot be made; the message names the flag and why."""


class Models:
    """What a run needs of the model families (training.families) and of TensorFlow, which load here; a test
    passes a stand-in with the same three functions."""

    def __init__(self):
        import tf_setup
        from training import families
        self.train_and_evaluate, self.build_model = families.train_and_evaluate, families.build_model
        self.device = tf_setup.device_line


def train_in_folder(args, announce=print, models=None):
    """Train and evaluate the run the checked flags describe in its folder; returns (run_dir, metrics).

    --resume reopens its folder under the lock and does what plan_resume finds: go on from the checkpoint, extend a
    finished run (committed with its first new epoch, put back on a stop before), or remake a finished run's weights
    and metrics.csv from its checkpoint; otherwise a new folder is made. An exception leaving here carries run_dir,
    removed (True if a new run failed before its first checkpoint and the folder it made is gone) and rolled_back
    (the epochs of a finished run whose extension stopped before its first new epoch, and is finished again)."""
    if args.resume:
        folder = RunFolder(args.resume).take()  # before TensorFlow: a second process is refused at once
        try:
            plan = plan_resume(folder, args.num_epochs, args.learn_rate)
            models = models or Models()
        except BaseException:
            folder.release()
            raise
    else:
        models = models or Models()  # TensorFlow loads before the folder is made: a Ctrl-C meanwhile leaves nothing
    with stops.ctrl_c_requests():  # from here a stop is a request, honoured where the folder is in a named state
        if not args.resume:
            folder = make_folder(args)
        try:
            return run(args, folder, plan if args.resume else None, models, announce)
        except BaseException as err:
            err.run_dir, err.rolled_back = folder.path, None
            if folder.extending:  # the extension never committed: the finished run is put back
                folder.roll_back()
                err.rolled_back = plan.epochs_done
            err.removed = not args.resume and not any(folder.path.rglob(CHECKPOINT))
            if err.removed:  # failed before its first checkpoint: the folder it made holds nothing to keep
                shutil.rmtree(folder.path, ignore_errors=True)
            if isinstance(err, OSError) and err.filename is None:  # a figure's writer does not name its file
                err.filename = f"a file in {folder.path}"
            raise
        finally:
            folder.release()


def run(args, folder, plan, models, announce):
    """What train_in_folder does once the folder is this process's: (run_dir, metrics)."""
    cfg = vars(args) | {"run_dir": str(folder.path)}
    announce(f"run folder: {folder.path}")
    announce(f"device: {models.device()}")
    if plan is not None and plan.kind == "repair":
        folder.repair(models.build_model(cfg), folder.checkpoint(required=True))
        return folder.path, folder.metrics()
    if plan is not None and plan.kind == "extend":
        folder.extend(plan.epochs_done, len(folder.checkpoint(required=True).position.rows))
    return folder.path, models.train_and_evaluate(cfg, folder)


def make_folder(args):
    """A new run folder for the checked flags, locked, with its config.json."""
    try:
        return RunFolder.create(args.results_path, args.run_name, default_run_name(args),
                                lambda path: vars(args) | {"run_dir": str(path)})
    except FileExistsError:
        raise FolderError(f"argument --run_name: {Path(args.results_path) / args.run_name} exists already; "
                          "choose another name (runs never overwrite each other)") from None
    except OSError as err:
        if err.filename and Path(err.filename).name == ".lock":
            raise
        raise FolderError(f"argument --results_path: cannot create a run folder in {args.results_path!r} "
                          f"({err.strerror})") from None

