"""The Python API (training.api): train(**flags) makes the CLI's run folder, load_run uses its model through
numpy, bad flags and damaged runs give one clear error; examples/api.py draws its 280x280 grid."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import fake_training
from runs.folder import RunFolder
from training.api import Run, RunError, load_run, train


def test_train_makes_the_cli_run_folder_and_trains_with_its_config(tmp_path, monkeypatch):
    """train() checks the flags and makes the folder as run_main.py does, then trains with the same recipe (here the
    fake families of fake_training, so that TensorFlow need not load)."""
    fake_training.patch(monkeypatch)
    run_dir = train(model="vae", dim_z=3, n_hidden=4, num_epochs=1, PRR=False, results_path=tmp_path, run_name="vae")
    assert run_dir == tmp_path / "vae" and RunFolder(run_dir).state() == "finished"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run_dir"] == str(run_dir) and config["dim_z"] == 3 and config["PRR"] is False
    assert config["learn_rate"] == 1e-3  # the defaults
    with pytest.raises(ValueError, match="exists already"):
        train(results_path=tmp_path, run_name="vae")  # never overwrites a run


def test_train_takes_its_documented_defaults_and_any_legal_folder_name(tmp_path, monkeypatch):
    fake_training.patch(monkeypatch)
    flags = dict(model="vae", dim_z=3, n_hidden=4, num_epochs=1, results_path=tmp_path)
    made = train(**flags, run_name=None, data_dir=None)
    assert made.parent == tmp_path and made.name.startswith("vae_z3_") and not (tmp_path / "None").exists()
    assert train(**flags, run_name="--x") == tmp_path / "--x"
    for bad, text in ((dict(dim_z=[2, 3]), "expected one value"), (dict(dim_z=float("nan")), "argument --dim_z"),
                      (dict(run_name="a/b"), "must be a plain folder name")):
        with pytest.raises(ValueError, match=text):
            train(**flags | bad)


class Decoder:
    """A model stand-in that records the labels it is given."""
    n_classes = 10

    def decode(self, z, y):
        self.y = y
        return np.zeros((len(z), 784), np.float32)


@pytest.mark.parametrize("label", [-1, 3.7, 10, "3", True, [1, 2]])
def test_labels_outside_0_to_9_or_not_integers_are_refused(label):
    run = Run("r", {"model": "cvae", "dim_z": 2}, {}, [], Decoder())
    with pytest.raises(ValueError, match="labels|label"):
        run.sample(3, label=label)
    assert run.sample(3, label=3.0).shape == (3, 28, 28) and run.model.y.argmax(1).tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match="n must be an integer"):
        run.sample(0)
    with pytest.raises(ValueError, match="z must be finite"):
        run.decode(np.full((2, 2), np.nan), [1, 2])


@pytest.mark.slow
def test_load_run_uses_the_model_through_numpy(finished_run):
    run = load_run(finished_run)
    assert run.config["n_hidden"] == 32 and run.metrics["epochs"] == 2 and len(run.history) == 2
    assert run.metrics["test_neg_elbo"] == pytest.approx(run.history[-1]["test_loss"], abs=1e-3)
    x = np.asarray(Image.open(finished_run / "PRR_input.png"), np.float32).reshape(3, 28, 4, 28)
    x = x.transpose(0, 2, 1, 3).reshape(12, 28, 28) / 255.0
    y = np.arange(12) % 10
    z = run.encode(x, y)
    assert z.shape == (12, 2)
    np.testing.assert_allclose(run.encode((x * 255).round().astype(np.uint8), y), z, atol=1e-4)  # uint8 too
    decoded = run.decode(z, y)
    assert decoded.shape == (12, 28, 28) and 0 <= decoded.min() and decoded.max() <= 1
    np.testing.assert_allclose(run.reconstruct(x, y), decoded, atol=1e-6)
    assert not np.allclose(run.decode(z, (y + 1) % 10), decoded)  # the label matters to a CVAE
    a, b, c = run.sample(8, seed=1), run.sample(8, seed=1), run.sample(8, seed=2)
    assert a.shape == (8, 28, 28) and np.array_equal(a, b) and not np.allclose(a, c)
    with pytest.raises(ValueError, match="give y"):
        run.decode(z)


@pytest.mark.slow
def test_example_draws_one_row_per_label_from_a_finished_run(finished_run, cli, tmp_path):
    out = cli.python(cli.root / "examples" / "api.py", finished_run, tmp_path / "grid.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (280, 280) and grid.dtype == np.uint8
    run = load_run(finished_run)
    row = lambda k: grid[28 * k:28 * (k + 1)].reshape(28, 10, 28).transpose(1, 0, 2)  # noqa: E731
    for k in (0, 7):  # row k: the first 10 of 100 draws of seed 0, decoded with label k
        expected = run.sample(100, label=k, seed=0)[10 * k:10 * (k + 1)]
        np.testing.assert_allclose(row(k), np.rint(expected * 255), atol=1)
    bad = cli.python(cli.root / "examples" / "api.py", tmp_path, tmp_path / "x.png")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [f"error: {tmp_path} is not a run folder (it has no config.json)"]


@pytest.mark.slow
def test_unfinished_and_damaged_runs_get_one_clear_error(finished_run, tmp_path):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(finished_run, unfinished)
    (unfinished / "metrics.json").unlink()
    with pytest.raises(RunError, match=r"metrics.json is missing; restore it from a copy"):
        load_run(unfinished)  # the manifest says finished: a missing file is damage, not an unfinished run
    damaged = tmp_path / "damaged"
    shutil.copytree(finished_run, damaged)
    (damaged / "model.weights.h5").write_bytes(b"not HDF5")
    with pytest.raises(RunError, match="model.weights.h5 does not match its checksum in manifest.json"):
        load_run(damaged)
    (damaged / "manifest.json").unlink()  # as a run from before manifests: read whole, or named
    with pytest.raises(RunError, match="model.weights.h5 is damaged"):
        load_run(damaged)


def test_bad_flags_are_value_errors_with_the_cli_message(tmp_path):
    with pytest.raises(ValueError, match=r"^argument --PMLR: needs --dim_z 2"):
        train(PMLR=True, dim_z=20, results_path=tmp_path)
    with pytest.raises(ValueError, match="unknown flag 'epochs'"):
        train(epochs=3)
    assert not list(tmp_path.iterdir())  # no run folder made
