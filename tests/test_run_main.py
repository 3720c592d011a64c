"""python run_main.py end to end, as a user or a CI smoke run calls it."""
import csv
import json
import os
import shutil
import subprocess

import pytest
from PIL import Image

SMALL = ["--n_train", "1000", "--num_epochs", "1"]
SMOKE = {"cvae": [], "vae": ["--add_noise", "True", "--PRR_resize_factor", "0.5"]}  # model: its extra flags


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory, cli):
    """Both smoke runs, each into a results folder that holds a file of the user's, started at once (a tiny run
    leaves much of the CPU idle): model -> (results folder, the user's file, the finished CompletedProcess)."""
    started = {}
    for model, extra in SMOKE.items():
        results = tmp_path_factory.mktemp(f"smoke_{model}") / "results"
        results.mkdir()
        mine = results / "my_notes.txt"
        mine.write_text("keep me")
        started[model] = results, mine, cli.start("--model", model, "--dim_z", "2", *SMALL, *extra,
                                                  "--results_path", results)
    finished = {}
    for model, (results, mine, proc) in started.items():
        stdout, stderr = proc.communicate(timeout=300)
        finished[model] = results, mine, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return finished


@pytest.mark.slow
@pytest.mark.parametrize("model, extra", SMOKE.items())
def test_smoke_run_writes_a_complete_run_folder(smoke_runs, model, extra):
    results, mine, out = smoke_runs[model]
    assert out.returncode == 0, out.stderr
    assert mine.read_text() == "keep me"
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    names = {p.name for p in run_dir.iterdir()}
    expected = {"config.json", "metrics.csv", "metrics.json", "model.weights.h5", "PRR_input.png", "PRR_epoch_01.png"}
    assert expected <= names
    assert ("PRR_input_noisy.png" in names) == bool(extra)
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"] == model and cfg["dim_z"] == 2 and cfg["add_noise"] == bool(extra)
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["n_train"] == 1000 and metrics["n_test"] == 10000
    assert 50 < metrics["test_neg_elbo"] < 550
    assert abs(metrics["test_neg_elbo"] - metrics["test_recon"] - metrics["test_kl"]) < 1e-3
    side = 14 if extra else 28
    assert Image.open(run_dir / "PRR_epoch_01.png").size == (10 * side, 10 * side)
    assert "epoch 1/1" in out.stdout and "test" in out.stdout and "\ndevice: " in out.stdout
    assert "cuda" not in (out.stdout + out.stderr).lower()


@pytest.mark.slow
def test_another_seed_other_metrics_and_run_name_never_overwritten(cli, tmp_path):
    args = ["--model", "vae", "--n_train", "600", "--num_epochs", "2", "--PRR", "False", "--results_path", str(tmp_path)]
    # Two independent runs started at once share the CPU (a tiny run leaves much of it idle). That the same seed
    # gives the same numbers is tests/training/test_runs.py's parallel pair; here another seed gives others.
    procs = [cli.start(*args, "--run_name", name, "--seed", seed) for name, seed in (("a", "3"), ("c", "4"))]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    def losses(name):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((tmp_path / name / "metrics.csv").open())]
    assert len(losses("a")) == len(losses("c")) == 2
    assert all(a != c for a, c in zip(losses("a"), losses("c")))
    before = (tmp_path / "a" / "metrics.csv").read_text()
    again = cli.main(*args, "--run_name", "a", timeout=300)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (tmp_path / "a" / "metrics.csv").read_text() == before


@pytest.mark.slow  # the whole CLI, TensorFlow included, up to the damaged file
def test_truncated_data_is_one_line_and_exit_1(cli, root, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(root / "data", data, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    damaged = data / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    out = cli.main("--data_dir", data, *SMALL, "--results_path", tmp_path / "r", timeout=300)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "train-labels-idx1-ubyte" in lines[0]
    assert "Traceback" not in out.stderr


def test_cli_rejects_before_importing_tensorflow(cli):
    code = ("import sys, run_main\n"
            "try:\n    run_main.main(['--dim_z', '0'])\n"
            "except SystemExit as e:\n    print(e.code, 'tensorflow' in sys.modules)\n")
    out = cli.python("-c", code)
    assert out.stdout.split() == ["2", "False"]
    assert "Traceback" not in out.stderr


def test_unwritable_results_path_is_a_flag_error(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    out = cli.main("--results_path", blocker / "sub")
    assert out.returncode == 2
    assert "--results_path" in out.stderr and "Traceback" not in out.stderr
    assert blocker.read_text() == "mine"


STUB = """/* libcuda.so.1 as on a machine with CUDA libraries but no usable GPU: cuInit fails. */
int cuInit(unsigned int flags) { return 100; }  /* CUDA_ERROR_NO_DEVICE */
int cuDriverGetVersion(int *version) { *version = 12080; return 0; }
int cuGetErrorString(int error, const char **text) { *text = "no CUDA-capable device is detected"; return 0; }
int cuGetErrorName(int error, const char **text) { *text = "CUDA_ERROR_NO_DEVICE"; return 0; }
"""


@pytest.fixture(scope="module")
def failing_cuda(tmp_path_factory):
    """A folder for LD_LIBRARY_PATH holding a libcuda.so.1 whose cuInit fails, built here with the C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the failing libcuda.so.1")
    folder = tmp_path_factory.mktemp("cuda")
    (folder / "stub.c").write_text(STUB)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", folder / "libcuda.so.1", folder / "stub.c"], check=True)
    return folder


def test_tensorflow_log_lines_stay_off_the_terminal_unless_the_user_asks(cli, failing_cuda):
    code = "import tf_setup\nprint(tf_setup.device_line())"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "VAE_MNIST_QUIET_TENSORFLOW")}
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(failing_cuda), env.get("LD_LIBRARY_PATH")]))
    quiet = cli.python("-c", code, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert quiet.stdout.strip() == "the CPU (TensorFlow found no usable GPU)"
    asked = cli.python("-c", code, env=env | {"TF_CPP_MIN_LOG_LEVEL": "0"})  # the user's own level: they see it all
    assert "failed call to cuInit" in asked.stderr  # the stub reproduces the line a CUDA machine without a GPU prints
