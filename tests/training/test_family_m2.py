"""M2 and M1+M2 training (training.family_m2): M1's active units, the labels-only baseline, the best epoch, and
runs of each model: a smoke run through the CLI, and a stopped run resumed."""
import csv
import json
import subprocess

import numpy as np
import pytest
from scipy.stats import norm

import tf_setup  # noqa: F401
from keras import ops

from m2.labels import balanced_labelled_indices
from m2.losses import gaussian_nll
from m2.model import M1M2
from training.family_m2 import active_units, supervised_baseline_error, z1_sampler
from training.loop import best_by_validation
from training.flags import M1_TRAINING, parse_args, with_flag_defaults


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def test_the_best_epoch_is_picked_by_the_validation_error():
    rows = [{"epoch": e, "valid_error": v, "test_error": t} for e, v, t in [(1, "5.0", "6"), (2, "3.5", "4"),
                                                                           (3, "3.5", "3"), (4, "4.0", "2")]]
    best = best_by_validation(rows, ("error", "error"))
    assert best == {"best_valid_epoch": 2, "valid_error_at_best": 3.5, "test_error_at_best": 4.0}  # not the lowest test error


def test_m1m2_counts_only_m1s_active_units():
    z_mean = np.zeros((50, 4), np.float32)
    z_mean[:, 1] = np.linspace(-1, 1, 50)  # only unit 1 varies across images
    z_mean[:, 3] = np.linspace(0, 0.2, 50)  # std 0.06: inactive
    mask = active_units(z_mean)
    np.testing.assert_array_equal(mask, [0, 1, 0, 0])
    model = M1M2(dim_z=2, n_hidden=8, m1_dim_z=4)
    model.m2.x_mask.assign(mask)
    x = np.random.default_rng(3).uniform(size=(3, 784)).astype(np.float32)
    features = np_(model.features(x))
    np.testing.assert_array_equal(features[:, [0, 2, 3]], 0)
    np.testing.assert_allclose(features[:, 1], np_(model.m1.encode(x)[0])[:, 1], rtol=1e-6)
    # The likelihood leaves the inactive units out: changing them changes nothing.
    mean, std = np.float32([[0.0, 0.5, 9.0, 9.0]]), np.float32([[1.0, 2.0, 0.01, 0.01]])
    z = np.float32([[5.0, 0.3, -9.0, 1.0]])
    np.testing.assert_allclose(np_(gaussian_nll(z, mean, std, mask)), [-norm.logpdf(0.3, 0.5, 2.0)], rtol=1e-5)
    # Training draws z1 ~ q(z1|x) from rows holding [mean, std]; inactive units stay 0.
    rows = np.concatenate([np.tile(mean, (2000, 1)), np.tile(np.float32([[1.0, 0.1, 1.0, 1.0]]), (2000, 1))], 1)
    import tensorflow as tf
    draws = np_(tf.function(z1_sampler(mask), jit_compile=True)(tf.constant(rows), tf.constant([0, 1], tf.int64)))
    np.testing.assert_array_equal(draws[:, [0, 2, 3]], 0)
    assert abs(draws[:, 1].mean() - 0.5) < 0.01 and abs(draws[:, 1].std() - 0.1) < 0.01


def test_supervised_baseline_learns_from_the_labels_alone_and_is_fixed_by_the_seed():
    from data.prepare import load_run_data
    data = load_run_data(with_flag_defaults({"n_train": 3000, "seed": 0, "model": "cvae", "dim_z": 2, "add_noise": False}))
    idx = balanced_labelled_indices(np.argmax(data.y_train, 1), 100, seed=0)
    x_test, y_test = data.x_test[:2000], data.y_test[:2000]
    error = supervised_baseline_error(data.x_train[idx], data.y_train[idx], x_test, y_test, 64, 300, seed=0)
    assert 5 < error < 45  # far below chance (90%) from 100 labels, and not a perfect classifier
    assert supervised_baseline_error(data.x_train[idx], data.y_train[idx], x_test, y_test, 64, 300, seed=0) == error
    shuffled = np.random.default_rng(0).permutation(data.y_train[idx])  # labels that say nothing about the images
    assert supervised_baseline_error(data.x_train[idx], shuffled, x_test, y_test, 64, 300, seed=0) > error + 20



def smoke_args(model):
    """The flags of each model's smoke run: 900 images, of which the last 100 are held out for validation, so
    that 50 labelled and 750 unlabelled images are left."""
    args = ["--model", model, "--n_train", "900", "--n_valid", "100", "--n_labeled", "50", "--num_epochs", "1",
            "--n_hidden", "32", "--dim_z", "2", "--m1_dim_z", "4", "--m1_epochs", "1", "--batch_size", "64"]
    # The reload below rebuilds this shape from config.json, and binarizes the test set as the run did.
    return args + (["--m2_hidden", "16"] if model == "m1m2" else ["--binarize", "dynamic"])


@pytest.fixture(scope="module")
def semi_smoke_runs(tmp_path_factory, cli):
    """Both models' smoke runs through the CLI, started at once (a tiny run leaves much of the CPU idle):
    model -> (run folder, the finished CompletedProcess)."""
    started = {}
    for model in ("m2", "m1m2"):
        results = tmp_path_factory.mktemp(f"semi_smoke_{model}")
        started[model] = results / "r", cli.start(*smoke_args(model), "--results_path", results, "--run_name", "r")
    finished = {}
    for model, (run_dir, proc) in started.items():
        stdout, stderr = proc.communicate(timeout=300)
        finished[model] = run_dir, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return finished


@pytest.mark.slow
@pytest.mark.parametrize("model", ["m2", "m1m2"])
def test_smoke_run_reports_test_error_and_reloads(semi_smoke_runs, tmp_path, model):
    from data.prepare import load_run_data
    from evaluation.metrics import make_test_error
    from training.families import load_trained_model
    run_dir, out = semi_smoke_runs[model]
    assert out.returncode == 0, out.stderr
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.csv", "metrics.json", "model.weights.h5", "labelled_indices.txt",
            "PRR_input.png", "PRR_epoch_01.png"} <= names
    assert ("m1" in names) == (model == "m1m2")
    if model == "m1m2":  # M1 trains on the same 800 images as M2, not on the validation set
        assert json.loads((run_dir / "m1" / "metrics.json").read_text())["n_train"] == 800
        # ... with M1's own optimiser, not M2's --batch_size 64 and constant rate
        m1_cfg = json.loads((run_dir / "m1" / "config.json").read_text())
        m2_cfg = json.loads((run_dir / "config.json").read_text())
        assert (m2_cfg["batch_size"], m2_cfg["lr_decay"]) == (64, 1.0)
        assert {k: m1_cfg[k] for k in M1_TRAINING} == M1_TRAINING and M1_TRAINING["batch_size"] != 64
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["test_error"]) == round(metrics["test_error"], 2)
    assert metrics["n_labeled"] == 50 and metrics["n_unlabeled"] == 750 and 0 <= metrics["test_error"] <= 100
    assert metrics["n_train"] == 800 and metrics["n_valid"] == 100
    assert metrics["best_valid_epoch"] == 1 and metrics["valid_error_at_best"] == float(rows[0]["valid_error"])
    assert metrics["test_error_at_best"] == float(rows[0]["test_error"])
    assert "test classification error" in out.stdout and "lowest validation error" in out.stdout
    labels = np.argmax(load_run_data(json.loads((run_dir / "config.json").read_text())).y_train[:800], 1)
    np.testing.assert_array_equal(np.loadtxt(run_dir / "labelled_indices.txt", dtype=int),
                                  balanced_labelled_indices(labels, 50, seed=0))
    cfg, reloaded = load_trained_model(run_dir)
    data = load_run_data(cfg)
    assert make_test_error(reloaded.classify)(data.x_test, data.y_test) == pytest.approx(metrics["test_error"])
    # --restore measures the same error again, beside the figures it remakes.
    from tools.restore import restore
    (tmp_path / "restored").mkdir()
    restored = restore(cfg | {"PRR": False, "interp": False}, run_dir, tmp_path / "restored")
    assert restored["test_error"] == pytest.approx(metrics["test_error"])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["m1m2"])  # M2 within M1+M2: the same M2 steps and checkpoints, and M1's run besides
def test_stopped_semisupervised_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, model):
    import contextlib
    import signal
    from runs import checkpoint
    from training import family_m2
    from runs.folder import RunFolder
    from training.families import train_and_evaluate
    monkeypatch.setattr(family_m2, "STEPS_PER_CALL", 4)  # 11 steps an epoch: calls of 4, 4 and 3 steps
    args = ["--model", model, "--n_train", "800", "--n_labeled", "50", "--num_epochs", "2", "--n_hidden", "16",
            "--dim_z", "2", "--m1_dim_z", "4", "--m1_epochs", "1", "--batch_size", "64", "--PRR", "False",
            "--interp", "False"]

    def rows(run_dir):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]

    def run(name):
        run_dir = tmp_path / name
        run_dir.mkdir()
        cfg = vars(parse_args(args + ["--results_path", str(tmp_path)])) | {"run_dir": str(run_dir)}
        return run_dir, (lambda: train_and_evaluate(cfg, RunFolder(run_dir)))

    ref_dir, train_ref = run("reference")
    ref_metrics = train_ref()
    polls = []

    run_dir, train_stopped = run("stopped")

    @contextlib.contextmanager
    def sigterm_at_poll_six():  # of M2's polls: 1-3 precede epoch 1's calls, 4 ends it, 5 and 6 precede epoch 2's
        m2_started = (run_dir / "m1" / "model.weights.h5").exists() or model == "m2"  # M1's own run polls too
        yield lambda: m2_started and (polls.append(1) or (signal.SIGTERM if len(polls) >= 6 else 0))

    monkeypatch.setattr(checkpoint, "ctrl_c_requests", sigterm_at_poll_six)
    with pytest.raises(checkpoint.Stopped) as stopped:
        train_stopped()
    assert stopped.value.signum == signal.SIGTERM and not (run_dir / "metrics.json").exists()
    with np.load(run_dir / checkpoint.CHECKPOINT) as f:
        position = json.loads(str(f["position"]))
    assert (position["epoch"], position["calls_done"], position["step"]) == (2, 1, 11 + 4)
    assert rows(run_dir) == rows(ref_dir)[:1]

    monkeypatch.setattr(checkpoint, "ctrl_c_requests", lambda: contextlib.nullcontext(lambda: 0))
    metrics = train_stopped()  # the same folder again: continues from its checkpoint (M1 is reused, not retrained)
    assert rows(run_dir) == rows(ref_dir)
    assert metrics["test_error"] == ref_metrics["test_error"] and metrics["test_neg_elbo"] == ref_metrics["test_neg_elbo"]
