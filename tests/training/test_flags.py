"""The flags of run_main.py (training.flags): their values, defaults, rejections, --help and docs/flags.md."""
import json
import re

import pytest

from runs.folder import parse_run_args
from training.flags import FLAGS, GROUPS, build_parser, flag_table, help_entry, parse_args, shown_default


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


@pytest.mark.parametrize("argv", [
    ["--model", "m2", "--n_labeled", "15"], ["--model", "m2", "--n_labeled", "0"],
    ["--model", "m2", "--n_train", "100", "--n_labeled", "100"], ["--model", "m2", "--add_noise"],
    ["--model", "m2", "--alpha", "-1"], ["--model", "m2", "--m1_run", "."], ["--model", "m1m2", "--m1_run", "/no/such/run"],
    ["--model", "m2", "--m2_hidden", "-1"], ["--model", "cvae", "--m2_hidden", "300"],
    ["--model", "m1m2", "--binarize", "dynamic"], ["--model", "m2", "--quality"],
    ["--model", "m2", "--n_valid", "-1"], ["--model", "cvae", "--n_train", "100", "--n_valid", "100"],
    ["--model", "m2", "--n_train", "1000", "--n_valid", "950", "--n_labeled", "50"],
])
def test_bad_semisupervised_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_run_args(argv)
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_alpha_defaults_by_model_and_a_resumed_run_keeps_its_own(tmp_path):
    # M2 on pixels needs a larger weight than the paper's 0.1, which suits M1+M2 (README, measured).
    assert parse_args(["--model", "m2"]).alpha == 1000.0
    assert parse_args(["--model", "m1m2"]).alpha == 0.1
    assert parse_args(["--model", "m2", "--alpha", "0.1"]).alpha == 0.1
    assert parse_args(["--model", "cvae"]).alpha is None  # no classification term
    saved = vars(parse_args(["--model", "m2", "--alpha", "0.5"]))
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert parse_run_args(["--resume", str(tmp_path)]).alpha == 0.5
    old = {k: v for k, v in saved.items() if k != "alpha"} | {"model": "m2"}  # a config saved before the flag
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert parse_run_args(["--resume", str(tmp_path)]).alpha == 1000.0


def test_m1_run_must_be_a_finished_vae_of_the_right_size(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model": "vae", "dim_z": 50, "n_hidden": 500}))
    (tmp_path / "model.weights.h5").write_bytes(b"")
    assert parse_run_args(["--model", "m1m2", "--m1_run", str(tmp_path)]).m1_run == str(tmp_path)
    with pytest.raises(SystemExit):
        parse_run_args(["--model", "m1m2", "--m1_run", str(tmp_path), "--n_hidden", "64"])
    assert "n_hidden 64" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the M1 run saved before --activation is an elu_tanh one
        parse_run_args(["--model", "m1m2", "--m1_run", str(tmp_path), "--activation", "softplus"])
    assert "activation elu_tanh" in capsys.readouterr().err


@pytest.mark.parametrize("argv, text", [
    (["--model", "m2", "--m1_run", "."], "argument --m1_run: only m1m2 uses M1"),
    (["--model", "vae", "--n_train", "500", "--n_valid", "500"], "argument --n_valid: must leave training images"),
    (["--model", "vae", "--m2_hidden", "300"], "argument --m2_hidden: only the semi-supervised models (m2, m1m2) have it"),
    (["--PARR", "--model", "vae"], "argument --PARR: needs a label-conditioned model (vae ignores the label)"),
])
def test_a_flag_another_model_needs_says_which(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("run_main.py: error: ") and text in err[0]


def test_models_say_what_they_are():
    from training.flags import MODELS
    assert list(MODELS) == ["cvae", "vae", "m2", "m1m2"]
    assert [name for name, kind in MODELS.items() if kind.conditioned] == ["cvae", "m2", "m1m2"]
    assert [name for name, kind in MODELS.items() if kind.semi_supervised] == ["m2", "m1m2"]
    assert [name for name, kind in MODELS.items() if kind.uses_m1] == ["m1m2"]


def test_help_has_a_group_for_each_kind_of_flag_and_short_entries(cli):
    out = cli.main("--help")
    assert out.returncode == 0 and "Traceback" not in out.stderr
    headers = re.findall(r"^(\S[^\n]*) flags:$", out.stdout, re.M)
    assert [h.split(" (")[0] for h in headers] == ["model", "training", "data", "semi-supervised", "output", "figures",
                                                   "runs"]
    assert sorted(name for names in GROUPS.values() for name in names) == sorted(FLAGS)  # each flag in one group
    sections = dict(zip(GROUPS, re.split(r"^\S[^\n]* flags:$", out.stdout, flags=re.M)[1:]))
    for group, names in GROUPS.items():
        shown = "".join(sections[group].split())  # argparse wraps the lines
        for name in names:
            assert len(help_entry(name)) <= 200, name
            assert f"--{name}" in sections[group] and "".join(help_entry(name).split()) in shown, name
    assert build_parser().format_help().count(" flags:\n") == len(GROUPS)


def test_docs_flags_md_is_the_flag_table(root, cli):
    docs = (root / "docs" / "flags.md").read_text()
    out = cli.python("-m", "training.flags", "--table")
    assert out.returncode == 0 and docs == out.stdout == flag_table() + "\n"  # regenerate: see the file's header
    for name in FLAGS:
        assert f"| `--{name}` | `{shown_default(name)}` |" in docs, name
    assert docs.count("\n## ") == len(GROUPS)
    assert "docs/flags.md" in (root / "README.md").read_text()  # the README sends its readers there


def test_every_int_and_float_flag_has_bounds_that_hold_its_default():
    from training.flags import BOUNDS, PER_MODEL_DEFAULTS
    numeric = {name for name, (kind, _, _) in FLAGS.items() if kind in (int, float)}
    assert set(BOUNDS) == numeric  # a numeric flag added to FLAGS needs its (low, high) in BOUNDS
    for name in numeric:
        low, high = BOUNDS[name]
        defaults = list(PER_MODEL_DEFAULTS.get(name, {}).values()) or [FLAGS[name][1]]
        assert all(low <= value <= high for value in defaults), name


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "out of range"])
def test_every_numeric_flag_refuses_nan_inf_and_values_out_of_range(value, capsys):
    from training.flags import BOUNDS
    for name, (low, high) in BOUNDS.items():
        text = str(high * 2 + 1) if value == "out of range" else value
        if FLAGS[name][0] is int and value != "out of range":
            continue  # argparse's int() refuses nan and inf itself
        with pytest.raises(SystemExit) as exc:
            parse_args([f"--{name}", text])
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and f"--{name}" in err[0], (name, err)


@pytest.mark.parametrize("argv, text", [
    (["--batch_size", "600", "--n_train", "500"], "--batch_size: must not exceed the 500 training images"),
    (["--model", "m2", "--n_train", "1000", "--n_valid", "500", "--n_labeled", "100", "--batch_size", "450"],
     "--batch_size: must not exceed the 400 training images"),
    (["--results_path", ""], "--results_path: must not be empty"),
    (["--results_path", "README.md"], "README.md is a file, not a folder"),
    (["--data_dir", "no/such/folder"], "--data_dir: no/such/folder is not a folder"),
    (["--seed", "-1"], "--seed: must lie in 0..9999"),
    (["--interp_n_steps", "100000"], "--interp_n_steps: must lie in [2, 100]"),
])
def test_cross_checks_and_paths_give_one_line(argv, text, capsys, monkeypatch, root):
    monkeypatch.chdir(root)
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and text in err[0]
    assert not (root / "no").exists()  # a mistyped --data_dir is not created
