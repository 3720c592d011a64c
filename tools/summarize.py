"""Collect the metrics.json of many run folders into one CSV and one Markdown table, sorted by any metric.

Usage: python -m tools.summarize results/sweep --out results/sweep/summary --sort test_nll_k100
Each argument is a run folder or a folder of run folders; the run's key settings come from its config.json.
"""
import argparse
import csv
import io
import json
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


def run_row(run_dir):
    """One table row: the run's name, its key settings, and every scalar metric."""
    cfg = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    row = {"run": run_dir.name}
    row |= {k: cfg.get(k, "none" if k == "binarize" else "") for k in SETTINGS}
    row |= {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return row


def sort_rows(rows, key, descending=False):
    """Rows sorted by one column; rows without it go last whichever the direction."""
    have = [r for r in rows if r.get(key, "") != ""]
    missing = [r for r in rows if r.get(key, "") == ""]
    return sorted(have, key=lambda r: r[key], reverse=descending) + missing


def columns(rows):
    """The run, the settings, then the metrics in first-seen order."""
    cols = ["run", *SETTINGS]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def fmt(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def to_csv(rows, cols):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols, restval="", lineterminator="\n")
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
    parser.add_argument("--sort", default="test_neg_elbo", help="metric or setting to sort by (default: test_neg_elbo)")
    parser.add_argument("--descending", action="store_true", help="largest first (for accuracies, PSNR, SSIM)")
    parser.add_argument("--columns", default=None, help="comma-separated columns to keep, after 'run' (default: all)")
    parser.add_argument("--out", default=None, help="write OUT.csv and OUT.md (new files only); without it, print the Markdown table")
    args = parser.parse_args(argv)
    runs = find_runs(args.paths)
    if not runs:
        parser.exit(2, f"{parser.prog}: error: no run folder with a metrics.json in {' '.join(args.paths)}\n")
    rows = [run_row(r) for r in runs]
    cols = columns(rows)
    if args.sort not in cols:
        parser.exit(2, f"{parser.prog}: error: --sort {args.sort!r} is not a column; the columns are: {', '.join(cols)}\n")
    rows = sort_rows(rows, args.sort, args.descending)
    if args.columns:
        wanted = args.columns.split(",")
        unknown = [c for c in wanted if c not in cols]
        if unknown:
            parser.exit(2, f"{parser.prog}: error: --columns: no column {', '.join(unknown)}; the columns are: {', '.join(cols)}\n")
        cols = ["run", *[c for c in wanted if c != "run"]]
    if args.out is None:
        sys.stdout.write(to_markdown(rows, cols))
        return 0
    targets = [Path(f"{args.out}.csv"), Path(f"{args.out}.md")]
    taken = [str(p) for p in targets if p.exists()]
    if taken:
        parser.exit(2, f"{parser.prog}: error: {', '.join(taken)} exists already; choose another --out\n")
    targets[0].write_text(to_csv(rows, cols))
    targets[1].write_text(to_markdown(rows, cols))
    print(f"{len(rows)} runs sorted by {args.sort}: {targets[0]}, {targets[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
