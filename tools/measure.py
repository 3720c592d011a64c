"""Measure the quality of finished run folders without retraining: python -m tools.measure RUN_DIR [RUN_DIR ...].

evaluate_run(run_dir) holds the run's lock, loads its checked model, measures on the 10,000 test images, and merges
the numbers (and the settings that produced them) into the run's metrics.json as one of the folder's transitions.
"""
import sys
import time
from pathlib import Path

from data.mnist import DATA_DIR, N_TEST_IMAGES, load_mnist
from evaluation.classifier import CAS_N, ClassifierMissing, default_path, load_classifier
from runs.errors import RunError
from runs.files import write_new
from runs.folder import RunFolder
from tools.cli import check_bounds, run_tool
from training.flags import MODELS, Parser, with_flag_defaults

LL_K = with_flag_defaults({})["ll_k"]
PROG = "python -m tools.measure"
BOUNDS = {"ll_k": (0, 100_000), "cas_n": (0, 100_000), "n_test": (1, N_TEST_IMAGES)}


def build_parser():
    parser = Parser(prog=PROG, description="Measure test log-likelihood, CVAE fidelity and denoising gain of finished "
                                           "runs; the numbers are merged into each run's metrics.json.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folder with config.json, model.weights.h5, metrics.json")
    parser.add_argument("--ll_k", type=int, default=LL_K,
                        help=f"importance samples K of the test log-likelihood, 0 to {BOUNDS['ll_k'][1]}; 5000 to "
                             f"compare with papers, 0 skips it (default: {LL_K})")
    parser.add_argument("--cas_n", type=int, default=CAS_N,
                        help=f"CVAE: generated images the CAS classifier trains on, 0 to {BOUNDS['cas_n'][1]}; 0 skips "
                             f"the CAS (default: {CAS_N})")
    parser.add_argument("--classifier", default=None, help=f"classifier weights (default: {default_path()})")
    parser.add_argument("--n_test", type=int, default=None, help="measure on the first N test images only, for smoke tests (default: all 10000)")
    parser.add_argument("--export", default=None, help="CVAE, one run: write the CAS's generated labelled set to this new .npz file")
    return parser


def check(args, parser):
    """One-line errors with exit status 2 before TensorFlow loads: bounds, and each run folder finished and whole."""
    check_bounds(parser, args, BOUNDS)
    for run_dir in args.run_dirs:
        folder = RunFolder(run_dir)
        try:
            folder.expect("finished")
            for problem in map(folder.problem, ("config.json", "metrics.json", "model.weights.h5")):
                if problem:
                    raise RunError(problem)
        except RunError as err:
            parser.error(str(err))
    if args.export:
        export = Path(args.export)
        if len(args.run_dirs) > 1 or export.suffix != ".npz" or export.exists() or export.is_symlink():
            parser.error(f"--export needs one run folder and a new .npz file, got {args.export!r}")
        if not export.parent.is_dir():
            parser.error(f"--export: {export.parent} is not a folder")
        model = RunFolder(args.run_dirs[0]).config()["model"]
        if args.cas_n == 0 or not MODELS[model].conditioned:
            parser.error("--export writes the CAS's generated set: it needs a CVAE run and --cas_n > 0")


def evaluate_run(run_dir, ll_k, cas_n=CAS_N, classifier_path=None, export=None, n_test=None, log=print):
    """Measure a finished run's quality and merge the numbers into its metrics.json; returns the new metrics.

    ll_k = 0 skips the log-likelihood, cas_n = 0 the CAS. For a CVAE the classifier must exist
    (ClassifierMissing says how to make it); export writes the CAS's generated set as a new .npz.
    n_test measures on the first n_test test images only, for smoke tests; the default is all 10,000.
    The run's lock is held throughout: no extension or second measure changes the run meanwhile.
    """
    with RunFolder(run_dir).locked() as folder:
        # TensorFlow loads only here, once the arguments are known to be good and the run is this process's.
        import numpy as np

        from data.prepare import load_run_data, prepare
        from evaluation import quality
        from evaluation.classifier import EPOCHS as CLASSIFIER_EPOCHS, accuracy
        from training.families import load_trained_model

        cfg, model = load_trained_model(folder)
        before = folder.metrics()
        conditional = model.n_classes > 0
        clf = checked_classifier(classifier_path) if conditional else None  # fails here, before any long work
        data = load_run_data(cfg)
        data.x_test, data.y_test, data.x_test_in = data.x_test[:n_test], data.y_test[:n_test], data.x_test_in[:n_test]
        seed = cfg["seed"]
        metrics, settings = {}, {"binarize": cfg["binarize"], "seed": seed, "n_test": len(data.x_test)}

        start = time.time()
        if ll_k:
            metrics |= quality.log_likelihood_metrics(model, data, ll_k, seed)
            settings["ll_k"] = ll_k
            log(f"test log-likelihood (K = {ll_k}): -{metrics[f'test_nll_k{ll_k}']:.2f} nats "
                f"(negative ELBO {before['test_neg_elbo']:.2f})  {time.time() - start:.0f}s")
        if conditional:
            (_, _), (test_images, test_labels) = load_mnist(cfg["data_dir"] or DATA_DIR)
            test_images, test_labels = test_images[:n_test], test_labels[:n_test]
            x_real, _ = prepare(test_images, test_labels)  # the real grey-level test set, whatever the run trained on
            metrics["classifier_test_acc"] = accuracy(clf, x_real, test_labels)
            metrics["cond_acc_prior"] = quality.conditional_accuracy(model, clf, seed)
            metrics["cond_acc_transfer"] = quality.style_transfer_accuracy(model, clf, data.x_test, data.y_test)
            settings |= {"classifier": str(classifier_path or default_path()), "per_label": quality.PER_LABEL}
            log(f"conditional accuracy: prior samples {metrics['cond_acc_prior']:.4f}, style transfer "
                f"{metrics['cond_acc_transfer']:.4f} (classifier {metrics['classifier_test_acc']:.4f} on real test images)")
            if cas_n:
                images, labels = quality.generated_set(model, cas_n, seed)
                if export:  # whole or not at all, never over an existing file
                    write_new(export, lambda f: np.savez_compressed(f, x=images, y=labels))
                    log(f"generated labelled set: {export}")
                metrics["cas_acc"] = quality.classification_accuracy_score(images, labels, x_real, test_labels, seed)
                settings |= {"cas_n": cas_n, "cas_epochs": CLASSIFIER_EPOCHS}
                log(f"classification accuracy score (CAS, {cas_n} generated images): {metrics['cas_acc']:.4f}")
        metrics |= quality.denoise_metrics(model, data, seed)
        settings["denoise_levels"] = list(quality.DENOISE_LEVELS)
        log("denoising PSNR (model / 3x3 median / noisy): " + ", ".join(
            f"{p}: {metrics[f'denoise_psnr_{p}']:.2f} / {metrics[f'median_psnr_{p}']:.2f} / {metrics[f'noisy_psnr_{p}']:.2f}"
            for p in quality.DENOISE_LEVELS))
        log("as switching filters, restoring only 0 and 1 pixels (model / median): " + ", ".join(
            f"{p}: {metrics[f'switch_denoise_psnr_{p}']:.2f} / {metrics[f'switch_median_psnr_{p}']:.2f}"
            for p in quality.DENOISE_LEVELS))
        metrics["quality_seconds"] = round(time.time() - start, 1)
        folder.update_metrics(lambda saved: merged(saved, metrics, settings, len(data.x_test)))
    return metrics


def merged(saved, metrics, settings, n_test):
    """metrics.json with a measurement merged in: a subset's numbers under a key of their own (they never replace
    those of all test images); an earlier evaluation's numbers stay (test_nll_k100 beside test_nll_k5000), its
    settings merged with these."""
    if n_test < N_TEST_IMAGES:
        return saved | {f"quality_first_{n_test}_test_images": metrics | {"quality_settings": settings}}
    metrics["quality_settings"] = saved.get("quality_settings", {}) | settings
    return saved | metrics


def checked_classifier(path):
    """The scoring classifier, or ClassifierMissing saying how to make it (a file that does not load included)."""
    try:
        return load_classifier(path)  # ClassifierMissing if there is none
    except (OSError, ValueError) as err:
        raise ClassifierMissing(f"the MNIST classifier at {path or default_path()} does not load "
                                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); make it again with "
                                "'python -m tools.classifier --force'") from None


def measure_all(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    check(args, parser)
    for run_dir in args.run_dirs:
        print(f"== {run_dir}", flush=True)
        evaluate_run(run_dir, args.ll_k, args.cas_n, args.classifier, args.export, args.n_test)
    return 0


def main(argv=None):
    return run_tool(measure_all, argv, PROG, interrupted="the run being measured keeps its metrics.json as it was",
                    expected=(ClassifierMissing,))


if __name__ == "__main__":
    sys.exit(main())
