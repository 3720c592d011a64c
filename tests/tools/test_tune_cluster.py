"""A sweep past one machine: a two-node Ray cluster on this machine (a head, and a second node started with
`ray start --address` as a process of its own), tools.tune --address with a shared --storage_path. The second node
is killed mid-sweep: every trial finishes with the numbers of an uninterrupted run, and the trial ASHA stops gets
a metrics.json that says so. docs/sweeps.md has the same steps by hand."""
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

EPOCHS = 4
# A cluster of this machine alone: no usage reports, no token to share (a real cluster shares one: docs/sweeps.md).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
SPACE = '{"learn_rate": [0.001, 0.001, 0.00001]}'  # two alike (one killed), one that trails: ASHA stops it
SWEEP = ["--space", SPACE, "--scheduler", "asha", "--grace_period", "1", "--max_failures", "2", "--cpus_per_trial", "1",
         "--model", "vae", "--n_train", "1100", "--n_valid", "100", "--batch_size", "20", "--num_epochs", str(EPOCHS),
         "--n_hidden", "16", "--dim_z", "2", "--PRR", "False", "--interp", "False"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parent(pid):
    """The parent of process pid (from /proc), or 0 once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class Node:
    """`ray start --block ...` as a process of its own: the node is it and every process it started (raylet, object
    store, the workers the raylet started), found by their parents."""

    def __init__(self, log, *args):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(["ray", "start", "--block", "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
                                      "--disable-usage-stats", *args], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=os.environ | RAY_ENV)

    def holds(self, pid):
        while pid > 1:
            if pid == self.proc.pid:
                return True
            pid = parent(pid)
        return False

    def kill(self):
        """SIGKILL to the node's every process at once, as when its machine is lost."""
        mine = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and self.holds(int(p.name))]
        for pid in mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        self.log.close()


def wait_for(condition, seconds, what):
    end = time.time() + seconds
    while not condition():
        assert time.time() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


def reports(storage):
    """Tune's records of each trial so far: trial folder -> the rows it reported."""
    return {f.parent.name: [json.loads(line) for line in f.read_text().splitlines() if line]
            for f in storage.glob("*/*/result.json")}


def rows(run_dir):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((run_dir / "metrics.csv").open())]


@pytest.mark.slow
def test_a_sweep_on_two_nodes_survives_losing_one(cli, tmp_path):
    pytest.importorskip("ray.tune")
    if shutil.which("ray") is None:
        pytest.skip("the ray command is not installed")
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # Ray's socket paths must stay short
    port = free_port()
    head = Node(tmp_path / "head.log", "--head", "--port", str(port), "--include-dashboard", "false",
                "--temp-dir", str(temp / "h"))
    nodes = [head]
    try:
        wait_for(lambda: "Ray runtime started" in (tmp_path / "head.log").read_text(), 120, "the head")
        second = Node(tmp_path / "second.log", "--address", f"127.0.0.1:{port}")
        nodes.append(second)
        wait_for(lambda: "Ray runtime started" in (tmp_path / "second.log").read_text(), 120, "the second node")
        results, storage = tmp_path / "results", tmp_path / "shared" / "_tune"
        sweep = subprocess.Popen([sys.executable, "-m", "tools.tune", "--address", f"127.0.0.1:{port}", *SWEEP,
                                  "--results_path", results, "--storage_path", storage], cwd=cli.root,
                                 env=cli.env(os.environ | RAY_ENV),
                                 text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        on_second = []

        def a_trial_on_the_second_node_is_under_way():
            for name, reported in reports(storage).items():
                if reported and reported[-1]["epoch"] < EPOCHS and second.holds(reported[-1]["pid"]):
                    on_second.append((name, reported[-1]["pid"]))
            return on_second or sweep.poll() is not None
        wait_for(a_trial_on_the_second_node_is_under_way, 300, "a trial on the second node")
        second.kill()  # the whole node: its raylet and the trial's worker
        out, err = sweep.communicate(timeout=400)
        assert on_second, f"no trial ran on the second node before the sweep ended: {out[-2000:]} {err[-3000:]}"
        assert sweep.returncode == 0, out[-3000:] + err[-3000:]
    finally:
        for node in reversed(nodes):
            node.kill()
        shutil.rmtree(temp, ignore_errors=True)

    run_dirs = {json.loads((d / "config.json").read_text())["learn_rate"]: d for d in results.iterdir() if d.is_dir()}
    assert len(list(results.iterdir())) == 3  # the killed trial went on in its own folder
    alike = [d for d in results.iterdir() if json.loads((d / "config.json").read_text())["learn_rate"] == 0.001]
    assert rows(alike[0]) == rows(alike[1]) and len(rows(alike[0])) == EPOCHS  # the killed one's numbers: unchanged
    for d in alike:
        assert json.loads((d / "metrics.json").read_text())["epochs"] == EPOCHS and "stopped_early" not in \
               json.loads((d / "metrics.json").read_text())
    trailing = json.loads((run_dirs[0.00001] / "metrics.json").read_text())
    assert trailing["stopped_early"].startswith("by asha after epoch") and trailing["epochs"] < EPOCHS
    assert trailing["test_neg_elbo"] == float(rows(run_dirs[0.00001])[-1]["test_loss"]) or \
        abs(trailing["test_neg_elbo"] - float(rows(run_dirs[0.00001])[-1]["test_loss"])) < 1e-3
    from runs.folder import RunFolder
    assert all(RunFolder(d).state() == "finished" for d in results.iterdir())
    killed = reports(storage)[on_second[0][0]]
    epochs = [r["epoch"] for r in killed]
    assert epochs == sorted(set(epochs)) and killed[-1]["pid"] != on_second[0][1]  # went on in a new worker
    assert "stopped early" in out and "finished" in out
