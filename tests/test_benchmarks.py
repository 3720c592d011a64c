"""The benchmarks: the speed benchmark's flop count and a tiny run that writes its whole report, the M2 step and
M1 feature screens, and Table 1's cells. Each test imports its benchmark itself, so that one broken benchmark
fails its own tests and not the collection of the whole suite."""
import json

import pytest


def test_epoch_flops_match_a_hand_count():
    from benchmarks.limit import epoch_flops, step_matmuls
    # CVAE, dim_z 20, 500 hidden units: encoder 794-500-500-40, decoder 30-500-500-784.
    macs = 794 * 500 + 500 * 500 + 500 * 40 + 30 * 500 + 500 * 500 + 500 * 784
    per_image = 3 * 2 * macs - 2 * 794 * 500  # forward + two gradients, but no gradient for the data
    assert epoch_flops("cvae", 20, 500, 128, 60000) == per_image * 60000 == 429_000_000_000
    # The leftover batch counts with its own size: 1000 = 7 * 128 + 104.
    assert epoch_flops("vae", 2, 64, 128, 1000) == epoch_flops("vae", 2, 64, 1, 1) * 1000
    assert len(step_matmuls("vae", 2, 64, 128)) == 6 * 3 - 1


def test_label_weight_gives_each_labelled_image_that_weight(cli):
    from benchmarks.semisup_table1 import label_weight_alpha
    # The paper's alpha = 0.1 N is a weight of 60 per labelled image with 100 of 60000 labels...
    assert abs(label_weight_alpha(60, 100) - 0.1) < 1e-12
    # ...and a fixed weight scales alpha with the label count: alpha N / n_labeled is the weight again.
    for n in (600, 1000, 3000):
        assert abs(label_weight_alpha(60, n) * 60000 / n - 60) < 1e-9
    out = cli.python(cli.root / "benchmarks" / "semisup_table1.py", "--out", "unused", "--label_weight", "60",
                     "--extra", "--alpha 1")
    assert out.returncode == 2 and "not both" in out.stderr


def test_table_shows_the_test_error_where_validation_would_stop():
    from benchmarks.semisup_table1 import error_cell
    assert error_cell(None) == "failed"
    assert error_cell({"test_error": 9.514}) == "9.51"
    with_valid = {"test_error": 9.514, "best_valid_epoch": 41, "test_error_at_best": 9.3}
    assert error_cell(with_valid) == "9.51 (9.30 at epoch 41, lowest validation error)"


@pytest.mark.slow
def test_quick_benchmark_writes_json_and_markdown(cli, tmp_path):
    out = cli.python(cli.root / "benchmarks" / "speed.py", "--quick", "--out", tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["mode"] == "quick"
    for row in report["training"] + report["scaling"]:
        assert row["epoch_seconds"] > 0 and row["limit_seconds"] > 0 and row["gflop_per_epoch"] > 0
        assert abs(row["ratio_to_limit"] - row["epoch_seconds"] / row["limit_seconds"]) < 1e-9
    assert {(r["model"], r["dim_z"], r["add_noise"]) for r in report["training"]} == {("cvae", 2, True), ("vae", 20, False)}
    assert [r["lever"] for r in report["levers"]] == ["baseline"] and report["levers"][0]["speedup_vs_baseline"] == 1
    steps = report["breakdown"]["ms_per_step"]
    assert all(steps[k] > 0 for k in ("step", "step_without_update", "matmuls_xla", "matmuls_limit"))
    parts = report["breakdown"]["parts_ms"]  # the parts add up to the whole step
    assert abs(sum(parts.values()) - steps["step"]) < 1e-9
    e2e = report["end_to_end"]
    assert e2e["peak_memory_mb"] > 100  # TensorFlow alone takes more; a bogus (zero) rusage would fail
    assert e2e["wall_seconds"] > e2e["in_process_seconds"] >= e2e["train_seconds"] + e2e["evaluate_seconds"] > 0
    stages = report["startup_to_first_step"]
    assert 0 < stages["imports"] <= stages["data"] <= stages["first_step"]
    assert all(m["gflops_per_second"] > 0 for m in report["limit_matmuls"])
    text = (tmp_path / "speed.md").read_text()
    for heading in ("## Training, batch 128", "## Where a training step's time goes", "## Scaling", "## Levers",
                    "## End to end"):
        assert heading in text


@pytest.mark.slow
def test_m2_step_benchmark_times_two_ways_that_train_alike(cli):
    out = cli.python(cli.root / "benchmarks" / "m2_step.py", "--n_hidden", "16", "--dim_z", "4", "--steps", "5",
                     "--repeats", "2", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    losses, ms = {}, {}
    for words in (line.split() for line in out.stdout.splitlines()):
        if "loss" in words:
            losses[words[0]] = float(words[-1])
        elif "ms/step" in words:
            ms[words[0]] = float(words[1])
    assert set(losses) == set(ms) == {"shared", "repeated"} and min(ms.values()) > 0
    assert losses["shared"] > 0 and abs(losses["shared"] - losses["repeated"]) <= 1e-4 * losses["shared"]
    ratio = float(out.stdout.split("repeated / shared:")[1].split("x")[0])
    assert abs(ratio - ms["repeated"] / ms["shared"]) < 0.02


def test_m1_screen_classifies_by_the_nearest_labelled_image():
    import numpy as np
    from benchmarks.m1_features import nearest_label_error, screen
    # Two labelled references. [0.1, 1] points the way of [0, 10] (label 1) but lies nearer [1, 0] (label 0).
    train, labels = np.array([[1.0, 0.0], [0.0, 10.0]]), np.array([0, 1])
    test, test_labels = np.array([[0.1, 1.0], [3.0, 0.5]]), np.array([1, 0])
    assert nearest_label_error(train, labels, test, test_labels, np.array([0, 1])) == 50.0
    assert nearest_label_error(train, labels, test, test_labels, np.array([0, 1]), cosine=True) == 0.0
    # Features that hold the class give no error with the balanced labelled images of any seed; noise about 90%.
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 10, 2000), rng.integers(0, 10, 500)
    onehot = np.eye(10)
    clean = screen((onehot[y_train] + 0.01 * rng.random((2000, 10)), onehot[y_test]), y_train, y_test, 50, [0, 1])
    assert clean == {"euclid": [0.0, 0.0], "cosine": [0.0, 0.0]}
    noise = screen((rng.random((2000, 10)), rng.random((500, 10))), y_train, y_test, 50, [0])
    assert 80.0 < noise["euclid"][0] < 100.0
