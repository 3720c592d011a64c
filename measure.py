"""Measure the quality of finished run folders without retraining: python measure.py RUN_DIR [RUN_DIR ...]."""
import argparse
import json
import sys
from pathlib import Path

from classifier import CAS_N, ClassifierMissing, default_path
from config import FLAGS

LL_K = FLAGS["ll_k"][1]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="measure.py", description="Measure test log-likelihood, CVAE fidelity and denoising gain of finished runs; "
                                       "the numbers are merged into each run's metrics.json.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folder with config.json, model.weights.h5, metrics.json")
    parser.add_argument("--ll_k", type=int, default=LL_K,
                        help=f"importance samples K of the test log-likelihood; 5000 to compare with papers, 0 skips it (default: {LL_K})")
    parser.add_argument("--cas_n", type=int, default=CAS_N,
                        help=f"CVAE: generated images the CAS classifier trains on, 0 skips the CAS (default: {CAS_N})")
    parser.add_argument("--classifier", default=None, help=f"classifier weights (default: {default_path()})")
    parser.add_argument("--n_test", type=int, default=None, help="measure on the first N test images only, for smoke tests (default: all 10000)")
    parser.add_argument("--export", default=None, help="CVAE, one run: write the CAS's generated labelled set to this new .npz file")
    return parser


def check(args, parser):
    """One-line errors with exit status 2 before TensorFlow loads."""
    def error(message):
        parser.exit(2, f"{parser.prog}: error: {message}\n")
    if args.ll_k < 0 or args.cas_n < 0:
        error("--ll_k and --cas_n must be >= 0")
    if args.n_test is not None and not 0 < args.n_test <= 10_000:
        error(f"--n_test must lie in 1..10000, got {args.n_test}")
    for run_dir in map(Path, args.run_dirs):
        missing = [f for f in ("config.json", "model.weights.h5", "metrics.json") if not (run_dir / f).exists()]
        if missing:
            error(f"{run_dir} is not a finished run folder (no {', '.join(missing)})")
    if args.export and (len(args.run_dirs) > 1 or not args.export.endswith(".npz") or Path(args.export).exists()):
        error(f"--export needs one run folder and a new .npz file, got {args.export!r}")
    if args.export and (args.cas_n == 0 or json.loads((Path(args.run_dirs[0]) / "config.json").read_text())["model"] != "cvae"):
        error("--export writes the CAS's generated set: it needs a CVAE run and --cas_n > 0")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check(args, parser)
    from quality import evaluate_run  # TensorFlow loads only once the arguments are known to be good
    for run_dir in args.run_dirs:
        print(f"== {run_dir}", flush=True)
        try:
            evaluate_run(run_dir, args.ll_k, args.cas_n, args.classifier, args.export, args.n_test)
        except ClassifierMissing as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
