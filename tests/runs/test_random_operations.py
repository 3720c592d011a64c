"""Seeded random sequences of operations on tiny real runs, for a fixed budget of time: train, stop at a random
moment (Ctrl-C, SIGTERM or SIGKILL at a random boundary of a new run, a resume or an extension), resume, extend,
measure, restore, corrupt a byte. After each operation: its exit status is one of 0, 1, 2, 3, 130, 143 (or the
kill's); nothing was printed as a traceback; no temporary file is left (after a kill, by the next command); and
whenever the folder says it is finished and whole, metrics.json's test -ELBO is what --restore measures from its
weights. Operations run in this process (TensorFlow loads once), but for the kills.

VAE_RANDOM_SEED and VAE_RANDOM_BUDGET (seconds) change the sequence and its length; the operations done are printed
(pytest -s shows them), so that a failure can be replayed with its seed.
"""
import json
import os
import random
import sys
import time

import pytest

from runs import stops
from runs.errors import RunError
from runs.folder import RunFolder

SEED = int(os.environ.get("VAE_RANDOM_SEED", "0"))
BUDGET = float(os.environ.get("VAE_RANDOM_BUDGET", "60"))
TINY = ["--model", "vae", "--n_train", "500", "--n_hidden", "32", "--dim_z", "2", "--num_epochs", "1", "--PRR", "False",
        "--interp", "False"]
STATUSES = {0, 1, 2, 3, 130, 143}
WEIGHTS = {"train": 1, "stop": 3, "resume": 2, "extend": 2, "measure": 1, "restore": 1, "corrupt": 2}
FILES = ("config.json", "checkpoint.npz", "metrics.csv", "metrics.json", "model.weights.h5", "manifest.json")


class Session:
    """The runs made so far, the current one, and the commands run on it (in this process or as a subprocess)."""

    def __init__(self, root, cli, capsys, monkeypatch, rng):
        self.root, self.cli, self.capsys, self.monkeypatch, self.rng = root, cli, capsys, monkeypatch, rng
        self.current, self.count, self.checked = None, 0, {}

    def main(self, argv, stop=None):
        """run_main.py argv, in this process; with stop (N, signal), stopped by the test hook. (status, stderr)"""
        import run_main
        stops.reset()
        if stop:
            self.monkeypatch.setenv(stops.HOOK, f"{stop[0]}:{stop[1]}")
        self.capsys.readouterr()
        try:
            status = run_main.main([str(a) for a in argv])
        except SystemExit as exc:
            status = exc.code
        finally:
            self.monkeypatch.delenv(stops.HOOK, raising=False)
        return status, self.capsys.readouterr().err

    def tool(self, argv):
        from tools import measure
        self.capsys.readouterr()
        try:
            status = measure.main([str(a) for a in argv])
        except SystemExit as exc:
            status = exc.code
        return status, self.capsys.readouterr().err

    def epochs(self):
        try:
            return int(json.loads((self.current / "config.json").read_text())["num_epochs"])
        except (OSError, ValueError, KeyError, TypeError):
            return 1

    def do(self, op):
        """One operation: (what it was, its status, its stderr, whether it was a kill)."""
        if op == "corrupt":
            path = self.current / self.rng.choice(FILES)
            if path.is_file():
                data = bytearray(path.read_bytes())
                data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
                path.write_bytes(bytes(data))
            return f"corrupt {path.name}", 0, "", False
        if op == "measure":
            return "measure", *self.tool([self.current, "--ll_k", "2", "--n_test", "100"]), False
        if op == "restore":
            return "restore", *self.main(["--restore", self.current]), False
        if op == "train" or (op == "stop" and self.rng.random() < 0.3):  # a command that trains: a new run,
            self.count += 1
            self.current = self.root / f"r{self.count}"
            argv = [*TINY, "--results_path", self.root, "--run_name", self.current.name]
        elif op == "resume" or (op == "stop" and self.rng.random() < 0.5):  # a resume,
            argv = ["--resume", self.current]
        else:  # or an extension by one epoch
            argv = ["--resume", self.current, "--num_epochs", self.epochs() + 1]
        what = " ".join(str(a) for a in argv if a not in TINY).replace(str(self.root) + "/", "")
        if op != "stop":
            return what, *self.main(argv), False
        n, signal = self.rng.randrange(1, 20), self.rng.choice(["INT", "TERM", "KILL"])
        if signal == "KILL":
            out = self.cli.main(*argv, env=os.environ | {stops.HOOK: f"{n}:KILL"}, timeout=300)
            return f"{what} stopped at {n} by KILL", out.returncode, out.stderr, True
        return f"{what} stopped at {n} by {signal}", *self.main(argv, stop=(n, signal)), False

    def check(self, what, status, err, killed):
        assert status in STATUSES or (killed and status == -9), (what, status, err)
        assert "Traceback" not in err, (what, err)
        if killed:
            return
        assert len(err.strip().splitlines()) <= 1 or status == 0, (what, err)
        leftovers = [p for p in self.root.rglob("*") if ".tmp" in p.name]
        assert not leftovers, (what, leftovers)
        if self.current is not None and self.current.is_dir():
            self.check_finished()

    def check_finished(self):
        """A folder that says it is finished, whose files pass their checks: its test -ELBO is --restore's."""
        folder = RunFolder(self.current)
        try:
            if folder.state() != "finished":
                return
            problems = [folder.problem(name) for name in ("config.json", "metrics.json", "metrics.csv", "model.weights.h5")]
            if any(problems):
                return
            manifest = (self.current / "manifest.json").read_bytes()
            claimed = folder.metrics()["test_neg_elbo"]
        except RunError:
            return
        if self.checked.get(self.current) == manifest:
            return
        before = set(self.current.glob("restore_*"))
        status, err = self.main(["--restore", self.current])
        assert status == 0, ("restore of a finished run", self.current, err)
        (made,) = set(self.current.glob("restore_*")) - before
        measured = json.loads((made / "metrics.json").read_text())["test_neg_elbo"]
        assert measured == pytest.approx(claimed, rel=1e-6, abs=1e-6), (self.current, claimed, measured)
        self.checked[self.current] = manifest


@pytest.mark.slow
def test_random_operations_keep_every_promise(tmp_path, cli, capsys, monkeypatch):
    rng = random.Random(SEED)
    session = Session(tmp_path, cli, capsys, monkeypatch, rng)
    ops, weights = zip(*WEIGHTS.items())
    end, done = time.time() + BUDGET, []
    while time.time() < end or len(done) < 3:
        op = "train" if session.current is None else rng.choices(ops, weights)[0]
        what, status, err, killed = session.do(op)
        done.append(f"{what} -> {status}")
        print(done[-1], file=sys.__stdout__, flush=True)  # beside pytest's capture, which the checks read
        session.check(what, status, err, killed)
    assert len(done) >= 5 and any("stopped" in line for line in done), done
