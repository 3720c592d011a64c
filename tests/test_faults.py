"""Faults a hostile user meets (issues 18 and 25), one test or more for each class of issue 25: each ends with its
exit status, one line, nothing half-written left and no number the files cannot back. Most run in this process
with the fake families (fake_training, no TensorFlow); those marked slow stop real runs."""
import gzip
import json
import os
import signal
import shutil
import subprocess
import sys
import time

import h5py
import pytest

import fake_training
from runs import checkpoint, files, stops
from runs.folder import RunFolder, parse_run_args

TINY = ["--model", "vae", "--n_train", "500", "--n_hidden", "32", "--PRR", "False", "--interp", "False"]


def one_line(err):
    """The single stderr line of a failed command (asserting there is exactly one, and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def snapshot(folder):
    """Every file under folder with its bytes: what a refused command must leave as it was."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_run(tmp_path, monkeypatch, name="r", *extra):
    """A finished run made in this process by the fake families: config, checkpoint, weights, metrics, manifest."""
    import run_main
    fake_training.patch(monkeypatch)
    stops.reset()
    argv = [*fake_training.ARGS[:-1], "1", *extra, "--results_path", str(tmp_path), "--run_name", name]
    assert run_main.main(argv) == 0
    return tmp_path / name


def command(capsys, main, *argv):
    """A command's main in this process: (exit status, its one stderr line)."""
    capsys.readouterr()
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    return status, one_line(capsys.readouterr().err)


def as_from_a_terminal():
    """A child started as from a terminal, to be stopped by Ctrl-C: SIGINT at its default, nothing blocked. A child
    inherits an ignored or blocked SIGINT (a shell's background job starts with it ignored), and Python then raises
    no KeyboardInterrupt: in the full suite the workers' children sometimes started so (its cause not found), and a
    Ctrl-C never arrived, even one the child sent itself."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def run_main_cmd(*argv):
    import run_main
    return run_main.main(list(argv))


def measure_cmd(argv):
    from tools import measure
    return measure.main(argv)


# ---- silent wrong numbers
def test_a_finished_run_without_weights_and_checkpoint_is_refused_by_every_command(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path, monkeypatch)
    (run / "checkpoint.npz").unlink()
    (run / "model.weights.h5").unlink()
    before = snapshot(run)
    for argv in (["--resume", run], ["--restore", run], ["--resume", run, "--num_epochs", "3"]):
        status, line = command(capsys, lambda a: run_main_cmd(*a), *argv)
        assert status == 2 and "no model stands behind the numbers in metrics.json" in line, line
    status, line = command(capsys, measure_cmd, run)
    assert status == 2 and f"{run / 'model.weights.h5'} is missing" in line
    from training.api import RunError, load_run
    with pytest.raises(RunError, match="no model stands behind the numbers"):
        load_run(run)
    assert snapshot(run) == before


def test_a_measure_while_another_process_writes_the_run_is_refused(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path, monkeypatch)
    held = files.lock_run_dir(run)  # an extension, say, holds the run
    status, line = command(capsys, measure_cmd, run, "--ll_k", "2")
    held.close()
    assert status == 1 and line == (f"error: {run} is in use by process {os.getpid()} (a run training, resuming or "
                                    "being measured there); wait for it to end or stop it first")


@pytest.mark.parametrize("change", [0.5, float("nan")])
def test_a_weight_changed_inside_the_weights_file_is_refused(tmp_path, monkeypatch, capsys, change):
    run = fake_run(tmp_path, monkeypatch)
    with h5py.File(run / "model.weights.h5", "r+") as f:
        f["layers/dense/vars/0"][0, 0] = change
    for main, argv in ((lambda a: run_main_cmd(*a), ["--restore", run]), (measure_cmd, [run])):
        status, line = command(capsys, main, *argv)
        assert status == 2 and "model.weights.h5 does not match its checksum in manifest.json" in line
        assert f"'python run_main.py --resume {run}' rebuilds it from checkpoint.npz" in line
    (run / "manifest.json").unlink()  # a run from before manifests: a nan is still found
    status, line = command(capsys, lambda a: run_main_cmd(*a), "--restore", run)
    assert status == 2 and ("holds non-finite values" in line) == (change != change)


# ---- a user's file overwritten
def test_no_file_of_the_users_is_written_through_a_link_in_a_run_folder(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path, monkeypatch)
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's own")
    (run / ".lock").unlink()
    (run / ".lock").symlink_to(mine)
    status, line = command(capsys, lambda a: run_main_cmd(*a), "--resume", run, "--num_epochs", "2")
    assert status == 2 and line == f"error: {run / '.lock'} is a symbolic link, and the runner writes through none; remove the link"
    (run / ".lock").unlink()
    (run / "metrics.csv").rename(tmp_path / "kept.csv")
    (run / "metrics.csv").symlink_to(mine)  # the run's file replaced by a link: refused, never followed
    status, line = command(capsys, lambda a: run_main_cmd(*a), "--restore", run)
    assert status == 2 and "metrics.csv does not match its checksum" in line
    assert mine.read_text() == "the user's own"


# ---- a finished run made unfinished, and a stop in the last phase (real runs)
@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory, cli):
    """One tiny finished VAE run (no classifier needed to measure it)."""
    root = tmp_path_factory.mktemp("tiny_vae")
    out = cli.main(*TINY, "--num_epochs", "1", "--results_path", root, "--run_name", "v", timeout=300)
    assert out.returncode == 0, out.stderr
    return root / "v"


@pytest.mark.slow
def test_ctrl_c_early_in_an_extension_leaves_the_finished_run_as_it_was(cli, tiny_vae, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(tiny_vae, run)
    before = snapshot(run)
    out = cli.main("--resume", run, "--num_epochs", "2", env=os.environ | {stops.HOOK: "setup:INT"})
    assert out.returncode == 130
    assert one_line(out.stderr) == (f"interrupted before the extension's first new epoch ended; {run} is as it was, "
                                    f"finished at 1 epochs (extend it again with --resume {run} --num_epochs N)")
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k.name != ".lock"} == {k: v for k, v in before.items() if k.name != ".lock"}
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_sigterm_while_the_last_figures_are_drawn_checkpoints_and_says_how_to_go_on(cli, tmp_path):
    args = [*TINY, "--num_epochs", "1", "--results_path", tmp_path, "--run_name", "r"]
    out = cli.main(*args, env=os.environ | {stops.HOOK: "final_figures:TERM"})
    run = tmp_path / "r"
    assert out.returncode == 143, out.stderr
    assert one_line(out.stderr) == f"interrupted; the last checkpoint is in {run}; continue with: python run_main.py --resume {run}"
    assert RunFolder(run).state() == "training" and not [p for p in run.rglob("*") if ".tmp" in p.name]
    resumed = cli.main("--resume", run)
    assert resumed.returncode == 0 and RunFolder(run).state() == "finished", resumed.stderr
    assert "epoch 1/1" not in resumed.stdout  # it drew the last figures and finished, without training again


# ---- one line instead of a traceback
@pytest.mark.parametrize("text", ["[]", "null", "{}", "wrong type", "unknown model"])
def test_a_config_that_parses_but_is_wrong_is_one_line_in_every_command(tmp_path, monkeypatch, capsys, text):
    run = fake_run(tmp_path, monkeypatch)
    cfg = json.loads((run / "config.json").read_text())
    text = {"wrong type": json.dumps(cfg | {"dim_z": "3"}), "unknown model": json.dumps(cfg | {"model": "gan"})}.get(text, text)
    (run / "config.json").write_text(text)
    (run / "manifest.json").unlink()  # as a run made before manifests, or the check after the checksum
    for main, argv in ((lambda a: run_main_cmd(*a), ["--restore", run]), (measure_cmd, [run]),
                       (lambda a: run_main_cmd(*a), ["--resume", run, "--num_epochs", "2"])):
        status, line = command(capsys, main, *argv)
        assert status == 2 and f"{run / 'config.json'} does not describe a run" in line, line
    from training.api import RunError, load_run
    with pytest.raises(RunError, match="does not describe a run"):
        load_run(run)


@pytest.mark.parametrize("name", ["config.json", "metrics.json"])
def test_measure_on_a_cut_file_is_one_line(tmp_path, monkeypatch, capsys, name):
    run = fake_run(tmp_path, monkeypatch)
    text = (run / name).read_text()
    (run / name).write_text(text[:len(text) // 2])
    status, line = command(capsys, measure_cmd, run)
    assert status == 2 and f"{run / name} does not match its checksum" in line
    (run / "manifest.json").unlink()
    status, line = command(capsys, measure_cmd, run)
    assert status == 2 and f"{run / name} is damaged" in line


@pytest.mark.parametrize("argv, text", [
    (["--resize_factor", "nan"], "argument --resize_factor: must lie in [0.1, 5], got nan"),
    (["--resize_factor", "inf"], "argument --resize_factor: must lie in [0.1, 5], got inf"),
    (["--n_img_x", "100000"], "argument --n_img_x: must lie in [1, 50], got 100000"),
    (["--out", "{tmp}/no/such/c.png"], "is not a folder"),
    (["--resize_factor", "5", "--n_img_x", "50", "--n_img_y", "50"], "the figure would exceed 20 megapixels"),
])
def test_compare_runs_refuses_bad_sizes_and_paths_in_one_line(tmp_path, monkeypatch, capsys, argv, text):
    from tools import compare_runs
    run = fake_run(tmp_path, monkeypatch)
    argv = [a.format(tmp=tmp_path) for a in argv]
    status, line = command(capsys, compare_runs.main, run, run, *argv)
    assert status == 2 and text in line and line.startswith("python -m tools.compare_runs: error: ")


def test_compare_runs_with_long_names_asks_for_out(tmp_path, monkeypatch, capsys):
    from tools import compare_runs
    a, b = fake_run(tmp_path, monkeypatch, "a" * 150), fake_run(tmp_path, monkeypatch, "b" * 150)
    status, line = command(capsys, compare_runs.main, a, b)
    assert status == 2 and "is too long for a file name; give --out" in line


def test_summarize_onto_a_folder_it_cannot_write_is_one_line(tmp_path, monkeypatch, capsys):
    from tools import summarize
    run = fake_run(tmp_path, monkeypatch)
    for argv in (["--curves", "/proc/curves.png"], ["--out", "/proc/summary"]):
        status, line = command(capsys, summarize.main, run, *argv)
        assert status == 1 and line.startswith("error: cannot write /proc/"), line


@pytest.mark.parametrize("out, text", [("nowhere/x.png", "is not a folder"), ("x.xyz", "must end in .png")])
def test_the_example_refuses_an_output_it_cannot_write_in_one_line(cli, tmp_path, out, text):
    result = cli.python(cli.root / "examples" / "api.py", tmp_path, tmp_path / out)
    assert result.returncode == 2 and text in one_line(result.stderr)


@pytest.mark.parametrize("space", ['{"dim_z": ["a"]}', '{"learn_rate": ["x"]}', '{"add_noise": [3]}', '{"dim_z": [2.5]}',
                                   '{"dim_z": {"randint": ["a", 3]}}', '{"model": [1]}', '{"dim_z": {"randint": [5, 2]}}'])
def test_tune_refuses_wrongly_typed_space_values_in_one_line(capsys, space):
    from tools import tune
    status, line = command(capsys, tune.main, "--space", space, "--n_valid", "100")
    assert status == 2 and "argument --space" in line


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT])  # SIGTERM takes the same path (tools.cli.run_tool)
def test_a_stop_during_measure_is_one_line_and_leaves_metrics_json_as_it_was(cli, tiny_vae, tmp_path, signum):
    run = tmp_path / "r"
    shutil.copytree(tiny_vae, run)
    before = snapshot(run)
    proc = subprocess.Popen([sys.executable, "-m", "tools.measure", str(run), "--ll_k", "2000"], cwd=cli.root,
                            env=cli.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=as_from_a_terminal)
    time.sleep(8)  # TensorFlow loaded, the run's lock held, the log-likelihood being estimated
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, (proc.returncode, out[-800:], err[-2000:])
    assert one_line(err) == "python -m tools.measure: interrupted; the run being measured keeps its metrics.json as it was"
    assert {k: v for k, v in snapshot(run).items() if k.name != ".lock"} == \
           {k: v for k, v in before.items() if k.name != ".lock"}


# ---- bounds
@pytest.mark.parametrize("jobs", ["0", "abc", "-1"])
def test_the_sweep_script_refuses_a_job_count_that_would_loop_or_fail(root, tmp_path, jobs):
    out = subprocess.run(["bash", str(root / "scripts" / "sweep.sh"), str(tmp_path / "s")], capture_output=True,
                         text=True, timeout=20, env=os.environ | {"JOBS": jobs})
    assert out.returncode == 2 and "JOBS must be a whole number from 1 to 256" in one_line(out.stderr)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("tool, argv, text", [
    ("measure", ["--ll_k", "1000000000"], "argument --ll_k: must lie in [0, 100000]"),
    ("measure", ["--n_test", "0"], "argument --n_test: must lie in [1, 10000]"),
    ("tune", ["--space", '{"dim_z": [2]}', "--n_valid", "100", "--cpus_per_trial", "nan"], "argument --cpus_per_trial"),
    ("tune", ["--space", '{"dim_z": [2]}', "--n_valid", "100", "--num_samples", "1000000000"], "argument --num_samples"),
    ("classifier", ["--epochs", "1000000000"], "argument --epochs: must lie in [1, 1000]"),
    ("classifier", ["--seed", "-1"], "argument --seed"),
])
def test_every_numeric_flag_of_a_tool_is_bounded(tmp_path, monkeypatch, capsys, tool, argv, text):
    import importlib
    run = fake_run(tmp_path, monkeypatch)
    argv = [run, *argv] if tool == "measure" else [*argv, "--out", tmp_path / "c.weights.h5"] if tool == "classifier" else argv
    status, line = command(capsys, importlib.import_module(f"tools.{tool}").main, *argv)
    assert status == 2 and text in line, line


# ---- the results path, and start-up
@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_results_path_whose_link_leads_nowhere_gets_its_own_line(tmp_path, capsys, kind):
    link = tmp_path / "results"
    link.symlink_to(tmp_path / "nowhere" if kind == "dangling" else link)
    with pytest.raises(SystemExit) as exc:
        parse_run_args(["--results_path", str(link)])
    line = one_line(capsys.readouterr().err)
    assert exc.value.code == 2 and line.startswith("run_main.py: error: argument --results_path: ")
    assert ("which does not exist" if kind == "dangling" else "is a loop of symbolic links") in line
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_a_loss_going_nan_stops_the_run_with_status_3_and_leaves_nothing(cli, tmp_path):
    out = cli.main(*TINY, "--num_epochs", "2", "--learn_rate", "1e30", "--results_path", tmp_path, "--run_name", "r")
    assert out.returncode == 3
    assert one_line(out.stderr).startswith("error: epoch 1: train_recon is nan")
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


def test_a_failed_write_is_one_line_naming_the_file(monkeypatch, capsys):
    import errno
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


@pytest.mark.parametrize("signum, delay", [(signal.SIGINT, 0.7), (signal.SIGTERM, 1.5)])
def test_a_stop_while_tensorflow_imports_is_one_line_and_leaves_nothing(cli, tmp_path, signum, delay):
    """A Ctrl-C early in the import was lost (raised in a finalizer, swallowed) and the run went on: it waits for
    the import's end now."""
    proc = subprocess.Popen([sys.executable, str(cli.root / "run_main.py"), *TINY, "--results_path", tmp_path],
                            cwd=cli.root, env=cli.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=as_from_a_terminal)
    time.sleep(delay)  # the flags are parsed in a fraction of that; TensorFlow takes seconds to import
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, (proc.returncode, stdout[-800:], stderr[-2000:])
    assert stderr.strip() == "interrupted before training began; nothing was saved"
    assert list(tmp_path.iterdir()) == []


def test_restore_into_a_read_only_run_folder_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    import run_main
    run = fake_run(tmp_path, monkeypatch)

    def read_only(*args):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(files, "create_run_dir", read_only)  # chmod does not stop root, who runs these tests
    with pytest.raises(SystemExit) as exc:
        run_main.main(["--restore", str(run)])
    line = one_line(capsys.readouterr().err)
    assert exc.value.code == 2 and f"cannot make a folder in {run} (Permission denied); copy the run folder" in line


def test_a_resumed_run_checks_its_checkpoint_before_tensorflow(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path, monkeypatch)
    data = bytearray((run / checkpoint.CHECKPOINT).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / checkpoint.CHECKPOINT).write_bytes(bytes(data))
    (run / "manifest.json").unlink()
    before = snapshot(run)
    with pytest.raises(SystemExit) as exc:
        parse_run_args(["--resume", str(run), "--num_epochs", "2"])
    line = one_line(capsys.readouterr().err)
    assert exc.value.code == 2 and f"{run / checkpoint.CHECKPOINT} is damaged (" in line
    assert snapshot(run) == before  # left as it was
