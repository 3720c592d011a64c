"""Measure the quality of finished run folders without retraining: python -m tools.measure RUN_DIR [RUN_DIR ...].

evaluate_run(run_dir) loads the run's saved model, measures on the 10,000 test images, and merges the numbers
(and the settings that produced them) into the run's metrics.json.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from data.mnist import DATA_DIR, N_TEST_IMAGES, load_mnist
from evaluation.classifier import CAS_N, ClassifierMissing, default_path, load_classifier
from runs.checkpoint import Damaged, damaged_weights_message
from training.flags import FLAGS, MODELS

LL_K = FLAGS["ll_k"][1]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m tools.measure", description="Measure test log-likelihood, CVAE fidelity and denoising gain of finished runs; "
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
        if damaged_weights_message(run_dir):
            error(damaged_weights_message(run_dir))
    if args.export and (len(args.run_dirs) > 1 or not args.export.endswith(".npz") or Path(args.export).exists()):
        error(f"--export needs one run folder and a new .npz file, got {args.export!r}")
    if args.export and (args.cas_n == 0 or not MODELS[json.loads((Path(args.run_dirs[0]) / "config.json").read_text())["model"]].conditioned):
        error("--export writes the CAS's generated set: it needs a CVAE run and --cas_n > 0")


def evaluate_run(run_dir, ll_k, cas_n=CAS_N, classifier_path=None, export=None, n_test=None, log=print):
    """Measure a finished run's quality and merge the numbers into its metrics.json; returns the new metrics.

    ll_k = 0 skips the log-likelihood, cas_n = 0 the CAS. For a CVAE the classifier must exist
    (ClassifierMissing says how to make it); export writes the CAS's generated set as .npz.
    n_test measures on the first n_test test images only, for smoke tests; the default is all 10,000.
    """
    # TensorFlow loads only here, once the arguments are known to be good.
    from data.prepare import load_run_data, prepare
    from evaluation import quality
    from evaluation.classifier import EPOCHS as CLASSIFIER_EPOCHS, accuracy
    from runs.files import write_json
    from training.families import load_trained_model

    run_dir = Path(run_dir)
    cfg, model = load_trained_model(run_dir)
    conditional = model.n_classes > 0
    clf = load_classifier(classifier_path) if conditional else None  # fails here, before any long work
    data = load_run_data(cfg)
    data.x_test, data.y_test, data.x_test_in = data.x_test[:n_test], data.y_test[:n_test], data.x_test_in[:n_test]
    seed = cfg["seed"]
    metrics, settings = {}, {"binarize": cfg["binarize"], "seed": seed, "n_test": len(data.x_test)}

    start = time.time()
    if ll_k:
        metrics |= quality.log_likelihood_metrics(model, data, ll_k, seed)
        settings["ll_k"] = ll_k
        log(f"test log-likelihood (K = {ll_k}): -{metrics[f'test_nll_k{ll_k}']:.2f} nats "
            f"(negative ELBO {json.loads((run_dir / 'metrics.json').read_text())['test_neg_elbo']:.2f})  {time.time() - start:.0f}s")
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
            if export:
                quality.save_generated(export, images, labels)
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
    saved = json.loads((run_dir / "metrics.json").read_text())
    if len(data.x_test) < N_TEST_IMAGES:
        # A subset's numbers go under a key of their own: they never replace those measured on all test images.
        key = f"quality_first_{len(data.x_test)}_test_images"
        write_json(run_dir / "metrics.json", saved | {key: metrics | {"quality_settings": settings}})
        return metrics
    # An earlier evaluation's numbers stay (test_nll_k100 beside test_nll_k5000); its settings merge with these.
    metrics["quality_settings"] = saved.get("quality_settings", {}) | settings
    write_json(run_dir / "metrics.json", saved | metrics)
    return metrics


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check(args, parser)
    for run_dir in args.run_dirs:
        print(f"== {run_dir}", flush=True)
        try:
            evaluate_run(run_dir, args.ll_k, args.cas_n, args.classifier, args.export, args.n_test)
        except (ClassifierMissing, Damaged) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except OSError as err:  # a full disk or no permission; write_json named the file
            print(f"error: cannot write {err.filename or 'a file'}: {err.strerror or err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
