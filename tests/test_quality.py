"""Binarized data, and measuring a finished run's quality without retraining (measure.py, quality.evaluate_run)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tf_setup  # noqa: F401
import tensorflow as tf

from evaluate import load_run_data
from quality import image_scores
from train import batch_inputs

ROOT = Path(__file__).resolve().parent.parent
CFG = {"n_train": 500, "seed": 0, "dim_z": 2, "add_noise": False, "noise_prob": 0.5}


def run_py(script, *args, env=None):
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


def test_binarized_test_set_is_one_fixed_draw_and_static_binarizes_training_once():
    grey = load_run_data(CFG | {"binarize": "none"})
    dyn0, dyn1 = load_run_data(CFG | {"binarize": "dynamic"}), load_run_data(CFG | {"binarize": "dynamic", "seed": 1})
    assert set(np.unique(dyn0.x_test)) == {0.0, 1.0}
    np.testing.assert_array_equal(dyn0.x_test, dyn1.x_test)  # the same test set whatever the run's seed
    assert abs(dyn0.x_test.mean() - grey.x_test.mean()) < 0.002  # Bernoulli draws with the grey levels as means
    np.testing.assert_array_equal(dyn0.x_train, grey.x_train)  # dynamic: the training images stay grey until used
    st0, st1 = load_run_data(CFG | {"binarize": "static"}), load_run_data(CFG | {"binarize": "static", "seed": 1})
    assert set(np.unique(st0.x_train)) == {0.0, 1.0} and not np.array_equal(st0.x_train, st1.x_train)


def compiled_batch_inputs(x, seed, cfg):
    """batch_inputs as training runs it: inside an XLA-compiled step (its ThreeFry draws need XLA)."""
    return tf.function(lambda x, seed: batch_inputs(x, seed, cfg), jit_compile=True)(x, seed)


def test_dynamic_binarization_draws_anew_each_step():
    batch_inputs = compiled_batch_inputs
    x = tf.constant(load_run_data(CFG).x_train[:64])
    cfg = CFG | {"binarize": "dynamic"}
    seed = tf.constant([0, 7], tf.int64)
    x_in, target = batch_inputs(x, seed, cfg)
    again, _ = batch_inputs(x, seed, cfg)
    later, _ = batch_inputs(x, seed + [0, 1], cfg)
    assert set(np.unique(x_in.numpy())) == {0.0, 1.0} and np.array_equal(x_in, target)
    assert np.array_equal(x_in, again) and not np.array_equal(x_in, later)
    assert abs(float(tf.reduce_mean(x_in)) - float(tf.reduce_mean(x))) < 0.01
    noisy_in, clean_target = batch_inputs(x, seed, cfg | {"add_noise": True})
    assert np.array_equal(clean_target, x_in) and not np.array_equal(noisy_in, clean_target)
    np.testing.assert_array_equal(batch_inputs(x, seed, CFG)[0], x)  # binarize none: grey levels as before


def test_image_scores():
    rng = np.random.default_rng(0)
    clean = rng.random((20, 784)).astype(np.float32)
    near, far = np.clip(clean + 0.01, 0, 1), rng.random((20, 784)).astype(np.float32)
    psnr_near, ssim_near = image_scores(near, clean)
    psnr_far, ssim_far = image_scores(far, clean)
    assert 39 < psnr_near < 41  # 10 log10(1 / 0.01^2) = 40 dB, less the clipped pixels
    assert ssim_near > 0.99 and ssim_far < 0.1 and psnr_far < 10


@pytest.fixture(scope="module")
def tiny_cvae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    out = run_py("run_main.py", "--model", "cvae", "--n_train", "500", "--num_epochs", "1", "--n_hidden", "32",
                 "--PRR", "False", "--results_path", str(root), "--run_name", "r")
    assert out.returncode == 0, out.stderr
    return root / "r"


def test_measure_merges_quality_into_metrics_json(tiny_cvae_run, tmp_path):
    from classifier import accuracy, save_classifier, train_classifier
    from data.mnist import load_mnist
    (x, y), (x_test, y_test) = load_mnist()
    flat = lambda a: a.reshape(len(a), -1).astype(np.float32) / 255  # noqa: E731
    clf = train_classifier(flat(x[:1000]), y[:1000], epochs=1)
    clf_path = tmp_path / "clf.weights.h5"
    save_classifier(clf, clf_path, {})
    before = json.loads((tiny_cvae_run / "metrics.json").read_text())

    out = run_py("measure.py", str(tiny_cvae_run), "--ll_k", "5", "--cas_n", "100", "--classifier", str(clf_path),
                 "--export", str(tmp_path / "gen.npz"), "--n_test", "1000")
    assert out.returncode == 0, out.stderr
    saved = json.loads((tiny_cvae_run / "metrics.json").read_text())
    assert {k: saved[k] for k in before} == before  # the training's numbers stay
    assert "test_nll_k5" not in saved  # a subset's numbers never stand where full-test-set numbers belong
    after = saved["quality_first_1000_test_images"]
    from evaluate import evaluate, make_evaluate
    from train import load_trained_model
    cfg, model = load_trained_model(tiny_cvae_run)
    data = load_run_data(cfg)
    elbo_1000 = evaluate(make_evaluate(model), *(a[:1000] for a in (data.x_test_in, data.x_test, data.y_test, data.eps_test)))
    assert after["test_nll_k5"] < elbo_1000["loss"]  # the K-sample bound is tighter than the ELBO
    assert after["classifier_test_acc"] == pytest.approx(accuracy(clf, flat(x_test[:1000]), y_test[:1000]))
    assert all(0 <= after[k] <= 1 for k in ("cond_acc_prior", "cond_acc_transfer", "cas_acc"))
    for p in (0.1, 0.3, 0.5):
        assert after[f"median_psnr_{p}"] > after[f"noisy_psnr_{p}"] or p == 0.5
    assert after["median_psnr_0.1"] > after["median_psnr_0.3"] > after["median_psnr_0.5"]
    for p in (0.1, 0.3, 0.5):  # switching keeps the grey pixels, which the noise cannot have made, untouched
        assert after[f"switch_median_psnr_{p}"] > after[f"median_psnr_{p}"]
    assert after["quality_settings"] | {"classifier": None} == {
        "binarize": "none", "seed": 0, "n_test": 1000, "ll_k": 5, "classifier": None, "per_label": 1000, "cas_n": 100,
        "cas_epochs": 5, "denoise_levels": [0.1, 0.3, 0.5]}
    generated = np.load(tmp_path / "gen.npz")
    assert generated["x"].shape == (100, 28, 28) and generated["x"].dtype == np.uint8
    np.testing.assert_array_equal(generated["y"], np.arange(100) % 10)
    assert "test log-likelihood (K = 5)" in out.stdout and "3x3 median" in out.stdout

    again = run_py("measure.py", str(tiny_cvae_run), "--ll_k", "0", "--cas_n", "0", "--classifier", str(clf_path),
                   "--export", str(tmp_path / "gen.npz"))
    assert again.returncode == 2 and "--export" in again.stderr  # an existing file is never overwritten
    no_cas = run_py("measure.py", str(tiny_cvae_run), "--cas_n", "0", "--export", str(tmp_path / "new.npz"))
    assert no_cas.returncode == 2 and "--cas_n" in no_cas.stderr


def test_missing_classifier_says_how_to_make_it(tiny_cvae_run, tmp_path):
    out = run_py("measure.py", str(tiny_cvae_run), "--classifier", str(tmp_path / "none.weights.h5"))
    assert out.returncode == 1 and "python classifier.py" in out.stderr and "Traceback" not in out.stderr
    env = os.environ | {"VAE_MNIST_CLASSIFIER": str(tmp_path / "none.weights.h5")}
    out = run_py("run_main.py", "--quality", "--results_path", str(tmp_path / "r"), env=env)
    assert out.returncode == 2 and "python classifier.py" in out.stderr and not (tmp_path / "r").exists()
    assert run_py("measure.py", str(tmp_path)).returncode == 2  # not a run folder


def test_run_main_quality_measures_a_vae_after_training(tmp_path):
    out = run_py("run_main.py", "--model", "vae", "--binarize", "dynamic", "--n_train", "500", "--num_epochs", "1",
                 "--n_hidden", "32", "--PRR", "False", "--quality", "--ll_k", "3", "--iw_k", "4", "--results_path", str(tmp_path),
                 "--run_name", "v")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert metrics["test_nll_k3"] < metrics["test_neg_elbo"]
    assert metrics["train_loss"] < metrics["train_recon"] + metrics["train_kl"]  # --iw_k 4 trains on the tighter bound
    assert metrics["quality_settings"]["binarize"] == "dynamic" and "cond_acc_prior" not in metrics
    assert {f"denoise_psnr_{p}" for p in (0.1, 0.3, 0.5)} <= set(metrics)
    restored = run_py("run_main.py", "--restore", str(tmp_path / "v"), "--quality", "--ll_k", "2")
    assert restored.returncode == 0, restored.stderr
    again = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert again["test_nll_k2"] > again["test_nll_k3"] - 5 and again["test_nll_k3"] == metrics["test_nll_k3"]
    for args in (["--model", "m2", "--quality"], ["--iw_k", "3", "--distribute", "mirrored"]):
        refused = run_py("run_main.py", *args)
        assert refused.returncode == 2 and "not supported" in refused.stderr
    bad = run_py("run_main.py", "--binarize", "sometimes")
    assert bad.returncode == 2 and "--binarize" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_switched_keeps_grey_pixels_and_restores_only_zeros_and_ones():
    from quality import switched
    noisy = np.array([[0.0, 1.0, 0.5, 0.01, 0.99]])
    restored = np.full_like(noisy, 0.3)
    np.testing.assert_array_equal(switched(restored, noisy), [[0.3, 0.3, 0.5, 0.01, 0.99]])
