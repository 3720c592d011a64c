"""M2 and M1+M2: the semi-supervised bounds, the labelled split, the flags, and a smoke run of each model."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

import tf_setup  # noqa: F401
from keras import ops

from config import M1_TRAINING, parse_args
from losses import (classification_nll, gaussian_nll, negative_labelled_bound, negative_unlabelled_bound,
                    semi_supervised_loss)
from m2 import M1M2, M2
from semisup import balanced_labelled_indices, best_by_validation, hold_out, labelled_batches

ROOT = Path(__file__).resolve().parent.parent


def np_(t):
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


@pytest.mark.parametrize("dim_x, gaussian_x, m2_hidden", [(784, False, 0), (6, True, 0), (6, True, 5)])
def test_unlabelled_bound_is_expected_labelled_bound_plus_entropy(dim_x, gaussian_x, m2_hidden):
    rng = np.random.default_rng(0)
    model = M2(dim_z=3, n_hidden=7, dim_x=dim_x, gaussian_x=gaussian_x, m2_hidden=m2_hidden)
    x = (rng.normal(size=(5, dim_x)) if gaussian_x else rng.uniform(size=(5, dim_x))).astype(np.float32)
    eps = rng.standard_normal((5, 3)).astype(np.float32)
    one_batch = np_(model.unlabelled_loss(x, eps))  # all ten labels tiled into one batch
    # The other way: -L(x, y) label by label, then E_q[-L] - H(q) in float64 numpy.
    neg_l = np.stack([np_(model.loss_terms(x, x, np.tile(np.eye(10, dtype=np.float32)[k], (5, 1)), eps)["loss"])
                      for k in range(10)], axis=1)
    logits = np_(model.classify(x))
    q = np.exp(logits - logits.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    entropy = -(q * np.log(q)).sum(1)
    assert entropy.min() > 0.1 and np.ptp(neg_l, axis=1).min() > 1e-3  # neither term is trivially constant
    np.testing.assert_allclose(one_batch, (q * neg_l).sum(1) - entropy, rtol=1e-5)


@pytest.mark.parametrize("m2_hidden", [0, 5])
def test_encoding_all_labels_at_once_equals_encoding_each_label(m2_hidden):
    rng = np.random.default_rng(1)
    model = M2(dim_z=3, n_hidden=7, dim_x=12, m2_hidden=m2_hidden)
    for layer in model.encoder.layers:  # nonzero biases, so that adding the bias once per image is tested too
        layer.bias.assign(rng.normal(size=layer.bias.shape).astype(np.float32))
    x = rng.uniform(size=(4, 12)).astype(np.float32)
    mean, std = model.encode_all_labels(x)
    for k in range(10):  # rows b*10+k: image b with label k
        y = np.tile(np.eye(10, dtype=np.float32)[k], (4, 1))
        want_mean, want_std = model.encode(x, y)
        np.testing.assert_allclose(np_(mean)[k::10], np_(want_mean), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np_(std)[k::10], np_(want_std), rtol=1e-5, atol=1e-6)
    assert np.ptp(np_(mean).reshape(4, 10, 3), axis=1).min() > 1e-4  # the label does change the encoding


def test_unlabelled_bound_limits():
    neg_l = np.float32([[3.0, 5.0, 9.0]])
    uniform = negative_unlabelled_bound(neg_l, np.zeros((1, 3), np.float32))
    np.testing.assert_allclose(np_(uniform), [17.0 / 3 - np.log(3)], rtol=1e-6)
    certain = negative_unlabelled_bound(neg_l, np.float32([[0.0, 60.0, 0.0]]))
    np.testing.assert_allclose(np_(certain), [5.0], rtol=1e-6)


def test_labelled_bound_includes_log_prior_of_the_label():
    np.testing.assert_allclose(np_(negative_labelled_bound(np.float32([100.0]), np.float32([7.0]), 10)),
                               [107.0 + np.log(10)], rtol=1e-6)


def test_classification_nll_and_gaussian_nll_by_hand():
    logits = np.float32([[1.0, 2.0, 0.5]])
    y = np.float32([[0, 1, 0]])
    np.testing.assert_allclose(np_(classification_nll(y, logits)), [-np.log(np.exp(2) / np.exp(logits).sum())], rtol=1e-6)
    x, mean, std = np.float32([[0.3, -1.0]]), np.float32([[0.0, 0.5]]), np.float32([[0.5, 2.0]])
    np.testing.assert_allclose(np_(gaussian_nll(x, mean, std)), [-norm.logpdf(x, mean, std).sum()], rtol=1e-5)


def test_semi_supervised_loss_weights_sets_by_their_size():
    loss = semi_supervised_loss(np.float32([10.0, 20.0]), np.float32([30.0, 50.0]), np.float32([1.0, 3.0]),
                                n_labeled=100, n_unlabeled=900, alpha=0.1 * 1000)
    np.testing.assert_allclose(np_(loss), (100 * 15.0 + 900 * 40.0 + 100 * 2.0) / 1000, rtol=1e-6)


@pytest.fixture(scope="module")
def train_labels():
    from data.mnist import load_mnist
    return load_mnist()[0][1]


@pytest.mark.parametrize("n_labeled", [100, 600, 1000, 3000])
def test_labelled_images_are_balanced_and_fixed_by_the_seed(train_labels, n_labeled):
    idx = balanced_labelled_indices(train_labels, n_labeled, seed=0)
    assert len(np.unique(idx)) == n_labeled
    assert np.bincount(train_labels[idx], minlength=10).tolist() == [n_labeled // 10] * 10
    np.testing.assert_array_equal(idx, balanced_labelled_indices(train_labels, n_labeled, seed=0))
    assert not np.array_equal(idx, balanced_labelled_indices(train_labels, n_labeled, seed=1))


def test_validation_images_are_held_out_of_training_and_the_best_epoch_is_picked_by_them():
    from evaluate import RunData
    x, y = np.arange(10, dtype=np.float32)[:, None], np.eye(10, dtype=np.float32)
    data = RunData(x, y, x[:2], y[:2], x[:2], x[:2])
    assert hold_out(data, 0) is None and len(data.x_train) == 10
    x_valid, y_valid = hold_out(data, 3)
    assert data.x_train[:, 0].tolist() == list(range(7)) and x_valid[:, 0].tolist() == [7, 8, 9]
    np.testing.assert_array_equal(np.argmax(y_valid, 1), [7, 8, 9])
    assert len(data.y_train) == 7
    # With --binarize dynamic, the validation images are one fixed binary draw, as the test images are.
    def grey():
        return RunData(np.full((50, 4), 0.5, np.float32), np.eye(10, dtype=np.float32)[np.arange(50) % 10], *[x[:2]] * 4)
    x_bin, _ = hold_out(grey(), 20, "dynamic")
    assert set(np.unique(x_bin)) == {0.0, 1.0}
    np.testing.assert_array_equal(x_bin, hold_out(grey(), 20, "dynamic")[0])
    assert set(np.unique(hold_out(grey(), 20)[0])) == {0.5}
    rows = [{"epoch": e, "valid_error": v, "test_error": t} for e, v, t in [(1, "5.0", "6"), (2, "3.5", "4"),
                                                                           (3, "3.5", "3"), (4, "4.0", "2")]]
    assert best_by_validation(rows)["epoch"] == 2  # the lowest validation error, not the lowest test error


def test_labelled_batches_cycle_through_every_label_evenly():
    lab = labelled_batches(100, 30, 10, seed=0, epoch=1)
    assert lab.shape == (10, 30)
    assert np.bincount(lab.ravel(), minlength=100).tolist() == [3] * 100


def test_m2_uses_its_classifier_where_no_label_is_given():
    model = M2(dim_z=2, n_hidden=8)
    x = np.random.default_rng(1).uniform(size=(4, 784)).astype(np.float32)
    predicted = np.eye(10, dtype=np.float32)[np.argmax(np_(model.classify(x)), 1)]
    np.testing.assert_allclose(np_(model(x)), np_(model(x, predicted)), rtol=1e-6)
    np.testing.assert_allclose(np_(model.encode(x)[0]), np_(model.encode(x, predicted)[0]), rtol=1e-6)


def test_m2_hidden_gives_every_mlp_of_m2_one_softplus_layer():
    def hidden(mlp):
        return [(layer.units, layer.activation.__name__) for layer in mlp.layers[:-1]]
    default = M2(dim_z=2, n_hidden=8)
    assert hidden(default.encoder) == [(8, "elu"), (8, "tanh")] and hidden(default.decoder) == [(8, "tanh"), (8, "elu")]
    model = M1M2(dim_z=2, n_hidden=8, m1_dim_z=4, m2_hidden=5)
    for mlp in (model.m2.encoder, model.m2.decoder, model.m2.classifier):
        assert hidden(mlp) == [(5, "softplus")]
    assert hidden(model.m1.encoder) == [(8, "elu"), (8, "tanh")]  # M1 keeps --n_hidden
    assert model.get_config()["m2_hidden"] == 5 and model.m2.get_config()["m2_hidden"] == 5


def test_m1m2_takes_and_gives_images_through_m1():
    model = M1M2(dim_z=2, n_hidden=8, m1_dim_z=4)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 784)).astype(np.float32)
    eps = rng.standard_normal((3, 2)).astype(np.float32)
    z1 = np_(model.m1.encode(x)[0])
    predicted = np.eye(10, dtype=np.float32)[np.argmax(np_(model.m2.classify(z1.astype(np.float32))), 1)]
    z_mean = np_(model.encode(x)[0])
    assert z_mean.shape == (3, 2)
    np.testing.assert_allclose(z_mean, np_(model.m2.encode(z1.astype(np.float32), predicted)[0]), rtol=1e-5)
    x1_mean = np_(model.m2.decode(z_mean.astype(np.float32), predicted))[:, :4]
    np.testing.assert_allclose(np_(model(x)), np_(model.m1.decode(x1_mean.astype(np.float32))), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np_(model.loss_terms(x, x, predicted, eps)["loss"]),
                               np_(model.m2.loss_terms(z1.astype(np.float32), z1.astype(np.float32), predicted, eps)["loss"]),
                               rtol=1e-5)


@pytest.mark.parametrize("argv", [
    ["--model", "m2", "--n_labeled", "15"], ["--model", "m2", "--n_labeled", "0"],
    ["--model", "m2", "--n_train", "100", "--n_labeled", "100"], ["--model", "m2", "--add_noise"],
    ["--model", "m2", "--alpha", "-1"], ["--model", "m2", "--m1_run", "."], ["--model", "m1m2", "--m1_run", "/no/such/run"],
    ["--model", "m2", "--m2_hidden", "-1"], ["--model", "cvae", "--m2_hidden", "300"],
    ["--model", "m1m2", "--binarize", "dynamic"], ["--model", "m2", "--quality"],
    ["--model", "m2", "--n_valid", "-1"], ["--model", "cvae", "--n_valid", "100"],
    ["--model", "m2", "--n_train", "1000", "--n_valid", "950", "--n_labeled", "50"],
])
def test_bad_semisupervised_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_alpha_defaults_by_model_and_a_resumed_run_keeps_its_own(tmp_path):
    # M2 on pixels needs a larger weight than the paper's 0.1, which suits M1+M2 (README, measured).
    assert parse_args(["--model", "m2"]).alpha == 1000.0
    assert parse_args(["--model", "m1m2"]).alpha == 0.1
    assert parse_args(["--model", "m2", "--alpha", "0.1"]).alpha == 0.1
    assert parse_args(["--model", "cvae"]).alpha is None  # no classification term
    saved = vars(parse_args(["--model", "m2", "--alpha", "0.5"]))
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert parse_args(["--resume", str(tmp_path)]).alpha == 0.5
    old = {k: v for k, v in saved.items() if k != "alpha"} | {"model": "m2"}  # a config saved before the flag
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert parse_args(["--resume", str(tmp_path)]).alpha == 1000.0


def test_m1_run_must_be_a_finished_vae_of_the_right_size(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model": "vae", "dim_z": 50, "n_hidden": 500}))
    (tmp_path / "model.weights.h5").write_bytes(b"")
    assert parse_args(["--model", "m1m2", "--m1_run", str(tmp_path)]).m1_run == str(tmp_path)
    with pytest.raises(SystemExit):
        parse_args(["--model", "m1m2", "--m1_run", str(tmp_path), "--n_hidden", "64"])
    assert "n_hidden 64" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the M1 run saved before --activation is an elu_tanh one
        parse_args(["--model", "m1m2", "--m1_run", str(tmp_path), "--activation", "softplus"])
    assert "activation elu_tanh" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["m2", "m1m2"])
def test_smoke_run_reports_test_error_and_reloads(tmp_path, model):
    from evaluate import load_run_data
    from semisup import make_test_error
    from train import load_trained_model
    # 900 images, of which the last 100 are held out for validation: 50 labelled and 750 unlabelled are left.
    args = ["--model", model, "--n_train", "900", "--n_valid", "100", "--n_labeled", "50", "--num_epochs", "1",
            "--n_hidden", "32", "--dim_z", "2", "--m1_dim_z", "4", "--m1_epochs", "1", "--batch_size", "64"]
    # The reload below rebuilds this shape from config.json, and binarizes the test set as the run did.
    args += ["--m2_hidden", "16"] if model == "m1m2" else ["--binarize", "dynamic"]
    out = subprocess.run([sys.executable, str(ROOT / "run_main.py"), *args, "--results_path", str(tmp_path),
                          "--run_name", "r"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run_dir = tmp_path / "r"
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.csv", "metrics.json", "model.weights.h5", "labelled_indices.txt",
            "PRR_input.png", "PRR_epoch_01.png"} <= names
    assert ("m1" in names) == (model == "m1m2")
    if model == "m1m2":  # M1 trains on the same 800 images as M2, not on the validation set
        assert json.loads((tmp_path / "r" / "m1" / "metrics.json").read_text())["n_train"] == 800
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
    from restore import restore
    (tmp_path / "restored").mkdir()
    restored = restore(cfg | {"PRR": False, "interp": False}, run_dir, tmp_path / "restored")
    assert restored["test_error"] == pytest.approx(metrics["test_error"])


def test_m1m2_counts_only_m1s_active_units():
    from semisup import active_units, z1_sampler
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


@pytest.mark.parametrize("model", ["m2", "m1m2"])
def test_stopped_semisupervised_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, model):
    import contextlib
    import signal
    import checkpoint
    import semisup
    import train
    monkeypatch.setattr(semisup, "STEPS_PER_CALL", 4)  # 11 steps an epoch: calls of 4, 4 and 3 steps
    args = ["--model", model, "--n_train", "800", "--n_labeled", "50", "--num_epochs", "2", "--n_hidden", "16",
            "--dim_z", "2", "--m1_dim_z", "4", "--m1_epochs", "1", "--batch_size", "64", "--PRR", "False",
            "--interp", "False"]

    def rows(run_dir):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]

    def run(name):
        run_dir = tmp_path / name
        run_dir.mkdir()
        cfg = vars(parse_args(args + ["--results_path", str(tmp_path)])) | {"run_dir": str(run_dir)}
        return run_dir, (lambda: train.train_and_evaluate(cfg, run_dir))

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


def test_supervised_baseline_learns_from_the_labels_alone_and_is_fixed_by_the_seed():
    from evaluate import load_run_data
    from semisup import supervised_baseline_error
    data = load_run_data({"n_train": 3000, "seed": 0, "model": "cvae", "dim_z": 2, "add_noise": False})
    idx = balanced_labelled_indices(np.argmax(data.y_train, 1), 100, seed=0)
    x_test, y_test = data.x_test[:2000], data.y_test[:2000]
    error = supervised_baseline_error(data.x_train[idx], data.y_train[idx], x_test, y_test, 64, 300, seed=0)
    assert 5 < error < 45  # far below chance (90%) from 100 labels, and not a perfect classifier
    assert supervised_baseline_error(data.x_train[idx], data.y_train[idx], x_test, y_test, 64, 300, seed=0) == error
    shuffled = np.random.default_rng(0).permutation(data.y_train[idx])  # labels that say nothing about the images
    assert supervised_baseline_error(data.x_train[idx], shuffled, x_test, y_test, 64, 300, seed=0) > error + 20
