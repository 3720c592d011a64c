"""Train a VAE, CVAE, M2 or M1+M2 on MNIST: parse and check the flags, make the run folder, train and evaluate."""
import signal
import sys
from pathlib import Path

from report.files import create_run_dir, default_run_name, write_json
from training.flags import MODELS, build_parser, parse_args

NON_FINITE = 3  # exit status: a loss went nan or inf (README, exit statuses)


def main(argv=None):
    args = parse_args(argv)
    if args.quality and MODELS[args.model].conditioned:
        from evaluation.classifier import default_path
        if not default_path().exists():  # found out now, not after the training
            build_parser().error(f"argument --quality: no MNIST classifier at {default_path()}; "
                                 "make one with 'python -m tools.classifier' (a few minutes on a CPU)")
    if args.restore:
        return restore_main(args)
    if args.resume:
        run_dir = Path(args.resume)  # its config.json stays as written when the run began
        cfg = vars(args) | {"run_dir": str(run_dir)}
    else:
        try:
            run_dir = create_run_dir(args.results_path, args.run_name, default_run_name(args))
        except FileExistsError:
            build_parser().error(f"argument --run_name: {args.results_path}/{args.run_name} exists already; "
                                 "choose another name (runs never overwrite each other)")
        except OSError as err:
            build_parser().error(f"argument --results_path: cannot create a run folder in {args.results_path!r} ({err.strerror})")
        cfg = vars(args) | {"run_dir": str(run_dir)}
        write_json(run_dir / "config.json", cfg)
    print(f"run folder: {run_dir}", flush=True)

    from data.mnist import MNISTError
    from training.families import train_and_evaluate  # TensorFlow loads only once the flags are known to be good
    from training.loop import NonFinite
    try:
        metrics = train_and_evaluate(cfg, run_dir)
    except MNISTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except NonFinite as err:
        print(f"error: {err}", file=sys.stderr)
        return NON_FINITE
    except KeyboardInterrupt as stopped:  # training.checkpoint.Stopped after Ctrl-C or SIGTERM; a second Ctrl-C at once
        print(f"\ninterrupted; the last checkpoint is in {run_dir}; continue with: "
              f"python run_main.py --resume {run_dir}", file=sys.stderr)
        return 128 + getattr(stopped, "signum", signal.SIGINT)  # the shell's convention: 130 Ctrl-C, 143 SIGTERM
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}%")
    if "best_valid_epoch" in metrics:
        print(f"lowest validation error {metrics['valid_error_at_best']:.2f}% at epoch {metrics['best_valid_epoch']}, "
              f"where the test error was {metrics['test_error_at_best']:.2f}%")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats after {metrics['epochs']} epochs; "
          f"results in {run_dir}")
    if cfg["quality"]:
        from tools.measure import evaluate_run
        evaluate_run(run_dir, ll_k=cfg["ll_k"])
    return 0


def restore_main(args):
    """--restore: remake a finished run's figures and test metrics in a new folder inside its run folder."""
    from tools.restore import restore, restore_dir_name
    run_dir = Path(args.restore)
    out_dir = create_run_dir(run_dir, None, restore_dir_name())
    cfg = vars(args) | {"run_dir": str(out_dir)}
    write_json(out_dir / "config.json", cfg)
    metrics = restore(cfg, run_dir, out_dir)
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}% (restored)")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats (restored, no training); results in {out_dir}")
    if args.quality:  # measured on the run folder's own model, into its metrics.json
        from tools.measure import evaluate_run
        evaluate_run(run_dir, ll_k=args.ll_k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
