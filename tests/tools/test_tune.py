"""python -m tools.tune, the Ray Tune sweep: a two-trial grid on tiny data, on a Ray started on this machine.

Both run in a folder of their own (cwd tmp_path), so that the sweep's relative --results_path lands there."""
import csv
import json

import pytest


def test_space_errors_are_one_line_and_exit_2_without_ray(cli, tmp_path):
    for space in ('{"n_hidden": {"uniform": [1, 9]}}', '{"dim_z": [2, -1]}', '{"results_path": ["a"]}', "{bad"):
        out = cli.tool("tune", "--space", space, cwd=tmp_path, timeout=60)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "--space" in out.stderr or "--dim_z" in out.stderr


@pytest.mark.slow
def test_two_trial_sweep_writes_run_folders_and_reports_each_epoch(cli, tmp_path):
    pytest.importorskip("ray.tune")
    results = tmp_path / "results"
    out = cli.tool("tune", "--space", '{"dim_z": [2, 3]}', "--num_cpus", "2", "--model", "vae", "--n_train", "500",
                   "--num_epochs", "2", "--n_hidden", "16", "--PRR", "False", "--results_path", "results",
                   cwd=tmp_path, timeout=400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run_dirs = sorted(p for p in results.iterdir() if p.is_dir() and p.name != "_tune")
    assert [json.loads((d / "config.json").read_text())["dim_z"] for d in run_dirs] == [2, 3]
    reported = {}
    for result_file in (results / "_tune").glob("*/*/result.json"):
        for line in result_file.read_text().splitlines():
            report = json.loads(line)
            reported.setdefault(report["run_dir"], []).append(report)
    assert sorted(reported) == [str(d) for d in run_dirs]
    for d in run_dirs:
        assert {"metrics.json", "model.weights.h5", "checkpoint.npz"} <= {p.name for p in d.iterdir()}
        csv_rows = list(csv.DictReader((d / "metrics.csv").open()))
        assert [(r["epoch"], float(r["test_loss"])) for r in csv_rows] == \
               [(str(r["epoch"]), r["test_loss"]) for r in reported[str(d)]]
    assert "best: " in out.stdout
