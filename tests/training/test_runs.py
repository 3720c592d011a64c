"""Runs that survive and scale: parallel runs, kills and resumes, Ctrl-C, restore, mirrored training."""
import csv
import json
import signal
import time

import pytest

# 125 training steps in 3 compiled calls per epoch, so a stop can land inside an epoch's training as well
# as in its evaluation; 4 epochs so that a kill lands before the end.
TINY = ["--model", "vae", "--n_train", "1000", "--batch_size", "8", "--n_hidden", "32", "--num_epochs", "4",
        "--PRR", "False", "--seed", "5"]


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def rows(run_dir):
    """metrics.csv without the seconds column, which is a measurement and not a result."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]


def wait_for(path, proc, timeout=240):
    """Wait until path exists while proc runs; False if proc ended first."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def parallel_pair(tmp_path_factory, cli):
    """Two identical runs started at the same moment into one results path, with the same default name."""
    results = tmp_path_factory.mktemp("results")
    procs = [cli.start(*TINY, "--results_path", str(results)) for _ in range(2)]
    outcomes = [finish(p) for p in procs]
    return results, outcomes


@pytest.mark.slow
def test_parallel_runs_get_their_own_folders_and_identical_seeds_identical_metrics(parallel_pair):
    results, outcomes = parallel_pair
    assert [rc for rc, _, _ in outcomes] == [0, 0], [err for _, _, err in outcomes]
    run_dirs = sorted(p for p in results.iterdir() if p.is_dir())
    assert len(run_dirs) == 2
    assert {json.loads((d / "config.json").read_text())["run_dir"] for d in run_dirs} == {str(d) for d in run_dirs}
    assert all((d / "metrics.json").exists() and (d / "model.weights.h5").exists() for d in run_dirs)
    assert [r["epoch"] for r in rows(run_dirs[0])] == ["1", "2", "3", "4"]
    assert rows(run_dirs[0]) == rows(run_dirs[1])


def reference(parallel_pair):
    results, _ = parallel_pair
    run_dir = sorted(p for p in results.iterdir() if p.is_dir())[0]
    return run_dir, rows(run_dir), json.loads((run_dir / "metrics.json").read_text())


def signal_after_first_checkpoint(cli, tmp_path, name, signum):
    """Start a tiny run named name and send it signum once its first checkpoint exists; the process and its folder."""
    proc = cli.start(*TINY, "--results_path", str(tmp_path), "--run_name", name)
    run_dir = tmp_path / name
    assert wait_for(run_dir / "checkpoint.npz", proc), "the run ended before its first checkpoint"
    proc.send_signal(signum)
    return proc, run_dir


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(parallel_pair, cli, tmp_path):
    ref_dir, ref_rows, ref_metrics = reference(parallel_pair)
    proc, run_dir = signal_after_first_checkpoint(cli, tmp_path, "killed", signal.SIGKILL)
    proc.communicate()
    assert not (run_dir / "metrics.json").exists(), "the kill came after the run had finished"
    with __import__("numpy").load(run_dir / "checkpoint.npz") as f:  # metrics.csv follows it: a kill may come between
        kept = [{k: str(v) for k, v in r.items() if k != "seconds"} for r in json.loads(str(f["position"]))["rows"]]
    assert 1 <= len(kept) <= 4 and kept == ref_rows[:len(kept)]

    rc, out, err = finish(cli.start("--resume", str(run_dir)))
    assert rc == 0, err
    assert rows(run_dir) == ref_rows  # every epoch once, in order, with the uninterrupted run's numbers
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == ref_metrics["epochs"] == 4
    assert metrics["test_neg_elbo"] == ref_metrics["test_neg_elbo"]
    assert not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_saves_a_checkpoint_and_exits_128_plus_the_signal(parallel_pair, cli, tmp_path, signum, status):
    _, ref_rows, _ = reference(parallel_pair)
    proc, run_dir = signal_after_first_checkpoint(cli, tmp_path, "stopped", signum)
    rc, out, err = finish(proc)
    assert rc == status, err
    assert f"--resume {run_dir}" in err and "Traceback" not in err
    assert not (run_dir / "metrics.json").exists()
    with __import__("numpy").load(run_dir / "checkpoint.npz") as f:
        position = json.loads(str(f["position"]))
    kept = position["rows"]  # the checkpoint is where the run stopped: in the epoch after its last finished one
    assert 1 <= len(kept) <= 4 and position["epoch"] == len(kept) + 1
    assert [{k: str(v) for k, v in r.items() if k != "seconds"} for r in kept] == ref_rows[:len(kept)]
    assert rows(run_dir) == ref_rows[:len(kept)]


@pytest.mark.slow
def test_stop_inside_an_epoch_checkpoints_its_position_and_resumes_exactly(parallel_pair, tmp_path, monkeypatch):
    import contextlib
    from runs import checkpoint
    from training import flags
    from runs.folder import RunFolder
    from training.families import train_and_evaluate
    _, ref_rows, ref_metrics = reference(parallel_pair)
    polls = []

    @contextlib.contextmanager
    def ctrl_c_after_five_polls():  # polls 1-3 precede epoch 1's calls, 4 ends it, 5 and 6 precede epoch 2's calls
        yield lambda: polls.append(1) or (signal.SIGINT if len(polls) >= 6 else 0)

    monkeypatch.setattr(checkpoint, "ctrl_c_requests", ctrl_c_after_five_polls)
    cfg = vars(flags.parse_args(TINY + ["--results_path", str(tmp_path)])) | {"run_dir": str(tmp_path)}
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(cfg, RunFolder(tmp_path))
    with __import__("numpy").load(tmp_path / checkpoint.CHECKPOINT) as f:
        position = json.loads(str(f["position"]))
    assert (position["epoch"], position["calls_done"], position["step"]) == (2, 1, 125 + 50)
    assert rows(tmp_path) == ref_rows[:1]

    monkeypatch.setattr(checkpoint, "ctrl_c_requests", lambda: contextlib.nullcontext(lambda: False))
    metrics = train_and_evaluate(cfg, RunFolder(tmp_path))
    assert rows(tmp_path) == ref_rows
    assert metrics["test_neg_elbo"] == ref_metrics["test_neg_elbo"]


@pytest.mark.slow
def test_restore_remakes_metrics_and_figures_without_training(parallel_pair, cli):
    ref_dir, _, ref_metrics = reference(parallel_pair)
    before = {p.name: p.stat().st_mtime_ns for p in ref_dir.iterdir()}
    rc, out, err = finish(cli.start("--restore", str(ref_dir), "--PRR", "--PRR_resize_factor", "0.5"))
    assert rc == 0, err
    (out_dir,) = ref_dir.glob("restore_*")
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["test_neg_elbo"] == pytest.approx(ref_metrics["test_neg_elbo"], rel=1e-6)
    assert {"PRR_input.png", "PRR_epoch_04.png"} <= {p.name for p in out_dir.iterdir()}
    assert {p.name: p.stat().st_mtime_ns for p in ref_dir.iterdir() if p != out_dir} == before
    assert "epoch 1/" not in out

    rc, _, err = finish(cli.start("--restore", str(ref_dir), "--n_hidden", "64"))
    assert rc == 2 and "only figure flags" in err


@pytest.mark.slow
def test_resume_refuses_a_finished_run_and_extra_flags(parallel_pair):
    ref_dir, _, _ = reference(parallel_pair)
    from runs.folder import saved_run_args
    from training.flags import build_parser
    import argparse
    parser = build_parser()
    with pytest.raises(SystemExit) as stop:
        saved_run_args(argparse.Namespace(resume=str(ref_dir), restore=None), {"resume"}, parser)
    assert stop.value.code == 2
    with pytest.raises(SystemExit):
        saved_run_args(argparse.Namespace(resume=str(ref_dir), restore=None, num_epochs=4), {"resume", "num_epochs"}, parser)


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path, cli):
    out = cli.python(cli.root / "tests" / "training" / "mirrored_check.py", tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    one, two = results["none"], results["mirrored"]
    for key in ("train_loss", "test_recon", "test_kl", "test_neg_elbo"):
        assert two[key] == pytest.approx(one[key], rel=1e-4), key
    assert two["test_neg_elbo"] < 540  # it learned: an untrained decoder scores about 543 nats
