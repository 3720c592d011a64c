"""Benchmark: test error of M2 and M1+M2 with few labels, beside Table 1 of Kingma et al. 2014.

'nn' is the paper's NN baseline: M2's classifier MLP trained on the labelled images alone, in this process.
For m2 and m1m2 it runs run_main.py once per (model, n_labeled), niced, each in its own folder under --out, training M1 once
(a '--model vae' run) and handing it to every M1+M2 run with --m1_run. Prints a Markdown table with the test
error each run reached, its epochs and wall time, and writes it to <out>/table.md. Example (what docs/semi-supervised.md reports):

    python benchmarks/semisup_table1.py --out results/bench_semisup --n_labeled 100 --num_epochs 10
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from data.mnist import N_TRAIN_IMAGES  # noqa: E402
from training.flags import M1_TRAINING, with_flag_defaults  # noqa: E402  (no TensorFlow: the flags load before it)
PAPER = {  # Kingma et al. 2014, Table 1: test error in % on MNIST
    "nn": {100: 25.80, 600: 11.44, 1000: 10.70, 3000: 6.04},
    "m2": {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92},
    "m1m2": {100: 3.33, 600: 2.59, 1000: 2.40, 3000: 2.18},
}


def authors_m2_hidden(n_labeled):
    """Units of the one hidden layer of M2's MLPs in the authors' run script (nips14-ssl, run_2layer_ssl.py)."""
    return 300 if n_labeled == 100 else 500


def label_weight_alpha(weight, n_labeled, n_train=N_TRAIN_IMAGES):
    """The --alpha (a multiple of N, as the paper's 0.1) at which each of n_labeled labelled images weighs `weight`
    in the classification term: alpha N / n_labeled = weight. The paper's 0.1 gives 60 per image with 100 labels
    but 2 with 3000; a fixed weight keeps the labels' pull the same at every label count."""
    return weight * n_labeled / n_train


def error_cell(metrics):
    """The test-error cell of a run's row: the last epoch's error and, with --n_valid in --extra, the error at the
    epoch of lowest validation error (where one would stop without looking at the test set)."""
    if not metrics:
        return "failed"
    cell = f"{metrics['test_error']:.2f}"
    if "best_valid_epoch" in metrics:
        cell += f" ({metrics['test_error_at_best']:.2f} at epoch {metrics['best_valid_epoch']}, lowest validation error)"
    return cell


def run(out, name, args, limit_s):
    """One niced run_main.py run in out/name; its metrics.json, or None if it failed or ran out of time."""
    flags = [*args, "--results_path", str(out), "--run_name", name, "--PRR", "False"]
    cmd = ["nice", "-n", "10", sys.executable, str(ROOT / "run_main.py"), *flags]
    shown = "python run_main.py " + " ".join(flags)
    print("$", shown, flush=True)
    start = time.time()
    try:
        with open(out / f"{name}.log", "w") as log:
            code = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=limit_s).returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    wall = time.time() - start
    metrics_file = out / name / "metrics.json"
    if code != 0 or not metrics_file.exists():
        print(f"  {name}: failed ({code}) after {wall:.0f}s; see {out / name}.log", flush=True)
        return None
    return json.loads(metrics_file.read_text()) | {"bench_wall_s": wall, "cmd": shown}


def nn_data(a, m1_run=None):
    """What the NN baseline classifies: (name, x_train, y_train, x_test, y_test), the pixels, or with m1_run
    that M1's active latent means (what M2 of M1+M2 sees)."""
    from data.prepare import load_run_data
    from training.family_m2 import active_units, m1_posterior
    data = load_run_data(with_flag_defaults({"n_train": N_TRAIN_IMAGES, "seed": a.seed, "dim_z": 2}))
    if m1_run is None:
        return "nn", data.x_train, data.y_train, data.x_test, data.y_test
    from training.families import load_trained_model
    _, m1 = load_trained_model(m1_run)
    z_train, z_test = m1_posterior(m1, data.x_train)[0], m1_posterior(m1, data.x_test)[0]
    keep = active_units(z_train) > 0
    return "nn on M1", z_train[:, keep], data.y_train, z_test[:, keep], data.y_test


def nn_row(n_labeled, a, nn, m1_run=None):
    """The table row of the NN baseline on nn = nn_data(a, m1_run) with n_labeled labels, trained here (seconds)."""
    import numpy as np
    from m2.labels import balanced_labelled_indices
    from training.family_m2 import supervised_baseline_error
    name, x_train, y_train, x_test, y_test = nn
    idx = balanced_labelled_indices(np.argmax(y_train, 1), n_labeled, a.seed)
    start = time.time()
    error = supervised_baseline_error(x_train[idx], y_train[idx], x_test, y_test, a.n_hidden, a.nn_steps, a.seed,
                                      a.batch_size)
    paper = PAPER["nn"][n_labeled] if m1_run is None else "-"
    return (f"| {name} | {n_labeled} | {error:.2f} | {paper} | {a.nn_steps} steps | {time.time() - start:.0f} | "
            f"`training.family_m2.supervised_baseline_error`, --n_hidden {a.n_hidden}{f', M1 {m1_run}' if m1_run else ''} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="new folder for the runs and table.md")
    p.add_argument("--models", nargs="+", default=["nn", "m2", "m1m2"], choices=["nn", "m2", "m1m2"])
    p.add_argument("--nn_steps", type=int, default=2000, help="nn: Adam steps on the labelled images")
    p.add_argument("--n_labeled", nargs="+", type=int, default=[100, 600, 1000, 3000])
    p.add_argument("--num_epochs", type=int, default=10, help="epochs of M2 in each run")
    p.add_argument("--m1_epochs", type=int, default=30, help="epochs of the shared M1 (with training.flags.M1_TRAINING's optimiser, as an m1m2 run trains its own)")
    p.add_argument("--dim_z", type=int, default=50)
    p.add_argument("--m1_dim_z", type=int, default=50)
    p.add_argument("--n_hidden", type=int, default=256)
    p.add_argument("--batch_size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--extra", default="", help="more run_main.py flags for the M2 and M1+M2 runs, e.g. '--alpha 1'")
    p.add_argument("--authors_hidden", action="store_true",
                   help="give M2 the authors' MLPs: --m2_hidden 300 with 100 labels, 500 with more")
    p.add_argument("--label_weight", type=float, default=None,
                   help=f"m2, m1m2: pass --alpha W*n_labeled/{N_TRAIN_IMAGES} for each label count, so that each labelled image "
                        "weighs W in the classification term at every count (the paper's alpha 0.1: W = 60 at 100)")
    p.add_argument("--m1_run", default=None, help="reuse this finished vae run as M1 instead of training one (nn: a row on its latent means too)")
    p.add_argument("--limit_s", type=int, default=1500, help="wall-clock limit of each run in seconds")
    a = p.parse_args()
    if a.label_weight is not None and "--alpha" in a.extra.split():
        p.error("give --label_weight or an --alpha in --extra, not both")
    a.out.mkdir(parents=True)
    shared = ["--n_hidden", str(a.n_hidden), "--seed", str(a.seed)]
    common = [*shared, "--batch_size", str(a.batch_size)]
    m1_run = a.m1_run
    if "m1m2" in a.models and m1_run is None:  # (nn with --m1_run also classifies that M1's latent means)
        m1_training = [arg for k, v in M1_TRAINING.items() for arg in (f"--{k}", str(v))]
        m1 = run(a.out, "m1", ["--model", "vae", "--dim_z", str(a.m1_dim_z), "--num_epochs", str(a.m1_epochs), *shared,
                               *m1_training], a.limit_s)
        m1_run = str(a.out / "m1") if m1 else None
        if m1:
            print(f"  M1: test -elbo {m1['test_neg_elbo']:.2f} after {m1['epochs']} epochs, {m1['bench_wall_s']:.0f}s")
    nn = None
    rows = ["| model | labels | test error % | paper % | epochs | wall s | command |", "|---|---|---|---|---|---|---|"]
    for model in a.models:
        for n in a.n_labeled:
            if model == "m1m2" and m1_run is None:
                continue
            if model == "nn":
                nn = nn or [nn_data(a)] + ([nn_data(a, m1_run)] if m1_run else [])  # loaded once for every n
                rows += [nn_row(n, a, nn[0])] + ([nn_row(n, a, nn[1], m1_run)] if m1_run else [])
                print("\n".join(rows[-2 if m1_run else -1:]), flush=True)
                continue
            args = ["--model", model, "--n_labeled", str(n), "--dim_z", str(a.dim_z), "--m1_dim_z", str(a.m1_dim_z),
                    "--num_epochs", str(a.num_epochs), *common, *a.extra.split()]
            args += ["--m1_run", m1_run] if model == "m1m2" else []
            args += ["--m2_hidden", str(authors_m2_hidden(n))] if a.authors_hidden else []
            args += ["--alpha", f"{label_weight_alpha(a.label_weight, n):g}"] if a.label_weight is not None else []
            m = run(a.out, f"{model}_n{n}", args, a.limit_s)
            error = error_cell(m)
            epochs, wall = (m["epochs"], f"{m['bench_wall_s']:.0f}") if m else ("-", "-")
            rows.append(f"| {model} | {n} | {error} | {PAPER[model].get(n, '-')} | {epochs} | {wall} | "
                        f"`{m['cmd'] if m else ' '.join(args)}` |")
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    (a.out / "table.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
