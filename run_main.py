"""Train a VAE or CVAE on MNIST: parse and check the flags, make the run folder, then train and evaluate."""
import sys

from config import parse_args, build_parser
from rundir import create_run_dir, default_run_name, write_json


def main(argv=None):
    args = parse_args(argv)
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
    from train import train_and_evaluate  # TensorFlow loads only once the flags are known to be good
    try:
        metrics = train_and_evaluate(cfg, run_dir)
    except MNISTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; partial results are in {run_dir}", file=sys.stderr)
        return 130
    if "test_error" in metrics:
        print(f"test classification error {metrics['test_error']:.2f}%")
    print(f"test negative ELBO {metrics['test_neg_elbo']:.2f} nats after {metrics['epochs']} epochs; "
          f"results in {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
