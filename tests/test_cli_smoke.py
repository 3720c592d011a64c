"""End to end through the CLI, as a user or a CI smoke run calls it."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--n_train", "1000", "--num_epochs", "1"]


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "run_main.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("model, extra", [("cvae", []), ("vae", ["--add_noise", "True", "--PRR_resize_factor", "0.5"])])
def test_smoke_run_writes_a_complete_run_folder(tmp_path, model, extra):
    results = tmp_path / "results"
    results.mkdir()
    mine = results / "my_notes.txt"
    mine.write_text("keep me")
    out = run_cli("--model", model, "--dim_z", "2", *SMALL, *extra, "--results_path", str(results))
    assert out.returncode == 0, out.stderr
    assert mine.read_text() == "keep me"
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    names = {p.name for p in run_dir.iterdir()}
    expected = {"config.json", "metrics.csv", "metrics.json", "model.weights.h5", "PRR_input.png", "PRR_epoch_01.png"}
    assert expected <= names
    assert ("PRR_input_noisy.png" in names) == bool(extra)
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"] == model and cfg["dim_z"] == 2 and cfg["add_noise"] == bool(extra)
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["n_train"] == 1000 and metrics["n_test"] == 10000
    assert 50 < metrics["test_neg_elbo"] < 550
    assert abs(metrics["test_neg_elbo"] - metrics["test_recon"] - metrics["test_kl"]) < 1e-3
    side = 14 if extra else 28
    assert Image.open(run_dir / "PRR_epoch_01.png").size == (10 * side, 10 * side)
    assert "epoch 1/1" in out.stdout and "test" in out.stdout
    assert "cuda" not in (out.stdout + out.stderr).lower()


def test_same_seed_same_metrics_and_run_name_never_overwritten(tmp_path):
    args = ["--model", "vae", "--n_train", "600", "--num_epochs", "2", "--PRR", "False", "--results_path", str(tmp_path)]
    first = run_cli(*args, "--run_name", "a", "--seed", "3")
    second = run_cli(*args, "--run_name", "b", "--seed", "3")
    other = run_cli(*args, "--run_name", "c", "--seed", "4")
    assert first.returncode == second.returncode == other.returncode == 0
    def losses(name):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((tmp_path / name / "metrics.csv").open())]
    assert losses("a") == losses("b")
    assert losses("a") != losses("c")
    before = (tmp_path / "a" / "metrics.csv").read_text()
    again = run_cli(*args, "--run_name", "a")
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (tmp_path / "a" / "metrics.csv").read_text() == before


def test_truncated_data_is_one_line_and_exit_1(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    damaged = data / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    out = run_cli("--data_dir", str(data), *SMALL, "--results_path", str(tmp_path / "r"))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "train-labels-idx1-ubyte" in lines[0]
    assert "Traceback" not in out.stderr


def test_trained_model_reloads_from_its_run_folder(tmp_path):
    import numpy as np
    from evaluate import load_run_data, make_evaluate, evaluate
    from train import load_trained_model
    out = run_cli("--model", "cvae", "--n_train", "500", "--num_epochs", "1", "--n_hidden", "32",
                  "--results_path", str(tmp_path), "--run_name", "r")
    assert out.returncode == 0, out.stderr
    cfg, model = load_trained_model(tmp_path / "r")
    data = load_run_data(cfg)
    terms = evaluate(make_evaluate(model), data.x_test_in, data.x_test, data.y_test, data.eps_test)
    saved = __import__("json").loads((tmp_path / "r" / "metrics.json").read_text())
    np.testing.assert_allclose(terms["loss"], saved["test_neg_elbo"], rtol=1e-5)
