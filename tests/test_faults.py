"""Faults a hostile user meets (issue 18): each ends with its exit status, one line, and nothing half-written left."""
import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from runs import files
from runs import checkpoint
from runs.folder import parse_run_args
from training.flags import parse_args

TINY = ["--model", "vae", "--n_train", "500", "--n_hidden", "32", "--PRR", "False", "--interp", "False"]


def one_line(out):
    """The single stderr line of a failed command (asserting there is exactly one, and no traceback)."""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def snapshot(folder):
    """Every file under folder with its bytes: what a refused command must leave as it was."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_run(folder, finished=True):
    """A run folder as training leaves it, made without TensorFlow: config, checkpoint, weights (HDF5), metrics."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(vars(parse_args(TINY))))
    position = json.dumps(vars(checkpoint.Position(epoch=2, sums=[0.0, 0.0, 0.0])))
    np.savez(folder / checkpoint.CHECKPOINT, position=np.array(position), model_0=np.arange(20_000.0))
    if finished:
        with h5py.File(folder / checkpoint.WEIGHTS, "w") as f:
            f["layers/dense/vars/0"] = np.arange(50_000.0)
        (folder / "metrics.json").write_text('{"test_neg_elbo": 100.0}')
    return folder


@pytest.mark.slow
def test_a_loss_going_nan_stops_the_run_with_status_3_and_leaves_nothing(cli, tmp_path):
    out = cli.main(*TINY, "--num_epochs", "2", "--learn_rate", "1e30", "--results_path", tmp_path, "--run_name", "r")
    assert out.returncode == 3
    assert one_line(out).startswith("error: epoch 1: train_recon is nan")
    assert list(tmp_path.iterdir()) == []  # it failed before its first checkpoint: no figure, weights or metrics


def test_a_non_finite_term_names_the_epoch_and_keeps_the_last_checkpoint(tmp_path):
    from runs.checkpoint import NonFinite, check_finite
    check_finite(tmp_path, 3, {"train_loss": 1.0, "test_loss": 2.0})
    with pytest.raises(NonFinite, match=r"^epoch 3: test_loss is inf; .*checkpoint after epoch 2 stays: .* --resume .* --learn_rate RATE$"):
        check_finite(tmp_path, 3, {"train_loss": 1.0, "test_loss": float("inf")})


def test_strict_json_never_writes_nan(tmp_path):
    with pytest.raises(ValueError):
        files.write_json(tmp_path / "m.json", {"test_neg_elbo": float("nan")})
    assert list(tmp_path.iterdir()) == []
    files.write_json(tmp_path / "m.json", {"x": 1.5})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1.5}


@pytest.mark.parametrize("size", [96, 200_000])
def test_cut_off_weights_are_refused_by_restore_and_measure_leaving_nothing(cli, tmp_path, size):
    run = fake_run(tmp_path / "r")
    assert checkpoint.weights_problem(run) is None
    os.truncate(run / checkpoint.WEIGHTS, size)
    before = snapshot(run)
    for out in (cli.main("--restore", run), cli.tool("measure", run)):
        assert out.returncode == 2
        line = one_line(out)
        assert f"{run / checkpoint.WEIGHTS} is damaged" in line and f"--resume {run}' rebuilds it" in line
    assert snapshot(run) == before  # no restore_* folder
    assert parse_run_args(["--resume", str(run)]).resume == str(run)  # a finished run resumes to rebuild its weights


def test_a_finished_run_with_good_weights_is_not_resumed(tmp_path, capsys):
    run = fake_run(tmp_path / "r")
    with pytest.raises(SystemExit) as exc:
        parse_run_args(["--resume", str(run)])
    assert exc.value.code == 2 and "has finished already" in capsys.readouterr().err


@pytest.mark.parametrize("damage, name, reason", [
    ("cut", checkpoint.CHECKPOINT, "File is not a zip file"), ("flip", checkpoint.CHECKPOINT, "Bad CRC-32"),
    ("cut", "config.json", ""),
])
def test_a_damaged_checkpoint_or_config_refuses_resume_in_one_line(tmp_path, capsys, damage, name, reason):
    run = fake_run(tmp_path / "r", finished=False)
    data = bytearray((run / name).read_bytes())
    if damage == "cut":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    (run / name).write_bytes(bytes(data))
    before = snapshot(run)
    with pytest.raises(SystemExit) as exc:
        parse_run_args(["--resume", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and f"{run / name} is damaged ({reason}" in err[0]
    assert snapshot(run) == before


def test_a_second_process_on_a_run_folder_is_refused_naming_the_first(cli, tmp_path):
    run = fake_run(tmp_path / "r", finished=False)
    held = files.lock_run_dir(run)
    out = cli.main("--resume", run)
    assert out.returncode == 1
    assert one_line(out) == (f"error: {run} is in use by process {os.getpid()} (a run still training or resuming "
                             "there); wait for it to end or stop it first")
    held.close()  # the lock goes with the process (or its file): the folder can be taken again
    files.lock_run_dir(run).close()


def test_a_full_disk_names_the_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    (tmp_path / "metrics.json").write_text("{}")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as exc:
        files.write_json(tmp_path / "metrics.json", {"a": 1})
    assert (exc.value.errno, exc.value.filename) == (errno.ENOSPC, str(tmp_path / "metrics.json"))

    class Model:
        def get_weights(self):
            return [np.zeros(10)]

        def save_weights(self, path):
            path.write_bytes(b"half")
    optimizer = type("Optimizer", (), {"variables": []})()
    with pytest.raises(OSError, match="No space left") as exc:
        checkpoint.save(tmp_path, Model(), optimizer, checkpoint.Position())
    assert exc.value.filename == str(tmp_path / checkpoint.CHECKPOINT)
    with pytest.raises(OSError, match="No space left") as exc:
        checkpoint.save_weights(Model(), tmp_path)
    assert exc.value.filename == str(tmp_path / checkpoint.WEIGHTS)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # the old file whole, no temporary file
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_run_main_turns_a_failed_write_into_one_line(monkeypatch, capsys):
    import run_main
    def run_command(argv):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results/r/checkpoint.npz")
    monkeypatch.setattr(run_main, "run_command", run_command)
    assert run_main.main([]) == 1
    assert capsys.readouterr().err == "error: cannot write results/r/checkpoint.npz: No space left on device\n"


def test_mnist_outside_the_repository_gets_a_hint_that_fits_and_no_folder_is_made(tmp_path):
    from data.mnist import MNISTError, read_idx_bytes
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(MNISTError) as exc:
        read_idx_bytes("t10k-labels-idx1-ubyte", tmp_path, download=False)
    assert "git checkout" not in str(exc.value) and "copy t10k-labels-idx1-ubyte.gz from" in str(exc.value)
    with pytest.raises(MNISTError, match="is not a folder"):
        read_idx_bytes("t10k-labels-idx1-ubyte", tmp_path / "typo")
    assert not (tmp_path / "typo").exists()


def test_ctrl_c_while_tensorflow_imports_exits_130_in_one_line(cli, tmp_path):
    proc = subprocess.Popen([sys.executable, str(cli.root / "run_main.py"), *TINY, "--results_path", tmp_path],
                            cwd=cli.root, env=cli.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # the flags are parsed in a fraction of that; TensorFlow takes seconds to import
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr.strip() == "interrupted before training began; nothing was saved"
    assert list(tmp_path.iterdir()) == []


def test_restore_into_a_read_only_run_folder_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    import run_main
    run = fake_run(tmp_path / "r")

    def read_only(*args):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(run_main, "create_run_dir", read_only)  # chmod does not stop root, who runs these tests
    with pytest.raises(SystemExit) as exc:
        run_main.main(["--restore", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1
    assert f"cannot make a folder in {run} (Permission denied); copy the run folder" in err[0]
