"""Train a VAE, CVAE, M2 or M1+M2 on MNIST: parse and check the flags, make the run folder, train and evaluate."""
from runs import stops

if __name__ == "__main__":  # first: a Ctrl-C while the modules below load must not be lost in one of their finalizers
    stops.keep_interrupts()

import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from data.mnist import MNISTError  # noqa: E402
from runs.checkpoint import NonFinite  # noqa: E402
from runs.errors import status_and_line  # noqa: E402
from runs.files import restore_dir_name  # noqa: E402
from runs.folder import RunFolder, parse_run_args  # noqa: E402
from training.flags import MODELS, build_parser  # noqa: E402
from training.run_folder import FolderError, train_in_folder  # noqa: E402

NON_FINITE = 3  # exit status: a loss went nan or inf (README, exit statuses)


def main(argv=None):
    """Run the command; every failure it expects ends in one line on stderr and its exit status."""
    stops.keep_interrupts()
    with stops.sigterm_interrupts():  # SIGTERM before training (TensorFlow importing) ends as Ctrl-C does
        try:
            return run_command(argv)
        except KeyboardInterrupt as err:  # Stopped after Ctrl-C or SIGTERM; a second Ctrl-C at once
            print(f"\n{interrupted(err)}", file=sys.stderr)
            return stops.exit_status(err)
        except NonFinite as err:
            print(f"error: {err}{rolled_back(err)}", file=sys.stderr)
            return NON_FINITE
        except MNISTError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except Exception as err:
            known = status_and_line(err)
            if known is None:
                raise
            print(known[1], file=sys.stderr)
            return known[0]


def interrupted(err):
    """The line after Ctrl-C or SIGTERM: what was kept, and how to go on."""
    run_dir = getattr(err, "run_dir", None)
    if run_dir is None:
        return "interrupted before training began; nothing was saved"
    if getattr(err, "measuring", False):
        return f"interrupted while measuring; {run_dir} is finished and its metrics.json as it was"
    if getattr(err, "restore_dir", None):
        return f"interrupted; {err.restore_dir} is removed and {run_dir} is as it was"
    if err.removed:
        return f"interrupted before the first checkpoint; {run_dir} is removed"
    if err.rolled_back:
        return (f"interrupted before the extension's first new epoch ended; {run_dir} is as it was, finished at "
                f"{err.rolled_back} epochs (extend it again with --resume {run_dir} --num_epochs N)")
    return f"interrupted; the last checkpoint is in {run_dir}; continue with: python run_main.py --resume {run_dir}"


def rolled_back(err):
    if getattr(err, "rolled_back", None):
        return (f"; the extension is undone and {err.run_dir} is finished as it was, at {err.rolled_back} epochs "
                f"(extend it at a lower rate: --resume {err.run_dir} --num_epochs N --learn_rate RATE)")
    return ""


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
        quality(run_dir, args.ll_k)
    return 0


def quality(run_dir, ll_k):
    """--quality: tools.measure on the finished run, holding its lock; a stop leaves its metrics.json as it was."""
    from tools.measure import evaluate_run
    try:
        evaluate_run(run_dir, ll_k=ll_k)
    except KeyboardInterrupt as err:
        err.run_dir, err.measuring = run_dir, True
        raise


def restore_main(args):
    """--restore: remake a finished run's figures and test metrics in a new folder inside its run folder. The run is
    only read (each file against one manifest), so it is left as it is."""
    run = Path(args.restore)
    try:
        out = RunFolder.create(run, None, restore_dir_name(), lambda path: vars(args) | {"run_dir": str(path)})
    except OSError as err:
        build_parser().error(f"argument --restore: cannot make a folder in {run} ({err.strerror}); "
                             "copy the run folder somewhere writable and restore the copy")
    try:
        from tools.restore import restore  # TensorFlow loads here
        metrics = restore(vars(args) | {"run_dir": str(out.path)}, run, out.path)
    except BaseException as err:
        shutil.rmtree(out.path, ignore_errors=True)  # its own folder only: no half-made restore_* is left behind
        err.run_dir, err.restore_dir = run, out.path
        raise
    finally:
        out.release()
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}% (restored)")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats (restored, no training); results in {out.path}")
    if args.quality:  # measured on the run folder's own model, into its metrics.json
        quality(run, args.ll_k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
