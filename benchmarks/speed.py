"""Speed benchmark: epoch times against this machine's matmul limit, scaling, levers, start-up, end to end, memory.

    python benchmarks/speed.py [--out benchmarks/results] [--quick]

Writes speed.json and speed.md into --out. Timings of variants that are compared are interleaved (A, B, A, B)
within this one process and reported as medians, so a machine shared with other jobs biases them alike.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402

import tf_setup  # noqa: E402,F401  (quiet TensorFlow import)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import limit  # noqa: E402
from data.prepare import load_run_data  # noqa: E402
from evaluation.metrics import TERMS  # noqa: E402
from runs import checkpoint  # noqa: E402
from training import family_vae, flags, steps  # noqa: E402
from training.families import FAMILIES  # noqa: E402

MODELS = [(model, dim_z, noise) for model in ("cvae", "vae") for dim_z in (20, 2) for noise in (False, True)]
LEVERS = {  # name: (environment, probe flags); each is compared with "baseline" in alternating child processes
    "baseline": ({}, []),
    "onednn_off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
    "intra_op_1": ({}, ["--intra_op", "1"]),
    "inter_op_1": ({}, ["--inter_op", "1"]),
    # XLA's CPU backend can hand its matmuls to oneDNN or XNNPACK instead of its own Eigen kernels
    "xla_onednn": ({"XLA_FLAGS": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true"}, []),
    "xla_xnnpack": ({"XLA_FLAGS": "--xla_cpu_use_xnnpack=true --xla_cpu_experimental_xnn_fusion_type=dot"}, []),
    # Keras's own loop: model.fit, XLA, 50 steps per call (as ours), its tf.data input pipeline
    "keras_fit_spe50": ({}, ["--keras_fit"]),
    # Keras's mixed_bfloat16 policy: bf16 matmuls and activations, fp32 weights, Adam and loss
    "mixed_bf16": ({}, ["--bf16"]),
}

SIZES = {  # what each mode measures; "quick" is the tiny run the test suite makes
    "full": dict(n_train=60000, n_hidden=500, repeats=3, limit_seconds=0.2, limit_tries=3, models=MODELS,
                 hidden=(250, 500, 1000, 2000), batches=(32, 64, 128, 256, 512, 1024), probe_epochs=2,
                 levers=tuple(LEVERS), e2e=["--dim_z", "2"]),
    "quick": dict(n_train=1000, n_hidden=32, repeats=1, limit_seconds=0.002, limit_tries=1,
                  models=[("cvae", 2, True), ("vae", 20, False)], hidden=(16,), batches=(64,), probe_epochs=1,
                  levers=("baseline",), e2e=["--dim_z", "2", "--n_train", "500", "--num_epochs", "1", "--n_hidden", "16"]),
}
SECTIONS = ("training", "breakdown", "levers", "end_to_end", "scaling")


def make_cfg(size, **overrides):
    """A run_main config: the defaults, the benchmark's size, then overrides."""
    args = ["--n_train", str(size["n_train"]), "--n_hidden", str(size["n_hidden"])]
    return vars(flags.parse_args(args)) | overrides


class NoUpdate:
    """An optimizer stand-in that leaves the weights alone: it adds each gradient's sum to a variable, so XLA
    still computes the whole backward pass (the breakdown's step without the parameter update)."""

    def __init__(self):
        self.sink = tf.Variable(0.0)

    def apply(self, grads, variables):
        self.sink.assign_add(tf.add_n([tf.reduce_sum(g) for g in grads]))


def epoch_runner(cfg, x_train, y_train, optimizer=None):
    """A function that trains one more epoch and returns its wall seconds; traced and warmed up already."""
    keras.utils.set_random_seed(cfg["seed"])
    model = FAMILIES[cfg["model"]].build_model(cfg)
    optimizer = optimizer or keras.optimizers.Adam(cfg["learn_rate"])
    train_steps = family_vae.make_train_steps(model, optimizer, x_train, y_train, cfg)
    state = {"position": checkpoint.Position(sums=[0.0] * len(TERMS)), "terms": None}

    def run_epoch():
        position = state["position"]
        start = time.perf_counter()
        family_vae.train_epoch(train_steps, len(x_train), cfg, position, "")
        seconds = time.perf_counter() - start
        state["terms"] = dict(zip(TERMS, np.array(position.sums) / len(x_train)))
        state["position"] = position.next_epoch()
        return seconds

    run_epoch()  # XLA compiles once for each shape of index matrix (and rejects zero rows): an untimed epoch
    run_epoch.state = state
    return run_epoch


def fit_epoch_runner(cfg, x_train, y_train):
    """epoch_runner's contract on Keras's model.fit with steps_per_execution, for the keras_fit lever."""
    keras.utils.set_random_seed(cfg["seed"])
    model = FAMILIES[cfg["model"]].build_model(cfg)

    class Trainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = model
            self.mean_loss = keras.metrics.Mean(name="neg_elbo")  # the epoch's mean, as our loop reports

        @property
        def metrics(self):
            return [self.mean_loss]

        def train_step(self, data):
            x, y = data
            seed = tf.stack([tf.constant(cfg["seed"], tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])
            x_in, x_target, eps = steps.step_inputs(x, seed, cfg, model.dim_z)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.loss_terms(x_in, x_target, y, eps)["loss"])
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            self.mean_loss.update_state(loss)
            return {"neg_elbo": self.mean_loss.result()}

    trainer = Trainer()
    trainer.compile(optimizer=keras.optimizers.Adam(cfg["learn_rate"]), jit_compile=True,
                    steps_per_execution=steps.STEPS_PER_CALL)
    state = {"terms": None}

    def run_epoch():
        start = time.perf_counter()
        history = trainer.fit(x_train, y_train, batch_size=cfg["batch_size"], epochs=1, shuffle=True, verbose=0)
        seconds = time.perf_counter() - start
        state["terms"] = {"loss": history.history["neg_elbo"][-1]}
        return seconds

    run_epoch()
    run_epoch.state = state
    return run_epoch


def interleaved(runners, repeats):
    """Median seconds of each runner, called in rounds (A, B, C, A, B, C, ...) after one untimed round."""
    for run in runners.values():
        run()  # TensorFlow re-optimises a function's graph once after other functions were traced; keep that out
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            times[name].append(run())
    return {name: statistics.median(t) for name, t in times.items()}, times


def training_table(size, limits):
    """Epoch time, images per second and ratio to the limit of the 8 model variants, batch 128."""
    base = make_cfg(size)
    data = load_run_data(base)
    runners = {}
    for model, dim_z, noise in size["models"]:
        cfg = base | {"model": model, "dim_z": dim_z, "add_noise": noise}
        runners[(model, dim_z, noise)] = epoch_runner(cfg, data.x_train, data.y_train)
    medians, samples = interleaved(runners, size["repeats"])
    rows = []
    for (model, dim_z, noise), seconds in medians.items():
        limit_s, flops = limits(model, dim_z, base["n_hidden"], base["batch_size"], base["n_train"])
        rows.append({"model": model, "dim_z": dim_z, "add_noise": noise, "batch_size": base["batch_size"],
                     "n_hidden": base["n_hidden"], "n_train": base["n_train"], "epoch_seconds": seconds,
                     "samples": samples[(model, dim_z, noise)], "images_per_second": base["n_train"] / seconds,
                     "gflop_per_epoch": flops / 1e9, "limit_seconds": limit_s, "ratio_to_limit": seconds / limit_s,
                     "train_loss_last_epoch": float(runners[(model, dim_z, noise)].state["terms"]["loss"])})
    return rows


def breakdown(size, limits):
    """Where the default CVAE's training step spends its time beyond the limit, in ms per step (batch 128).

    The whole step, the step without the Adam update, and the step's matmuls alone as XLA compiles them
    (jit) and as TensorFlow runs them (the limit); the differences are the update, the rest of the forward
    and backward pass (activations, loss, sampling, gathers), and XLA's matmul kernels against oneDNN's.
    """
    cfg = make_cfg(size)
    data = load_run_data(cfg)
    steps_per_epoch = -(-cfg["n_train"] // cfg["batch_size"])
    runners = {"step": epoch_runner(cfg, data.x_train, data.y_train),
               "step_without_update": epoch_runner(cfg, data.x_train, data.y_train, NoUpdate())}
    medians, samples = interleaved(runners, size["repeats"])
    ms = {name: 1e3 * seconds / steps_per_epoch for name, seconds in medians.items()}
    shapes = [(m, k, n) for m, k, n, _ in limit.step_matmuls(cfg["model"], cfg["dim_z"], cfg["n_hidden"],
                                                             cfg["batch_size"])]
    ms["matmuls_xla"] = 1e3 * sum(limit.matmul_seconds(*shape, size["limit_seconds"], size["limit_tries"], jit=True)
                                  for shape in shapes)
    limits(cfg["model"], cfg["dim_z"], cfg["n_hidden"], cfg["batch_size"], cfg["n_train"])  # fills the cache
    ms["matmuls_limit"] = 1e3 * sum(limits.cache[shape] for shape in shapes)
    parts = {"adam_update": ms["step"] - ms["step_without_update"],
             "other_forward_backward": ms["step_without_update"] - ms["matmuls_xla"],
             "xla_matmul_over_limit": ms["matmuls_xla"] - ms["matmuls_limit"], "limit": ms["matmuls_limit"]}
    return {"ms_per_step": ms, "parts_ms": parts, "samples_seconds": samples,
            "parts_share_of_limit": {k: v / ms["matmuls_limit"] for k, v in parts.items()}}


def scaling_table(size, limits):
    """Epoch time against the limit as --n_hidden and --batch_size grow (default CVAE, dim_z 20)."""
    base = make_cfg(size)
    data = load_run_data(base)
    variants = [("n_hidden", h, base | {"n_hidden": h}) for h in size["hidden"]]
    variants += [("batch_size", b, base | {"batch_size": b}) for b in size["batches"]]
    runners = {(k, v): epoch_runner(cfg, data.x_train, data.y_train) for k, v, cfg in variants}
    medians, _ = interleaved(runners, size["repeats"])
    rows = []
    for key, value, cfg in variants:
        seconds = medians[(key, value)]
        limit_s, flops = limits(cfg["model"], cfg["dim_z"], cfg["n_hidden"], cfg["batch_size"], cfg["n_train"])
        rows.append({"vary": key, "value": value, "n_hidden": cfg["n_hidden"], "batch_size": cfg["batch_size"],
                     "epoch_seconds": seconds, "images_per_second": cfg["n_train"] / seconds,
                     "gflop_per_epoch": flops / 1e9, "limit_seconds": limit_s, "ratio_to_limit": seconds / limit_s})
    return rows


# Runs the command and prints its exit status and peak memory. A small launcher, because a child's ru_maxrss
# starts from its parent's resident size at fork, and this benchmark process holds many models and copies of MNIST.
LAUNCHER = """import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""


def run_child(args, env=None):
    """Run a Python child; return (its output, wall seconds, its peak resident memory in MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rusage.json"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(result), sys.executable, *args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ | (env or {}))
        wall = time.perf_counter() - start
        status, maxrss_kb = json.loads(result.read_text()) if result.exists() else (proc.returncode, 0)
    if status != 0:
        raise RuntimeError(f"{args} failed with status {status}:\n{proc.stdout[-3000:]}")
    return proc.stdout, wall, maxrss_kb / 1024


def probe_json(text):
    """The last line of a probe's output, which is its JSON result."""
    return json.loads(text.strip().splitlines()[-1])


def levers_table(size, mode):
    """Each lever against the baseline: epoch seconds of the default CVAE in alternating child processes."""
    samples = {name: [] for name in size["levers"]}
    loss, startup = {}, []
    for _ in range(size["repeats"]):
        for name in size["levers"]:
            env, flags = LEVERS[name]
            text, _, _ = run_child([__file__, "--probe", "--mode", mode, "--start", repr(time.time()), *flags],
                                      env=env)
            result = probe_json(text)
            if name == "baseline":
                startup.append(result["startup"])
            samples[name] += result["epoch_seconds"]
            loss[name] = result["train_loss"]
    base = statistics.median(samples["baseline"])
    rows = [{"lever": name, "epoch_seconds": statistics.median(s), "samples": s,
             "speedup_vs_baseline": base / statistics.median(s), "train_loss_last_epoch": loss[name]}
            for name, s in samples.items()]
    return rows, {stage: statistics.median(s[stage] for s in startup) for stage in startup[0]}


def end_to_end(size):
    """Wall time, peak memory and the time split of a real `python run_main.py` run, and start-up to step one."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run_main.py", *size["e2e"], "--results_path", tmp, "--run_name", "bench"]
        _, wall, peak_mb = run_child(argv)
        metrics = json.loads((Path(tmp) / "bench" / "metrics.json").read_text())
    return {"command": "python " + " ".join(argv[:1] + size["e2e"]), "wall_seconds": wall, "peak_memory_mb": peak_mb,
            "train_seconds": metrics["train_seconds"], "evaluate_seconds": metrics["evaluate_seconds"],
            "figures_seconds": metrics["figure_seconds"], "in_process_seconds": metrics["wall_seconds"],
            "test_neg_elbo": metrics["test_neg_elbo"]}


def bf16_matmul(size):
    """Throughput of bf16 against fp32 matmuls on the model's largest layer shape (the bf16 lever's ceiling)."""
    m, k, n = 128, size["n_hidden"], 28 * 28
    out = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.cast(tf.random.stateless_normal([m, k], seed=[0, 1]), dtype)
        b = tf.cast(tf.random.stateless_normal([k, n], seed=[0, 2]), dtype)
        step = tf.function(lambda: tf.matmul(a, b))
        step()
        reps = max(10, int(size["limit_seconds"] * 5000))
        start = time.perf_counter()
        for _ in range(reps):
            step()
        out[dtype.name] = 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9
    return {"shape": [m, k, n], "gflops_per_second": out, "bf16_speedup": out["bfloat16"] / out["float32"],
            "note": "measured with one compiled call per matmul, so call overhead is included alike for both"}


def probe(args):
    """Child-process mode: seconds from process start to the first training step, then a lever's epoch times."""
    stages = {"imports": time.time() - args.start}  # the interpreter, TensorFlow, Keras and this project
    if args.intra_op or args.inter_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    if args.bf16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    size = SIZES[args.mode]
    cfg = make_cfg(size)
    data = load_run_data(cfg)
    stages["data"] = time.time() - args.start
    run = (fit_epoch_runner if args.keras_fit else epoch_runner)(cfg, data.x_train, data.y_train)
    stages["first_step"] = time.time() - args.start  # model built, step traced and optimised (with XLA: an epoch run)
    seconds = [run() for _ in range(size["probe_epochs"])]
    print(json.dumps({"epoch_seconds": seconds, "train_loss": float(run.state["terms"]["loss"]), "startup": stages}))


def markdown(report):
    """The report as Markdown tables (the sections measured so far)."""
    lines = [f"# Speed benchmark ({report['mode']})", "",
             f"{report['machine']}; load average {report['load_before']} before, {report['load_after']} after; "
             f"{report['total_seconds']:.0f} s in all.", "",
             "Limit = the epoch's matmul flops (forward and backward, from the layer sizes) at the fp32 throughput "
             f"measured on each matmul shape in this run (best of {report['limit_tries']}). Epoch times are medians "
             f"of {report['repeats']} interleaved rounds.", ""]
    if "training" in report:
        lines += ["## Training, batch 128", "",
                  "| model | dim_z | add_noise | epoch s | images/s | GFLOP/epoch | limit s | ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in report["training"]:
            lines.append(f"| {r['model']} | {r['dim_z']} | {r['add_noise']} | {r['epoch_seconds']:.2f} | "
                         f"{r['images_per_second']:.0f} | {r['gflop_per_epoch']:.1f} | {r['limit_seconds']:.2f} | "
                         f"{r['ratio_to_limit']:.2f} |")
        lines.append("")
    if "breakdown" in report:
        b = report["breakdown"]
        ms, parts, share = b["ms_per_step"], b["parts_ms"], b["parts_share_of_limit"]
        lines += ["## Where a training step's time goes (cvae, dim_z 20, batch 128)", "",
                  "| part | ms per step | share of the limit |", "|---|---|---|",
                  f"| the limit: the step's matmuls, TensorFlow's (oneDNN) kernels | {parts['limit']:.3f} | 1.00 |",
                  f"| the same matmuls as XLA compiles them, over the limit | {parts['xla_matmul_over_limit']:.3f} | "
                  f"{share['xla_matmul_over_limit']:.2f} |",
                  f"| the rest of forward and backward (activations, loss, sampling, gathers) | "
                  f"{parts['other_forward_backward']:.3f} | {share['other_forward_backward']:.2f} |",
                  f"| the Adam update of the weights | {parts['adam_update']:.3f} | {share['adam_update']:.2f} |",
                  f"| **the whole step** (medians of the interleaved epochs) | **{ms['step']:.3f}** | "
                  f"**{ms['step'] / ms['matmuls_limit']:.2f}** |", ""]
    if "levers" in report:
        lines += ["## Levers (cvae, dim_z 20; alternating child processes)", "",
                  "| lever | epoch s | speed-up | train loss, last epoch |", "|---|---|---|---|"]
        for r in report["levers"]:
            lines.append(f"| {r['lever']} | {r['epoch_seconds']:.2f} | {r['speedup_vs_baseline']:.2f} | "
                         f"{r['train_loss_last_epoch']:.2f} |")
        b, s = report["bf16"], report["startup_to_first_step"]
        lines += ["", f"bf16 matmul {b['shape']}: {b['gflops_per_second']['bfloat16']:.0f} GFLOP/s against fp32 "
                  f"{b['gflops_per_second']['float32']:.0f} GFLOP/s ({b['bf16_speedup']:.2f}x).", "",
                  f"Start-up to the first training step ({report['mode']} size, baseline probes): "
                  f"{s['first_step']:.1f} s (imports {s['imports']:.1f}, data {s['data'] - s['imports']:.1f}, "
                  f"model and tracing {s['first_step'] - s['data']:.1f}).", ""]
    if "end_to_end" in report:
        e = report["end_to_end"]
        lines += ["## End to end", "", f"`{e['command']}`", "", "| measure | value |", "|---|---|",
                  f"| wall time | {e['wall_seconds']:.1f} s |", f"| training | {e['train_seconds']:.1f} s |",
                  f"| evaluation | {e['evaluate_seconds']:.1f} s |", f"| figures | {e['figures_seconds']:.1f} s |",
                  f"| peak memory (max RSS) | {e['peak_memory_mb']:.0f} MB |",
                  f"| test negative ELBO | {e['test_neg_elbo']:.2f} |", ""]
    if "scaling" in report:
        lines += ["## Scaling (cvae, dim_z 20)", "",
                  "| n_hidden | batch | epoch s | images/s | GFLOP/epoch | limit s | ratio |", "|---|---|---|---|---|---|---|"]
        for r in report["scaling"]:
            lines.append(f"| {r['n_hidden']} | {r['batch_size']} | {r['epoch_seconds']:.2f} | "
                         f"{r['images_per_second']:.0f} | {r['gflop_per_epoch']:.1f} | {r['limit_seconds']:.2f} | "
                         f"{r['ratio_to_limit']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for speed.json and speed.md")
    parser.add_argument("--quick", action="store_true", help="a tiny run in seconds (what the test suite runs)")
    parser.add_argument("--repeats", type=int, help="timed rounds of each comparison (default: 3, quick: 1)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="what to measure (default: all, in this order)")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--intra_op", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--inter_op", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--keras_fit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        return probe(args)

    mode = "quick" if args.quick else "full"
    size = SIZES[mode] | ({"repeats": args.repeats} if args.repeats else {})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, load_before = time.perf_counter(), os.getloadavg()
    cache = {}

    def limits(*shape):
        return limit.epoch_limit(*shape, cache=cache, min_seconds=size["limit_seconds"], tries=size["limit_tries"])
    limits.cache = cache

    def step(name):
        print(f"[{time.perf_counter() - start:6.0f}s] {name}", file=sys.stderr, flush=True)

    report = {"mode": mode, "repeats": size["repeats"], "limit_tries": size["limit_tries"], "machine":
              f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}"}
    sections = {"training": lambda: training_table(size, limits), "scaling": lambda: scaling_table(size, limits),
                "levers": lambda: levers_table(size, mode), "breakdown": lambda: breakdown(size, limits), "end_to_end": lambda: end_to_end(size)}
    for name in args.sections:
        step(name)
        if name == "levers":
            report["levers"], report["startup_to_first_step"] = sections[name]()
            report["bf16"] = bf16_matmul(size)
        else:
            report[name] = sections[name]()
        # Written after each section, so a run stopped early keeps what it measured.
        report["limit_matmuls"] = [{"m": m, "k": k, "n": n, "seconds": t, "gflops_per_second": 2 * m * k * n / t / 1e9}
                                   for (m, k, n), t in sorted(cache.items())]
        report.update(load_before=[round(x, 2) for x in load_before],
                      load_after=[round(x, 2) for x in os.getloadavg()], total_seconds=time.perf_counter() - start)
        (out / "speed.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "speed.md").write_text(markdown(report))
    step(f"wrote {out / 'speed.json'} and {out / 'speed.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
