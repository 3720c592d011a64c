"""Sweep on Ray Tune: each trial trains with the one recipe into a run folder of its own, as run_main.py does.

    python -m tools.tune --space '{"dim_z": [2, 20], "learn_rate": {"loguniform": [1e-4, 1e-2]}}' --num_samples 2 \
        --num_epochs 5 --n_valid 10000 --scheduler asha --results_path results/sweep

The search space is JSON, inline or in a file: a list is a grid (every value is tried), {"choice": [...]},
{"uniform": [lo, hi]}, {"loguniform": [lo, hi]} or {"randint": [lo, hi]} are sampled, num_samples times.
Every other flag is a run_main.py flag and sets what the space leaves alone. Trials are ranked by a validation
metric (--metric), never a test one, so --n_valid is required. Each epoch a trial reports its metrics and its run
folder as a Tune checkpoint: a trial whose worker dies continues from its last epoch (--max_failures). Ray is
optional (requirements-ray.txt): only this module imports it. docs/sweeps.md has a worked example.
"""
import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

from runs.files import create_run_dir, default_run_name, write_json
from training import flags

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("choice", "uniform", "loguniform", "randint")
# Per-sweep or per-run, never searched; n_valid too: trials ranked on different validation sets would not compare.
FIXED = ("results_path", "run_name", "resume", "restore", "data_dir", "n_valid")
METRICS = ("valid_loss", "valid_error")  # what a sweep may rank by: metrics.csv's validation -ELBO or error (m2, m1m2)
SCHEDULERS = ("none", "asha")


def build_parser():
    """The flags of the sweep itself; the rest go to flags.parse_args as the trials' base flags."""
    parser = flags.Parser(prog="python -m tools.tune", description=__doc__.split("\n")[0])
    parser.add_argument("--space", required=True, help="search space: JSON text or a .json file (see the module docstring)")
    parser.add_argument("--num_samples", type=int, default=1,
                        help="times the space is sampled; a grid runs this many times over (default: 1)")
    parser.add_argument("--metric", choices=METRICS, default="valid_loss",
                        help="validation metric the trials are ranked by, lowest first: the -ELBO, or the classification "
                             "error of m2 and m1m2 (default: valid_loss)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default="none",
                        help="'asha': Ray's ASHAScheduler stops trials that trail on --metric early; 'none': every "
                             "trial runs all its epochs (default: none)")
    parser.add_argument("--grace_period", type=int, default=1,
                        help="with --scheduler asha: epochs every trial runs before it may be stopped (default: 1)")
    parser.add_argument("--max_failures", type=int, default=2,
                        help="times Tune restarts a trial whose worker died, from its last epoch (default: 2)")
    parser.add_argument("--address", default=None,
                        help="address of a running Ray cluster, e.g. 'auto' (default: None, start Ray on this machine)")
    parser.add_argument("--storage_path", default=None,
                        help="where Tune keeps its records and each trial's run folder checkpoints (Ray's "
                             "RunConfig.storage_path): a folder every node sees, or a URI such as s3://bucket/sweeps "
                             "(default: RESULTS_PATH/_tune)")
    parser.add_argument("--num_cpus", type=int, default=None, help="CPUs of a Ray started here (default: all)")
    parser.add_argument("--cpus_per_trial", type=float, default=1.0, help="CPUs each trial reserves (default: 1.0)")
    parser.add_argument("--gpus_per_trial", type=float, default=0.0, help="GPUs each trial reserves (default: 0.0)")
    return parser


def read_space(text, base, parser):
    """The space as {flag: spec}, every value checked with flags.validate against the base flags."""
    try:
        space = json.loads(Path(text).read_text() if text.endswith(".json") else text)
    except (OSError, ValueError) as err:
        parser.error(f"argument --space: cannot read {text!r} ({err})")
    if not isinstance(space, dict) or not space:
        parser.error("argument --space: must be a non-empty JSON object of flag: values")
    for name, spec in space.items():
        if name not in flags.FLAGS or name in FIXED:
            parser.error(f"argument --space: {name!r} is not a flag a sweep can search")
        if isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in SAMPLERS or not isinstance(next(iter(spec.values())), list):
                parser.error(f"argument --space: {name}: expected a list or one of {SAMPLERS} with a list, got {spec}")
            ((kind, values),) = spec.items()
            if kind != "choice" and (len(values) != 2 or (kind == "randint") != (flags.FLAGS[name][0] is int)):
                parser.error(f"argument --space: {name}: {kind} needs [lo, hi] and a "
                             f"{'int' if kind == 'randint' else 'float'} flag, got {spec}")
        elif isinstance(spec, list) and spec:
            values = spec
        else:
            parser.error(f"argument --space: {name}: expected a list or one of {SAMPLERS} with a list, got {spec}")
        for value in values:  # a range's ends stand for the values between them
            flags.validate(argparse.Namespace(**vars(base) | {name: value}), parser)
    return space


def tune_space(space):
    """The space in Ray Tune's terms."""
    from ray import tune

    def one(spec):
        if isinstance(spec, list):
            return tune.grid_search(spec)
        ((kind, values),) = spec.items()
        return tune.choice(values) if kind == "choice" else getattr(tune, kind)(*values)

    return {name: one(spec) for name, spec in space.items()}


def trial(params, base):
    """One Tune trial: a run folder under the sweep's results path, trained with metrics and the folder reported as
    a checkpoint each epoch; restarted after its worker died, it continues that folder as --resume does."""
    from ray import tune
    from runs.checkpoint import CHECKPOINT
    from runs.folder import RunFolder
    from training.families import train_and_evaluate
    cfg = base | params
    restored = tune.get_checkpoint()
    if restored is None:
        name = f"{default_run_name(argparse.Namespace(**cfg))}_{tune.get_context().get_trial_id()}"
        run_dir = create_run_dir(cfg["results_path"], None, name)
        cfg["run_dir"] = str(run_dir)
        write_json(run_dir / "config.json", cfg)
    else:
        with restored.as_directory() as saved:
            cfg = json.loads((Path(saved) / "config.json").read_text())
            run_dir = Path(cfg["run_dir"])
            if not (run_dir / CHECKPOINT).exists():  # another machine: Tune's copy of the folder continues there
                shutil.copytree(saved, run_dir, dirs_exist_ok=True)

    def report(row):
        tune.report(row | {"run_dir": str(run_dir)}, checkpoint=tune.Checkpoint.from_directory(run_dir))

    # The last epoch is reported once the run has finished: the scheduler stops a trial at its last report, and
    # the run must have written its weights and metrics.json by then.
    train_and_evaluate(cfg, RunFolder(run_dir), on_epoch=lambda row: row["epoch"] < cfg["num_epochs"] and report(row))
    with open(run_dir / "metrics.csv") as f:
        final = list(csv.DictReader(f))[-1]
    report({k: int(v) if k == "epoch" else float(v) for k, v in final.items()})


def best_epoch(result, metric):
    """The reported row of a trial's epoch with the lowest metric (the first of equals), or None without one."""
    frame = result.metrics_dataframe
    if frame is None or metric not in frame or frame[metric].isna().all():
        return None
    return frame.loc[frame[metric].idxmin()]


def trial_table(results, metric, space, num_epochs):
    """The sweep's Markdown table, best trial first: each trial's settings, its best validation epoch, and the test
    numbers of that epoch beside the validation ones (shown, never used to choose); then the rows, best first."""
    test = metric.replace("valid_", "test_")
    rows = []
    for r in results:
        best = best_epoch(r, metric)
        params = {name: r.config.get(name, "") for name in space}
        run = Path(r.metrics.get("run_dir", "?")).name
        if best is None:
            rows.append((float("inf"), [run, *params.values(), "", "", "", "", f"error {r.error!r}" if r.error else "no epoch"]))
            continue
        epochs = int(r.metrics["epoch"])
        state = "error" if r.error else ("finished" if epochs == r.config.get("num_epochs", num_epochs) else "stopped early")
        rows.append((float(best[metric]), [run, *params.values(), int(best["epoch"]), f"{best[metric]:.4f}",
                                           f"{best[test]:.4f}", epochs, state]))
    rows.sort(key=lambda row: row[0])
    header = ["run", *space, "best epoch", metric, f"{test} there", "epochs run", "state"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, cells)) + " |" for _, cells in rows]
    return "\n".join(lines), rows


def main(argv=None):
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    base = flags.parse_args(rest)
    if base.n_valid == 0:
        parser.error("argument --n_valid: a sweep chooses on validation images, never on the test set; "
                     "hold some out with --n_valid N (e.g. 10000)")
    if args.metric == "valid_error" and not flags.MODELS[base.model].semi_supervised:
        parser.error(f"argument --metric: valid_error needs a model that classifies ({', '.join(flags.semi_supervised())})")
    for name in ("grace_period", "max_failures"):
        if getattr(args, name) < (1 if name == "grace_period" else 0):
            parser.error(f"argument --{name}: must be {'positive' if name == 'grace_period' else '0 or positive'}, "
                         f"got {getattr(args, name)}")
    space = read_space(args.space, base, parser)
    if args.scheduler == "asha" and args.grace_period > base.num_epochs:
        parser.error(f"argument --grace_period: above --num_epochs ({base.num_epochs}), got {args.grace_period}")
    if args.scheduler == "asha" and "num_epochs" in space:
        parser.error("argument --space: with --scheduler asha every trial runs to --num_epochs, so num_epochs is not searched")
    # Each epoch checkpoints (num_to_keep=1 forces an experiment snapshot each time, 12 ms here): not worth a warning.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError:
        parser.error("Ray is not installed: pip install -r requirements-ray.txt")
    # Trials run in other folders (on other machines, where these paths must be shared).
    base = vars(base) | {name: str(Path(getattr(base, name)).resolve())
                         for name in ("results_path", "data_dir") if getattr(base, name) is not None}
    storage = args.storage_path or str(Path(base["results_path"]) / "_tune")
    storage = storage if "://" in storage else str(Path(storage).resolve())
    print(f"ranking trials by {args.metric}, the validation {'-ELBO' if args.metric == 'valid_loss' else 'error'} "
          f"of {base['n_valid']} held-out training images (the test set never chooses); Tune's records in {storage}",
          flush=True)
    scheduler = (ASHAScheduler(time_attr="epoch", max_t=base["num_epochs"], grace_period=args.grace_period,
                               reduction_factor=2) if args.scheduler == "asha" else None)

    # On a cluster the workers get this repository as their working directory; the data travels with it.
    ray.init(address=args.address, num_cpus=args.num_cpus if args.address is None else None,
             include_dashboard=False, log_to_driver=False,
             runtime_env={"working_dir": str(ROOT), "excludes": [".git", "results", "tests", "benchmarks"]})
    start = time.time()
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trial, base=base),
                            {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial}),
        param_space=tune_space(space),
        tune_config=tune.TuneConfig(num_samples=args.num_samples, metric=args.metric, mode="min", scheduler=scheduler),
        run_config=tune.RunConfig(name=f"tune_{time.strftime('%Y%m%d-%H%M%S')}", verbose=1, storage_path=storage,
                                  failure_config=tune.FailureConfig(max_failures=args.max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    results = tuner.fit()
    table, rows = trial_table(results, args.metric, space, base["num_epochs"])
    print(table)
    if rows and rows[0][0] != float("inf"):
        run, epoch, valid, test = rows[0][1][0], *rows[0][1][len(space) + 1:len(space) + 4]
        print(f"chosen: {run}, {args.metric} {valid} at epoch {epoch}; its test number there "
              f"{test} ({args.metric.replace('valid_', 'test_')})")
    print(f"sweep wall time {time.time() - start:.1f} s for {len(rows)} trials ({args.scheduler} scheduler)")
    ray.shutdown()
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
