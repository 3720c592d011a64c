"""Collect the metrics.json of many run folders into one CSV and one Markdown table, sorted by any metric or flag.

Usage: python -m tools.summarize results/sweep --out results/sweep/summary --sort test_nll_k100 --curves curves.png
Each argument is a run folder or a folder of run folders; the run's key settings come from its config.json, and
--columns and --sort take any flag of config.json as well as any metric.
"""
import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

SETTINGS = ("model", "dim_z", "n_hidden", "num_epochs", "binarize", "add_noise", "seed")  # columns from config.json


def find_runs(paths):
    """Run folders (those holding a metrics.json) among paths and their immediate subfolders, sorted."""
    runs = set()
    for path in map(Path, paths):
        if (path / "metrics.json").is_file():
            runs.add(path)
        elif path.is_dir():
            runs.update(p.parent for p in path.glob("*/metrics.json"))
    return sorted(runs)


def scalars(entries):
    """The entries that fit in one table cell: numbers and text (booleans of config.json included)."""
    return {k: v for k, v in entries.items() if isinstance(v, (int, float, str))}


def run_row(run_dir):
    """One table row: the run's name, its key settings, every scalar metric, then the rest of its config.json (a
    metric wins a name both have: n_train counts the images trained on, without the validation ones)."""
    cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    row = {"run": run_dir.name}
    row |= {k: cfg.get(k, "none" if k == "binarize" else "") for k in SETTINGS}
    row |= {k: v for k, v in scalars(metrics).items() if not isinstance(v, bool)}
    return row, {k: v for k, v in scalars(cfg).items() if k not in row}


def read_rows(runs):
    """run_row of the runs whose files read, and those runs; a damaged one is skipped with a warning line on stderr."""
    read = []
    for run in runs:
        try:
            read.append((run, *run_row(run)))
        except (OSError, ValueError, AttributeError) as err:  # AttributeError: a JSON file that holds no object
            print(f"warning: skipping {run}: unreadable config.json or metrics.json ({err})", file=sys.stderr)
    return [r[0] for r in read], [r[1] for r in read], [r[2] for r in read]


def has_value(value):
    """A cell that ranks: a finite number or a non-empty text; missing, NaN and infinite values rank last."""
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return value not in ("", None)


def sort_rows(rows, key, descending=False):
    """Rows sorted by one column, numbers before text; rows without a finite value go last whichever the direction."""
    have = [r for r in rows if has_value(r.get(key))]
    missing = [r for r in rows if not has_value(r.get(key))]
    numbers = sorted((r for r in have if not isinstance(r[key], str)), key=lambda r: r[key], reverse=descending)
    texts = sorted((r for r in have if isinstance(r[key], str)), key=lambda r: r[key], reverse=descending)
    return numbers + texts + missing


def columns(rows):
    """The run, the settings, then the other keys in first-seen order."""
    cols = ["run", *SETTINGS]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def write_curves(runs, path):
    """One figure of the runs' test -ELBO per epoch (solid) and validation -ELBO (dashed, where the run has one)."""
    from plot_utils import plt, save_figure  # matplotlib loads only for --curves
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for i, run in enumerate(runs):
        try:
            table = list(csv.DictReader((run / "metrics.csv").open()))
            epochs, test = [int(r["epoch"]) for r in table], [float(r["test_loss"]) for r in table]
        except (OSError, KeyError, ValueError) as err:
            print(f"warning: no curve for {run}: unreadable metrics.csv ({err})", file=sys.stderr)
            continue
        colour = f"C{i % 10}"
        ax.plot(epochs, test, "-", color=colour, label=f"{run.name} test")
        if table and "valid_loss" in table[0]:
            ax.plot(epochs, [float(r["valid_loss"]) for r in table], "--", color=colour, label=f"{run.name} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative ELBO, nats per image")
    ax.set_title("learning curves: test (solid) and validation (dashed) -ELBO")
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def fmt(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def to_csv(rows, cols):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_markdown(rows, cols):
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.summarize", description="One CSV and one Markdown table of many runs' metrics.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folders, or folders holding run folders")
    parser.add_argument("--sort", default="test_neg_elbo",
                        help="metric or config.json flag to sort by; runs without a finite value last (default: test_neg_elbo)")
    parser.add_argument("--descending", action="store_true", help="largest first (for accuracies, PSNR, SSIM)")
    parser.add_argument("--columns", default=None,
                        help="comma-separated metrics or config.json flags to show, after 'run' (default: the key "
                             "settings and every metric)")
    parser.add_argument("--out", default=None, help="write OUT.csv and OUT.md (new files only); without it, print the Markdown table")
    parser.add_argument("--curves", default=None, metavar="OUT.png",
                        help="also draw the runs' test and validation -ELBO per epoch in one figure (a new file)")
    args = parser.parse_args(argv)

    def fail(message):
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    runs = find_runs(args.paths)
    if not runs:
        fail(f"no run folder with a metrics.json in {' '.join(args.paths)}")
    runs, rows, flags = read_rows(runs)
    if not rows:
        fail("no run folder with a readable metrics.json")
    cols = columns(rows)  # what the table shows by default; every flag of config.json may be asked for as well
    rows = [row | extra for row, extra in zip(rows, flags)]
    every = columns(rows)
    if args.sort not in every:
        fail(f"--sort {args.sort!r} is not a column; the columns are: {', '.join(every)}")
    if args.columns:
        wanted = args.columns.split(",")
        unknown = [c for c in wanted if c not in every]
        if unknown:
            fail(f"--columns: no column {', '.join(unknown)}; the columns are: {', '.join(every)}")
        cols = ["run", *[c for c in wanted if c != "run"]]
    order = {id(row): run for row, run in zip(rows, runs)}
    rows = sort_rows(rows, args.sort, args.descending)
    targets = [Path(f"{args.out}.csv"), Path(f"{args.out}.md")] if args.out else []
    targets += [Path(args.curves)] if args.curves else []
    taken = [str(p) for p in targets if p.exists()]
    if taken:
        fail(f"{', '.join(taken)} exists already; choose another --out or --curves")
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(f"cannot create the folder of {target} ({err.strerror})")
    if args.curves:
        write_curves([order[id(row)] for row in rows], args.curves)
        print(f"learning curves of {len(rows)} runs: {args.curves}")
    if args.out is None:
        sys.stdout.write(to_markdown(rows, cols))
        return 0
    targets[0].write_text(to_csv(rows, cols))
    targets[1].write_text(to_markdown(rows, cols))
    print(f"{len(rows)} runs sorted by {args.sort}: {targets[0]}, {targets[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
