"""python -m tools.tune, the Ray Tune sweep: flag errors without Ray, and one two-trial sweep on tiny data on a Ray
started on this machine, with one trial's worker killed mid-sweep.

The sweep runs in a folder of its own (cwd tmp_path), so that its relative --results_path lands there."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

EPOCHS = 5
# 50 steps an epoch (1000 training images in batches of 20), so that the kill lands before the trial's end.
SWEEP = ["--space", '{"dim_z": [2, 2]}', "--num_cpus", "2", "--max_failures", "1", "--model", "vae",
         "--n_train", "1100", "--n_valid", "100", "--batch_size", "20", "--num_epochs", str(EPOCHS), "--n_hidden", "16",
         "--PRR", "False", "--interp", "False", "--results_path", "results"]


def test_space_errors_are_one_line_and_exit_2_without_ray(cli, tmp_path):
    for space in ('{"n_hidden": {"uniform": [1, 9]}}', '{"dim_z": [2, -1]}', '{"results_path": ["a"]}', "{bad",
                  '{"n_valid": [10, 20]}'):
        out = cli.tool("tune", "--space", space, "--n_valid", "100", cwd=tmp_path, timeout=60)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "--space" in out.stderr or "--dim_z" in out.stderr
    out = cli.tool("tune", "--space", '{"dim_z": [2, 3]}', cwd=tmp_path, timeout=60)  # no --n_valid: never on test
    assert out.returncode == 2 and "argument --n_valid: a sweep chooses on validation images" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def reports(results):
    """Tune's records of each trial so far, by trial folder: the rows it reported, in order."""
    found = {}
    for result_file in (results / "_tune").glob("*/*/result.json"):
        found[result_file.parent.name] = [json.loads(line) for line in result_file.read_text().splitlines() if line]
    return found


def rows(run_dir):
    """metrics.csv without the seconds column, which is a measurement and not a result."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]


@pytest.mark.slow
def test_a_trial_whose_worker_is_killed_continues_its_run_to_the_same_numbers(cli, tmp_path):
    pytest.importorskip("ray.tune")
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "tools.tune", *SWEEP], cwd=tmp_path, env=cli.env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed, end = None, time.time() + 300
    while killed is None and proc.poll() is None and time.time() < end:  # the first trial to report epoch 1
        for name, reported in reports(results).items() if (results / "_tune").exists() else ():
            if reported and reported[-1]["epoch"] < EPOCHS - 1:
                killed = name, reported[-1]["pid"], reported[-1]["epoch"]
                os.kill(killed[1], signal.SIGKILL)
                break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert killed, "no trial was caught mid-run"
    assert proc.returncode == 0, out[-3000:] + err[-3000:]

    run_dirs = sorted(p for p in results.iterdir() if p.is_dir() and p.name != "_tune")
    assert len(run_dirs) == 2  # the killed trial went on in its own folder, it did not start a new one
    assert rows(run_dirs[0]) == rows(run_dirs[1]) and len(rows(run_dirs[0])) == EPOCHS
    assert all((d / "metrics.json").exists() for d in run_dirs)
    after = reports(results)
    epochs = [r["epoch"] for r in after[killed[0]]]
    assert epochs == sorted(set(epochs)) and epochs[-1] == EPOCHS  # continued from its checkpoint, no epoch twice
    assert after[killed[0]][-1]["pid"] != killed[1]  # in a new worker
    for reported in after.values():  # every report is the run's metrics.csv row of its epoch
        run_dir = reported[-1]["run_dir"]
        table = {r["epoch"]: r for r in csv.DictReader(open(os.path.join(run_dir, "metrics.csv")))}
        assert all(float(table[str(r["epoch"])]["valid_loss"]) == r["valid_loss"] for r in reported)
    assert "ranking trials by valid_loss" in out and "chosen: " in out and "| run | dim_z | best epoch" in out
