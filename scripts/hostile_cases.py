"""The hostile cases of issue 25, tried on a checkout as a careless or malicious user would: one line each.

    python scripts/hostile_cases.py CHECKOUT OUT [--only NAME,...]

Each case runs the checkout's own commands (run_main.py, tools, the API, examples, scripts) in a subprocess with
cwd CHECKOUT, on tiny runs it makes under OUT, and prints one line: the case, the exit status, the count of stderr
lines, whether a traceback or a .tmp file was left, and what it found. docs/reliability.md keeps the table of
the checkout before this change (4704ddc) and after. Nothing outside OUT is written.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TINY = ["--model", "vae", "--n_train", "500", "--n_hidden", "32", "--num_epochs", "1", "--PRR", "False", "--interp", "False"]


class Checkout:
    """The checkout's commands, each run with cwd at its root and its packages on PYTHONPATH."""

    def __init__(self, root, out):
        self.root, self.out = Path(root).resolve(), Path(out).resolve()

    def env(self, extra=None):
        env = dict(os.environ, PYTHONPATH=str(self.root)) | (extra or {})
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        return env

    def run(self, *args, timeout=300, env=None, shell=False):
        """The command's (status, stdout, stderr); on a timeout its whole process group is killed: ('timeout', ...)."""
        cmd = ["bash", "-c", args[0]] if shell else [sys.executable, *map(str, args)]
        proc = subprocess.Popen(cmd, cwd=self.root, env=self.env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return "timeout", out, err

    def main(self, *args, **kwargs):
        return self.run("run_main.py", *args, **kwargs)

    def tool(self, name, *args, **kwargs):
        return self.run("-m", f"tools.{name}", *args, **kwargs)

    def start(self, *args, env=None):
        return subprocess.Popen([sys.executable, *map(str, args)], cwd=self.root, env=self.env(env), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finished_run(self, name, *flags):
        """A tiny finished run (made once per name) copied to a fresh folder for one case."""
        made = self.out / "made" / name
        if not made.exists():
            rc, _, err = self.main(*TINY, *flags, "--results_path", made.parent, "--run_name", name)
            assert rc == 0, err
        copy = self.out / "cases" / f"{name}_{len(list((self.out / 'cases').glob(name + '_*')))}"
        shutil.copytree(made, copy, symlinks=True)
        return copy


def tmp_files(folder):
    return [str(p.relative_to(folder)) for p in Path(folder).rglob("*") if ".tmp" in p.name]


def verdict(result, folder=None, note=""):
    rc, out, err = result
    lines = [line for line in err.strip().splitlines() if line.strip()]
    tb = "traceback" if "Traceback" in err else ""
    tmp = f".tmp left: {tmp_files(folder)}" if folder and tmp_files(folder) else ""
    first = lines[-1][:160] if lines else ""
    return {"exit": rc, "stderr_lines": len(lines), "traceback": bool(tb), "tmp": tmp, "line": first, "note": note}


def restored_elbo(out):
    found = re.search(r"test negative ELBO ([\d.]+) nats \(restored", out)
    return float(found.group(1)) if found else None


def elbo(run):
    try:
        return json.loads((run / "metrics.json").read_text())["test_neg_elbo"]
    except (OSError, ValueError, KeyError):
        return None


def case_deleted_weights_and_checkpoint(c):
    run = c.finished_run("base")
    (run / "checkpoint.npz").unlink()
    (run / "model.weights.h5").unlink()
    resumed = c.main("--resume", run)
    restored = c.main("--restore", run)
    return verdict(resumed, run, f"resume stdout: {resumed[1].strip().splitlines()[-1:]}; restore exit "
                                 f"{restored[0]}, measures {restored_elbo(restored[1])} against metrics.json {elbo(run)}")


def case_measure_during_extension(c):
    run = c.finished_run("base")
    proc = c.start("run_main.py", "--resume", run, "--num_epochs", "3")
    time.sleep(1.0)
    while proc.poll() is None and not (run / "metrics_1_epochs.json").exists():
        time.sleep(0.05)
    measured = c.tool("measure", run, "--ll_k", "2", "--n_test", "200")
    proc.communicate(timeout=300)
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else {}
    note = (f"extension exit {proc.returncode}; final metrics.json epochs {metrics.get('epochs')}, holds the measure's "
            f"numbers: {'quality_first_200_test_images' in metrics}")
    return verdict(measured, run, note)


def change_weight(run, value):
    import h5py
    import numpy as np
    with h5py.File(run / "model.weights.h5", "r+") as f:
        names = []
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        data = f[names[0]][()]
        data.flat[0] = value if np.isnan(value) else data.flat[0] + value
        f[names[0]][...] = data


API_SAMPLE = ("import sys, numpy as np\nfrom training.api import load_run\n"
              "try:\n    run = load_run(sys.argv[1])\nexcept ValueError as err:\n    sys.exit(f'{type(err).__name__}: {err}')\n"
              "x = run.sample(4, seed=0)\nprint('nan images' if np.isnan(x).any() else 'finite images')")


def case_changed_weight(c):
    run = c.finished_run("base")
    change_weight(run, 0.5)
    restored = c.main("--restore", run)
    measured = c.tool("measure", run, "--ll_k", "2", "--n_test", "200")
    api = c.run("-c", API_SAMPLE, run)
    return verdict(restored, run, f"restore measures {restored_elbo(restored[1])} against metrics.json {elbo(run)}; "
                                  f"measure exit {measured[0]}; API exit {api[0]} {(api[1] + api[2]).strip()[-90:]}")


def case_nan_weight(c):
    run = c.finished_run("base")
    change_weight(run, float("nan"))
    restored = c.main("--restore", run)
    measured = c.tool("measure", run, "--ll_k", "2", "--n_test", "200")
    api = c.run("-c", API_SAMPLE, run)
    return verdict(restored, run, f"restore exit {restored[0]} tb {'Traceback' in restored[2]}; measure exit "
                                  f"{measured[0]} tb {'Traceback' in measured[2]}; API exit {api[0]} {(api[1] + api[2]).strip()[-90:]}")


def case_lock_symlink(c):
    run = c.finished_run("base")
    mine = c.out / "cases" / "my_notes_lock.txt"
    mine.write_text("the user's own notes")
    (run / ".lock").unlink(missing_ok=True)
    (run / ".lock").symlink_to(mine)
    result = c.main("--resume", run, "--num_epochs", "2")
    return verdict(result, run, f"user's file now {mine.read_text()[:30]!r}")


def case_tmp_symlink(c):
    run = c.finished_run("base")
    mine = c.out / "cases" / "my_notes_tmp.txt"
    mine.write_text("the user's own notes")
    (run / ".checkpoint.npz.tmp").symlink_to(mine)
    csv_mine = c.out / "cases" / "my_table.csv"
    csv_mine.write_text("the user's table")
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").symlink_to(csv_mine)
    result = c.main("--resume", run, "--num_epochs", "2")
    return verdict(result, run, f"user's file behind .checkpoint.npz.tmp now {mine.read_bytes()[:20]!r}; behind "
                                f"metrics.csv now {csv_mine.read_text()[:20]!r}")


def stop_when(proc, ready, signum, delay=0.0, timeout=120):
    """Send signum once ready() holds (and delay seconds more); the finished process's (rc, out, err)."""
    end = time.time() + timeout
    while proc.poll() is None and not ready() and time.time() < end:
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def case_ctrl_c_early_in_extension(c):
    run = c.finished_run("base")
    proc = c.start("run_main.py", "--resume", run, "--num_epochs", "3")
    result = stop_when(proc, lambda: not (run / "metrics.json").exists() or (run / "manifest.json").exists()
                       and '"extension"' in (run / "manifest.json").read_text(), signal.SIGINT, delay=0.3)
    cfg = json.loads((run / "config.json").read_text())
    restored = c.main("--restore", run)
    return verdict(result, run, f"config num_epochs {cfg['num_epochs']}, metrics.json there: "
                                f"{(run / 'metrics.json').exists()}; --restore then exits {restored[0]}")


def case_sigterm_in_final_figures(c):
    out = c.out / "cases" / "final"
    proc = c.start("run_main.py", "--model", "vae", "--n_train", "500", "--n_hidden", "32", "--num_epochs", "1",
                   "--dim_z", "2", "--PMLR", "--interp_n_steps", "40", "--results_path", out, "--run_name", "r")
    result = stop_when(proc, lambda: (out / "r" / "samples_epoch_01.png").exists(), signal.SIGTERM, delay=0.5)
    return verdict(result, out / "r", f"resume line: {'--resume' in result[2]}; metrics.json: "
                                      f"{(out / 'r' / 'metrics.json').exists()}")


def case_mismatched_arrays(c, legacy=False):
    run = c.finished_run("base")
    other = c.finished_run("small", "--n_hidden", "16")
    for name in ("checkpoint.npz", "model.weights.h5"):
        shutil.copyfile(other / name, run / name)
    if legacy:
        (run / "manifest.json").unlink(missing_ok=True)
    notes = []
    for label, result in (("resume", c.main("--resume", run, "--num_epochs", "2")), ("restore", c.main("--restore", run)),
                          ("measure", c.tool("measure", run, "--ll_k", "2", "--n_test", "200")),
                          ("compare", c.tool("compare_runs", run, other, "--out", c.out / "cases" / f"cmp{legacy}.png"))):
        v = verdict(result, run)
        notes.append(f"{label} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    m1 = c.finished_run("m1", "--dim_z", "4")
    shutil.copyfile(c.finished_run("m1x", "--dim_z", "3") / "model.weights.h5", m1 / "model.weights.h5")
    if legacy:
        (m1 / "manifest.json").unlink(missing_ok=True)
    m1m2 = c.main("--model", "m1m2", "--m1_run", m1, "--m1_dim_z", "4", "--n_hidden", "32", "--n_train", "500",
                  "--num_epochs", "1", "--PRR", "False", "--interp", "False", "--results_path", c.out / "cases" / f"m1m2{legacy}")
    v = verdict(m1m2)
    notes.append(f"m1_run {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return verdict(m1m2, None, "; ".join(notes))


def case_wrong_config(c):
    notes = []
    for label, text in (("list", "[]"), ("null", "null"), ("{}", "{}"), ("type", None), ("model", None)):
        run = c.finished_run("base")
        cfg = json.loads((run / "config.json").read_text())
        if label == "type":
            text = json.dumps(cfg | {"dim_z": "2"})
        elif label == "model":
            text = json.dumps(cfg | {"model": "gan"})
        (run / "config.json").write_text(text)
        for command, result in (("restore", c.main("--restore", run)), ("measure", c.tool("measure", run, "--ll_k", "2")),
                                ("resume", c.main("--resume", run, "--num_epochs", "2"))):
            v = verdict(result, run)
            notes.append(f"{label}/{command} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


def case_measure_cut_files(c):
    notes = []
    for name in ("config.json", "metrics.json"):
        run = c.finished_run("base")
        text = (run / name).read_text()
        (run / name).write_text(text[:len(text) // 2])
        v = verdict(c.tool("measure", run, "--ll_k", "2"), run)
        notes.append(f"{name} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


def case_compare_runs_inputs(c):
    run = c.finished_run("base")
    long_a = c.out / "cases" / ("a" * 150)
    long_b = c.out / "cases" / ("b" * 150)
    for long in (long_a, long_b):
        if not long.exists():
            shutil.copytree(run, long)
    notes = []
    for label, args in (("nan", [run, run, "--resize_factor", "nan", "--out", c.out / "cases" / "n.png"]),
                        ("inf", [run, run, "--resize_factor", "inf", "--out", c.out / "cases" / "i.png"]),
                        ("missing --out folder", [run, run, "--out", c.out / "cases" / "no" / "such" / "c.png"]),
                        ("long names", [long_a, long_b]),
                        ("huge", [run, run, "--n_img_x", "100000", "--out", c.out / "cases" / "h.png"])):
        v = verdict(c.tool("compare_runs", *args, timeout=120))
        notes.append(f"{label} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


def case_summarize_unwritable(c):
    run = c.finished_run("base")
    v = verdict(c.tool("summarize", run, "--curves", "/proc/curves.png"))
    w = verdict(c.tool("summarize", run, "--out", "/proc/summary"))
    return v | {"note": f"--out onto /proc: {w['exit']}/{w['stderr_lines']}{'/tb' if w['traceback'] else ''}"}


def case_example_outputs(c):
    run = c.finished_run("base")
    notes = []
    for label, target in (("missing folder", c.out / "cases" / "nowhere" / "x.png"), ("unknown extension", c.out / "cases" / "x.xyz")):
        v = verdict(c.run("examples/api.py", run, target))
        notes.append(f"{label} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


def case_tune_space_types(c):
    notes = []
    for space in ('{"dim_z": ["a"]}', '{"learn_rate": ["x"]}', '{"add_noise": [3]}', '{"dim_z": [2.5]}',
                  '{"dim_z": {"randint": ["a", 3]}}', '{"model": [1]}'):
        v = verdict(c.tool("tune", "--space", space, "--n_valid", "100", timeout=120))
        notes.append(f"{space} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


def case_measure_interrupted(c, signum):
    run = c.finished_run("base")
    before = (run / "metrics.json").read_bytes()
    proc = c.start("-m", "tools.measure", run, "--ll_k", "2000")
    result = stop_when(proc, lambda: False, signum, delay=0, timeout=12)
    return verdict(result, run, f"metrics.json unchanged: {(run / 'metrics.json').read_bytes() == before}")


def case_unwritable_tensorboard(c):
    out = c.out / "cases" / "tb"
    proc = c.start("run_main.py", *TINY[:-6], "--num_epochs", "3", "--n_train", "2000", "--n_hidden", "32",
                   "--PRR", "False", "--interp", "False", "--results_path", out, "--run_name", "r")
    stop_when(proc, lambda: (out / "r" / "metrics.csv").exists(), signal.SIGINT)
    shutil.rmtree(out / "r" / "tensorboard", ignore_errors=True)
    (out / "r" / "tensorboard").write_text("not a folder")
    return verdict(c.main("--resume", out / "r"), out / "r", "families'")


def case_prr_pixels(c):
    return verdict(c.main(*TINY[:-4], "--PRR_n_img_x", "50", "--PRR_n_img_y", "50", "--PRR_resize_factor", "5",
                          "--interp", "False", "--results_path", c.out / "cases" / "prr"), None, "families'")


def case_full_disk(c):
    out = c.out / "cases" / "disk"
    result = c.run(f"ulimit -f 1200; {sys.executable} run_main.py --model vae --n_train 500 --num_epochs 1 --PRR False "
                   f"--interp False --n_hidden 100 --results_path {out} --run_name r", shell=True)
    tsv = out / "r" / "tensorboard" / "tensors.tsv"
    return verdict(result, out / "r" if (out / "r").exists() else None,
                   f"tensors.tsv lines: {len(tsv.read_text().splitlines()) if tsv.exists() else 'none'}")


def case_sweep_jobs(c, jobs):
    out = c.out / "cases" / f"sweep_{jobs}"
    result = c.run(f"JOBS={jobs} EPOCHS=1 N_TRAIN=500 scripts/sweep.sh {out}", shell=True, timeout=20)
    return verdict(result, None, f"JOBS={jobs}")


def case_learn_rate(c):
    result = c.main(*TINY, "--learn_rate", "1e14", "--results_path", c.out / "cases" / "lr")
    return verdict(result, None, "families': " + (result[1].strip().splitlines() or [""])[-1][:80])


API_CASES = {
    "run_name=None": "train(model='vae', n_train=500, n_hidden=32, num_epochs=1, PRR=False, interp=False, "
                     "results_path=OUT, run_name=None, data_dir=None)",
    "run_name='--x'": "train(model='vae', n_train=500, n_hidden=32, num_epochs=1, PRR=False, interp=False, "
                      "results_path=OUT, run_name='--x')",
}


def case_api_defaults(c, label):
    out = c.out / "cases" / f"api_{len(list((c.out / 'cases').glob('api_*')))}"
    out.mkdir(parents=True)
    code = f"from training.api import train\nprint({API_CASES[label].replace('OUT', repr(str(out)))})"
    result = c.run("-c", code)
    return verdict(result, None, f"folders made: {sorted(p.name for p in out.iterdir())}")


def case_api_labels(c):
    run = c.finished_run("cvae", "--model", "cvae")
    code = ("import sys, numpy as np\nfrom training.api import load_run\nrun = load_run(sys.argv[1])\n"
            "for label in (-1, 3.7, 10):\n"
            "    try:\n        x = run.sample(2, label=label); print(label, 'accepted')\n"
            "    except ValueError as e:\n        print(label, 'ValueError', e)\n")
    result = c.run("-c", code, run)
    return verdict(result, None, result[1].strip().replace("\n", "; ")[:200])


def case_results_symlink(c, kind):
    link = c.out / "cases" / f"link_{kind}"
    link.unlink(missing_ok=True)
    link.symlink_to(c.out / "cases" / "nowhere" if kind == "dangling" else link)
    return verdict(c.main(*TINY, "--results_path", link))


def case_cuda_log(c, stub):
    result = c.main(*TINY, "--learn_rate", "1e30", "--results_path", c.out / "cases" / "cuda",
                    env={"LD_LIBRARY_PATH": stub})
    return verdict(result, None, "stderr: " + " | ".join(line[:60] for line in result[2].strip().splitlines()))


def case_numeric_tool_flags(c):
    run = c.finished_run("base")
    notes = []
    for label, result in (("measure --ll_k 1e9", c.tool("measure", run, "--ll_k", "1000000000", timeout=30)),
                          ("measure --n_test nan", c.tool("measure", run, "--n_test", "nan", timeout=30)),
                          ("tune --cpus_per_trial nan", c.tool("tune", "--space", '{"dim_z": [2]}', "--n_valid", "100",
                                                               "--cpus_per_trial", "nan", timeout=60)),
                          ("tune --num_samples 1e9", c.tool("tune", "--space", '{"dim_z": [2]}', "--n_valid", "100",
                                                            "--num_samples", "1000000000", "--num_cpus", "0", timeout=60)),
                          ("tune --grace_period 0", c.tool("tune", "--space", '{"dim_z": [2]}', "--n_valid", "100",
                                                           "--grace_period", "0", "--num_cpus", "0", timeout=60)),
                          ("classifier --epochs 1e9", c.tool("classifier", "--out", c.out / "cases" / "clf.weights.h5",
                                                             "--epochs", "1000000000", timeout=30))):
        v = verdict(result)
        notes.append(f"{label} {v['exit']}/{v['stderr_lines']}{'/tb' if v['traceback'] else ''}")
    return {"exit": "-", "stderr_lines": "-", "traceback": any("/tb" in n for n in notes), "tmp": "", "line": "",
            "note": "; ".join(notes)}


CASES = {
    "deleted_weights_and_checkpoint": case_deleted_weights_and_checkpoint,
    "measure_during_extension": case_measure_during_extension,
    "changed_weight": case_changed_weight,
    "nan_weight": case_nan_weight,
    "lock_symlink": case_lock_symlink,
    "tmp_and_csv_symlinks": case_tmp_symlink,
    "ctrl_c_early_in_extension": case_ctrl_c_early_in_extension,
    "sigterm_in_final_figures": case_sigterm_in_final_figures,
    "mismatched_arrays": case_mismatched_arrays,
    "mismatched_arrays_no_manifest": lambda c: case_mismatched_arrays(c, legacy=True),
    "wrong_config": case_wrong_config,
    "measure_cut_files": case_measure_cut_files,
    "compare_runs_inputs": case_compare_runs_inputs,
    "summarize_unwritable": case_summarize_unwritable,
    "example_outputs": case_example_outputs,
    "tune_space_types": case_tune_space_types,
    "measure_ctrl_c": lambda c: case_measure_interrupted(c, signal.SIGINT),
    "measure_sigterm": lambda c: case_measure_interrupted(c, signal.SIGTERM),
    "unwritable_tensorboard": case_unwritable_tensorboard,
    "prr_pixels": case_prr_pixels,
    "full_disk": case_full_disk,
    "sweep_jobs_0": lambda c: case_sweep_jobs(c, "0"),
    "sweep_jobs_abc": lambda c: case_sweep_jobs(c, "abc"),
    "learn_rate_1e14": case_learn_rate,
    "api_run_name_none": lambda c: case_api_defaults(c, "run_name=None"),
    "api_run_name_dashes": lambda c: case_api_defaults(c, "run_name='--x'"),
    "api_labels": case_api_labels,
    "results_path_dangling": lambda c: case_results_symlink(c, "dangling"),
    "results_path_loop": lambda c: case_results_symlink(c, "loop"),
    "numeric_tool_flags": case_numeric_tool_flags,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout")
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", default=None, help="comma-separated case names")
    parser.add_argument("--cuda_stub", default=None,
                        help="a folder with libcuda.so.1 (and libcudart) whose cuInit fails: adds the TensorFlow log case")
    args = parser.parse_args()
    c = Checkout(args.checkout, args.out)
    (c.out / "cases").mkdir(parents=True, exist_ok=True)
    cases = dict(CASES)
    if args.cuda_stub:
        cases["cuda_log"] = lambda c: case_cuda_log(c, args.cuda_stub)
    names = args.only.split(",") if args.only else list(cases)
    results = {}
    for name in names:
        start = time.time()
        try:
            results[name] = cases[name](c)
        except Exception as err:  # noqa: BLE001  (the script records a case it could not run, and goes on)
            results[name] = {"exit": "?", "note": f"case failed: {type(err).__name__}: {err}"}
        results[name]["seconds"] = round(time.time() - start, 1)
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    (c.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
