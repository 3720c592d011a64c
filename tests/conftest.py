"""Shared fixtures: the repository root, the project's commands run as a user runs them, one tiny finished run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The run the tests that need some finished run share: a CVAE denoiser with a 2-D latent space, so that it
# draws every figure (PRR with its noisy inputs, PMLR, PARR, interpolation, denoising, learning curves); two
# epochs, so that the index page orders epochs; small grids, so that it is quick.
FINISHED_RUN = ["--model", "cvae", "--dim_z", "2", "--PMLR", "--PARR", "--add_noise", "--n_train", "500",
                "--num_epochs", "2", "--n_hidden", "32", "--PRR_n_img_x", "4", "--PRR_n_img_y", "3",
                "--PMLR_n_samples", "300", "--interp_n_steps", "5"]


class Commands:
    """The project's commands as subprocesses: `python run_main.py ...`, `python -m tools.NAME ...`, any script.

    They run from the repository root unless cwd says otherwise; PYTHONPATH holds the root either way, so that
    `python -m tools.NAME` and a script under tests/ import the project's packages from any folder."""

    root = ROOT

    def env(self, env=None):
        env = dict(os.environ if env is None else env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env

    def python(self, *args, cwd=None, env=None, timeout=600):
        """`python ARGS...`, waited for: the CompletedProcess with stdout and stderr as text."""
        return subprocess.run([sys.executable, *map(str, args)], cwd=cwd or ROOT, env=self.env(env),
                              capture_output=True, text=True, timeout=timeout)

    def main(self, *args, **kwargs):
        """`python run_main.py ARGS...`."""
        return self.python(ROOT / "run_main.py", *args, **kwargs)

    def tool(self, name, *args, **kwargs):
        """`python -m tools.NAME ARGS...`."""
        return self.python("-m", f"tools.{name}", *args, **kwargs)

    def start(self, *args):
        """`python run_main.py ARGS...` started, not waited for: the Popen (text stdout and stderr pipes)."""
        return subprocess.Popen([sys.executable, str(ROOT / "run_main.py"), *map(str, args)], cwd=ROOT,
                                env=self.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="session")
def root():
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def cli():
    """The project's commands, run as subprocesses (see Commands)."""
    return Commands()


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, cli):
    """The folder of one tiny finished run (FINISHED_RUN's flags), trained once per session through the CLI.

    Tests share it read-only: a test that writes into a run folder trains one of its own."""
    results = tmp_path_factory.mktemp("finished_run")
    out = cli.main(*FINISHED_RUN, "--results_path", results, "--run_name", "r", timeout=300)
    assert out.returncode == 0, out.stderr
    return results / "r"


# Fixtures, here and in the test modules, that train through the CLI: a test that uses one is slow.
TRAINING_FIXTURES = {"finished_run", "parallel_pair", "semi_smoke_runs", "smoke_runs", "tiny_cvae_run"}


def pytest_collection_modifyitems(items):
    """A test that trains through a shared fixture must carry the slow marker, or `-m "not slow"` would train."""
    for item in items:
        used = TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))
        if used and item.get_closest_marker("slow") is None:
            raise pytest.UsageError(f"{item.nodeid} uses {', '.join(sorted(used))}, which trains a run: mark it slow")
