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


def test_any_flag_is_a_column_and_sort_key_and_runs_without_a_finite_value_rank_last(tmp_path, capsys):
    for name, lr, elbo in (("a", 0.003, 101.0), ("b", 0.001, float("nan")), ("c", 0.0003, 99.0), ("d", 0.01, None)):
        run = fake_run(tmp_path, name, 2, **({} if elbo is None else {"test_neg_elbo": elbo}))
        cfg = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps(cfg | {"learn_rate": lr}))
    for descending in ([], ["--descending"]):
        assert main([str(tmp_path), "--columns", "learn_rate,test_neg_elbo", *descending]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "| run | learn_rate | test_neg_elbo |"
        assert [line.split(" | ")[0] for line in lines[2:]][:2] == (["| a", "| c"] if descending else ["| c", "| a"])
        assert sorted(line.split(" | ")[0] for line in lines[4:]) == ["| b", "| d"]  # NaN and missing: last either way
    assert main([str(tmp_path), "--sort", "learn_rate", "--columns", "learn_rate"]) == 0
    assert [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines()[2:]] == ["| c", "| b", "| a", "| d"]
    assert main([str(tmp_path)]) == 0
    assert "learn_rate" not in capsys.readouterr().out.splitlines()[0]  # shown when asked for, not by default


def test_a_damaged_run_is_skipped_with_one_warning_and_out_may_name_a_new_folder(tmp_path, capsys):
    fake_run(tmp_path / "runs", "good", 2, test_neg_elbo=100.0)
    (fake_run(tmp_path / "runs", "bad", 3, test_neg_elbo=90.0) / "metrics.json").write_text('{"test_neg_el')
    out = tmp_path / "new" / "deeper" / "summary"
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: skipping") and "bad" in err[0]
    assert [r["run"] for r in csv.DictReader(open(f"{out}.csv"))] == ["good"]


def test_curves_overlay_each_runs_test_and_validation_elbo_with_labels(tmp_path, capsys):
    from tools.summarize import curves_figure
    for name, valid in (("a", True), ("b", False)):
        run = fake_run(tmp_path / "runs", name, 2, test_neg_elbo=100.0)
        header = "epoch,test_loss" + (",valid_loss" if valid else "")
        (run / "metrics.csv").write_text(header + "\n" + "".join(f"{e},{200 - e}" + (f",{201 - e}" if valid else "") + "\n"
                                                                for e in (1, 2, 3)))
    fig = curves_figure([tmp_path / "runs" / "a", tmp_path / "runs" / "b"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a test", "a validation", "b test"]
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == [[199.0, 198.0, 197.0], [200.0, 199.0, 198.0],
                                                                       [199.0, 198.0, 197.0]]
    png = tmp_path / "curves.png"
    assert main([str(tmp_path / "runs"), "--curves", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):  # never overwritten
        main([str(tmp_path / "runs"), "--curves", str(png)])


def test_a_run_whose_files_fail_their_checksums_is_skipped_with_one_warning(tmp_path, capsys, monkeypatch):
    import fake_training
    import run_main
    fake_training.patch(monkeypatch)
    for name in ("good", "bad"):
        assert run_main.main([*fake_training.ARGS, "--results_path", str(tmp_path), "--run_name", name]) == 0
    text = (tmp_path / "bad" / "metrics.json").read_text()
    (tmp_path / "bad" / "metrics.json").write_text(text.replace('"epochs": 2', '"epochs": 3'))
    capsys.readouterr()
    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert [line.split(" | ")[0] for line in out.splitlines()[2:]] == ["| good"]
    assert err.strip().splitlines() == [f"warning: skipping {tmp_path / 'bad'}: {tmp_path / 'bad' / 'metrics.json'} does "
                                        "not match its checksum in manifest.json (it changed after the run wrote it); "
                                        "restore it from a copy, or measure the run again from its weights with "
                                        f"'python run_main.py --restore {tmp_path / 'bad'}'"]
