"""Train a VAE, CVAE, M2 or M1+M2 on MNIST: parse and check the flags, make the run folder, train and evaluate."""
import shutil
import signal
import sys
from pathlib import Path

from data.mnist import MNISTError
from runs.files import RunLocked, create_run_dir, restore_dir_name, write_json
from runs.checkpoint import Damaged, NonFinite
from runs.folder import parse_run_args
from training.flags import MODELS, build_parser
from training.run_folder import FolderError, train_in_folder

NON_FINITE = 3  # exit status: a loss went nan or inf (README, exit statuses)


def main(argv=None):
    """Run the command; every failure it expects ends in one line on stderr and its exit status."""
    try:
        return run_command(argv)
    except (RunLocked, Damaged) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a full disk or no permission: the writer named its file and removed its temporary one
        print(f"error: cannot write {err.filename or 'a file'}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before training began (TensorFlow importing): nothing to resume
        print("\ninterrupted before training began; nothing was saved", file=sys.stderr)
        return 128 + signal.SIGINT


def run_command(argv):
    args = parse_run_args(argv)
    if args.quality and MODELS[args.model].conditioned:
        from evaluation.classifier import default_path
        if not default_path().exists():  # found out now, not after the training
            build_parser().error(f"argument --quality: no MNIST classifier at {default_path()}; "
                                 "make one with 'python -m tools.classifier' (a few minutes on a CPU)")
    if args.restore:
        return restore_main(args)
    try:
        run_dir, metrics = train_in_folder(args, announce=lambda line: print(line, flush=True))
    except FolderError as err:
        build_parser().error(str(err))
    except (MNISTError, NonFinite) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1 if isinstance(err, MNISTError) else NON_FINITE
    except KeyboardInterrupt as err:  # Stopped after Ctrl-C or SIGTERM saved a checkpoint; a second Ctrl-C at once
        if not hasattr(err, "run_dir"):
            raise  # before the run folder was made: main says so
        print(f"\ninterrupted before the first checkpoint; {err.run_dir} is removed" if err.removed else
              f"\ninterrupted; the last checkpoint is in {err.run_dir}; continue with: "
              f"python run_main.py --resume {err.run_dir}", file=sys.stderr)
        return 128 + getattr(err, "signum", signal.SIGINT)  # the shell's convention: 130 Ctrl-C, 143 SIGTERM
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}%")
    if "valid_neg_elbo_at_best" in metrics:
        print(f"lowest validation negative ELBO {metrics['valid_neg_elbo_at_best']:.2f} at epoch "
              f"{metrics['best_valid_epoch']}, where the test negative ELBO was {metrics['test_neg_elbo_at_best']:.2f}")
    if "valid_error_at_best" in metrics:
        print(f"lowest validation error {metrics['valid_error_at_best']:.2f}% at epoch {metrics['best_valid_epoch']}, "
              f"where the test error was {metrics['test_error_at_best']:.2f}%")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats after {metrics['epochs']} epochs; "
          f"results in {run_dir}")
    if args.quality:
        from tools.measure import evaluate_run
        evaluate_run(run_dir, ll_k=args.ll_k)
    return 0


def restore_main(args):
    """--restore: remake a finished run's figures and test metrics in a new folder inside its run folder."""
    run_dir = Path(args.restore)
    try:
        out_dir = create_run_dir(run_dir, None, restore_dir_name())
    except OSError as err:
        build_parser().error(f"argument --restore: cannot make a folder in {run_dir} ({err.strerror}); "
                             "copy the run folder somewhere writable and restore the copy")
    cfg = vars(args) | {"run_dir": str(out_dir)}
    try:
        write_json(out_dir / "config.json", cfg)
        from tools.restore import restore  # TensorFlow loads here
        metrics = restore(cfg, run_dir, out_dir)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # its own folder only: no half-made restore_* is left behind
        raise
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}% (restored)")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats (restored, no training); results in {out_dir}")
    if args.quality:  # measured on the run folder's own model, into its metrics.json
        from tools.measure import evaluate_run
        evaluate_run(run_dir, ll_k=args.ll_k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
