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
import json
import os
import shutil
import sys
import time
from pathlib import Path

from runs.errors import RunLocked
from runs.files import default_run_name, link_problem
from runs.folder import RunFolder, config_problem, parse_run_args
from tools.cli import check_bounds, run_tool
from training import flags

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("choice", "uniform", "loguniform", "randint")
# Per-sweep or per-run, never searched; n_valid too: trials ranked on different validation sets would not compare.
FIXED = ("results_path", "run_name", "resume", "restore", "data_dir", "n_valid")
METRICS = ("valid_loss", "valid_error")  # what a sweep may rank by: metrics.csv's validation -ELBO or error (m2, m1m2)
SCHEDULERS = ("none", "asha")
PROG = "python -m tools.tune"
BOUNDS = {"num_samples": (1, 10_000), "max_failures": (0, 100), "num_cpus": (1, 4096), "cpus_per_trial": (0.01, 1024.0),
          "gpus_per_trial": (0.0, 64.0)}


def build_parser():
    """The flags of the sweep itself; the rest go to flags.parse_args as the trials' base flags."""
    parser = flags.Parser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--space", required=True, help="search space: JSON text or a .json file (see the module docstring)")
    parser.add_argument("--num_samples", type=int, default=1,
                        help="times the space is sampled, 1 to 10000; a grid runs this many times over (default: 1)")
    parser.add_argument("--metric", choices=METRICS, default="valid_loss",
                        help="validation metric the trials are ranked by, lowest first: the -ELBO, or the classification "
                             "error of m2 and m1m2 (default: valid_loss)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default="none",
                        help="'asha': Ray's ASHAScheduler stops trials that trail on --metric early; 'none': every "
                             "trial runs all its epochs (default: none)")
    parser.add_argument("--grace_period", type=int, default=1,
                        help="with --scheduler asha: epochs every trial runs before it may be stopped (default: 1)")
    parser.add_argument("--max_failures", type=int, default=2,
                        help="times Tune restarts a trial whose worker died, from its last epoch, 0 to 100 (default: 2)")
    parser.add_argument("--address", default=None,
                        help="address of a running Ray cluster, e.g. 'auto' (default: None, start Ray on this machine)")
    parser.add_argument("--storage_path", default=None,
                        help="where Tune keeps its records and each trial's run folder checkpoints (Ray's "
                             "RunConfig.storage_path): a folder every node sees, or a URI such as s3://bucket/sweeps "
                             "(default: RESULTS_PATH/_tune)")
    parser.add_argument("--num_cpus", type=int, default=None, help="CPUs of a Ray started here, 1 to 4096 (default: all)")
    parser.add_argument("--cpus_per_trial", type=float, default=1.0,
                        help="CPUs each trial reserves, 0.01 to 1024 (default: 1.0)")
    parser.add_argument("--gpus_per_trial", type=float, default=0.0, help="GPUs each trial reserves, 0 to 64 (default: 0.0)")
    return parser


def read_space(text, base, parser):
    """The space as {flag: spec}, every value checked as config.json's flags are (types and ranges, against the
    base flags): a range by its ends."""
    try:
        space = json.loads(Path(text).read_text() if text.endswith(".json") else text)
    except (OSError, ValueError) as err:
        parser.error(f"argument --space: cannot read {text!r} ({err})")
    if not isinstance(space, dict) or not space:
        parser.error("argument --space: must be a non-empty JSON object of flag: values")
    types = flag_types()
    for name, spec in space.items():
        if name not in flags.FLAGS or name in FIXED:
            parser.error(f"argument --space: {name!r} is not a flag a sweep can search")
        if isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in SAMPLERS or not isinstance(next(iter(spec.values())), list):
                parser.error(f"argument --space: {name}: expected a list or one of {SAMPLERS} with a list, got {spec}")
            ((kind, values),) = spec.items()
            wanted = int if kind == "randint" else float
            if kind != "choice" and (len(values) != 2 or types[name] is not wanted or
                                     not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
                parser.error(f"argument --space: {name}: {kind} needs [lo, hi] numbers and a "
                             f"{wanted.__name__} flag, got {spec}")
            if kind != "choice" and not values[0] < values[1]:
                parser.error(f"argument --space: {name}: {kind} needs lo below hi, got {spec}")
            if kind == "randint":
                values = [values[0], values[1] - 1]  # hi is excluded
            if kind == "loguniform" and values[0] <= 0:
                parser.error(f"argument --space: {name}: loguniform needs lo above 0, got {spec}")
        elif isinstance(spec, list) and spec:
            values = spec
        else:
            parser.error(f"argument --space: {name}: expected a list or one of {SAMPLERS} with a list, got {spec}")
        for value in values:  # a range's ends stand for the values between them
            problem = config_problem(vars(base) | {name: value})
            if problem:
                parser.error(f"argument --space: {name}: {json.dumps(value)} is no value for --{name} ({problem})")
    return space


def flag_types():
    """Each run_main.py flag's type as its parser converts it (int, float, the bool parser, str)."""
    return {action.dest: action.type for action in flags.build_parser()._actions}


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
    """One Tune trial: a run folder under the sweep's results path, locked by the trial's worker, trained with metrics
    and the folder reported as a checkpoint each epoch; restarted after its worker died, it continues that folder
    as --resume does."""
    from ray import tune
    from training.families import train_and_evaluate
    cfg = base | params
    restored = tune.get_checkpoint()
    if restored is None:
        name = f"{default_run_name(argparse.Namespace(**cfg))}_{tune.get_context().get_trial_id()}"
        folder = RunFolder.create(cfg["results_path"], None, name, lambda path: cfg | {"run_dir": str(path)})
    else:
        with restored.as_directory() as saved:
            cfg = RunFolder(saved).config()  # checked against the manifest it was copied with
            run_dir = Path(cfg["run_dir"])
            if not (run_dir / "checkpoint.npz").exists():  # another machine: Tune's copy of the folder continues there
                shutil.copytree(saved, run_dir, dirs_exist_ok=True)
        folder = RunFolder(run_dir).take()  # the dead worker's lock went with it
    run_dir = folder.path

    def report(row):
        tune.report(row | {"run_dir": str(run_dir)}, checkpoint=tune.Checkpoint.from_directory(run_dir))

    try:
        # The last epoch is reported once the run has finished: the scheduler stops a trial at its last report,
        # and the run must have written its weights and metrics.json by then.
        train_and_evaluate(cfg, folder, on_epoch=lambda row: row["epoch"] < cfg["num_epochs"] and report(row))
        final = folder.history()[-1]
    finally:
        folder.release()
    report({k: int(v) if k == "epoch" else v for k, v in final.items()})


def mark_stopped_early(run_dir, metric, scheduler, wait=30.0):
    """A trial the scheduler stopped: its run folder becomes a finished run at the epochs it ran, whose metrics.json
    says so (stopped_early) and gives the numbers of its last epoch and of its best validation epoch; its weights
    are those of its last checkpoint. --resume RUN_DIR trains it on to its num_epochs."""
    from training.families import build_model
    folder, end = RunFolder(run_dir), time.time() + wait
    while True:  # the stopped trial's worker may still be ending, holding the lock
        try:
            folder.take()
            break
        except RunLocked:
            if time.time() > end:
                raise
            time.sleep(0.5)
    try:
        if folder.state() != "training":
            return
        saved = folder.checkpoint(required=True)
        rows, done = saved.position.rows, saved.position.epoch - 1
        if saved.position.calls_done or not rows:
            return
        measure = metric.removeprefix("valid_")
        name = "neg_elbo" if measure == "loss" else measure
        best = min(rows, key=lambda row: float(row[metric]))
        cfg = flags.with_flag_defaults(folder.config())
        metrics = {"epochs": done, "stopped_early": f"by {scheduler} after epoch {done} of {cfg['num_epochs']}",
                   **saved.position.final, "test_neg_elbo": saved.position.final["test_loss"],
                   "best_valid_epoch": int(best["epoch"]), f"valid_{name}_at_best": float(best[metric]),
                   f"test_{name}_at_best": float(best[f"test_{measure}"]),
                   "wall_seconds": round(saved.position.wall_seconds, 2)}
        folder.stop_early(build_model(cfg), saved, metrics)
    finally:
        folder.release()


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


def sweep(argv):
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    check_bounds(parser, args, BOUNDS)
    base = parse_run_args(rest)  # the trials' flags, checked as run_main.py checks them (--m1_run's folder too)
    if base.resume or base.restore:
        parser.error("argument --resume/--restore: a sweep makes new runs; a stopped trial resumes with run_main.py")
    if base.n_valid == 0:
        parser.error("argument --n_valid: a sweep chooses on validation images, never on the test set; "
                     "hold some out with --n_valid N (e.g. 10000)")
    if args.metric == "valid_error" and not flags.MODELS[base.model].semi_supervised:
        parser.error(f"argument --metric: valid_error needs a model that classifies ({', '.join(flags.semi_supervised())})")
    space = read_space(args.space, base, parser)
    if args.grace_period < 1 or (args.scheduler == "asha" and args.grace_period > base.num_epochs):
        parser.error(f"argument --grace_period: must lie in [1, --num_epochs ({base.num_epochs})], got {args.grace_period}")
    if args.scheduler == "asha" and "num_epochs" in space:
        parser.error("argument --space: with --scheduler asha every trial runs to --num_epochs, so num_epochs is not searched")
    if args.storage_path is not None and "://" not in args.storage_path and link_problem(args.storage_path):
        parser.error(f"argument --storage_path: {link_problem(args.storage_path)}")
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
    try:
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
        for r in results:  # a trial the scheduler stopped gets a metrics.json that says so
            if not r.error and "run_dir" in r.metrics and int(r.metrics["epoch"]) < r.config.get("num_epochs", base["num_epochs"]):
                mark_stopped_early(r.metrics["run_dir"], args.metric, args.scheduler)
        table, rows = trial_table(results, args.metric, space, base["num_epochs"])
        print(table)
        if rows and rows[0][0] != float("inf"):
            run, epoch, valid, test = rows[0][1][0], *rows[0][1][len(space) + 1:len(space) + 4]
            print(f"chosen: {run}, {args.metric} {valid} at epoch {epoch}; its test number there "
                  f"{test} ({args.metric.replace('valid_', 'test_')})")
        print(f"sweep wall time {time.time() - start:.1f} s for {len(rows)} trials ({args.scheduler} scheduler)")
    finally:
        ray.shutdown()
    return 1 if any(r.error for r in results) else 0


def main(argv=None):
    return run_tool(sweep, argv, PROG, interrupted="each trial's run folder keeps its last checkpoint; "
                                                   "continue one with python run_main.py --resume RUN_DIR")


if __name__ == "__main__":
    sys.exit(main())
