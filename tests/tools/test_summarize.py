"""python -m tools.summarize: the summary table of many run folders (no training: the run folders are written by hand)."""
import csv
import json

import pytest

from tools.summarize import main


def fake_run(root, name, dim_z, **metrics):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": "vae", "dim_z": dim_z, "n_hidden": 500, "num_epochs": 20,
                                                 "add_noise": False, "seed": 0}))
    (run / "metrics.json").write_text(json.dumps({"epochs": 20, **metrics, "quality_settings": {"ll_k": 100}}))
    return run


def test_summary_collects_sorts_and_never_overwrites(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    fake_run(sweep, "b", 2, test_neg_elbo=140.5, test_nll_k100=137.0)
    fake_run(sweep, "a", 20, test_neg_elbo=101.25, test_nll_k100=98.0, cond_acc_prior=0.98)
    fake_run(sweep, "c", 8, test_neg_elbo=120.0)  # not measured: no test_nll_k100
    (sweep / "notes.txt").write_text("not a run")
    out = tmp_path / "summary"
    assert main([str(sweep), "--sort", "test_nll_k100", "--descending", "--out", str(out)]) == 0
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [r["run"] for r in rows] == ["b", "a", "c"]  # largest first, the unmeasured run last
    assert rows[1]["dim_z"] == "20" and rows[1]["binarize"] == "none" and rows[1]["cond_acc_prior"] == "0.98"
    assert rows[0]["cond_acc_prior"] == "" and "quality_settings" not in rows[0]
    md = (tmp_path / "summary.md").read_text().splitlines()
    assert md[0].startswith("| run | model | dim_z") and len(md) == 2 + 3 and md[3].startswith("| a | vae | 20")


def test_summary_refuses_existing_outputs_and_unknown_sort(tmp_path, capsys):
    fake_run(tmp_path, "a", 2, test_neg_elbo=140.5)
    fake_run(tmp_path, "b", 3, test_neg_elbo=130.5)
    (tmp_path / "s.md").write_text("mine")
    for args in (["--out", str(tmp_path / "s")], ["--sort", "no_such_metric"]):
        with pytest.raises(SystemExit) as exit_:
            main([str(tmp_path), *args])
        assert exit_.value.code == 2
    assert (tmp_path / "s.md").read_text() == "mine" and not (tmp_path / "s.csv").exists()
    capsys.readouterr()
    assert main([str(tmp_path / "b"), str(tmp_path / "a")]) == 0  # ascending by test_neg_elbo, to stdout
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| b", "| a"]
    assert main([str(tmp_path), "--columns", "dim_z,test_neg_elbo"]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "| b | 3 | 130.5 |"
