import subprocess
import sys
from pathlib import Path

import pytest

from config import FLAGS, parse_args, shown_default

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv, expected", [
    ([], False), (["--PMLR"], True), (["--PMLR", "True"], True), (["--PMLR", "False"], False),
    (["--PMLR", "false"], False), (["--PMLR", "1"], True), (["--PMLR", "0"], False),
    (["--PMLR", "yes"], True), (["--PMLR", "no"], False), (["--PMLR=False"], False),
])
def test_boolean_forms(argv, expected):
    assert parse_args(["--dim_z", "2"] + argv).PMLR is expected


def test_false_means_false_for_every_boolean_flag():
    for name, (kind, _, _) in FLAGS.items():
        if kind == "bool":
            assert getattr(parse_args(["--dim_z", "2", f"--{name}", "False"]), name) is False
            assert getattr(parse_args(["--dim_z", "2", f"--{name}"]), name) is True


def test_original_defaults():
    args = parse_args([])
    assert (args.dim_z, args.n_hidden, args.learn_rate, args.num_epochs, args.batch_size) == (20, 500, 1e-3, 20, 128)
    assert (args.add_noise, args.PRR, args.PMLR, args.PARR, args.model) == (False, True, False, False, "cvae")
    assert (args.PMLR_z_range, args.PMLR_n_samples, args.results_path) == (2.0, 5000, "results")


BAD = [
    ["--dim_z", "0"], ["--dim_z", "-3"], ["--n_hidden", "0"], ["--learn_rate", "0"], ["--learn_rate", "-1e-3"],
    ["--num_epochs", "0"], ["--batch_size", "0"], ["--PRR_resize_factor", "0"], ["--PMLR_z_range", "-1"],
    ["--PMLR", "True"], ["--PARR", "--model", "vae"], ["--PRR_every", "-1"], ["--interp_n_steps", "1"], ["--PMLR_n_samples", "10001"], ["--model", "gan"], ["--PMLR", "maybe"], ["--noise_prob", "1.5"], ["--lr_decay", "0"], ["--lr_decay", "1.5"],
    ["--n_train", "0"], ["--n_train", "70000"], ["--dim_z", "two"], ["--run_name", "a/b"], ["--no_such_flag"],
]


@pytest.mark.parametrize("argv", BAD)
def test_bad_values_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("run_main.py: error: ")


def test_cli_rejects_before_importing_tensorflow(tmp_path):
    code = ("import sys, run_main\n"
            "try:\n    run_main.main(['--dim_z', '0'])\n"
            "except SystemExit as e:\n    print(e.code, 'tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["2", "False"]
    assert "Traceback" not in out.stderr


def test_unwritable_results_path_is_a_flag_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    out = subprocess.run([sys.executable, "run_main.py", "--results_path", str(blocker / "sub")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert "--results_path" in out.stderr and "Traceback" not in out.stderr
    assert blocker.read_text() == "mine"


def test_readme_lists_every_flag_with_its_default():
    readme = (ROOT / "README.md").read_text()
    for name in FLAGS:
        assert f"| `--{name}` | `{shown_default(name)}` |" in readme, name
