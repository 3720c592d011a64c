"""A screen for M1 candidates in seconds: how well a VAE's latent means separate the digits with a few labels.

    python benchmarks/m1_features.py results/benchmarks/m1_a results/benchmarks/m1_b --n_labeled 100 --seeds 0 1 2

For each finished '--model vae' run, M1+M2's features are computed as training/family_m2.py computes them: the latent means of
the grey training and test images, on M1's active units. Each seed picks the labelled images M1+M2 would use
(m2.labels.balanced_labelled_indices); the test images are classified by their nearest labelled image (1-NN),
Euclidean and cosine. The pixels are the reference row. An M1+M2 run takes an hour here; this takes seconds, but
it scores M1's latent space without M2 and is a coarse screen only: it rightly ranked the M1s trained 300 and
450 epochs below the 30- and 100-epoch ones, but ranked a 10-epoch M1 first, where M1+M2 on it was the slowest of
the grey-pixel M1s (docs/semi-supervised.md, "Measured against Table 1").
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402

from data.mnist import load_mnist  # noqa: E402
from data.prepare import prepare  # noqa: E402


def nearest_label_error(train_features, train_labels, test_features, test_labels, labelled, cosine=False):
    """Test error (%) of the 1-nearest-neighbour classifier whose references are the labelled training rows."""
    refs, ref_labels = train_features[labelled], train_labels[labelled]
    if cosine:
        refs = refs / np.linalg.norm(refs, axis=1, keepdims=True)
        test_features = test_features / np.linalg.norm(test_features, axis=1, keepdims=True)
    sq_dist = (np.sum(test_features ** 2, axis=1)[:, None] - 2.0 * test_features @ refs.T
               + np.sum(refs ** 2, axis=1)[None, :])
    return 100.0 * float(np.mean(ref_labels[np.argmin(sq_dist, axis=1)] != test_labels))


def screen(features, y_train, y_test, n_labeled, seeds):
    """{'euclid': [error per seed], 'cosine': [...]} for features = (train, test)."""
    from m2.labels import balanced_labelled_indices
    out = {"euclid": [], "cosine": []}
    for seed in seeds:
        labelled = balanced_labelled_indices(y_train, n_labeled, seed)
        for kind in out:
            out[kind].append(nearest_label_error(features[0], y_train, features[1], y_test, labelled,
                                                 cosine=kind == "cosine"))
    return out


def m1_features(run_dir, x_train, x_test):
    """The active-unit latent means of a vae run's model, (train, test), and its metrics.json."""
    from training.families import load_trained_model
    from training.family_m2 import active_units, m1_posterior
    cfg, model = load_trained_model(run_dir)
    if cfg["model"] != "vae":
        raise SystemExit(f"{run_dir}: a '--model vae' run is needed, got --model {cfg['model']}")
    mean_train, _ = m1_posterior(model, x_train)
    mean_test, _ = m1_posterior(model, x_test)
    keep = active_units(mean_train).astype(bool)
    return (mean_train[:, keep], mean_test[:, keep]), json.loads((Path(run_dir) / "metrics.json").read_text())


def row(name, active, neg_elbo, result):
    cells = [f"{statistics.mean(result[k]):.2f} ({', '.join(f'{e:.2f}' for e in result[k])})"
             for k in ("euclid", "cosine")]
    return f"| {name} | {active} | {neg_elbo} | {cells[0]} | {cells[1]} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="finished '--model vae' run folders")
    parser.add_argument("--n_labeled", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    x_train, _ = prepare(train_images, train_labels)
    x_test, _ = prepare(test_images, test_labels)
    y_train, y_test = train_labels.astype(np.int64), test_labels.astype(np.int64)
    print(f"1-NN test error % with {args.n_labeled} labelled images, mean (seeds {', '.join(map(str, args.seeds))})")
    print("| features | active units | test -ELBO | Euclidean | cosine |\n|---|---|---|---|---|")
    print(row("pixels", 784, "-", screen((x_train, x_test), y_train, y_test, args.n_labeled, args.seeds)), flush=True)
    for run in args.runs:
        features, metrics = m1_features(run, x_train, x_test)
        result = screen(features, y_train, y_test, args.n_labeled, args.seeds)
        print(row(run, features[0].shape[1], f"{metrics['test_neg_elbo']:.2f}", result), flush=True)


if __name__ == "__main__":
    main()
