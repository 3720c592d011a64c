"""Collect the metrics.json of many run folders into one CSV and one Markdown table, sorted by any metric or flag.

Usage: python -m tools.summarize results/sweep --out results/sweep/summary --sort test_nll_k100 --curves curves.png
Each argument is a run folder or a folder of run folders; the run's key settings come from its config.json, and
--columns and --sort take any flag of config.json as well as any metric.
"""
import csv
import io
import math
import sys
from pathlib import Path

from runs.errors import RunError
from runs.files import write_new
from runs.folder import RunFolder
from tools.cli import run_tool
from training.flags import Parser

PROG = "python -m tools.summarize"
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
    metric wins a name both have: n_train counts the images trained on, without the validation ones). Both files
    are checked by the run folder (their checksums; a finished run): RunError says why a run cannot be shown."""
    folder = RunFolder(run_dir).pinned()
    folder.expect("finished", "restored")
    cfg, metrics = folder.config(), folder.metrics()
    row = {"run": run_dir.name}
    row |= {k: cfg.get(k, "none" if k == "binarize" else "") for k in SETTINGS}
    row |= {k: v for k, v in scalars(metrics).items() if not isinstance(v, bool)}
    return row, {k: v for k, v in scalars(cfg).items() if k not in row}


def read_rows(runs):
    """run_row of the runs whose files read and check, and those runs; any other is skipped with a warning line on
    stderr."""
    read = []
    for run in runs:
        try:
            read.append((run, *run_row(run)))
        except RunError as err:
            print(f"warning: skipping {run}: {err}", file=sys.stderr)
        except OSError as err:
            print(f"warning: skipping {run}: cannot read {err.filename}: {err.strerror}", file=sys.stderr)
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


def curves_figure(runs):
    """One figure of the runs' test -ELBO per epoch (solid) and validation -ELBO (dashed, where the run has one),
    from each run's checked metrics.csv."""
    from plot_utils import plt  # matplotlib loads only for --curves
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for i, run in enumerate(runs):
        try:
            table = RunFolder(run).history()
            epochs, test = [int(r["epoch"]) for r in table], [r["test_loss"] for r in table]
        except (RunError, KeyError) as err:
            print(f"warning: no curve for {run}: {err}", file=sys.stderr)
            continue
        colour = f"C{i % 10}"
        ax.plot(epochs, test, "-", color=colour, label=f"{run.name} test")
        if table and "valid_loss" in table[0]:
            ax.plot(epochs, [r["valid_loss"] for r in table], "--", color=colour, label=f"{run.name} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative ELBO, nats per image")
    ax.set_title("learning curves: test (solid) and validation (dashed) -ELBO")
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)
    return fig


def write_curves(runs, path):
    """curves_figure of runs into path, a new file, whole or not at all."""
    from plot_utils import DPI, plt
    fig = curves_figure(runs)
    try:
        write_new(path, lambda f: fig.savefig(f, format="png", dpi=DPI))
    finally:
        plt.close(fig)


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


def summarize(argv):
    parser = Parser(prog=PROG, description="One CSV and one Markdown table of many runs' metrics.")
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

    runs = find_runs(args.paths)
    if not runs:
        parser.error(f"no run folder with a metrics.json in {' '.join(args.paths)}")
    runs, rows, flags = read_rows(runs)
    if not rows:
        parser.error("no run folder with a readable metrics.json")
    cols = columns(rows)  # what the table shows by default; every flag of config.json may be asked for as well
    rows = [row | extra for row, extra in zip(rows, flags)]
    every = columns(rows)
    if args.sort not in every:
        parser.error(f"--sort {args.sort!r} is not a column; the columns are: {', '.join(every)}")
    if args.columns:
        wanted = args.columns.split(",")
        unknown = [c for c in wanted if c not in every]
        if unknown:
            parser.error(f"--columns: no column {', '.join(unknown)}; the columns are: {', '.join(every)}")
        cols = ["run", *[c for c in wanted if c != "run"]]
    order = {id(row): run for row, run in zip(rows, runs)}
    rows = sort_rows(rows, args.sort, args.descending)
    targets = [Path(f"{args.out}.csv"), Path(f"{args.out}.md")] if args.out else []
    targets += [Path(args.curves)] if args.curves else []
    taken = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if taken:
        parser.error(f"{', '.join(taken)} exists already; choose another --out or --curves")
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            parser.error(f"cannot create the folder of {target} ({err.strerror})")
    if args.curves:
        write_curves([order[id(row)] for row in rows], args.curves)
        print(f"learning curves of {len(rows)} runs: {args.curves}")
    if args.out is None:
        sys.stdout.write(to_markdown(rows, cols))
        return 0
    write_new(targets[0], lambda f: f.write(to_csv(rows, cols).encode()))
    write_new(targets[1], lambda f: f.write(to_markdown(rows, cols).encode()))
    print(f"{len(rows)} runs sorted by {args.sort}: {targets[0]}, {targets[1]}")
    return 0


def main(argv=None):
    return run_tool(summarize, argv, PROG, interrupted="nothing was written")


if __name__ == "__main__":
    sys.exit(main())
