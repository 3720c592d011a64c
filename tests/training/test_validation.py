"""--n_valid for the VAE and CVAE, and runs that extend: --resume RUN_DIR --num_epochs N."""
import csv
import json

import h5py
import pytest

from runs.folder import parse_run_args
from training.flags import parse_args

TINY = ["--model", "vae", "--n_train", "500", "--n_valid", "100", "--batch_size", "100", "--n_hidden", "32", "--dim_z", "2",
        "--PRR", "False", "--interp", "False", "--seed", "3"]


def rows(run_dir):
    """metrics.csv without the seconds column, which is a measurement and not a result."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]


@pytest.mark.slow
def test_validation_and_a_2_plus_1_epoch_run_equal_a_straight_3_epoch_run(tmp_path, capsys):
    """In this process, run_main.main as the command line calls it: TensorFlow loads once, not three times."""
    import numpy as np
    import tensorflow as tf

    import run_main
    assert run_main.main([*TINY, "--num_epochs", "3", "--results_path", str(tmp_path), "--run_name", "straight"]) == 0
    out = capsys.readouterr().out
    assert run_main.main([*TINY, "--num_epochs", "2", "--results_path", str(tmp_path), "--run_name", "extended"]) == 0
    assert run_main.main(["--resume", str(tmp_path / "extended"), "--num_epochs", "3"]) == 0
    run, ext = tmp_path / "straight", tmp_path / "extended"

    # Validation: 400 images train, the last 100 give the valid_* columns and the best epoch in metrics.json.
    table = rows(run)
    assert list(table[0])[-3:] == ["valid_recon", "valid_kl", "valid_loss"]
    metrics = json.loads((run / "metrics.json").read_text())
    best = min(table, key=lambda r: float(r["valid_loss"]))
    assert metrics["n_train"] == 400 and metrics["n_valid"] == 100
    assert metrics["best_valid_epoch"] == int(best["epoch"]) and metrics["test_neg_elbo_at_best"] == float(best["test_loss"])
    assert "valid -elbo" in out and "lowest validation negative ELBO" in out

    # Extension: the same numbers to the last digit; config.json keeps the first count; the 2-epoch metrics kept.
    assert rows(ext) == table and [r["epoch"] for r in table] == ["1", "2", "3"]
    drop = ("train_seconds", "evaluate_seconds", "figure_seconds", "wall_seconds")
    assert {k: v for k, v in json.loads((ext / "metrics.json").read_text()).items() if k not in drop} == \
           {k: v for k, v in metrics.items() if k not in drop}
    assert json.loads((ext / "metrics_2_epochs.json").read_text())["epochs"] == 2
    cfg, straight_cfg = (json.loads((d / "config.json").read_text()) for d in (ext, run))
    assert cfg.pop("extended_from") == [2] and cfg["num_epochs"] == 3
    assert {k: v for k, v in cfg.items() if k not in ("run_name", "run_dir")} == \
           {k: v for k, v in straight_cfg.items() if k not in ("run_name", "run_dir")}

    # A lower learning rate from the next epoch on (as after a loss went nan): recorded, and the optimizer's.
    assert run_main.main(["--resume", str(ext), "--num_epochs", "4", "--learn_rate", "0.0001"]) == 0
    cfg = json.loads((ext / "config.json").read_text())
    assert cfg["learn_rate"] == 1e-4 and cfg["learn_rate_changes"] == [{"epoch": 4, "from": 1e-3, "to": 1e-4}]
    assert rows(ext)[:3] == table and len(rows(ext)) == 4
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(ext / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    rates = {e.step: float(np.asarray(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors("learning_rate")}
    assert rates == pytest.approx({1: 1e-3, 2: 1e-3, 3: 1e-3, 4: 1e-4})


@pytest.mark.parametrize("saved, argv, text", [
    ({"lr_decay": 0.5}, ["--num_epochs", "3"], "cannot extend a run with --lr_decay 0.5"),
    ({}, ["--num_epochs", "1"], "--resume only extends a run"),
    ({}, [], "has finished already"),
    ({}, ["--num_epochs", "3", "--n_hidden", "64"], "drop --n_hidden"),
])
def test_an_extension_that_would_change_the_run_is_refused_in_one_line(tmp_path, capsys, saved, argv, text):
    cfg = vars(parse_args(["--num_epochs", "2"])) | saved
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "metrics.json").write_text("{}")
    with h5py.File(tmp_path / "model.weights.h5", "w") as f:  # whole weights: a finished run, not one to rebuild
        f.create_dataset("w", data=[1.0])
    with pytest.raises(SystemExit) as exc:
        parse_run_args(["--resume", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and text in err and len(err.strip().splitlines()) == 1


def test_n_valid_must_leave_training_images(capsys):
    assert parse_args(["--model", "vae", "--n_train", "500", "--n_valid", "499", "--batch_size", "1"]).n_valid == 499
    with pytest.raises(SystemExit):
        parse_args(["--model", "cvae", "--n_train", "500", "--n_valid", "500"])
    assert "--n_valid" in capsys.readouterr().err
