"""A stop at any moment leaves the run folder in a named state from which --resume goes on to the files an
uninterrupted run writes: SIGKILL at every boundary (each phase of the loop, each step of each transition),
SIGTERM at every boundary too (a request, honoured at the next phase) and Ctrl-C at every phase, for a new run and for
an extension. The families are stood in for by
fake_training (no TensorFlow), so that each stopped run takes a fraction of a second; test_faults.py stops real
runs at the phases the issue named."""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import fake_training
from runs import stops
from runs.checkpoint import read as read_checkpoint
from runs.folder import STATE_FILES, RunFolder

SCRIPT = Path(fake_training.__file__)
ONE_EPOCH = fake_training.ARGS[:-1] + ["1"]
PHASES = ("setup", "epoch_figures", "final_figures")


def fake(*args, env=None):
    """`run_main.py ARGS` with the fake families, in a subprocess (so that SIGKILL ends it)."""
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60,
                          env=os.environ | (env or {}))


def in_process(monkeypatch, *args):
    """`run_main.py ARGS` with the fake families, in this process (fast): its exit status."""
    import run_main
    fake_training.patch(monkeypatch)
    stops.reset()
    return run_main.main([str(a) for a in args])


def trace(tmp_path, *args):
    """The boundaries a command passes, by name (run once, uninterrupted, in a copy)."""
    log = tmp_path / "trace.txt"
    out = fake(*args, env={stops.TRACE: str(log)})
    assert out.returncode == 0, out.stderr
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()]


def outcome(run):
    """What a finished run's numbers come from: metrics.csv and metrics.json (less the wall time), the weights'
    and the checkpoint's arrays, config.json, and which recorded files there are."""
    doc = json.loads((run / "manifest.json").read_text())
    with h5py.File(run / "model.weights.h5") as f:
        weights = [f[f"layers/dense/vars/{i}"][()].tolist() for i in range(2)]
    saved = read_checkpoint((run / "checkpoint.npz").read_bytes())
    metrics = {k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k != "wall_seconds"}
    position = saved.position.__dict__ | {"wall_seconds": 0, "epoch_seconds": 0}
    return {"state": doc["state"], "files": sorted(doc["files"]), "csv": (run / "metrics.csv").read_text(),
            "metrics": metrics, "weights": weights, "position": position,
            "arrays": {k: v.tolist() for k, v in saved.arrays.items()},
            "config": {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k != "run_dir"}}


def leftovers(folder):
    return [p.name for p in Path(folder).rglob("*") if ".tmp" in p.name]


def check_named_state(run):
    """The folder is in a named state whose files all pass their checks (a half-done transition is finished by
    the reader); its state."""
    folder = RunFolder(run)
    state = folder.state()
    assert state in STATE_FILES or state == "being_extended"
    for name in STATE_FILES["finished" if state == "being_extended" else state]:
        if name != "metrics.csv" or state != "training":
            folder.read(name)
    return state


def go_on(monkeypatch, run, *extra):
    """--resume until the run is finished (a stopped extension is finished already, and is extended again)."""
    for _ in range(3):
        state = check_named_state(run)
        if state == "finished" and not extra:
            return
        if state == "finished" and json.loads((run / "config.json").read_text())["num_epochs"] >= int(extra[-1]):
            return
        assert in_process(monkeypatch, "--resume", run, *extra) == 0
    raise AssertionError(f"{run} did not finish")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted fake runs: one epoch, and one epoch extended to two."""
    root = tmp_path_factory.mktemp("reference")
    assert fake(*ONE_EPOCH, "--results_path", root, "--run_name", "one").returncode == 0
    assert fake(*ONE_EPOCH, "--results_path", root, "--run_name", "ext").returncode == 0
    assert fake("--resume", root / "ext", "--num_epochs", "2").returncode == 0
    return {"one": outcome(root / "one"), "ext": outcome(root / "ext"), "root": root}


def expected_status(signal, out):
    """A stop request either stops the run (130 or 143, one line, no temporary file) or comes after its last
    poll (0); SIGKILL ends it at once."""
    if signal == "KILL":
        return out.returncode == -9
    if out.returncode == 0:
        return True
    lines = out.stderr.strip().splitlines()
    return out.returncode == {"INT": 130, "TERM": 143}[signal] and len(lines) == 1 and "Traceback" not in out.stderr


@pytest.mark.slow  # end to end: about 40 processes, each stopped at one boundary
@pytest.mark.parametrize("signal", ["KILL", "TERM", "INT"])
def test_a_new_run_stopped_anywhere_goes_on_to_the_files_of_an_uninterrupted_one(tmp_path, monkeypatch, reference, signal):
    names = trace(tmp_path, *ONE_EPOCH, "--results_path", tmp_path / "t", "--run_name", "a")
    assert names.count("manifest pending") == 3 and [n for n in names if n in PHASES] == list(PHASES)
    for n, name in enumerate(names, 1):
        if signal == "INT" and name not in PHASES:
            continue
        results = tmp_path / f"{signal}{n}"
        out = fake(*ONE_EPOCH, "--results_path", results, "--run_name", "a", env={stops.HOOK: f"{n}:{signal}"})
        assert expected_status(signal, out), (n, name, out.returncode, out.stderr)
        if signal != "KILL":
            assert leftovers(results) == [], (n, name)
        run = results / "a"
        if not (run / "config.json").exists() and not (run / "manifest.json").exists():
            # stopped before the first checkpoint (the folder was removed), or killed between mkdir and config.json
            assert not run.exists() or signal == "KILL", (n, name)
            assert in_process(monkeypatch, *ONE_EPOCH, "--results_path", tmp_path / f"again{n}{signal}", "--run_name", "a") == 0
            run = tmp_path / f"again{n}{signal}" / "a"
        go_on(monkeypatch, run)
        assert leftovers(run) == [], (n, name)
        assert outcome(run) | {"config": None} == reference["one"] | {"config": None}, (n, name)


@pytest.mark.slow
@pytest.mark.parametrize("signal", ["KILL", "TERM", "INT"])
def test_an_extension_stopped_anywhere_leaves_the_finished_run_or_the_extension(tmp_path, monkeypatch, reference, signal):
    base = reference["root"] / "one"
    names = trace(tmp_path, "--resume", copy(base, tmp_path / "t"), "--num_epochs", "2")
    for n, name in enumerate(names, 1):
        if signal == "INT" and name not in PHASES:
            continue
        run = copy(base, tmp_path / f"{signal}{n}")
        before = recorded(run)
        out = fake("--resume", run, "--num_epochs", "2", env={stops.HOOK: f"{n}:{signal}"})
        assert expected_status(signal, out), (n, name, out.returncode, out.stderr)
        state = check_named_state(run)
        if state in ("finished", "being_extended") and json.loads((run / "config.json").read_text())["num_epochs"] == 1:
            # not committed: the finished run is as it was (its recorded files byte for byte; the next writer
            # removes what an uncommitted extension drew)
            assert recorded(run) == before, (n, name)
            if signal != "KILL":
                assert "is as it was, finished at 1 epochs" in out.stderr and leftovers(run) == [], (n, name)
                assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in base.iterdir()), (n, name)
        go_on(monkeypatch, run, "--num_epochs", "2")
        assert outcome(run) | {"config": None} == reference["ext"] | {"config": None}, (n, name)
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["num_epochs"] == 2 and cfg["extended_from"] == [1], (n, name)


def copy(run, to):
    import shutil
    shutil.copytree(run, to / run.name)
    return to / run.name


def recorded(run):
    """The bytes of the files manifest.json records, with the state and checksums it records."""
    doc = RunFolder(run).manifest()
    return {name: (run / name).read_bytes() for name in doc["files"]} | {"state": doc["state"], "files": doc["files"]}


def test_the_hook_counts_boundaries_and_stops_at_the_nth(monkeypatch, tmp_path):
    log = tmp_path / "log"
    monkeypatch.setenv(stops.TRACE, str(log))
    monkeypatch.setenv(stops.HOOK, "2:TERM")
    stops.reset()
    with stops.ctrl_c_requests() as requested:
        stops.boundary("a")
        assert requested() == 0
        stops.boundary("b")  # the handler records SIGTERM; the run stops at its next poll
        assert requested() == 15
    assert log.read_text().splitlines() == ["1 a", "2 b"] and stops.requested() == 0


def test_a_checkpoint_that_is_no_checkpoint_of_this_model_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    assert in_process(monkeypatch, *ONE_EPOCH, "--results_path", tmp_path, "--run_name", "a") == 0
    other = tmp_path / "b"
    assert in_process(monkeypatch, *ONE_EPOCH, "--dim_z", "5", "--results_path", tmp_path, "--run_name", "b") == 0
    run = tmp_path / "a"
    for name in ("checkpoint.npz", "model.weights.h5"):
        (run / name).write_bytes((other / name).read_bytes())
    (run / "manifest.json").unlink()  # a run from before manifests: the shapes are what finds it
    capsys.readouterr()
    assert in_process(monkeypatch, "--resume", run, "--num_epochs", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.npz does not fit config.json: its model array 0 has shape (5, 4) where " \
                               "config.json's model has (3, 4)" in err[0]
    assert np.load(run / "checkpoint.npz")["model_0"].shape == (5, 4)  # left as it was


FINALIZER = """
import os, signal, sys, threading, time
from runs import stops
if sys.argv[1] == "kept":
    stops.keep_interrupts()
class Slow:
    def __del__(self):
        time.sleep(1.0)  # a finalizer that the Ctrl-C lands in, as during TensorFlow's import
threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    slow = Slow()
    del slow
    time.sleep(3)
    print("went on")
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("mode, printed", [("plain", "went on"), ("kept", "interrupted")])
def test_a_ctrl_c_raised_inside_a_finalizer_is_not_lost(cli, mode, printed):
    from test_faults import as_from_a_terminal
    out = subprocess.run([sys.executable, "-c", FINALIZER, mode], cwd=cli.root, env=cli.env(), capture_output=True,
                         text=True, timeout=60, preexec_fn=as_from_a_terminal)
    assert out.stdout.strip() == printed, out.stderr
