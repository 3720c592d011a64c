"""Two checkouts of the runner side by side: same-seed results, and epoch time measured interleaved.

    git worktree add /tmp/old a355c7d
    python benchmarks/compare_checkouts.py /tmp/old . --out /tmp/compare            # both parts
    python benchmarks/compare_checkouts.py /tmp/old . --out /tmp/compare --no-timing

Same seed: each run of RUNS is made by both checkouts; metrics.json (less its timings), metrics.csv (less its
seconds column) and every PNG/GIF must match byte for byte, except the figures named by --may_differ.
Timing: a default-size run of each of TIMED, old and new in turn (A, B, A, B, ...), --repeats times; the median
of each run's epochs after the first (which compiles) and its train seconds are compared.
"""
import argparse
import csv
import hashlib
import json
import statistics
import subprocess
import sys
from pathlib import Path

SMALL = ["--n_train", "2000", "--num_epochs", "2", "--n_hidden", "64"]
RUNS = {  # name: flags; every family and the options that change its inputs
    "default_z2": ["--dim_z", "2"],
    "vae_noise_dyn": ["--model", "vae", *SMALL, "--add_noise", "--binarize", "dynamic", "--seed", "3"],
    "vae_iwk": ["--model", "vae", *SMALL, "--iw_k", "2", "--PRR_every", "1"],
    "vae_mirrored": ["--model", "vae", *SMALL, "--distribute", "mirrored"],
    "cvae_static": ["--model", "cvae", *SMALL, "--binarize", "static", "--dim_z", "2", "--PMLR", "--PARR", "--seed", "7"],
    "cvae_lrdecay": ["--model", "cvae", *SMALL, "--lr_decay", "0.1", "--PARR", "--activation", "softplus"],
    "m2_dyn": ["--model", "m2", *SMALL, "--n_labeled", "100", "--n_valid", "500", "--binarize", "dynamic", "--PARR",
               "--dim_z", "2", "--PMLR"],
    "m1m2": ["--model", "m1m2", *SMALL, "--n_labeled", "100", "--n_valid", "200", "--m1_epochs", "1", "--m2_hidden", "50"],
}
TIMED = {"cvae": ["--num_epochs", "4"], "m2": ["--model", "m2", "--num_epochs", "3", "--n_labeled", "100"]}
QUIET = ["--PRR", "False", "--interp", "False"]
TIMINGS = {"train_seconds", "evaluate_seconds", "figure_seconds", "wall_seconds", "quality_seconds"}


def run(checkout, out, name, flags):
    """One run_main.py run of the checkout into out/name; its exit status."""
    with open(out / f"{name}.log", "w") as log:
        return subprocess.run([sys.executable, "run_main.py", *flags, "--results_path", str(out), "--run_name", name],
                              cwd=checkout, stdout=log, stderr=subprocess.STDOUT).returncode


def csv_rows(path):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(path.open())]


def differences(old, new, may_differ):
    """The files of run folder old that new lacks or holds otherwise (timings and seconds left out)."""
    found = []
    for a in sorted(p for p in old.rglob("*") if p.is_file()):
        if a.name.startswith("events.out.tfevents."):  # TensorBoard names its event files by time and process
            continue
        b = new / a.relative_to(old)
        if not b.exists():
            found.append(f"{b}: missing")
        elif a.name == "metrics.json":
            ja, jb = (json.loads(p.read_text()) for p in (a, b))
            keys = {k for k in ja.keys() | jb.keys() if k not in TIMINGS and ja.get(k) != jb.get(k)}
            found += [f"{b}: {k} {ja.get(k)} -> {jb.get(k)}" for k in sorted(keys)]
        elif a.name == "metrics.csv" and csv_rows(a) != csv_rows(b):
            found.append(f"{b}: rows differ")
        elif a.suffix in (".png", ".gif") and not a.name.startswith(tuple(may_differ)):
            if hashlib.sha256(a.read_bytes()).digest() != hashlib.sha256(b.read_bytes()).digest():
                found.append(f"{b}: pixels differ")
    return found


def same_seed(old, new, out, may_differ):
    """Run RUNS with both checkouts; print each run's test -ELBO and every difference; the count of differences."""
    count = 0
    for name, flags in RUNS.items():
        for side, checkout in (("old", old), ("new", new)):
            (out / side).mkdir(parents=True, exist_ok=True)
            if run(checkout, out / side, name, flags):
                print(f"{name}: the {side} run failed, see {out / side / name}.log")
        found = differences(out / "old" / name, out / "new" / name, may_differ)
        elbo = [json.loads((out / side / name / "metrics.json").read_text())["test_neg_elbo"] for side in ("old", "new")]
        print(f"{name}: test -ELBO old {elbo[0]!r}, new {elbo[1]!r}; {len(found)} differences", flush=True)
        for line in found:
            print("   ", line)
        count += len(found)
    return count


def timing(old, new, out, repeats):
    """Interleaved default-size runs of TIMED; print the medians of epoch seconds (after the first) and train seconds."""
    seconds = {(name, side): {"epoch": [], "train": []} for name in TIMED for side in ("old", "new")}
    for i in range(repeats):
        for name, flags in TIMED.items():
            for side, checkout in (("old", old), ("new", new)):
                folder = out / f"timing_{side}"
                folder.mkdir(parents=True, exist_ok=True)
                tag = f"{name}_{i}"
                if run(checkout, folder, tag, flags + QUIET):
                    sys.exit(f"the {side} timing run {tag} failed, see {folder / tag}.log")
                rows = list(csv.DictReader((folder / tag / "metrics.csv").open()))
                seconds[name, side]["epoch"] += [float(r["seconds"]) for r in rows[1:]]
                metrics = json.loads((folder / tag / "metrics.json").read_text())
                if "train_seconds" in metrics:  # an old M2 run records none
                    seconds[name, side]["train"].append(metrics["train_seconds"] / len(rows))
                print(f"  {side} {tag}: epochs {[r['seconds'] for r in rows]}", flush=True)
    print("| run | epoch s (median, old) | epoch s (median, new) | new/old | train s per epoch (old / new) |")
    print("|---|---|---|---|---|")
    for name in TIMED:
        o, n = seconds[name, "old"], seconds[name, "new"]
        ratio = statistics.median(n["epoch"]) / statistics.median(o["epoch"])
        train = " / ".join(f"{statistics.median(s['train']):.2f}" if s["train"] else "-" for s in (o, n))
        print(f"| {name} | {statistics.median(o['epoch']):.2f} | {statistics.median(n['epoch']):.2f} | {ratio:.3f} | {train} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path, help="the checkout to compare against")
    parser.add_argument("new", type=Path, help="the checkout under test")
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the runs")
    parser.add_argument("--may_differ", nargs="*", default=[], help="figure name prefixes whose pixels may differ")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs of each kind and checkout (default: 3)")
    parser.add_argument("--no-same-seed", dest="same_seed", action="store_false", help="skip the same-seed part")
    parser.add_argument("--no-timing", dest="timing", action="store_false", help="skip the timing part")
    args = parser.parse_args()
    args.out.mkdir(parents=True)
    found = same_seed(args.old.resolve(), args.new.resolve(), args.out, args.may_differ) if args.same_seed else 0
    if args.timing:
        timing(args.old.resolve(), args.new.resolve(), args.out, args.repeats)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
