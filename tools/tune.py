"""Sweep on Ray Tune: each trial trains with the one recipe into a run folder of its own, as run_main.py does.

    python -m tools.tune --space '{"dim_z": [2, 20], "learn_rate": {"loguniform": [1e-4, 1e-2]}}' --num_samples 2 \
        --num_epochs 5 --results_path results/sweep

The search space is JSON, inline or in a file: a list is a grid (every value is tried), {"choice": [...]},
{"uniform": [lo, hi]}, {"loguniform": [lo, hi]} or {"randint": [lo, hi]} are sampled, num_samples times.
Every other flag is a run_main.py flag and sets what the space leaves alone. Ray is optional
(requirements-ray.txt): only this module imports it.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from report.files import create_run_dir, default_run_name, write_json
from training import flags

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("choice", "uniform", "loguniform", "randint")
FIXED = ("results_path", "run_name", "resume", "restore", "data_dir")  # per-sweep or per-run, never searched


def build_parser():
    """The flags of the sweep itself; the rest go to flags.parse_args as the trials' base flags."""
    parser = flags.Parser(prog="python -m tools.tune", description=__doc__.split("\n")[0])
    parser.add_argument("--space", required=True, help="search space: JSON text or a .json file (see the module docstring)")
    parser.add_argument("--num_samples", type=int, default=1,
                        help="times the space is sampled; a grid runs this many times over (default: 1)")
    parser.add_argument("--address", default=None,
                        help="address of a running Ray cluster, e.g. 'auto' (default: None, start Ray on this machine)")
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
    """One Tune trial: a run folder under the sweep's results path, trained with metrics reported each epoch."""
    from ray import tune
    from training.families import train_and_evaluate
    cfg = base | params
    name = f"{default_run_name(argparse.Namespace(**cfg))}_{tune.get_context().get_trial_id()}"
    run_dir = create_run_dir(cfg["results_path"], None, name)
    cfg["run_dir"] = str(run_dir)
    write_json(run_dir / "config.json", cfg)
    train_and_evaluate(cfg, run_dir, on_epoch=lambda row: tune.report(row | {"run_dir": str(run_dir)}))


def main(argv=None):
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    base = flags.parse_args(rest)
    space = read_space(args.space, base, parser)
    try:
        import ray
        from ray import tune
    except ImportError:
        parser.error("Ray is not installed: pip install -r requirements-ray.txt")
    # Trials run in other folders (on other machines, where these paths must be shared).
    base = vars(base) | {name: str(Path(getattr(base, name)).resolve())
                         for name in ("results_path", "data_dir") if getattr(base, name) is not None}

    # On a cluster the workers get this repository as their working directory; the data travels with it.
    ray.init(address=args.address, num_cpus=args.num_cpus if args.address is None else None,
             include_dashboard=False, log_to_driver=False,
             runtime_env={"working_dir": str(ROOT), "excludes": [".git", "results", "tests", "benchmarks"]})
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trial, base=base),
                            {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial}),
        param_space=tune_space(space),
        tune_config=tune.TuneConfig(num_samples=args.num_samples, metric="test_loss", mode="min"),
        run_config=tune.RunConfig(name=f"tune_{time.strftime('%Y%m%d-%H%M%S')}", verbose=1,
                                  storage_path=str(Path(base["results_path"]) / "_tune")),
    )
    results = tuner.fit()
    errors = [r for r in results if r.error]
    best = results.get_best_result() if len(errors) < len(results) else None
    for r in results:
        print(f"trial {r.metrics.get('run_dir', '?')}: " + (f"error {r.error!r}" if r.error else
              f"test negative ELBO {r.metrics['test_loss']:.2f} after {r.metrics['epoch']} epochs"))
    if best:
        print(f"best: {best.metrics['run_dir']} (test negative ELBO {best.metrics['test_loss']:.2f})")
    ray.shutdown()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
