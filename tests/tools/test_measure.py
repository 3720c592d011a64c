"""Measuring a finished run's quality without retraining: python -m tools.measure, and run_main.py --quality."""
import json
import os

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_cvae_run(tmp_path_factory, cli):
    """A plain CVAE run of its own (not the shared denoiser): measuring writes into its metrics.json, and a
    denoiser's ELBO, from noisy inputs, is no bound for the log-likelihood estimate to beat."""
    root = tmp_path_factory.mktemp("quality")
    out = cli.main("--model", "cvae", "--n_train", "500", "--num_epochs", "1", "--n_hidden", "32",
                   "--PRR", "False", "--results_path", root, "--run_name", "r", timeout=300)
    assert out.returncode == 0, out.stderr
    return root / "r"


@pytest.mark.slow
def test_measure_merges_quality_into_metrics_json(tiny_cvae_run, cli, tmp_path):
    from data.mnist import load_mnist
    from evaluation.classifier import accuracy, save_classifier, train_classifier
    (x, y), (x_test, y_test) = load_mnist()
    flat = lambda a: a.reshape(len(a), -1).astype(np.float32) / 255  # noqa: E731
    clf = train_classifier(flat(x[:1000]), y[:1000], epochs=1)
    clf_path = tmp_path / "clf.weights.h5"
    save_classifier(clf, clf_path, {})
    before = json.loads((tiny_cvae_run / "metrics.json").read_text())

    out = cli.tool("measure", tiny_cvae_run, "--ll_k", "5", "--cas_n", "100", "--classifier", clf_path,
                   "--export", tmp_path / "gen.npz", "--n_test", "1000")
    assert out.returncode == 0, out.stderr
    saved = json.loads((tiny_cvae_run / "metrics.json").read_text())
    assert {k: saved[k] for k in before} == before  # the training's numbers stay
    assert "test_nll_k5" not in saved  # a subset's numbers never stand where full-test-set numbers belong
    after = saved["quality_first_1000_test_images"]
    from data.prepare import load_run_data
    from evaluation.metrics import evaluate, make_evaluate
    from training.families import load_trained_model
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

    again = cli.tool("measure", tiny_cvae_run, "--ll_k", "0", "--cas_n", "0", "--classifier", clf_path,
                     "--export", tmp_path / "gen.npz")
    assert again.returncode == 2 and "--export" in again.stderr  # an existing file is never overwritten
    no_cas = cli.tool("measure", tiny_cvae_run, "--cas_n", "0", "--export", tmp_path / "new.npz")
    assert no_cas.returncode == 2 and "--cas_n" in no_cas.stderr


@pytest.mark.slow
def test_missing_classifier_says_how_to_make_it(finished_run, cli, tmp_path):
    out = cli.tool("measure", finished_run, "--classifier", tmp_path / "none.weights.h5")
    assert out.returncode == 1 and "python -m tools.classifier" in out.stderr and "Traceback" not in out.stderr
    env = os.environ | {"VAE_MNIST_CLASSIFIER": str(tmp_path / "none.weights.h5")}
    out = cli.main("--quality", "--results_path", tmp_path / "r", env=env)
    assert out.returncode == 2 and "python -m tools.classifier" in out.stderr and not (tmp_path / "r").exists()
    assert cli.tool("measure", tmp_path).returncode == 2  # not a run folder


@pytest.mark.slow
def test_run_main_quality_measures_a_vae_after_training(cli, tmp_path):
    out = cli.main("--model", "vae", "--binarize", "dynamic", "--n_train", "500", "--num_epochs", "1",
                   "--n_hidden", "32", "--PRR", "False", "--quality", "--ll_k", "3", "--iw_k", "4",
                   "--results_path", tmp_path, "--run_name", "v")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert metrics["test_nll_k3"] < metrics["test_neg_elbo"]
    assert metrics["train_loss"] < metrics["train_recon"] + metrics["train_kl"]  # --iw_k 4 trains on the tighter bound
    assert metrics["quality_settings"]["binarize"] == "dynamic" and "cond_acc_prior" not in metrics
    assert {f"denoise_psnr_{p}" for p in (0.1, 0.3, 0.5)} <= set(metrics)
    from tools.measure import evaluate_run  # a second measure, in this process: TensorFlow loads once
    evaluate_run(tmp_path / "v", ll_k=2, log=lambda line: None)
    again = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert again["test_nll_k2"] > again["test_nll_k3"] - 5 and again["test_nll_k3"] == metrics["test_nll_k3"]
    for args in (["--model", "m2", "--quality"], ["--iw_k", "3", "--distribute", "mirrored"]):
        refused = cli.main(*args)
        assert refused.returncode == 2 and "not supported" in refused.stderr
    bad = cli.main("--binarize", "sometimes")
    assert bad.returncode == 2 and "--binarize" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_evaluate_run_takes_ll_k_from_its_caller():
    import inspect
    from tools.measure import LL_K, evaluate_run
    from training.flags import FLAGS
    parameters = inspect.signature(evaluate_run).parameters
    assert parameters["ll_k"].default is inspect.Parameter.empty  # run_main.py passes its --ll_k, measure its own
    assert list(parameters)[:2] == ["run_dir", "ll_k"] and LL_K == FLAGS["ll_k"][1]
